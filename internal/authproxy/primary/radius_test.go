package primary

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/microsoft"

	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
	"github.com/assent-auth/assent/internal/testutil/radiustest"
)

// upstreamUsers is the FreeRADIUS users file of these tests.
var upstreamUsers = []radiustest.User{
	{Name: "alice", Password: "alicepw", Reply: []string{`Reply-Message := "Hello alice"`, `Class := "staff"`, `Filter-Id := "vpn-staff"`, `Session-Timeout := 3600`}},
	{Name: "bob", Password: "bobpw"},
	// Accepted only when the NAS's Calling-Station-Id is passed through.
	{Name: "carol", Password: "carolpw", Check: []string{`Calling-Station-Id == "192.0.2.55"`}},
	// Password expired: MS-CHAPv2 answers E=648.
	{Name: "erin", Password: "erinpw", Check: []string{"SMB-Account-CTRL := 131072"}},
}

func newRadius(t *testing.T, cfg RadiusConfig) *RadiusClient {
	t.Helper()
	c, err := NewRadius(cfg)
	if err != nil {
		t.Fatalf("NewRadius: %v", err)
	}
	return c
}

func TestRadiusPAP(t *testing.T) {
	t.Parallel()
	up := radiustest.Start(t, radiustest.Options{Users: upstreamUsers})
	ctx := context.Background()

	c := newRadius(t, RadiusConfig{Hosts: []string{up.Addr}, Secret: up.Secret, RetryWait: time.Second, Retries: 1,
		PassThrough: []AttrID{{Type: rfc2865.Class_Type}}})
	res, err := c.Authenticate(ctx, Request{Username: "alice", Password: "alicepw"})
	if err != nil || !res.Accepted || res.Message != "Hello alice" {
		t.Fatalf("alice: %+v, %v", res, err)
	}
	// Class was asked for, Filter-Id and Session-Timeout were not.
	if len(res.Attributes) != 1 || res.Attributes[0].Type != rfc2865.Class_Type || string(res.Attributes[0].Attribute) != "staff" {
		t.Errorf("pass-through attributes %v", res.Attributes)
	}
	// FreeRADIUS adds the users-file reply items before checking the
	// password, so its Reject carries alice's Reply-Message too.
	res, err = c.Authenticate(ctx, Request{Username: "alice", Password: "wrong"})
	if err != nil || res.Accepted || res.Message != "Hello alice" {
		t.Errorf("wrong password: %+v, %v", res, err)
	}
	res, err = c.Authenticate(ctx, Request{Username: "bob", Password: "wrong"})
	if err != nil || res.Accepted || res.Message != MsgNoReplyMessage {
		t.Errorf("bob, wrong password: %+v, %v", res, err)
	}
	res, err = c.Authenticate(ctx, Request{Username: "nobody", Password: "x"})
	if err != nil || res.Accepted {
		t.Errorf("unknown user: %+v, %v", res, err)
	}
	res, err = c.Authenticate(ctx, Request{Username: "bob", Password: "bobpw"})
	if err != nil || !res.Accepted || res.Message != MsgNoReplyMessage || len(res.Attributes) != 0 {
		t.Errorf("bob: %+v, %v", res, err)
	}
	// An empty password without MS-CHAP is refused without asking.
	res, err = c.Authenticate(ctx, Request{Username: "alice"})
	if err != nil || res.Accepted {
		t.Errorf("empty password: %+v, %v", res, err)
	}

	t.Run("pass_through_all", func(t *testing.T) {
		c := newRadius(t, RadiusConfig{Hosts: []string{up.Addr}, Secret: up.Secret, PassThroughAll: true})
		res, err := c.Authenticate(ctx, Request{Username: "alice", Password: "alicepw"})
		if err != nil || !res.Accepted {
			t.Fatalf("%+v, %v", res, err)
		}
		var types []radius.Type
		for _, a := range res.Attributes {
			types = append(types, a.Type)
		}
		// Everything but Reply-Message (in Message) and Message-Authenticator.
		want := map[radius.Type]bool{rfc2865.Class_Type: true, rfc2865.FilterID_Type: true, rfc2865.SessionTimeout_Type: true}
		if len(types) != len(want) {
			t.Fatalf("attributes %v", types)
		}
		for _, ty := range types {
			if !want[ty] {
				t.Errorf("unexpected attribute %v", ty)
			}
		}
	})

	t.Run("forwarded request attributes", func(t *testing.T) {
		fwd := radius.Attributes{}
		fwd.Add(rfc2865.CallingStationID_Type, radius.Attribute("192.0.2.55"))
		fwd.Add(rfc2865.UserName_Type, radius.Attribute("mallory")) // never overrides the user
		res, err := c.Authenticate(ctx, Request{Username: "carol", Password: "carolpw", Forward: fwd})
		if err != nil || !res.Accepted {
			t.Errorf("with Calling-Station-Id: %+v, %v", res, err)
		}
		res, err = c.Authenticate(ctx, Request{Username: "carol", Password: "carolpw"})
		if err != nil || res.Accepted {
			t.Errorf("without Calling-Station-Id: %+v, %v", res, err)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		// FreeRADIUS drops the request (bad Message-Authenticator): no answer.
		c := newRadius(t, RadiusConfig{Hosts: []string{up.Addr}, Secret: "not-the-secret", RetryWait: 200 * time.Millisecond, Retries: 1})
		_, err := c.Authenticate(ctx, Request{Username: "alice", Password: "alicepw"})
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Message != MsgRadiusUnavailable {
			t.Errorf("got %v", err)
		}
	})
}

// TestRadiusFailover: each retry goes to the next host.
func TestRadiusFailover(t *testing.T) {
	t.Parallel()
	up := radiustest.Start(t, radiustest.Options{Users: upstreamUsers})
	ctx := context.Background()
	dead := closedUDPPort(t)
	silent := silentUDP(t)

	cases := []struct {
		name    string
		hosts   []string
		retries int
		wait    time.Duration
		ok      bool
		min     time.Duration
		max     time.Duration
	}{
		// A closed port answers ICMP unreachable: the next host is tried at once.
		{"dead port first", []string{dead, up.Addr}, 3, 2 * time.Second, true, 0, time.Second},
		// A silent host costs one retry_wait.
		{"silent host first", []string{silent, up.Addr}, 3, 300 * time.Millisecond, true, 300 * time.Millisecond, 2 * time.Second},
		// Cycling: silent, dead, silent, live on the 4th try.
		{"cycles back", []string{silent, dead, up.Addr}, 2, 200 * time.Millisecond, true, 200 * time.Millisecond, 2 * time.Second},
		{"retries exhausted", []string{silent, dead, up.Addr}, 1, 200 * time.Millisecond, false, 200 * time.Millisecond, 2 * time.Second},
		{"all silent", []string{silent}, 2, 100 * time.Millisecond, false, 300 * time.Millisecond, 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newRadius(t, RadiusConfig{Hosts: tc.hosts, Secret: up.Secret, Retries: tc.retries, RetryWait: tc.wait})
			start := time.Now()
			res, err := c.Authenticate(ctx, Request{Username: "alice", Password: "alicepw"})
			d := time.Since(start)
			if tc.ok && (err != nil || !res.Accepted) {
				t.Fatalf("%+v, %v", res, err)
			}
			var ue *UnavailableError
			if !tc.ok && !errors.As(err, &ue) {
				t.Fatalf("got %+v, %v; want unavailable", res, err)
			}
			if d < tc.min || d > tc.max {
				t.Errorf("took %v, want %v–%v", d, tc.min, tc.max)
			}
		})
	}

	t.Run("context ends the wait", func(t *testing.T) {
		t.Parallel()
		c := newRadius(t, RadiusConfig{Hosts: []string{silent}, Secret: up.Secret, Retries: 3, RetryWait: 10 * time.Second})
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Authenticate(ctx, Request{Username: "alice", Password: "alicepw"})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("got %v after %v", err, time.Since(start))
		}
	})
}

// mschapv2 builds the MS-CHAPv2 attributes a NAS sends for user/password.
func mschapv2(t *testing.T, secret []byte, user, password string) (*radius.Packet, []byte, []byte, []byte) {
	t.Helper()
	authChallenge := make([]byte, 16)
	peerChallenge := make([]byte, 16)
	_, _ = rand.Read(authChallenge)
	_, _ = rand.Read(peerChallenge)
	nt, err := rfc2759.GenerateNTResponse(authChallenge, peerChallenge, []byte(user), []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 50)
	resp[0] = 7 // ident
	copy(resp[2:18], peerChallenge)
	copy(resp[26:50], nt)
	p := radius.New(radius.CodeAccessRequest, secret)
	rfc2865.UserName_SetString(p, user)
	if err := microsoft.MSCHAPChallenge_Set(p, authChallenge); err != nil {
		t.Fatal(err)
	}
	if err := microsoft.MSCHAP2Response_Set(p, resp); err != nil {
		t.Fatal(err)
	}
	return p, authChallenge, peerChallenge, nt
}

func TestRadiusMSCHAPv2(t *testing.T) {
	t.Parallel()
	up := radiustest.Start(t, radiustest.Options{Users: upstreamUsers})
	ctx := context.Background()
	c := newRadius(t, RadiusConfig{Hosts: []string{up.Addr}, Secret: up.Secret})
	nasSecret := []byte("nas-secret") // the NAS↔proxy secret differs from the upstream one

	t.Run("accept", func(t *testing.T) {
		pkt, authC, peerC, nt := mschapv2(t, nasSecret, "alice", "alicepw")
		res, err := c.Authenticate(ctx, Request{Username: "alice", Packet: pkt})
		if err != nil || !res.Accepted {
			t.Fatalf("%+v, %v", res, err)
		}
		reply := &radius.Packet{Attributes: res.Attributes}
		success := microsoft.MSCHAP2Success_Get(reply)
		want, err := rfc2759.GenerateAuthenticatorResponse(authC, peerC, nt, []byte("alice"), []byte("alicepw"))
		if err != nil {
			t.Fatal(err)
		}
		if len(success) < 2 || success[0] != 7 || string(success[1:]) != want {
			t.Errorf("MS-CHAP2-Success %q, want ident 7 and %q", success, want)
		}
		for _, a := range res.Attributes {
			if vt, ok := msVSA(a); ok && (vt == msMPPESendKey || vt == msMPPERecvKey) {
				t.Errorf("MPPE key (encrypted for this hop) passed through")
			}
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		pkt, _, _, _ := mschapv2(t, nasSecret, "alice", "nope")
		res, err := c.Authenticate(ctx, Request{Username: "alice", Packet: pkt})
		if err != nil || res.Accepted || res.PasswordExpired {
			t.Fatalf("%+v, %v", res, err)
		}
		if e := microsoft.MSCHAPError_GetString(&radius.Packet{Attributes: res.Attributes}); !strings.Contains(e, "E=691") {
			t.Errorf("MS-CHAP-Error %q", e)
		}
	})
	t.Run("password expired", func(t *testing.T) {
		pkt, _, _, _ := mschapv2(t, nasSecret, "erin", "erinpw")
		res, err := c.Authenticate(ctx, Request{Username: "erin", Packet: pkt})
		if err != nil || res.Accepted || !res.PasswordExpired {
			t.Fatalf("%+v, %v", res, err)
		}
		if e := microsoft.MSCHAPError_GetString(&radius.Packet{Attributes: res.Attributes}); !strings.Contains(e, "E=648") {
			t.Errorf("MS-CHAP-Error %q", e)
		}
	})
}

func TestRadiusCheck(t *testing.T) {
	t.Parallel()
	up := radiustest.Start(t, radiustest.Options{Users: upstreamUsers})
	dead := closedUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	checks := newRadius(t, RadiusConfig{Hosts: []string{up.Addr, dead}, Secret: up.Secret, RetryWait: 300 * time.Millisecond}).Check(ctx)
	if len(checks) != 2 || checks[0].Err != nil || checks[1].Err == nil || checks[1].Host != dead {
		t.Fatalf("checks %+v", checks)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	checks = newRadius(t, RadiusConfig{Hosts: []string{up.Addr}, Secret: "wrong", RetryWait: 200 * time.Millisecond}).Check(ctx2)
	if checks[0].Err == nil {
		t.Errorf("wrong secret: %+v", checks[0])
	}
}

// TestRadiusWire checks the request on the wire against a fake upstream:
// Message-Authenticator first and valid, NAS-IP-Address, MS-CHAP relayed,
// and replies that must be dropped.
func TestRadiusWire(t *testing.T) {
	t.Parallel()
	secret := []byte("upstream-secret")
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	type got struct {
		raw []byte
		pkt *radius.Packet
	}
	reqs := make(chan got, 16)
	// The fake answers each request three times: garbage, a reply with a
	// bad Message-Authenticator, then the given valid reply.
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			raw := bytes.Clone(buf[:n])
			p, err := radius.Parse(raw, secret)
			if err != nil {
				continue
			}
			reqs <- got{raw, p}
			_, _ = conn.WriteTo([]byte("garbage"), from)
			bad := p.Response(radius.CodeAccessAccept)
			bad.Secret = secret
			b, _ := radiusmsg.SignResponse(bad, p.Authenticator)
			b[len(b)-1] ^= 1 // a corrupted Accept: both authenticators wrong
			_, _ = conn.WriteTo(b, from)
			// A reply whose M-A is wrong but Response Authenticator right.
			forged := p.Response(radius.CodeAccessAccept)
			forged.Secret = secret
			fb, _ := radiusmsg.SignResponse(forged, p.Authenticator)
			fb[22] ^= 1 // flip a bit of the M-A value (first attribute)
			reauth(fb, p.Authenticator, secret)
			_, _ = conn.WriteTo(fb, from)
			ok := p.Response(radius.CodeAccessReject)
			ok.Secret = secret
			rfc2865.ReplyMessage_SetString(ok, "denied upstream")
			ob, _ := radiusmsg.SignResponse(ok, p.Authenticator)
			_, _ = conn.WriteTo(ob, from)
		}
	}()
	c := newRadius(t, RadiusConfig{Hosts: []string{conn.LocalAddr().String()}, Secret: string(secret), Retries: 0,
		RetryWait: 2 * time.Second, NASIP: netip.MustParseAddr("10.9.8.7")})
	pkt, _, _, _ := mschapv2(t, []byte("nas"), "alice", "pw")
	res, err := c.Authenticate(context.Background(), Request{Username: "alice", Password: "pw", Packet: pkt})
	if err != nil || res.Accepted || res.Message != "denied upstream" {
		t.Fatalf("%+v, %v", res, err)
	}
	r := <-reqs
	if r.pkt.Attributes[0].Type != radiusmsg.Type {
		t.Errorf("Message-Authenticator is not the first attribute: %v", r.pkt.Attributes)
	}
	if present, ok := radiusmsg.VerifyRequest(r.raw, secret); !present || !ok {
		t.Errorf("Message-Authenticator present=%v valid=%v", present, ok)
	}
	if ip := rfc2865.NASIPAddress_Get(r.pkt); !ip.Equal(net.IPv4(10, 9, 8, 7)) {
		t.Errorf("NAS-IP-Address %v", ip)
	}
	if pw := rfc2865.UserPassword_GetString(r.pkt); pw != "pw" {
		t.Errorf("User-Password %q", pw)
	}
	if microsoft.MSCHAPChallenge_Get(r.pkt) == nil || microsoft.MSCHAP2Response_Get(r.pkt) == nil {
		t.Errorf("MS-CHAP attributes not relayed: %v", r.pkt.Attributes)
	}
	if !bytes.Equal(microsoft.MSCHAP2Response_Get(r.pkt), microsoft.MSCHAP2Response_Get(pkt)) {
		t.Error("MS-CHAP2-Response changed on the way")
	}
}

// reauth recomputes the Response Authenticator of a response in place.
func reauth(b []byte, reqAuth [16]byte, secret []byte) {
	p, err := radius.Parse(b, secret)
	if err != nil {
		return
	}
	p.Authenticator = reqAuth
	enc, err := p.Encode()
	if err == nil {
		copy(b, enc)
	}
}

func TestVerifyReply(t *testing.T) {
	t.Parallel()
	secret := []byte("s")
	req := radius.New(radius.CodeAccessRequest, secret)
	wire, err := radiusmsg.EncodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(code radius.Code, withMA bool, mutate func(*radius.Packet)) []byte {
		p := req.Response(code)
		if mutate != nil {
			mutate(p)
		}
		if withMA {
			b, err := radiusmsg.SignResponse(p, req.Authenticator)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name      string
		b         []byte
		requireMA bool
		ok        bool
	}{
		{"accept with M-A", sign(radius.CodeAccessAccept, true, nil), false, true},
		{"reject without M-A", sign(radius.CodeAccessReject, false, nil), false, true},
		{"without M-A, required", sign(radius.CodeAccessReject, false, nil), true, false},
		{"wrong identifier", sign(radius.CodeAccessAccept, true, func(p *radius.Packet) { p.Identifier++ }), false, false},
		{"wrong secret", sign(radius.CodeAccessAccept, true, func(p *radius.Packet) { p.Secret = []byte("x") }), false, false},
		{"accounting response", sign(radius.CodeAccountingResponse, false, nil), false, false},
		{"short", []byte{2, 0, 0}, false, false},
	}
	for _, tc := range cases {
		_, err := verifyReply(tc.b, wire, req.Identifier, req.Authenticator, secret, tc.requireMA,
			radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestNewRadiusValidation(t *testing.T) {
	t.Parallel()
	c, err := NewRadius(RadiusConfig{Hosts: []string{"radius1", "10.0.0.2:1645"}, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.hosts[0] != "radius1:1812" || c.hosts[1] != "10.0.0.2:1645" || !c.NASIP().IsValid() {
		t.Errorf("hosts %v nas %v", c.hosts, c.NASIP())
	}
	for _, cfg := range []RadiusConfig{
		{Hosts: []string{"h"}},
		{Secret: "s"},
		{Hosts: []string{"h:0"}, Secret: "s"},
		{Hosts: []string{":1812"}, Secret: "s"},
		{Hosts: []string{"h"}, Secret: "s", Retries: -1},
	} {
		if _, err := NewRadius(cfg); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

func TestDuoOnly(t *testing.T) {
	res, err := DuoOnly{}.Authenticate(context.Background(), Request{Username: "x"})
	if err != nil || !res.Accepted || res.Message != MsgIgnoringPrimary {
		t.Errorf("%+v, %v", res, err)
	}
}

// FuzzVerifyReply feeds arbitrary datagrams to the reply check and to the
// conversion into a Result, as an upstream (or an attacker) could.
func FuzzVerifyReply(f *testing.F) {
	secret := []byte("fuzz")
	req := radius.New(radius.CodeAccessRequest, secret)
	req.Identifier, req.Authenticator = 1, [16]byte{1, 2, 3}
	wire, _ := radiusmsg.EncodeRequest(req)
	seed := req.Response(radius.CodeAccessAccept)
	rfc2865.ReplyMessage_SetString(seed, "hi")
	_ = microsoft.MSCHAPError_SetString(seed, "\x07E=648 R=0 V=3")
	b, _ := radiusmsg.SignResponse(seed, req.Authenticator)
	f.Add(b)
	f.Add([]byte{2, 1, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	c := &RadiusClient{cfg: RadiusConfig{PassThroughAll: true}}
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, err := verifyReply(b, wire, req.Identifier, req.Authenticator, secret, false,
			radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge)
		if err != nil {
			// Attacker-controlled input is not authentic; still parse it
			// into a Result to exercise the attribute walk.
			p, perr := radius.Parse(b, secret)
			if perr != nil {
				return
			}
			reply = p
		}
		res := c.result(reply)
		if res.Message == "" {
			t.Fatal("empty message")
		}
		if res.Accepted && reply.Code != radius.CodeAccessAccept {
			t.Fatalf("accepted a %v", reply.Code)
		}
	})
}

// closedUDPPort is a loopback UDP address nobody listens on.
func closedUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// silentUDP reads datagrams and never answers.
func silentUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return c.LocalAddr().String()
}

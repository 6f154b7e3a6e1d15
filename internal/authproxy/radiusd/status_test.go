package radiusd

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
)

// status builds a Status-Server with a fresh Identifier.
func (c *client) status() *radius.Packet {
	p := radius.New(radius.CodeStatusServer, c.secret)
	c.id++
	p.Identifier = c.id
	return p
}

// Status-Server (RFC 5997) from a known client is answered with a signed
// Access-Accept, using the secret of the smallest network containing the
// source, without a Message-Authenticator requirement being configured;
// it never reaches the primary or the Auth API.
func TestStatusServer(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		wide := section(ModeAuto, p, d)
		wide.Name = "wide"
		wide.Networks = []Network{{Prefix: netip.MustParsePrefix("127.0.0.0/16"), Secret: []byte("wide-secret")}}
		narrow := section(ModeChallenge, p, d)
		narrow.Name = "narrow"
		narrow.Networks = []Network{{Prefix: netip.MustParsePrefix("127.0.0.2/32"), Secret: []byte("narrow-secret"), RequireMessageAuthenticator: true}}
		return []*Section{wide, narrow}
	})
	tests := []struct {
		name    string
		from    string
		secret  string
		noMA    bool
		proxy   bool   // add two Proxy-States
		section string // answered for this section; "" = dropped
		reason  string // drop reason
	}{
		{"narrow network", "127.0.0.2", "narrow-secret", false, true, "narrow", ""},
		{"wide network", "127.0.0.3", "wide-secret", false, false, "wide", ""},
		{"no Message-Authenticator", "127.0.0.3", "wide-secret", true, false, "", "status_server_without_message_authenticator"},
		{"wrong secret", "127.0.0.2", "wide-secret", false, false, "", "bad_message_authenticator"},
		{"unknown client", "127.1.0.1", "wide-secret", false, false, "", "unknown_client"},
	}
	var want []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client(tt.from)
			c.secret, c.noMA = []byte(tt.secret), tt.noMA
			p := c.status()
			if tt.proxy {
				p.Add(rfc2865.ProxyState_Type, radius.Attribute("one"))
				p.Add(rfc2865.ProxyState_Type, radius.Attribute("two"))
			}
			if tt.section == "" {
				c.expectSilence(p)
				e.rec.waitDropped(t, tt.reason, 1)
				return
			}
			r := c.exchange(p) // checks the Response Authenticator and the Message-Authenticator
			if r.Code != radius.CodeAccessAccept {
				t.Fatalf("answer %v, want Access-Accept", r.Code)
			}
			var ps []string
			for _, a := range r.Attributes {
				switch a.Type {
				case rfc2865.ProxyState_Type:
					ps = append(ps, string(a.Attribute))
				case 80:
				default:
					t.Errorf("unexpected attribute %d in the answer", a.Type)
				}
			}
			if tt.proxy && !slices.Equal(ps, []string{"one", "two"}) {
				t.Errorf("Proxy-State echoed as %q", ps)
			}
			want = append(want, tt.section)
			if got := e.rec.statusServers(); !slices.Equal(got, want) {
				t.Errorf("Status-Servers counted for %q, want %q", got, want)
			}
		})
	}
	events, _, _ := e.rec.snapshot()
	preauths, auths := e.duo.counts()
	if len(events) != 0 || preauths+auths != 0 || len(e.primary.passwords()) != 0 {
		t.Errorf("a Status-Server reached the modes: %d events, %d Auth API calls, primary tried %q",
			len(events), preauths+auths, e.primary.passwords())
	}
}

// A Status-Server that reuses the Identifier of an Access-Request from the
// same socket gets its own answer, and leaves the request's duplicate
// detection alone, whether the request is still in progress or answered.
func TestStatusServerBypassesDuplicateCache(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		d.authHook = func(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error) {
			if r.Username == "held" {
				select {
				case <-release:
				case <-ctx.Done():
					return duoclient.AuthResult{}, ctx.Err()
				}
			}
			return duoclient.AuthResult{Result: "allow", StatusMsg: stSuccess}, nil
		}
		return []*Section{section(ModeDuoOnly, p, d)}
	})
	c := e.client("127.0.0.2")

	// In progress: the request's push is held while the Status-Server with
	// its Identifier is answered; a retransmit of the request is still
	// recognised, and the request gets its own answer once released.
	req := c.encode(c.request("held", "push"))
	c.send(req)
	deadline := time.Now().Add(5 * time.Second)
	for _, n := e.duo.counts(); n == 0; _, n = e.duo.counts() {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the Auth API")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ss := c.status()
	ss.Identifier = req[1]
	ssb := c.encode(ss)
	c.send(ssb)
	if r := c.recv(ssb, 5*time.Second); r == nil || r.Code != radius.CodeAccessAccept {
		t.Fatalf("Status-Server during a request with its Identifier: %v", r)
	}
	c.send(req) // retransmit
	for _, _, dups := e.rec.snapshot(); len(dups) == 0; _, _, dups = e.rec.snapshot() {
		if time.Now().After(deadline) {
			t.Fatal("the retransmit was not seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	r := c.recv(req, 5*time.Second)
	if r == nil || r.Code != radius.CodeAccessAccept || replyMessage(r) != stSuccess {
		t.Fatalf("the held request's answer: %v", r)
	}

	// Answered: the Status-Server is answered afresh, not from the cache,
	// and the request's retransmit still gets the cached answer.
	ss = c.status()
	ss.Identifier = req[1]
	ssb = c.encode(ss)
	c.send(ssb)
	if r := c.recv(ssb, 5*time.Second); r == nil || r.Code != radius.CodeAccessAccept || replyMessage(r) != "" {
		t.Fatalf("Status-Server after a request with its Identifier: %v", r)
	}
	c.send(req)
	if r := c.recv(req, 5*time.Second); r == nil || replyMessage(r) != stSuccess {
		t.Fatalf("retransmit after the Status-Server: %v", r)
	}
	if _, n := e.duo.counts(); n != 1 {
		t.Errorf("%d Auth API auth calls, want 1", n)
	}
	if _, _, dups := e.rec.snapshot(); !slices.Equal(dups, []string{"in_flight", "resent"}) {
		t.Errorf("duplicates %q, want in_flight then resent", dups)
	}
	if got := e.rec.statusServers(); len(got) != 2 {
		t.Errorf("%d Status-Servers counted, want 2", len(got))
	}
}

// A request dropped for lacking a Message-Authenticator is logged at WARN
// once per client address and interval, naming the client and the exact
// setting; every drop is counted.
func TestMissingMessageAuthenticatorLog(t *testing.T) {
	t.Parallel()
	e := start(t, Options{DropLogInterval: time.Minute}, func(p *fakePrimary, d *fakeDuo) []*Section {
		s := section(ModeDuoOnly, p, d)
		s.Networks = []Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: []byte(testSecret), RequireMessageAuthenticator: true, Index: 2}}
		return []*Section{s}
	})
	lines := func(nas string) []string {
		var out []string
		for l := range strings.SplitSeq(e.logs.String(), "\n") {
			if strings.Contains(l, "reason=missing_message_authenticator") && strings.Contains(l, "nas="+nas+":") {
				out = append(out, l)
			}
		}
		return out
	}
	send := func(from string, n int) {
		c := e.client(from)
		c.noMA = true
		for range n {
			c.send(c.encode(c.request("alice", "push")))
		}
	}
	send("127.0.0.2", 3)
	e.rec.waitDropped(t, "missing_message_authenticator", 3)
	send("127.0.0.3", 1)
	e.rec.waitDropped(t, "missing_message_authenticator", 4)
	a, b := lines("127.0.0.2"), lines("127.0.0.3")
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("%d and %d lines for the two clients, want 1 each:\n%s", len(a), len(b), e.logs.String())
	}
	for _, want := range []string{"level=WARN", "require_message_authenticator_2 = false in [radius_server_duo_only]", "BlastRADIUS"} {
		if !strings.Contains(a[0], want) {
			t.Errorf("the line lacks %q: %s", want, a[0])
		}
	}
	// After the interval, the next drop is logged with the count of those
	// that were not.
	e.clock.advance(61 * time.Second)
	send("127.0.0.2", 1)
	e.rec.waitDropped(t, "missing_message_authenticator", 5)
	if a = lines("127.0.0.2"); len(a) != 2 || !strings.Contains(a[1], "suppressed=2") {
		t.Errorf("after the interval: %q", a)
	}
}

func TestDropLogBounded(t *testing.T) {
	t.Parallel()
	d := newDropLog(time.Minute)
	d.max = 3
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	addr := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, i}) }
	for i := range byte(10) {
		if ok, _ := d.allow("r", addr(i), now); !ok {
			t.Fatalf("first drop from %v not logged", addr(i))
		}
		if len(d.m) > d.max {
			t.Fatalf("%d entries, bound %d", len(d.m), d.max)
		}
	}
	if ok, _ := d.allow("r", addr(9), now); ok {
		t.Error("second drop within the interval logged")
	}
	if ok, _ := d.allow("other", addr(9), now); !ok {
		t.Error("another reason from the same client not logged")
	}
	d.sweep(now.Add(2 * time.Minute))
	for k, e := range d.m {
		if e.suppressed == 0 {
			t.Errorf("sweep kept %v with nothing to report", k)
		}
	}
}

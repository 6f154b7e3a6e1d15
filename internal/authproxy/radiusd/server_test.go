package radiusd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
	"github.com/assent-auth/assent/internal/authproxy/primary"
	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

func TestNewServerValidation(t *testing.T) {
	t.Parallel()
	d, p := &fakeDuo{}, newPrimary()
	ok := func() *Section { return section(ModeAuto, p, d) }
	tests := []struct {
		name  string
		secs  func() []*Section
		wants []string
	}{
		{"none", func() []*Section { return nil }, []string{"no server sections"}},
		{"all problems at once", func() []*Section {
			s := ok()
			s.Mode, s.Failmode, s.PromptFormat, s.Factors, s.Duo = "bogus", "open", "xml", []string{"sms"}, nil
			s.Networks = append(s.Networks, Network{Prefix: netip.MustParsePrefix("10.0.0.0/8")})
			return []*Section{s}
		}, []string{`unknown mode "bogus"`, `failmode "open"`, `prompt_format "xml"`, `factor "sms"`, "no Auth API client", "10.0.0.0/8: empty secret"}},
		{"no primary", func() []*Section { s := ok(); s.Primary = nil; return []*Section{s} }, []string{"needs a primary"}},
		{"no networks", func() []*Section { s := ok(); s.Networks = nil; return []*Section{s} }, []string{"no client networks"}},
		{"same prefix in two sections", func() []*Section {
			a, b := ok(), section(ModeChallenge, p, d)
			return []*Section{a, b}
		}, []string{"127.0.0.0/8 is listed twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewServer(tt.secs(), Options{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	s := ok()
	s.Failmode, s.Factors, s.Delimiter, s.PromptFormat = "", nil, "", ""
	if _, err := NewServer([]*Section{s}, Options{}); err != nil {
		t.Fatal(err)
	}
	if s.Failmode != FailmodeSafe || !slices.Equal(s.Factors, []string{"auto"}) || s.Delimiter != "," ||
		s.PromptFormat != PromptConsole || s.ClientIPAttr != CallingStationID {
		t.Errorf("defaults not filled: %+v", s)
	}
}

// Secrets by the smallest CIDR containing the source; unknown sources and
// other codes are dropped.
func TestRoutingAndDrops(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		wide := section(ModeDuoOnly, p, d)
		wide.Name = "wide"
		wide.Networks = []Network{{Prefix: netip.MustParsePrefix("127.0.0.0/16"), Secret: []byte("wide-secret")}}
		narrow := section(ModeDuoOnly, p, d)
		narrow.Name = "narrow"
		narrow.Networks = []Network{
			{Prefix: netip.MustParsePrefix("127.0.0.2/32"), Secret: []byte("narrow-secret")},
			{Prefix: netip.MustParsePrefix("127.0.0.0/24"), Secret: []byte("mid-secret")},
		}
		return []*Section{wide, narrow}
	})
	for _, tt := range []struct{ from, secret, section string }{
		{"127.0.0.2", "narrow-secret", "narrow"},
		{"127.0.0.3", "mid-secret", "narrow"},
		{"127.0.1.1", "wide-secret", "wide"},
	} {
		c := e.client(tt.from)
		c.secret = []byte(tt.secret)
		r := c.exchange(c.request("alice", "push"))
		if r.Code != accept {
			t.Errorf("from %s: got %v %q", tt.from, r.Code, replyMessage(r))
		}
	}
	events, _, _ := e.rec.snapshot()
	var secs []string
	for _, ev := range events {
		secs = append(secs, ev.ServerSection)
	}
	if !slices.Equal(secs, []string{"narrow", "narrow", "wide"}) {
		t.Errorf("sections %q", secs)
	}

	// Unknown source.
	c := e.client("127.1.0.1")
	c.expectSilence(c.request("alice", "push"))
	e.rec.waitDropped(t, "unknown_client", 1)

	// Wrong secret for the network: the Message-Authenticator gives it away.
	c = e.client("127.0.0.2")
	c.secret = []byte("wide-secret")
	c.expectSilence(c.request("alice", "push"))
	e.rec.waitDropped(t, "bad_message_authenticator", 1)

	// Accounting-Request is not answered (Status-Server is: status_test.go).
	c = e.client("127.0.0.2")
	c.secret = []byte("narrow-secret")
	acct := radius.New(radius.CodeAccountingRequest, c.secret)
	c.noMA = true
	rfc2866.AcctStatusType_Set(acct, rfc2866.AcctStatusType_Value_Start)
	b, _ := acct.Encode()
	c.send(b)
	e.rec.waitDropped(t, "not_access_request", 1)

	// Garbage.
	c.send([]byte{1, 2, 3})
	c.send(append([]byte{1, 9, 0, 30}, make([]byte, 26)...)) // attribute length 0
	e.rec.waitDropped(t, "not_access_request", 2)
	e.rec.waitDropped(t, "malformed", 1)
}

func TestMessageAuthenticatorRules(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		s := section(ModeDuoOnly, p, d)
		s.Networks = []Network{
			{Prefix: netip.MustParsePrefix("127.0.0.2/32"), Secret: []byte(testSecret), RequireMessageAuthenticator: true},
			{Prefix: netip.MustParsePrefix("127.0.0.3/32"), Secret: []byte(testSecret)},
		}
		return []*Section{s}
	})
	corrupt := func(c *client, p *radius.Packet) []byte {
		b := c.encode(p)
		i := bytes.Index(b[20:], []byte{80, 18}) + 20 + 2
		b[i] ^= 0xff
		return b
	}
	tests := []struct {
		from    string
		noMA    bool
		corrupt bool
		answer  bool
		reason  string
	}{
		{"127.0.0.2", false, false, true, ""},
		{"127.0.0.2", true, false, false, "missing_message_authenticator"},
		{"127.0.0.2", false, true, false, "bad_message_authenticator"},
		{"127.0.0.3", false, false, true, ""},
		{"127.0.0.3", true, false, true, ""},
		{"127.0.0.3", false, true, false, "bad_message_authenticator"},
	}
	for i, tt := range tests {
		c := e.client(tt.from)
		c.noMA = tt.noMA
		p := c.request("alice", "push")
		var b []byte
		if tt.corrupt {
			b = corrupt(c, p)
		} else {
			b = c.encode(p)
		}
		c.send(b)
		r := c.recv(b, 400*time.Millisecond)
		if (r != nil) != tt.answer {
			t.Errorf("case %d (%+v): answered=%v", i, tt, r != nil)
		}
		if r != nil && r.Code != accept {
			t.Errorf("case %d: %v %q", i, r.Code, replyMessage(r))
		}
	}
	_, dropped, _ := e.rec.snapshot()
	slices.Sort(dropped)
	want := []string{"bad_message_authenticator", "bad_message_authenticator", "missing_message_authenticator"}
	if !slices.Equal(dropped, want) {
		t.Errorf("dropped %q, want %q", dropped, want)
	}
	if _, n := e.duo.counts(); n != 3 {
		t.Errorf("%d auth calls, want 3", n)
	}
}

// A retransmit while the push is pending is ignored (one push only); after
// the answer it gets the same bytes again; new content under the same key
// is a new request; cached answers live 30 s.
func TestDuplicates(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		d.authHook = func(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error) {
			started <- struct{}{}
			<-release
			return duoclient.AuthResult{Result: "allow", StatusMsg: stSuccess}, nil
		}
		return []*Section{section(ModeAuto, p, d)}
	})
	c := e.client("127.0.0.1")
	p := c.request("alice", "pw")
	b := c.encode(p)
	c.send(b)
	<-started
	for range 3 {
		c.send(b)
	}
	// Wait until the three retransmits have been seen and ignored.
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, _, dups := e.rec.snapshot()
		if len(dups) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("duplicates seen: %q", dups)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	first := c.recv(b, 5*time.Second)
	if first == nil || first.Code != accept {
		t.Fatalf("answer: %v", first)
	}
	if extra := c.recv(b, 200*time.Millisecond); extra != nil {
		t.Fatalf("second answer to an ignored retransmit")
	}
	if _, n := e.duo.counts(); n != 1 {
		t.Fatalf("%d auth calls (pushes), want 1", n)
	}
	firstRaw, _ := first.Encode()

	// After the answer: the cached bytes again.
	c.send(b)
	again := c.recv(b, 2*time.Second)
	if again == nil {
		t.Fatal("cached answer not re-sent")
	}
	againRaw, _ := again.Encode()
	if !bytes.Equal(firstRaw, againRaw) {
		t.Error("re-sent answer differs")
	}
	_, _, dups := e.rec.snapshot()
	if !slices.Equal(dups, []string{"in_flight", "in_flight", "in_flight", "resent"}) {
		t.Errorf("duplicates %q", dups)
	}

	// Same source and Identifier, new authenticator: a new request.
	p2 := c.request("alice", "pw")
	p2.Identifier = p.Identifier
	if r := c.exchange(p2); r.Code != accept {
		t.Fatalf("got %v", r.Code)
	}
	// Same id, same authenticator but another password: new as well.
	p3 := c.request("alice", "pw,push")
	p3.Identifier, p3.Authenticator = p.Identifier, p.Authenticator
	pw, _ := radius.NewUserPassword([]byte("pw,push"), c.secret, p3.Authenticator[:])
	p3.Set(rfc2865.UserPassword_Type, pw)
	if r := c.exchange(p3); r.Code != accept {
		t.Fatalf("got %v", r.Code)
	}
	if _, n := e.duo.counts(); n != 3 {
		t.Fatalf("%d auth calls, want 3", n)
	}
	// The original bytes once more: the cache entry was replaced, so this is
	// processed as new; and after 30 s the cached answer is gone as well.
	c.send(b)
	if r := c.recv(b, 2*time.Second); r == nil {
		t.Fatal("no answer")
	}
	if _, n := e.duo.counts(); n != 4 {
		t.Fatalf("%d auth calls, want 4", n)
	}
	c.send(b)
	if r := c.recv(b, 2*time.Second); r == nil {
		t.Fatal("no answer")
	}
	if _, n := e.duo.counts(); n != 4 {
		t.Fatalf("cached answer not used: %d auth calls", n)
	}
	e.clock.advance(31 * time.Second)
	c.send(b)
	if r := c.recv(b, 2*time.Second); r == nil {
		t.Fatal("no answer")
	}
	if _, n := e.duo.counts(); n != 5 {
		t.Fatalf("expired cache still used: %d auth calls", n)
	}
}

// A retransmit from another source port is another request (the key is
// IP, port and Identifier).
func TestDuplicateKeyIncludesPort(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section { return []*Section{section(ModeDuoOnly, p, d)} })
	c1, c2 := e.client("127.0.0.1"), e.client("127.0.0.1")
	p := c1.request("alice", "push")
	b := c1.encode(p)
	c1.send(b)
	if r := c1.recv(b, 2*time.Second); r == nil {
		t.Fatal("no answer")
	}
	c2.send(b)
	if r := c2.recv(b, 2*time.Second); r == nil {
		t.Fatal("no answer")
	}
	if _, n := e.duo.counts(); n != 2 {
		t.Fatalf("%d auth calls, want 2", n)
	}
}

func TestProxyStateAndReplyMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 200) // 400 bytes
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		d.authHook = func(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error) {
			return duoclient.AuthResult{Result: "deny", StatusMsg: long}, nil
		}
		return []*Section{section(ModeDuoOnly, p, d)}
	})
	c := e.client("127.0.0.1")
	p := c.request("alice", "push")
	for _, v := range []string{"one", "two", "three"} {
		p.Add(rfc2865.ProxyState_Type, radius.Attribute(v))
	}
	r := c.exchange(p)
	var ps []string
	for _, a := range r.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			ps = append(ps, string(a.Attribute))
		}
	}
	if !slices.Equal(ps, []string{"one", "two", "three"}) {
		t.Errorf("Proxy-State %q", ps)
	}
	msg := replyMessage(r)
	if len(msg) != 252 || msg != long[:252] {
		t.Errorf("Reply-Message of %d bytes, want 252 (253 would split a character)", len(msg))
	}
	if n := len(r.Attributes); r.Attributes[0].Type != radiusmsg.Type || n != 5 {
		t.Errorf("attributes %d, first %d", n, r.Attributes[0].Type)
	}
}

// Every duoclient error class, on preauth and on auth, in both failmodes.
func TestFailmodeMatrix(t *testing.T) {
	t.Parallel()
	classes := []duoclient.Class{duoclient.ClassTransport, duoclient.ClassServer, duoclient.ClassClient, duoclient.ClassMalformed, duoclient.ClassBadBody}
	opens := map[duoclient.Class]bool{duoclient.ClassTransport: true, duoclient.ClassServer: true, duoclient.ClassMalformed: true}
	type tc struct {
		call     duoclient.Call
		class    duoclient.Class
		failmode string
		open     bool
	}
	var cases []tc
	for _, call := range []duoclient.Call{duoclient.CallPreauth, duoclient.CallAuth} {
		for _, class := range classes {
			for _, fm := range []string{FailmodeSafe, FailmodeSecure} {
				cases = append(cases, tc{call, class, fm,
					call == duoclient.CallPreauth && fm == FailmodeSafe && opens[class]})
			}
		}
	}
	for _, tt := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s", tt.call, tt.class, tt.failmode), func(t *testing.T) {
			t.Parallel()
			e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
				duoErr := &duoclient.Error{Call: tt.call, Class: tt.class, HTTPStatus: 503, Message: "boom"}
				if tt.call == duoclient.CallPreauth {
					d.preauthHook = func(context.Context, duoclient.PreauthRequest) (duoclient.Preauth, error) {
						return duoclient.Preauth{}, duoErr
					}
				} else {
					d.authHook = func(context.Context, duoclient.AuthRequest) (duoclient.AuthResult, error) {
						return duoclient.AuthResult{}, duoErr
					}
				}
				s := section(ModeAuto, p, d)
				s.Failmode = tt.failmode
				return []*Section{s}
			})
			c := e.client("127.0.0.1")
			r := c.exchange(c.request("alice", "pw"))
			wantCode, wantMsg := reject, msgFailSecure
			if tt.open {
				wantCode, wantMsg = accept, msgFailSafe
			}
			if r.Code != wantCode || replyMessage(r) != wantMsg {
				t.Fatalf("got %v %q, want %v %q", r.Code, replyMessage(r), wantCode, wantMsg)
			}
			if tt.open && string(rfc2865.FilterID_Get(r)) != "vpn-users" {
				t.Error("fail-open Accept lacks the primary's attributes")
			}
			events, _, _ := e.rec.snapshot()
			ev := events[len(events)-1]
			wantStatus := StatusError
			if tt.open {
				wantStatus = StatusAllow
			}
			if ev.FailOpen != tt.open || ev.Status != wantStatus || ev.AuthStage != StageSecondary {
				t.Errorf("event %+v", ev)
			}
			logs := e.logs.String()
			if tt.open && (!strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "WITHOUT a second factor")) {
				t.Errorf("fail-open not logged loudly:\n%s", logs)
			}
		})
	}
	// An error that is not a *duoclient.Error never fails open.
	t.Run("foreign error", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
			d.preauthHook = func(context.Context, duoclient.PreauthRequest) (duoclient.Preauth, error) {
				return duoclient.Preauth{}, errors.New("something else")
			}
			return []*Section{section(ModeAuto, p, d)}
		})
		c := e.client("127.0.0.1")
		if r := c.exchange(c.request("alice", "pw")); r.Code != reject || replyMessage(r) != msgFailSecure {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
	})
	// An unknown preauth result from the Duo interface is a malformed answer.
	t.Run("unknown preauth result", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
			d.preauthHook = func(context.Context, duoclient.PreauthRequest) (duoclient.Preauth, error) {
				return duoclient.Preauth{Result: "maybe"}, nil
			}
			return []*Section{section(ModeAuto, p, d)}
		})
		c := e.client("127.0.0.1")
		if r := c.exchange(c.request("alice", "pw")); r.Code != accept || replyMessage(r) != msgFailSafe {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
	})
	// Primary-only mode lets even a misconfiguration through, in safe sections only.
	for _, fm := range []string{FailmodeSafe, FailmodeSecure} {
		t.Run("primary-only/"+fm, func(t *testing.T) {
			t.Parallel()
			e := start(t, Options{PrimaryOnly: func() bool { return true }}, func(p *fakePrimary, d *fakeDuo) []*Section {
				d.preauthHook = func(context.Context, duoclient.PreauthRequest) (duoclient.Preauth, error) {
					return duoclient.Preauth{}, &duoclient.Error{Call: duoclient.CallPreauth, Class: duoclient.ClassClient, HTTPStatus: 401}
				}
				s := section(ModeAuto, p, d)
				s.Failmode = fm
				return []*Section{s}
			})
			c := e.client("127.0.0.1")
			r := c.exchange(c.request("alice", "pw"))
			if fm == FailmodeSafe && (r.Code != accept || replyMessage(r) != msgPrimaryOnly) ||
				fm == FailmodeSecure && (r.Code != reject || replyMessage(r) != msgFailSecure) {
				t.Fatalf("got %v %q", r.Code, replyMessage(r))
			}
		})
	}
	// Primary still comes first: a wrong password never reaches the failmode.
	t.Run("wrong password with Duo down", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
			d.preauthHook = func(context.Context, duoclient.PreauthRequest) (duoclient.Preauth, error) {
				return duoclient.Preauth{}, &duoclient.Error{Call: duoclient.CallPreauth, Class: duoclient.ClassTransport}
			}
			return []*Section{section(ModeAuto, p, d)}
		})
		c := e.client("127.0.0.1")
		if r := c.exchange(c.request("alice", "wrong")); r.Code != reject || replyMessage(r) != "User Authentication Failed" {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
	})
}

func TestPrimaryUnavailable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err error
		msg string
	}{
		{&primary.UnavailableError{Message: "Failed to communicate with any Active Directory server", Err: errors.New("dial")}, "Failed to communicate with any Active Directory server"},
		{errors.New("odd"), msgPrimaryError},
	} {
		e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
			p.hook = func(primary.Request) (primary.Result, error) { return primary.Result{}, tt.err }
			return []*Section{section(ModeChallenge, p, d)}
		})
		c := e.client("127.0.0.1")
		r := c.exchange(c.request("alice", "pw"))
		if r.Code != reject || replyMessage(r) != tt.msg {
			t.Errorf("got %v %q", r.Code, replyMessage(r))
		}
		if pre, _ := e.duo.counts(); pre != 0 {
			t.Errorf("Duo called")
		}
	}
}

// vsa builds a Vendor-Specific attribute value.
func vsa(vendor uint32, typ byte, v []byte) radius.Attribute {
	b := binary.BigEndian.AppendUint32(nil, vendor)
	b = append(b, typ, byte(2+len(v)))
	return append(b, v...)
}

func msChapErrorOf(p *radius.Packet) string {
	v, _ := lookupAttr(p.Attributes, Attr{Vendor: vendorMicrosoft, VendorType: msChapErrorType})
	return string(v)
}

func TestMSCHAPv2(t *testing.T) {
	t.Parallel()
	success := vsa(vendorMicrosoft, 26, []byte("\x01S=0123456789ABCDEF0123456789ABCDEF01234567"))
	upstreamErr := func(code string) radius.Attributes {
		return radius.Attributes{{Type: 26, Attribute: vsa(vendorMicrosoft, msChapErrorType, []byte("\x01E="+code+" R=0 C=00 V=3"))}}
	}
	tests := []struct {
		name     string
		user     string
		result   primary.Result
		code     radius.Code
		msg      string
		msErr    string
		success  bool
		preauths int
	}{
		{name: "accepted, push allowed", user: "alice", code: accept, msg: stSuccess, success: true, preauths: 1,
			result: primary.Result{Accepted: true, Attributes: radius.Attributes{{Type: 26, Attribute: success}}}},
		{name: "accepted, Duo denies", user: "denied", code: reject, msg: stDisabled, msErr: msChapError, preauths: 1,
			result: primary.Result{Accepted: true, Attributes: radius.Attributes{{Type: 26, Attribute: success}}}},
		{name: "upstream reject keeps its error", user: "alice", code: reject, msg: "No reply message in packet", msErr: "\x01E=691 R=0 C=00 V=3",
			result: primary.Result{Message: "No reply message in packet", Attributes: upstreamErr("691")}},
		{name: "reject without upstream error gets ours", user: "alice", code: reject, msg: "User Authentication Failed", msErr: msChapError,
			result: primary.Result{Message: "User Authentication Failed"}},
		{name: "password expired passed on", user: "alice", code: reject, msg: "expired", msErr: "\x01E=648 R=0 C=00 V=3", preauths: 1,
			result: primary.Result{Message: "expired", PasswordExpired: true, Attributes: upstreamErr("648")}},
		{name: "password expired but Duo denies", user: "denied", code: reject, msg: stDisabled, msErr: msChapError, preauths: 1,
			result: primary.Result{Message: "expired", PasswordExpired: true, Attributes: upstreamErr("648")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
				p.hook = func(r primary.Request) (primary.Result, error) { return tt.result, nil }
				return []*Section{section(ModeAuto, p, d)}
			})
			c := e.client("127.0.0.1")
			p := c.request(tt.user, "")
			p.Add(26, vsa(vendorMicrosoft, 11, bytes.Repeat([]byte{7}, 16)))
			p.Add(26, vsa(vendorMicrosoft, msChap2Response, bytes.Repeat([]byte{9}, 50)))
			r := c.exchange(p)
			if r.Code != tt.code || replyMessage(r) != tt.msg {
				t.Fatalf("got %v %q", r.Code, replyMessage(r))
			}
			if msChapErrorOf(r) != tt.msErr {
				t.Errorf("MS-CHAP-Error %q, want %q", msChapErrorOf(r), tt.msErr)
			}
			_, hasSuccess := lookupAttr(r.Attributes, Attr{Vendor: vendorMicrosoft, VendorType: 26})
			if hasSuccess != tt.success {
				t.Errorf("MS-CHAP2-Success present=%v", hasSuccess)
			}
			e.primary.mu.Lock()
			got := e.primary.reqs[0]
			e.primary.mu.Unlock()
			if got.Password != "" || got.Packet == nil || !isMSCHAP(got.Packet) {
				t.Errorf("primary request %+v", got)
			}
			if pre, _ := e.duo.counts(); pre != tt.preauths {
				t.Errorf("%d preauths", pre)
			}
		})
	}
}

func TestClientIPAndPassThrough(t *testing.T) {
	t.Parallel()
	const paloAlto = 25461
	tests := []struct {
		name  string
		attr  Attr
		add   func(*radius.Packet)
		want  string
		fwd   []Attr
		all   bool
		wantF []radius.Type
	}{
		{name: "Calling-Station-Id", add: func(p *radius.Packet) { rfc2865.CallingStationID_SetString(p, "198.51.100.7") }, want: "198.51.100.7"},
		{name: "vendor attribute", attr: Attr{Type: 26, Vendor: paloAlto, VendorType: 7},
			add: func(p *radius.Packet) {
				rfc2865.CallingStationID_SetString(p, "10.9.9.9")
				p.Add(26, vsa(paloAlto, 7, []byte("203.0.113.5")))
			}, want: "203.0.113.5"},
		{name: "binary address attribute", attr: Attr{Type: 8}, // Framed-IP-Address
			add: func(p *radius.Packet) { rfc2865.FramedIPAddress_Set(p, net.ParseIP("192.0.2.44")) }, want: "192.0.2.44"},
		{name: "absent", want: ""},
		{name: "forward named attributes", fwd: []Attr{{Type: rfc2865.NASIdentifier_Type}, {Type: 26, Vendor: paloAlto, VendorType: 9}},
			add: func(p *radius.Packet) {
				rfc2865.NASIdentifier_SetString(p, "vpn1")
				rfc2865.NASPortType_Set(p, 5)
				p.Add(26, vsa(paloAlto, 9, []byte("x")))
				p.Add(26, vsa(paloAlto, 8, []byte("y")))
			}, wantF: []radius.Type{rfc2865.NASIdentifier_Type, 26}},
		{name: "forward all but this hop's own", all: true,
			add: func(p *radius.Packet) {
				rfc2865.NASIdentifier_SetString(p, "vpn1")
				p.Add(rfc2865.ProxyState_Type, radius.Attribute("ps"))
			}, wantF: []radius.Type{rfc2865.NASIdentifier_Type}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
				s := section(ModeAuto, p, d)
				s.ClientIPAttr, s.PassThrough, s.PassThroughAll = tt.attr, tt.fwd, tt.all
				return []*Section{s}
			})
			c := e.client("127.0.0.1")
			p := c.request("alice", "pw")
			if tt.add != nil {
				tt.add(p)
			}
			if r := c.exchange(p); r.Code != accept {
				t.Fatalf("got %v", r.Code)
			}
			e.duo.mu.Lock()
			pre, auth := e.duo.preauths[0], e.duo.auths[0]
			e.duo.mu.Unlock()
			if pre.IPAddr != tt.want || auth.IPAddr != tt.want || pre.Failmode != FailmodeSafe || pre.Username != "alice" {
				t.Errorf("preauth %+v auth %+v, want ipaddr %q", pre, auth, tt.want)
			}
			events, _, _ := e.rec.snapshot()
			if events[0].ClientIP != tt.want || events[0].NASAddr != "127.0.0.1" {
				t.Errorf("event client %q nas %q", events[0].ClientIP, events[0].NASAddr)
			}
			var types []radius.Type
			e.primary.mu.Lock()
			defer e.primary.mu.Unlock()
			for _, a := range e.primary.reqs[0].Forward {
				types = append(types, a.Type)
			}
			if !slices.Equal(types, tt.wantF) {
				t.Errorf("forwarded %v, want %v", types, tt.wantF)
			}
		})
	}
}

func TestEventsAndLogs(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		d.authHook = func(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error) {
			time.Sleep(20 * time.Millisecond)
			return duoclient.AuthResult{Result: "allow", StatusMsg: stSuccess}, nil
		}
		return []*Section{section(ModeChallenge, p, d)}
	})
	c := e.client("127.0.0.1")
	p := c.request("alice", "s3cr3t-password")
	e.primary.mu.Lock()
	e.primary.users["alice"] = "s3cr3t-password"
	e.primary.mu.Unlock()
	r := c.exchange(p)
	p = c.request("alice", "987654")
	rfc2865.State_Set(p, rfc2865.State_Get(r))
	if r := c.exchange(p); r.Code != accept {
		t.Fatalf("got %v", r.Code)
	}
	events, _, _ := e.rec.snapshot()
	if len(events) != 2 {
		t.Fatalf("%d events", len(events))
	}
	ch, fin := events[0], events[1]
	if ch.Result != ResultChallenge || ch.Status != "" || ch.Primary <= 0 || ch.Preauth <= 0 || ch.Auth != 0 {
		t.Errorf("challenge event %+v", ch)
	}
	if fin.Result != ResultAccept || fin.Status != StatusAllow || fin.AuthStage != StageSecondary ||
		fin.Factor != "passcode" || fin.Auth < 20*time.Millisecond || fin.Username != "alice" ||
		fin.ServerSection != "radius_server_challenge" || fin.ServerSectionIKey != "DIXXXXXXXXXXXXXXXXXX" ||
		fin.Hostname != "proxy-host" || fin.Msg != stSuccess || fin.RequestID == "" || fin.RequestID == ch.RequestID {
		t.Errorf("final event %+v", fin)
	}
	logs := e.logs.String()
	for _, secret := range []string{"s3cr3t-password", "987654", testSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
	for _, want := range []string{"request_id=", "section=radius_server_challenge", "user=alice", "stage=", "result=accept", "primary_ms=", "preauth_ms=", "auth_ms=", "factor=passcode"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// On shutdown a request waiting on the Auth API is cancelled and gets no
// answer — in particular never a fail-open Accept.
func TestShutdownNeverFailsOpen(t *testing.T) {
	t.Parallel()
	d := &fakeDuo{}
	inPreauth := make(chan struct{})
	d.preauthHook = func(ctx context.Context, r duoclient.PreauthRequest) (duoclient.Preauth, error) {
		close(inPreauth)
		<-ctx.Done()
		return duoclient.Preauth{}, &duoclient.Error{Call: duoclient.CallPreauth, Class: duoclient.ClassTransport, Err: ctx.Err()}
	}
	s := section(ModeAuto, newPrimary(), d)
	srv, err := NewServer([]*Section{s}, Options{ShutdownGrace: 50 * time.Millisecond, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	c := &client{t: t, secret: []byte(testSecret)}
	c.conn, err = net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	b := c.encode(c.request("alice", "pw"))
	c.send(b)
	<-inPreauth
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if r := c.recv(b, 300*time.Millisecond); r != nil {
		t.Fatalf("answered %v %q during shutdown", r.Code, replyMessage(r))
	}
}

func TestStoreBounded(t *testing.T) {
	t.Parallel()
	st := newStateStore(3)
	now := time.Now()
	sec := &Section{}
	var states []string
	for i := range 3 {
		s, n, err := st.put(&pending{sec: sec, user: fmt.Sprint(i), expires: now.Add(time.Minute)}, now)
		if err != nil || n != i+1 || len(s) != 44 {
			t.Fatalf("put %d: %q %d %v", i, s, n, err)
		}
		states = append(states, s)
	}
	if _, _, err := st.put(&pending{sec: sec, expires: now.Add(time.Minute)}, now); !errors.Is(err, errStoreFull) {
		t.Fatalf("err %v", err)
	}
	if _, _, ok := st.take(states[0], sec, netip.Addr{}, "0", now); !ok {
		t.Fatal("take failed")
	}
	if _, _, err := st.put(&pending{sec: sec, expires: now.Add(time.Minute)}, now); err != nil {
		t.Fatal(err)
	}
	if got := st.sweep(now.Add(2 * time.Minute)); got != 0 {
		t.Fatalf("%d left after expiry", got)
	}
	// States are unique and random.
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				s := newState()
				mu.Lock()
				if seen[s] {
					t.Error("State repeated")
				}
				seen[s] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestOverload: with MaxInFlight requests in progress (pending pushes),
// a new Access-Request is dropped before it is parsed — no goroutine, no
// Auth API call — counted and warned about once per interval; once a place
// is free the NAS's retransmit is answered.
func TestOverload(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	e := start(t, Options{MaxInFlight: 2}, func(p *fakePrimary, d *fakeDuo) []*Section {
		d.authHook = func(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error) {
			if r.Choice == "push" {
				started <- struct{}{}
				<-release
			}
			return duoclient.AuthResult{Result: "allow", StatusMsg: stSuccess}, nil
		}
		return []*Section{section(ModeDuoOnly, p, d)}
	})
	c := e.client("127.0.0.1")
	var pushes [][]byte
	for range 2 {
		b := c.encode(c.request("alice", "push"))
		c.send(b)
		pushes = append(pushes, b)
		<-started
	}
	if n := e.srv.InFlight(); n != 2 {
		t.Fatalf("%d requests in flight, want 2", n)
	}
	late := c.encode(c.request("bob", goodCode))
	for range 3 { // the first send and two retransmits
		c.send(late)
	}
	e.rec.waitDropped(t, "overloaded", 3)
	if _, n := e.duo.counts(); n != 2 {
		t.Errorf("%d auth calls while full, want 2", n)
	}
	if n := strings.Count(e.logs.String(), "reason=overloaded"); n != 1 {
		t.Errorf("%d warnings for 3 dropped packets, want 1:\n%s", n, e.logs.String())
	}

	close(release)
	// The two answers, in either order.
	buf := make([]byte, 4096)
	for range pushes {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.conn.Read(buf)
		if err != nil {
			t.Fatalf("pending push: %v", err)
		}
		i := slices.IndexFunc(pushes, func(b []byte) bool { return b[1] == buf[1] })
		if i < 0 || radius.Code(buf[0]) != accept || !radius.IsAuthenticResponse(buf[:n], pushes[i], c.secret) {
			t.Fatalf("pending push: code %d id %d", buf[0], buf[1])
		}
	}
	// A place is given back just after the answer is sent.
	for deadline := time.Now().Add(5 * time.Second); e.srv.InFlight() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in flight after all were answered", e.srv.InFlight())
		}
		time.Sleep(time.Millisecond)
	}
	c.send(late) // the NAS retransmits
	if r := c.recv(late, 5*time.Second); r == nil || r.Code != accept {
		t.Fatalf("retransmit after the overload: %v", r)
	}
}

package radiusd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
	"github.com/assent-auth/assent/internal/authproxy/primary"
	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

const testSecret = "testing123"

// Texts the fake Auth API answers with.
const (
	stSuccess   = "Success. Logging you in..."
	stDisabled  = "Your account is disabled"
	stBypass    = "Allowing unknown user"
	stEnroll    = "Enroll an authentication device to proceed"
	enrollURL   = "https://duo.test/portal?code=abc123"
	stBadCode   = "Incorrect passcode. Please try again."
	stSMSSent   = "New SMS passcodes sent"
	stTimeout   = "Login timed out."
	goodCode    = "123456"
	alicePrompt = "Duo two-factor login for alice\n\nEnter a passcode or select one of the following options:\n\n 1. Duo Push to XXX-XXX-1234\n 2. Phone call to XXX-XXX-1234\n 3. SMS passcodes to XXX-XXX-1234 (next code starts with: 9)\n\nPasscode or option (1-3): "
)

var aliceFactors = map[string]string{"default": "push1", "1": "push1", "2": "phone1", "3": "sms1"}

// fakePrimary is a directory of users and passwords. Accepts carry a
// Filter-Id so tests can see the primary's attributes reach the Accept.
type fakePrimary struct {
	mu    sync.Mutex
	users map[string]string
	tried []string // passwords tried, in order
	reqs  []primary.Request
	// hook, when set, decides instead of the directory.
	hook func(primary.Request) (primary.Result, error)
}

func newPrimary() *fakePrimary {
	return &fakePrimary{users: map[string]string{
		"alice": "pw", "bob": "pw", "comma": "p,w", "enrollee": "pw", "bypass": "pw",
		"denied": "pw", "nodev": "pw", "phoneonly": "pw", "exempt": "pw", "long": "pw",
		"smsonly": "pw", "manyfactors": "pw", "html": "pw",
	}}
}

var primaryAttr = &radius.AVP{Type: rfc2865.FilterID_Type, Attribute: radius.Attribute("vpn-users")}

func (f *fakePrimary) Authenticate(ctx context.Context, r primary.Request) (primary.Result, error) {
	f.mu.Lock()
	f.tried = append(f.tried, r.Password)
	f.reqs = append(f.reqs, r)
	hook := f.hook
	want, ok := f.users[r.Username]
	f.mu.Unlock()
	if hook != nil {
		return hook(r)
	}
	if !ok {
		return primary.Result{Message: "Invalid User", Reason: "not in the fake directory"}, nil
	}
	if r.Password != want {
		return primary.Result{Message: "User Authentication Failed", Reason: "wrong password (fake directory)"}, nil
	}
	return primary.Result{Accepted: true, Attributes: radius.Attributes{primaryAttr}}, nil
}

func (f *fakePrimary) passwords() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tried)
}

// fakeDuo is an Auth API with a few kinds of users.
type fakeDuo struct {
	mu       sync.Mutex
	preauths []duoclient.PreauthRequest
	auths    []duoclient.AuthRequest
	// overrides
	preauthHook func(context.Context, duoclient.PreauthRequest) (duoclient.Preauth, error)
	authHook    func(context.Context, duoclient.AuthRequest) (duoclient.AuthResult, error)
}

func (d *fakeDuo) Preauth(ctx context.Context, r duoclient.PreauthRequest) (duoclient.Preauth, error) {
	d.mu.Lock()
	d.preauths = append(d.preauths, r)
	hook := d.preauthHook
	d.mu.Unlock()
	if hook != nil {
		return hook(ctx, r)
	}
	p := standardPreauth(r.Username)
	if !r.Menu {
		// As the Auth API answers without text_prompt: devices only.
		p.Prompt, p.Factors = "", nil
	}
	return p, nil
}

// menus reports, per preauth call, whether it asked for the menu.
func (d *fakeDuo) menus() []bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	var m []bool
	for _, p := range d.preauths {
		m = append(m, p.Menu)
	}
	return m
}

func standardPreauth(user string) duoclient.Preauth {
	phone := duoclient.Device{ID: "DPXXXXXXXXXXXXXXXXXX", Type: "phone", Capabilities: []string{"auto", "push", "sms", "phone", "mobile_otp"}}
	switch user {
	case "enrollee":
		return duoclient.Preauth{Result: "enroll", StatusMsg: stEnroll, EnrollPortalURL: enrollURL}
	case "bypass":
		return duoclient.Preauth{Result: "allow", StatusMsg: stBypass}
	case "denied":
		return duoclient.Preauth{Result: "deny", StatusMsg: stDisabled}
	case "nodev":
		return duoclient.Preauth{Result: "auth", Prompt: "Duo two-factor login for nodev\n\nEnter a passcode: ", Factors: map[string]string{}}
	case "phoneonly":
		return duoclient.Preauth{Result: "auth", Prompt: "Duo two-factor login for phoneonly\n\n 1. Phone call to XXX-XXX-9999\n",
			Factors: map[string]string{"default": "phone1", "1": "phone1"},
			Devices: []duoclient.Device{{ID: "DPY", Type: "phone", Capabilities: []string{"phone"}}}}
	case "long":
		return duoclient.Preauth{Result: "auth", Prompt: alicePrompt + strings.Repeat(" 4. Duo Push to a device with a very long name\n", 4), Factors: aliceFactors, Devices: []duoclient.Device{phone}}
	case "manyfactors":
		f := map[string]string{"default": "push1"}
		for i := 1; i <= 30; i++ {
			f[fmt.Sprint(i)] = fmt.Sprintf("push%d", i)
		}
		return duoclient.Preauth{Result: "auth", Prompt: strings.Repeat("x", 300), Factors: f}
	case "html":
		return duoclient.Preauth{Result: "auth", Prompt: "Duo login for <html> & co\n\n  1. Push  \n", Factors: map[string]string{"1": "push1"}}
	}
	return duoclient.Preauth{Result: "auth", Prompt: strings.ReplaceAll(alicePrompt, "alice", user), Factors: aliceFactors, Devices: []duoclient.Device{phone}}
}

func (d *fakeDuo) Auth(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error) {
	d.mu.Lock()
	d.auths = append(d.auths, r)
	hook := d.authHook
	d.mu.Unlock()
	if hook != nil {
		return hook(ctx, r)
	}
	switch {
	case r.Choice == "push1" || r.Choice == "push" || r.Choice == goodCode:
		return duoclient.AuthResult{Result: "allow", Status: "allow", StatusMsg: stSuccess}, nil
	case strings.HasPrefix(r.Choice, "sms"):
		return duoclient.AuthResult{Result: "deny", Status: "sent", StatusMsg: stSMSSent}, nil
	case strings.HasPrefix(r.Choice, "phone"):
		return duoclient.AuthResult{Result: "deny", Status: "timeout", StatusMsg: stTimeout}, nil
	}
	return duoclient.AuthResult{Result: "deny", Status: "deny", StatusMsg: stBadCode}, nil
}

func (d *fakeDuo) choices() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var c []string
	for _, a := range d.auths {
		c = append(c, a.Choice)
	}
	return c
}

func (d *fakeDuo) counts() (preauths, auths int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.preauths), len(d.auths)
}

// recorder is an Observer that keeps everything.
type recorder struct {
	mu       sync.Mutex
	events   []Event
	dropped  []string
	dups     []string
	pending  int
	statuses []string // sections of the Status-Servers answered
}

func (r *recorder) Observe(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }
func (r *recorder) Dropped(reason string) {
	r.mu.Lock()
	r.dropped = append(r.dropped, reason)
	r.mu.Unlock()
}
func (r *recorder) Duplicate(kind string)   { r.mu.Lock(); r.dups = append(r.dups, kind); r.mu.Unlock() }
func (r *recorder) PendingChallenges(n int) { r.mu.Lock(); r.pending = n; r.mu.Unlock() }
func (r *recorder) StatusServer(section string) {
	r.mu.Lock()
	r.statuses = append(r.statuses, section)
	r.mu.Unlock()
}

func (r *recorder) statusServers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.statuses)
}

func (r *recorder) snapshot() (events []Event, dropped, dups []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), slices.Clone(r.dropped), slices.Clone(r.dups)
}

// waitDropped waits until reason has been recorded n times.
func (r *recorder) waitDropped(t *testing.T, reason string, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		_, d, _ := r.snapshot()
		c := 0
		for _, x := range d {
			if x == reason {
				c++
			}
		}
		if c >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("dropped %q not seen %d times", reason, n)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// env is a running server with fakes behind it.
type env struct {
	t       testing.TB
	srv     *Server
	addr    *net.UDPAddr
	primary *fakePrimary
	duo     *fakeDuo
	rec     *recorder
	clock   *clock
	logs    *lockedBuffer
	secs    []*Section
}

// section returns a section of mode with the fakes, for 127.0.0.0/8.
func section(mode Mode, p *fakePrimary, d *fakeDuo) *Section {
	s := &Section{
		Name: "radius_server_" + string(mode), Mode: mode, IKey: "DIXXXXXXXXXXXXXXXXXX",
		Networks:    []Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: []byte(testSecret)}},
		Duo:         d,
		Failmode:    FailmodeSafe,
		AllowConcat: true, EnrollChallenge: true,
		Exempt: []string{"Exempt"},
	}
	if mode != ModeDuoOnly {
		s.Primary = p
	}
	return s
}

// start runs a server for the sections made by mk (which gets the shared
// fakes) on a loopback socket.
func start(t testing.TB, opts Options, mk func(*fakePrimary, *fakeDuo) []*Section) *env {
	t.Helper()
	e := &env{t: t, primary: newPrimary(), duo: &fakeDuo{}, rec: &recorder{}, clock: newClock(), logs: &lockedBuffer{}}
	e.secs = mk(e.primary, e.duo)
	if opts.Observer == nil {
		opts.Observer = e.rec
	}
	if opts.Now == nil {
		opts.Now = e.clock.now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts.Hostname = "proxy-host"
	srv, err := NewServer(e.secs, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = conn.LocalAddr().(*net.UDPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return")
		}
		conn.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// client is a NAS: one UDP socket, so retransmits share the source port.
type client struct {
	t      testing.TB
	conn   *net.UDPConn
	secret []byte
	noMA   bool // do not add Message-Authenticator
	id     byte
}

func (e *env) client(from string) *client {
	e.t.Helper()
	laddr := &net.UDPAddr{IP: net.ParseIP(from)}
	conn, err := net.DialUDP("udp", laddr, e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return &client{t: e.t, conn: conn, secret: []byte(testSecret)}
}

// request builds an Access-Request with User-Name/User-Password (either
// may be empty to leave it out) and a fresh Identifier.
func (c *client) request(user, pass string) *radius.Packet {
	p := radius.New(radius.CodeAccessRequest, c.secret)
	c.id++
	p.Identifier = c.id
	if user != "" {
		rfc2865.UserName_SetString(p, user)
	}
	if pass != "" {
		if err := rfc2865.UserPassword_SetString(p, pass); err != nil {
			c.t.Fatal(err)
		}
	}
	return p
}

// encode signs p (unless noMA) and returns the wire bytes.
func (c *client) encode(p *radius.Packet) []byte {
	c.t.Helper()
	if !c.noMA {
		if err := radiusmsg.AddRequest(p); err != nil {
			c.t.Fatal(err)
		}
	}
	b, err := p.Encode()
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *client) send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// recv waits up to d for one answer to req and checks it: Response
// Authenticator, Message-Authenticator present, valid and first. nil on
// timeout.
func (c *client) recv(req []byte, d time.Duration) *radius.Packet {
	c.t.Helper()
	buf := make([]byte, 4096)
	c.conn.SetReadDeadline(time.Now().Add(d))
	n, err := c.conn.Read(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		c.t.Fatal(err)
	}
	b := buf[:n]
	if !radius.IsAuthenticResponse(b, req, c.secret) {
		c.t.Fatalf("response authenticator invalid")
	}
	var reqAuth [16]byte
	copy(reqAuth[:], req[4:20])
	if present, ok := radiusmsg.VerifyResponse(b, reqAuth, c.secret); !present || !ok {
		c.t.Fatalf("Message-Authenticator present=%v ok=%v", present, ok)
	}
	if b[20] != byte(radiusmsg.Type) {
		c.t.Fatalf("Message-Authenticator is not the first attribute (got type %d)", b[20])
	}
	if b[1] != req[1] {
		c.t.Fatalf("answer for id %d, want %d", b[1], req[1])
	}
	p, err := radius.Parse(b, c.secret)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// exchange sends p and waits for the answer.
func (c *client) exchange(p *radius.Packet) *radius.Packet {
	c.t.Helper()
	b := c.encode(p)
	c.send(b)
	r := c.recv(b, 5*time.Second)
	if r == nil {
		c.t.Fatalf("no answer")
	}
	return r
}

// expectSilence sends p and checks nothing comes back.
func (c *client) expectSilence(p *radius.Packet) {
	c.t.Helper()
	b := c.encode(p)
	c.send(b)
	if r := c.recv(b, 300*time.Millisecond); r != nil {
		c.t.Fatalf("got %v (%q), want no answer", r.Code, rfc2865.ReplyMessage_GetString(r))
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func replyMessage(p *radius.Packet) string { return rfc2865.ReplyMessage_GetString(p) }

// Package prompttest runs the hosted prompt for tests: a core on a
// temporary SQLite store, the prompt, the Web SDK v2 frame and /frame/qr
// behind an httptest TLS server, plus helpers to create integrations and
// devices, to act as the phone (answer pushes, compute HOTP passcodes) and
// to read the pages the way a browser test would (by ids and data-state).
package prompttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/frame"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/webauthnrp"
)

// Clock is real time shifted by a settable offset: pushes wait on real
// timers, and tests still move time forward to expire things.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the shifted time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Options tune New.
type Options struct {
	// Finishers are added to the prompt's (the Web SDK one is always there).
	Finishers map[string]prompt.Finisher
	// PushTimeout of the core; 0: 10 s.
	PushTimeout time.Duration
	// LockoutThreshold of the core; 0: 3.
	LockoutThreshold int
	// Limits of the core (none by default).
	Limits auth.Limits
	// ActivationLimit limits wrong portal links per address (none by default).
	ActivationLimit ratelimit.Limit
	// MaxHeldRequests of the core; 0: the core's default.
	MaxHeldRequests int
	// SMS configures the core's SMS passcodes (none by default).
	SMS auth.SMSOptions
	// Phone configures the core's phone calls (none by default).
	Phone auth.PhoneOptions
	// WebAuthn turns security keys on, with the relying party
	// localhost:<port> (an IP address cannot be one): the software
	// authenticator of internal/webauthnrp/webauthntest answers for
	// https://<Stack.WebAuthnHost>.
	WebAuthn bool
}

// Stack is a running prompt.
type Stack struct {
	Core   *auth.Service
	Store  store.Store
	Box    *secrets.Box
	Prompt *prompt.Prompt
	WebSDK *frame.WebSDK
	Clock  *Clock
	Server *httptest.Server
	Host   string // 127.0.0.1:port, the public hostname
	// WebAuthnHost is localhost:port, the relying party of Options.WebAuthn.
	WebAuthnHost string
	// Client trusts the server and does not follow redirects.
	Client *http.Client
}

// New starts a stack and stops it when the test ends.
func New(t testing.TB, opts Options) *Stack {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if opts.PushTimeout == 0 {
		opts.PushTimeout = 10 * time.Second
	}
	if opts.LockoutThreshold == 0 {
		opts.LockoutThreshold = 3
	}
	s := &Stack{Store: st, Box: box, Clock: &Clock{}}
	s.Server = httptest.NewUnstartedServer(nil)
	s.Host = s.Server.Listener.Addr().String()
	var rp auth.WebAuthnRP
	if opts.WebAuthn {
		s.WebAuthnHost = "localhost:" + strconv.Itoa(s.Server.Listener.Addr().(*net.TCPAddr).Port)
		r, err := webauthnrp.New(webauthnrp.Settings{Hostname: s.WebAuthnHost})
		if err != nil {
			t.Fatal(err)
		}
		rp = r
	}
	s.Core = auth.New(st, box, auth.Options{Now: s.Clock.Now, APIHostname: s.Host, PushTimeout: opts.PushTimeout, WebAuthn: rp, SMS: opts.SMS, Phone: opts.Phone,
		StatusWait: 2 * time.Second, LockoutThreshold: opts.LockoutThreshold, Limits: opts.Limits,
		MaxHeldRequests: opts.MaxHeldRequests,
		EnrollPortalURL: func(ctx context.Context, username string) (string, error) {
			tok, _, err := s.Core.EnrollLinkToken(ctx, username)
			return "https://" + s.Host + "/portal/enroll/" + tok, err
		}})
	s.WebSDK = &frame.WebSDK{Core: s.Core, Now: s.Clock.Now}
	s.Prompt = &prompt.Prompt{Core: s.Core, Box: box, Host: s.Host, Now: s.Clock.Now, Logger: slog.New(slog.DiscardHandler),
		Finishers:       map[string]prompt.Finisher{prompt.KindWebSDK: s.WebSDK},
		ActivationLimit: ratelimit.NewNamed("rate_limit_activation_failures_per_ip", opts.ActivationLimit, ratelimit.Options{Now: s.Clock.Now})}
	for k, f := range opts.Finishers {
		s.Prompt.Finishers[k] = f
	}
	s.WebSDK.Prompt = s.Prompt
	mux := http.NewServeMux()
	s.Prompt.Register(mux)
	s.WebSDK.Register(mux)
	mux.Handle("/frame/qr", httpapi.Handle(frame.QR))
	s.Server.Config.Handler = httpapi.Middleware(slog.New(slog.DiscardHandler), mux)
	s.Server.StartTLS()
	t.Cleanup(s.Server.Close)
	s.Client = s.Server.Client()
	s.Client.Timeout = 30 * time.Second
	s.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return s
}

// URL is https://host + path.
func (s *Stack) URL(path string) string { return "https://" + s.Host + path }

// Integration creates an integration and returns it with its secret key.
func (s *Stack) Integration(t testing.TB, typ store.IntegrationType, policy store.NewUserPolicy, origins ...string) (store.Integration, string) {
	t.Helper()
	in, skey, err := s.Core.CreateIntegration(context.Background(), auth.NewIntegration{
		Name: string(typ) + " app", Type: typ, NewUserPolicy: policy, AllowedOrigins: origins})
	if err != nil {
		t.Fatal(err)
	}
	return in, skey
}

// deviceKey is shared: RSA keys are slow to generate under -race.
var deviceKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// Device is an activated device and what its owner's phone knows.
type Device struct {
	ID         string
	UserID     string
	HOTPSecret string
	counter    uint64
}

// Activate activates a device with an activation code (duo://… or the
// bare code), as the phone app does.
func (s *Stack) Activate(t testing.TB, code string) *Device {
	t.Helper()
	d, err := s.TryActivate(code)
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	return d
}

// TryActivate is Activate returning the core's error.
func (s *Stack) TryActivate(code string) (*Device, error) {
	der, err := x509.MarshalPKIXPublicKey(&deviceKey().PublicKey)
	if err != nil {
		return nil, err
	}
	a, err := s.Core.Activate(context.Background(), auth.ActivateRequest{Code: code,
		PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), Name: "Test phone", Platform: "Android"})
	if err != nil {
		return nil, err
	}
	return &Device{ID: a.Device.ID, UserID: a.Device.UserID, HOTPSecret: a.HOTPSecret}, nil
}

// Enroll gives username (created if needed) an activated device.
func (s *Stack) Enroll(t testing.TB, username string) *Device {
	t.Helper()
	e, err := s.Core.Enroll(context.Background(), auth.EnrollRequest{Username: username})
	if err != nil {
		t.Fatal(err)
	}
	return s.Activate(t, e.ActivationCode)
}

// Passcode is the device's next HOTP passcode.
func (d *Device) Passcode(t testing.TB) string {
	t.Helper()
	key := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(d.HOTPSecret))
	code, err := hotp.GenerateCodeCustom(key, d.counter, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	d.counter++
	return code
}

// Answer waits (up to 10 s) for a push on the device and answers it; it
// returns the push's txid.
func (s *Stack) Answer(t testing.TB, d *Device, approve bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := s.Core.Pending(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			if err := s.Core.Answer(context.Background(), d.ID, list[0].ID, approve); err != nil {
				t.Fatal(err)
			}
			return list[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("no push arrived on the device")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Page is a response as a browser test sees it.
type Page struct {
	Status int
	Header http.Header
	Body   string
}

var (
	reState   = regexp.MustCompile(`<main id="prompt" data-testid="prompt" data-state="([^"]*)"`)
	reSession = regexp.MustCompile(`name="session" value="([^"]*)"`)
)

// State is the data-state of <main id="prompt">, or "".
func (p *Page) State() string {
	if m := reState.FindStringSubmatch(p.Body); m != nil {
		return m[1]
	}
	return ""
}

// Session is the sealed state the page's forms post back.
func (p *Page) Session() string {
	if m := reSession.FindStringSubmatch(p.Body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// Attr is the (unescaped) value of attribute name on <main id="prompt">.
func (p *Page) Attr(name string) string {
	m := regexp.MustCompile(`<main id="prompt"[^>]* ` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// Text is the unescaped text content of the element with id (no nested
// elements of the same tag), or "".
func (p *Page) Text(id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(m[1]))
}

// Has reports whether an element with id is on the page.
func (p *Page) Has(id string) bool { return strings.Contains(p.Body, `id="`+id+`"`) }

// Get fetches path (or a full URL).
func (s *Stack) Get(t testing.TB, path string) *Page {
	t.Helper()
	return s.Do(t, http.MethodGet, path, nil, nil)
}

// Post posts form to path as a same-origin browser form does.
func (s *Stack) Post(t testing.TB, path string, form url.Values) *Page {
	t.Helper()
	return s.Do(t, http.MethodPost, path, form, http.Header{"Origin": {"https://" + s.Host}, "Sec-Fetch-Site": {"same-origin"}})
}

// Do makes a request with extra headers.
func (s *Stack) Do(t testing.TB, method, path string, form url.Values, hdr http.Header) *Page {
	t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = s.URL(path)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Page{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// Action posts the page's session (and more fields) to a prompt action.
func (s *Stack) Action(t testing.TB, from *Page, path string, fields ...string) *Page {
	t.Helper()
	form := url.Values{"session": {from.Session()}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return s.Post(t, path, form)
}

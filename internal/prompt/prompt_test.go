package prompt_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authenticatorapp"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/store"
)

// recorder is a Finisher that records outcomes and redirects like the
// Universal Prompt does.
type recorder struct {
	mu       sync.Mutex
	outcomes []prompt.Outcome
	sessions []prompt.Session
}

func (f *recorder) Finish(w http.ResponseWriter, r *http.Request, s prompt.Session, o prompt.Outcome) error {
	f.mu.Lock()
	f.outcomes = append(f.outcomes, o)
	f.sessions = append(f.sessions, s)
	f.mu.Unlock()
	http.Redirect(w, r, s.Data["redirect_uri"]+"?duo_code=x", http.StatusFound)
	return nil
}

func (f *recorder) last(t *testing.T) (prompt.Session, prompt.Outcome) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.outcomes) == 0 {
		t.Fatal("the finisher was not called")
	}
	return f.sessions[len(f.sessions)-1], f.outcomes[len(f.outcomes)-1]
}

type fixture struct {
	s   *prompttest.Stack
	rec *recorder
	in  store.Integration
}

func newFixture(t testing.TB, policy store.NewUserPolicy) *fixture {
	t.Helper()
	rec := &recorder{}
	s := prompttest.New(t, prompttest.Options{Finishers: map[string]prompt.Finisher{prompt.KindUniversal: rec}})
	in, _ := s.Integration(t, store.TypeUniversal, policy)
	return &fixture{s: s, rec: rec, in: in}
}

// start starts a universal prompt for user, as /oauth/v1/authorize does.
func (f *fixture) start(t testing.TB, user string) *prompttest.Page {
	t.Helper()
	rr := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "https://"+f.s.Host+"/oauth/v1/authorize", nil)
	err := f.s.Prompt.Start(rr, req, prompt.Session{Kind: prompt.KindUniversal, IKey: f.in.IKey, Username: user,
		Data: map[string]string{"redirect_uri": "https://rp.example:9000/cb", "state": "abc"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return &prompttest.Page{Status: rr.Code, Header: rr.Header(), Body: rr.Body.String()}
}

func TestUniversalSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	d := f.s.Enroll(t, "Alice")
	p := f.start(t, "alice")
	if p.State() != "choose" {
		t.Fatalf("state %q", p.State())
	}
	csp := p.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "form-action 'self' https://rp.example:9000;") ||
		p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("universal page headers: CSP %q, XFO %q", csp, p.Header.Get("X-Frame-Options"))
	}
	pushed := f.s.Action(t, p, "/prompt/push", "device", "auto")
	txid := f.s.Answer(t, d, true)
	done := f.s.Action(t, pushed, "/prompt/check")
	if done.Status != http.StatusFound || done.Header.Get("Location") != "https://rp.example:9000/cb?duo_code=x" {
		t.Fatalf("finish: %d %q", done.Status, done.Header.Get("Location"))
	}
	s, o := f.rec.last(t)
	if s.Data["state"] != "abc" || s.Username != "alice" || s.Kind != prompt.KindUniversal {
		t.Errorf("session %+v", s)
	}
	if o.Username != "alice" || o.UserID != d.UserID || o.Factor != prompt.FactorPush || o.DeviceID != d.ID ||
		o.DeviceName != "Test phone" || o.TxID != txid || o.Result != "allow" || o.Status != "allow" ||
		o.StatusMsg == "" || o.AuthTime.IsZero() || o.IP != "127.0.0.1" {
		t.Errorf("outcome %+v", o)
	}

	// Passcode outcome.
	done = f.s.Action(t, p, "/prompt/passcode", "passcode", d.Passcode(t))
	if _, o = f.rec.last(t); done.Status != http.StatusFound || o.Factor != prompt.FactorPasscode || o.DeviceID != "" ||
		o.UserID != d.UserID || o.TxID == "" {
		t.Errorf("passcode: %d, outcome %+v", done.Status, o)
	}
}

func TestStartBypassAndAllow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyAllow)
	rr := f.start(t, "newbie")
	if _, o := f.rec.last(t); rr.Status != http.StatusFound || o.Factor != prompt.FactorAllowUnenrolled || o.Status != "allow" {
		t.Errorf("allow policy: %d %+v", rr.Status, o)
	}
	if _, err := f.s.Core.CreateUser(context.Background(), "skip"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Core.SetUserStatus(context.Background(), "skip", store.StatusBypass); err != nil {
		t.Fatal(err)
	}
	f.start(t, "skip")
	if _, o := f.rec.last(t); o.Factor != prompt.FactorBypassUser || o.Status != "bypass" || o.UserID == "" {
		t.Errorf("bypass user: %+v", o)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyAllow)
	websdk, _ := f.s.Integration(t, store.TypeWebSDK, store.PolicyAllow, "https://app.example")
	for _, tc := range []struct {
		name string
		s    prompt.Session
	}{
		{"unknown kind", prompt.Session{Kind: "other", IKey: f.in.IKey, Username: "a"}},
		{"portal kind", prompt.Session{Kind: "portal", IKey: f.in.IKey, Username: "a"}},
		{"no username", prompt.Session{Kind: prompt.KindUniversal, IKey: f.in.IKey}},
		{"unknown integration", prompt.Session{Kind: prompt.KindUniversal, IKey: "DIXXXXXXXXXXXXXXXXXX", Username: "a"}},
		{"wrong integration type", prompt.Session{Kind: prompt.KindUniversal, IKey: websdk.IKey, Username: "a"}},
		{"websdk parent not allowed", prompt.Session{Kind: prompt.KindWebSDK, IKey: websdk.IKey, Username: "a", Parent: "https://evil.example/"}},
		{"websdk parent without origin", prompt.Session{Kind: prompt.KindWebSDK, IKey: websdk.IKey, Username: "a", Parent: "javascript:alert(1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rr := httptest.NewRecorder()
			err := f.s.Prompt.Start(rr, httptest.NewRequest("GET", "/", nil), tc.s)
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if rr.Body.Len() != 0 || len(rr.Header()) != 0 {
				t.Errorf("Start wrote a response before failing")
			}
		})
	}
}

func TestRenderError(t *testing.T) {
	t.Parallel()
	rr := httptest.NewRecorder()
	prompt.RenderError(rr, httptest.NewRequest("GET", "/", nil), http.StatusBadRequest, "Cannot <continue>", "Bad & wrong", nil)
	p := &prompttest.Page{Status: rr.Code, Header: rr.Header(), Body: rr.Body.String()}
	if p.Status != 400 || p.State() != "error" || p.Text("status") != "Bad & wrong" || !strings.Contains(p.Body, "Cannot &lt;continue&gt;") {
		t.Errorf("error page: %d %q %q", p.Status, p.State(), p.Text("status"))
	}
	if !strings.Contains(p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", p.Header)
	}
}

func TestAssets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	f.s.Enroll(t, "amy")
	p := f.start(t, "amy")
	for _, name := range []string{"prompt.css", "prompt.js"} {
		i := strings.Index(p.Body, "/prompt/assets/"+name+"?v=")
		if i < 0 {
			t.Fatalf("page does not load %s", name)
		}
		u := p.Body[i:]
		u = u[:strings.IndexByte(u, '"')]
		a := f.s.Get(t, u)
		if a.Status != 200 || a.Body == "" || !strings.Contains(a.Header.Get("Cache-Control"), "max-age") {
			t.Errorf("%s: %d, Cache-Control %q", u, a.Status, a.Header.Get("Cache-Control"))
		}
	}
	if a := f.s.Get(t, "/prompt/assets/%2e%2e/web.go"); a.Status == 200 {
		t.Errorf("path outside the assets: %d", a.Status)
	}
	if a := f.s.Get(t, "/prompt/assets/missing.js"); a.Status != 404 {
		t.Errorf("unknown asset: %d", a.Status)
	}
}

// A portal state (enrollment only) cannot authenticate.
func TestPortalStateCannotAuthenticate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	qr := portalQR(t, f, "zoe")
	for _, path := range []string{"/prompt/push", "/prompt/passcode", "/prompt/check", "/prompt/choose", "/prompt/enroll", "/prompt/status"} {
		if p := f.s.Action(t, qr, path, "passcode", "123456"); p.Status != http.StatusBadRequest {
			t.Errorf("%s with a portal state: %d", path, p.Status)
		}
	}
}

func portalQR(t *testing.T, f *fixture, user string) *prompttest.Page {
	t.Helper()
	tok, _, err := f.s.Core.EnrollLinkToken(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	qr := f.s.Post(t, "/portal/enroll/"+tok, url.Values{})
	if qr.State() != "enroll-qr" {
		t.Fatalf("portal: state %q\n%s", qr.State(), qr.Body)
	}
	return qr
}

func TestPortal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	in, _ := f.s.Integration(t, store.TypeAuthAPI, store.PolicyEnroll)
	pre, err := f.s.Core.Preauth(context.Background(), auth.PreauthRequest{Request: auth.Request{Integration: in, Username: "Pat"}})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "https://" + f.s.Host + "/portal/enroll/"
	if pre.Result != auth.ResultEnroll || !strings.HasPrefix(pre.EnrollPortalURL, prefix) {
		t.Fatalf("preauth: %+v", pre)
	}
	link := strings.TrimPrefix(pre.EnrollPortalURL, "https://"+f.s.Host)

	// Looking at the link uses nothing.
	for range 2 {
		p := f.s.Get(t, link)
		if p.Status != 200 || p.State() != "portal-start" || !strings.Contains(p.Text("username"), "Account") ||
			!strings.Contains(p.Body, "<strong>Pat</strong>") {
			t.Fatalf("portal page: %d %q\n%s", p.Status, p.State(), p.Body)
		}
		if !strings.Contains(p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("portal CSP %q", p.Header.Get("Content-Security-Policy"))
		}
	}
	if p := f.s.Do(t, "POST", link, url.Values{}, http.Header{"Sec-Fetch-Site": {"cross-site"}}); p.Status != 403 {
		t.Errorf("cross-site portal POST: %d", p.Status)
	}
	qr := f.s.Post(t, link, url.Values{})
	code := qr.Text("activation-code")
	if qr.State() != "enroll-qr" || !strings.HasPrefix(code, "duo://") {
		t.Fatalf("portal start: %q %q", qr.State(), code)
	}
	// The QR code and the link open the Assent Authenticator, the code in
	// the fragment.
	appLink := authenticatorapp.Link(f.s.Host, code)
	if got := attrOf(qr.Body, "app-link", "href"); got != appLink {
		t.Errorf("app link %q, want %q", got, appLink)
	}
	if got, want := attrOf(qr.Body, "qr", "src"), "/frame/qr?value="+url.QueryEscape(appLink); got != want {
		t.Errorf("QR image %q, want %q", got, want)
	}
	// Single use.
	for _, p := range []*prompttest.Page{f.s.Get(t, link), f.s.Post(t, link, url.Values{})} {
		if p.Status != 404 || !strings.Contains(p.Text("status"), "already used") {
			t.Errorf("used link: %d %q", p.Status, p.Text("status"))
		}
	}
	f.s.Activate(t, code)
	done := f.s.Action(t, qr, "/prompt/enrolled")
	if done.State() != "enrolled" || done.Has("passcode") {
		t.Fatalf("after activation: %q\n%s", done.State(), done.Body)
	}
	devices, err := f.s.Core.Devices(context.Background(), "pat")
	if err != nil || len(devices) != 1 {
		t.Fatalf("devices of pat: %v %v", devices, err)
	}
}

func TestPortalLinkRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	ctx := context.Background()
	core := f.s.Core

	// Repeated preauths reuse the link; half-way through its life a new one
	// is minted and both work.
	t1, exp1, err := core.EnrollLinkToken(ctx, "quinn")
	if err != nil {
		t.Fatal(err)
	}
	if t2, _, _ := core.EnrollLinkToken(ctx, "QUINN"); t2 != t1 {
		t.Errorf("second link %q, want the first %q again", t2, t1)
	}
	f.s.Clock.Advance(13 * time.Hour)
	t3, exp3, err := core.EnrollLinkToken(ctx, "quinn")
	if err != nil || t3 == t1 || !exp3.After(exp1) {
		t.Fatalf("link after 13 h: %q (first %q), %v", t3, t1, err)
	}
	for _, tok := range []string{t1, t3} {
		if info, err := core.EnrollLink(ctx, tok); err != nil || info.Username != "quinn" {
			t.Errorf("EnrollLink: %+v %v", info, err)
		}
	}
	// Expired.
	f.s.Clock.Advance(12 * time.Hour)
	if p := f.s.Get(t, "/portal/enroll/"+t1); p.Status != 404 {
		t.Errorf("expired link: %d", p.Status)
	}
	if _, err := core.RedeemEnrollLink(ctx, t1); !errors.Is(err, auth.ErrEnrollLinkInvalid) {
		t.Errorf("RedeemEnrollLink(expired) = %v", err)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", 65), "..%2f"} {
		if _, err := core.EnrollLink(ctx, bad); !errors.Is(err, auth.ErrEnrollLinkInvalid) {
			t.Errorf("EnrollLink(%q) = %v", bad, err)
		}
	}

	// A user who meanwhile has a device keeps the link unused and is told why.
	tok, _, err := core.EnrollLinkToken(ctx, "rita")
	if err != nil {
		t.Fatal(err)
	}
	f.s.Enroll(t, "rita")
	p := f.s.Post(t, "/portal/enroll/"+tok, url.Values{})
	if p.Status != http.StatusConflict || !strings.Contains(p.Text("status"), "already has a way to log in") {
		t.Errorf("enrolled user: %d %q", p.Status, p.Text("status"))
	}
	if _, err := core.EnrollLink(ctx, tok); err != nil {
		t.Errorf("the refused link was used up: %v", err)
	}
	// Disabled users cannot enroll.
	tok, _, _ = core.EnrollLinkToken(ctx, "sam")
	if _, err := core.CreateUser(ctx, "sam"); err != nil {
		t.Fatal(err)
	}
	if _, err := core.SetUserStatus(ctx, "sam", store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := core.RedeemEnrollLink(ctx, tok); err == nil {
		t.Error("a disabled user redeemed a link")
	}
}

// The activation code shown in a prompt lives no longer than the prompt.
func TestEnrollmentExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	p := f.start(t, "tess")
	qr := f.s.Action(t, p, "/prompt/enroll")
	if qr.State() != "enroll-qr" {
		t.Fatalf("state %q", qr.State())
	}
	code := qr.Text("activation-code")
	f.s.Clock.Advance(prompt.DefaultSessionTTL)
	st := f.s.Action(t, qr, "/prompt/enroll_status")
	if st.Status != http.StatusBadRequest || !strings.Contains(st.Body, `"state":"error"`) || !strings.Contains(st.Body, "expired") {
		t.Errorf("enroll_status after the prompt expired: %d %s", st.Status, st.Body)
	}
	if _, err := f.s.TryActivate(code); !errors.Is(err, auth.ErrUnknownActivation) {
		t.Error("the activation code outlived the prompt")
	}
}

// Polls may come as multipart/form-data (FormData) or url-encoded.
func TestMultipartPoll(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	p := f.start(t, "una")
	qr := f.s.Action(t, p, "/prompt/enroll")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("session", qr.Session()); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	f.s.Activate(t, qr.Text("activation-code"))
	req, err := http.NewRequest("POST", f.s.URL("/prompt/enroll_status"), &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := f.s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"state":"success"`) {
		t.Errorf("multipart poll: %d %s", resp.StatusCode, b)
	}
}

// With max_held_requests waiting, the status long poll answers 429 at once
// (the page polls again later) instead of holding one more request, and a
// check shows the waiting page again.
func TestStatusOverHeldRequests(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := prompttest.New(t, prompttest.Options{MaxHeldRequests: 1,
		Finishers: map[string]prompt.Finisher{prompt.KindUniversal: rec}})
	in, _ := s.Integration(t, store.TypeUniversal, store.PolicyEnroll)
	f := &fixture{s: s, rec: rec, in: in}
	d := s.Enroll(t, "alice")
	pushed := s.Action(t, f.start(t, "alice"), "/prompt/push", "device", "auto")
	if pushed.State() != "pushed" {
		t.Fatalf("state %q after push", pushed.State())
	}
	held := make(chan *prompttest.Page, 1)
	go func() { held <- s.Action(t, pushed, "/prompt/status") }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Core.HeldRequests().Open != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first status poll was not held")
		}
		time.Sleep(5 * time.Millisecond)
	}
	busy := s.Action(t, pushed, "/prompt/status")
	if busy.Status != http.StatusTooManyRequests || busy.Header.Get("Retry-After") == "" || !strings.Contains(busy.Body, `"state":"waiting"`) {
		t.Errorf("second status poll: %d Retry-After=%q %s; want 429, a Retry-After and state waiting",
			busy.Status, busy.Header.Get("Retry-After"), busy.Body)
	}
	if again := s.Action(t, pushed, "/prompt/check"); again.Status != http.StatusOK || again.State() != "pushed" {
		t.Errorf("check over the cap: %d state %q; want the waiting page", again.Status, again.State())
	}
	s.Answer(t, d, true)
	// allow, or waiting if the core's 2 s status wait ended first.
	if p := <-held; p.Status != http.StatusOK || !strings.Contains(p.Body, `"state":"allow"`) && !strings.Contains(p.Body, `"state":"waiting"`) {
		t.Errorf("held status poll: %d %s; want 200 with allow or waiting", p.Status, p.Body)
	}
}

// TestStartUsernames: the prompt compares usernames as the Auth API does.
// A compatibility spelling (KELVIN SIGN) is refused with the reason, not
// taken for karl; an ordinary other spelling is karl.
func TestStartUsernames(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyAllow)
	f.s.Enroll(t, "karl")
	p := f.start(t, "\u212Aarl")
	if p.State() != "refused" || !strings.Contains(html.UnescapeString(p.Body), "U+212A") {
		t.Errorf("prompt for \\u212Aarl: state %q, want refused naming U+212A:\n%s", p.State(), p.Body)
	}
	if p = f.start(t, "ＫＡＲＬ"); p.State() != "choose" {
		t.Errorf("prompt for fullwidth KARL: state %q, want karl's devices", p.State())
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	if len(f.rec.outcomes) != 0 {
		t.Errorf("the finisher was called: %+v", f.rec.outcomes)
	}
}

// attrOf is the (unescaped) attribute attr of the element with id.
func attrOf(body, id, attr string) string {
	m := regexp.MustCompile(`<[a-z]+ id="` + regexp.QuoteMeta(id) + `"[^>]* ` + regexp.QuoteMeta(attr) + `="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

package console_test

import (
	"context"
	"github.com/assent-auth/assent/internal/auth"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// browser is one administrator's browser: a cookie jar, redirects not
// followed (the tests look at them).
type browser struct {
	t      *testing.T
	s      *assenttest.Server
	c      *http.Client
	secret []byte
	email  string
	clock  *testutil.Clock
}

func newBrowser(t *testing.T, s *assenttest.Server, clock *testutil.Clock) *browser {
	jar, _ := cookiejar.New(nil)
	c := *s.Client
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, s: s, c: &c, clock: clock}
}

func (b *browser) do(method, path string, form url.Values, headers ...string) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "https://"+b.s.Host+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

var (
	reCSRF   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	reSealed = regexp.MustCompile(`name="sealed" value="([^"]+)"`)
	reNonce  = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	reSecret = regexp.MustCompile(`id="secret">([A-Z2-7]+)<`)
)

func find(t *testing.T, re *regexp.Regexp, html string) string {
	t.Helper()
	m := re.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("%s not found in:\n%s", re, html)
	}
	return m[1]
}

const password = "correct horse battery"

// setUp creates an administrator with the core and finishes its setup
// through the pages, then signs in.
func (b *browser) setUp(email string, role store.AdminRole) {
	t := b.t
	t.Helper()
	_, link, err := b.s.App.Core.CreateAdmin(context.Background(), email, "", role)
	if err != nil {
		t.Fatal(err)
	}
	status, html, h := b.do("GET", "/admin/setup/"+link.Token, nil)
	if status != 200 {
		t.Fatalf("setup page: %d %s", status, html)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, "img-src 'self' data:") {
		t.Errorf("setup page CSP %q", csp)
	}
	// The QR code is an inline PNG the CSP allows (html/template would
	// replace a plain string's data: URL with "#ZgotmplZ").
	if !strings.Contains(html, `src="data:image/png;base64,`) {
		t.Errorf("setup page has no inline QR code image")
	}
	sealed := find(t, reSealed, html)
	b.secret, err = otp.DecodeBase32(find(t, reSecret, html))
	if err != nil {
		t.Fatal(err)
	}
	b.email = email
	// A wrong code keeps the same secret on the page.
	status, html, _ = b.do("POST", "/admin/setup/"+link.Token, url.Values{"sealed": {sealed}, "password": {password}, "code": {"12345"}})
	if status != 400 || find(t, reSealed, html) != sealed {
		t.Errorf("setup with a wrong code: %d, same secret %v", status, find(t, reSealed, html) == sealed)
	}
	status, _, h = b.do("POST", "/admin/setup/"+link.Token, url.Values{"sealed": {sealed}, "password": {password}, "code": {b.code()}})
	if status != 303 || h.Get("Location") != "/admin/login?done=setup" {
		t.Fatalf("setup: %d %s", status, h.Get("Location"))
	}
	b.signIn()
}

func (b *browser) code() string { return otp.TOTP(b.secret, b.clock.Now(), 30, 6, otp.SHA1) }

func (b *browser) signIn() {
	b.t.Helper()
	b.clock.Advance(30 * time.Second) // a new code
	status, html, h := b.do("POST", "/admin/login", url.Values{"email": {b.email}, "password": {password}, "code": {b.code()}})
	if status != 303 || h.Get("Location") != "/admin/" {
		b.t.Fatalf("sign-in: %d %s", status, html)
	}
	if c := h.Get("Set-Cookie"); !strings.Contains(c, "__Host-assent-admin=") || !strings.Contains(c, "Secure") ||
		!strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
		b.t.Errorf("session cookie %q", c)
	}
}

func (b *browser) csrf(path string) string {
	b.t.Helper()
	status, html, _ := b.do("GET", path, nil)
	if status != 200 {
		b.t.Fatalf("GET %s: %d", path, status)
	}
	return find(b.t, reCSRF, html)
}

func start(t *testing.T) (*assenttest.Server, *testutil.Clock) {
	clock := testutil.NewClock(time.Now())
	s := assenttest.Start(t, assenttest.Options{Now: clock.Now})
	return s, clock
}

func TestConsoleOwner(t *testing.T) {
	s, clock := start(t)
	b := newBrowser(t, s, clock)
	b.setUp("owner@example.com", store.RoleOwner)

	status, html, _ := b.do("GET", "/admin/", nil)
	if status != 200 || !strings.Contains(html, `id="n-users">0<`) {
		t.Fatalf("dashboard: %d %s", status, html)
	}
	csrf := find(t, reCSRF, html)

	// Create a user; without the CSRF token, or from another site, refused.
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{"username": {"alice"}}, nil},
		{"wrong token", url.Values{"username": {"alice"}, "csrf": {"x" + csrf}}, nil},
		{"cross-site", url.Values{"username": {"alice"}, "csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"other origin", url.Values{"username": {"alice"}, "csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
	} {
		if status, _, _ := b.do("POST", "/admin/users", tc.form, tc.headers...); status != 403 {
			t.Errorf("create user, %s: %d, want 403", tc.name, status)
		}
	}
	if _, err := s.App.Core.User(context.Background(), "alice"); err == nil {
		t.Fatal("a refused form created the user")
	}
	status, _, h := b.do("POST", "/admin/users", url.Values{"username": {"alice"}, "csrf": {csrf}})
	if status != 303 || !strings.HasPrefix(h.Get("Location"), "/admin/users/DU") {
		t.Fatalf("create user: %d %s", status, h.Get("Location"))
	}
	userPage := strings.TrimSuffix(h.Get("Location"), "?done=created")

	// Search finds it.
	status, html, _ = b.do("GET", "/admin/users?q=ALI", nil)
	if status != 200 || !strings.Contains(html, ">alice</a>") {
		t.Errorf("search: %d", status)
	}
	status, html, _ = b.do("GET", "/admin/users?status=not_enrolled", nil)
	if status != 200 || !strings.Contains(html, ">alice</a>") || !strings.Contains(html, `value="not_enrolled" selected`) {
		t.Errorf("not enrolled filter: %d", status)
	}
	if _, html, _ = b.do("GET", "/admin/users?status=disabled", nil); strings.Contains(html, ">alice</a>") {
		t.Error("the disabled filter lists an active user")
	}
	// The group filter lists the group's members only.
	g, err := s.App.Core.CreateGroup(context.Background(), auth.NewGroup{Name: "vpn"})
	if err != nil {
		t.Fatal(err)
	}
	status, html, _ = b.do("GET", "/admin/users?group="+g.ID, nil)
	if status != 200 || strings.Contains(html, ">alice</a>") || !strings.Contains(html, `value="`+g.ID+`" selected`) {
		t.Errorf("group filter before alice joins: %d, lists alice: %v", status, strings.Contains(html, ">alice</a>"))
	}
	if err := s.App.Core.AddGroupMember(context.Background(), g.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, html, _ = b.do("GET", "/admin/users?group="+g.ID, nil); !strings.Contains(html, ">alice</a>") {
		t.Error("the group filter leaves out a member")
	}
	if status, _, _ = b.do("GET", "/admin/users?group=DG999999999999999999", nil); status != 404 {
		t.Errorf("unknown group: %d, want 404", status)
	}
	// Bypass codes are shown once, on the answer to the POST.
	_, html, _ = b.do("GET", userPage, nil)
	form := url.Values{"count": {"3"}, "uses": {"1"}, "valid": {"24h"}, "csrf": {csrf}, "nonce": {find(t, reNonce, html)}}
	status, html, _ = b.do("POST", userPage+"/bypass", form)
	if status != 200 || strings.Count(html, "<li><code>") != 3 {
		t.Fatalf("issue bypass codes: %d %s", status, html)
	}
	// The same form again (a reload): nothing issued, nothing shown.
	if status, html, _ = b.do("POST", userPage+"/bypass", form); status != 409 || strings.Contains(html, "<li><code>") {
		t.Errorf("the bypass form sent twice: %d", status)
	}
	if codes, _ := s.App.Core.BypassCodes(context.Background(), "alice"); len(codes) != 3 {
		t.Errorf("after the form sent twice alice has %d codes, want 3", len(codes))
	}
	if _, html, _ = b.do("GET", userPage, nil); strings.Contains(html, `id="bypass-codes"`) {
		t.Error("the codes are shown again")
	}

	// Locked out by the core, unlocked from the console.
	ctx := context.Background()
	u, _ := s.App.Core.User(ctx, "alice")
	u.Status = store.StatusLockedOut
	if err := s.App.Store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	status, _, _ = b.do("POST", userPage+"/status", url.Values{"status": {"active"}, "csrf": {csrf}})
	if u, _ := s.App.Core.User(ctx, "alice"); status != 303 || u.Status != store.StatusActive {
		t.Errorf("unlock: %d, status %s", status, u.Status)
	}

	// Delete needs the username and, after the re-authentication window,
	// the password and a new code.
	clock.Advance(6 * time.Minute)
	status, html, _ = b.do("POST", userPage+"/delete", url.Values{"confirm": {"alice"}, "csrf": {csrf}})
	if status != 401 || !strings.Contains(html, "not right") {
		t.Errorf("delete without re-authentication: %d", status)
	}
	clock.Advance(30 * time.Second)
	status, _, h = b.do("POST", userPage+"/delete", url.Values{"confirm": {"alice"}, "password": {password}, "code": {b.code()}, "csrf": {csrf}})
	if status != 303 || h.Get("Location") != "/admin/users?done=deleted" {
		t.Errorf("delete: %d %s", status, h.Get("Location"))
	}
	if _, err := s.App.Core.User(ctx, "alice"); err == nil {
		t.Error("alice is still there")
	}

	// The admin log names the administrator and the address.
	clock.Advance(2 * time.Second)
	rows, err := s.App.Core.AdminLogSince(ctx, time.Unix(0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range rows {
		if r.Action == "user_delete" && r.Actor == "admin:owner@example.com" && r.IP == "127.0.0.1" {
			found = true
		}
	}
	if !found {
		t.Errorf("no user_delete row by admin:owner@example.com from 127.0.0.1 in %+v", rows)
	}

	// Sign-out ends the session on the server.
	b.do("POST", "/admin/logout", url.Values{"csrf": {csrf}})
	if status, _, h := b.do("GET", "/admin/", nil); status != 303 || h.Get("Location") != "/admin/login" {
		t.Errorf("after sign-out: %d %s", status, h.Get("Location"))
	}
}

// TestConsoleRoles: what each role may change is checked on the server,
// whatever the pages show.
func TestConsoleRoles(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	u, err := s.App.Core.CreateUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	ro := newBrowser(t, s, clock)
	ro.setUp("ro@example.com", store.RoleReadOnly)
	page := "/admin/users/" + u.ID

	hc, rc := help.csrf(page), ro.csrf(page)
	for _, tc := range []struct {
		b      *browser
		csrf   string
		path   string
		form   url.Values
		status int
	}{
		{help, hc, "/admin/users", url.Values{"username": {"carol"}}, 403},
		{help, hc, page + "/status", url.Values{"status": {"disabled"}}, 403},
		{help, hc, page + "/delete", url.Values{"confirm": {"bob"}}, 403},
		{help, hc, page + "/bypass", url.Values{"count": {"1"}, "nonce": {"n1"}}, 200},
		{ro, rc, page + "/bypass", url.Values{"count": {"1"}, "nonce": {"n2"}}, 403},
		{ro, rc, "/admin/users", url.Values{"username": {"carol"}}, 403},
		{ro, rc, page + "/status", url.Values{"status": {"active"}}, 403},
	} {
		tc.form.Set("csrf", tc.csrf)
		if status, _, _ := tc.b.do("POST", tc.path, tc.form); status != tc.status {
			t.Errorf("%s POST %s: %d, want %d", tc.b.email, tc.path, status, tc.status)
		}
	}
	if status, _, _ := ro.do("GET", "/admin/users/"+u.ID+"/delete", nil); status != 403 {
		t.Errorf("read-only delete page: %d", status)
	}
	if status, html, _ := ro.do("GET", page, nil); status != 200 || strings.Contains(html, "Issue bypass codes") {
		t.Errorf("read-only sees the user page %d with the bypass form", status)
	}
	if _, err := s.App.Core.User(ctx, "carol"); err == nil {
		t.Error("a refused role created carol")
	}
	if u, _ := s.App.Core.User(ctx, "bob"); u.Status != store.StatusActive {
		t.Errorf("bob is %s", u.Status)
	}
}

func TestConsoleSessionTimeouts(t *testing.T) {
	s, clock := start(t)
	b := newBrowser(t, s, clock)
	b.setUp("owner@example.com", store.RoleOwner)
	for range 4 { // active every 29 minutes: stays signed in
		clock.Advance(29 * time.Minute)
		if status, _, _ := b.do("GET", "/admin/", nil); status != 200 {
			t.Fatalf("active session after %v: %d", clock.Now(), status)
		}
	}
	clock.Advance(30 * time.Minute) // idle
	if status, _, h := b.do("GET", "/admin/", nil); status != 303 || h.Get("Location") != "/admin/login" {
		t.Errorf("idle session: %d %s", status, h.Get("Location"))
	}
	b.signIn()
	for range 25 { // 12 h 30 min of activity: the absolute timeout ends it
		clock.Advance(29 * time.Minute)
		b.do("GET", "/admin/users", nil)
	}
	if status, _, _ := b.do("GET", "/admin/", nil); status != 303 {
		t.Errorf("after the absolute timeout: %d", status)
	}
}

func TestConsoleSignInLimit(t *testing.T) {
	s, clock := start(t)
	b := newBrowser(t, s, clock)
	b.setUp("owner@example.com", store.RoleOwner)
	other := newBrowser(t, s, clock)
	var last int
	for range 11 {
		last, _, _ = other.do("POST", "/admin/login", url.Values{"email": {"owner@example.com"}, "password": {"wrong wrong wrong"}, "code": {"000000"}})
	}
	if last != 429 {
		t.Errorf("the 11th failed sign-in: %d, want 429", last)
	}
}

// TestAdminAPIPathsKeepTheirErrors: the console's /admin/ catch-all does
// not answer the Admin API's unknown paths.
func TestAdminAPIPathsKeepTheirErrors(t *testing.T) {
	s, clock := start(t)
	b := newBrowser(t, s, clock)
	for _, p := range []string{"/admin/v1/nope", "/admin/v2/nope", "/admin/v3/nope"} {
		status, body, h := b.do("GET", p, nil)
		if status != 404 || !strings.Contains(h.Get("Content-Type"), "json") || !strings.Contains(body, `"stat"`) {
			t.Errorf("GET %s: %d %s %s", p, status, h.Get("Content-Type"), body)
		}
	}
	if status, body, _ := b.do("GET", "/admin/nope", nil); status != 404 || !strings.Contains(body, "<html") {
		t.Errorf("GET /admin/nope: %d", status)
	}
	if status, _, h := b.do("GET", "/admin/", nil); status != 303 || h.Get("Location") != "/admin/login" {
		t.Errorf("GET /admin/ signed out: %d %s", status, h.Get("Location"))
	}
}

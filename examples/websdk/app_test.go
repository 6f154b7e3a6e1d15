package main

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/pkg/duoweb"
)

const (
	testIKey = "DIABCDEFGHIJKLMNOPQR"
	testSKey = "abcdefghijabcdefghijabcdefghijabcdefghij"
	testAKey = "application-secret-key-of-at-least-40-chars"
)

// TestEmbeddedDuoWebJS checks the embedded Duo-Web-v2.js is still the
// npm package's file, byte for byte (the browser tests use that file).
func TestEmbeddedDuoWebJS(t *testing.T) {
	npm := filepath.Join("..", "..", "tests", "partners", "node", "node_modules", "@duosecurity", "duo_web")
	want, err := os.ReadFile(filepath.Join(npm, "js", "Duo-Web-v2.js"))
	testutil.Require(t, "npm @duosecurity/duo_web (npm ci in tests/partners/node)", err == nil)
	got, err := static.ReadFile("static/Duo-Web-v2.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("static/Duo-Web-v2.js differs from the npm package's js/Duo-Web-v2.js")
	}
	lic, err := os.ReadFile(filepath.Join(npm, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := static.ReadFile("static/LICENSE.duo_web"); !bytes.Equal(got, lic) {
		t.Error("static/LICENSE.duo_web differs from the npm package's LICENSE")
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, srv: srv, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request as a same-origin browser form would.
func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (int, http.Header, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(out)
}

var sigRequestAttr = regexp.MustCompile(`data-sig-request="([^"]+)"`)

// passwordStep logs in with a password and returns the sig_request of the
// second-step page.
func (b *browser) passwordStep(user, password string) string {
	b.t.Helper()
	code, hdr, _ := b.do("POST", "/login", url.Values{"username": {user}, "password": {password}}, nil)
	if code != http.StatusSeeOther || hdr.Get("Location") != "/duo" {
		b.t.Fatalf("password step: %d %q", code, hdr.Get("Location"))
	}
	code, _, page := b.do("GET", "/duo", nil, nil)
	if code != http.StatusOK {
		b.t.Fatalf("GET /duo: %d", code)
	}
	if !strings.Contains(page, `data-host="assent.example:8443"`) || !strings.Contains(page, `src="/static/Duo-Web-v2.js"`) {
		b.t.Fatalf("second-step page lacks the iframe setup:\n%s", page)
	}
	m := sigRequestAttr.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no data-sig-request in:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

func newTestApp(t *testing.T, clk *clock) *httptest.Server {
	a, err := newApp(config{
		AssentHost: "assent.example:8443", IKey: testIKey, SKey: testSKey, AKey: testAKey,
		Users: map[string]string{"alice": "alice-pw", "bob": "bob-pw"}, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

// authHalf is what Assent's prompt answers for user: the AUTH value signed
// with the integration's secret key.
func authHalf(user string, now time.Time) string {
	return duoweb.Value{Prefix: duoweb.PrefixAuth, Username: user, IKey: testIKey, Expires: now.Add(5 * time.Minute)}.Sign(testSKey)
}

func TestLoginFlow(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_900_000_000, 0)
	appHalf := func(sig string) string { _, app, _ := strings.Cut(sig, ":"); return app }
	tests := []struct {
		name string
		// response builds the sig_response from the page's sig_request.
		response func(sig string, now time.Time) string
		wantIn   bool
		wantText string
	}{
		{"approved", func(sig string, now time.Time) string { return authHalf("alice", now) + ":" + appHalf(sig) }, true, "Welcome, alice"},
		{"another user's answer", func(sig string, now time.Time) string { return authHalf("bob", now) + ":" + appHalf(sig) }, false, "not accepted"},
		{"prompt error", func(sig string, now time.Time) string { return "ERR|The request expired:" + appHalf(sig) }, false, "The request expired"},
		{"tampered", func(sig string, now time.Time) string {
			return strings.Replace(authHalf("alice", now), "AUTH|", "AUTH|x", 1) + ":" + appHalf(sig)
		}, false, "not accepted"},
		{"no answer", func(sig string, now time.Time) string { return "" }, false, "not accepted"},
		{"expired answer", func(sig string, now time.Time) string {
			return authHalf("alice", now.Add(-6*time.Minute)) + ":" + appHalf(sig)
		}, false, "log in again"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{now: start}
			srv := newTestApp(t, clk)
			b := newBrowser(t, srv)
			sig := b.passwordStep("alice", "alice-pw")
			if _, err := duoweb.VerifyValue(testSKey, strings.Split(sig, ":")[0], duoweb.PrefixTX, testIKey, start); err != nil {
				t.Fatalf("the page's TX half: %v", err)
			}
			code, hdr, page := b.do("POST", "/duo", url.Values{"sig_response": {tc.response(sig, clk.Now())}}, nil)
			if tc.wantIn {
				if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
					t.Fatalf("POST /duo: %d %q %s", code, hdr.Get("Location"), page)
				}
				code, _, page = b.do("GET", "/", nil, nil)
			}
			if !strings.Contains(page, tc.wantText) {
				t.Errorf("page lacks %q: %d\n%s", tc.wantText, code, page)
			}
			// Logged in exactly when expected.
			code, hdr, _ = b.do("GET", "/", nil, nil)
			if in := code == http.StatusOK; in != tc.wantIn {
				t.Errorf("GET / after the second step: %d %q, want logged in %v", code, hdr.Get("Location"), tc.wantIn)
			}
		})
	}
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_900_000_000, 0)}
	srv := newTestApp(t, clk)
	b := newBrowser(t, srv)
	for _, tc := range []struct{ user, pw string }{{"alice", "wrong"}, {"nobody", "alice-pw"}, {"", ""}} {
		code, _, page := b.do("POST", "/login", url.Values{"username": {tc.user}, "password": {tc.pw}}, nil)
		if code != http.StatusUnauthorized || !strings.Contains(page, "Wrong username or password") {
			t.Errorf("login %q/%q: %d", tc.user, tc.pw, code)
		}
	}
	// No password step, no second step.
	if code, hdr, _ := b.do("GET", "/duo", nil, nil); code != http.StatusSeeOther || hdr.Get("Location") != "/login" {
		t.Errorf("GET /duo without a session: %d %q", code, hdr.Get("Location"))
	}
	// A cross-site form post is refused before anything else.
	code, _, _ := b.do("POST", "/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if code != http.StatusForbidden {
		t.Errorf("cross-site login: %d", code)
	}
	code, _, _ = b.do("POST", "/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}}, map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"})
	if code != http.StatusForbidden {
		t.Errorf("login from another origin: %d", code)
	}
	// The headers limit where scripts and frames come from.
	_, hdr, _ := b.do("GET", "/login", nil, nil)
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src https://assent.example:8443") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_900_000_000, 0)}
	srv := newTestApp(t, clk)
	b := newBrowser(t, srv)
	sig := b.passwordStep("alice", "alice-pw")
	_, app, _ := strings.Cut(sig, ":")
	if code, _, _ := b.do("POST", "/duo", url.Values{"sig_response": {authHalf("alice", clk.Now()) + ":" + app}}, nil); code != http.StatusSeeOther {
		t.Fatalf("second step: %d", code)
	}
	if code, _, _ := b.do("GET", "/", nil, nil); code != http.StatusOK {
		t.Fatalf("home: %d", code)
	}
	b.do("POST", "/logout", url.Values{}, nil)
	if code, _, _ := b.do("GET", "/", nil, nil); code != http.StatusSeeOther {
		t.Errorf("home after logout: %d", code)
	}
}

func TestParseFlags(t *testing.T) { // not parallel: t.Setenv
	base := []string{"--assent", "localhost:8443", "--ikey", testIKey, "--skey", testSKey}
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"minimal", base, false},
		{"users", append(base, "--user", "carol:pw", "--user", "dave:pw2"), false},
		{"missing skey", []string{"--assent", "localhost:8443", "--ikey", testIKey}, true},
		{"bad user", append(base, "--user", "carol"), true},
		{"pipe in user", append(base, "--user", "a|b:pw"), true},
		{"extra argument", append(base, "extra"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ASSENT_SKEY", "")
			t.Setenv("ASSENT_IKEY", "")
			t.Setenv("ASSENT_HOST", "")
			o, err := parseFlags(tc.args, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (len(o.akey) < duoweb.AKeyMinLen || len(o.users) == 0) {
				t.Errorf("defaults not filled: akey %d chars, %d users", len(o.akey), len(o.users))
			}
		})
	}
	if _, err := newApp(config{AssentHost: "h:1", IKey: "short", SKey: testSKey, AKey: testAKey}); err == nil {
		t.Error("newApp accepted a bad ikey")
	}
}

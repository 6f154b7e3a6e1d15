package console_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// The self-service portal (/my/) through its pages.

var (
	reMethod = regexp.MustCompile(`data-kind="([a-z_]+)" data-id="(D[PHW][A-Z0-9]{18})"`)
	reLogin  = regexp.MustCompile(`data-testid="login" data-log-id="([0-9]+)"`)
	// The options are HTML-escaped JSON in an attribute.
	reChallenge = regexp.MustCompile(`(challenge|id)&#34;:&#34;[A-Za-z0-9_-]+`)
	reState     = regexp.MustCompile(`name="state" value="[^"]*"`)
)

// app gives a user a confirmed authenticator app and returns its secret.
func app(t *testing.T, s *assenttest.Server, user, name string) []byte {
	t.Helper()
	if _, err := s.App.Core.User(context.Background(), user); err != nil {
		s.User(t, user)
	}
	e, err := s.App.Core.AddTOTPApp(context.Background(), user, auth.NewTOTPApp{Name: name, Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

// mySignIn signs in with a code of secret (a new time step first).
func (b *browser) mySignIn(user string, secret []byte) {
	b.t.Helper()
	b.clock.Advance(30 * time.Second)
	code := otp.TOTP(secret, b.clock.Now(), 30, 6, otp.SHA1)
	status, html, h := b.do("POST", "/my/login/passcode", url.Values{"username": {user}, "passcode": {code}})
	if status != 303 || h.Get("Location") != "/my/" {
		b.t.Fatalf("portal sign-in: %d %s", status, html)
	}
	if c := h.Get("Set-Cookie"); !strings.Contains(c, "__Host-assent-my=") || !strings.Contains(c, "Secure") ||
		!strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "Path=/") {
		b.t.Errorf("portal session cookie %q", c)
	}
}

func (b *browser) home() (string, string) {
	b.t.Helper()
	status, html, h := b.do("GET", "/my/", nil)
	if status != 200 {
		b.t.Fatalf("portal home: %d %s", status, html)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		strings.Contains(csp, "unsafe") {
		b.t.Errorf("portal CSP %q", csp)
	}
	return html, find(b.t, reCSRF, html)
}

func methods(html string) map[string]string {
	out := map[string]string{}
	for _, m := range reMethod.FindAllStringSubmatch(html, -1) {
		out[m[2]] = m[1]
	}
	return out
}

// TestPortalNoEnumeration: an unknown user, a user without methods and a
// wrong code read the same; the second step looks the same for all.
func TestPortalNoEnumeration(t *testing.T) {
	s, clock := start(t)
	s.User(t, "nomethods")
	app(t, s, "alice", "Phone")
	b := newBrowser(t, s, clock)

	var pages []string
	for _, user := range []string{"alice", "nobody", "nomethods"} {
		status, html, _ := b.do("POST", "/my/login", url.Values{"username": {user}})
		if status != 200 || !strings.Contains(html, `action="/my/login/passcode"`) || !strings.Contains(html, `action="/my/login/push"`) {
			t.Fatalf("verify page for %s: %d %s", user, status, html)
		}
		// Only the challenge and the sealed state may differ (random).
		html = reChallenge.ReplaceAllString(html, "CHALLENGE")
		html = reState.ReplaceAllString(html, "STATE")
		pages = append(pages, strings.ReplaceAll(html, user, "USER"))
		status, html, _ = b.do("POST", "/my/login/passcode", url.Values{"username": {user}, "passcode": {"123456"}})
		if status != 401 || !strings.Contains(html, "That did not work. Check the username and try again, or use another method.") {
			t.Errorf("wrong code for %s: %d", user, status)
		}
	}
	// The verify pages differ only in the username, the challenge and the
	// sealed state (a decoy security-key ceremony for those without keys).
	if !strings.Contains(pages[0], "data-webauthn-get") {
		t.Error("no security-key option on the verify page")
	}
	if pages[0] != pages[1] || pages[1] != pages[2] {
		t.Errorf("the verify pages differ between a user with methods, an unknown user and a user without:\n%s\n%s\n%s", pages[0], pages[1], pages[2])
	}
}

func TestPortalRateLimit(t *testing.T) {
	s, clock := start(t)
	secret := app(t, s, "alice", "Phone")
	b := newBrowser(t, s, clock)
	// rate_limit_console_failures is 10/10m: the 11th try of the same
	// username is refused before any check, even with the right code.
	for i := range 10 {
		user := "alice"
		if i%2 == 1 {
			user = "ALICE" // the same user however typed
		}
		if status, _, _ := b.do("POST", "/my/login/passcode", url.Values{"username": {user}, "passcode": {"000000"}}); status != 401 && status != 429 {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	code := otp.TOTP(secret, clock.Now(), 30, 6, otp.SHA1)
	status, html, _ := b.do("POST", "/my/login/passcode", url.Values{"username": {"alice"}, "passcode": {code}})
	if status != 429 || !strings.Contains(html, "too many failed attempts") {
		t.Errorf("after 10 failures: %d", status)
	}
	// Per address too: another username from the same address.
	status, _, _ = b.do("POST", "/my/login/passcode", url.Values{"username": {"bob"}, "passcode": {"1"}})
	if status != 429 {
		t.Errorf("another username from the same address: %d, want 429", status)
	}
}

func TestPortalManage(t *testing.T) {
	s, clock := start(t)
	secret := app(t, s, "alice", "Phone app")
	b := newBrowser(t, s, clock)

	// Not signed in: the pages send to the sign-in.
	if status, _, h := b.do("GET", "/my/", nil); status != 303 || h.Get("Location") != "/my/login" {
		t.Fatalf("home without a session: %d %s", status, h.Get("Location"))
	}
	b.mySignIn("alice", secret)
	html, csrf := b.home()
	ms := methods(html)
	if len(ms) != 1 {
		t.Fatalf("methods %v", ms)
	}
	var appID string
	for id := range ms {
		appID = id
	}

	// Every form needs the CSRF token and the same origin.
	for _, path := range []string{"/my/methods/" + appID + "/rename", "/my/methods/" + appID + "/default",
		"/my/methods/" + appID + "/remove", "/my/add/app", "/my/logout"} {
		for _, tc := range []struct {
			name    string
			form    url.Values
			headers []string
		}{
			{"no token", url.Values{"name": {"x"}}, nil},
			{"wrong token", url.Values{"name": {"x"}, "csrf": {"x" + csrf}}, nil},
			{"truncated token", url.Values{"name": {"x"}, "csrf": {csrf[1:]}}, nil},
			{"cross-site", url.Values{"name": {"x"}, "csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"other origin", url.Values{"name": {"x"}, "csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
		} {
			if status, _, _ := b.do("POST", path, tc.form, tc.headers...); status != 403 {
				t.Errorf("POST %s, %s: %d, want 403", path, tc.name, status)
			}
		}
	}
	if html, _ := b.home(); !strings.Contains(html, ">Phone app<") {
		t.Fatal("a refused form changed the method")
	}

	// The last method cannot be removed.
	status, html, _ := b.do("POST", "/my/methods/"+appID+"/remove", url.Values{"csrf": {csrf}})
	if status != 409 || !strings.Contains(html, "only way to log in") {
		t.Errorf("removing the last method: %d", status)
	}
	if ms := methods(b.mustHome()); len(ms) != 1 {
		t.Fatalf("the last method was removed: %v", ms)
	}

	// Rename, add a second app, make it the default.
	if status, _, _ := b.do("POST", "/my/methods/"+appID+"/rename", url.Values{"csrf": {csrf}, "name": {"Old phone"}}); status != 303 {
		t.Errorf("rename: %d", status)
	}
	status, html, _ = b.do("POST", "/my/add/app", url.Values{"csrf": {csrf}, "name": {"Tablet"}})
	if status != 200 || !strings.Contains(html, `src="data:image/png;base64,`) {
		t.Fatalf("add app: %d %s", status, html)
	}
	secret2, err := otp.DecodeBase32(find(t, reSecret, html))
	if err != nil {
		t.Fatal(err)
	}
	token := find(t, regexp.MustCompile(`name="token" value="([^"]+)"`), html)
	if status, _, _ := b.do("POST", "/my/add/app/confirm", url.Values{"csrf": {csrf}, "token": {token}, "code": {"000000"}}); status != 400 {
		t.Errorf("confirm with a wrong code: %d", status)
	}
	code := otp.TOTP(secret2, clock.Now(), 30, 6, otp.SHA1)
	if status, _, h := b.do("POST", "/my/add/app/confirm", url.Values{"csrf": {csrf}, "token": {token}, "code": {code}}); status != 303 || h.Get("Location") != "/my/?done=app" {
		t.Fatalf("confirm: %d", status)
	}
	html = b.mustHome()
	if ms := methods(html); len(ms) != 2 || !strings.Contains(html, ">Old phone<") || !strings.Contains(html, ">Tablet<") {
		t.Fatalf("after adding: %v", ms)
	}
	if status, _, _ := b.do("POST", "/my/methods/"+token+"/default", url.Values{"csrf": {csrf}}); status != 303 {
		t.Errorf("default: %d", status)
	}
	if html = b.mustHome(); strings.Count(html, `data-testid="default-badge"`) != 1 {
		t.Error("no default badge")
	}
	u, _ := s.App.Core.User(context.Background(), "alice")
	if m := s.App.Core.LastMethod(context.Background(), u.ID); m != "passcode" {
		t.Errorf("prompt method of the default %q", m)
	}
	// Another user's method is not found.
	other := app(t, s, "bob", "Bob's")
	_ = other
	bobTokens, _ := s.App.Core.UserTokens(context.Background(), "bob")
	if status, _, _ := b.do("POST", "/my/methods/"+bobTokens[0].ID+"/rename", url.Values{"csrf": {csrf}, "name": {"mine"}}); status != 404 {
		t.Errorf("renaming another user's method: %d", status)
	}

	// Past the re-verification window, removal needs a second factor.
	clock.Advance(6 * time.Minute)
	status, html, _ = b.do("GET", "/my/methods/"+appID+"/remove", nil)
	if status != 200 || !strings.Contains(html, `id="passcode"`) {
		t.Fatalf("remove page after the window: %d", status)
	}
	if status, _, _ := b.do("POST", "/my/methods/"+appID+"/remove", url.Values{"csrf": {csrf}}); status != 401 {
		t.Errorf("remove without re-verification: %d", status)
	}
	if status, _, _ := b.do("POST", "/my/methods/"+appID+"/remove", url.Values{"csrf": {csrf}, "passcode": {"999999"}}); status != 401 {
		t.Errorf("remove with a wrong code: %d", status)
	}
	clock.Advance(30 * time.Second)
	code = otp.TOTP(secret2, clock.Now(), 30, 6, otp.SHA1)
	if status, _, h := b.do("POST", "/my/methods/"+appID+"/remove", url.Values{"csrf": {csrf}, "passcode": {code}}); status != 303 || h.Get("Location") != "/my/?done=removed" {
		t.Fatalf("remove with a code: %d", status)
	}
	if ms := methods(b.mustHome()); len(ms) != 1 {
		t.Errorf("after removing: %v", ms)
	}
	// The administrator log names the user.
	rows, err := s.App.Store.ListAdminLog(context.Background(), time.Unix(0, 0), clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range rows {
		if r.Actor == "user:alice" {
			actions = append(actions, r.Action)
		}
	}
	if strings.Join(actions, ",") != "method_rename,totp_app_create,method_delete" {
		t.Errorf("administrator log of alice's changes: %v", actions)
	}

	// Sign out: the session ends on the server.
	_, csrf = b.home()
	if status, _, h := b.do("POST", "/my/logout", url.Values{"csrf": {csrf}}); status != 303 || h.Get("Location") != "/my/login?done=logout" {
		t.Errorf("logout: %d", status)
	}
	if status, _, _ := b.do("GET", "/my/", nil); status != 303 {
		t.Errorf("home after logout: %d", status)
	}
}

func (b *browser) mustHome() string {
	html, _ := b.home()
	return html
}

func TestPortalReportFraud(t *testing.T) {
	s, clock := start(t)
	secret := app(t, s, "alice", "Phone")
	b := newBrowser(t, s, clock)
	b.mySignIn("alice", secret)
	clock.Advance(3 * time.Second) // the log row is readable once sealed
	html, csrf := b.home()
	id := find(t, reLogin, html)
	if !strings.Contains(html, "This wasn't me") {
		t.Fatalf("no report button: %s", html)
	}
	if status, _, _ := b.do("POST", "/my/logins/"+id+"/report", url.Values{}); status != 403 {
		t.Errorf("report without CSRF: %d", status)
	}
	if status, _, h := b.do("POST", "/my/logins/"+id+"/report", url.Values{"csrf": {csrf}}); status != 303 || h.Get("Location") != "/my/?done=report" {
		t.Fatalf("report: %d", status)
	}
	if status, _, _ := b.do("POST", "/my/logins/"+id+"/report", url.Values{"csrf": {csrf}}); status != 409 {
		t.Errorf("second report: %d, want 409", status)
	}
	if status, _, _ := b.do("POST", "/my/logins/999999/report", url.Values{"csrf": {csrf}}); status != 404 {
		t.Errorf("report of an unknown login: %d", status)
	}
	clock.Advance(3 * time.Second)
	html = b.mustHome()
	if !strings.Contains(html, `data-testid="fraud"`) || !strings.Contains(html, ">Reported<") {
		t.Errorf("the report is not shown")
	}
	u, _ := s.App.Core.User(context.Background(), "alice")
	rows, err := s.App.Core.RecentAuthentications(context.Background(), u.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || rows[0].Result != "fraud" || rows[0].Reason != "user_marked_fraud" || rows[0].TxID != rows[1].TxID {
		t.Errorf("auth log after the report: %+v", rows)
	}
	admin, err := s.App.Store.ListAdminLog(context.Background(), time.Unix(0, 0), clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range admin {
		found = found || (r.Action == "login_reported_fraud" && r.Actor == "user:alice")
	}
	if !found {
		t.Errorf("no administrator-log row for the report: %+v", admin)
	}
}

func TestPortalPushAndEnrollLink(t *testing.T) {
	s, clock := start(t)
	phone := s.ActivatePhone(t, "alice")
	b := newBrowser(t, s, clock)
	ctx := assenttest.Ctx(t)
	answer := assenttest.AnswerNext(ctx, phone, true, 0)
	status, _, h := b.do("POST", "/my/login/push", url.Values{"username": {"alice"}})
	if status != 303 || h.Get("Location") != "/my/login/push" {
		t.Fatalf("push: %d", status)
	}
	if a := assenttest.Received(t, answer); a.Err != nil {
		t.Fatal(a.Err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, html, h := b.do("GET", "/my/login/push", nil)
		if status == 303 && h.Get("Location") == "/my/" {
			break
		}
		if status != 200 || !strings.Contains(html, `http-equiv="refresh"`) || time.Now().After(deadline) {
			t.Fatalf("push wait: %d %s", status, html)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ms := methods(b.mustHome()); len(ms) != 1 {
		t.Errorf("methods after a push sign-in: %v", ms)
	}

	// A push to an unknown user waits the same way and then fails.
	b2 := newBrowser(t, s, clock)
	if status, _, _ := b2.do("POST", "/my/login/push", url.Values{"username": {"nobody"}}); status != 303 {
		t.Fatalf("push to nobody: %d", status)
	}
	if status, html, _ := b2.do("GET", "/my/login/push", nil); status != 200 || !strings.Contains(html, `http-equiv="refresh"`) {
		t.Errorf("push wait for nobody: %d", status)
	}
	clock.Advance(2 * time.Minute)
	if status, html, _ := b2.do("GET", "/my/login/push", nil); status != 401 || !strings.Contains(html, "That did not work") {
		t.Errorf("push wait for nobody after the wait: %d", status)
	}

	// An enrollment link signs a user without methods in, once.
	token, _, err := s.App.Core.EnrollLinkToken(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	b3 := newBrowser(t, s, clock)
	if status, html, _ := b3.do("GET", "/my/enroll/"+token, nil); status != 200 || !strings.Contains(html, "carol") {
		t.Fatalf("enroll page: %d", status)
	}
	if status, _, h := b3.do("POST", "/my/enroll/"+token, url.Values{}); status != 303 || h.Get("Location") != "/my/" {
		t.Fatalf("enroll: %d", status)
	}
	if html := b3.mustHome(); !strings.Contains(html, "no way to log in yet") {
		t.Error("no hint for a user without methods")
	}
	if status, _, _ := newBrowser(t, s, clock).do("POST", "/my/enroll/"+token, url.Values{}); status != 404 {
		t.Errorf("a used link: %d", status)
	}
	_ = store.StatusActive
}

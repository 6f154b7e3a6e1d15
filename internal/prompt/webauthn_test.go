package prompt_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/webauthnrp/webauthntest"
)

// Security keys through the prompt's HTTP actions, answered by the
// software authenticator (the browser's part is in
// internal/e2e/browser_webauthn_test.go).

func newKeyFixture(t *testing.T) (*fixture, *webauthntest.Authenticator) {
	t.Helper()
	rec := &recorder{}
	s := prompttest.New(t, prompttest.Options{WebAuthn: true, Finishers: map[string]prompt.Finisher{prompt.KindUniversal: rec}})
	in, _ := s.Integration(t, store.TypeUniversal, store.PolicyEnroll)
	return &fixture{s: s, rec: rec, in: in}, webauthntest.New("https://" + s.WebAuthnHost)
}

// formAttr is the unescaped value of attr on the form with id.
func formAttr(t *testing.T, p *prompttest.Page, id, attr string) []byte {
	t.Helper()
	m := regexp.MustCompile(`<form id="` + id + `"[^>]* ` + attr + `="([^"]*)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no %s on #%s (state %q)\n%s", attr, id, p.State(), p.Body)
	}
	return []byte(html.UnescapeString(m[1]))
}

// create answers a webauthn-create page with key.
func create(t *testing.T, f *fixture, p *prompttest.Page, key *webauthntest.Authenticator) *prompttest.Page {
	t.Helper()
	if p.State() != "webauthn-create" {
		t.Fatalf("state %q, want webauthn-create\n%s", p.State(), p.Body)
	}
	resp, err := key.Create(formAttr(t, p, "webauthn-create-form", "data-webauthn-create"))
	if err != nil {
		t.Fatal(err)
	}
	return f.s.Action(t, p, "/prompt/webauthn/registered", "response", string(resp))
}

// touch answers a choose page's login ceremony with key.
func touch(t *testing.T, f *fixture, p *prompttest.Page, key *webauthntest.Authenticator) (*prompttest.Page, string) {
	t.Helper()
	resp, err := key.Get(formAttr(t, p, "webauthn-form", "data-webauthn-get"))
	if err != nil {
		t.Fatal(err)
	}
	return f.s.Action(t, p, "/prompt/webauthn", "response", string(resp)), string(resp)
}

func TestWebAuthnPortalAndLogin(t *testing.T) {
	t.Parallel()
	f, key := newKeyFixture(t)
	ctx := context.Background()
	tok, _, err := f.s.Core.EnrollLinkToken(ctx, "kim")
	if err != nil {
		t.Fatal(err)
	}
	start := f.s.Get(t, "/portal/enroll/"+tok)
	if !start.Has("webauthn-register-button") {
		t.Fatalf("the portal offers no security key\n%s", start.Body)
	}
	page := f.s.Post(t, "/portal/enroll/"+tok, url.Values{"kind": {"webauthn"}, "name": {"Desk key"}})
	// A portal state adds a key but cannot authenticate.
	for _, path := range []string{"/prompt/webauthn", "/prompt/webauthn/register"} {
		if p := f.s.Action(t, page, path, "response", "{}"); p.Status != http.StatusBadRequest {
			t.Errorf("%s with a portal state: %d", path, p.Status)
		}
	}
	done := create(t, f, page, key)
	if done.State() != "enrolled" || !strings.Contains(done.Text("status"), "security key") {
		t.Fatalf("after registration: %q %q", done.State(), done.Text("status"))
	}
	// The link was used.
	if p := f.s.Post(t, "/portal/enroll/"+tok, url.Values{"kind": {"webauthn"}}); p.Status != http.StatusNotFound {
		t.Errorf("used link: %d", p.Status)
	}
	u, err := f.s.Core.User(ctx, "kim")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := f.s.Core.WebAuthnCredentials(ctx, u.ID)
	if len(keys) != 1 || keys[0].Name != "Desk key" {
		t.Fatalf("keys %+v", keys)
	}

	// The prompt offers the key; a touch finishes the login.
	choose := f.start(t, "kim")
	if choose.State() != "choose" || !choose.Has("webauthn-button") || choose.Has("push-button") {
		t.Fatalf("prompt: %q\n%s", choose.State(), choose.Body)
	}
	// Nothing from the key: the choices again, with the reason.
	if p := f.s.Action(t, choose, "/prompt/webauthn", "response", ""); p.State() != "choose" || !strings.Contains(p.Text("status"), "no answer") {
		t.Errorf("empty answer: %q %q", p.State(), p.Text("status"))
	}
	fin, resp := touch(t, f, choose, key)
	if fin.Status != http.StatusFound {
		t.Fatalf("login: %d %q\n%s", fin.Status, fin.State(), fin.Body)
	}
	_, o := f.rec.last(t)
	if o.Factor != prompt.FactorWebAuthn || o.DeviceID != keys[0].ID || o.DeviceName != "Desk key" || o.UserID != u.ID || o.TxID == "" {
		t.Errorf("outcome %+v", o)
	}
	// The same page and answer again: refused (single-use challenge).
	again := f.s.Action(t, choose, "/prompt/webauthn", "response", resp)
	if again.Status == http.StatusFound || again.State() != "choose" || !strings.Contains(again.Text("status"), "already used") {
		t.Errorf("replayed answer: %d %q %q", again.Status, again.State(), again.Text("status"))
	}
	// The key is now the method used last: first and preselected.
	next := f.start(t, "kim")
	if !regexp.MustCompile(`id="webauthn-button"[^>]*data-preselected`).MatchString(next.Body) {
		t.Errorf("the key is not preselected\n%s", next.Body)
	}
	// A user with a key cannot add a device without logging in.
	if p := f.s.Action(t, next, "/prompt/enroll"); p.State() == "enroll-qr" {
		t.Error("a user with a security key got an activation code without logging in")
	}
	if p := f.s.Action(t, next, "/prompt/webauthn/register", "name", "x"); p.State() == "webauthn-create" {
		t.Error("a user with a security key could add another without logging in")
	}

	// A key that is not registered is refused and logged.
	fin, _ = touch(t, f, next, webauthntest.New("https://"+f.s.WebAuthnHost))
	if fin.Status == http.StatusFound || !strings.Contains(fin.Text("status"), "not accepted") {
		t.Errorf("unregistered key: %d %q", fin.Status, fin.Text("status"))
	}
	logs, _ := f.s.Store.ListAuthLog(ctx, store.AuthLogFilter{UserID: u.ID, Limit: 1})
	if len(logs) != 1 || logs[0].Factor != auth.FactorWebAuthn || logs[0].Result != auth.ResultDeny {
		t.Errorf("auth log %+v", logs)
	}
}

func TestWebAuthnInlineEnrollment(t *testing.T) {
	t.Parallel()
	f, key := newKeyFixture(t)
	intro := f.start(t, "lee")
	if intro.State() != "enroll-intro" || !intro.Has("webauthn-register-button") {
		t.Fatalf("intro: %q\n%s", intro.State(), intro.Body)
	}
	if p := f.s.Action(t, intro, "/prompt/webauthn/register", "name", "bad\x01name"); p.State() != "enroll-intro" || !strings.Contains(p.Text("status"), "name") {
		t.Errorf("bad name: %q %q", p.State(), p.Text("status"))
	}
	page := f.s.Action(t, intro, "/prompt/webauthn/register", "name", "")
	if !strings.Contains(page.Body, auth.DefaultWebAuthnName) {
		t.Errorf("the default name is not shown")
	}
	// Registration answers are checked: another origin's is refused.
	evil := webauthntest.New("https://evil.example")
	if p := create(t, f, page, evil); p.State() != "enroll-intro" || !strings.Contains(p.Text("status"), "not accepted") {
		t.Errorf("registration from another origin: %q %q", p.State(), p.Text("status"))
	}
	choose := create(t, f, page, key)
	if choose.State() != "choose" || !strings.Contains(choose.Text("status"), "Security key added") {
		t.Fatalf("after inline registration: %q %q", choose.State(), choose.Text("status"))
	}
	if fin, _ := touch(t, f, choose, key); fin.Status != http.StatusFound {
		t.Errorf("login after inline registration: %d %q", fin.Status, fin.Text("status"))
	}
}

package universal

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/store"
)

// flow is the Universal Prompt on the shared prompt stack: authorize runs
// here (the stack's server has no /oauth routes), the prompt's actions on
// the stack's TLS server, whose prompt calls this API's Finish.
type flow struct {
	s          *prompttest.Stack
	api        *API
	ikey, skey string
}

func newFlow(t *testing.T, policy store.NewUserPolicy) *flow {
	t.Helper()
	api := &API{} // filled in below: the stack needs the Finisher first
	s := prompttest.New(t, prompttest.Options{Finishers: map[string]prompt.Finisher{prompt.KindUniversal: api}})
	*api = API{Core: s.Core, Tokens: s.Store, Hasher: s.Box, Prompt: s.Prompt, Hosts: []string{s.Host}, Now: s.Clock.Now,
		Logger: slog.New(slog.DiscardHandler)}
	in, skey := s.Integration(t, store.TypeUniversal, policy)
	return &flow{s: s, api: api, ikey: in.IKey, skey: skey}
}

// authorize sends the browser to /oauth/v1/authorize with a request JWT
// made as duo_universal_nodejs makes it, edited by edit.
func (fl *flow) authorize(t *testing.T, username string, edit func(jwt.MapClaims)) *prompttest.Page {
	t.Helper()
	c := jwt.MapClaims{
		"response_type": "code", "scope": "openid", "exp": fl.s.Clock.Now().Add(5 * time.Minute).Unix(),
		"client_id": fl.ikey, "redirect_uri": testRedirect, "state": "state-" + strings.Repeat("x", 30),
		"duo_uname": username, "iss": fl.ikey, "aud": "https://" + fl.s.Host, "use_duo_code_attribute": true,
	}
	if edit != nil {
		edit(c)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {fl.ikey}, "request": {sign(t, c, fl.skey)},
		"redirect_uri": {testRedirect}, "scope": {"openid"}}
	r := httptest.NewRequest(http.MethodGet, "https://"+fl.s.Host+PathAuthorize+"?"+q.Encode(), nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")
	rec := httptest.NewRecorder()
	fl.api.authorize(rec, r)
	body, _ := io.ReadAll(rec.Result().Body)
	return &prompttest.Page{Status: rec.Code, Header: rec.Result().Header, Body: string(body)}
}

// redirected checks that page sends the browser to the application with a
// code and the state, and returns the query.
func (fl *flow) redirected(t *testing.T, page *prompttest.Page, param string) url.Values {
	t.Helper()
	if page.Status != http.StatusFound {
		t.Fatalf("want a redirect, got %d (state %q, message %q)", page.Status, page.State(), page.Text("message"))
	}
	loc, err := url.Parse(page.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != testRedirect {
		t.Fatalf("Location %q", page.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get(param) == "" || q.Get("state") != "state-"+strings.Repeat("x", 30) {
		t.Fatalf("Location %q lacks %s or the state", loc, param)
	}
	if page.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", page.Header.Get("Referrer-Policy"))
	}
	return q
}

// exchange trades code at the token endpoint as an SDK does and returns
// the verified id_token claims.
func (fl *flow) exchange(t *testing.T, code string) (jwt.MapClaims, map[string]any) {
	t.Helper()
	now := fl.s.Clock.Now()
	p := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "client_id": {fl.ikey},
		"client_assertion_type": {clientAssertionType},
		"client_assertion": {sign(t, jwt.MapClaims{"iss": fl.ikey, "sub": fl.ikey, "aud": "https://" + fl.s.Host + PathToken,
			"jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}, fl.skey)},
	}
	r := httptest.NewRequest(http.MethodPost, "https://"+fl.s.Host+PathToken, strings.NewReader(p.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	fl.api.token(rec, r)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS512"}), jwt.WithIssuer("https://"+fl.s.Host+PathToken),
		jwt.WithAudience(fl.ikey), jwt.WithTimeFunc(fl.s.Clock.Now)).
		ParseWithClaims(body["id_token"].(string), claims, func(*jwt.Token) (any, error) { return []byte(fl.skey), nil })
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	ctx, _ := claims["auth_context"].(map[string]any)
	return claims, ctx
}

func TestFlowPush(t *testing.T) {
	t.Parallel()
	fl := newFlow(t, "")
	dev := fl.s.Enroll(t, "alice")
	// Duo names the user's groups in auth_context.user.groups.
	for _, name := range []string{"vpn-users", "staff"} {
		if _, err := fl.s.Core.CreateGroup(context.Background(), auth.NewGroup{Name: name}); err != nil {
			t.Fatal(err)
		}
		if err := fl.s.Core.AddGroupMember(context.Background(), name, "alice"); err != nil {
			t.Fatal(err)
		}
	}

	page := fl.authorize(t, "alice", func(c jwt.MapClaims) { c["nonce"] = "nonce-for-alice" })
	if page.Status != 200 || page.State() != "choose" {
		t.Fatalf("authorize: %d state %q: %s", page.Status, page.State(), page.Body)
	}
	pushed := fl.s.Action(t, page, "/prompt/push", "device", dev.ID)
	if pushed.State() != "pushed" {
		t.Fatalf("push: state %q", pushed.State())
	}
	txid := fl.s.Answer(t, dev, true)
	// The browser's check finishes the login; its User-Agent describes the
	// access device.
	check := fl.s.Do(t, http.MethodPost, "/prompt/check", url.Values{"session": {pushed.Session()}}, http.Header{
		"Origin": {"https://" + fl.s.Host}, "Sec-Fetch-Site": {"same-origin"},
		"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"}})
	q := fl.redirected(t, check, "duo_code")
	if q.Has("code") {
		t.Errorf("use_duo_code_attribute true, but code= is there too: %v", q)
	}

	claims, ctx := fl.exchange(t, q.Get("duo_code"))
	if claims["preferred_username"] != "alice" || claims["nonce"] != "nonce-for-alice" {
		t.Errorf("claims %v", claims)
	}
	if ctx["factor"] != "duo_push" || ctx["reason"] != "user_approved" || ctx["txid"] != txid {
		t.Errorf("auth_context %v", ctx)
	}
	dev2, _ := ctx["auth_device"].(map[string]any)
	access, _ := ctx["access_device"].(map[string]any)
	if dev2["name"] != "Test phone" || access["browser"] != "Firefox" || access["ip"] == "" {
		t.Errorf("auth_context devices %v / %v", dev2, access)
	}
	user, _ := ctx["user"].(map[string]any)
	if u, err := fl.s.Core.User(context.Background(), "alice"); err != nil || user["key"] != u.ID {
		t.Errorf("user %v (%v)", user, err)
	}
	if g, _ := user["groups"].([]any); len(g) != 2 || g[0] != "staff" || g[1] != "vpn-users" {
		t.Errorf("user groups %v", user["groups"])
	}
}

func TestFlowPasscodeAndDeny(t *testing.T) {
	t.Parallel()
	fl := newFlow(t, "")
	dev := fl.s.Enroll(t, "bob")

	// A denied push: back to the choices, no redirect.
	page := fl.authorize(t, "bob", func(c jwt.MapClaims) { c["use_duo_code_attribute"] = false })
	pushed := fl.s.Action(t, page, "/prompt/push", "device", dev.ID)
	fl.s.Answer(t, dev, false)
	denied := fl.s.Action(t, pushed, "/prompt/check")
	if denied.Status != 200 || denied.State() != "choose" || denied.Header.Get("Location") != "" {
		t.Fatalf("denied push: %d state %q", denied.Status, denied.State())
	}

	// Then a passcode: redirect with code= (use_duo_code_attribute false).
	q := fl.redirected(t, fl.s.Action(t, denied, "/prompt/passcode", "passcode", dev.Passcode(t)), "code")
	if q.Has("duo_code") {
		t.Errorf("use_duo_code_attribute false, but duo_code= is there: %v", q)
	}
	claims, ctx := fl.exchange(t, q.Get("code"))
	if claims["preferred_username"] != "bob" || ctx["factor"] != "passcode" || ctx["reason"] != "valid_passcode" {
		t.Errorf("claims %v", claims)
	}
	if _, ok := claims["nonce"]; ok {
		t.Errorf("nonce without one asked for: %v", claims["nonce"])
	}
}

func TestFlowAllowUnenrolled(t *testing.T) {
	t.Parallel()
	fl := newFlow(t, store.PolicyAllow)
	// The core lets the unknown user in at once: authorize redirects.
	q := fl.redirected(t, fl.authorize(t, "newcomer", func(c jwt.MapClaims) { delete(c, "use_duo_code_attribute") }), "duo_code")
	if q.Get("code") != q.Get("duo_code") {
		t.Errorf("without use_duo_code_attribute both parameters carry the code: %v", q)
	}
	claims, ctx := fl.exchange(t, q.Get("duo_code"))
	res, _ := claims["auth_result"].(map[string]any)
	if claims["preferred_username"] != "newcomer" || res["result"] != "allow" || ctx["reason"] != "allow_unenrolled_user" {
		t.Errorf("claims %v", claims)
	}
}

func TestFlowErrorPages(t *testing.T) {
	t.Parallel()
	fl := newFlow(t, "")
	fl.s.Enroll(t, "carol")
	for name, edit := range map[string]func(jwt.MapClaims){
		"expired":      func(c jwt.MapClaims) { c["exp"] = fl.s.Clock.Now().Add(-time.Hour).Unix() },
		"http":         func(c jwt.MapClaims) { c["redirect_uri"] = "http://app.example.test/cb" },
		"short state":  func(c jwt.MapClaims) { c["state"] = "short" },
		"other server": func(c jwt.MapClaims) { c["aud"] = "https://api-123.duosecurity.com" },
	} {
		page := fl.authorize(t, "carol", edit)
		if page.Status != http.StatusBadRequest || page.State() != "error" || page.Header.Get("Location") != "" {
			t.Errorf("%s: %d state %q location %q", name, page.Status, page.State(), page.Header.Get("Location"))
		}
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", name, csp)
		}
	}
	// A refused user sees the refusal on the prompt, and no redirect.
	if _, err := fl.s.Core.SetUserStatus(context.Background(), "carol", store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	page := fl.authorize(t, "carol", nil)
	if page.State() != "refused" || page.Header.Get("Location") != "" {
		t.Errorf("disabled user: %d state %q", page.Status, page.State())
	}
	// Wrong integration type for the client_id.
	other, oskey := fl.s.Integration(t, store.TypeWebSDK, "")
	q := url.Values{"response_type": {"code"}, "client_id": {other.IKey},
		"request": {sign(t, jwt.MapClaims{"exp": fl.s.Clock.Now().Add(time.Minute).Unix()}, oskey)}}
	rec := httptest.NewRecorder()
	fl.api.authorize(rec, httptest.NewRequest(http.MethodGet, PathAuthorize+"?"+q.Encode(), nil))
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
		t.Errorf("websdk client_id: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	fl.api.authorize(rec, httptest.NewRequest(http.MethodPost, PathAuthorize, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST authorize: %d", rec.Code)
	}
}

// TestFlowDomainUsername: with the integration's username normalization
// "simple", duo_uname EXAMPLE\dora (or an alias) reaches dora, and the
// id_token's preferred_username is the name the application sent, which
// the SDKs compare with it; auth_context.user.key is dora's.
func TestFlowDomainUsername(t *testing.T) {
	t.Parallel()
	fl := newFlow(t, store.PolicyDeny)
	ctx := context.Background()
	simple := "simple"
	if _, err := fl.s.Core.UpdateIntegration(ctx, fl.ikey, auth.IntegrationUpdate{UsernameNormalization: &simple}); err != nil {
		t.Fatal(err)
	}
	dev := fl.s.Enroll(t, "dora")
	if _, err := fl.s.Core.AddUserAlias(ctx, "dora", "d.explorer"); err != nil {
		t.Fatal(err)
	}
	dora, err := fl.s.Core.User(ctx, "dora")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`EXAMPLE\dora`, "DORA@example.com", "d.explorer@example.com"} {
		page := fl.authorize(t, name, nil)
		if page.Status != 200 || page.State() != "choose" {
			t.Fatalf("%s: authorize: %d state %q", name, page.Status, page.State())
		}
		q := fl.redirected(t, fl.s.Action(t, page, "/prompt/passcode", "passcode", dev.Passcode(t)), "duo_code")
		claims, actx := fl.exchange(t, q.Get("duo_code"))
		user, _ := actx["user"].(map[string]any)
		if claims["preferred_username"] != name || user["key"] != dora.ID {
			t.Errorf("%s: preferred_username %v, user %v; want the name sent and dora's key", name, claims["preferred_username"], user)
		}
	}
}

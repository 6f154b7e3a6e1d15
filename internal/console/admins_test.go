package console_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/webauthnrp/webauthntest"
)

var (
	reSetupLink = regexp.MustCompile(`id="setup-link">https://[^/]+(/admin/setup/[A-Za-z0-9_-]+)<`)
	reCreate    = regexp.MustCompile(`data-webauthn-create="([^"]+)"`)
	reGet       = regexp.MustCompile(`data-webauthn-get="([^"]+)"`)
	reKeySealed = regexp.MustCompile(`(?s)data-webauthn-(?:create|get)="[^"]+".*?name="sealed" value="([^"]+)"`)
)

// adminLogged reports whether the administrator log has a row of action
// on object by actor from 127.0.0.1.
func adminLogged(t *testing.T, b *browser, action, object, actor string) bool {
	t.Helper()
	b.clock.Advance(2 * time.Second) // rows are readable once their second has passed
	rows, err := b.s.App.Core.AdminLogSince(context.Background(), time.Unix(0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Action == action && r.Object == object && r.Actor == actor && r.IP == "127.0.0.1" {
			return true
		}
	}
	return false
}

// setUpWithKey finishes a setup link with a software security key and
// signs in with it.
func (b *browser) setUpWithKey(link, email string) *webauthntest.Authenticator {
	t := b.t
	t.Helper()
	key := webauthntest.New("https://" + b.s.Host)
	status, page, _ := b.do("GET", link, nil)
	if status != 200 {
		t.Fatalf("setup page: %d %s", status, page)
	}
	resp, err := key.Create([]byte(html.UnescapeString(find(t, reCreate, page))))
	if err != nil {
		t.Fatal(err)
	}
	sealed := find(t, reKeySealed, page)
	// A short password is refused; the page comes back.
	status, _, _ = b.do("POST", link, url.Values{"method": {"webauthn"}, "password": {"short"}, "sealed": {sealed}, "response": {string(resp)}})
	if status != 400 {
		t.Errorf("key setup with a short password: %d, want 400", status)
	}
	// A damaged answer is refused.
	status, _, _ = b.do("POST", link, url.Values{"method": {"webauthn"}, "password": {password}, "sealed": {sealed}, "response": {`{"id":"x"}`}})
	if status != 400 {
		t.Errorf("key setup with a damaged answer: %d, want 400", status)
	}
	status, _, h := b.do("POST", link, url.Values{"method": {"webauthn"}, "password": {password}, "sealed": {sealed},
		"response": {string(resp)}, "name": {"Test key"}})
	if status != 303 || h.Get("Location") != "/admin/login?done=setup" {
		t.Fatalf("key setup: %d %s", status, h.Get("Location"))
	}
	b.email = email
	b.signInWithKey(key)
	return key
}

func (b *browser) signInWithKey(key *webauthntest.Authenticator) {
	t := b.t
	t.Helper()
	status, page, _ := b.do("POST", "/admin/login", url.Values{"email": {b.email}, "password": {password}, "code": {""}})
	if status != 200 || !strings.Contains(page, `id="login-key-form"`) {
		t.Fatalf("sign-in without a code: %d %s", status, page)
	}
	resp, err := key.Get([]byte(html.UnescapeString(find(t, reGet, page))))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"method": {"webauthn"}, "email": {b.email}, "sealed": {find(t, reKeySealed, page)}, "response": {string(resp)}}
	status, _, h := b.do("POST", "/admin/login", form)
	if status != 303 || h.Get("Location") != "/admin/" {
		t.Fatalf("sign-in with the key: %d %s", status, h.Get("Location"))
	}
	// The same answer again (a replay) is refused.
	if status, _, _ := b.do("POST", "/admin/login", form); status != 401 {
		t.Errorf("replayed key sign-in: %d, want 401", status)
	}
}

// TestConsoleAdministrators: an owner set up with a security key creates
// administrators from the page, changes a role, resets and deletes one;
// the last owner stays; every change is in the administrator log.
func TestConsoleAdministrators(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	_, link, err := s.App.Core.CreateAdmin(ctx, "owner@example.com", "", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	owner := newBrowser(t, s, clock)
	key := owner.setUpWithKey("/admin/setup/"+link.Token, "owner@example.com")
	if a, _ := s.App.Core.Admin(ctx, "owner@example.com"); a.HasTOTP() || a.Keys != 1 || a.Pending() {
		t.Fatalf("owner after key setup: TOTP %v, keys %d, pending %v", a.HasTOTP(), a.Keys, a.Pending())
	}

	status, page, _ := owner.do("GET", "/admin/admins", nil)
	if status != 200 || !strings.Contains(page, `data-admin="owner@example.com"`) || !strings.Contains(page, "1 security key") {
		t.Fatalf("administrators page: %d %s", status, page)
	}
	csrf := find(t, reCSRF, page)
	// Without the CSRF token: refused, nothing created.
	if status, _, _ := owner.do("POST", "/admin/admins", url.Values{"email": {"x@example.com"}, "role": {"owner"}}); status != 403 {
		t.Errorf("create admin without CSRF token: %d", status)
	}
	if _, err := s.App.Core.Admin(ctx, "x@example.com"); err == nil {
		t.Error("a form without CSRF token created an administrator")
	}
	// A bad role or e-mail is refused.
	for _, f := range []url.Values{{"email": {"x@example.com"}, "role": {"god"}}, {"email": {"not an address"}, "role": {"owner"}}} {
		f.Set("csrf", csrf)
		if status, _, _ := owner.do("POST", "/admin/admins", f); status != 400 {
			t.Errorf("create admin %v: %d, want 400", f, status)
		}
	}
	// The setup link is shown once, on the answer to the POST.
	status, page, _ = owner.do("POST", "/admin/admins", url.Values{"email": {"help@example.com"}, "role": {"help_desk"}, "csrf": {csrf}})
	if status != 200 {
		t.Fatalf("create admin: %d %s", status, page)
	}
	helpLink := find(t, reSetupLink, page)
	if _, page, _ = owner.do("GET", "/admin/admins", nil); strings.Contains(page, `id="setup-link"`) || !strings.Contains(page, "setup pending") {
		t.Error("the administrators page shows the setup link again, or not the pending setup")
	}
	if !adminLogged(t, owner, "admin_create", "help@example.com", "admin:owner@example.com") {
		t.Error("no admin_create row by the owner")
	}
	help := newBrowser(t, s, clock)
	help.setUpFromLink(helpLink, "help@example.com")

	// The help desk is refused the owner's page and its actions.
	hcsrf := help.csrf("/admin/account")
	helpAdmin, _ := s.App.Core.Admin(ctx, "help@example.com")
	ownerAdmin, _ := s.App.Core.Admin(ctx, "owner@example.com")
	if status, _, _ := help.do("GET", "/admin/admins", nil); status != 403 {
		t.Errorf("help desk GET /admin/admins: %d", status)
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/admin/admins", url.Values{"email": {"y@example.com"}, "role": {"owner"}}},
		{"/admin/admins/" + helpAdmin.ID + "/role", url.Values{"role": {"owner"}}},
		{"/admin/admins/" + ownerAdmin.ID + "/reset", nil},
		{"/admin/admins/" + ownerAdmin.ID + "/delete", nil},
	} {
		if tc.form == nil {
			tc.form = url.Values{}
		}
		tc.form.Set("csrf", hcsrf)
		if status, _, _ := help.do("POST", tc.path, tc.form); status != 403 {
			t.Errorf("help desk POST %s: %d, want 403", tc.path, status)
		}
	}
	if a, _ := s.App.Core.Admin(ctx, "help@example.com"); a.Role != store.RoleHelpDesk {
		t.Errorf("help desk made itself %s", a.Role)
	}
	if _, err := s.App.Core.Admin(ctx, "y@example.com"); err == nil {
		t.Error("the help desk created an administrator")
	}
	if a, _ := s.App.Core.Admin(ctx, "owner@example.com"); a.Pending() {
		t.Error("the help desk reset the owner")
	}

	// The last owner is never demoted nor deleted.
	if status, _, _ := owner.do("POST", "/admin/admins/"+ownerAdmin.ID+"/role", url.Values{"role": {"read_only"}, "csrf": {csrf}}); status != 409 {
		t.Errorf("demote the last owner: %d", status)
	}
	if status, _, _ := owner.do("POST", "/admin/admins/"+ownerAdmin.ID+"/delete", url.Values{"csrf": {csrf}}); status != 409 {
		t.Errorf("delete the last owner (yourself): %d", status)
	}
	if a, err := s.App.Core.Admin(ctx, "owner@example.com"); err != nil || a.Role != store.RoleOwner {
		t.Errorf("the last owner: %v %s", err, a.Role)
	}
	// Change a role.
	status, _, h := owner.do("POST", "/admin/admins/"+helpAdmin.ID+"/role", url.Values{"role": {"administrator"}, "csrf": {csrf}})
	if a, _ := s.App.Core.Admin(ctx, helpAdmin.ID); status != 303 || h.Get("Location") != "/admin/admins?done=role" || a.Role != store.RoleAdministrator {
		t.Errorf("change role: %d %s, role %s", status, h.Get("Location"), a.Role)
	}
	if !adminLogged(t, owner, "admin_update", "help@example.com", "admin:owner@example.com") {
		t.Error("no admin_update row by the owner")
	}

	// Reset and delete need a recent re-authentication.
	clock.Advance(6 * time.Minute)
	// A key-only administrator is sent to re-authenticate with the key
	// before deleting a user (the page has no code field for them).
	u, err := s.App.Core.CreateUser(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if status, page, _ := owner.do("GET", "/admin/users/"+u.ID+"/delete", nil); status != 200 ||
		!strings.Contains(page, `href="/admin/reauth?next=%2fadmin%2fusers%2f`+u.ID+`%2fdelete"`) || strings.Contains(page, `id="code"`) {
		t.Errorf("delete page of a key-only administrator: %d %s", status, page)
	}
	status, _, h = owner.do("POST", "/admin/admins/"+helpAdmin.ID+"/reset", url.Values{"csrf": {csrf}})
	if status != 303 || h.Get("Location") != "/admin/reauth?next=/admin/admins" {
		t.Fatalf("reset without re-authentication: %d %s", status, h.Get("Location"))
	}
	if a, _ := s.App.Core.Admin(ctx, helpAdmin.ID); a.Pending() {
		t.Fatal("reset without re-authentication happened")
	}
	owner.reauthWithKey(key, "/admin/admins")
	status, page, _ = owner.do("POST", "/admin/admins/"+helpAdmin.ID+"/reset", url.Values{"csrf": {csrf}})
	if status != 200 || !reSetupLink.MatchString(page) {
		t.Fatalf("reset: %d %s", status, page)
	}
	if status, _, _ := help.do("GET", "/admin/", nil); status != 303 {
		t.Errorf("the reset administrator is still signed in: %d", status)
	}
	status, _, h = owner.do("POST", "/admin/admins/"+helpAdmin.ID+"/delete", url.Values{"csrf": {csrf}})
	if _, err := s.App.Core.Admin(ctx, helpAdmin.ID); status != 303 || h.Get("Location") != "/admin/admins?done=deleted" || err == nil {
		t.Errorf("delete: %d %s, %v", status, h.Get("Location"), err)
	}
	for _, action := range []string{"admin_reset", "admin_delete"} {
		if !adminLogged(t, owner, action, "help@example.com", "admin:owner@example.com") {
			t.Errorf("no %s row by the owner", action)
		}
	}
	// Paths of unknown shape are not found.
	if status, _, _ := owner.do("POST", "/admin/admins/nope/delete", url.Values{"csrf": {csrf}}); status != 404 {
		t.Errorf("delete admin nope: %d", status)
	}
}

// setUpFromLink finishes a setup link with the authenticator app.
func (b *browser) setUpFromLink(link, email string) {
	t := b.t
	t.Helper()
	status, page, _ := b.do("GET", link, nil)
	if status != 200 {
		t.Fatalf("setup page: %d", status)
	}
	var err error
	if b.secret, err = otp.DecodeBase32(find(t, reSecret, page)); err != nil {
		t.Fatal(err)
	}
	status, _, _ = b.do("POST", link, url.Values{"sealed": {find(t, reSealed, page)}, "password": {password}, "code": {b.code()}})
	if status != 303 {
		t.Fatalf("setup: %d", status)
	}
	b.email = email
	b.signIn()
}

func (b *browser) reauthWithKey(key *webauthntest.Authenticator, next string) {
	t := b.t
	t.Helper()
	status, page, _ := b.do("GET", "/admin/reauth?next="+next, nil)
	if status != 200 {
		t.Fatalf("re-authentication page: %d", status)
	}
	resp, err := key.Get([]byte(html.UnescapeString(find(t, reGet, page))))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf": {find(t, reCSRF, page)}, "next": {next}, "sealed": {find(t, reKeySealed, page)}, "response": {string(resp)}}
	// A wrong password with a good key is refused.
	form.Set("password", "wrong wrong wrong")
	if status, _, _ := b.do("POST", "/admin/reauth", form); status != 401 {
		t.Errorf("re-authentication with a wrong password: %d", status)
	}
	// The key's answer cannot be used twice either; a new ceremony.
	status, page, _ = b.do("GET", "/admin/reauth?next="+next, nil)
	if status != 200 {
		t.Fatalf("re-authentication page: %d", status)
	}
	if resp, err = key.Get([]byte(html.UnescapeString(find(t, reGet, page)))); err != nil {
		t.Fatal(err)
	}
	form.Set("sealed", find(t, reKeySealed, page))
	form.Set("response", string(resp))
	form.Set("password", password)
	status, _, h := b.do("POST", "/admin/reauth", form)
	if status != 303 || h.Get("Location") != next {
		t.Fatalf("re-authentication with the key: %d %s", status, h.Get("Location"))
	}
}

// TestConsoleAccount: an administrator manages their own factors (never
// the last), password and sessions.
func TestConsoleAccount(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	b := newBrowser(t, s, clock)
	b.setUp("ro@example.com", store.RoleReadOnly) // read-only: the account is every role's
	other := newBrowser(t, s, clock)
	other.email, other.secret = b.email, b.secret
	other.signIn()

	status, page, _ := b.do("GET", "/admin/account", nil)
	if status != 200 || !strings.Contains(page, "Authenticator app") || !strings.Contains(page, `id="add-key-form"`) {
		t.Fatalf("account page: %d %s", status, page)
	}
	csrf := find(t, reCSRF, page)
	// The only factor cannot be removed.
	if status, _, _ := b.do("POST", "/admin/account/totp/remove", url.Values{"csrf": {csrf}}); status != 409 {
		t.Errorf("remove the only factor: %d, want 409", status)
	}
	// Add a security key.
	key := webauthntest.New("https://" + s.Host)
	resp, err := key.Create([]byte(html.UnescapeString(find(t, reCreate, page))))
	if err != nil {
		t.Fatal(err)
	}
	status, _, h := b.do("POST", "/admin/account/keys", url.Values{"csrf": {csrf}, "sealed": {find(t, reKeySealed, page)}, "response": {string(resp)}, "name": {"Blue key"}})
	if status != 303 || h.Get("Location") != "/admin/account?done=key" {
		t.Fatalf("add key: %d %s", status, h.Get("Location"))
	}
	keys, _ := s.App.Core.AdminKeys(ctx, mustAdmin(t, s, b.email).ID)
	if len(keys) != 1 || keys[0].Name != "Blue key" {
		t.Fatalf("keys after adding: %+v", keys)
	}
	// Now the app can go; then the key is the last factor.
	if status, _, _ := b.do("POST", "/admin/account/totp/remove", url.Values{"csrf": {csrf}}); status != 303 {
		t.Errorf("remove the app: %d", status)
	}
	if status, _, _ := b.do("POST", "/admin/account/keys/"+keys[0].ID+"/remove", url.Values{"csrf": {csrf}}); status != 409 {
		t.Errorf("remove the last key: %d, want 409", status)
	}
	if a := mustAdmin(t, s, b.email); a.HasTOTP() || a.Keys != 1 {
		t.Errorf("after removing the app: TOTP %v, keys %d", a.HasTOTP(), a.Keys)
	}
	// Someone else's key ID is not found.
	if status, _, _ := b.do("POST", "/admin/account/keys/DWAAAAAAAAAAAAAAAAAA/remove", url.Values{"csrf": {csrf}}); status != 404 {
		t.Errorf("remove an unknown key: %d", status)
	}
	// Add the app again: a wrong code keeps the secret, a right one saves it.
	_, page, _ = b.do("GET", "/admin/account", nil)
	sealed := find(t, reSealedAccount, page)
	if b.secret, err = otp.DecodeBase32(find(t, reSecret, page)); err != nil {
		t.Fatal(err)
	}
	if status, page, _ := b.do("POST", "/admin/account/totp", url.Values{"csrf": {csrf}, "sealed": {sealed}, "code": {"000000"}}); status != 400 || find(t, reSealedAccount, page) == "" {
		t.Errorf("add app with a wrong code: %d", status)
	}
	clock.Advance(30 * time.Second)
	if status, _, _ := b.do("POST", "/admin/account/totp", url.Values{"csrf": {csrf}, "sealed": {sealed}, "code": {b.code()}}); status != 303 {
		t.Errorf("add app: %d", status)
	}
	if a := mustAdmin(t, s, b.email); !a.HasTOTP() {
		t.Error("the app was not saved")
	}

	// Changes need a recent re-authentication.
	clock.Advance(6 * time.Minute)
	status, _, h = b.do("POST", "/admin/account/password", url.Values{"csrf": {csrf}, "new_password": {"a new long password"}, "new_password2": {"a new long password"}})
	if status != 303 || h.Get("Location") != "/admin/reauth?next=/admin/account" {
		t.Errorf("change password without re-authentication: %d %s", status, h.Get("Location"))
	}
	if _, page, _ = b.do("GET", "/admin/account", nil); strings.Contains(page, `id="add-key-form"`) {
		t.Error("the account page offers changes without re-authentication")
	}
	// Re-authenticate with the app: a wrong code, then a right one.
	rc := find(t, reCSRF, page)
	if status, _, _ := b.do("POST", "/admin/reauth", url.Values{"csrf": {rc}, "next": {"/admin/account"}, "password": {password}, "code": {"000000"}}); status != 401 {
		t.Errorf("re-authentication with a wrong code: %d", status)
	}
	clock.Advance(30 * time.Second)
	status, _, h = b.do("POST", "/admin/reauth", url.Values{"csrf": {rc}, "next": {"https://evil.example/"}, "password": {password}, "code": {b.code()}})
	if status != 303 || h.Get("Location") != "/admin/" {
		t.Errorf("re-authentication with a foreign next: %d %s", status, h.Get("Location"))
	}
	if status, page, _ := b.do("POST", "/admin/account/password", url.Values{"csrf": {csrf}, "new_password": {"a new long password"}, "new_password2": {"another"}}); status != 400 || !strings.Contains(page, "differ") {
		t.Errorf("change password, two different: %d", status)
	}
	if status, _, _ := b.do("POST", "/admin/account/password", url.Values{"csrf": {csrf}, "new_password": {"short"}, "new_password2": {"short"}}); status != 400 {
		t.Errorf("change password, too short: %d", status)
	}
	status, _, _ = b.do("POST", "/admin/account/password", url.Values{"csrf": {csrf}, "new_password": {"a new long password"}, "new_password2": {"a new long password"}})
	if status != 303 {
		t.Errorf("change password: %d", status)
	}
	if !adminLogged(t, b, "admin_password_change", "ro@example.com", "admin:ro@example.com") {
		t.Error("no admin_password_change row")
	}

	// Sign out the other session; this one stays.
	if status, _, _ := other.do("GET", "/admin/", nil); status != 200 {
		t.Fatalf("other session: %d", status)
	}
	if status, _, _ := b.do("POST", "/admin/account/sessions", url.Values{"csrf": {csrf}}); status != 303 {
		t.Errorf("end other sessions: %d", status)
	}
	if status, _, _ := other.do("GET", "/admin/", nil); status != 303 {
		t.Errorf("the other session survived: %d", status)
	}
	if status, _, _ := b.do("GET", "/admin/", nil); status != 200 {
		t.Errorf("this session ended: %d", status)
	}
	// The new password signs in.
	clock.Advance(30 * time.Second)
	status, _, _ = other.do("POST", "/admin/login", url.Values{"email": {b.email}, "password": {"a new long password"}, "code": {b.code()}})
	if status != 303 {
		t.Errorf("sign-in with the new password: %d", status)
	}
}

var reSealedAccount = regexp.MustCompile(`action="/admin/account/totp"[^>]*>\s*<input type="hidden" name="csrf" value="[^"]+">\s*<input type="hidden" name="sealed" value="([^"]+)"`)

func mustAdmin(t *testing.T, s *assenttest.Server, email string) store.Admin {
	t.Helper()
	a, err := s.App.Core.Admin(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

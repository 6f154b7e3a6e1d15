package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBrowserConsoleAdmins drives the console's administrators in headless
// Chromium: the first owner sets up with a security key (Chromium's
// virtual WebAuthn authenticator, no authenticator app) and signs in with
// it; on the Administrators page creates a help-desk and a read-only
// administrator, each shown its one-time setup link; the help desk sets up
// with an authenticator app (codes from Debian's oathtool) and is refused
// the Administrators page and a direct POST to it; the read-only
// administrator sets up with a security key and is refused every change
// (locking a user, deleting one, issuing bypass codes: 403, nothing
// changed), and a form posted without its CSRF token is refused. The owner
// re-authenticates with the key. npm axe-core runs on every new page
// (setup with a key, the key sign-in step, Administrators, Account,
// re-authentication) at desktop and phone sizes; screenshots go to
// test-artifacts/browser/TestBrowserConsoleAdmins-*/.
func TestBrowserConsoleAdmins(t *testing.T) {
	oath, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	node, dir := browserPartners(t)
	clock := testutil.NewClock(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now})
	ikey, skey := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey) // serves the hooks
	ctx := testCtx(t)
	const (
		ownerEmail, helpEmail, roEmail = "owner@example.com", "help@example.com", "ro@example.com"
		password                       = "a long console password"
	)
	_, link, err := ts.App.Core.CreateAdmin(ctx, ownerEmail, "Olive Owner", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := ts.App.Core.CreateUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ts.Host

	totp := func(key string) (string, error) {
		key = strings.TrimSpace(key)
		if key == "" {
			return "", fmt.Errorf("no key read from the page")
		}
		now := "@" + strconv.FormatInt(clock.Now().Unix(), 10)
		out, err := exec.Command(oath, "--totp", "-b", "--now="+now, key).Output()
		if err != nil {
			return "", fmt.Errorf("oathtool --totp -b --now=%s KEY: %w", now, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	current := rp.hookValue(totp)
	next := rp.hookValue(func(key string) (string, error) {
		clock.Set(clock.Now().Add(30 * time.Second))
		return totp(key)
	})
	spki := append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...)
	var pages []string
	axe := func(name string) []step {
		pages = append(pages, name)
		return []step{{"do": "axe", "as": "axe-" + name}}
	}
	var steps []step
	add := func(s ...step) { steps = append(steps, s...) }
	// keySetup finishes the setup page open in the browser with the
	// virtual key; keySignIn signs in with it (no code).
	keySetup := func(shot string) {
		add(step{"do": "fill", "sel": "#password-key", "value": password},
			step{"do": "fill", "sel": "#key-name", "value": "Virtual key"},
			step{"do": "click", "sel": "#setup-key-button"},
			step{"do": "waitURL", "pattern": "/admin/login\\?done=setup$", "shot": shot})
	}
	keySignIn := func(email, shot string, check bool) {
		add(step{"do": "goto", "url": base + "/admin/login"},
			step{"do": "waitVisible", "sel": "#email"},
			step{"do": "fill", "sel": "#email", "value": email},
			step{"do": "fill", "sel": "#password", "value": password},
			step{"do": "click", "sel": "main button[type=submit]"},
			step{"do": "waitVisible", "sel": "#login-key-button", "shot": shot})
		if check {
			add(axe("login-key")...)
		}
		add(step{"do": "click", "sel": "#login-key-button"},
			step{"do": "waitVisible", "sel": "#n-users"})
	}
	signOut := []step{{"do": "click", "sel": "header form button[type=submit]"}, {"do": "waitVisible", "sel": "#email"}}
	// post sends a form from the page's script context (as a forged or
	// replayed request would), with or without the page's CSRF token, and
	// returns the statuses joined by commas.
	post := func(as string, withCSRF bool, paths ...string) step {
		var calls []string
		for _, p := range paths {
			path, body, _ := strings.Cut(p, "?")
			csrf := ""
			if withCSRF {
				csrf = "b.append('csrf', document.querySelector('input[name=csrf]').value);"
			}
			calls = append(calls, fmt.Sprintf("(() => { const b = new URLSearchParams(%q); %s return fetch(%q, {method: 'POST', body: b, redirect: 'manual'}).then(r => String(r.status)); })()",
				body, csrf, path))
		}
		return step{"do": "eval", "expr": "Promise.all([" + strings.Join(calls, ", ") + "]).then(a => a.join(','))", "as": as}
	}

	// The first owner: a security key, no app.
	add(step{"do": "webauthn.add", "as": "key"},
		step{"do": "goto", "url": base + "/admin/setup/" + link.Token},
		step{"do": "waitVisible", "sel": "#setup-key-button", "shot": "setup-with-key"})
	add(axe("setup")...)
	keySetup("setup-done")
	keySignIn(ownerEmail, "login-key", true)
	// Two administrators from the page; each setup link is shown once.
	add(step{"do": "goto", "url": base + "/admin/admins"},
		step{"do": "waitVisible", "sel": "#new-email", "shot": "admins"})
	add(axe("admins")...)
	for _, a := range []struct{ email, role, as string }{{helpEmail, "help_desk", "helpLink"}, {roEmail, "read_only", "roLink"}} {
		add(step{"do": "fill", "sel": "#new-email", "value": a.email},
			step{"do": "eval", "expr": "document.querySelector('#new-role').value = '" + a.role + "'", "as": "role-" + a.role},
			step{"do": "click", "sel": "form[action='/admin/admins'] button[type=submit]"},
			step{"do": "waitVisible", "sel": "#setup-link", "shot": "admin-created-" + a.role},
			step{"do": "read", "sel": "#setup-link", "as": a.as})
	}
	add(axe("admin-created")...)
	add(step{"do": "goto", "url": base + "/admin/account"},
		step{"do": "waitVisible", "sel": "#factors", "shot": "account"})
	add(axe("account")...)
	// Re-authentication with the key.
	add(step{"do": "goto", "url": base + "/admin/reauth?next=/admin/account"},
		step{"do": "waitVisible", "sel": "#reauth-key-button", "shot": "reauth"})
	add(axe("reauth")...)
	add(step{"do": "fill", "sel": "#password-key", "value": password},
		step{"do": "click", "sel": "#reauth-key-button"},
		step{"do": "waitURL", "pattern": "/admin/account$"})
	add(signOut...)

	// The help desk: an authenticator app; refused the owner's page.
	add(step{"do": "goto", "urlFrom": "helpLink"},
		step{"do": "waitVisible", "sel": "#secret"},
		step{"do": "read", "sel": "#secret", "as": "helpKey"},
		step{"do": "fill", "sel": "#password", "value": password},
		step{"do": "hook", "url": current, "from": "helpKey", "as": "helpSetupCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "helpSetupCode"},
		step{"do": "click", "sel": "main form:not(#setup-key-form) button[type=submit]"},
		step{"do": "waitURL", "pattern": "/admin/login\\?done=setup$"},
		step{"do": "fill", "sel": "#email", "value": helpEmail},
		step{"do": "fill", "sel": "#password", "value": password},
		step{"do": "hook", "url": next, "from": "helpKey", "as": "helpCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "helpCode"},
		step{"do": "click", "sel": "main button[type=submit]"},
		step{"do": "waitVisible", "sel": "#n-users"},
		step{"do": "goto", "url": base + "/admin/admins"},
		step{"do": "waitText", "text": "Your role does not allow this", "shot": "helpdesk-refused"},
		post("helpPosts", true, "/admin/admins?email=eve%40example.com&role=owner"))
	add(signOut...)

	// The read-only administrator: a security key; refused every change.
	add(step{"do": "goto", "urlFrom": "roLink"},
		step{"do": "waitVisible", "sel": "#setup-key-button"})
	keySetup("ro-setup-done")
	keySignIn(roEmail, "ro-login-key", false)
	add(step{"do": "goto", "url": base + "/admin/users/" + bob.ID},
		step{"do": "waitVisible", "sel": "#user-status", "shot": "readonly-user"},
		post("roPosts", true,
			"/admin/users/"+bob.ID+"/status?status=locked+out",
			"/admin/users/"+bob.ID+"/status?status=disabled",
			"/admin/users/"+bob.ID+"/delete?confirm=bob",
			"/admin/users/"+bob.ID+"/bypass?count=1&nonce=n1",
			"/admin/admins?email=eve%40example.com&role=owner"),
		// Every role may end its other sessions, but not without the token.
		post("noCSRF", false, "/admin/account/sessions"),
		post("withCSRF", true, "/admin/account/sessions"))

	res := runBrowser(t, node, dir, scenario{Name: "TestBrowserConsoleAdmins-desktop", SPKI: spki,
		Viewport: map[string]int{"width": 1280, "height": 900}, TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "desktop")
	ctx = testCtx(t) // the browser took a while
	for name, want := range map[string]string{"helpPosts": "403", "roPosts": "403,403,403,403,403", "noCSRF": "403", "withCSRF": "0"} {
		// 0: an opaque redirect (303), the request was accepted.
		if got := res.str(t, name); got != want {
			t.Errorf("%s: statuses %q, want %q", name, got, want)
		}
	}
	// Nothing the refused requests asked for happened.
	if u, err := ts.App.Core.User(ctx, "bob"); err != nil || u.Status != store.StatusActive {
		t.Errorf("bob after the read-only administrator's posts: %v %s", err, u.Status)
	}
	if codes, _ := ts.App.Core.BypassCodes(ctx, "bob"); len(codes) != 0 {
		t.Errorf("bob has %d bypass codes", len(codes))
	}
	if _, err := ts.App.Core.Admin(ctx, "eve@example.com"); err == nil {
		t.Error("a refused post created an administrator")
	}
	for email, want := range map[string]struct {
		role store.AdminRole
		totp bool
		keys int
	}{
		ownerEmail: {store.RoleOwner, false, 1},
		helpEmail:  {store.RoleHelpDesk, true, 0},
		roEmail:    {store.RoleReadOnly, false, 1},
	} {
		a, err := ts.App.Core.Admin(ctx, email)
		if err != nil || a.Role != want.role || a.HasTOTP() != want.totp || a.Keys != want.keys || a.LastLogin.IsZero() {
			t.Errorf("%s: %v role %s, app %v, keys %d, last sign-in %v", email, err, a.Role, a.HasTOTP(), a.Keys, a.LastLogin)
		}
	}
	// The administrator log: who, from where, with which factor.
	clock.Advance(2 * time.Second)
	rows, err := ts.App.Core.AdminLogSince(ctx, time.Unix(0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"admin_create " + helpEmail + " admin:owner@example.com":  false,
		"admin_create " + roEmail + " admin:owner@example.com":    false,
		"admin_login " + ownerEmail + " webauthn":                 false,
		"admin_login " + helpEmail + " totp":                      false,
		"admin_reauth " + ownerEmail + " webauthn":                false,
		"admin_sessions_end " + roEmail + " admin:ro@example.com": false,
	}
	for _, r := range rows {
		for _, k := range []string{r.Action + " " + r.Object + " " + r.Actor, r.Action + " " + r.Object + " " + factorOf(r.Description)} {
			if _, ok := want[k]; ok && (strings.HasPrefix(r.Actor, "admin:") || r.Action == "admin_login" || r.Action == "admin_reauth") {
				want[k] = true
			}
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("no administrator-log row %q in %+v", k, rows)
		}
	}

	// A phone: a second owner sets up with a key; the new pages at a
	// phone's size.
	ctx = testCtx(t)
	_, link2, err := ts.App.Core.CreateAdmin(ctx, "owner2@example.com", "", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	pages, steps = nil, nil
	add(step{"do": "webauthn.add", "as": "key"},
		step{"do": "goto", "url": base + "/admin/setup/" + link2.Token},
		step{"do": "waitVisible", "sel": "#setup-key-button", "shot": "setup-with-key"})
	add(axe("setup")...)
	keySetup("setup-done")
	keySignIn("owner2@example.com", "login-key", true)
	add(step{"do": "goto", "url": base + "/admin/admins"}, step{"do": "waitVisible", "sel": "#admins", "shot": "admins"})
	add(axe("admins")...)
	add(step{"do": "goto", "url": base + "/admin/account"}, step{"do": "waitVisible", "sel": "#factors", "shot": "account"})
	add(axe("account")...)
	add(step{"do": "goto", "url": base + "/admin/reauth?next=/admin/admins"}, step{"do": "waitVisible", "sel": "#reauth-key-button", "shot": "reauth"})
	add(axe("reauth")...)
	res = runBrowser(t, node, dir, scenario{Name: "TestBrowserConsoleAdmins-phone", SPKI: spki, Device: "Pixel 7", TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "phone")
}

// factorOf reads the "factor" of an administrator-log description.
func factorOf(desc string) string {
	_, rest, ok := strings.Cut(desc, `"factor":"`)
	if !ok {
		return ""
	}
	f, _, _ := strings.Cut(rest, `"`)
	return f
}

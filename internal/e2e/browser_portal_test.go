package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBrowserPortal drives the users' self-service portal (/my/) in
// headless Chromium as a person would: a user who has an authenticator
// app signs in with a code from it (Debian's oathtool), adds a security
// key (Chromium's virtual authenticator), renames it, makes it the
// default, removes the app (past the re-verification window, so the key
// verifies first), signs out, signs in again with the key, and reports
// that login as "this wasn't me"; the auth log then holds the report.
// Then at a phone's size: sign-in with a bypass code, the methods, adding
// an app, the removal page. npm axe-core runs on every page and the test
// fails on any serious or critical violation. Screenshots of each page,
// at desktop and phone widths, go to test-artifacts/browser/TestBrowserPortal-*/.
func TestBrowserPortal(t *testing.T) {
	oath, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	node, dir := browserPartners(t)
	clock := testutil.NewClock(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now})
	ikey, skey := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey) // serves the hooks
	ctx := testCtx(t)
	const user = "alice"
	if _, err := ts.App.Core.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	app, err := ts.App.Core.AddTOTPApp(ctx, user, auth.NewTOTPApp{Name: "Phone authenticator", Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ts.Host

	// next moves the server one time step on and gives that step's code
	// from oathtool (the hooks run outside the test goroutine: errors, no
	// t.Fatal).
	next := rp.hookValue(func(key string) (string, error) {
		clock.Set(clock.Now().Add(30 * time.Second))
		now := "@" + strconv.FormatInt(clock.Now().Unix(), 10)
		out, err := exec.Command(oath, "--totp", "-b", "--now="+now, strings.TrimSpace(key)).Output()
		if err != nil {
			return "", fmt.Errorf("oathtool --totp -b --now=%s KEY: %w", now, err)
		}
		return strings.TrimSpace(string(out)), nil
	})
	// later moves the server's clock: past the re-verification window,
	// or past the auth log's seal (rows are readable once their second
	// is sealed).
	later := func(d time.Duration) string {
		return rp.hook(func(string) error { clock.Set(clock.Now().Add(d)); return nil })
	}
	spki := append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...)
	var pages []string
	axe := func(name string) []step {
		pages = append(pages, name)
		return []step{{"do": "axe", "as": "axe-" + name}}
	}
	var steps []step
	add := func(s ...step) { steps = append(steps, s...) }
	username := func(shot string) {
		add(step{"do": "goto", "url": base + "/my/login"},
			step{"do": "waitVisible", "sel": "#username"},
			step{"do": "fill", "sel": "#username", "value": user},
			step{"do": "press", "sel": "#username", "key": "Enter"},
			step{"do": "waitVisible", "sel": "#passcode", "shot": shot})
	}
	const (
		keyItem = "li[data-kind=webauthn]"
		appItem = "li[data-kind=totp_app]"
	)

	add(step{"do": "eval", "expr": "'" + app.SecretBase32 + "'", "as": "key"},
		step{"do": "goto", "url": base + "/my/login"},
		step{"do": "waitVisible", "sel": "#username", "shot": "login"})
	add(axe("login")...)
	username("verify")
	add(axe("verify")...)
	add(step{"do": "hook", "url": next, "from": "key", "as": "code1"},
		step{"do": "fill", "sel": "#passcode", "valueFrom": "code1"},
		step{"do": "click", "sel": "#passcode-button"},
		step{"do": "waitVisible", "sel": appItem, "shot": "home"})
	add(axe("home")...)
	// A security key.
	add(step{"do": "webauthn.add", "as": "authenticator"},
		step{"do": "fill", "sel": "#key-name", "value": "YubiKey 5"},
		step{"do": "click", "sel": "form[action='/my/add/key'] button"},
		step{"do": "waitVisible", "sel": "#webauthn-create-button", "shot": "add-key"})
	add(axe("add-key")...)
	add(step{"do": "click", "sel": "#webauthn-create-button"},
		step{"do": "waitText", "text": "Your security key was added."},
		step{"do": "waitVisible", "sel": keyItem})
	// Rename it, make it the default.
	add(step{"do": "fill", "sel": keyItem + " input[name=name]", "value": "Work key"},
		step{"do": "click", "sel": keyItem + " form.rename button"},
		step{"do": "waitText", "text": "The name was changed."},
		step{"do": "click", "sel": keyItem + " button:has-text('Make default')"},
		step{"do": "waitVisible", "sel": keyItem + " [data-testid=default-badge]", "shot": "methods"},
		step{"do": "read", "sel": keyItem + " [data-testid=method-name]", "as": "keyName"})
	add(axe("methods")...)
	// Remove the app, six minutes later: the key verifies first.
	add(step{"do": "hook", "url": later(6 * time.Minute), "from": "key"},
		step{"do": "click", "sel": appItem + " a:has-text('Remove')"},
		step{"do": "waitVisible", "sel": "#webauthn-button", "shot": "remove-verify"})
	add(axe("remove")...)
	add(step{"do": "click", "sel": "#webauthn-button"},
		step{"do": "waitText", "text": "The method was removed."},
		step{"do": "eval", "expr": "document.querySelectorAll('li[data-kind]').length", "as": "methodsLeft"})
	// Sign out; sign in with the key.
	add(step{"do": "click", "sel": "header button:has-text('Sign out')"},
		step{"do": "waitText", "text": "You are signed out."})
	username("verify-key")
	add(step{"do": "click", "sel": "#webauthn-button"},
		step{"do": "waitVisible", "sel": keyItem},
		// The sign-in is readable in the log once its second is sealed.
		step{"do": "hook", "url": later(2 * time.Second), "from": "key"},
		step{"do": "goto", "url": base + "/my/"},
		step{"do": "waitVisible", "sel": "[data-testid=login]:first-child button:has-text('This wasn')", "shot": "logins"},
		step{"do": "read", "sel": "[data-testid=login]:first-child", "attr": "data-log-id", "as": "reportedID"},
		step{"do": "click", "sel": "[data-testid=login]:first-child button:has-text('This wasn')"},
		step{"do": "waitText", "text": "The login was reported"},
		step{"do": "hook", "url": later(2 * time.Second), "from": "key"},
		step{"do": "goto", "url": base + "/my/"},
		step{"do": "waitVisible", "sel": "[data-testid=fraud]", "shot": "reported"})
	add(axe("reported")...)

	res := runBrowser(t, node, dir, scenario{Name: "TestBrowserPortal-desktop", SPKI: spki,
		Viewport: map[string]int{"width": 1280, "height": 900}, TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "desktop")
	ctx = testCtx(t)
	if got := res.str(t, "keyName"); got != "Work key" {
		t.Errorf("the key's name reads %q", got)
	}
	if got := string(res.Outputs["methodsLeft"]); got != "1" {
		t.Errorf("methods left after removing the app: %s", got)
	}

	u, err := ts.App.Core.User(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ts.App.Core.WebAuthnCredentials(ctx, u.ID)
	if err != nil || len(keys) != 1 || keys[0].Name != "Work key" {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	if toks, _ := ts.App.Core.UserTokens(ctx, u.ID); len(toks) != 0 {
		t.Errorf("the removed app is still there: %+v", toks)
	}
	if m := ts.App.Core.LastMethod(ctx, u.ID); m != auth.FactorWebAuthn {
		t.Errorf("the prompt offers %q first, want the default key", m)
	}
	// The auth log: the key's sign-in, then its report.
	rows, err := ts.App.Store.ListAuthLog(ctx, store.AuthLogFilter{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	reported := res.str(t, "reportedID")
	var signIn, report *store.AuthLog
	for i := range rows {
		if strconv.FormatInt(rows[i].ID, 10) == reported {
			signIn = &rows[i]
		}
		if rows[i].Result == auth.ResultFraud {
			report = &rows[i]
		}
	}
	switch {
	case signIn == nil || report == nil:
		t.Errorf("auth log %+v: no sign-in %s or no report", rows, reported)
	case signIn.Factor != auth.FactorWebAuthn || signIn.Result != auth.ResultAllow || signIn.IKey != auth.PortalIKey:
		t.Errorf("the reported sign-in: %+v", *signIn)
	case report.TxID != signIn.TxID || report.Reason != auth.ReasonUserMarkedFraud || report.Device != keys[0].ID:
		t.Errorf("the report: %+v (sign-in %+v)", *report, *signIn)
	}

	// A phone: sign-in with a bypass code, the pages at a phone's size.
	codes, err := ts.App.Core.IssueBypassCodes(ctx, user, auth.NewBypassCodes{Count: 1, Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	pages, steps = nil, nil
	add(step{"do": "goto", "url": base + "/my/login"}, step{"do": "waitVisible", "sel": "#username", "shot": "login"})
	add(axe("login")...)
	username("verify")
	add(axe("verify")...)
	add(step{"do": "fill", "sel": "#passcode", "value": codes.Codes[0]},
		step{"do": "click", "sel": "#passcode-button"},
		step{"do": "waitVisible", "sel": keyItem, "shot": "home"})
	add(axe("home")...)
	add(step{"do": "fill", "sel": "#app-name", "value": "Tablet"},
		step{"do": "click", "sel": "form[action='/my/add/app'] button"},
		step{"do": "waitVisible", "sel": "#secret", "shot": "add-app"})
	add(axe("add-app")...)
	add(step{"do": "goto", "url": base + "/my/"},
		step{"do": "click", "sel": "form[action='/my/add/phone'] button"},
		step{"do": "waitVisible", "sel": "#activation", "shot": "add-phone"})
	add(axe("add-phone")...)
	add(step{"do": "goto", "url": base + "/my/"},
		step{"do": "click", "sel": keyItem + " a:has-text('Remove')"},
		step{"do": "waitVisible", "sel": "#remove-button", "shot": "remove-last"},
		step{"do": "read", "sel": "#status", "as": "lastMsg"})
	add(axe("remove-last")...)
	res = runBrowser(t, node, dir, scenario{Name: "TestBrowserPortal-phone", SPKI: spki, Device: "Pixel 7", TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "phone")
	if got := res.str(t, "lastMsg"); !strings.Contains(got, "only way to log in") {
		t.Errorf("the removal page of the last method says %q", got)
	}
}

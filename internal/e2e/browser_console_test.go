package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	duoauth "github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBrowserConsole drives the administrators' console (/admin/) in
// headless Chromium as a person would: the first owner opens the setup
// link `assent admin create` prints, sets a password and adds an
// authenticator app (codes from Debian's oathtool for the key the page
// shows), signs in, adds a user, creates an enrollment link (which then
// activates a phone), finds the user, issues bypass codes (one then logs
// in once through the Auth API with duo_api_golang), unlocks the user once
// the core has locked it out; then again at a phone's size. npm axe-core runs on every
// page and the test fails on any serious or critical violation.
// Screenshots of each page, at desktop and phone widths, go to
// test-artifacts/browser/TestBrowserConsole-*/.
func TestBrowserConsole(t *testing.T) {
	oath, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	node, dir := browserPartners(t)
	clock := testutil.NewClock(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now})
	ikey, skey := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey) // serves the hooks
	ctx := testCtx(t)
	const email, password, user = "owner@example.com", "a long console password", "alice"
	_, link, err := ts.App.Core.CreateAdmin(ctx, email, "Olive Owner", store.RoleOwner)
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
	lockOut := rp.hook(func(string) error {
		u, err := ts.App.Core.User(ctx, user)
		if err != nil {
			return err
		}
		u.Status, u.LockoutReason = store.StatusLockedOut, "failed_attempts"
		return ts.App.Store.UpdateUser(ctx, u)
	})
	spki := append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...)
	var pages []string
	axe := func(name string) []step {
		pages = append(pages, name)
		return []step{{"do": "axe", "as": "axe-" + name}}
	}
	signIn := func(shot string) []step {
		return []step{
			{"do": "goto", "url": base + "/admin/login"},
			{"do": "waitVisible", "sel": "#email"},
			{"do": "fill", "sel": "#email", "value": email},
			{"do": "fill", "sel": "#password", "value": password},
			{"do": "hook", "url": next, "from": "key", "as": "code-" + shot},
			{"do": "fill", "sel": "#code", "valueFrom": "code-" + shot},
			{"do": "click", "sel": "main button[type=submit]"},
			{"do": "waitVisible", "sel": "#n-users", "shot": shot},
		}
	}

	var steps []step
	add := func(s ...step) { steps = append(steps, s...) }
	// Setup from the link.
	add(step{"do": "goto", "url": base + "/admin/setup/" + link.Token},
		step{"do": "waitVisible", "sel": "#secret", "shot": "setup"})
	add(axe("setup")...)
	add(step{"do": "read", "sel": "#secret", "as": "key"},
		step{"do": "fill", "sel": "#password", "value": password},
		step{"do": "hook", "url": current, "from": "key", "as": "setupCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "setupCode"},
		step{"do": "click", "sel": "main button[type=submit]"},
		step{"do": "waitURL", "pattern": "/admin/login\\?done=setup$"},
		step{"do": "waitVisible", "sel": "#email", "shot": "login"})
	add(axe("login")...)
	add(signIn("dashboard")...)
	add(axe("dashboard")...)
	// A user: added, found, bypass codes, unlocked.
	add(step{"do": "goto", "url": base + "/admin/users"},
		step{"do": "fill", "sel": "#username", "value": user},
		step{"do": "click", "sel": "form[action='/admin/users'][method=post] button"},
		step{"do": "waitVisible", "sel": "#user-status", "shot": "user-added"})
	add(axe("user")...)
	// An enrollment link to hand over: shown once, copied from the page.
	add(step{"do": "click", "sel": "#create-enroll-link"},
		step{"do": "waitVisible", "sel": "#enroll-link", "shot": "enroll-link"},
		step{"do": "eval", "expr": "document.querySelector('#enroll-link').value", "as": "enrollLink"})
	add(axe("enroll-link")...)
	add(step{"do": "goto", "url": base + "/admin/users?q=ALI"},
		step{"do": "waitVisible", "sel": "table a", "shot": "users-search"},
		step{"do": "read", "sel": "#user-count", "as": "count"})
	add(axe("users")...)
	add(step{"do": "click", "sel": "table a"},
		step{"do": "waitVisible", "sel": "#user-status"},
		step{"do": "fill", "sel": "#count", "value": "2"},
		step{"do": "click", "sel": "form[action$='/bypass'] button"},
		step{"do": "waitVisible", "sel": "#bypass-codes", "shot": "bypass-codes"},
		step{"do": "read", "sel": "#bypass-codes li:first-child code", "as": "bypass"})
	add(axe("bypass-codes")...)
	add(step{"do": "hook", "url": lockOut, "from": "key"},
		// Back to the user's page (a reload would post the form again).
		step{"do": "eval", "expr": "location.href.replace(/\\/bypass$/, '')", "as": "userURL"},
		step{"do": "goto", "urlFrom": "userURL"},
		step{"do": "waitVisible", "sel": "button:has-text('Unlock')", "shot": "locked-out"},
		step{"do": "click", "sel": "button:has-text('Unlock')"},
		step{"do": "waitText", "text": "The user was unlocked."},
		step{"do": "read", "sel": "#user-status", "as": "statusAfter", "shot": "unlocked"})
	add(step{"do": "click", "sel": "a:has-text('Delete user')"},
		step{"do": "waitVisible", "sel": "#confirm", "shot": "delete-confirm"})
	add(axe("delete")...)

	res := runBrowser(t, node, dir, scenario{Name: "TestBrowserConsole-desktop", SPKI: spki,
		Viewport: map[string]int{"width": 1280, "height": 900}, TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "desktop")
	if got := res.str(t, "count"); got != "1 user" {
		t.Errorf("search for ALI: %q", got)
	}
	if got := res.str(t, "statusAfter"); !strings.Contains(got, "active") {
		t.Errorf("after unlock the status reads %q", got)
	}
	// A bypass code from the page logs in through the Auth API
	// (duo_api_golang), once.
	code := strings.TrimSpace(res.str(t, "bypass"))
	apiIKey, apiSKey := ts.integration(t, store.TypeAuthAPI)
	api := goClient(t, ts, apiIKey, apiSKey, ts.Host)
	ar, err := api.Auth("passcode", duoauth.AuthUsername(user), duoauth.AuthPasscode(code))
	if err != nil || ar.Stat != "OK" || ar.Response.Result != "allow" {
		t.Errorf("Auth API with bypass code %q from the console: %+v, %v", code, ar, err)
	}
	if ar, err = api.Auth("passcode", duoauth.AuthUsername(user), duoauth.AuthPasscode(code)); err != nil || ar.Response.Result != "deny" {
		t.Errorf("the same single-use bypass code again: %+v, %v", ar, err)
	}
	// The enrollment link copied from the page activates a phone.
	enrollLink := res.str(t, "enrollLink")
	path, ok := strings.CutPrefix(enrollLink, "https://"+ts.Host+"/portal/enroll/")
	if !ok || path == "" {
		t.Fatalf("enrollment link on the page: %q", enrollLink)
	}
	start := ts.unsigned(t, "POST", "/portal/enroll/"+path, url.Values{})
	act := regexp.MustCompile(`data-testid="activation-code">([^<]+)<`).FindSubmatch(start.body)
	if start.status != 200 || act == nil {
		t.Fatalf("portal start from the console's link: %d\n%s", start.status, start.body)
	}
	if _, err := device.Activate(ctx, html.UnescapeString(string(act[1])), device.ActivateOptions{CAFile: ts.CAFile, Name: "Alice's phone"}); err != nil {
		t.Fatalf("activate with the console's link: %v", err)
	}
	if devs, err := ts.App.Core.Devices(ctx, user); err != nil || len(devs) != 1 {
		t.Errorf("devices after activation: %d, %v", len(devs), err)
	}

	// A phone: the same pages at a phone's size.
	pages, steps = nil, nil
	add(step{"do": "goto", "url": base + "/admin/login"}, step{"do": "waitVisible", "sel": "#email", "shot": "login"})
	add(axe("login")...)
	add(step{"do": "eval", "expr": "'" + res.str(t, "key") + "'", "as": "key"})
	add(signIn("dashboard")...)
	add(axe("dashboard")...)
	add(step{"do": "goto", "url": base + "/admin/users"}, step{"do": "waitVisible", "sel": "table a", "shot": "users"})
	add(axe("users")...)
	add(step{"do": "click", "sel": "table a"}, step{"do": "waitVisible", "sel": "#user-status", "shot": "user"})
	add(axe("user")...)
	res = runBrowser(t, node, dir, scenario{Name: "TestBrowserConsole-phone", SPKI: spki, Device: "Pixel 7", TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "phone")
}

// checkAxe fails on every serious or critical axe-core violation of the
// pages (and logs the others).
func checkAxe(t *testing.T, res driverResult, pages []string, where string) {
	t.Helper()
	for _, p := range pages {
		var vs []struct {
			ID, Impact, Help string
			Targets          []string
		}
		raw, ok := res.Outputs["axe-"+p]
		if !ok {
			t.Errorf("%s %s: axe-core did not run", where, p)
			continue
		}
		if err := json.Unmarshal(raw, &vs); err != nil {
			t.Fatalf("axe output of %s: %v (%s)", p, err, raw)
		}
		for _, v := range vs {
			msg := fmt.Sprintf("%s %s: axe-core %s (%s): %s %v", where, p, v.ID, v.Impact, v.Help, v.Targets)
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Error(msg)
			} else {
				t.Log(msg)
			}
		}
	}
}

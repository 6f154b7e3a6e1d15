package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBrowserConsolePolicies drives the console's policies, directories
// and user pages in headless Chromium: an owner opens an Auth API
// application, follows its link to the policies, and sets an authorized
// network (allow:192.0.2.0/24) on it after re-authenticating (codes from
// Debian's oathtool); adds an alias on the user page. duo_api_golang's
// preauth for an enrolled user then answers "allow" from inside that
// network (ipaddr 192.0.2.10) and still "auth" from outside it, where it
// answered "auth" before. npm axe-core runs on every new page (no serious
// or critical violation); screenshots at desktop and phone sizes go to
// test-artifacts/browser/TestBrowserConsolePolicies-*/.
func TestBrowserConsolePolicies(t *testing.T) {
	oath, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	node, dir := browserPartners(t)
	clock := testutil.NewClock(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now, flags: map[string]string{"clock_skew": "1h"}})
	ikeyRP, skeyRP := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikeyRP, skeyRP) // serves the hooks
	ikey, skey := ts.integration(t, store.TypeAuthAPI)
	ctx := testCtx(t)
	const email, password, user = "owner@example.com", "a long console password", "alice"
	u, err := ts.App.Core.CreateUser(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.App.Core.AddTokens(ctx, []auth.NewToken{{Kind: store.TokenKind("h6"), Serial: "HW-1", Secret: []byte("12345678901234567890")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.App.Core.AssignToken(ctx, "HW-1", user); err != nil {
		t.Fatal(err)
	}
	_, link, err := ts.App.Core.CreateAdmin(ctx, email, "Olive Owner", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ts.Host

	preauth := func(ip string) string {
		t.Helper()
		res, err := goClient(t, ts, ikey, skey, ts.Host).Preauth(authapi.PreauthUsername(user), authapi.PreauthIpAddr(ip))
		if err != nil || res.Stat != "OK" {
			t.Fatalf("preauth from %s: %v %+v", ip, err, res)
		}
		return res.Response.Result
	}
	if got := preauth("192.0.2.10"); got != "auth" {
		t.Fatalf("preauth before the policy: %q, want auth", got)
	}

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
	later := rp.hook(func(string) error { clock.Set(clock.Now().Add(6 * time.Minute)); return nil })
	spki := append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...)
	var pages []string
	axe := func(name string) step {
		pages = append(pages, name)
		return step{"do": "axe", "as": "axe-" + name}
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
	add(step{"do": "goto", "url": base + "/admin/setup/" + link.Token},
		step{"do": "waitVisible", "sel": "#secret"},
		step{"do": "read", "sel": "#secret", "as": "key"},
		step{"do": "fill", "sel": "#password", "value": password},
		step{"do": "hook", "url": current, "from": "key", "as": "setupCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "setupCode"},
		step{"do": "click", "sel": "main button[type=submit]"},
		step{"do": "waitURL", "pattern": "/admin/login\\?done=setup$"})
	add(signIn("dashboard")...)
	// From the application's page to its policies; edit them after the
	// re-authentication.
	add(step{"do": "goto", "url": base + "/admin/applications/" + ikey},
		step{"do": "waitVisible", "sel": "#ikey"},
		step{"do": "click", "sel": "a[href='/admin/policies#" + ikey + "']"},
		step{"do": "waitVisible", "sel": "#h-global", "shot": "policies"},
		axe("policies"),
		step{"do": "hook", "url": later, "from": "key"},
		step{"do": "click", "sel": "a[href='/admin/policies/" + ikey + "']"},
		step{"do": "waitVisible", "sel": "#networks"},
		step{"do": "click", "sel": "#set_networks"},
		step{"do": "fill", "sel": "#networks", "value": "allow:192.0.2.0/24"},
		step{"do": "fill", "sel": "#password", "value": password},
		step{"do": "hook", "url": next, "from": "key", "as": "policyCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "policyCode", "shot": "policy-edit"},
		axe("policy-edit"),
		step{"do": "click", "sel": "main form button[type=submit]"},
		step{"do": "waitText", "text": "The policy was saved"},
		step{"do": "read", "sel": "#" + ikey + " td[data-setting='networks']", "as": "inForce", "shot": "policy-saved"},
		axe("policy-saved"))
	// The user page: an alias.
	add(step{"do": "goto", "url": base + "/admin/users/" + u.ID},
		step{"do": "waitVisible", "sel": "#alias"},
		step{"do": "fill", "sel": "#alias", "value": "a.smith"},
		step{"do": "click", "sel": "form[action$='/aliases'] button[type=submit]"},
		step{"do": "waitText", "text": "The alias was added."},
		step{"do": "read", "sel": "#aliases", "as": "aliases", "shot": "user-aliases"},
		axe("user-aliases"))
	// The directories page (none stored: it says how to add one).
	add(step{"do": "click", "sel": "nav a[href='/admin/directories']"},
		step{"do": "waitVisible", "sel": "#no-directories", "shot": "directories"},
		axe("directories"))

	res := runBrowser(t, node, dir, scenario{Name: "TestBrowserConsolePolicies-desktop", SPKI: spki,
		Viewport: map[string]int{"width": 1280, "height": 900}, TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "desktop")
	if got := res.str(t, "inForce"); got != "allow:192.0.2.0/24" {
		t.Errorf("networks in force on the page: %q", got)
	}
	if got := res.str(t, "aliases"); !strings.Contains(got, "a.smith") {
		t.Errorf("aliases on the page: %q", got)
	}

	// duo_api_golang: allow from inside the network, auth from outside.
	if got := preauth("192.0.2.10"); got != "allow" {
		t.Errorf("preauth from inside the authorized network: %q, want allow", got)
	}
	if got := preauth("198.51.100.7"); got != "auth" {
		t.Errorf("preauth from outside the authorized network: %q, want auth", got)
	}
	clock.Set(clock.Now().Add(2 * time.Second))
	rows, err := ts.App.Core.AdminLogSince(testCtx(t), time.Unix(0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	logged := false
	for _, r := range rows {
		logged = logged || (r.Action == "policy_update" && r.Actor == "admin:"+email && r.Object == ikey && r.IP == "127.0.0.1")
	}
	if !logged {
		t.Error("no policy_update row by the owner from 127.0.0.1")
	}

	// A phone: every new page at a phone's size.
	pages, steps = nil, nil
	add(step{"do": "eval", "expr": "'" + res.str(t, "key") + "'", "as": "key"})
	add(signIn("dashboard")...)
	for _, pg := range []struct{ name, url, sel string }{
		{"policies", "/admin/policies", "#h-global"},
		{"policy-edit", "/admin/policies/" + ikey, "#networks"},
		{"user-aliases", "/admin/users/" + u.ID, "#aliases"},
		{"directories", "/admin/directories", "#no-directories"},
	} {
		add(step{"do": "goto", "url": base + pg.url}, step{"do": "waitVisible", "sel": pg.sel, "shot": pg.name}, axe(pg.name))
	}
	res = runBrowser(t, node, dir, scenario{Name: "TestBrowserConsolePolicies-phone", SPKI: spki, Device: "Pixel 7", TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "phone")
}

package e2e

import (
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBrowserConsoleApps drives the console's applications, groups,
// hardware tokens and settings pages in headless Chromium: an owner adds
// an Auth API application and copies its secret key from the page (shown
// once: the application's page does not show it again), changes the key
// with a grace period after re-authenticating (codes from Debian's
// oathtool), adds a group and puts a user in it, imports a hardware token
// and assigns it. duo_api_golang then signs Auth API calls with the keys
// read from the page: the new key works, the old one until the grace ends
// and is refused after it. npm axe-core runs on every page (no serious or
// critical violation); screenshots at desktop and phone sizes go to
// test-artifacts/browser/TestBrowserConsoleApps-*/.
func TestBrowserConsoleApps(t *testing.T) {
	oath, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	node, dir := browserPartners(t)
	// The server's clock starts 55 minutes back, so that the end of a
	// one-hour grace is still within the signatures' clock_skew (1h) of the
	// real time duo_api_golang dates its requests with.
	clock := testutil.NewClock(time.Now().Add(-55 * time.Minute).Truncate(30 * time.Second).Add(5 * time.Second))
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now, flags: map[string]string{"clock_skew": "1h"}})
	ikeyRP, skeyRP := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikeyRP, skeyRP) // serves the hooks
	ctx := testCtx(t)
	const email, password, user = "owner@example.com", "a long console password", "alice"
	if _, err := ts.App.Core.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
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
	// Past the re-authentication window of the sign-in.
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
	secret := []byte("12345678901234567890")

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
	// An application: its secret key once.
	add(step{"do": "click", "sel": "nav a[href='/admin/applications']"},
		step{"do": "waitVisible", "sel": "#app-count"},
		axe("applications"),
		step{"do": "fill", "sel": "#name", "value": "VPN gateway"},
		step{"do": "fill", "sel": "#allowed_origins", "value": "https://vpn.example.com"},
		step{"do": "click", "sel": "form[action='/admin/applications'] button[type=submit]"},
		step{"do": "waitVisible", "sel": "#skey", "shot": "application-created"},
		axe("application-created"),
		step{"do": "read", "sel": "#skey", "as": "skey1"},
		step{"do": "read", "sel": "#ikey", "as": "ikey"},
		step{"do": "eval", "expr": "location.origin + '/admin/applications/' + document.querySelector('#ikey').textContent", "as": "appURL"},
		step{"do": "goto", "urlFrom": "appURL"},
		step{"do": "waitVisible", "sel": "#ikey", "shot": "application"},
		axe("application"),
		step{"do": "read", "sel": "main", "as": "appPage"})
	// A new secret key, after the re-authentication, with a grace of 1 hour.
	add(step{"do": "hook", "url": later, "from": "key"},
		step{"do": "click", "sel": "a:has-text('Change the secret key')"},
		step{"do": "waitVisible", "sel": "#grace"},
		step{"do": "eval", "expr": "document.querySelector('#grace').value = '1h'", "as": "grace"},
		step{"do": "fill", "sel": "#password", "value": password},
		step{"do": "hook", "url": next, "from": "key", "as": "rotateCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "rotateCode", "shot": "rotate"},
		axe("rotate"),
		step{"do": "click", "sel": "main button[type=submit]"},
		step{"do": "waitVisible", "sel": "#skey", "shot": "application-rotated"},
		step{"do": "read", "sel": "#skey", "as": "skey2"},
		step{"do": "read", "sel": "#prev-key", "as": "prevKey"},
		axe("application-rotated"),
		step{"do": "click", "sel": "a:has-text('Delete application')"},
		step{"do": "waitVisible", "sel": "#confirm", "shot": "application-delete"},
		axe("application-delete"))
	// A group with a member.
	add(step{"do": "click", "sel": "nav a[href='/admin/groups']"},
		step{"do": "waitVisible", "sel": "#group-count"},
		step{"do": "fill", "sel": "#name", "value": "contractors"},
		step{"do": "fill", "sel": "#desc", "value": "External staff"},
		step{"do": "click", "sel": "form[action='/admin/groups'] button[type=submit]"},
		step{"do": "waitVisible", "sel": "#member-count"},
		step{"do": "fill", "sel": "#username", "value": user},
		step{"do": "click", "sel": "form[action$='/members'] button[type=submit]"},
		step{"do": "waitText", "text": "The user was added to the group."},
		step{"do": "read", "sel": "#member-count", "as": "members", "shot": "group"},
		axe("group"),
		step{"do": "click", "sel": "nav a[href='/admin/groups']"},
		step{"do": "waitVisible", "sel": "table a", "shot": "groups"},
		axe("groups"))
	// A hardware token: imported (pasted CSV with a header), assigned.
	add(step{"do": "click", "sel": "nav a[href='/admin/tokens']"},
		step{"do": "waitVisible", "sel": "#token-count"},
		step{"do": "fill", "sel": "#text", "value": "serial,type,secret\nHW-0001,h6," + hex.EncodeToString(secret) + "\n"},
		step{"do": "click", "sel": "form[action='/admin/tokens/import'] button[type=submit]"},
		step{"do": "waitText", "text": "1 token(s) imported"},
		step{"do": "waitVisible", "sel": "table a", "shot": "tokens-imported"},
		axe("tokens"),
		step{"do": "click", "sel": "table a:has-text('HW-0001')"},
		step{"do": "fill", "sel": "#username", "value": user},
		step{"do": "click", "sel": "form[action$='/assign'] button.primary"},
		step{"do": "waitText", "text": "The token was assigned."},
		step{"do": "read", "sel": "#token-user", "as": "tokenUser", "shot": "token"},
		axe("token"))
	// Settings.
	add(step{"do": "click", "sel": "nav a[href='/admin/settings']"},
		step{"do": "waitVisible", "sel": "#lockout_threshold", "shot": "settings"},
		axe("settings"))

	res := runBrowser(t, node, dir, scenario{Name: "TestBrowserConsoleApps-desktop", SPKI: spki,
		Viewport: map[string]int{"width": 1280, "height": 900}, TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "desktop")
	ctx = testCtx(t) // the browser took a while
	ikey, skey1, skey2 := res.str(t, "ikey"), res.str(t, "skey1"), res.str(t, "skey2")
	if len(skey1) != 40 || len(skey2) != 40 || skey1 == skey2 {
		t.Fatalf("secret keys read from the pages: %q, %q", skey1, skey2)
	}
	if page := res.str(t, "appPage"); strings.Contains(page, skey1) || !strings.Contains(page, "hidden: it is shown once") {
		t.Errorf("the application's page, after creation, shows the secret key or no notice: %q", page)
	}
	if got := res.str(t, "members"); got != "1 member" {
		t.Errorf("group members: %q", got)
	}
	if got := res.str(t, "tokenUser"); got != user {
		t.Errorf("token user: %q", got)
	}
	if got := res.str(t, "prevKey"); !strings.HasPrefix(got, "works until") {
		t.Errorf("previous key: %q", got)
	}
	tok, err := ts.App.Core.HardwareToken(ctx, "HW-0001")
	if u, _ := ts.App.Core.User(ctx, user); err != nil || tok.UserID != u.ID {
		t.Errorf("token HW-0001: %+v %v", tok, err)
	}
	if m, err := ts.App.Core.GroupMembers(ctx, "contractors"); err != nil || len(m) != 1 || m[0].Username != user {
		t.Errorf("contractors: %v %v", m, err)
	}

	// duo_api_golang signs with the keys from the pages: during the grace
	// both work; after it the old one is refused.
	check := func(skey string) (string, string) {
		res, err := goClient(t, ts, ikey, skey, ts.Host).Check()
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		code := ""
		if res.Code != nil {
			code = strconv.Itoa(int(*res.Code))
		}
		return res.Stat, code
	}
	if st, code := check(skey2); st != "OK" {
		t.Errorf("new key: %s %s", st, code)
	}
	if st, code := check(skey1); st != "OK" {
		t.Errorf("old key within the grace: %s %s", st, code)
	}
	in, _, err := ts.App.Core.Integration(ctx, ikey)
	if err != nil {
		t.Fatal(err)
	}
	if d := in.PrevSecretExpires.Sub(clock.Now()); d <= 0 || d > time.Hour {
		t.Fatalf("the old key's grace ends in %v", d)
	}
	clock.Set(in.PrevSecretExpires.Add(time.Second))
	if st, code := check(skey1); st != "FAIL" || code != "40103" {
		t.Errorf("old key after the grace: %s %s, want FAIL 40103", st, code)
	}
	if st, code := check(skey2); st != "OK" {
		t.Errorf("new key after the grace: %s %s", st, code)
	}
	// The administrator log names the owner and the address.
	clock.Set(clock.Now().Add(2 * time.Second))
	ctx = testCtx(t)
	rows, err := ts.App.Core.AdminLogSince(ctx, time.Unix(0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range rows {
		if r.Actor == "admin:"+email && r.IP == "127.0.0.1" {
			found[r.Action] = true
		}
	}
	for _, a := range []string{"integration_create", "integration_rotate_secret", "group_create", "group_member_add", "hardtoken_create", "hardtoken_update"} {
		if !found[a] {
			t.Errorf("no %s row by admin:%s from 127.0.0.1", a, email)
		}
	}

	// A phone: every new page at a phone's size.
	pages, steps = nil, nil
	add(step{"do": "eval", "expr": "'" + res.str(t, "key") + "'", "as": "key"})
	add(signIn("dashboard")...)
	for _, pg := range []struct{ name, url, sel string }{
		{"applications", "/admin/applications", "#app-count"},
		{"application", "/admin/applications/" + ikey, "#ikey"},
		{"rotate", "/admin/applications/" + ikey + "/rotate", "#grace"},
		{"groups", "/admin/groups", "#group-count"},
		{"tokens", "/admin/tokens", "#token-count"},
		{"token", "/admin/tokens/" + tok.ID, "#token-user"},
		{"settings", "/admin/settings", "#lockout_threshold"},
	} {
		add(step{"do": "goto", "url": base + pg.url}, step{"do": "waitVisible", "sel": pg.sel, "shot": pg.name}, axe(pg.name))
	}
	add(step{"do": "click", "sel": "nav a[href='/admin/groups']"}, step{"do": "click", "sel": "table a"},
		step{"do": "waitVisible", "sel": "#member-count", "shot": "group"}, axe("group"))
	res = runBrowser(t, node, dir, scenario{Name: "TestBrowserConsoleApps-phone", SPKI: spki, Device: "Pixel 7", TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "phone")
}

package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBrowserConsoleLogs: npm @duosecurity/duo_api (a real Auth API
// client) makes allowed and denied authentications; then, in headless
// Chromium, an owner sees them on the dashboard's chart (bars above
// zero), filters the authentication log by user and result, opens a row's
// detail view, downloads the CSV of the filtered rows (its rows checked
// here), and reads the administrator log; at desktop and phone sizes, with
// npm axe-core on every page. Screenshots go to
// test-artifacts/browser/TestBrowserConsoleLogs-*/.
func TestBrowserConsoleLogs(t *testing.T) {
	oath, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	node, dir := browserPartners(t)
	clock := testutil.NewClock(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now})
	ikey, skey := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)
	ctx := testCtx(t)
	const email, password, user = "owner@example.com", "a long console password", "carol"

	// Authentications through the Auth API with npm @duosecurity/duo_api:
	// two allowed (bypass codes, sig v2 and v5), one denied (a code used
	// again), an unknown user.
	apiIKey, apiSKey := ts.authAPI(t)
	codes := ts.user(t, user, 2)
	var out map[string]duoEnvelope
	runJSON(t, 60*time.Second, &out, node, []string{filepath.Join(dir, "duo_api_call.js")}, []string{
		"DUO_IKEY=" + apiIKey, "DUO_SKEY=" + apiSKey, "DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port),
		"DUO_CA=" + ts.CAFile, "DUO_USERNAME=" + user, "DUO_PASSCODES=" + strings.Join(codes, ","),
		"DUO_UNKNOWN_USER=nobody-logs",
	}, dir)
	for name, want := range map[string]string{"auth": "allow", "auth_again": "deny", "v5_auth": "allow"} {
		var r struct {
			Result string `json:"result"`
		}
		if env := out[name]; env.Stat != "OK" || json.Unmarshal(env.Response, &r) != nil || r.Result != want {
			t.Fatalf("%s: %+v, want result %s", name, env, want)
		}
	}
	// What the log holds for carol, denied (the page must show as many).
	u := ts.userRecord(t, user)
	clock.Set(clock.Now().Add(2 * time.Second))
	wantDenied, wantTotal := 0, 0
	rows, _, err := ts.App.Core.QueryAuthLog(ctx, store.AuthLogQuery{UserIDs: []string{u.ID}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rows {
		wantTotal++
		if l.Result == "deny" {
			wantDenied++
		}
	}
	if wantDenied == 0 || wantTotal == wantDenied {
		t.Fatalf("the Auth API calls logged %d rows, %d denied: want both results", wantTotal, wantDenied)
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
	spki := append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...)

	var (
		steps []step
		pages []string
	)
	add := func(s ...step) { steps = append(steps, s...) }
	axe := func(name string) step {
		pages = append(pages, name)
		return step{"do": "axe", "as": "axe-" + name}
	}
	signIn := func() {
		add(step{"do": "goto", "url": base + "/admin/login"},
			step{"do": "waitVisible", "sel": "#email"},
			step{"do": "fill", "sel": "#email", "value": email},
			step{"do": "fill", "sel": "#password", "value": password},
			step{"do": "hook", "url": next, "from": "key", "as": "code"},
			step{"do": "fill", "sel": "#code", "valueFrom": "code"},
			step{"do": "click", "sel": "main button[type=submit]"},
			step{"do": "waitVisible", "sel": "#chart-hours"})
	}
	// The pages both sizes visit once signed in.
	logPages := func() {
		add(step{"do": "eval", "as": "bars", "expr": `(() => {
			const n = (c) => [...document.querySelectorAll('#chart-hours rect.' + c)].filter((r) => r.getBBox().height > 0).length
			return {allow: n('bar-allow'), deny: n('bar-deny'), days: document.querySelectorAll('#chart-days rect').length,
				label: document.querySelector('#chart-hours svg').getAttribute('aria-labelledby'),
				desc: document.querySelector('#chart-hours desc').textContent}
		})()`, "shot": "dashboard"}, axe("dashboard"))
		// The authentication log, filtered by user and result in the form.
		add(step{"do": "click", "sel": "nav a:has-text('Logs')"},
			step{"do": "waitVisible", "sel": "#user"},
			step{"do": "fill", "sel": "#user", "value": user},
			step{"do": "eval", "as": "-", "expr": `document.querySelector('#result').value = 'deny'`},
			step{"do": "click", "sel": "form.filters button"},
			step{"do": "waitURL", "pattern": "result=deny"},
			step{"do": "waitVisible", "sel": "#log tbody a", "shot": "auth-log"},
			step{"do": "read", "sel": "#log-count", "as": "count", "match": `^(\d+) row`},
			step{"do": "eval", "as": "results", "expr": `[...document.querySelectorAll('#log tbody tr td:nth-child(2)')].map((td) => td.innerText.trim())`},
			axe("auth-log"))
		add(step{"do": "download", "sel": "#csv", "as": "csv"})
		add(step{"do": "click", "sel": "#log tbody tr:first-child td:first-child a"},
			step{"do": "waitVisible", "sel": "#entry", "shot": "auth-entry"},
			step{"do": "read", "sel": "#entry", "as": "entry"},
			axe("auth-entry"))
		add(step{"do": "goto", "url": base + "/admin/logs/admin"},
			step{"do": "waitVisible", "sel": "#log tbody a", "shot": "admin-log"},
			axe("admin-log"),
			step{"do": "click", "sel": "#log tbody tr:first-child td:first-child a"},
			step{"do": "waitVisible", "sel": "#entry", "shot": "admin-entry"},
			axe("admin-entry"))
	}
	add(step{"do": "goto", "url": base + "/admin/setup/" + link.Token},
		step{"do": "waitVisible", "sel": "#secret"},
		step{"do": "read", "sel": "#secret", "as": "key"},
		step{"do": "fill", "sel": "#password", "value": password},
		step{"do": "hook", "url": current, "from": "key", "as": "setupCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "setupCode"},
		step{"do": "click", "sel": "main button[type=submit]"},
		step{"do": "waitURL", "pattern": "/admin/login\\?done=setup$"})
	signIn()
	logPages()
	res := runBrowser(t, node, dir, scenario{Name: "TestBrowserConsoleLogs-desktop", SPKI: spki,
		Viewport: map[string]int{"width": 1280, "height": 900}, TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "desktop")
	checkLogPages(t, res, user, wantDenied)

	pages, steps = nil, nil
	add(step{"do": "eval", "expr": "'" + res.str(t, "key") + "'", "as": "key"})
	signIn()
	logPages()
	res = runBrowser(t, node, dir, scenario{Name: "TestBrowserConsoleLogs-phone", SPKI: spki, Device: "Pixel 7", TimeoutMs: 20000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "phone")
	checkLogPages(t, res, user, wantDenied)
}

// checkLogPages checks what the browser read on the dashboard and the logs.
func checkLogPages(t *testing.T, res driverResult, user string, denied int) {
	t.Helper()
	var bars struct {
		Allow, Deny, Days int
		Label, Desc       string
	}
	if err := json.Unmarshal(res.Outputs["bars"], &bars); err != nil {
		t.Fatalf("bars: %v (%s)", err, res.Outputs["bars"])
	}
	if bars.Allow == 0 || bars.Deny == 0 || bars.Days == 0 || bars.Label == "" || !strings.Contains(bars.Desc, "allowed") {
		t.Errorf("dashboard chart: %+v, want bars of both results and a text alternative", bars)
	}
	if got := res.str(t, "count"); got != strconv.Itoa(denied) {
		t.Errorf("filtered log: %s rows, want %d", got, denied)
	}
	var results []string
	if err := json.Unmarshal(res.Outputs["results"], &results); err != nil || len(results) != denied {
		t.Errorf("filtered log results %q (%v), want %d", results, err, denied)
	}
	for _, r := range results {
		if r != "deny" {
			t.Errorf("filtered log shows result %q", r)
		}
	}
	if e := res.str(t, "entry"); !strings.Contains(e, user) || !strings.Contains(e, "deny") || !strings.Contains(e, "e2e authapi (") ||
		!strings.Contains(e, "Transaction ID") {
		t.Errorf("detail view: %q", e)
	}
	var dl struct{ Name, Text string }
	if err := json.Unmarshal(res.Outputs["csv"], &dl); err != nil {
		t.Fatalf("csv download: %v", err)
	}
	recs, err := csv.NewReader(strings.NewReader(dl.Text)).ReadAll()
	if err != nil || !strings.HasSuffix(dl.Name, ".csv") || len(recs) != 1+denied || recs[0][0] != "time" {
		t.Fatalf("csv download %q: %d records, %v\n%s", dl.Name, len(recs), err, dl.Text)
	}
	for _, r := range recs[1:] {
		if r[2] != "deny" || r[3] == "" || r[4] != user || r[6] != "e2e authapi" || r[1] == "" {
			t.Errorf("csv row %q", r)
		}
	}
}

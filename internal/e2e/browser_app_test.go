package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	authapi "github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/cli"
	"github.com/assent-auth/assent/internal/store"
)

// authResult is what a synchronous /auth/v2/auth call answered.
type authResult struct {
	res *authapi.AuthResult
	err error
}

// TestBrowserAuthenticatorApp is the Assent Authenticator in headless
// Chromium emulating a phone (playwright's "Pixel 7" descriptor): the link
// that `assent user enroll --json` puts in the QR code opens /app/, which
// activates through the device API with a WebCrypto key; a synchronous
// /auth/v2/auth push from duo_api_golang shows in the app with its
// context and is approved (allow), the next one denied (deny); the HOTP
// passcode the app computes logs in; a Web Push message delivered into the
// app's service worker (CDP ServiceWorker.deliverPushMessage) shows a
// notification; a Verified Push (an integration with it on, the code
// read from auth_status as the sign-in screen shows it) asks for the code:
// the right one typed → allow, a wrong one → deny; offline, the service worker serves the app and its
// passcode still logs in. Screenshots of every screen go to
// test-artifacts/browser/TestBrowserAuthenticatorApp/.
func TestBrowserAuthenticatorApp(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	ts := startServer(t, serverOptions{engine: SQLite, flags: map[string]string{"push_timeout": "30s"}})
	const appName, user = "App e2e VPN", "phone-user"
	ikey, skey := ts.pushIntegration(t, appName)
	api := goClient(t, ts, ikey, skey, ts.Host)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)

	// The enrollment, as an administrator issues it.
	var stdout, stderr bytes.Buffer
	if rc := cli.Main([]string{"user", "enroll", user, "--json", "--data-dir", ts.App.Config.DataDir}, nil, &stdout, &stderr); rc != 0 {
		t.Fatalf("assent user enroll --json: exit %d\n%s", rc, stderr.String())
	}
	var en struct {
		ActivationCode    string `json:"activation_code"`
		ActivationBarcode string `json:"activation_barcode"`
		AppLink           string `json:"app_link"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &en); err != nil {
		t.Fatalf("user enroll --json: %v\n%s", err, stdout.String())
	}
	wantLink := "https://" + ts.Host + "/app/#activate=" + url.QueryEscape(en.ActivationCode)
	if !strings.HasPrefix(en.ActivationCode, "duo://") || en.AppLink != wantLink {
		t.Fatalf("user enroll: activation_code %q app_link %q, want duo://… and %q", en.ActivationCode, en.AppLink, wantLink)
	}
	if want := "https://" + ts.Host + "/frame/qr?value=" + url.QueryEscape(en.AppLink); en.ActivationBarcode != want {
		t.Errorf("activation_barcode %q, want the QR code of the app link %q", en.ActivationBarcode, want)
	}

	// The user's pushes, one at a time, started by the scenario's hooks.
	results := make(chan authResult, 1)
	var answered []authResult
	push := func() {
		go func() {
			res, err := api.Auth("push", authapi.AuthUsername(user), authapi.AuthDevice("auto"),
				authapi.AuthType("VPN login"), authapi.AuthPushinfo("from=e2e%20app&realm=example.com"), authapi.AuthIpAddr("198.51.100.7"))
			results <- authResult{res, err}
		}()
	}
	collect := func() error {
		select {
		case r := <-results:
			answered = append(answered, r)
			return nil
		case <-time.After(20 * time.Second):
			return errors.New("the push call did not end")
		}
	}
	hookPush := rp.hook(func(string) error { push(); return nil })
	hookNext := rp.hook(func(string) error {
		if err := collect(); err != nil {
			return err
		}
		push()
		return nil
	})
	hookDone := rp.hook(func(string) error { return collect() })

	// Verified Push, from an integration with it on: an asynchronous push
	// whose first auth_status tells the code, as the waiting sign-in screen
	// shows it; the hooks hand the page the code to type (the right one,
	// then a wrong one) and read how each push ended.
	vpIn, vpSKey, err := ts.App.Core.CreateIntegration(testCtx(t), auth.NewIntegration{Name: "App e2e Verified VPN", Type: store.TypeAuthAPI, VerifiedPush: 3})
	if err != nil {
		t.Fatalf("create the Verified Push integration: %v", err)
	}
	vpAPI := goClient(t, ts, vpIn.IKey, vpSKey, ts.Host)
	var vpTxids, vpCodes []string
	vpPush := func(wrongCode bool) (string, error) {
		res, err := vpAPI.Auth("push", authapi.AuthUsername(user), authapi.AuthDevice("auto"), authapi.AuthAsync(),
			authapi.AuthType("VPN login"), authapi.AuthIpAddr("198.51.100.8"))
		if err != nil || res == nil || res.Stat != "OK" {
			return "", fmt.Errorf("async push: %+v, %v", res, err)
		}
		st, err := vpAPI.AuthStatus(res.Response.Txid)
		if err != nil || st == nil {
			return "", fmt.Errorf("auth_status: %v", err)
		}
		m := statusCodeRE.FindStringSubmatch(st.Response.Status_Msg)
		if st.Response.Result != "waiting" || m == nil {
			return "", fmt.Errorf("first auth_status %+v: want waiting with the code in status_msg", st.Response)
		}
		vpTxids, vpCodes = append(vpTxids, res.Response.Txid), append(vpCodes, m[1])
		if wrongCode {
			return string('0'+(m[1][0]-'0'+1)%10) + m[1][1:], nil
		}
		return m[1], nil
	}
	var vpEnded []*authapi.AuthStatusResult
	vpEnd := func() error {
		txid := vpTxids[len(vpTxids)-1]
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			st, err := vpAPI.AuthStatus(txid)
			if err != nil || st == nil {
				return fmt.Errorf("auth_status: %v", err)
			}
			if st.Response.Result != "waiting" {
				vpEnded = append(vpEnded, st)
				return nil
			}
		}
		return errors.New("the Verified Push did not end")
	}
	hookVPRight := rp.hookValue(func(string) (string, error) { return vpPush(false) })
	hookVPWrong := rp.hookValue(func(string) (string, error) {
		if err := vpEnd(); err != nil {
			return "", err
		}
		return vpPush(true)
	})
	hookVPDone := rp.hook(func(string) error { return vpEnd() })

	// A second Assent server: its account is added by pasting its link in
	// the app served by the first, and its push is answered across origins.
	ts2 := startServer(t, serverOptions{engine: SQLite, flags: map[string]string{"push_timeout": "30s"}})
	ikey2, skey2 := ts2.pushIntegration(t, "Second server VPN")
	api2 := goClient(t, ts2, ikey2, skey2, ts2.Host)
	stdout.Reset()
	stderr.Reset()
	if rc := cli.Main([]string{"user", "enroll", user, "--json", "--data-dir", ts2.App.Config.DataDir}, nil, &stdout, &stderr); rc != 0 {
		t.Fatalf("second server: assent user enroll --json: exit %d\n%s", rc, stderr.String())
	}
	var en2 struct {
		AppLink string `json:"app_link"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &en2); err != nil || !strings.HasPrefix(en2.AppLink, "https://"+ts2.Host+"/app/#activate=") {
		t.Fatalf("second server: user enroll --json: %v\n%s", err, stdout.String())
	}
	results2 := make(chan authResult, 1)
	hookPush2 := rp.hook(func(string) error {
		go func() {
			res, err := api2.Auth("push", authapi.AuthUsername(user), authapi.AuthDevice("auto"), authapi.AuthType("Second login"))
			results2 <- authResult{res, err}
		}()
		return nil
	})
	var answered2 []authResult
	hookDone2 := rp.hook(func(string) error {
		select {
		case r := <-results2:
			answered2 = append(answered2, r)
			return nil
		case <-time.After(20 * time.Second):
			return errors.New("the second server's push call did not end")
		}
	})

	const (
		selApprove = `[data-testid="approve"]`
		selDeny    = `[data-testid="deny"]`
		selCode    = `[data-testid="pending"] [data-testid="stepup-code"]`
	)
	sc := scenario{
		SPKI:   append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), servedSPKI(t, ts2.IPHost, "localhost", ts2.caPool(t))...),
		Device: "Pixel 7",
		Steps: []step{
			{"do": "goto", "url": "https://" + ts.Host + "/app/"},
			{"do": "waitVisible", "sel": `#main[data-state="ready"]`, "shot": "empty"},
			// Scanning the QR code opens the link.
			{"do": "goto", "url": en.AppLink},
			{"do": "waitText", "text": "Activated: this phone now answers requests"},
			{"do": "waitVisible", "sel": `[data-testid="accounts"] li`, "shot": "activated"},
			{"do": "eval", "expr": "location.href", "as": "hrefAfter"},
			// A push, approved.
			{"do": "hook", "url": hookPush},
			{"do": "waitVisible", "sel": selApprove, "shot": "push-pending"},
			{"do": "read", "sel": `[data-testid="pending"] li`, "as": "pushText"},
			{"do": "click", "sel": selApprove},
			{"do": "waitText", "text": "Approved."},
			// The next push, denied.
			{"do": "hook", "url": hookNext},
			{"do": "waitVisible", "sel": selDeny},
			{"do": "click", "sel": selDeny},
			{"do": "waitText", "text": "Denied."},
			// The third, reported: "This wasn't me".
			{"do": "hook", "url": hookNext},
			{"do": "waitVisible", "sel": `[data-testid="fraud"]`},
			{"do": "click", "sel": `[data-testid="fraud"]`},
			{"do": "waitHidden", "sel": `[data-testid="pending"] li`},
			{"do": "read", "sel": "#status", "as": "fraudStatus"},
			{"do": "hook", "url": hookDone, "shot": "history"},
			// Verified Push: the right code approves, a wrong one denies.
			{"do": "hook", "url": hookVPRight, "as": "vpCode"},
			{"do": "waitVisible", "sel": selCode},
			{"do": "read", "sel": `[data-testid="pending"] li`, "as": "vpText"},
			{"do": "eval", "expr": `document.querySelector('` + selCode + `').maxLength`, "as": "vpMaxLength"},
			{"do": "fill", "sel": selCode, "valueFrom": "vpCode", "shot": "verified-push"},
			{"do": "click", "sel": selApprove},
			{"do": "waitText", "text": "Approved."},
			{"do": "hook", "url": hookVPWrong, "as": "vpWrongCode"},
			{"do": "waitVisible", "sel": selCode},
			{"do": "fill", "sel": selCode, "valueFrom": "vpWrongCode"},
			{"do": "click", "sel": selApprove},
			{"do": "waitText", "text": "Denied: the code did not match."},
			{"do": "hook", "url": hookVPDone},
			// A passcode.
			{"do": "click", "sel": `[data-testid="show-passcode"]`},
			{"do": "waitVisible", "sel": `[data-testid="passcode"]`},
			{"do": "read", "sel": `[data-testid="passcode"]`, "match": `^[0-9]{6}$`, "as": "passcode", "shot": "passcode"},
			// A Web Push message reaches the service worker.
			{"do": "eval", "expr": "navigator.serviceWorker.ready.then(() => true)", "as": "swReady"},
			{"do": "sw.push", "data": `{"txid":"0b8e1f7e-0000-4000-8000-000000000001","summary":"VPN login request for ` + appName + `"}`},
			{"do": "waitText", "text": "New request: VPN login request for " + appName, "shot": "notification"},
			{"do": "eval", "expr": "navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => n.title))", "as": "notifications"},
			// Offline: the service worker serves the app, and passcodes work.
			{"do": "offline", "value": true},
			{"do": "reload"},
			{"do": "waitVisible", "sel": `#main[data-state="ready"]`},
			{"do": "click", "sel": `[data-testid="show-passcode"]`},
			{"do": "waitVisible", "sel": `[data-testid="passcode"]`},
			{"do": "read", "sel": `[data-testid="passcode"]`, "match": `^[0-9]{6}$`, "as": "offlinePasscode", "shot": "offline-passcode"},
			{"do": "offline", "value": false},
			// The second server's account, added from its pasted link; its
			// push shows with the account's name and is approved.
			{"do": "fill", "sel": "#activation-input", "value": en2.AppLink},
			{"do": "click", "sel": `[data-testid="activate-button"]`},
			{"do": "waitText", "text": "Activated: this phone now answers requests"},
			{"do": "waitVisible", "sel": `[data-testid="accounts"] li:nth-child(2)`},
			{"do": "read", "sel": `[data-testid="accounts"]`, "as": "accountsText"},
			{"do": "hook", "url": hookPush2},
			{"do": "waitVisible", "sel": selApprove},
			{"do": "read", "sel": `[data-testid="pending"] li`, "as": "push2Text", "shot": "second-server-push"},
			{"do": "click", "sel": selApprove},
			{"do": "waitText", "text": "Approved."},
			{"do": "hook", "url": hookDone2},
		},
	}
	res := runBrowser(t, node, dir, sc, rp.CAFile, false)
	if len(res.PageErrors) > 0 {
		t.Errorf("page errors: %q", res.PageErrors)
	}
	if href := res.str(t, "hrefAfter"); strings.Contains(href, "activate") {
		t.Errorf("the activation code stays in the address bar: %s", href)
	}
	pushText := res.str(t, "pushText")
	for _, want := range []string{"VPN login request for " + appName, user, appName, "e2e app", "example.com", "198.51.100.7"} {
		if !strings.Contains(pushText, want) {
			t.Errorf("the pending push shows %q, missing %q", pushText, want)
		}
	}
	if len(answered) != 3 {
		t.Fatalf("%d push calls ended, want 3", len(answered))
	}
	// "This wasn't me" ends as fraud: the device API takes answer=fraud
	// (result deny, status fraud, as Duo answers a reported push).
	if st := res.str(t, "fraudStatus"); !strings.HasPrefix(st, "Reported") {
		t.Errorf("after \"This wasn't me\" the app says %q", st)
	}
	for _, c := range res.Console {
		// Offline, the network fails as it should.
		offline := strings.Contains(c, "net::ERR_INTERNET_DISCONNECTED") || strings.Contains(c, "net::ERR_FAILED")
		if strings.HasPrefix(c, "error:") && !offline {
			t.Errorf("console: %s", c)
		}
	}
	for i, want := range []struct{ result, status string }{{"allow", "allow"}, {"deny", "deny"}, {"deny", "fraud"}} {
		r := answered[i]
		if r.err != nil || r.res == nil || r.res.Response.Result != want.result || r.res.Response.Status != want.status {
			t.Errorf("push %d: %+v, %v; want result %s, status %s", i+1, r.res, r.err, want.result, want.status)
		}
	}
	pc, err := api.Auth("passcode", authapi.AuthUsername(user), authapi.AuthPasscode(res.str(t, "passcode")))
	if err != nil || pc.Response.Result != "allow" {
		t.Errorf("the app's passcode: %+v, %v; want allow", pc, err)
	}
	// The offline passcode is the next one: it logs in too.
	if pc, err := api.Auth("passcode", authapi.AuthUsername(user), authapi.AuthPasscode(res.str(t, "offlinePasscode"))); err != nil || pc.Response.Result != "allow" {
		t.Errorf("the passcode shown offline: %+v, %v; want allow", pc, err)
	}
	// Verified Push: the field takes the code's three digits; the right
	// code typed in the app → allow, a wrong one → deny.
	if !strings.Contains(res.str(t, "vpText"), "Type the code shown on the sign-in screen") {
		t.Errorf("the Verified Push shows %q, without the code field's label", res.str(t, "vpText"))
	}
	if ml := string(res.Outputs["vpMaxLength"]); ml != "3" {
		t.Errorf("the code field's maxLength is %s, want 3", ml)
	}
	if len(vpCodes) != 2 || res.str(t, "vpCode") != vpCodes[0] || res.str(t, "vpWrongCode") == vpCodes[1] {
		t.Errorf("codes typed %q, %q; codes shown %q", res.str(t, "vpCode"), res.str(t, "vpWrongCode"), vpCodes)
	}
	for i, want := range []struct{ result, status string }{{"allow", "allow"}, {"deny", "deny"}} {
		if i >= len(vpEnded) {
			t.Errorf("Verified Push %d did not end", i+1)
			continue
		}
		if r := vpEnded[i].Response; r.Result != want.result || r.Status != want.status {
			t.Errorf("Verified Push %d: %+v; want result %s, status %s", i+1, r, want.result, want.status)
		}
	}
	// The second server: its account listed with its host, its push shown
	// with the account's name, approved across origins → allow.
	if at := res.str(t, "accountsText"); !strings.Contains(at, ts2.Host) {
		t.Errorf("the accounts list %q does not name the second server %s", at, ts2.Host)
	}
	if pt := res.str(t, "push2Text"); !strings.Contains(pt, ts2.Host) || !strings.Contains(pt, "Second server VPN") {
		t.Errorf("the second server's push shows %q, want its account (%s) and integration", pt, ts2.Host)
	}
	if len(answered2) != 1 || answered2[0].err != nil || answered2[0].res == nil || answered2[0].res.Response.Result != "allow" {
		t.Errorf("the second server's push: %+v; want allow", answered2)
	}
	var titles []string
	if err := json.Unmarshal(res.Outputs["notifications"], &titles); err != nil || !slices.Contains(titles, "VPN login request for "+appName) {
		t.Errorf("notifications shown by the service worker: %s (%v)", res.Outputs["notifications"], err)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/assenttest"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/pkg/duoweb"
)

// Browser tests: headless Chromium (Debian's) driven by npm playwright-core
// through tests/partners/node/browser_driver.js, against an in-process
// Assent. The Web SDK v2 tests use the real Duo-Web-v2.js from npm
// @duosecurity/duo_web in a relying-party page served by the test, signed
// by pkg/duoweb or by the npm package's sign_request, and verify what the
// page posts with both. The Go side plays the phone (internal/device).
// Screenshots of every state go to test-artifacts/browser/ (or
// $ASSENT_ARTIFACTS_DIR).

// The prompt's stable selectors (internal/web/templates/page.html).
const (
	duoFrame       = "#duo_iframe"
	selPushButton  = "#push-button"
	selPasscode    = "#passcode"
	selPasscodeBtn = "#passcode-button"
	selEnrollBtn   = "#enroll-button"
	selActivation  = "#activation-code"
	selStatusError = "#status.error"
	selRPResult    = "#rp-result"
)

// state is the selector of the prompt in one state (data-state).
func state(s string) string { return `#prompt[data-state="` + s + `"]` }

// browserEnv is one Assent server, a Web SDK integration and the relying
// party in front of it, shared by the subtests.
type browserEnv struct {
	node, dir  string
	ts         *testServer
	ikey, skey string
	rp         *relyingParty
	spki       []string
}

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	node, dir := browserPartners(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.integration(t, store.TypeWebSDK) // new-user policy: enroll
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)
	spki := append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...)
	return &browserEnv{node: node, dir: dir, ts: ts, ikey: ikey, skey: skey, rp: rp, spki: spki}
}

func (e *browserEnv) run(t *testing.T, steps []step) driverResult {
	t.Helper()
	return runBrowser(t, e.node, e.dir, scenario{SPKI: e.spki, Steps: steps}, e.rp.CAFile, false)
}

// goSign signs a login request with pkg/duoweb.
func (e *browserEnv) goSign(t *testing.T, user string) string {
	t.Helper()
	sig, err := duoweb.SignRequest(e.ikey, e.skey, e.rp.akey, user)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// loggedIn checks that the page posted a sig_response for user that both
// verifiers accept, and that the application logged that user in.
func loggedIn(t *testing.T, l *rpLogin, res driverResult, user string) {
	t.Helper()
	p := l.nextPost(t)
	if !strings.HasPrefix(p.SigResponse, duoweb.PrefixAuth+"|") {
		t.Errorf("sig_response %q is not an AUTH answer", p.SigResponse)
	}
	if p.GoErr != nil || p.GoUser != user {
		t.Errorf("pkg/duoweb.VerifyResponse: %q, %v; want %q", p.GoUser, p.GoErr, user)
	}
	if p.NPMErr != nil || p.NPMUser != user {
		t.Errorf("npm verify_response: %q, %v; want %q", p.NPMUser, p.NPMErr, user)
	}
	if got := res.str(t, "loggedIn"); got != user {
		t.Errorf("the application shows user %q logged in, want %q", got, user)
	}
	l.noPost(t)
}

// refused checks that the page posted no AUTH answer: at most an ERR| one
// that both verifiers reject.
func refused(t *testing.T, l *rpLogin, wantErr string) {
	t.Helper()
	p := l.nextPost(t)
	if !strings.HasPrefix(p.SigResponse, "ERR|") || !strings.Contains(p.SigResponse, wantErr) {
		t.Errorf("sig_response %q, want ERR|…%s…", p.SigResponse, wantErr)
	}
	if p.GoErr == nil || p.GoUser != "" {
		t.Errorf("pkg/duoweb.VerifyResponse accepted %q: user %q", p.SigResponse, p.GoUser)
	}
	if p.NPMErr != nil || p.NPMUser != "" {
		t.Errorf("npm verify_response: %q, %v; want null", p.NPMUser, p.NPMErr)
	}
	l.noPost(t)
}

// waitLoggedIn are the steps after the prompt's success: the page posts,
// the application answers.
func waitLoggedIn() []step {
	return []step{
		{"do": "waitVisible", "sel": selRPResult, "shot": "application"},
		{"do": "read", "sel": selRPResult, "attr": "data-user", "as": "loggedIn"},
	}
}

func TestBrowserWebSDK(t *testing.T) {
	t.Parallel()
	e := newBrowserEnv(t)

	// A page signed by each implementation loads the frame; a push approved
	// on the phone logs the user in.
	for _, signer := range []string{"pkg/duoweb", "npm"} {
		t.Run("push approved, signed by "+signer, func(t *testing.T) {
			user := "push-" + strings.ReplaceAll(signer, "/", "-")
			phone := e.ts.ActivatePhone(t, user)
			sig := e.goSign(t, user)
			if signer == "npm" {
				sig = e.rp.npmSign(t, user)
			}
			page, l := e.rp.login(user, sig, false)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// The delay keeps the "pushed" state on screen for its screenshot.
			answer := assenttest.AnswerNext(ctx, phone, true, 700*time.Millisecond)
			res := e.run(t, append([]step{
				{"do": "goto", "url": page, "shot": "login-page"},
				{"do": "read", "sel": duoFrame, "attr": "src", "as": "src"},
				{"do": "waitVisible", "frame": duoFrame, "sel": selPushButton, "shot": "prompt"},
				{"do": "click", "frame": duoFrame, "sel": selPushButton},
				{"do": "waitVisible", "frame": duoFrame, "sel": state("pushed"), "shot": "pushed"},
			}, waitLoggedIn()...))
			if a := assenttest.Received(t, answer); a.Tx.Attr("Username") != user {
				t.Errorf("the phone showed a push for %q, want %q", a.Tx.Attr("Username"), user)
			}
			loggedIn(t, l, res, user)
			checkFrameURL(t, res.str(t, "src"), e.ts.Host, sig, page)
			noPending(t, phone)
		})
	}

	t.Run("passcode", func(t *testing.T) {
		user := "passcode-user"
		phone := e.ts.ActivatePhone(t, user)
		code, err := phone.Passcode()
		if err != nil {
			t.Fatal(err)
		}
		page, l := e.rp.login(user, e.rp.npmSign(t, user), false)
		res := e.run(t, append([]step{
			{"do": "goto", "url": page},
			{"do": "waitVisible", "frame": duoFrame, "sel": selPasscode},
			{"do": "fill", "frame": duoFrame, "sel": selPasscode, "value": "12345678"}, // 8 digits: neither a HOTP (6) nor a bypass code (9), so never valid
			{"do": "click", "frame": duoFrame, "sel": selPasscodeBtn},
			{"do": "waitVisible", "frame": duoFrame, "sel": selStatusError, "shot": "wrong-passcode"},
			{"do": "read", "frame": duoFrame, "sel": "#status", "as": "wrong"},
			{"do": "fill", "frame": duoFrame, "sel": selPasscode, "value": code, "shot": "passcode-typed"},
			{"do": "press", "frame": duoFrame, "sel": selPasscode, "key": "Enter"},
		}, waitLoggedIn()...))
		if got := res.str(t, "wrong"); !strings.Contains(strings.ToLower(got), "incorrect") {
			t.Errorf("a wrong passcode shows %q", got)
		}
		loggedIn(t, l, res, user)
	})

	t.Run("push denied", func(t *testing.T) {
		user := "denied-user"
		phone := e.ts.ActivatePhone(t, user)
		page, l := e.rp.login(user, e.goSign(t, user), true)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		answer := assenttest.AnswerNext(ctx, phone, false, 500*time.Millisecond)
		res := e.run(t, []step{
			{"do": "goto", "url": page},
			{"do": "click", "frame": duoFrame, "sel": selPushButton},
			{"do": "waitVisible", "frame": duoFrame, "sel": state("pushed"), "shot": "pushed"},
			{"do": "waitVisible", "frame": duoFrame, "sel": state("choose") + " " + selStatusError, "shot": "denied"},
			{"do": "read", "frame": duoFrame, "sel": "#status", "as": "status"},
			// The prompt offers another try; nothing was posted.
			{"do": "waitVisible", "frame": duoFrame, "sel": selPushButton},
		})
		assenttest.Received(t, answer)
		if got := res.str(t, "status"); !strings.Contains(strings.ToLower(got), "denied") {
			t.Errorf("a denied push shows %q", got)
		}
		l.noPost(t)
		noPending(t, phone)
	})

	t.Run("enroll in the frame, then log in", func(t *testing.T) {
		user := "new-user" // unknown to Assent: the policy asks it to enroll
		page, l := e.rp.login(user, e.goSign(t, user), false)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var (
			mu     sync.Mutex
			answer <-chan assenttest.PushAnswer
		)
		// The hook plays the user activating the shown duo:// code with a
		// phone, which then approves the next push.
		activate := e.rp.hook(func(code string) error {
			phone, err := device.Activate(ctx, code, device.ActivateOptions{CAFile: e.ts.CAFile, Name: user + "'s phone"})
			if err != nil {
				return err
			}
			mu.Lock()
			answer = assenttest.AnswerNext(ctx, phone, true, 0)
			mu.Unlock()
			return nil
		})
		res := e.run(t, append([]step{
			{"do": "goto", "url": page},
			{"do": "waitVisible", "frame": duoFrame, "sel": selEnrollBtn, "shot": "enroll-intro"},
			{"do": "click", "frame": duoFrame, "sel": selEnrollBtn},
			{"do": "waitVisible", "frame": duoFrame, "sel": selActivation, "shot": "enroll-qr"},
			{"do": "read", "frame": duoFrame, "sel": selActivation, "as": "code"},
			{"do": "hook", "url": activate, "from": "code"},
			// The page notices the activation by itself and moves on to the login.
			{"do": "waitVisible", "frame": duoFrame, "sel": selPushButton, "shot": "enrolled"},
			{"do": "click", "frame": duoFrame, "sel": selPushButton},
		}, waitLoggedIn()...))
		if code := res.str(t, "code"); !strings.HasPrefix(code, "duo://") {
			t.Errorf("activation code %q", code)
		}
		mu.Lock()
		ch := answer
		mu.Unlock()
		if ch == nil {
			t.Fatal("the activation hook did not run")
		}
		assenttest.Received(t, ch)
		loggedIn(t, l, res, user)
		if devs, err := e.ts.App.Core.Devices(testCtx(t), user); err != nil || len(devs) != 1 {
			t.Errorf("devices of %s after enrolling in the frame: %v, %v", user, devs, err)
		}
	})

	// examples/websdk, run as its README says: password, then the prompt.
	t.Run("example app", func(t *testing.T) {
		user, password := "example-user", "example password"
		phone := e.ts.ActivatePhone(t, user)
		app := startExampleApp(t, e.ts.Host, e.ikey, e.skey, e.ts.CAFile, user, password)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		answer := assenttest.AnswerNext(ctx, phone, true, 0)
		res := e.run(t, []step{
			{"do": "goto", "url": app + "/"},
			{"do": "fill", "sel": "#username", "value": user},
			{"do": "fill", "sel": "#password", "value": "wrong"},
			{"do": "click", "sel": "#login-submit"},
			{"do": "waitVisible", "sel": "#login-error", "shot": "wrong-password"},
			{"do": "fill", "sel": "#password", "value": password},
			{"do": "click", "sel": "#login-submit"},
			{"do": "waitVisible", "frame": duoFrame, "sel": selPushButton, "shot": "second-step"},
			{"do": "click", "frame": duoFrame, "sel": selPushButton},
			{"do": "waitVisible", "sel": "#welcome", "shot": "welcome"},
			{"do": "read", "sel": "#welcome", "attr": "data-user", "as": "loggedIn"},
		})
		assenttest.Received(t, answer)
		if got := res.str(t, "loggedIn"); got != user {
			t.Errorf("the example app greets %q, want %q", got, user)
		}
		if len(res.PageErrors) > 0 {
			t.Errorf("script errors: %q", res.PageErrors)
		}
	})

	// An integration whose allowed origins do not include the page: the
	// frame's CSP frame-ancestors makes Chromium refuse to show it, so the
	// page gets no answer at all.
	t.Run("page not among the allowed origins", func(t *testing.T) {
		in, skey, err := e.ts.App.Core.CreateIntegration(testCtx(t), auth.NewIntegration{
			Name: "origins", Type: store.TypeWebSDK, AllowedOrigins: []string{"https://app.example.com"},
		})
		if err != nil {
			t.Fatal(err)
		}
		rp := startRelyingParty(t, e.node, e.dir, e.ts.Host, in.IKey, skey)
		user := "origin-user"
		e.ts.ActivatePhone(t, user)
		sig, err := duoweb.SignRequest(in.IKey, skey, rp.akey, user)
		if err != nil {
			t.Fatal(err)
		}
		page, l := rp.login(user, sig, false)
		res := runBrowser(t, e.node, e.dir, scenario{SPKI: append(e.spki, rp.SPKI...), Steps: []step{
			{"do": "goto", "url": page},
			{"do": "waitConsole", "pattern": "frame-ancestors", "shot": "blocked"},
		}}, rp.CAFile, false)
		if strings.Contains(res.FrameText, "Send me a push") {
			t.Errorf("the prompt showed in a page of another origin: %q", res.FrameText)
		}
		time.Sleep(300 * time.Millisecond) // a post would have followed the frame at once
		l.noPost(t)
	})

	// A bad sig_request: the frame shows an error and posts ERR|…, which
	// the application rejects; there is never an AUTH answer.
	badRequests := []struct {
		name, wantErr string
		sig           func(t *testing.T, user string) string
	}{
		{"tampered sig_request", "invalid", func(t *testing.T, user string) string {
			// Another user in the TX half, the signature left as it was.
			sig := e.goSign(t, user)
			tx, app, _ := strings.Cut(sig, ":")
			parts := strings.Split(tx, "|")
			v, err := duoweb.PeekValue(tx)
			if err != nil {
				t.Fatal(err)
			}
			v.Username = "mallory"
			forged := strings.Split(v.Sign("0123456789012345678901234567890123456789"), "|")
			return parts[0] + "|" + forged[1] + "|" + parts[2] + ":" + app
		}},
		{"expired sig_request", "expired", func(t *testing.T, user string) string {
			// Signed six minutes ago: the TX half (300 s) has expired, the
			// APP half (3600 s) has not.
			sdk := duoweb.SDK{Now: func() time.Time { return time.Now().Add(-6 * time.Minute) }}
			sig, err := sdk.SignRequest(e.ikey, e.skey, e.rp.akey, user)
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}},
	}
	for _, tc := range badRequests {
		t.Run(tc.name, func(t *testing.T) {
			user := "bad-request-user"
			page, l := e.rp.login(user, tc.sig(t, user), true)
			res := e.run(t, []step{
				{"do": "goto", "url": page},
				{"do": "waitVisible", "frame": duoFrame, "sel": state("error")},
				{"do": "read", "frame": duoFrame, "sel": "#status", "as": "frameError"},
				{"do": "waitVisible", "frame": "#rp_result", "sel": selRPResult, "shot": "error"},
				{"do": "read", "frame": "#rp_result", "sel": selRPResult, "attr": "data-user", "as": "loggedIn"},
			})
			if got := res.str(t, "frameError"); !strings.Contains(strings.ToLower(got), tc.wantErr) {
				t.Errorf("the frame shows %q, want it to mention %q", got, tc.wantErr)
			}
			if got := res.str(t, "loggedIn"); got != "" {
				t.Errorf("the application logged in %q", got)
			}
			refused(t, l, tc.wantErr)
		})
	}
}

// checkFrameURL checks the iframe URL Duo-Web-v2.js built: Assent's frame
// with the TX half and the page URL, as spec §3.3 describes for v2.9.
func checkFrameURL(t *testing.T, src, host, sig, page string) {
	t.Helper()
	u, err := url.Parse(src)
	if err != nil {
		t.Fatalf("iframe src %q: %v", src, err)
	}
	tx, _, _ := strings.Cut(sig, ":")
	q := u.Query()
	if u.Scheme != "https" || u.Host != host || u.Path != "/frame/web/v1/auth" ||
		q.Get("tx") != tx || q.Get("parent") != page || q.Get("v") != "2.9" {
		t.Errorf("iframe src %q: want https://%s/frame/web/v1/auth?tx=<TX half>&parent=%s&v=2.9", src, host, page)
	}
}

// uniResult is a uni.health / uni.exchange output of the driver.
type uniResult struct {
	OK    bool           `json:"ok"`
	Error string         `json:"error"`
	Stat  string         `json:"stat"`
	Token map[string]any `json:"token"`
}

func (r driverResult) uni(t *testing.T, name string) uniResult {
	t.Helper()
	var u uniResult
	if err := json.Unmarshal(r.Outputs[name], &u); err != nil {
		t.Fatalf("driver output %s: %v (%s)", name, err, r.Outputs[name])
	}
	return u
}

// TestBrowserUniversal drives the Universal Prompt with the official npm
// @duosecurity/duo_universal client around a real browser: health check,
// createAuthUrl, the prompt with a push approved on the phone, the redirect
// back, and exchangeAuthorizationCodeFor2FAResult. The refusals that need a
// real code (a wrong client secret, a replayed code, another username) use
// the codes of these browser flows; internal/universal tests the rest.
func TestBrowserUniversal(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.integration(t, store.TypeUniversal)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)
	const user = "universal-user"
	phone := ts.ActivatePhone(t, user)

	// The phone approves the two pushes of the two flows below.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	answers := make(chan assenttest.PushAnswer, 2)
	go func() {
		for range 2 {
			a := <-assenttest.AnswerNext(ctx, phone, true, 700*time.Millisecond)
			answers <- a
			if a.Err != nil {
				return
			}
		}
	}()

	wrongSecret := strings.Repeat("x", 40)
	sc := scenario{
		SPKI: append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...),
		Universal: &universalConfig{
			Host: ts.Host, CA: ts.CAFile, Redirect: rp.URL + "/universal/callback",
			Clients: map[string]uniClient{"app": {ikey, skey}, "wrongSecret": {ikey, wrongSecret}},
		},
		Steps: []step{
			{"do": "uni.health", "client": "app", "as": "health"},
			{"do": "uni.health", "client": "wrongSecret", "as": "healthWrongSecret"},
			// Flow 1: the prompt, a push, the redirect, the exchange.
			{"do": "uni.authURL", "client": "app", "username": user, "as": "authURL"},
			{"do": "goto", "urlFrom": "authURL"},
			{"do": "waitVisible", "sel": selPushButton, "shot": "prompt"},
			{"do": "click", "sel": selPushButton},
			{"do": "waitVisible", "sel": state("pushed"), "shot": "pushed"},
			{"do": "waitURL", "pattern": "/universal/callback\\?", "shot": "callback"},
			{"do": "uni.callback", "as": "callback"},
			// The client authenticates before the code is looked at, so this
			// refusal leaves the code usable.
			{"do": "uni.exchange", "client": "wrongSecret", "username": user, "as": "exchangeWrongSecret"},
			{"do": "uni.exchange", "client": "app", "username": user, "as": "exchange"},
			{"do": "uni.exchange", "client": "app", "username": user, "as": "exchangeReplayed"},
			// Flow 2: a code for the user, exchanged for another username.
			{"do": "uni.authURL", "client": "app", "username": user, "as": "authURL2"},
			{"do": "goto", "urlFrom": "authURL2"},
			{"do": "click", "sel": selPushButton},
			{"do": "waitURL", "pattern": "/universal/callback\\?"},
			{"do": "uni.exchange", "client": "app", "username": "mallory", "as": "exchangeOtherUser"},
			// Flow 3: a request signed with the wrong secret never shows the prompt.
			{"do": "uni.authURL", "client": "wrongSecret", "username": user, "as": "authURLWrongSecret"},
			{"do": "goto", "urlFrom": "authURLWrongSecret"},
			{"do": "waitVisible", "sel": state("error"), "shot": "wrong-secret"},
			{"do": "read", "sel": "#status", "as": "wrongSecretError"},
		},
	}
	res := runBrowser(t, node, dir, sc, rp.CAFile, false)
	for range 2 {
		assenttest.Received(t, answers)
	}
	noPending(t, phone)

	if h := res.uni(t, "health"); !h.OK || h.Stat != "OK" {
		t.Errorf("healthCheck: %+v", h)
	}
	if h := res.uni(t, "healthWrongSecret"); h.OK {
		t.Errorf("healthCheck with a wrong client secret succeeded: %+v", h)
	}
	var cb struct {
		DuoCode string `json:"duo_code"`
		State   string `json:"state"`
		URL     string `json:"url"`
	}
	if err := json.Unmarshal(res.Outputs["callback"], &cb); err != nil {
		t.Fatal(err)
	}
	if cb.DuoCode == "" || cb.State != res.str(t, "authURLState") {
		t.Errorf("callback %s: want duo_code and state %q", cb.URL, res.str(t, "authURLState"))
	}
	if r := res.uni(t, "exchangeWrongSecret"); r.OK || !strings.Contains(r.Error, "invalid_client") {
		t.Errorf("exchange with a wrong client secret: %+v", r)
	}
	ex := res.uni(t, "exchange")
	if !ex.OK {
		t.Fatalf("exchangeAuthorizationCodeFor2FAResult: %s", ex.Error)
	}
	tok := ex.Token
	result, _ := tok["auth_result"].(map[string]any)
	if tok["preferred_username"] != user || tok["aud"] != ikey || tok["iss"] != "https://"+ts.Host+"/oauth/v1/token" ||
		result["result"] != "allow" {
		t.Errorf("id_token claims: %v", tok)
	}
	if r := res.uni(t, "exchangeReplayed"); r.OK || !strings.Contains(r.Error, "invalid_grant") {
		t.Errorf("replayed code: %+v", r)
	}
	// The SDK's own check: preferred_username must be the user it asked for.
	if r := res.uni(t, "exchangeOtherUser"); r.OK || !strings.Contains(r.Error, "username is invalid") {
		t.Errorf("code exchanged for another username: %+v", r)
	}
	if got := res.str(t, "wrongSecretError"); !strings.Contains(got, "could not be verified") {
		t.Errorf("a request signed with a wrong secret shows %q", got)
	}
	if strings.Contains(res.URL, "/universal/callback") {
		t.Errorf("a request signed with a wrong secret redirected to %s", res.URL)
	}
}

package frame_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/pkg/duoweb"
)

const (
	akey       = "an application secret key of forty or more characters"
	parentPage = "https://app.example:8443/login?next=/wiki"
	parentOrig = "https://app.example:8443"
)

// app is a Web SDK application: its keys and its signer.
type app struct {
	s    *prompttest.Stack
	in   store.Integration
	skey string
}

func newApp(t *testing.T, policy store.NewUserPolicy, origins ...string) *app {
	t.Helper()
	s := prompttest.New(t, prompttest.Options{})
	in, skey := s.Integration(t, store.TypeWebSDK, policy, origins...)
	return &app{s: s, in: in, skey: skey}
}

// sign returns a sig_request for user, as the application's server makes it.
func (a *app) sign(t *testing.T, user string) (tx, appHalf string) {
	t.Helper()
	sig, err := duoweb.SDK{Now: a.s.Clock.Now}.SignRequest(a.in.IKey, a.skey, akey, user)
	if err != nil {
		t.Fatal(err)
	}
	tx, appHalf, _ = strings.Cut(sig, ":")
	return tx, appHalf
}

// frame loads the iframe as Duo-Web-v2.js 2.9 does.
func (a *app) frame(t *testing.T, tx string) *prompttest.Page {
	t.Helper()
	return a.s.Get(t, "/frame/web/v1/auth?tx="+url.QueryEscape(tx)+"&parent="+url.QueryEscape(parentPage)+"&v=2.9")
}

// verify checks the posted message as the application does with
// sig_response = message + ":" + APP half.
func (a *app) verify(t *testing.T, p *prompttest.Page, appHalf, user string) {
	t.Helper()
	if p.State() != "done" {
		t.Fatalf("page state %q, want done (status %d, message %q)", p.State(), p.Status, p.Text("status"))
	}
	msg := p.Attr("data-parent-message")
	if !strings.HasPrefix(msg, "AUTH|") {
		t.Fatalf("parent message %q, want AUTH|…", msg)
	}
	if got := p.Attr("data-parent-origin"); got != parentOrig {
		t.Errorf("parent origin %q, want %q", got, parentOrig)
	}
	got, err := duoweb.SDK{Now: a.s.Clock.Now}.VerifyResponse(a.in.IKey, a.skey, akey, msg+":"+appHalf)
	if err != nil || got != user {
		t.Fatalf("VerifyResponse = %q, %v; want %q", got, err, user)
	}
}

func noAuth(t *testing.T, p *prompttest.Page) {
	t.Helper()
	if strings.Contains(p.Body, "AUTH|") {
		t.Fatalf("page carries an AUTH message:\n%s", p.Body)
	}
}

func TestPushApproved(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyEnroll)
	d := a.s.Enroll(t, "alice")
	tx, appHalf := a.sign(t, "alice")

	p := a.frame(t, tx)
	if p.Status != 200 || p.State() != "choose" {
		t.Fatalf("frame: status %d state %q\n%s", p.Status, p.State(), p.Body)
	}
	if !p.Has("push-button") || !p.Has("passcode") || !strings.Contains(p.Body, "Test phone (Android)") {
		t.Errorf("choose page lacks the push button, passcode field or device name:\n%s", p.Body)
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors " + parentOrig} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") {
		t.Error("the page relies on inline script or style")
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := p.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if p.Header.Get("X-Frame-Options") != "" {
		t.Error("X-Frame-Options would forbid the parent page to frame the prompt")
	}

	pushed := a.s.Action(t, p, "/prompt/push", "device", d.ID)
	if pushed.State() != "pushed" {
		t.Fatalf("after push: state %q\n%s", pushed.State(), pushed.Body)
	}
	txid := a.s.Answer(t, d, true)
	st := a.s.Action(t, pushed, "/prompt/status")
	if !strings.Contains(st.Body, `"state":"allow"`) || st.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status: %d %s", st.Status, st.Body)
	}
	done := a.s.Action(t, pushed, "/prompt/check")
	a.verify(t, done, appHalf, "alice")

	// The approval finishes one login only.
	again := a.s.Action(t, pushed, "/prompt/check")
	noAuth(t, again)
	if again.State() != "error" {
		t.Errorf("replayed check: state %q", again.State())
	}

	logs, err := a.s.Store.ListAuthLog(context.Background(), store.AuthLogFilter{IKey: a.in.IKey})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 1 || logs[0].TxID != txid || logs[0].Result != "allow" || logs[0].Reason != auth.ReasonUserApproved {
		t.Errorf("auth log %+v, want one approved push %s", logs, txid)
	}
}

func TestPushDeniedAndTimeout(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyEnroll)
	d := a.s.Enroll(t, "bob")
	tx, _ := a.sign(t, "bob")
	p := a.frame(t, tx)

	pushed := a.s.Action(t, p, "/prompt/push", "device", "auto")
	a.s.Answer(t, d, false)
	denied := a.s.Action(t, pushed, "/prompt/check")
	noAuth(t, denied)
	if denied.State() != "choose" || denied.Text("status") != "Login request denied." {
		t.Fatalf("after a denial: state %q, status %q", denied.State(), denied.Text("status"))
	}

	// Retry from the same page; nobody answers.
	pushed = a.s.Action(t, denied, "/prompt/push", "device", d.ID)
	a.s.Clock.Advance(11 * time.Second) // past the push timeout
	timedOut := a.s.Action(t, pushed, "/prompt/check")
	noAuth(t, timedOut)
	if timedOut.State() != "choose" || timedOut.Text("status") != "Login timed out." {
		t.Fatalf("after a timeout: state %q, status %q", timedOut.State(), timedOut.Text("status"))
	}
}

func TestPasscode(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyEnroll)
	d := a.s.Enroll(t, "carol")
	issued, err := a.s.Core.IssueBypassCodes(context.Background(), "carol", auth.NewBypassCodes{Count: 1, Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	codes := issued.Codes
	tx, appHalf := a.sign(t, "carol")
	p := a.frame(t, tx)

	for _, tc := range []struct{ code, msg string }{
		{"", "Enter a passcode."},
		{"12345 6", "That is not a valid passcode."},
		{"000000", "Incorrect passcode. Please try again."},
	} {
		bad := a.s.Action(t, p, "/prompt/passcode", "passcode", tc.code)
		noAuth(t, bad)
		if bad.State() != "choose" || bad.Text("status") != tc.msg {
			t.Errorf("passcode %q: state %q, status %q, want %q", tc.code, bad.State(), bad.Text("status"), tc.msg)
		}
	}
	a.verify(t, a.s.Action(t, p, "/prompt/passcode", "passcode", d.Passcode(t)), appHalf, "carol")
	a.verify(t, a.s.Action(t, p, "/prompt/passcode", "passcode", codes[0]), appHalf, "carol")
}

func TestLockout(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyEnroll) // lockout after 3 failures
	a.s.Enroll(t, "dave")
	tx, _ := a.sign(t, "dave")
	p := a.frame(t, tx)
	for range 3 {
		p = a.s.Action(t, p, "/prompt/passcode", "passcode", "999999")
	}
	if p.State() != "refused" || !strings.Contains(p.Text("status"), "locked out") {
		t.Fatalf("after 3 failures: state %q, status %q", p.State(), p.Text("status"))
	}
	if p.Has("passcode") || p.Has("push-button") {
		t.Error("a locked-out user is offered a way to log in")
	}
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy store.NewUserPolicy
		status store.UserStatus // for an existing user without devices; "" for an unknown user
		state  string
		msg    string
	}{
		{"allow policy", store.PolicyAllow, "", "done", ""},
		{"deny policy", store.PolicyDeny, "", "refused", "Your account is not enrolled; contact your administrator"},
		{"enroll policy", store.PolicyEnroll, "", "enroll-intro", ""},
		{"bypass user", store.PolicyDeny, store.StatusBypass, "done", ""},
		{"disabled user", store.PolicyAllow, store.StatusDisabled, "refused", "Your account is disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, tc.policy)
			if tc.status != "" {
				if _, err := a.s.Core.CreateUser(context.Background(), "erin"); err != nil {
					t.Fatal(err)
				}
				if _, err := a.s.Core.SetUserStatus(context.Background(), "erin", tc.status); err != nil {
					t.Fatal(err)
				}
			}
			tx, appHalf := a.sign(t, "erin")
			p := a.frame(t, tx)
			if p.State() != tc.state {
				t.Fatalf("state %q, want %q\n%s", p.State(), tc.state, p.Body)
			}
			if tc.state == "done" {
				a.verify(t, p, appHalf, "erin")
				return
			}
			noAuth(t, p)
			if got := p.Text("status"); got != tc.msg {
				t.Errorf("status %q, want %q", got, tc.msg)
			}
		})
	}
}

func TestInlineEnrollment(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyEnroll)
	tx, appHalf := a.sign(t, "frank")
	p := a.frame(t, tx)
	if p.State() != "enroll-intro" {
		t.Fatalf("state %q", p.State())
	}
	qr := a.s.Action(t, p, "/prompt/enroll")
	code := qr.Text("activation-code")
	if qr.State() != "enroll-qr" || !strings.HasPrefix(code, "duo://") {
		t.Fatalf("enroll: state %q, code %q\n%s", qr.State(), code, qr.Body)
	}
	img := a.s.Get(t, "/frame/qr?value="+url.QueryEscape(code))
	if img.Status != 200 || !strings.HasPrefix(img.Body, "\x89PNG") {
		t.Errorf("QR image: %d", img.Status)
	}
	if st := a.s.Action(t, qr, "/prompt/enrolled"); st.State() != "enroll-qr" || st.Text("status") != "The device has not been activated yet." {
		t.Errorf("continue before activation: state %q, status %q", st.State(), st.Text("status"))
	}

	d := a.s.Activate(t, code)
	st := a.s.Action(t, qr, "/prompt/enroll_status")
	if !strings.Contains(st.Body, `"state":"success"`) {
		t.Fatalf("enroll_status: %s", st.Body)
	}
	login := a.s.Action(t, qr, "/prompt/enrolled")
	if login.State() != "choose" || login.Text("status") != "Device added. Now log in with it." {
		t.Fatalf("after activation: state %q, status %q", login.State(), login.Text("status"))
	}
	pushed := a.s.Action(t, login, "/prompt/push", "device", d.ID)
	a.s.Answer(t, d, true)
	a.verify(t, a.s.Action(t, pushed, "/prompt/check"), appHalf, "frank")

	// The enrollment page cannot enroll a second device now.
	if again := a.s.Action(t, p, "/prompt/enroll"); again.State() != "choose" {
		t.Errorf("enroll again: state %q", again.State())
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyAllow)
	authapi, authSkey := a.s.Integration(t, store.TypeAuthAPI, store.PolicyAllow)
	tx, appHalf := a.sign(t, "gina")
	expired := duoweb.Value{Prefix: duoweb.PrefixTX, Username: "gina", IKey: a.in.IKey,
		Expires: a.s.Clock.Now().Add(-time.Second)}.Sign(a.skey)
	wrongType := duoweb.Value{Prefix: duoweb.PrefixTX, Username: "gina", IKey: authapi.IKey,
		Expires: a.s.Clock.Now().Add(time.Minute)}.Sign(authSkey)
	tampered := strings.Replace(tx, "|", "|Z", 1)
	sigFlip := tx[:len(tx)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", tx[len(tx)-1])+1)%16])
	otherUser := duoweb.Value{Prefix: duoweb.PrefixTX, Username: "mallory", IKey: a.in.IKey,
		Expires: a.s.Clock.Now().Add(time.Minute)}.Sign("not the secret key, but forty characters")

	for _, tc := range []struct {
		name, query string
		status      int
		err         string
	}{
		{"tampered payload", "tx=" + url.QueryEscape(tampered), 400, "ERR|This login request is invalid."},
		{"tampered signature", "tx=" + url.QueryEscape(sigFlip), 400, "ERR|This login request is invalid."},
		{"wrong key", "tx=" + url.QueryEscape(otherUser), 400, "ERR|This login request is invalid."},
		{"expired", "tx=" + url.QueryEscape(expired), 400, "ERR|This login request has expired. Log in again."},
		{"authapi integration", "tx=" + url.QueryEscape(wrongType), 403, "ERR|This integration cannot use the Web SDK prompt."},
		{"APP half as tx", "tx=" + url.QueryEscape(appHalf), 400, "ERR|This login request is invalid."},
		{"no tx", "", 400, "ERR|This login request is incomplete."},
		{"garbage", "tx=nonsense", 400, "ERR|This login request is invalid."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := a.s.Get(t, "/frame/web/v1/auth?"+tc.query+"&parent="+url.QueryEscape(parentPage)+"&v=2.9")
			noAuth(t, p)
			if p.Status != tc.status || p.State() != "error" {
				t.Errorf("status %d state %q, want %d error", p.Status, p.State(), tc.status)
			}
			if got := p.Attr("data-parent-message"); got != tc.err {
				t.Errorf("parent message %q, want %q", got, tc.err)
			}
			if got := p.Attr("data-parent-origin"); got != parentOrig {
				t.Errorf("parent origin %q", got)
			}
			if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+parentOrig) {
				t.Errorf("CSP %q", csp)
			}
		})
	}

	// A bad request from a page without a web origin posts nothing.
	p := a.s.Get(t, "/frame/web/v1/auth?tx="+url.QueryEscape(expired)+"&parent=about:blank")
	if p.Attr("data-parent-message") != "" || p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("no origin: message %q, X-Frame-Options %q", p.Attr("data-parent-message"), p.Header.Get("X-Frame-Options"))
	}
}

// Old Duo-Web-v2.js versions send tx (2.1–2.8) and parent (2.1–2.2)
// unencoded; a "+" in the base64 must survive.
func TestUnencodedParams(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyAllow)
	user := ""
	var tx, appHalf string
	for i := 0; user == ""; i++ {
		u := "user" + strings.Repeat("~", i%7) + string(rune('a'+i%26)) + "?>"
		tx, appHalf = a.sign(t, u)
		if strings.ContainsAny(strings.Split(tx, "|")[1], "+/") {
			user = u
		}
	}
	for _, v := range []string{"2.1", "2.3"} {
		parent := url.QueryEscape(parentPage)
		if v == "2.1" {
			parent = parentPage
		}
		p := a.s.Get(t, "/frame/web/v1/auth?tx="+tx+"&parent="+parent+"&v="+v)
		a.verify(t, p, appHalf, user)
	}
}

func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyAllow, "https://app.example:8443", "https://other.example")
	tx, appHalf := a.sign(t, "hank")
	p := a.frame(t, tx)
	a.verify(t, p, appHalf, "hank")
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://app.example:8443 https://other.example;") &&
		!strings.HasSuffix(csp, "frame-ancestors https://app.example:8443 https://other.example") {
		t.Errorf("CSP %q", csp)
	}

	// A page that is not allowed gets neither the prompt nor a message.
	p = a.s.Get(t, "/frame/web/v1/auth?tx="+url.QueryEscape(tx)+"&parent="+url.QueryEscape("https://evil.example/")+"&v=2.9")
	noAuth(t, p)
	if p.Status != 403 || p.Attr("data-parent-message") != "" {
		t.Errorf("disallowed parent: status %d, message %q", p.Status, p.Attr("data-parent-message"))
	}
}

func TestCSRFAndState(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyEnroll)
	a.s.Enroll(t, "ivy")
	tx, _ := a.sign(t, "ivy")
	p := a.frame(t, tx)
	form := url.Values{"session": {p.Session()}, "passcode": {"123456"}}
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		form   url.Values
		status int
	}{
		{"cross-site origin", map[string]string{"Origin": "https://evil.example"}, form, 403},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, form, 403},
		{"same-site fetch", map[string]string{"Sec-Fetch-Site": "same-site"}, form, 403},
		{"null origin", map[string]string{"Origin": "null"}, form, 403},
		{"no session", map[string]string{}, url.Values{"passcode": {"123456"}}, 400},
		{"tampered session", map[string]string{}, url.Values{"session": {p.Session()[:40] + "A" + p.Session()[41:]}}, 400},
		{"not base64", map[string]string{}, url.Values{"session": {"!!"}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string][]string{}
			for k, v := range tc.hdr {
				hdr[k] = []string{v}
			}
			got := a.s.Do(t, "POST", "/prompt/passcode", tc.form, hdr)
			if got.Status != tc.status || got.State() != "error" {
				t.Errorf("status %d state %q, want %d error", got.Status, got.State(), tc.status)
			}
		})
	}
	// Without Origin and Sec-Fetch-Site (old browsers) the sealed state
	// alone is enough.
	if got := a.s.Do(t, "POST", "/prompt/passcode", form, nil); got.State() != "choose" {
		t.Errorf("plain POST: state %q", got.State())
	}

	// An expired prompt cannot be continued.
	a.s.Clock.Advance(16 * time.Minute)
	got := a.s.Post(t, "/prompt/passcode", form)
	if got.Status != 400 || !strings.Contains(got.Text("status"), "expired") {
		t.Errorf("expired session: %d %q", got.Status, got.Text("status"))
	}
	if csp := got.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+parentOrig) {
		t.Errorf("expired-session page CSP %q: the parent could not show it", csp)
	}
}

// TestDomainUsername: with the integration's username normalization
// "simple", an application that signs EXAMPLE\carol (or an alias of carol)
// gets carol's prompt, and the signed response names the user as the
// application sent it, which is what its check compares.
func TestDomainUsername(t *testing.T) {
	t.Parallel()
	a := newApp(t, store.PolicyDeny)
	ctx := context.Background()
	simple := "simple"
	if _, err := a.s.Core.UpdateIntegration(ctx, a.in.IKey, auth.IntegrationUpdate{UsernameNormalization: &simple}); err != nil {
		t.Fatal(err)
	}
	d := a.s.Enroll(t, "carol")
	if _, err := a.s.Core.AddUserAlias(ctx, "carol", "c.jones"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`EXAMPLE\carol`, "Carol@example.com", `EXAMPLE\C.Jones`} {
		tx, appHalf := a.sign(t, name)
		p := a.frame(t, tx)
		if p.State() != "choose" {
			t.Fatalf("%s: state %q (%q), want carol's choice of devices", name, p.State(), p.Text("status"))
		}
		a.verify(t, a.s.Action(t, p, "/prompt/passcode", "passcode", d.Passcode(t)), appHalf, name)
	}
	// Under none, EXAMPLE\carol is an unknown user: denied by the policy.
	none := "none"
	if _, err := a.s.Core.UpdateIntegration(ctx, a.in.IKey, auth.IntegrationUpdate{UsernameNormalization: &none}); err != nil {
		t.Fatal(err)
	}
	tx, _ := a.sign(t, `EXAMPLE\carol`)
	p := a.frame(t, tx)
	noAuth(t, p)
	if p.State() == "choose" {
		t.Errorf(`EXAMPLE\carol under none: state %q, want a refusal`, p.State())
	}
}

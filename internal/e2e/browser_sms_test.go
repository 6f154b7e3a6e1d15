package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/console"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBrowserSMS drives text messages in headless Chromium, with the
// server's http SMS provider pointed at a loopback capture that the test
// reads the codes from: in the self-service portal a user (signed in with a
// bypass code) adds a phone number, types a wrong code (the page says so),
// then the code texted to it, and sees the number among their methods; in
// the Universal Prompt (the npm @duosecurity/duo_universal client around
// it) the user chooses "Text me passcodes", types one of the texted
// passcodes and is logged in, which the client's code exchange confirms.
// Then at a phone's size: the portal's number form and code page and the
// prompt's SMS button. In the console, an administrator gives the user a
// third number from the user page. npm axe-core runs on every page; screenshots go to
// test-artifacts/browser/TestBrowserSMS-*/.
func TestBrowserSMS(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	sms := testutil.StartSMSCapture(t)
	ts := startServer(t, serverOptions{engine: SQLite, flags: sms.Flags()})
	ikey, skey := ts.integration(t, store.TypeUniversal)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)
	ctx := testCtx(t)
	const user = "sms-user"
	if _, err := ts.App.Core.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	codes, err := ts.App.Core.IssueBypassCodes(ctx, user, auth.NewBypassCodes{Count: 2, Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ts.Host
	adminCookie := "document.cookie = '" + console.CookieName + "=" + adminSession(t, ts) + "; Secure; Path=/; SameSite=Strict'; 'ok'"
	u, err := ts.App.Core.User(ctx, user)
	if err != nil {
		t.Fatal(err)
	}

	// codeOf waits for message n (1-based) at the capture and gives the
	// code in it: the hooks run outside the test goroutine (errors, no
	// t.Fatal).
	codeOf := func(n int, re *regexp.Regexp) string {
		return rp.hookValue(func(string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for {
				if m := sms.Messages(); len(m) >= n {
					c := re.FindString(m[n-1].Body)
					if c == "" {
						return "", fmt.Errorf("no code in message %d: %q", n, m[n-1].Body)
					}
					return c, nil
				}
				select {
				case <-ctx.Done():
					return "", fmt.Errorf("message %d never came: %w", n, ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	proof, passcode := regexp.MustCompile(`\b[0-9]{6}\b`), regexp.MustCompile(`\b[0-9]{7}\b`)
	spki := append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...)
	uni := &universalConfig{Host: ts.Host, CA: ts.CAFile, Redirect: rp.URL + "/universal/callback",
		Clients: map[string]uniClient{"app": {ikey, skey}}}
	var (
		pages []string
		steps []step
	)
	add := func(s ...step) { steps = append(steps, s...) }
	axe := func(name string) {
		pages = append(pages, name)
		add(step{"do": "axe", "as": "axe-" + name})
	}
	signIn := func(code string) {
		add(step{"do": "goto", "url": base + "/my/login"},
			step{"do": "fill", "sel": "#username", "value": user},
			step{"do": "press", "sel": "#username", "key": "Enter"},
			step{"do": "fill", "sel": "#passcode", "value": code},
			step{"do": "click", "sel": "#passcode-button"},
			step{"do": "waitVisible", "sel": "#add-number"})
	}
	const numberItem = "li[data-kind=device]"

	// Desktop: the whole journey.
	signIn(codes.Codes[0])
	add(step{"do": "click", "sel": "#add-number"},
		step{"do": "waitVisible", "sel": "#number", "shot": "add-number"})
	axe("add-number")
	add(step{"do": "fill", "sel": "#number", "value": "+44 20 7946 0958"},
		step{"do": "fill", "sel": "#number-name", "value": "Work mobile"},
		step{"do": "click", "sel": "#send-code"},
		step{"do": "waitVisible", "sel": "[data-testid=masked-number]", "shot": "add-number-code"},
		step{"do": "read", "sel": "[data-testid=masked-number]", "as": "masked"})
	axe("add-number-code")
	add(step{"do": "fill", "sel": "#code", "value": "000000x"},
		step{"do": "click", "sel": "#confirm-number"},
		step{"do": "waitVisible", "sel": "#status.error", "shot": "add-number-wrong"},
		step{"do": "read", "sel": "#status", "as": "wrongMsg"},
		step{"do": "hook", "url": codeOf(1, proof), "from": "masked", "as": "proofCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "proofCode"},
		step{"do": "click", "sel": "#confirm-number"},
		step{"do": "waitText", "text": "Your phone number was added"},
		step{"do": "waitVisible", "sel": numberItem, "shot": "number-added"},
		step{"do": "read", "sel": numberItem + " [data-testid=method-number]", "as": "listed"})
	axe("number-added")
	// The Universal Prompt: text me passcodes, then one of them.
	add(step{"do": "uni.authURL", "client": "app", "username": user, "as": "authURL"},
		step{"do": "goto", "urlFrom": "authURL"},
		step{"do": "waitVisible", "sel": "[data-testid=sms-button]", "shot": "prompt-sms"},
		step{"do": "read", "sel": "[data-testid=sms-button]", "as": "smsButton"})
	axe("prompt-sms")
	add(step{"do": "click", "sel": "[data-testid=sms-button]"},
		step{"do": "waitText", "text": "New SMS passcodes sent."},
		step{"do": "waitVisible", "sel": "#passcode", "shot": "prompt-sms-sent"})
	axe("prompt-sms-sent")
	add(step{"do": "hook", "url": codeOf(2, passcode), "from": "masked", "as": "smsCode"},
		step{"do": "fill", "sel": "#passcode", "valueFrom": "smsCode"},
		step{"do": "click", "sel": "#passcode-button"},
		step{"do": "waitURL", "pattern": "/universal/callback\\?"},
		step{"do": "uni.exchange", "client": "app", "username": user, "as": "exchange"})
	// The console: an administrator gives the user a third number.
	consoleUser := func() {
		add(step{"do": "goto", "url": base + "/admin/login"},
			step{"do": "eval", "expr": adminCookie, "as": "cookie"},
			step{"do": "goto", "url": base + "/admin/users/" + u.ID},
			step{"do": "waitVisible", "sel": "#add-phone-number", "shot": "console-user-number"})
		axe("console-user-number")
	}
	consoleUser()
	add(step{"do": "fill", "sel": "#phone-number", "value": "+1 555 555 0142"},
		step{"do": "fill", "sel": "#phone-name", "value": "Desk phone"},
		step{"do": "click", "sel": "#add-number-button"},
		step{"do": "waitText", "text": "The phone number was added", "shot": "console-number-added"},
		step{"do": "read", "sel": "[data-testid=device-number]", "as": "consoleNumber"})
	axe("console-number-added")
	res := runBrowser(t, node, dir, scenario{Name: "TestBrowserSMS-desktop", SPKI: spki, Universal: uni,
		Viewport: map[string]int{"width": 1280, "height": 900}, TimeoutMs: 15000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "desktop")
	if got := res.str(t, "masked"); got != "XXX-XXX-0958" {
		t.Errorf("the code page names %q", got)
	}
	if got := res.str(t, "wrongMsg"); got != auth.ErrPhoneProofWrong.Detail {
		t.Errorf("a wrong code says %q", got)
	}
	if got := res.str(t, "listed"); got != "XXX-XXX-0958" {
		t.Errorf("the methods list the number as %q", got)
	}
	if got := res.str(t, "smsButton"); got != "Text me passcodes at XXX-XXX-0958" {
		t.Errorf("the prompt's SMS button reads %q", got)
	}
	if got := res.str(t, "consoleNumber"); got != "XXX-XXX-0958" {
		t.Errorf("the console's first device number reads %q", got)
	}
	if ex := res.uni(t, "exchange"); !ex.OK || ex.Token["preferred_username"] != user {
		t.Errorf("code exchange after the SMS passcode: %+v", ex)
	}
	msgs := sms.Messages()
	if len(msgs) != 2 || msgs[0].To != "+442079460958" || msgs[1].To != "+442079460958" {
		t.Fatalf("messages: %+v", msgs)
	}
	if !strings.Contains(msgs[1].Body, "SMS passcodes: ") {
		t.Errorf("the prompt's message: %q", msgs[1].Body)
	}

	// A phone's size: the pages again (a second number).
	pages, steps = nil, nil
	signIn(codes.Codes[1])
	add(step{"do": "click", "sel": "#add-number"},
		step{"do": "waitVisible", "sel": "#number", "shot": "add-number"})
	axe("add-number")
	add(step{"do": "fill", "sel": "#number", "value": "+1 555 555 0199"},
		step{"do": "click", "sel": "#send-code"},
		step{"do": "waitVisible", "sel": "[data-testid=masked-number]", "shot": "add-number-code"})
	axe("add-number-code")
	add(step{"do": "hook", "url": codeOf(3, proof), "from": "masked", "as": "proofCode"},
		step{"do": "fill", "sel": "#code", "valueFrom": "proofCode"},
		step{"do": "click", "sel": "#confirm-number"},
		step{"do": "waitText", "text": "Your phone number was added", "shot": "number-added"})
	axe("number-added")
	add(step{"do": "uni.authURL", "client": "app", "username": user, "as": "authURL"},
		step{"do": "goto", "urlFrom": "authURL"},
		step{"do": "waitVisible", "sel": "[data-testid=sms-button]", "shot": "prompt-sms"})
	axe("prompt-sms")
	consoleUser()
	res = runBrowser(t, node, dir, scenario{Name: "TestBrowserSMS-phone", SPKI: spki, Universal: uni, Device: "Pixel 7",
		TimeoutMs: 15000, Steps: steps}, rp.CAFile, false)
	checkAxe(t, res, pages, "phone")
	// A fresh context: the two browser runs may outlast ctx's 30 s.
	devs, err := ts.App.Store.ListDevices(testCtx(t), u.ID)
	if err != nil || len(devs) != 3 {
		t.Fatalf("devices %+v, %v", devs, err)
	}
}

// adminSession makes an owner, set up through the core, and returns the
// token of a console session of theirs (the browser gets it as a cookie).
func adminSession(t *testing.T, ts *testServer) string {
	t.Helper()
	ctx := testCtx(t)
	_, link, err := ts.App.Core.CreateAdmin(ctx, "owner@example.com", "Olive Owner", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ts.App.Core.BeginAdminSetup(ctx, link.Token)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ts.App.Core.CompleteAdminSetup(ctx, link.Token, "a long console password", info.Sealed,
		otp.TOTP(info.Secret, time.Now(), 30, 6, otp.SHA1))
	if err != nil {
		t.Fatal(err)
	}
	token, err := ts.App.Core.StartAdminSession(ctx, a.ID, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

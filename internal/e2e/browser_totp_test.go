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
	"github.com/assent-auth/assent/pkg/duoweb"
)

// TestBrowserTOTP is the authenticator-app journey in headless Chromium,
// with codes from Debian's oathtool for the key the page shows for manual
// entry (exactly as shown, in groups): an app added in the enrollment
// portal (a wrong first code keeps the page with an error, a right one
// confirms it), then a login in the Web SDK v2 frame where the confirming
// code is refused as spent and the next step's code logs in; and an app
// added by inline enrollment inside the frame, then a login with it. The
// server runs on a test clock the hooks move one time step forward, so
// nothing waits for a real step to pass. Screenshots of each page go to
// test-artifacts/browser/TestBrowserTOTP/.
func TestBrowserTOTP(t *testing.T) {
	t.Parallel()
	oath, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	node, dir := browserPartners(t)
	// Five seconds into a time step: the steps the test uses are certain.
	clock := testutil.NewClock(time.Now().Truncate(30 * time.Second).Add(5 * time.Second))
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now})
	ikey, skey := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)
	const user, frameUser = "app-user", "frame-app-user"
	ctx := testCtx(t)
	token, _, err := ts.App.Core.EnrollLinkToken(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(u string) string {
		sig, err := duoweb.SignRequest(ikey, skey, rp.akey, u)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	page1, login1 := rp.login(user, sign(user), false)
	page2, login2 := rp.login(frameUser, sign(frameUser), false)

	// totp asks oathtool for the code of the key (as the page shows it) at
	// the server's time; the hooks run outside the test goroutine, so
	// they return errors instead of failing the test.
	totp := func(key string) (string, error) {
		if strings.TrimSpace(key) == "" {
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
	wrong := rp.hookValue(func(key string) (string, error) {
		c, err := totp(key)
		if err != nil {
			return "", err
		}
		return otherCode(c), nil
	})
	// next moves the server one time step on and gives that step's code.
	next := rp.hookValue(func(key string) (string, error) {
		clock.Set(clock.Now().Add(30 * time.Second))
		return totp(key)
	})

	const (
		selKey     = "#totp-key"
		selCode    = "#totp-code"
		selConfirm = "#totp-confirm-button"
		selPass    = "#passcode"
		selLogIn   = "#passcode-button"
	)
	sc := scenario{
		SPKI: append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...),
		Steps: []step{
			// The enrollment portal.
			{"do": "goto", "url": "https://" + ts.Host + "/portal/enroll/" + token},
			{"do": "waitVisible", "sel": "#totp-add-button", "shot": "portal"},
			{"do": "click", "sel": "#totp-add-button"},
			{"do": "waitVisible", "sel": state("totp-add") + " #totp-qr", "shot": "portal-scan"},
			{"do": "read", "sel": selKey, "as": "key"},
			{"do": "read", "sel": "#totp-qr", "attr": "src", "match": "^(data:image/png;base64,)", "as": "qrSrc"},
			{"do": "hook", "url": wrong, "from": "key", "as": "wrongCode"},
			{"do": "fill", "sel": selCode, "valueFrom": "wrongCode"},
			{"do": "click", "sel": selConfirm},
			{"do": "waitVisible", "sel": state("totp-add") + " #status.error", "shot": "portal-wrong-code"},
			{"do": "read", "sel": "#status", "as": "wrongMsg"},
			{"do": "read", "sel": selKey, "as": "keyAgain"},
			{"do": "hook", "url": current, "from": "key", "as": "code1"},
			{"do": "fill", "sel": selCode, "valueFrom": "code1"},
			{"do": "click", "sel": selConfirm},
			{"do": "waitVisible", "sel": state("enrolled"), "shot": "portal-app-added"},
			// The Web SDK v2 frame: the confirming code is spent; the next
			// step's code logs in.
			{"do": "goto", "url": page1},
			{"do": "waitVisible", "frame": duoFrame, "sel": selPass, "shot": "websdk-choose"},
			{"do": "read", "frame": duoFrame, "sel": "label[for=passcode]", "as": "label"},
			{"do": "fill", "frame": duoFrame, "sel": selPass, "valueFrom": "code1"},
			{"do": "click", "frame": duoFrame, "sel": selLogIn},
			{"do": "waitVisible", "frame": duoFrame, "sel": state("choose") + " #status.error", "shot": "websdk-spent-code"},
			{"do": "read", "frame": duoFrame, "sel": "#status", "as": "spentMsg"},
			{"do": "hook", "url": next, "from": "key", "as": "code2"},
			{"do": "fill", "frame": duoFrame, "sel": selPass, "valueFrom": "code2"},
			{"do": "click", "frame": duoFrame, "sel": selLogIn},
			{"do": "waitVisible", "sel": selRPResult, "shot": "websdk-logged-in"},
			{"do": "read", "sel": selRPResult, "attr": "data-user", "as": "loggedIn"},
			// Inline enrollment inside the frame: a new user adds an app.
			{"do": "goto", "url": page2},
			{"do": "waitVisible", "frame": duoFrame, "sel": "#totp-add-button", "shot": "websdk-enroll"},
			{"do": "click", "frame": duoFrame, "sel": "#totp-add-button"},
			{"do": "waitVisible", "frame": duoFrame, "sel": state("totp-add") + " #totp-qr", "shot": "websdk-scan"},
			{"do": "read", "frame": duoFrame, "sel": selKey, "as": "frameKey"},
			{"do": "hook", "url": current, "from": "frameKey", "as": "frameCode1"},
			{"do": "fill", "frame": duoFrame, "sel": selCode, "valueFrom": "frameCode1"},
			{"do": "click", "frame": duoFrame, "sel": selConfirm},
			{"do": "waitVisible", "frame": duoFrame, "sel": state("choose") + " #status.success", "shot": "websdk-app-added"},
			{"do": "hook", "url": next, "from": "frameKey", "as": "frameCode2"},
			{"do": "fill", "frame": duoFrame, "sel": selPass, "valueFrom": "frameCode2"},
			{"do": "click", "frame": duoFrame, "sel": selLogIn},
			{"do": "waitVisible", "sel": selRPResult},
			{"do": "read", "sel": selRPResult, "attr": "data-user", "as": "loggedInFrameUser"},
		},
	}
	res := runBrowser(t, node, dir, sc, rp.CAFile, false)

	key := res.str(t, "key")
	if res.str(t, "keyAgain") != key {
		t.Errorf("the page after a wrong code shows key %q, first %q", res.str(t, "keyAgain"), key)
	}
	if got := res.str(t, "wrongMsg"); !strings.Contains(got, "does not match") {
		t.Errorf("a wrong first code shows %q", got)
	}
	if got := res.str(t, "label"); got != "Enter a code from your authenticator app or token" {
		t.Errorf("the code entry says %q", got)
	}
	if got := res.str(t, "spentMsg"); got == "" {
		t.Error("the spent code shows no reason")
	}
	loggedIn(t, login1, res, user)
	if p := login2.nextPost(t); !strings.HasPrefix(p.SigResponse, duoweb.PrefixAuth+"|") || p.GoUser != frameUser {
		t.Errorf("the user who added an app in the frame: %+v", p)
	}
	if got := res.str(t, "loggedInFrameUser"); got != frameUser {
		t.Errorf("the application shows %q logged in, want %q", got, frameUser)
	}

	// The app counts, and the auth log names it: one spent code refused,
	// one login allowed.
	for _, u := range []string{user, frameUser} {
		apps, err := ts.App.Core.UserTokens(ctx, u)
		if err != nil || len(apps) != 1 || !apps[0].Confirmed || apps[0].Kind != store.TokenTOTPApp {
			t.Fatalf("%s's apps: %+v, %v", u, apps, err)
		}
	}
	uu, err := ts.App.Core.User(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ts.App.Store.ListAuthLog(ctx, store.AuthLogFilter{UserID: uu.ID})
	if err != nil {
		t.Fatal(err)
	}
	var allowed, denied int
	for _, l := range rows {
		if l.Factor != auth.FactorPasscode && l.Factor != "totp_app" {
			continue
		}
		switch l.Result {
		case auth.ResultAllow:
			allowed++
		case auth.ResultDeny:
			denied++
		}
	}
	if allowed != 1 || denied != 1 {
		t.Errorf("auth log of %s: %d passcode logins allowed, %d refused; want 1 and 1 (%+v)", user, allowed, denied, rows)
	}
}

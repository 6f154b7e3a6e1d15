package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// TestBrowserRememberedDevice: with the Universal Prompt integration's
// trusted_device_days set, Chromium logs in through examples/universal
// with a push; the prompt sets its remembered-device cookie, so the next
// login in the same browser skips the prompt (the application's exchanged
// token says remembered_device, the auth log too); once the policy no
// longer remembers devices the prompt asks again. (Expiry after the days
// pass, with an injected clock, is TestRememberedBrowser in
// internal/prompt and TestTrustedDeviceToken in internal/auth: advancing
// the server's clock here would expire the applications' own JWTs.)
func TestBrowserRememberedDevice(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.integration(t, store.TypeUniversal)
	ctx := testCtx(t)
	days := 30
	if _, err := ts.App.Core.ChangePolicy(ctx, auth.PolicyChange{IKey: ikey, Set: store.PolicySettings{RememberDays: &days}}); err != nil {
		t.Fatal(err)
	}
	const user, password = "remembered-user", "example password"
	phone := ts.ActivatePhone(t, user)
	app, logs := startUniversalExample(t, node, dir, ts.Host, ikey, skey, ts.CAFile, user+":"+password)
	// A relying party only for its hooks (the driver calls them).
	hikey, hskey := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, hikey, hskey)
	hookForget := rp.hook(func(string) error {
		zero := 0
		_, err := ts.App.Core.ChangePolicy(context.Background(), auth.PolicyChange{IKey: ikey, Set: store.PolicySettings{RememberDays: &zero}})
		return err
	})

	pctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	answer := assenttest.AnswerNext(pctx, phone, true, 0)
	// relogin posts the login form again from the welcome page (the
	// example application has no logout).
	relogin := `(() => { const f = document.createElement('form'); f.method = 'POST'; f.action = '/login';
		for (const [k, v] of [['username', '` + user + `'], ['password', '` + password + `']]) {
			const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i) }
		document.body.appendChild(f); f.submit(); return 'sent' })()`
	res := runBrowser(t, node, dir, scenario{
		SPKI: servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)),
		Steps: []step{
			{"do": "goto", "url": app + "/"},
			{"do": "fill", "sel": "#username", "value": user},
			{"do": "fill", "sel": "#password", "value": password},
			{"do": "click", "sel": "#login-submit"},
			{"do": "waitVisible", "sel": selPushButton, "shot": "prompt"},
			{"do": "click", "sel": selPushButton},
			{"do": "waitVisible", "sel": "#welcome", "shot": "welcome"},
			// Second visit: the prompt is skipped.
			{"do": "eval", "expr": relogin, "as": "sent1"},
			{"do": "waitURL", "pattern": "duo-callback|/$"},
			{"do": "waitVisible", "sel": "#welcome", "shot": "remembered"},
			{"do": "read", "sel": "#welcome", "attr": "data-user", "as": "loggedIn"},
			// The policy forgets devices: asked again.
			{"do": "hook", "url": hookForget},
			{"do": "eval", "expr": relogin, "as": "sent2"},
			{"do": "waitVisible", "sel": selPushButton, "shot": "asked-again"},
		},
	}, rp.CAFile, false)
	assenttest.Received(t, answer)
	if got := res.str(t, "loggedIn"); got != user {
		t.Errorf("the example app greets %q, want %q", got, user)
	}
	if len(res.PageErrors) > 0 {
		t.Errorf("script errors: %q", res.PageErrors)
	}
	l := logs.String()
	if !strings.Contains(l, "login: "+user+": allow (duo_push)") || !strings.Contains(l, "login: "+user+": allow (remembered_device)") {
		t.Errorf("the example app did not log a push login then a remembered one:\n%s", l)
	}
	rows, err := ts.App.Store.ListAuthLog(ctx, store.AuthLogFilter{IKey: ikey})
	if err != nil {
		t.Fatal(err)
	}
	remembered := 0
	for _, r := range rows {
		if r.Reason == auth.ReasonRememberedDevice && r.Result == auth.ResultAllow {
			remembered++
		}
	}
	if remembered != 1 {
		t.Errorf("%d auth-log rows remembered_device, want 1: %+v", remembered, rows)
	}
}

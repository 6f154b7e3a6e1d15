package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/pkg/duoweb"
)

// TestBrowserWebAuthn is the security-key journey in headless Chromium
// with its virtual authenticator (Chrome DevTools Protocol WebAuthn
// domain, CTAP2 with resident keys and user verification), in one browser:
// a key registered in the enrollment portal, a login by that key in the
// Web SDK v2 frame (the real Duo-Web-v2.js, a cross-origin iframe allowed
// publickey-credentials-get) and in the Universal Prompt (npm
// @duosecurity/duo_universal), then two keys that must be refused: an
// unregistered one (the browser finds no credential) and a forged one
// holding the registered credential ID with another private key (the
// server refuses its signature). Screenshots of each page go to
// test-artifacts/browser/TestBrowserWebAuthn/.
func TestBrowserWebAuthn(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.integration(t, store.TypeWebSDK)
	uikey, uskey := ts.integration(t, store.TypeUniversal)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)
	const user, newUser, frameUser = "key-user", "new-key-user", "frame-key-user"
	ctx := testCtx(t)
	token, _, err := ts.App.Core.EnrollLinkToken(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	sign := func() string {
		sig, err := duoweb.SignRequest(ikey, skey, rp.akey, user)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	page1, login1 := rp.login(user, sign(), false)
	page2, login2 := rp.login(user, sign(), false)
	sig3, err := duoweb.SignRequest(ikey, skey, rp.akey, frameUser)
	if err != nil {
		t.Fatal(err)
	}
	page3, login3 := rp.login(frameUser, sig3, false)

	const (
		selKeyButton = "#webauthn-button"
		selKeyError  = "#status.error"
	)
	sc := scenario{
		SPKI: append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...),
		Universal: &universalConfig{
			Host: ts.Host, CA: ts.CAFile, Redirect: rp.URL + "/universal/callback",
			Clients: map[string]uniClient{"app": {uikey, uskey}},
		},
		Steps: []step{
			// The enrollment portal: name the key, touch it.
			{"do": "webauthn.add", "as": "key"},
			{"do": "goto", "url": "https://" + ts.Host + "/portal/enroll/" + token},
			{"do": "waitVisible", "sel": "#webauthn-register-button", "shot": "portal"},
			{"do": "fill", "sel": "#webauthn-name", "value": "YubiKey 5"},
			{"do": "click", "sel": "#webauthn-register-button"},
			{"do": "waitVisible", "sel": state("webauthn-create"), "shot": "portal-touch-key"},
			{"do": "click", "sel": "#webauthn-create-button"},
			{"do": "waitVisible", "sel": state("enrolled"), "shot": "portal-key-added"},
			{"do": "webauthn.creds", "from": "key", "as": "keyCreds"},
			// The Web SDK v2 frame.
			{"do": "goto", "url": page1},
			{"do": "waitVisible", "frame": duoFrame, "sel": selKeyButton, "shot": "websdk-choose"},
			{"do": "click", "frame": duoFrame, "sel": selKeyButton},
			{"do": "waitVisible", "sel": selRPResult, "shot": "websdk-logged-in"},
			{"do": "read", "sel": selRPResult, "attr": "data-user", "as": "loggedIn"},
			// The Universal Prompt: the key is the method used last.
			{"do": "uni.authURL", "client": "app", "username": user, "as": "authURL"},
			{"do": "goto", "urlFrom": "authURL"},
			{"do": "waitVisible", "sel": selKeyButton, "shot": "universal-choose"},
			{"do": "read", "sel": selKeyButton, "attr": "data-preselected", "as": "preselected"},
			{"do": "click", "sel": selKeyButton},
			{"do": "waitURL", "pattern": "/universal/callback\\?", "shot": "universal-callback"},
			{"do": "uni.exchange", "client": "app", "username": user, "as": "exchange"},
			// Inline enrollment in the Universal Prompt: a new user adds a
			// key (the same authenticator, another account), then logs in.
			{"do": "uni.authURL", "client": "app", "username": newUser, "as": "authURLNew"},
			{"do": "goto", "urlFrom": "authURLNew"},
			{"do": "waitVisible", "sel": "#webauthn-register-button", "shot": "universal-enroll"},
			{"do": "fill", "sel": "#webauthn-name", "value": "Laptop"},
			{"do": "click", "sel": "#webauthn-register-button"},
			{"do": "click", "sel": "#webauthn-create-button"},
			{"do": "waitVisible", "sel": state("choose") + " #status.success", "shot": "universal-key-added"},
			{"do": "click", "sel": selKeyButton},
			{"do": "waitURL", "pattern": "/universal/callback\\?"},
			{"do": "uni.exchange", "client": "app", "username": newUser, "as": "exchangeNew"},
			// Inline enrollment inside the Web SDK frame (a cross-site
			// iframe allowed publickey-credentials-create).
			{"do": "goto", "url": page3},
			{"do": "fill", "frame": duoFrame, "sel": "#webauthn-name", "value": "Phone passkey"},
			{"do": "click", "frame": duoFrame, "sel": "#webauthn-register-button"},
			{"do": "click", "frame": duoFrame, "sel": "#webauthn-create-button"},
			{"do": "waitVisible", "frame": duoFrame, "sel": state("choose") + " #status.success", "shot": "websdk-key-added"},
			{"do": "click", "frame": duoFrame, "sel": selKeyButton},
			{"do": "waitVisible", "sel": selRPResult},
			{"do": "read", "sel": selRPResult, "attr": "data-user", "as": "loggedInFrameUser"},
			// An unregistered key: the browser has nothing to sign with.
			{"do": "webauthn.remove", "from": "key"},
			{"do": "webauthn.add", "as": "other"},
			{"do": "goto", "url": page2},
			{"do": "click", "frame": duoFrame, "sel": selKeyButton},
			{"do": "waitVisible", "frame": duoFrame, "sel": selKeyError, "shot": "websdk-unregistered-key"},
			{"do": "read", "frame": duoFrame, "sel": "#status", "as": "unregistered"},
			// A forged key with the registered credential ID: the server
			// refuses the signature.
			{"do": "webauthn.remove", "from": "other"},
			{"do": "webauthn.rogue", "credsFrom": "keyCreds", "as": "rogue"},
			{"do": "uni.authURL", "client": "app", "username": user, "as": "authURL2"},
			{"do": "goto", "urlFrom": "authURL2"},
			{"do": "click", "sel": selKeyButton},
			{"do": "waitVisible", "sel": state("choose") + " " + selKeyError, "shot": "universal-forged-key"},
			{"do": "read", "sel": "#status", "as": "forged"},
		},
	}
	res := runBrowser(t, node, dir, sc, rp.CAFile, false)

	var creds []map[string]any
	if err := json.Unmarshal(res.Outputs["keyCreds"], &creds); err != nil || len(creds) != 1 || creds[0]["rpId"] != "localhost" {
		t.Errorf("the virtual key holds %s, want one credential for localhost", res.Outputs["keyCreds"])
	}
	loggedIn(t, login1, res, user)
	if got := res.str(t, "preselected"); got != "1" {
		t.Errorf("the security key is not preselected after it was used (data-preselected %q)", got)
	}
	ex := res.uni(t, "exchange")
	if !ex.OK {
		t.Fatalf("exchangeAuthorizationCodeFor2FAResult: %s", ex.Error)
	}
	ac, _ := ex.Token["auth_context"].(map[string]any)
	dev, _ := ac["auth_device"].(map[string]any)
	if ac["factor"] != "webauthn_credential" || ac["reason"] != "user_approved" || ex.Token["preferred_username"] != user {
		t.Errorf("id_token: auth_context %v", ac)
	}
	t.Logf("id_token auth_device: %v", dev)
	if r := res.uni(t, "exchangeNew"); !r.OK {
		t.Errorf("login of the user who enrolled a key in the prompt: %s", r.Error)
	}
	if p := login3.nextPost(t); !strings.HasPrefix(p.SigResponse, duoweb.PrefixAuth+"|") || p.GoUser != frameUser {
		t.Errorf("the user who enrolled a key in the frame: %+v", p)
	}
	if got := res.str(t, "loggedInFrameUser"); got != frameUser {
		t.Errorf("the application shows %q logged in, want %q", got, frameUser)
	}
	if got := res.str(t, "unregistered"); !strings.Contains(got, "did not answer") && !strings.Contains(got, "not accepted") {
		t.Errorf("an unregistered key shows %q", got)
	}
	login2.noPost(t)
	if got := res.str(t, "forged"); !strings.Contains(got, "not accepted") {
		t.Errorf("a forged key shows %q", got)
	}

	// The auth log: two logins by the registered key, the forged one refused.
	u, err := ts.App.Core.User(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ts.App.Core.WebAuthnCredentials(ctx, u.ID)
	if err != nil || len(keys) != 1 || keys[0].Name != "YubiKey 5" {
		t.Fatalf("registered keys %+v, %v", keys, err)
	}
	rows, err := ts.App.Store.ListAuthLog(ctx, store.AuthLogFilter{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	var allowed, denied int
	for _, l := range rows {
		if l.Factor != auth.FactorWebAuthn {
			continue
		}
		if l.Device != keys[0].ID {
			t.Errorf("auth log device %q, want the key's ID %s", l.Device, keys[0].ID)
		}
		switch l.Result {
		case auth.ResultAllow:
			allowed++
		case auth.ResultDeny:
			denied++
			if l.Reason != auth.ReasonInvalidWebAuthn {
				t.Errorf("the forged key's refusal is logged as %q", l.Reason)
			}
		}
	}
	if allowed != 2 || denied != 1 {
		t.Errorf("auth log: %d WebAuthn logins allowed, %d refused; want 2 and 1", allowed, denied)
	}
}

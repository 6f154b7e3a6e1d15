package universal

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseAuthorize feeds arbitrary query strings (the browser's URL,
// untrusted) to the authorize request parser: it must not panic, and what
// it accepts must carry a redirect URI that passes its own check and a
// state of legal length.
func FuzzParseAuthorize(f *testing.F) {
	fx := newFixture(f)
	now := fx.clock.Now()
	good := sign(f, jwt.MapClaims{
		"response_type": "code", "scope": "openid", "client_id": fx.ikey, "iss": fx.ikey,
		"aud": "https://" + testHost, "exp": now.Add(5 * time.Minute).Unix(),
		"redirect_uri": testRedirect, "state": strings.Repeat("s", 36), "duo_uname": "alice",
		"use_duo_code_attribute": true,
	}, fx.skey)
	f.Add("response_type=code&client_id=" + fx.ikey + "&request=" + good)
	f.Add("response_type=code&client_id=" + fx.ikey + "&request=" + good + "&nonce=abc")
	f.Add("scope=openid&response_type=code&redirect_uri=https://app/cb?a=1&b=2&client_id=" + fx.ikey + "&request=" + good)
	f.Add("request=" + good)
	f.Add("client_id=%zz&request=a.b.c")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		req, aerr := fx.api.parseAuthorize(context.Background(), rawQuery)
		if aerr != nil {
			if req != nil || aerr.msg == "" {
				t.Fatalf("error %v with request %+v", aerr, req)
			}
			return
		}
		if err := fx.api.checkRedirect(req.RedirectURI); err != nil {
			t.Fatalf("accepted redirect %q: %v", req.RedirectURI, err)
		}
		if n := len([]rune(req.State)); n < minStateLen || n > maxStateLen || req.Username == "" {
			t.Fatalf("accepted %+v", req)
		}
		if _, err := redirectURL(req.RedirectURI, req.CodeParams, "code", req.State); err != nil {
			t.Fatalf("redirect URL for %q: %v", req.RedirectURI, err)
		}
	})
}

// FuzzClientAssertion feeds arbitrary client assertions and client IDs to
// the client authentication of the health check and token endpoints.
func FuzzClientAssertion(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.ikey, fx.assertion(f, PathHealthCheck, nil))
	f.Add("", fx.assertion(f, PathToken, nil))
	f.Add(fx.ikey, "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("DIXXXXXXXXXXXXXXXXXX", "a.b.c")
	f.Fuzz(func(t *testing.T, clientID, assertion string) {
		for _, path := range []string{PathHealthCheck, PathToken} {
			c, oe := fx.api.authenticateClient(context.Background(), clientID, assertion, path)
			if oe != nil {
				if c != nil || oe.code == "" || oe.desc == "" {
					t.Fatalf("error %+v with client %+v", oe, c)
				}
				continue
			}
			// Only the fixture's own secret can have signed an accepted one.
			if c.in.IKey != fx.ikey || !strings.HasSuffix(c.audience, path) || c.jti == "" {
				t.Fatalf("accepted %+v", c)
			}
		}
	})
}

// FuzzRedirect checks redirect URI handling on arbitrary strings.
func FuzzRedirect(f *testing.F) {
	a := &API{}
	for _, s := range []string{testRedirect, "http://localhost:8080/cb?x=1", "https://a/b#frag", "javascript:alert(1)", "//evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := a.checkRedirect(raw); err != nil {
			return
		}
		u, err := redirectURL(raw, []string{"duo_code"}, "c0de", "st&te")
		if err != nil {
			t.Fatalf("%q accepted but not extended: %v", raw, err)
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && !isLoopback(p.Hostname())) || p.Query().Get("duo_code") != "c0de" || p.Query().Get("state") != "st&te" {
			t.Fatalf("%q → %q", raw, u)
		}
	})
}

// FuzzToken posts arbitrary token requests: a genuine authorization code
// or an arbitrary one, a fresh client assertion or an arbitrary one,
// arbitrary redirect_uri, grant and assertion types, in the body or the
// query. Never a 5xx; every failure is an OAuth error; an id_token only for
// the genuine code, once, with its redirect URI and a valid assertion.
func FuzzToken(f *testing.F) {
	fx := newFixture(f)
	f.Add(true, true, "", "", testRedirect, "authorization_code", clientAssertionType, false)
	f.Add(true, false, "", "eyJhbGciOiJub25lIn0.e30.", testRedirect, "authorization_code", clientAssertionType, true)
	f.Add(false, true, "x", "", "https://evil.example/cb", "refresh_token", "", false)
	f.Add(false, false, strings.Repeat("A", 300), "a.b.c", "", "", clientAssertionType+"x", true)
	f.Fuzz(func(t *testing.T, genuineCode, freshAssertion bool, code, assertion, redirect, grantType, assertionType string, inQuery bool) {
		ctx := context.Background()
		if genuineCode {
			var err error
			code, err = fx.api.issueCode(ctx, grant{ClientID: fx.ikey, RedirectURI: testRedirect, Username: "alice",
				AuthTime: fx.clock.Now().Unix(), Result: "allow", Status: "allow", Factor: "passcode"})
			if err != nil {
				t.Fatal(err)
			}
		}
		if freshAssertion {
			assertion = fx.assertion(t, PathToken, nil)
		}
		params := url.Values{"grant_type": {grantType}, "code": {code}, "redirect_uri": {redirect}, "client_id": {fx.ikey},
			"client_assertion_type": {assertionType}, "client_assertion": {assertion}}
		resp, body := fx.post(t, PathToken, params, inQuery)
		ok := genuineCode && freshAssertion && redirect == testRedirect &&
			grantType == "authorization_code" && assertionType == clientAssertionType
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("HTTP %d %v", resp.StatusCode, body)
		case resp.StatusCode == http.StatusOK:
			if !ok {
				t.Fatalf("token issued for %v: %v", params, body)
			}
			tok, _ := body["id_token"].(string)
			if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(fx.skey), nil },
				jwt.WithValidMethods([]string{"HS512"}), jwt.WithTimeFunc(fx.clock.Now)); err != nil {
				t.Fatalf("id_token %q: %v", tok, err)
			}
			// The code was used up.
			params.Set("client_assertion", fx.assertion(t, PathToken, nil))
			if again, body := fx.post(t, PathToken, params, inQuery); again.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("code used twice: HTTP %d %v", again.StatusCode, body)
			}
		default:
			if ok {
				t.Fatalf("genuine request refused: HTTP %d %v", resp.StatusCode, body)
			}
			if e, _ := body["error"].(string); e == "" || body["error_description"] == "" {
				t.Fatalf("HTTP %d is not an OAuth error: %v", resp.StatusCode, body)
			}
		}
	})
}

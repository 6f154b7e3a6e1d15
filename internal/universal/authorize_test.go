package universal

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// requestJWT is an authorize request as duo_universal_nodejs makes it,
// edited by edit.
func (f *fixture) requestJWT(t testing.TB, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := jwt.MapClaims{
		"response_type":          "code",
		"scope":                  "openid",
		"exp":                    f.clock.Now().Add(5 * time.Minute).Unix(),
		"client_id":              f.ikey,
		"redirect_uri":           testRedirect,
		"state":                  strings.Repeat("S", 36),
		"duo_uname":              "alice",
		"iss":                    f.ikey,
		"aud":                    "https://" + testHost,
		"use_duo_code_attribute": true,
	}
	if edit != nil {
		edit(c)
	}
	return sign(t, c, f.skey)
}

func TestParseAuthorize(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := f.clock.Now()
	set := func(k string, v any) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
	}
	both := func(fs ...func(jwt.MapClaims)) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) {
			for _, f := range fs {
				f(c)
			}
		}
	}
	q := func(request string, extra ...string) string {
		v := url.Values{"response_type": {"code"}, "client_id": {f.ikey}, "request": {request}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v.Encode()
	}
	ok := []struct {
		name       string
		query      string
		nonce      string
		codeParams []string
	}{
		{"node", q(f.requestJWT(t, nil)), "", []string{"duo_code"}},
		{"python: float exp, nonce in query", q(f.requestJWT(t, set("exp", float64(now.Unix())+299.5)), "nonce", "py-nonce-0123456789"), "py-nonce-0123456789", []string{"duo_code"}},
		{"go: aud array", q(f.requestJWT(t, set("aud", []string{"https://" + testHost}))), "", []string{"duo_code"}},
		{"java: no iss, no aud, raw redirect_uri in the query",
			"scope=openid&response_type=code&redirect_uri=https://app.example.test/cb?a=1&b=2&client_id=" + f.ikey + "&request=" +
				f.requestJWT(t, both(set("iss", nil), set("aud", nil))), "", []string{"duo_code"}},
		{"nonce claim", q(f.requestJWT(t, set("nonce", "claim-nonce"))), "claim-nonce", []string{"duo_code"}},
		{"use_duo_code_attribute false", q(f.requestJWT(t, set("use_duo_code_attribute", false))), "", []string{"code"}},
		{"use_duo_code_attribute absent", q(f.requestJWT(t, set("use_duo_code_attribute", nil))), "", []string{"duo_code", "code"}},
		{"state of 16 (python minimum)", q(f.requestJWT(t, set("state", strings.Repeat("s", 16)))), "", []string{"duo_code"}},
		{"state of 1024", q(f.requestJWT(t, set("state", strings.Repeat("s", 1024)))), "", []string{"duo_code"}},
		{"http loopback redirect", q(f.requestJWT(t, set("redirect_uri", "http://127.0.0.1:8080/cb"))), "", []string{"duo_code"}},
		{"exp within leeway", q(f.requestJWT(t, set("exp", now.Add(-30*time.Second).Unix()))), "", []string{"duo_code"}},
		{"client_id from iss", url.Values{"request": {f.requestJWT(t, nil)}}.Encode(), "", []string{"duo_code"}},
	}
	for _, c := range ok {
		req, err := f.api.parseAuthorize(context.Background(), c.query)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if req.Client.IKey != f.ikey || req.Username != "alice" || req.Nonce != c.nonce || !slices.Equal(req.CodeParams, c.codeParams) {
			t.Errorf("%s: %+v", c.name, req)
		}
	}

	bad := []struct{ name, query, want string }{
		{"no request", url.Values{"client_id": {f.ikey}}.Encode(), "request parameter"},
		{"response_type token", q(f.requestJWT(t, nil), "response_type", "token"), "response_type"},
		{"claim response_type token", q(f.requestJWT(t, set("response_type", "token"))), "response_type"},
		{"unknown client", q(f.requestJWT(t, nil), "client_id", "DIXXXXXXXXXXXXXXXXXX"), "not known"},
		{"authapi client", q(sign(t, jwt.MapClaims{"exp": now.Add(time.Minute).Unix()}, f.otherSKey), "client_id", f.other), "not a Universal Prompt"},
		{"wrong secret", q(sign(t, jwt.MapClaims{"exp": now.Add(time.Minute).Unix(), "redirect_uri": testRedirect, "state": strings.Repeat("s", 22), "duo_uname": "alice"}, f.otherSKey)), "verified"},
		{"HS256", q(func() string {
			return sign(t, jwt.MapClaims{"exp": now.Add(time.Minute).Unix(), "redirect_uri": testRedirect, "state": strings.Repeat("s", 22), "duo_uname": "alice"}, f.skey, jwt.SigningMethodHS256)
		}()), "verified"},
		{"expired", q(f.requestJWT(t, set("exp", now.Add(-2*time.Minute).Unix()))), "expired"},
		{"no exp", q(f.requestJWT(t, set("exp", nil))), "exp"},
		{"client_id claim other", q(f.requestJWT(t, set("client_id", f.other))), "client_id"},
		{"iss other", q(f.requestJWT(t, set("iss", f.other))), "iss"},
		{"aud other host", q(f.requestJWT(t, set("aud", "https://api-xxxx.duosecurity.com"))), "aud"},
		{"scope without openid", q(f.requestJWT(t, set("scope", "email"))), "scope"},
		{"state too short", q(f.requestJWT(t, set("state", strings.Repeat("s", 15)))), "state"},
		{"state too long", q(f.requestJWT(t, set("state", strings.Repeat("s", 1025)))), "state"},
		{"no state", q(f.requestJWT(t, set("state", nil))), "state"},
		{"no duo_uname", q(f.requestJWT(t, set("duo_uname", nil))), "duo_uname"},
		{"no redirect_uri", q(f.requestJWT(t, set("redirect_uri", nil))), "redirect_uri"},
		{"http redirect", q(f.requestJWT(t, set("redirect_uri", "http://app.example.test/cb"))), "https"},
		{"relative redirect", q(f.requestJWT(t, set("redirect_uri", "/cb"))), "absolute"},
		{"javascript redirect", q(f.requestJWT(t, set("redirect_uri", "javascript:alert(1)"))), "redirect_uri"},
		{"fragment redirect", q(f.requestJWT(t, set("redirect_uri", testRedirect+"#x"))), "fragment"},
		{"userinfo redirect", q(f.requestJWT(t, set("redirect_uri", "https://user:pw@app.example.test/cb"))), "user"},
		{"state of wrong type", q(f.requestJWT(t, set("state", 12345678901234567))), "malformed"},
	}
	for _, c := range bad {
		req, err := f.api.parseAuthorize(context.Background(), c.query)
		if err == nil {
			t.Errorf("%s: accepted %+v", c.name, req)
			continue
		}
		if !strings.Contains(err.msg, c.want) {
			t.Errorf("%s: %q does not mention %q", c.name, err.msg, c.want)
		}
	}
}

func TestRedirectURL(t *testing.T) {
	t.Parallel()
	got, err := redirectURL("https://app.example.test/cb?next=%2Fhome", []string{"duo_code", "code"}, "abc", "st ate&=")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	qq := u.Query()
	if u.Host != "app.example.test" || u.Path != "/cb" || qq.Get("next") != "/home" || qq.Get("duo_code") != "abc" ||
		qq.Get("code") != "abc" || qq.Get("state") != "st ate&=" {
		t.Fatalf("%s", got)
	}
}

func TestParseUserAgent(t *testing.T) {
	t.Parallel()
	cases := []struct{ ua, b, bv, os, osv string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36", "Chrome", "120.0.6099.71", "Windows", "10.0"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61", "Edge Chromium", "120.0.2210.61", "Windows", "10.0"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox", "121.0", "Linux", ""},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "Safari", "17.1", "Mac OS X", "10.15.7"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Safari", "17.1", "iOS", "17.1.2"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36", "Chrome", "120.0.6099.43", "Android", "14"},
		{"curl/8.5.0", "", "", "", ""},
		{"", "", "", "", ""},
	}
	for _, c := range cases {
		b, bv, os, osv := parseUserAgent(c.ua)
		if b != c.b || bv != c.bv || os != c.os || osv != c.osv {
			t.Errorf("%q: %q %q %q %q", c.ua, b, bv, os, osv)
		}
	}
}

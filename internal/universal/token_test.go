package universal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testRedirect = "https://app.example.test/duo-callback"

// code issues an authorization code for alice as the Finisher would.
func (f *fixture) code(t *testing.T, edit func(*grant)) string {
	t.Helper()
	g := grant{
		ClientID: f.ikey, RedirectURI: testRedirect, Username: "alice", UserKey: "DUABCDEFGHIJKLMNOPQR",
		Nonce: "n-0123456789abcdef", AuthTime: f.clock.Now().Add(-3 * time.Second).Unix(),
		TxID: "6bd3b2a8-2ebd-4fb2-9b8c-000000000001", Result: "allow", Status: "allow", StatusMsg: "Login Successful",
		Factor: "duo_push", Reason: "user_approved", AppName: "Web portal", DeviceName: "alice's phone",
		IP: "192.0.2.10", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	}
	if edit != nil {
		edit(&g)
	}
	code, err := f.api.issueCode(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (f *fixture) tokenParams(t *testing.T, code string, edit func(url.Values)) url.Values {
	t.Helper()
	p := url.Values{
		"grant_type":            {"authorization_code"},
		"code":                  {code},
		"redirect_uri":          {testRedirect},
		"client_id":             {f.ikey},
		"client_assertion_type": {clientAssertionType},
		"client_assertion":      {f.assertion(t, PathToken, nil)},
	}
	if edit != nil {
		edit(p)
	}
	return p
}

// verifyIDToken checks the id_token as the SDKs do (duo_universal_nodejs:
// jose jwtVerify with HS512, issuer, audience, 60 s tolerance) and returns
// its claims and the raw payload JSON.
func (f *fixture) verifyIDToken(t *testing.T, tok string) (jwt.MapClaims, map[string]json.RawMessage) {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS512"}),
		jwt.WithIssuer("https://"+testHost+PathToken),
		jwt.WithAudience(f.ikey),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(60*time.Second),
		jwt.WithTimeFunc(f.clock.Now),
	).ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(f.skey), nil })
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	return claims, raw
}

func TestTokenExchange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, style := range []struct {
		name    string
		inQuery bool
		edit    func(url.Values)
	}{
		{"form body (go, node)", false, nil},
		{"query string (python)", true, nil},
		{"no client_id (java)", false, func(p url.Values) { p.Del("client_id") }},
	} {
		t.Run(style.name, func(t *testing.T) {
			code := f.code(t, nil)
			resp, body := f.post(t, PathToken, f.tokenParams(t, code, style.edit), style.inQuery)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %v", resp.StatusCode, body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			if body["token_type"] != "Bearer" || body["access_token"] == "" || body["expires_in"] != float64(3600) {
				t.Errorf("token response %v", body)
			}
			claims, raw := f.verifyIDToken(t, body["id_token"].(string))
			if string(raw["aud"]) != `"`+f.ikey+`"` {
				t.Errorf("aud must be a plain string: %s", raw["aud"])
			}
			for _, k := range []string{"exp", "iat", "auth_time"} {
				if strings.ContainsAny(string(raw[k]), ".eE") {
					t.Errorf("%s must be an integer: %s", k, raw[k])
				}
			}
			if claims["preferred_username"] != "alice" || claims["nonce"] != "n-0123456789abcdef" ||
				claims["auth_time"] != float64(f.clock.Now().Unix()-3) || claims["iat"] != float64(f.clock.Now().Unix()) {
				t.Errorf("claims %v", claims)
			}
			var res authResult
			if err := json.Unmarshal(raw["auth_result"], &res); err != nil || res != (authResult{"allow", "allow", "Login Successful"}) {
				t.Errorf("auth_result %s", raw["auth_result"])
			}
			var ctx struct {
				TxID, Factor, Reason, Result string
				EventType                    string `json:"event_type"`
				Timestamp                    int64
				User                         struct {
					Name, Key string
					Groups    []string
				}
				Application  struct{ Name, Key string }
				AuthDevice   struct{ Name string } `json:"auth_device"`
				AccessDevice map[string]any        `json:"access_device"`
			}
			if err := json.Unmarshal(raw["auth_context"], &ctx); err != nil {
				t.Fatalf("auth_context %s: %v", raw["auth_context"], err)
			}
			ad := ctx.AccessDevice
			if ctx.TxID == "" || ctx.Factor != "duo_push" || ctx.Reason != "user_approved" || ctx.Result != "success" ||
				ctx.EventType != "authentication" || ctx.User.Name != "alice" || ctx.User.Groups == nil ||
				ctx.Application.Key != f.ikey || ctx.AuthDevice.Name != "alice's phone" ||
				ad["ip"] != "192.0.2.10" || ad["browser"] != "Chrome" || ad["os"] != "Linux" ||
				ad["is_password_set"] != "unknown" {
				t.Errorf("auth_context %s", raw["auth_context"])
			}
			for _, k := range []string{"hostname", "host_name"} {
				if _, ok := ad[k]; !ok {
					t.Errorf("access_device lacks %s", k)
				}
			}
		})
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name   string
		code   func(t *testing.T) string
		edit   func(t *testing.T, p url.Values)
		status int
		err    string
	}{
		{"unknown code", func(*testing.T) string { return "no-such-code" }, nil, 400, "invalid_grant"},
		{"missing code", func(*testing.T) string { return "" }, nil, 400, "invalid_grant"},
		{"redirect_uri mismatch", func(t *testing.T) string { return f.code(t, nil) },
			func(_ *testing.T, p url.Values) { p.Set("redirect_uri", testRedirect+"/other") }, 400, "invalid_grant"},
		{"redirect_uri missing", func(t *testing.T) string { return f.code(t, nil) },
			func(_ *testing.T, p url.Values) { p.Del("redirect_uri") }, 400, "invalid_grant"},
		{"code of another client", func(t *testing.T) string { return f.code(t, func(g *grant) { g.ClientID = f.other }) }, nil, 400, "invalid_grant"},
		{"wrong grant_type", func(t *testing.T) string { return f.code(t, nil) },
			func(_ *testing.T, p url.Values) { p.Set("grant_type", "client_credentials") }, 400, "unsupported_grant_type"},
		{"no assertion type", func(t *testing.T) string { return f.code(t, nil) },
			func(_ *testing.T, p url.Values) { p.Del("client_assertion_type") }, 400, "invalid_client"},
		{"wrong client secret", func(t *testing.T) string { return f.code(t, nil) },
			func(t *testing.T, p url.Values) {
				p.Set("client_assertion", sign(t, jwt.MapClaims{"iss": f.ikey, "sub": f.ikey, "aud": "https://" + testHost + PathToken,
					"jti": "x1", "exp": f.clock.Now().Add(time.Minute).Unix()}, strings.Repeat("s", 40)))
			}, 400, "invalid_client"},
		{"assertion for health check", func(t *testing.T) string { return f.code(t, nil) },
			func(t *testing.T, p url.Values) { p.Set("client_assertion", f.assertion(t, PathHealthCheck, nil)) }, 400, "invalid_client"},
		{"other client's credentials", func(t *testing.T) string { return f.code(t, nil) },
			func(t *testing.T, p url.Values) {
				p.Set("client_id", f.other)
				p.Set("client_assertion", sign(t, jwt.MapClaims{"iss": f.other, "sub": f.other, "aud": "https://" + testHost + PathToken,
					"jti": "x2", "exp": f.clock.Now().Add(time.Minute).Unix()}, f.otherSKey))
			}, 400, "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := f.tokenParams(t, c.code(t), nil)
			if c.edit != nil {
				c.edit(t, p)
			}
			resp, body := f.post(t, PathToken, p, false)
			if resp.StatusCode != c.status || body["error"] != c.err || body["error_description"] == "" {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, c.status, c.err)
			}
		})
	}
}

func TestTokenSingleUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// A wrong secret does not use up the code: the caller never got to it.
	code := f.code(t, nil)
	bad := f.tokenParams(t, code, func(p url.Values) {
		p.Set("client_assertion", sign(t, jwt.MapClaims{"iss": f.ikey, "sub": f.ikey, "aud": "https://" + testHost + PathToken,
			"jti": "bad", "exp": f.clock.Now().Add(time.Minute).Unix()}, strings.Repeat("s", 40)))
	})
	if resp, body := f.post(t, PathToken, bad, false); resp.StatusCode != 400 || body["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", resp.StatusCode, body)
	}
	if resp, body := f.post(t, PathToken, f.tokenParams(t, code, nil), false); resp.StatusCode != 200 {
		t.Fatalf("first exchange: %d %v", resp.StatusCode, body)
	}
	f.clock.Advance(time.Second) // a fresh jti
	if resp, body := f.post(t, PathToken, f.tokenParams(t, code, nil), false); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("replayed code: %d %v", resp.StatusCode, body)
	}

	// The same client assertion twice: refused the second time.
	p := f.tokenParams(t, f.code(t, nil), nil)
	if resp, body := f.post(t, PathToken, p, false); resp.StatusCode != 200 {
		t.Fatalf("exchange: %d %v", resp.StatusCode, body)
	}
	p.Set("code", f.code(t, nil))
	if resp, body := f.post(t, PathToken, p, false); resp.StatusCode != 400 || body["error"] != "invalid_client" {
		t.Fatalf("replayed assertion: %d %v", resp.StatusCode, body)
	}

	// A code expires after CodeTTL.
	code = f.code(t, nil)
	f.clock.Advance(DefaultCodeTTL)
	if resp, body := f.post(t, PathToken, f.tokenParams(t, code, nil), false); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("expired code: %d %v", resp.StatusCode, body)
	}
}

func TestTokenMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathToken, nil))
	if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
}

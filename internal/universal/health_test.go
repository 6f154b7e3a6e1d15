package universal

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestHealthCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := f.clock.Now()
	edit := func(k string, v any) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) {
			if v == nil {
				delete(c, k)
				return
			}
			c[k] = v
		}
	}
	cases := []struct {
		name     string
		clientID string // "-" = omit
		assert   string
		query    bool
		ok       bool
	}{
		{"node client", f.ikey, f.assertion(t, PathHealthCheck, nil), false, true},
		{"params in query", f.ikey, f.assertion(t, PathHealthCheck, nil), true, true},
		{"float exp (python)", f.ikey, f.assertion(t, PathHealthCheck, edit("exp", float64(now.Unix())+299.75)), false, true},
		{"aud as array (go jwx)", f.ikey, f.assertion(t, PathHealthCheck, edit("aud", []string{"https://" + testHost + PathHealthCheck})), false, true},
		{"aud with :443", f.ikey, f.assertion(t, PathHealthCheck, edit("aud", "https://"+testHost+":443"+PathHealthCheck)), false, true},
		{"expired within leeway", f.ikey, f.assertion(t, PathHealthCheck, edit("exp", now.Add(-30*time.Second).Unix())), false, true},
		{"no client_id: from iss", "-", f.assertion(t, PathHealthCheck, nil), false, true},

		{"expired", f.ikey, f.assertion(t, PathHealthCheck, edit("exp", now.Add(-2*time.Minute).Unix())), false, false},
		{"no exp", f.ikey, f.assertion(t, PathHealthCheck, edit("exp", nil)), false, false},
		{"exp 3600 s (older java, default limit)", f.ikey, f.assertion(t, PathHealthCheck, edit("exp", now.Add(time.Hour).Unix())), false, false},
		{"exp far ahead", f.ikey, f.assertion(t, PathHealthCheck, edit("exp", now.Add(48*time.Hour).Unix())), false, false},
		{"aud of token endpoint", f.ikey, f.assertion(t, PathHealthCheck, edit("aud", "https://"+testHost+PathToken)), false, false},
		{"aud of other host", f.ikey, f.assertion(t, PathHealthCheck, edit("aud", "https://api-123.duosecurity.com"+PathHealthCheck)), false, false},
		{"no aud", f.ikey, f.assertion(t, PathHealthCheck, edit("aud", nil)), false, false},
		{"iss other", f.ikey, f.assertion(t, PathHealthCheck, edit("iss", f.other)), false, false},
		{"sub other", f.ikey, f.assertion(t, PathHealthCheck, edit("sub", "someone")), false, false},
		{"no jti", f.ikey, f.assertion(t, PathHealthCheck, edit("jti", nil)), false, false},
		{"wrong secret", f.ikey, sign(t, jwt.MapClaims{"iss": f.ikey, "sub": f.ikey, "aud": "https://" + testHost + PathHealthCheck, "jti": "x", "exp": now.Add(time.Minute).Unix()}, f.otherSKey), false, false},
		{"HS256", f.ikey, sign(t, jwt.MapClaims{"iss": f.ikey, "sub": f.ikey, "aud": "https://" + testHost + PathHealthCheck, "jti": "x", "exp": now.Add(time.Minute).Unix()}, f.skey, jwt.SigningMethodHS256), false, false},
		{"alg none", f.ikey, sign(t, jwt.MapClaims{"iss": f.ikey, "sub": f.ikey, "aud": "https://" + testHost + PathHealthCheck, "jti": "x", "exp": now.Add(time.Minute).Unix()}, "", jwt.SigningMethodNone), false, false},
		{"garbage", f.ikey, "not.a.jwt", false, false},
		{"missing assertion", f.ikey, "", false, false},
		{"unknown client", "DIXXXXXXXXXXXXXXXXXX", f.assertion(t, PathHealthCheck, nil), false, false},
		{"authapi integration", f.other, sign(t, jwt.MapClaims{"iss": f.other, "sub": f.other, "aud": "https://" + testHost + PathHealthCheck, "jti": "x", "exp": now.Add(time.Minute).Unix()}, f.otherSKey), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := url.Values{}
			if c.clientID != "-" {
				p.Set("client_id", c.clientID)
			}
			if c.assert != "" {
				p.Set("client_assertion", c.assert)
			}
			resp, body := f.post(t, PathHealthCheck, p, c.query)
			if c.ok {
				r, _ := body["response"].(map[string]any)
				if resp.StatusCode != 200 || body["stat"] != "OK" || r == nil || r["timestamp"] != float64(now.Unix()) {
					t.Fatalf("got %d %v", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || body["stat"] != "FAIL" || body["code"] != float64(40002) ||
				body["message"] != "invalid_client" || body["message_detail"] == "" || body["timestamp"] != float64(now.Unix()) {
				t.Fatalf("got %d %v", resp.StatusCode, body)
			}
		})
	}
}

func TestHealthCheckMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathHealthCheck, nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
}

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

// TestJWTLifetimes: the time claims of request JWTs (authorize) and client
// assertions (token, health check) are bounded: exp at most MaxJWTLifetime
// plus the clock skew ahead and at most Leeway behind, iat and nbf at most
// the clock skew ahead. Each refusal has the endpoint's own error shape.
func TestJWTLifetimes(t *testing.T) {
	t.Parallel()
	const skew = 5 * time.Minute
	year := 365 * 24 * time.Hour
	for _, tc := range []struct {
		name    string
		max     time.Duration // API.MaxJWTLifetime; 0: the default
		claims  map[string]any
		refused string // "" accepted, else a word of the reason
	}{
		{"as the SDKs sign", 0, map[string]any{"exp": 5 * time.Minute}, ""},
		{"float exp (python)", 0, map[string]any{"exp": 299.5}, ""},
		{"exp at the limit plus the skew", 0, map[string]any{"exp": 5*time.Minute + skew}, ""},
		{"exp a second past the limit", 0, map[string]any{"exp": 5*time.Minute + skew + time.Second}, "5 minutes ahead"},
		{"exp in 3600 s (older duo_universal_java)", 0, map[string]any{"exp": time.Hour}, "5 minutes ahead"},
		{"exp in ten years", 0, map[string]any{"exp": 10 * year}, "5 minutes ahead"},
		{"exp just passed, within leeway", 0, map[string]any{"exp": -30 * time.Second}, ""},
		{"expired", 0, map[string]any{"exp": -Leeway - time.Second}, "expired"},
		{"no exp", 0, map[string]any{"exp": nil}, "exp"},
		{"exp not a number", 0, map[string]any{"exp": "tomorrow"}, "malformed"},
		{"iat now", 0, map[string]any{"iat": time.Duration(0)}, ""},
		{"iat ahead within the skew", 0, map[string]any{"iat": skew}, ""},
		{"iat in the future", 0, map[string]any{"iat": skew + time.Second}, "iat"},
		{"nbf passed", 0, map[string]any{"nbf": -time.Minute}, ""},
		{"nbf ahead within the skew", 0, map[string]any{"nbf": skew}, ""},
		{"nbf in the future", 0, map[string]any{"nbf": skew + time.Second}, "not valid yet"},
		{"limit raised to 1h: 3600 s", time.Hour, map[string]any{"exp": time.Hour}, ""},
		{"limit raised to 1h: ten years", time.Hour, map[string]any{"exp": 10 * year}, "60 minutes ahead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.api.ClockSkew, f.api.MaxJWTLifetime = skew, tc.max
			now := f.clock.Now()
			edit := func(c jwt.MapClaims) {
				for k, v := range tc.claims {
					switch v := v.(type) {
					case nil:
						delete(c, k)
					case time.Duration: // relative to now
						c[k] = now.Add(v).Unix()
					case float64: // seconds from now, as a float
						c[k] = float64(now.Unix()) + v
					default:
						c[k] = v
					}
				}
			}
			check := func(where, reason string) {
				t.Helper()
				switch {
				case tc.refused == "" && reason != "":
					t.Errorf("%s refused it: %s", where, reason)
				case tc.refused != "" && reason == "":
					t.Errorf("%s accepted it", where)
				case tc.refused != "" && !strings.Contains(reason, tc.refused):
					t.Errorf("%s: reason %q does not say %q", where, reason, tc.refused)
				}
			}

			// authorize: an error page (400) naming the reason.
			q := url.Values{"client_id": {f.ikey}, "request": {f.requestJWT(t, edit)}}.Encode()
			_, aerr := f.api.parseAuthorize(context.Background(), q)
			reason := ""
			if aerr != nil {
				reason = aerr.msg
				if aerr.status != http.StatusBadRequest {
					t.Errorf("authorize: status %d", aerr.status)
				}
			}
			check("authorize", reason)

			// token: RFC 6749 invalid_client; an accepted assertion gets as
			// far as the (made-up) code: invalid_grant.
			resp, body := f.post(t, PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"made-up"},
				"redirect_uri": {testRedirect}, "client_id": {f.ikey}, "client_assertion_type": {clientAssertionType},
				"client_assertion": {f.assertion(t, PathToken, edit)}}, false)
			reason = ""
			switch {
			case resp.StatusCode == http.StatusBadRequest && body["error"] == "invalid_grant":
			case resp.StatusCode == http.StatusBadRequest && body["error"] == "invalid_client":
				reason, _ = body["error_description"].(string)
			default:
				t.Errorf("token: %d %v", resp.StatusCode, body)
			}
			check("token", reason)

			// health check: Duo's envelope, 40002 invalid_client.
			resp, body = f.post(t, PathHealthCheck, url.Values{"client_id": {f.ikey},
				"client_assertion": {f.assertion(t, PathHealthCheck, edit)}}, false)
			reason = ""
			switch {
			case resp.StatusCode == http.StatusOK && body["stat"] == "OK":
			case resp.StatusCode == http.StatusBadRequest && body["stat"] == "FAIL" && body["code"] == float64(40002) && body["message"] == "invalid_client":
				reason, _ = body["message_detail"].(string)
			default:
				t.Errorf("health check: %d %v", resp.StatusCode, body)
			}
			check("health check", reason)
		})
	}
}

package authapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
)

// fuzzRoutes are the Auth API routes whose handlers read parameters, with
// their methods. /auth/v2/logo (a PNG) and the unsigned pings are left out.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/rest/v1/preauth"}, {"POST", "/rest/v1/preauth.json"}, {"POST", "/rest/v1/preauth.bson"},
	{"POST", "/rest/v1/auth"}, {"POST", "/rest/v1/auth.json"}, {"POST", "/rest/v1/auth.bson"},
	{"GET", "/rest/v1/status"}, {"GET", "/rest/v1/status.json"}, {"GET", "/rest/v1/status.bson"},
	{"GET", "/rest/v1/check.bson"}, {"POST", "/rest/v1/nonexistent.bson"},
	{"POST", "/auth/v2/preauth"}, {"POST", "/auth/v2/auth"}, {"GET", "/auth/v2/auth_status"},
	{"POST", "/auth/v2/enroll"}, {"POST", "/auth/v2/enroll_status"}, {"GET", "/auth/v2/check"},
}

// FuzzAuthAPI sends correctly signed Auth API requests (v1 as duo_unix
// signs them, v2 as duo_api_golang does) with arbitrary parameters to the
// real handlers over a real core: every answer is Duo's envelope in the
// route's encoding (BSON for .bson), never a 5xx, and a deny for anything
// but the user's own bypass code.
func FuzzAuthAPI(f *testing.F) {
	fx := newFixture(f, auth.Options{StatusWait: 100 * time.Millisecond, PushTimeout: time.Second, LockoutThreshold: 1000})
	ctx := context.Background()
	if _, err := fx.svc.CreateUser(ctx, "alice"); err != nil {
		f.Fatal(err)
	}
	codes, err := fx.svc.IssueBypassCodes(ctx, "alice", auth.NewBypassCodes{Count: 1, Uses: 0})
	if err != nil {
		f.Fatal(err)
	}
	code := codes.Codes[0]
	for i := range fuzzRoutes {
		f.Add(uint8(i), "user=alice&username=alice&factor=passcode&code="+code+"&passcode="+code, "alice", "passcode")
	}
	f.Add(uint8(4), "factor=auto&auto=push1&ipaddr=10.0.0.1", "alice", "auto")
	f.Add(uint8(4), "factor=push&phone=phone01", "alice", "push")
	f.Add(uint8(5), "async=1&factor=passcode&code="+code, "alice", "passcode")
	f.Add(uint8(8), "txid=00000000-0000-0000-0000-000000000000", "", "")
	f.Add(uint8(12), "username=alice&factor=prompt&prompt=passcode1&async=true", "alice", "prompt")
	f.Add(uint8(14), "username=bob&valid_secs=60&bypass_codes=1", "bob", "")
	f.Add(uint8(15), "user_id=DUXXXXXXXXXXXXXXXXXX&activation_code=x", "", "")
	f.Add(uint8(0), "user=%zz&hostname=\x00", "ALICE", "")
	f.Fuzz(func(t *testing.T, route uint8, raw, user, factor string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		params, _ := url.ParseQuery(raw)
		if params == nil {
			params = url.Values{}
		}
		if user != "" {
			params.Set("user", user)
			params.Set("username", user)
		}
		if factor != "" {
			params.Set("factor", factor)
		}
		for _, v := range params {
			for i := range v {
				v[i] = strings.ToValidUTF8(v[i], "?") // the clients send UTF-8
			}
		}
		var req *http.Request
		if strings.HasPrefix(rt.path, "/rest/v1/") {
			req = fx.request(t, fx.ikey, fx.skey, rt.method, rt.path, params)
		} else {
			req = fx.v2Request(t, rt.method, rt.path, params)
		}
		a := do(t, req, strings.HasSuffix(rt.path, ".bson"))
		switch {
		case a.status >= 500:
			t.Fatalf("%s %s %v: HTTP %d %q", rt.method, rt.path, params, a.status, a.raw)
		case a.Stat == "OK" && a.status == http.StatusOK:
		case a.Stat == "FAIL" && a.status >= 400 && a.Code/100 == a.status && a.Message != "":
			return
		default:
			t.Fatalf("%s %s %v: HTTP %d, not a Duo envelope: %q", rt.method, rt.path, params, a.status, a.raw)
		}
		var r v1Response
		if err := a.response(&r); err != nil {
			return // not an object: ping, check, "pong", …
		}
		// Only alice's code lets anyone in (alice is not a bypass user, and
		// the integration's new-user policy is enroll).
		if r.Result != nil && *r.Result == auth.ResultAllow {
			p := params.Get("passcode") + params.Get("code") + params.Get("auto") + params.Get("prompt")
			who := params.Get("username")
			if strings.HasPrefix(rt.path, "/rest/v1/") {
				who = params.Get("user")
			}
			if !strings.EqualFold(who, "alice") || !strings.Contains(p, code) {
				t.Fatalf("%s %s %v: allowed", rt.method, rt.path, params)
			}
		}
	})
}

package authapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// TestEnrollBypassCodes: /auth/v2/enroll honours bypass_codes (a count, as
// duo_client_python's enroll sends it) and lists the codes in its answer,
// as Duo's client documents. They are single-use and keep the user's
// earlier codes.
func TestEnrollBypassCodes(t *testing.T) {
	t.Parallel()
	srv := assenttest.Start(t, assenttest.Options{})
	ikey, skey := srv.AuthAPI(t, "app", "")
	srv.User(t, "old")
	oldCode := srv.BypassCodes(t, "old", 1, 0)[0]

	type enrolled struct {
		UserID      string   `json:"user_id"`
		Username    string   `json:"username"`
		BypassCodes []string `json:"bypass_codes"`
	}
	enroll := func(params url.Values) (enrolled, wireAnswer) {
		t.Helper()
		a := wire(t, srv, ikey, skey, http.MethodPost, "/auth/v2/enroll", params)
		var e enrolled
		if a.Stat == "OK" {
			if err := json.Unmarshal(a.Response, &e); err != nil {
				t.Fatalf("enroll answer: %v: %s", err, a.Response)
			}
		}
		return e, a
	}
	passcode := func(user, code string) string {
		t.Helper()
		a := wire(t, srv, ikey, skey, http.MethodPost, "/auth/v2/auth",
			url.Values{"username": {user}, "factor": {"passcode"}, "passcode": {code}})
		var res struct{ Result string }
		if err := json.Unmarshal(a.Response, &res); a.Stat != "OK" || err != nil {
			t.Fatalf("auth %s: %d %s %s (%v)", user, a.Code, a.Message, a.Detail, err)
		}
		return res.Result
	}

	e, a := enroll(url.Values{"username": {"newbie"}, "bypass_codes": {"3"}})
	if a.Stat != "OK" || e.Username != "newbie" || len(e.BypassCodes) != 3 {
		t.Fatalf("enroll newbie with bypass_codes=3: %s %d %s, %+v", a.Stat, a.Code, a.Detail, e)
	}
	for _, c := range e.BypassCodes {
		if len(c) != auth.BypassCodeDigits || strings.Trim(c, "0123456789") != "" {
			t.Errorf("bypass code %q is not %d digits", c, auth.BypassCodeDigits)
		}
		if got := passcode("newbie", c); got != "allow" {
			t.Errorf("auth with an enroll bypass code: %s, want allow", got)
		}
	}
	if got := passcode("newbie", e.BypassCodes[0]); got != "deny" {
		t.Errorf("an enroll bypass code used twice: %s, want deny (single use)", got)
	}

	// An existing user keeps the codes it had.
	e, a = enroll(url.Values{"username": {"OLD"}, "bypass_codes": {"1"}})
	if a.Stat != "OK" || e.Username != "old" || len(e.BypassCodes) != 1 {
		t.Fatalf("enroll old with bypass_codes=1: %s %s, %+v", a.Stat, a.Detail, e)
	}
	if got := passcode("old", oldCode); got != "allow" {
		t.Errorf("the code old had before enroll: %s, want allow", got)
	}

	// Without the parameter (or 0) there are none, and no field.
	for _, params := range []url.Values{{"username": {"plain"}}, {"username": {"zero"}, "bypass_codes": {"0"}}} {
		if a := wire(t, srv, ikey, skey, http.MethodPost, "/auth/v2/enroll", params); a.Stat != "OK" || strings.Contains(string(a.Response), "bypass_codes") {
			t.Errorf("enroll %v: %s %s, want OK without bypass_codes", params, a.Stat, a.Response)
		}
	}
	for _, v := range []string{"11", "-1", "two", "1.5"} {
		_, a := enroll(url.Values{"username": {"bad"}, "bypass_codes": {v}})
		a.wantInvalid(t, "enroll bypass_codes="+v, "bypass_codes", "10")
	}
	if _, err := srv.App.Core.User(assenttest.Ctx(t), "bad"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("a refused enroll created the user: %v", err)
	}
}

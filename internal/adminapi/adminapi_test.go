package adminapi_test

import (
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/adminapi"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

type envelope struct {
	Stat     string          `json:"stat"`
	Code     int             `json:"code"`
	Message  string          `json:"message"`
	Detail   string          `json:"message_detail"`
	Response json.RawMessage `json:"response"`
	Metadata json.RawMessage `json:"metadata"`
}

// call signs a request with the integration's keys (signature version
// v) and decodes Duo's envelope.
func call(t *testing.T, s *assenttest.Server, ikey, skey string, v int, method, path string, params url.Values) (int, envelope) {
	t.Helper()
	sg := duosig.Signer{IKey: ikey, SKey: skey, Host: s.Host, Version: v}
	req, err := sg.NewRequest(t.Context(), method, path, params)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return resp.StatusCode, e
}

func integration(t *testing.T, s *assenttest.Server, typ store.IntegrationType, grants ...string) (string, string) {
	t.Helper()
	in, skey, err := s.App.Core.CreateIntegration(t.Context(), auth.NewIntegration{Name: "t", Type: typ, Grants: grants})
	if err != nil {
		t.Fatal(err)
	}
	return in.IKey, skey
}

// TestGrants checks every route against an integration holding only the
// grant it needs and one holding every other grant.
func TestGrants(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	byGrant := map[string][2]string{}
	for _, g := range store.AllGrants {
		ikey, skey := integration(t, s, store.TypeAdminAPI, g)
		byGrant[g] = [2]string{ikey, skey}
	}
	u, err := s.App.Core.CreateUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path, grant string
	}{
		{"GET", "/admin/v2/logs/authentication?mintime=0&maxtime=1", store.GrantReadLog},
		{"GET", "/admin/v1/logs/authentication", store.GrantReadLog},
		{"GET", "/admin/v1/logs/administrator", store.GrantReadLog},
		{"GET", "/admin/v2/logs/activity?mintime=0&maxtime=1", store.GrantReadLog},
		{"GET", "/admin/v1/users", store.GrantReadResource},
		{"GET", "/admin/v1/users/" + u.ID, store.GrantReadResource},
		{"GET", "/admin/v1/users/" + u.ID + "/phones", store.GrantReadResource},
		{"GET", "/admin/v1/info/summary", store.GrantReadResource},
		{"GET", "/admin/v3/integrations", store.GrantReadResource},
		{"GET", "/admin/v1/settings", store.GrantSettings},
		{"POST", "/admin/v1/users/" + u.ID + "/bypass_codes", store.GrantWriteResource},
		{"GET", "/admin/v1/phones", store.GrantReadResource},
		{"POST", "/admin/v1/phones", store.GrantWriteResource},
	} {
		path, rawQuery, _ := strings.Cut(tc.path, "?")
		params, _ := url.ParseQuery(rawQuery)
		for _, g := range store.AllGrants {
			keys := byGrant[g]
			status, e := call(t, s, keys[0], keys[1], 2, tc.method, path, params)
			if g == tc.grant && (status != 200 || e.Stat != "OK") {
				t.Errorf("%s %s with %s: %d %+v", tc.method, tc.path, g, status, e)
			}
			if g != tc.grant && (status != 403 || e.Code != 40301 || !strings.Contains(e.Detail, tc.grant)) {
				t.Errorf("%s %s with only %s: %d %+v, want 403/40301 naming %s", tc.method, tc.path, g, status, e, tc.grant)
			}
		}
	}
}

// TestSignaturesAndMethods: JSON bodies (v5) and form bodies (v2) on POST,
// query parameters on DELETE, Duo's 405 and 404, and Auth API keys
// refused.
func TestSignaturesAndMethods(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, "all")
	for _, v := range []int{2, 4, 5} {
		name := "user-v" + string(rune('0'+v))
		status, e := call(t, s, ikey, skey, v, "POST", "/admin/v1/users", url.Values{"username": {name}, "email": {name + "@example.com"}})
		var u struct {
			UserID string `json:"user_id"`
			Email  string `json:"email"`
		}
		if status != 200 || json.Unmarshal(e.Response, &u) != nil || u.Email != name+"@example.com" {
			t.Fatalf("v%d POST /admin/v1/users: %d %+v", v, status, e)
		}
		if v != 5 {
			continue
		}
		status, e = call(t, s, ikey, skey, v, "DELETE", "/admin/v1/users/"+u.UserID, url.Values{"note": {"x"}})
		if status != 200 || string(e.Response) != `""` {
			t.Errorf("v%d DELETE: %d %+v", v, status, e)
		}
	}
	for _, q := range []url.Values{
		{"username_list": {"user-v2", "user-v4"}},
		{"username_list": {"user-v2,user-v4,nobody"}},
		{"username_list": {`["user-v2","user-v4"]`}},
	} {
		status, e := call(t, s, ikey, skey, 5, "GET", "/admin/v1/users", q)
		var us []struct {
			Username string `json:"username"`
		}
		if status != 200 || json.Unmarshal(e.Response, &us) != nil || len(us) != 2 || us[0].Username != "user-v2" {
			t.Errorf("GET /admin/v1/users %v: %d %s", q, status, e.Response)
		}
	}
	if status, e := call(t, s, ikey, skey, 2, "PUT", "/admin/v1/users", nil); status != 405 || e.Code != 40501 {
		t.Errorf("PUT /admin/v1/users: %d %+v", status, e)
	}
	if status, e := call(t, s, ikey, skey, 2, "GET", "/admin/v2/policies", nil); status != 404 || e.Code != 40401 {
		t.Errorf("GET /admin/v2/policies (not served): %d %+v", status, e)
	}
	if status, e := call(t, s, ikey, skey, 2, "GET", "/admin/v1/users/DUNOSUCHUSER00000000", nil); status != 404 || e.Code != 40401 {
		t.Errorf("GET a missing user: %d %+v", status, e)
	}
	if status, e := call(t, s, ikey, skey, 2, "POST", "/admin/v1/users", url.Values{"username": {"x"}, "alias1": {"X"}}); status != 400 || e.Code != 40002 {
		t.Errorf("alias1 = username: %d %+v", status, e)
	}
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	if status, e := call(t, s, aikey, askey, 2, "GET", "/admin/v1/users", nil); status != 403 || e.Code != 40301 {
		t.Errorf("Auth API keys on /admin: %d %+v", status, e)
	}
	if status, e := call(t, s, ikey, skey+"x", 2, "GET", "/admin/v1/users", nil); status != 401 || e.Code != 40103 {
		t.Errorf("bad signature: %d %+v", status, e)
	}
	// Admin API keys on the Auth API.
	if status, e := call(t, s, ikey, skey, 2, "GET", "/auth/v2/check", nil); status != 403 || e.Code != 40301 {
		t.Errorf("Admin API keys on /auth/v2/check: %d %+v", status, e)
	}
}

// TestRoutesHaveGrants: every route names a grant (a route without one
// would be open to every adminapi integration).
func TestRoutesHaveGrants(t *testing.T) {
	a := &adminapi.API{}
	routes := a.Routes()
	if len(routes) < 20 {
		t.Fatalf("%d routes", len(routes))
	}
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/admin/v") || len(r.Grants) == 0 {
			t.Errorf("route %+v", r)
		}
		for m, g := range r.Grants {
			if !slices.Contains(store.AllGrants, g) {
				t.Errorf("%s %s needs %q, not a grant", m, r.Path, g)
			}
			// Reads need no write grant; writes need write-resource (or
			// settings for the settings).
			if m != "GET" && g != store.GrantWriteResource && g != store.GrantSettings {
				t.Errorf("%s %s needs only %s", m, r.Path, g)
			}
		}
	}
}

// TestSettings: lockout_threshold set through the API holds for the Auth
// API's next decisions; other settings are refused by name.
func TestSettings(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantSettings)
	status, e := call(t, s, ikey, skey, 2, "GET", "/admin/v1/settings", nil)
	var got struct {
		Threshold int `json:"lockout_threshold"`
	}
	if status != 200 || json.Unmarshal(e.Response, &got) != nil || got.Threshold != 10 {
		t.Fatalf("GET settings: %d %s", status, e.Response)
	}
	for _, q := range []url.Values{{"lockout_threshold": {"0"}}, {"lockout_threshold": {"x"}}, {"caller_id": {"+1555"}}} {
		if status, e := call(t, s, ikey, skey, 5, "POST", "/admin/v1/settings", q); status != 400 || e.Code != 40002 {
			t.Errorf("POST settings %v: %d %+v", q, status, e)
		}
	}
	status, e = call(t, s, ikey, skey, 5, "POST", "/admin/v1/settings", url.Values{"lockout_threshold": {"2"}})
	if status != 200 || json.Unmarshal(e.Response, &got) != nil || got.Threshold != 2 {
		t.Fatalf("POST settings lockout_threshold=2: %d %s", status, e.Response)
	}
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	s.User(t, "carol")
	s.BypassCodes(t, "carol", 1, 0)
	for range 2 {
		call(t, s, aikey, askey, 2, "POST", "/auth/v2/auth", url.Values{"username": {"carol"}, "factor": {"passcode"}, "passcode": {"000000001"}})
	}
	if u, err := s.App.Core.User(t.Context(), "carol"); err != nil || u.Status != store.StatusLockedOut {
		t.Errorf("after 2 failures with lockout_threshold 2: %+v %v", u, err)
	}
}

package adminapi_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

type aliasUser struct {
	UserID   string            `json:"user_id"`
	Username string            `json:"username"`
	Alias1   *string           `json:"alias1"`
	Alias2   *string           `json:"alias2"`
	Alias3   *string           `json:"alias3"`
	Alias4   *string           `json:"alias4"`
	Aliases  map[string]string `json:"aliases"`
}

// TestUserAliases: alias1–alias4 and aliases (URL-encoded pairs or a JSON
// object) set aliases on create and update, "" clears one, the user JSON
// shows them as Duo does, a user is found by an alias, and a taken alias
// is refused naming its holder.
func TestUserAliases(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource, store.GrantWriteResource)
	user := func(status int, e envelope) aliasUser {
		t.Helper()
		var u aliasUser
		if status != 200 || json.Unmarshal(e.Response, &u) != nil {
			t.Fatalf("%d %+v", status, e)
		}
		return u
	}
	str := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		return *p
	}
	u := user(call(t, s, ikey, skey, 2, "POST", "/admin/v1/users",
		url.Values{"username": {"alice"}, "alias1": {"a.smith"}, "aliases": {"alias3=asmith%40example.com&alias6=als"}}))
	if str(u.Alias1) != "a.smith" || str(u.Alias2) != "<null>" || str(u.Alias3) != "asmith@example.com" || str(u.Alias4) != "<null>" ||
		len(u.Aliases) != 3 || u.Aliases["alias6"] != "als" {
		t.Errorf("created: %+v (alias1 %s, alias3 %s)", u, str(u.Alias1), str(u.Alias3))
	}
	// Found by alias.
	status, e := call(t, s, ikey, skey, 2, "GET", "/admin/v1/users", url.Values{"username": {"ALS"}})
	var list []aliasUser
	if status != 200 || json.Unmarshal(e.Response, &list) != nil || len(list) != 1 || list[0].UserID != u.UserID {
		t.Errorf("GET /users?username=<alias>: %d %s", status, e.Response)
	}
	// Update: clear alias1, set alias2 (JSON object form), others stay.
	u = user(call(t, s, ikey, skey, 2, "POST", "/admin/v1/users/"+u.UserID,
		url.Values{"alias1": {""}, "aliases": {`{"alias2": "alice.s"}`}}))
	if str(u.Alias1) != "<null>" || str(u.Alias2) != "alice.s" || str(u.Alias3) != "asmith@example.com" || len(u.Aliases) != 3 {
		t.Errorf("updated: %+v", u)
	}
	// Another user may not take an alias or a username as alias, nor be
	// named as one.
	bob := user(call(t, s, ikey, skey, 2, "POST", "/admin/v1/users", url.Values{"username": {"bob"}}))
	for _, v := range []url.Values{{"alias1": {"ALICE.S"}}, {"alias2": {"Alice"}}, {"aliases": {"alias9=x"}}, {"aliases": {"{bad"}}} {
		if status, e := call(t, s, ikey, skey, 2, "POST", "/admin/v1/users/"+bob.UserID, v); status != 400 {
			t.Errorf("update bob %v: %d %+v", v, status, e)
		}
	}
	if status, e := call(t, s, ikey, skey, 2, "POST", "/admin/v1/users", url.Values{"username": {"als"}}); status != 400 || e.Message == "" {
		t.Errorf("create a user named as an alias: %d %+v", status, e)
	}
}

// TestIntegrationUsernamePolicy: username_normalization_policy is "none"
// unless set, settable on create and update, and checked.
func TestIntegrationUsernamePolicy(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource, store.GrantWriteResource)
	type integ struct {
		IKey   string `json:"integration_key"`
		Policy string `json:"username_normalization_policy"`
	}
	get := func(status int, e envelope) integ {
		t.Helper()
		var in integ
		if status != 200 || json.Unmarshal(e.Response, &in) != nil {
			t.Fatalf("%d %+v", status, e)
		}
		return in
	}
	in := get(call(t, s, ikey, skey, 2, "POST", "/admin/v1/integrations", url.Values{"name": {"vpn"}, "type": {"authapi"}}))
	if in.Policy != "none" {
		t.Errorf("default policy %q", in.Policy)
	}
	in = get(call(t, s, ikey, skey, 2, "POST", "/admin/v1/integrations/"+in.IKey, url.Values{"username_normalization_policy": {"simple"}}))
	if in.Policy != "simple" {
		t.Errorf("after update %q", in.Policy)
	}
	in = get(call(t, s, ikey, skey, 2, "GET", "/admin/v1/integrations/"+in.IKey, nil))
	if in.Policy != "simple" {
		t.Errorf("read back %q", in.Policy)
	}
	in = get(call(t, s, ikey, skey, 2, "POST", "/admin/v1/integrations", url.Values{"name": {"web"}, "type": {"websdk"}, "username_normalization_policy": {"Simple"}}))
	if in.Policy != "simple" {
		t.Errorf("created with Simple: %q", in.Policy)
	}
	if status, e := call(t, s, ikey, skey, 2, "POST", "/admin/v1/integrations/"+in.IKey, url.Values{"username_normalization_policy": {"strict"}}); status != 400 {
		t.Errorf("policy strict: %d %+v", status, e)
	}
}

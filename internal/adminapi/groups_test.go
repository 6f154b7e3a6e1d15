package adminapi_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

type groupResp struct {
	Desc        string `json:"desc"`
	GroupID     string `json:"group_id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	PushEnabled *bool  `json:"push_enabled"`
	Users       []struct {
		Username string `json:"username"`
	} `json:"users"`
}

// TestGroups drives Duo's group endpoints, v1 and v2, and membership; a
// disabled group denies its members through the Auth API.
func TestGroups(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource, store.GrantWriteResource)
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	alice, err := s.App.Core.CreateUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.App.Core.CreateUser(t.Context(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	adm := func(method, path string, p url.Values) (int, envelope) {
		t.Helper()
		return call(t, s, ikey, skey, 2, method, path, p)
	}
	preauth := func(user string) string {
		t.Helper()
		_, e := call(t, s, aikey, askey, 2, "POST", "/auth/v2/preauth", url.Values{"username": {user}})
		return decode[struct {
			Result string `json:"result"`
		}](t, e.Response).Result
	}

	for _, tc := range []struct {
		name string
		p    url.Values
	}{
		{"no name", url.Values{"desc": {"x"}}},
		{"bad status", url.Values{"name": {"x"}, "status": {"locked out"}}},
		{"factor restriction", url.Values{"name": {"x"}, "push_enabled": {"1"}}},
	} {
		if st, e := adm("POST", "/admin/v1/groups", tc.p); st != 400 || e.Code != 40002 {
			t.Errorf("%s: %d %+v", tc.name, st, e)
		}
	}
	st, e := adm("POST", "/admin/v1/groups", url.Values{"name": {"staff"}, "desc": {"everyone"}})
	g := decode[groupResp](t, e.Response)
	if st != 200 || g.Name != "staff" || g.Desc != "everyone" || g.Status != "active" || g.PushEnabled == nil || len(g.GroupID) != 20 {
		t.Fatalf("create: %d %s", st, e.Response)
	}
	if st, _ := adm("POST", "/admin/v1/groups", url.Values{"name": {"staff"}}); st == 200 {
		t.Fatal("duplicate name accepted")
	}
	for _, u := range []string{alice.ID, bob.ID} {
		if st, e := adm("POST", "/admin/v1/users/"+u+"/groups", url.Values{"group_id": {g.GroupID}}); st != 200 || string(e.Response) != `""` {
			t.Fatalf("add member: %d %+v", st, e)
		}
	}
	if st, e := adm("POST", "/admin/v1/users/"+alice.ID+"/groups", url.Values{"group_id": {"DGXXXXXXXXXXXXXXXXXX"}}); st != 400 || e.Code != 40002 {
		t.Fatalf("unknown group: %d %+v", st, e)
	}
	_, e = adm("GET", "/admin/v2/groups/"+g.GroupID+"/users", url.Values{"limit": {"1"}})
	if l := decode[[]groupResp](t, e.Response); len(l) != 1 {
		t.Fatalf("members page %s", e.Response)
	}
	_, e = adm("GET", "/admin/v2/groups/"+g.GroupID+"/users", nil)
	if l := decode[[]struct {
		Username string `json:"username"`
		UserID   string `json:"user_id"`
	}](t, e.Response); len(l) != 2 || l[0].Username != "alice" || l[1].UserID != bob.ID {
		t.Fatalf("members %s", e.Response)
	}
	_, e = adm("GET", "/admin/v2/groups/"+g.GroupID, nil)
	if v2 := decode[groupResp](t, e.Response); v2.Name != "staff" || v2.PushEnabled != nil {
		t.Fatalf("v2 group %s", e.Response)
	}
	_, e = adm("GET", "/admin/v1/groups/"+g.GroupID, nil)
	if v1 := decode[groupResp](t, e.Response); len(v1.Users) != 2 {
		t.Fatalf("v1 group %s", e.Response)
	}
	_, e = adm("GET", "/admin/v1/users/"+alice.ID, nil)
	if u := decode[struct {
		Groups []groupResp `json:"groups"`
	}](t, e.Response); len(u.Groups) != 1 || u.Groups[0].GroupID != g.GroupID {
		t.Fatalf("user %s", e.Response)
	}
	_, e = adm("GET", "/admin/v1/users/"+alice.ID+"/groups", nil)
	if l := decode[[]groupResp](t, e.Response); len(l) != 1 {
		t.Fatalf("user groups %s", e.Response)
	}

	// The group's status decides for its members.
	if got := preauth("alice"); got != "enroll" {
		t.Fatalf("alice before: %s", got)
	}
	if st, e := adm("POST", "/admin/v1/groups/"+g.GroupID, url.Values{"status": {"disabled"}}); st != 200 || decode[groupResp](t, e.Response).Status != "disabled" {
		t.Fatalf("modify: %d %s", st, e.Response)
	}
	if got := preauth("alice"); got != "deny" {
		t.Fatalf("alice in a disabled group: %s", got)
	}
	if st, _ := adm("DELETE", "/admin/v1/users/"+alice.ID+"/groups/"+g.GroupID, nil); st != 200 {
		t.Fatalf("remove member: %d", st)
	}
	if st, _ := adm("DELETE", "/admin/v1/users/"+alice.ID+"/groups/"+g.GroupID, nil); st != 200 {
		t.Fatalf("remove member again: %d", st)
	}
	if got := preauth("alice"); got != "enroll" {
		t.Fatalf("alice out of the group: %s", got)
	}
	if got := preauth("bob"); got != "deny" {
		t.Fatalf("bob still in it: %s", got)
	}

	_, e = adm("GET", "/admin/v1/groups", nil)
	if l := decode[[]groupResp](t, e.Response); len(l) != 1 || l[0].Status != "disabled" {
		t.Fatalf("list %s", e.Response)
	}
	for range 2 {
		if st, e := adm("DELETE", "/admin/v1/groups/"+g.GroupID, nil); st != 200 || string(e.Response) != `""` {
			t.Fatalf("delete: %d %+v", st, e)
		}
	}
	if st, _ := adm("GET", "/admin/v2/groups/"+g.GroupID, nil); st != 404 {
		t.Fatalf("deleted group: %d", st)
	}
	if got := preauth("bob"); got != "enroll" {
		t.Fatalf("bob after the group's deletion: %s", got)
	}
	want := []string{"group_create", "group_member_add", "group_member_add", "group_update", "group_member_remove", "group_delete"}
	var got []string
	for _, a := range adminActions(t, s) {
		if a != "integration_create" && a != "user_create" {
			got = append(got, a)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("administrator log %v, want %v", got, want)
	}
}

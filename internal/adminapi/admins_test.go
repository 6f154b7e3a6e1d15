package adminapi_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// TestListAdmins: the console's administrators as Duo's admin objects,
// paged, and one by ID.
func TestListAdmins(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource)
	status, e := call(t, s, ikey, skey, 2, "GET", "/admin/v1/admins", nil)
	if status != 200 || string(e.Response) != "[]" {
		t.Fatalf("no admins: %d %s", status, e.Response)
	}
	for _, c := range []struct {
		email string
		role  store.AdminRole
	}{{"zoe@example.com", store.RoleOwner}, {"amy@example.com", store.RoleHelpDesk}, {"bob@example.com", store.RoleReadOnly}} {
		if _, _, err := s.App.Core.CreateAdmin(t.Context(), c.email, "", c.role); err != nil {
			t.Fatal(err)
		}
	}
	type admin struct {
		AdminID, Email, Role, Status string
		LastLogin                    *int64 `json:"last_login"`
	}
	var list []admin
	status, e = call(t, s, ikey, skey, 2, "GET", "/admin/v1/admins", url.Values{"limit": {"2"}})
	if err := json.Unmarshal(e.Response, &list); status != 200 || err != nil {
		t.Fatalf("list: %d %v %s", status, err, e.Response)
	}
	if len(list) != 2 || list[0].Email != "amy@example.com" || list[0].Role != "Help Desk" || list[0].Status != "Pending Activation" ||
		list[1].Email != "bob@example.com" || list[1].Role != "Read-only" || list[0].LastLogin != nil {
		t.Errorf("first page: %+v", list)
	}
	var meta struct {
		Total int  `json:"total_objects"`
		Next  *int `json:"next_offset"`
	}
	if err := json.Unmarshal(e.Metadata, &meta); err != nil || meta.Total != 3 || meta.Next == nil || *meta.Next != 2 {
		t.Errorf("metadata %s", e.Metadata)
	}
	status, e = call(t, s, ikey, skey, 2, "GET", "/admin/v1/admins", url.Values{"offset": {"2"}})
	if err := json.Unmarshal(e.Response, &list); status != 200 || err != nil || len(list) != 1 || list[0].Role != "Owner" {
		t.Errorf("second page: %d %s", status, e.Response)
	}
	var raw []map[string]any
	_ = json.Unmarshal(e.Response, &raw)
	id, _ := raw[0]["admin_id"].(string)
	var one admin
	status, e = call(t, s, ikey, skey, 2, "GET", "/admin/v1/admins/"+id, nil)
	if err := json.Unmarshal(e.Response, &one); status != 200 || err != nil || one.Email != "zoe@example.com" {
		t.Errorf("one admin: %d %s", status, e.Response)
	}
	if status, _ := call(t, s, ikey, skey, 2, "GET", "/admin/v1/admins/DE000000000000000000", nil); status != 404 {
		t.Errorf("an unknown admin: %d", status)
	}
	for _, k := range []string{"password_hash", "PasswordHash", "totp_secret_enc"} {
		if _, ok := raw[0][k]; ok {
			t.Errorf("admin object carries %s", k)
		}
	}
}

package adminapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

type bypassOut struct {
	ID         string `json:"bypass_code_id"`
	CreatedOn  int64  `json:"created_on"`
	Expiration *int64 `json:"expiration"`
	ReuseCount *int   `json:"reuse_count"`
	User       struct {
		UserID   string `json:"user_id"`
		Username string `json:"username"`
	} `json:"user"`
}

// TestGlobalBypassCodes: GET /bypass_codes lists every user's codes
// (paged, never the code), GET/DELETE by ID, each under its grant; a
// deleted code no longer logs in, and the deletion is in the
// administrator log.
func TestGlobalBypassCodes(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	rikey, rskey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource)
	wikey, wskey := integration(t, s, store.TypeAdminAPI, store.GrantWriteResource)
	s.User(t, "alice")
	s.User(t, "bob")
	aliceCodes := s.BypassCodes(t, "alice", 2, 3)
	s.BypassCodes(t, "bob", 3, 0)

	var all []bypassOut
	for off := 0; ; {
		status, e := call(t, s, rikey, rskey, 2, "GET", "/admin/v1/bypass_codes", url.Values{"limit": {"2"}, "offset": {itoa(off)}})
		var page []bypassOut
		var meta struct {
			Next  *int `json:"next_offset"`
			Total int  `json:"total_objects"`
		}
		if status != 200 || json.Unmarshal(e.Response, &page) != nil || json.Unmarshal(e.Metadata, &meta) != nil || meta.Total != 5 {
			t.Fatalf("GET /bypass_codes offset %d: %d %s %s", off, status, e.Response, e.Metadata)
		}
		for _, code := range aliceCodes {
			if strings.Contains(string(e.Response), code) {
				t.Fatalf("the list shows a code: %s", e.Response)
			}
		}
		all = append(all, page...)
		if meta.Next == nil {
			break
		}
		off = *meta.Next
	}
	users := map[string]int{}
	for _, b := range all {
		users[b.User.Username]++
		if b.User.Username == "alice" && (b.ReuseCount == nil || *b.ReuseCount != 3) {
			t.Errorf("alice's code reuse_count = %v, want 3", b.ReuseCount)
		}
		if b.User.Username == "bob" && b.ReuseCount != nil {
			t.Errorf("bob's unlimited code reuse_count = %v, want null", *b.ReuseCount)
		}
		if !strings.HasPrefix(b.ID, "DB") || b.CreatedOn == 0 {
			t.Errorf("code %+v", b)
		}
	}
	if len(all) != 5 || users["alice"] != 2 || users["bob"] != 3 {
		t.Fatalf("paged list = %+v", all)
	}

	alice := all[slices.IndexFunc(all, func(b bypassOut) bool { return b.User.Username == "alice" })]
	for _, tc := range []struct {
		name         string
		ikey, skey   string
		method, path string
		status, code int
	}{
		{"get with read", rikey, rskey, "GET", "/admin/v1/bypass_codes/" + alice.ID, 200, 0},
		{"get missing", rikey, rskey, "GET", "/admin/v1/bypass_codes/DBNOSUCHCODE000000000", 404, 40401},
		{"list with write only", wikey, wskey, "GET", "/admin/v1/bypass_codes", 403, 40301},
		{"get with write only", wikey, wskey, "GET", "/admin/v1/bypass_codes/" + alice.ID, 403, 40301},
		{"delete with read only", rikey, rskey, "DELETE", "/admin/v1/bypass_codes/" + alice.ID, 403, 40301},
		{"post not served", wikey, wskey, "POST", "/admin/v1/bypass_codes", 405, 40501},
		{"delete missing (Duo: does nothing)", wikey, wskey, "DELETE", "/admin/v1/bypass_codes/DBNOSUCHCODE000000000", 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, e := call(t, s, tc.ikey, tc.skey, 2, tc.method, tc.path, nil)
			if status != tc.status || e.Code != tc.code {
				t.Errorf("%s %s: %d %+v, want %d/%d", tc.method, tc.path, status, e, tc.status, tc.code)
			}
		})
	}
	status, e := call(t, s, rikey, rskey, 2, "GET", "/admin/v1/bypass_codes/"+alice.ID, nil)
	var one bypassOut
	if status != 200 || json.Unmarshal(e.Response, &one) != nil || one.ID != alice.ID || one.User != alice.User ||
		one.ReuseCount == nil || *one.ReuseCount != 3 || one.CreatedOn != alice.CreatedOn {
		t.Errorf("GET /bypass_codes/%s = %d %s, want %+v", alice.ID, status, e.Response, alice)
	}

	// Delete both of alice's codes: neither logs in any more.
	for _, b := range all {
		if b.User.Username != "alice" {
			continue
		}
		if status, e := call(t, s, wikey, wskey, 2, "DELETE", "/admin/v1/bypass_codes/"+b.ID, nil); status != 200 || string(e.Response) != `""` {
			t.Fatalf("DELETE %s: %d %+v", b.ID, status, e)
		}
	}
	if list, err := s.App.Core.BypassCodes(t.Context(), "alice"); err != nil || len(list) != 0 {
		t.Errorf("alice's codes after DELETE: %v %v", list, err)
	}
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	status, e = call(t, s, aikey, askey, 2, "POST", "/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"passcode"}, "passcode": {aliceCodes[0]}})
	var res struct {
		Result string `json:"result"`
	}
	if status != 200 || json.Unmarshal(e.Response, &res) != nil || res.Result != "deny" {
		t.Errorf("a deleted code logs in: %d %s", status, e.Response)
	}
	// The administrator log lists rows once its clock has passed them.
	n := 0
	for deadline := time.Now().Add(5 * time.Second); n < 2 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		logs, err := s.App.Core.AdminLogSince(t.Context(), time.Unix(0, 0), 1000)
		if err != nil {
			t.Fatal(err)
		}
		n = 0
		for _, l := range logs {
			if l.Action == "bypass_delete" {
				n++
			}
		}
	}
	if n != 2 {
		t.Errorf("%d bypass_delete rows in the administrator log, want 2", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	duoapi "github.com/duosecurity/duo_api_golang"
	"github.com/duosecurity/duo_api_golang/admin"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/mailpittest"
)

// adminIntegration creates an adminapi integration with grants.
func (ts *testServer) adminIntegration(t *testing.T, grants ...string) (ikey, skey string) {
	t.Helper()
	in, skey, err := ts.App.Core.CreateIntegration(testCtx(t), auth.NewIntegration{Name: "e2e admin", Type: store.TypeAdminAPI, Grants: grants})
	if err != nil {
		t.Fatalf("create adminapi integration: %v", err)
	}
	return in.IKey, skey
}

// seedUsers creates n users named seed-0000… in one transaction.
func (ts *testServer) seedUsers(t *testing.T, n int) {
	t.Helper()
	ctx := testCtx(t)
	now := time.Now()
	err := ts.App.Store.InTx(ctx, func(q store.Queries) error {
		for i := range n {
			u := store.User{ID: fmt.Sprintf("DUSEED%014d", i), Username: fmt.Sprintf("seed-%04d", i), Status: store.StatusActive, Created: now}
			if err := q.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed users: %v", err)
	}
}

// seedAuthLog appends n auth-log rows spread over the minute before now,
// oldest first, alternating results and factors.
func (ts *testServer) seedAuthLog(t *testing.T, ikey string, n int) time.Time {
	t.Helper()
	ctx := testCtx(t)
	start := time.Now().Add(-90 * time.Second).Truncate(time.Second)
	err := ts.App.Store.InTx(ctx, func(q store.Queries) error {
		for i := range n {
			l := &store.AuthLog{TxID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Time: start.Add(time.Duration(i*60/n) * time.Second),
				IKey: ikey, UserID: fmt.Sprintf("DUSEED%014d", i%50), Username: fmt.Sprintf("seed-%04d", i%50),
				Factor: []string{"duo_push", "bypass_code", "passcode"}[i%3], Result: []string{"allow", "deny"}[i%2],
				Reason: []string{"user_approved", "invalid_passcode"}[i%2], IP: "192.0.2.7"}
			if i%3 == 2 {
				l.Device = "DPSEED00000000000000"
			}
			if err := q.AppendAuthLog(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed auth log: %v", err)
	}
	return start
}

type pyAdminOut struct {
	UsersCount        int              `json:"users_count"`
	UsersDistinct     int              `json:"users_distinct"`
	Users             *pyCall          `json:"users"`
	UsersPage         pyCall           `json:"users_page"`
	ByName            pyCall           `json:"by_name"`
	V4AddUser         pyCall           `json:"v4_add_user"`
	V4ByName          pyCall           `json:"v4_by_name"`
	AddUser           pyCall           `json:"add_user"`
	UpdateUser        pyCall           `json:"update_user"`
	GetUserByID       pyCall           `json:"get_user_by_id"`
	BypassCodes       pyCall           `json:"bypass_codes"`
	LoginWithCode     pyCall           `json:"login_with_code"`
	LoginAgain        pyCall           `json:"login_again"`
	EnrollUser        pyCall           `json:"enroll_user"`
	AllBypassCodes    pyCall           `json:"all_bypass_codes"`
	AllBypassIDs      pyCall           `json:"all_bypass_ids"`
	UserBypassIDs     pyCall           `json:"user_bypass_ids"`
	BypassShown       bool             `json:"bypass_shown"`
	DeleteBypassCode  pyCall           `json:"delete_bypass_code"`
	BypassIDsAfter    pyCall           `json:"bypass_ids_after_delete"`
	DeleteUser        pyCall           `json:"delete_user"`
	GetDeleted        pyCall           `json:"get_deleted"`
	Phones            pyCall           `json:"phones"`
	AuthLogV2Error    string           `json:"authlog_v2_error"`
	AuthLogV2Rows     int              `json:"authlog_v2_rows"`
	AuthLogV2Distinct int              `json:"authlog_v2_distinct"`
	AuthLogV2Total    int              `json:"authlog_v2_total"`
	AuthLogV2Pages    int              `json:"authlog_v2_pages"`
	AuthLogV2Sample   []v2Row          `json:"authlog_v2_sample"`
	AuthLogV2Filtered pyCall           `json:"authlog_v2_filtered"`
	AuthLogV1Count    json.RawMessage  `json:"authlog_v1_count"`
	AuthLogV1First    map[string]any   `json:"authlog_v1_first"`
	AdminLog          pyCall           `json:"admin_log"`
	AddUserGroup      pyCall           `json:"add_user_group"`
	AuthLogV2Groups   []string         `json:"authlog_v2_groups"`
	AuthLogV2NoGroups int              `json:"authlog_v2_no_groups"`
	AuthLogV2ByGroup  pyCall           `json:"authlog_v2_by_group"`
	ActivityError     string           `json:"activity_error"`
	ActivityRows      int              `json:"activity_rows"`
	ActivityDistinct  int              `json:"activity_distinct"`
	ActivityPages     int              `json:"activity_pages"`
	ActivityTotal     map[string]any   `json:"activity_total"`
	ActivityActions   []string         `json:"activity_actions"`
	ActivitySample    []map[string]any `json:"activity_sample"`
	InfoSummary       pyCall           `json:"info_summary"`
	Integrations      pyCall           `json:"integrations"`
	Telephony         pyCall           `json:"telephony"`
	TrustMonitor      pyCall           `json:"trust_monitor"`
	AuthKeysOnAdmin   pyCall           `json:"auth_keys_on_admin"`
	NoGrant           pyCall           `json:"no_grant"`
	NoGrantLog        pyCall           `json:"no_grant_log"`
}

type v2Row struct {
	Factor      string            `json:"factor"`
	Result      string            `json:"result"`
	Reason      string            `json:"reason"`
	Timestamp   int64             `json:"timestamp"`
	TxID        string            `json:"txid"`
	EventType   string            `json:"event_type"`
	Application map[string]string `json:"application"`
	User        map[string]any    `json:"user"`
}

// TestPythonDuoClientAdmin drives the Admin API with Debian's
// python3-duo-client, unchanged: paging over 350 users and 1,100 log rows,
// user CRUD, bypass codes that then log in through the Auth API, phones,
// the v1 and v2 authentication logs, the administrator log, the summary,
// integrations, and the refusals (Auth API keys, a missing grant).
func TestPythonDuoClientAdmin(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			// enroll_user e-mails its link: through Mailpit.
			mp := mailpittest.Start(t, mailpittest.Options{TLS: mailpittest.StartTLS, Username: "assent", Password: "pw"})
			testPythonDuoClientAdmin(t, py, mp, startServer(t, serverOptions{engine: e, flags: mailFlags(mp, "assent", "pw")}))
		})
	}
}

func testPythonDuoClientAdmin(t *testing.T, py string, mp *mailpittest.Server, ts *testServer) {
	admIKey, admSKey := ts.adminIntegration(t, "all")
	authIKey, authSKey := ts.authAPI(t)
	noIKey, noSKey := ts.adminIntegration(t)
	ts.seedUsers(t, 350)
	start := ts.seedAuthLog(t, authIKey, 1100)
	ts.App.Core.CreateUser(testCtx(t), "phoneuser")
	ts.ActivatePhone(t, "phoneuser")
	phoneUser := ts.userRecord(t, "phoneuser")

	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_admin.py"))
	if err != nil {
		t.Fatal(err)
	}
	var out pyAdminOut
	runJSON(t, 120*time.Second, &out, py, []string{script}, []string{
		"DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port), "DUO_CA=" + ts.CAFile,
		"DUO_ADMIN_IKEY=" + admIKey, "DUO_ADMIN_SKEY=" + admSKey,
		"DUO_AUTH_IKEY=" + authIKey, "DUO_AUTH_SKEY=" + authSKey,
		"DUO_NOGRANT_IKEY=" + noIKey, "DUO_NOGRANT_SKEY=" + noSKey,
		"DUO_PHONE_USER_ID=" + phoneUser.ID,
		"DUO_LOG_MINTIME_MS=" + strconv.FormatInt(start.Add(-time.Minute).UnixMilli(), 10),
	}, "")

	if out.Users != nil {
		t.Fatalf("get_users: %s", out.Users.Error)
	}
	// 350 seeded + phoneuser, at the time of the listing.
	if out.UsersCount != 351 || out.UsersDistinct != 351 {
		t.Errorf("get_users paged %d users (%d distinct), want 351", out.UsersCount, out.UsersDistinct)
	}
	var n int
	out.UsersPage.decode(t, "get_users(limit=300)", &n)
	if n != 300 {
		t.Errorf("get_users(limit=300) = %d users, want 300 (Duo's maximum)", n)
	}
	var byName []map[string]any
	out.ByName.decode(t, "get_users_by_name", &byName)
	if len(byName) != 1 || byName[0]["username"] != "seed-0007" {
		t.Errorf("get_users_by_name = %v", byName)
	}
	// Signature 4: a JSON body for the POST, the query for the GET.
	var v4Added map[string]any
	out.V4AddUser.decode(t, "add_user (sig_version 4, JSON body)", &v4Added)
	if v4Added["username"] != "py-json-user" || v4Added["realname"] != "Py JSON" || v4Added["email"] != "json@example.com" {
		t.Errorf("add_user (sig_version 4) = %v", v4Added)
	}
	var v4ByName []map[string]any
	out.V4ByName.decode(t, "get_users_by_name (sig_version 4)", &v4ByName)
	if len(v4ByName) != 1 || v4ByName[0]["user_id"] != v4Added["user_id"] {
		t.Errorf("get_users_by_name (sig_version 4) = %v", v4ByName)
	}
	var added, updated, got map[string]any
	out.AddUser.decode(t, "add_user", &added)
	if added["realname"] != "Py Admin" || added["email"] != "py@example.com" || added["status"] != "active" {
		t.Errorf("add_user = %v", added)
	}
	out.UpdateUser.decode(t, "update_user", &updated)
	if updated["notes"] != "from python" || updated["realname"] != "Py A." {
		t.Errorf("update_user = %v", updated)
	}
	out.GetUserByID.decode(t, "get_user_by_id", &got)
	if got["user_id"] != added["user_id"] || got["notes"] != "from python" || got["email"] != "py@example.com" {
		t.Errorf("get_user_by_id = %v", got)
	}
	var codes []string
	out.BypassCodes.decode(t, "add_user_bypass_codes", &codes)
	if len(codes) != 2 {
		t.Errorf("add_user_bypass_codes = %v", codes)
	}
	var login, again pyAuth
	out.LoginWithCode.decode(t, "auth with an Admin API bypass code", &login)
	out.LoginAgain.decode(t, "auth with the same single-use code", &again)
	if login.Result != "allow" || again.Result != "deny" {
		t.Errorf("bypass code from the Admin API: first %+v, again %+v; want allow then deny", login, again)
	}
	var allIDs, userIDs, afterIDs []string
	out.AllBypassIDs.decode(t, "get_bypass_codes", &allIDs)
	out.UserBypassIDs.decode(t, "get_user_bypass_codes", &userIDs)
	if len(allIDs) == 0 || !slices.Equal(allIDs, userIDs) || out.BypassShown {
		t.Errorf("get_bypass_codes lists %v for the user, get_user_bypass_codes %v (a code shown: %v); want the same, never a code",
			allIDs, userIDs, out.BypassShown)
	}
	out.BypassIDsAfter.decode(t, "get_bypass_codes after delete_bypass_code_by_id", &afterIDs)
	if out.DeleteBypassCode.Error != "" || len(allIDs) == 0 || slices.Contains(afterIDs, allIDs[0]) {
		t.Errorf("delete_bypass_code_by_id(%v): %s; listed after: %v", allIDs, out.DeleteBypassCode.Error, afterIDs)
	}
	var link string
	out.EnrollUser.decode(t, "enroll_user", &link)
	if !strings.Contains(link, "/portal/enroll/") {
		t.Errorf("enroll_user = %q, want an enrollment-portal link", link)
	} else if m := messageTo(t, mp, "enrollee@example.com", "two-factor"); !strings.Contains(m.Text, link) {
		t.Errorf("enroll_user's e-mail does not hold its link %q:\n%s", link, m.Text)
	} else if m := messageTo(t, mp, "enrollee@example.com", "two-factor"); !strings.Contains(m.Text, link) {
		t.Errorf("enroll_user's e-mail does not hold its link %q:\n%s", link, m.Text)
	}
	if out.DeleteUser.Error != "" || !strings.Contains(out.GetDeleted.Error, "404") {
		t.Errorf("delete_user: %s; get after delete: %+v", out.DeleteUser.Error, out.GetDeleted)
	}
	var phones []map[string]any
	out.Phones.decode(t, "get_user_phones", &phones)
	if len(phones) != 1 || phones[0]["type"] != "Mobile" || phones[0]["activated"] != true || !strings.HasPrefix(phones[0]["phone_id"].(string), "DP") {
		t.Errorf("get_user_phones = %v", phones)
	}

	if out.AuthLogV2Error != "" {
		t.Fatalf("get_authentication_log(api_version=2): %s", out.AuthLogV2Error)
	}
	if out.AuthLogV2Rows < 1100 || out.AuthLogV2Rows != out.AuthLogV2Total || out.AuthLogV2Distinct != out.AuthLogV2Rows || out.AuthLogV2Pages < 2 {
		t.Errorf("v2 log: %d rows (%d distinct) in %d pages, total_objects %d; want every row of at least 1100 once",
			out.AuthLogV2Rows, out.AuthLogV2Distinct, out.AuthLogV2Pages, out.AuthLogV2Total)
	}
	if len(out.AuthLogV2Sample) != 1 {
		t.Fatalf("v2 log: no bypass_code row")
	}
	if s := out.AuthLogV2Sample[0]; s.EventType != "authentication" || (s.Result != "success" && s.Result != "denied") ||
		s.Application["key"] != authIKey || s.Application["name"] == "" || s.User["key"] == "" {
		t.Errorf("v2 row = %+v", s)
	}
	var filtered []string
	out.AuthLogV2Filtered.decode(t, "v2 log results=denied", &filtered)
	if len(filtered) != 1 || filtered[0] != "denied" {
		t.Errorf("v2 log results=denied: results %v", filtered)
	}
	if string(out.AuthLogV1Count) != "1000" {
		t.Errorf("v1 log: %s rows, want 1000 (its page size)", out.AuthLogV1Count)
	}
	if f := out.AuthLogV1First; f == nil || f["eventtype"] != "authentication" || (f["result"] != "SUCCESS" && f["result"] != "FAILURE") {
		t.Errorf("v1 log first row = %v", f)
	}
	var adminLog []map[string]any
	out.AdminLog.decode(t, "get_administrator_log", &adminLog)
	actions := map[string]int{}
	for _, l := range adminLog {
		actions[fmt.Sprint(l["action"])]++
	}
	for _, a := range []string{"integration_create", "user_create", "user_update", "bypass_create", "bypass_delete", "user_delete"} {
		if actions[a] == 0 {
			t.Errorf("administrator log has no %s: %v", a, actions)
		}
	}
	// user.groups: the group the Admin API gave the user before it logged
	// in; the seeded rows' users are in none.
	if out.AddUserGroup.Error != "" || !slices.Equal(out.AuthLogV2Groups, []string{"py-group"}) || out.AuthLogV2NoGroups != 0 {
		t.Errorf("v2 log user.groups: add_user_group %+v; py-admin-user's rows name %q; %d other rows name groups",
			out.AddUserGroup, out.AuthLogV2Groups, out.AuthLogV2NoGroups)
	}
	var byGroup []string
	out.AuthLogV2ByGroup.decode(t, "v2 log groups=[py-group]", &byGroup)
	if !slices.Equal(byGroup, []string{"py-admin-user"}) {
		t.Errorf("v2 log groups filter: users %v, want py-admin-user only", byGroup)
	}
	// The activity log holds the administrator log, every row once,
	// oldest first.
	if out.ActivityError != "" {
		t.Fatalf("get_activity_logs: %s", out.ActivityError)
	}
	if out.ActivityRows != len(adminLog) || out.ActivityDistinct != out.ActivityRows || out.ActivityPages < 2 ||
		fmt.Sprint(out.ActivityTotal["value"]) != strconv.Itoa(out.ActivityRows) || out.ActivityTotal["relation"] != "eq" {
		t.Errorf("activity log: %d rows (%d distinct) in %d pages, total %v; the administrator log has %d",
			out.ActivityRows, out.ActivityDistinct, out.ActivityPages, out.ActivityTotal, len(adminLog))
	}
	if len(out.ActivityActions) == 0 || out.ActivityActions[0] != "integration_create" {
		t.Errorf("activity actions %v, want integration_create first", out.ActivityActions)
	}
	if len(out.ActivitySample) != 1 {
		t.Errorf("activity log has no user_create of py-admin-user")
	} else if a := out.ActivitySample[0]; a["eventtype"] != "activity" || a["actor"].(map[string]any)["key"] != admIKey ||
		a["actor"].(map[string]any)["type"] != "integration" || a["target"].(map[string]any)["type"] != "user" || a["ts"] == "" {
		t.Errorf("activity row = %v", a)
	}
	var summary map[string]int
	out.InfoSummary.decode(t, "get_info_summary", &summary)
	if summary["integration_count"] != 3 || summary["user_count"] < 351 {
		t.Errorf("get_info_summary = %v", summary)
	}
	var ins []map[string]any
	out.Integrations.decode(t, "get_integrations", &ins)
	if len(ins) != 3 {
		t.Errorf("get_integrations = %d integrations, want 3", len(ins))
	}
	for _, in := range ins {
		if _, ok := in["secret_key"]; ok {
			t.Errorf("get_integrations lists a secret key")
		}
	}
	var empty []any
	out.Telephony.decode(t, "get_telephony_log", &empty)
	out.TrustMonitor.decode(t, "get_trust_monitor_events_iterator", &empty)
	if len(empty) != 0 {
		t.Errorf("trust monitor events: %v", empty)
	}
	if !strings.Contains(out.AuthKeysOnAdmin.Error, "403") || !strings.Contains(out.AuthKeysOnAdmin.Error, "Wrong integration type") {
		t.Errorf("Auth API keys on /admin: %+v, want 403 wrong integration type", out.AuthKeysOnAdmin)
	}
	if !strings.Contains(out.NoGrant.Error, "403") || !strings.Contains(out.NoGrant.Error, "read-resource") ||
		!strings.Contains(out.NoGrantLog.Error, "read-log") {
		t.Errorf("no grant: %+v / %+v, want 403 naming the grant", out.NoGrant, out.NoGrantLog)
	}
}

// goAdmin is duo_api_golang's Admin API client for ts.
func goAdmin(t *testing.T, ts *testServer, ikey, skey string) *admin.Client {
	t.Helper()
	pool := ts.caPool(t)
	api := duoapi.NewDuoApi(ikey, skey, "localhost:"+strconv.Itoa(ts.Port), "assent-e2e",
		duoapi.SetTimeout(20*time.Second),
		duoapi.SetTransport(func(tr *http.Transport) { tr.TLSClientConfig = &tls.Config{RootCAs: pool} }))
	return admin.New(*api)
}

// TestGoAdminClient drives users, phones and logs with duo_api_golang's
// admin package, and rotates a secret key through the Admin API: during
// the grace period both keys sign, after it only the new one.
func TestGoAdminClient(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			testGoAdminClient(t, startServer(t, serverOptions{engine: e}))
		})
	}
}

func testGoAdminClient(t *testing.T, ts *testServer) {
	ikey, skey := ts.adminIntegration(t, "all")
	c := goAdmin(t, ts, ikey, skey)
	ts.seedUsers(t, 120)

	users, err := c.GetUsers()
	if err != nil || users.Stat != "OK" || len(users.Response) != 120 {
		t.Fatalf("GetUsers: %v, %d users (%s)", err, len(users.Response), stat(users.StatResult))
	}
	created, err := c.CreateUser(url.Values{"username": {"go-user"}, "email": {"go@example.com"}})
	if err != nil || created.Stat != "OK" || created.Response.Username != "go-user" {
		t.Fatalf("CreateUser: %v %+v", err, created)
	}
	id := created.Response.UserID
	mod, err := c.ModifyUser(id, url.Values{"status": {"disabled"}})
	if err != nil || mod.Response.Status != "disabled" {
		t.Errorf("ModifyUser: %v %+v", err, mod)
	}
	one, err := c.GetUser(id)
	if err != nil || one.Response.Email != "go@example.com" || one.Response.Status != "disabled" {
		t.Errorf("GetUser: %v %+v", err, one)
	}
	ph, err := c.GetUserPhones(id)
	if err != nil || ph.Stat != "OK" || len(ph.Response) != 0 {
		t.Errorf("GetUserPhones: %v %+v", err, ph)
	}
	// Phones: one waiting for activation, one activated, through duo_api_golang's GetPhones and GetPhone.
	pending, err := ts.App.Core.AddPhone(testCtx(t), auth.PhoneFields{})
	if err != nil {
		t.Fatal(err)
	}
	dev := ts.ActivatePhone(t, "go-phone-user")
	phones, err := c.GetPhones()
	if err != nil || phones.Stat != "OK" || len(phones.Response) != 2 || phones.Response[0].PhoneID != pending.ID || phones.Response[0].Activated ||
		phones.Response[1].PhoneID != dev.PKey || !phones.Response[1].Activated || len(phones.Response[1].Users) != 1 ||
		phones.Response[1].Users[0].Username != "go-phone-user" {
		t.Errorf("GetPhones: %v %+v", err, phones)
	}
	if got, err := c.GetPhone(pending.ID); err != nil || got.Stat != "OK" || got.Response.PhoneID != pending.ID || got.Response.Activated || got.Response.Type != "Mobile" {
		t.Errorf("GetPhone of a pending phone: %v %+v", err, got)
	}
	del, err := c.DeleteUser(id)
	if err != nil || del.Stat != "OK" {
		t.Errorf("DeleteUser: %v %+v", err, del)
	}
	authIKey, _ := ts.authAPI(t)
	start := ts.seedAuthLog(t, authIKey, 30)
	al, err := c.GetAuthLogs(start.Add(-time.Second), 5*time.Minute, func(v *url.Values) { v.Set("limit", "20") })
	if err != nil || al.Stat != "OK" || len(al.Response.Logs) != 20 || len(al.Response.Metadata.NextOffset) != 2 {
		t.Fatalf("GetAuthLogs: %v %+v", err, al)
	}
	rest, err := c.GetAuthLogs(start.Add(-time.Second), 5*time.Minute, al.Response.Metadata.GetNextOffset())
	if err != nil || len(rest.Response.Logs) != 10 {
		t.Errorf("GetAuthLogs next page: %v, %d rows, want 10", err, len(rest.Response.Logs))
	}

	// JSON bodies signed with canonicalization v5 (the SHA-512 of the
	// body signed, query parameters for GET), as upstream duo_client_python
	// 5.x sends every Admin API call: through the same upstream Go client.
	resp, body, err := c.JSONSignedCall(http.MethodPost, "/admin/v1/groups", duoapi.JSONParams{"name": "v5 group", "desc": "JSON body, signature v5"})
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"v5 group"`) {
		t.Fatalf("create_group with a v5 JSON body: %v %s", err, body)
	}
	resp, body, err = c.JSONSignedCall(http.MethodPost, "/admin/v1/users", duoapi.JSONParams{"username": "v5-user", "email": "v5@example.com"})
	var v5 struct {
		Response struct {
			UserID string `json:"user_id"`
		} `json:"response"`
	}
	if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &v5) != nil || v5.Response.UserID == "" {
		t.Fatalf("add_user with a v5 JSON body: %v %s", err, body)
	}
	resp, body, err = c.JSONSignedCall(http.MethodPost, "/admin/v1/users/"+v5.Response.UserID, duoapi.JSONParams{"realname": "Gopher V. Five"})
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"realname":"Gopher V. Five"`) {
		t.Errorf("update_user with a v5 JSON body: %v %s", err, body)
	}
	resp, body, err = c.JSONSignedCall(http.MethodGet, "/admin/v1/users", duoapi.JSONParams{"username": "v5-user"})
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"realname":"Gopher V. Five"`) {
		t.Errorf("get_users by username, signed v5: %v %s", err, body)
	}
	// A body whose signature does not cover it is refused.
	resp, body, err = goAdmin(t, ts, ikey, strings.Repeat("x", 40)).JSONSignedCall(http.MethodPost, "/admin/v1/groups", duoapi.JSONParams{"name": "forged"})
	if err != nil || resp.StatusCode != 401 || !strings.Contains(string(body), "40103") {
		t.Errorf("v5 JSON body with a wrong key: %v %d %s", err, resp.StatusCode, body)
	}

	// Rotation through the Admin API, with a grace period of 2 s.
	resp, body, err = c.SignedCall(http.MethodPost, "/admin/v1/integrations/"+ikey+"/rotate_skey", url.Values{"grace_secs": {"2"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("rotate_skey: %v %s", err, body)
	}
	var rot struct {
		Response struct {
			SecretKey string `json:"secret_key"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &rot); err != nil || len(rot.Response.SecretKey) != 40 {
		t.Fatalf("rotate_skey answer %s", body)
	}
	fresh := goAdmin(t, ts, ikey, rot.Response.SecretKey)
	for name, cl := range map[string]*admin.Client{"old key in grace": c, "new key": fresh} {
		if r, err := cl.GetUser(ts.userRecord(t, "seed-0001").ID); err != nil || r.Stat != "OK" {
			t.Errorf("%s: %v %+v", name, err, r)
		}
	}
	time.Sleep(2100 * time.Millisecond)
	if r, err := c.GetUser(ts.userRecord(t, "seed-0001").ID); err != nil || r.Stat != "FAIL" || !strings.Contains(*r.Message, "Invalid signature") {
		t.Errorf("old key after the grace: %v %+v, want 40103", err, r)
	}
	if r, err := fresh.GetUser(ts.userRecord(t, "seed-0001").ID); err != nil || r.Stat != "OK" {
		t.Errorf("new key after the grace: %v %+v", err, r)
	}
	// The administrator log through the client: rows are readable once the
	// log clock has passed their second (the sleep above).
	logs, err := fresh.GetAdminLogs(time.Unix(0, 0))
	if err != nil || logs.Stat != "OK" || len(logs.Logs) < 4 {
		t.Errorf("GetAdminLogs: %v, %d rows", err, len(logs.Logs))
	}
	rows, err := ts.App.Store.ListAdminLog(testCtx(t), time.Unix(0, 0), time.Now().Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range rows {
		found = found || (l.Action == "integration_rotate_secret" && l.Object == ikey && l.Actor == "integration:"+ikey && !strings.Contains(l.Description, rot.Response.SecretKey))
	}
	if !found {
		t.Errorf("administrator log has no rotation row by the integration: %+v", rows)
	}
}

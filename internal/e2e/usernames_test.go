package e2e

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestUsernamesPython: Debian's python3-duo-client, unchanged, sets a
// user's aliases (add_user alias1, update_user aliases) and the Auth API
// integration's username_normalization_policy (update_integration); then
// duo_client.Auth logs in as EXAMPLE\py-alice, py-alice@example.com,
// PY-ALICE, an alias, and an alias with domain prefix and suffix, with
// oathtool's HOTP codes, and every login
// reaches py-alice, logged under her username. Back at "none",
// EXAMPLE\py-alice is unknown while an alias still works.
func TestUsernamesPython(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	oathtool(t, "--version")
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			testUsernamesPython(t, py, startServer(t, serverOptions{engine: e}))
		})
	}
}

func testUsernamesPython(t *testing.T, py string, ts *testServer) {
	admIKey, admSKey := ts.adminIntegration(t, "all")
	authIKey, authSKey := ts.authAPI(t)
	const secret = "3132333435363738393031323334353637383930"
	var hotp []string
	for c := range 8 {
		hotp = append(hotp, oathtool(t, "--hotp", "--counter="+strconv.Itoa(c), secret))
	}
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_usernames.py"))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		AddUser, UpdateUser, GetUser, GetUsersByAlias, AddUserTakenAlias pyCall
		Before, Update, PreauthSimple, UpdateNone, PreauthNone           pyCall
		PreauthNoneAlias                                                 pyCall
		Logins                                                           []pyCall
	}
	var raw map[string]json.RawMessage
	runJSON(t, 120*time.Second, &raw, py, []string{script}, []string{
		"DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port), "DUO_CA=" + ts.CAFile,
		"DUO_ADMIN_IKEY=" + admIKey, "DUO_ADMIN_SKEY=" + admSKey,
		"DUO_AUTH_IKEY=" + authIKey, "DUO_AUTH_SKEY=" + authSKey,
		"DUO_HOTP_SECRET=" + secret, "DUO_HOTP_CODES=" + strings.Join(hotp, ","),
	}, "")
	for key, dst := range map[string]any{
		"add_user": &out.AddUser, "update_user": &out.UpdateUser, "get_user": &out.GetUser,
		"get_users_by_alias": &out.GetUsersByAlias, "add_user_taken_alias": &out.AddUserTakenAlias,
		"get_integration_before": &out.Before, "update_integration": &out.Update, "preauth_simple": &out.PreauthSimple,
		"update_integration_none": &out.UpdateNone, "preauth_none": &out.PreauthNone, "preauth_none_alias": &out.PreauthNoneAlias,
		"logins": &out.Logins,
	} {
		if err := json.Unmarshal(raw[key], dst); err != nil {
			t.Fatalf("%s: %v: %s", key, err, raw[key])
		}
	}

	type userOut struct {
		UserID   string            `json:"user_id"`
		Username string            `json:"username"`
		Alias1   *string           `json:"alias1"`
		Alias2   *string           `json:"alias2"`
		Aliases  map[string]string `json:"aliases"`
	}
	var u userOut
	out.GetUser.decode(t, "get_user", &u)
	if u.Alias1 == nil || *u.Alias1 != "py.asmith" || u.Alias2 == nil || *u.Alias2 != "asmith2" ||
		len(u.Aliases) != 2 || u.Aliases["alias2"] != "asmith2" {
		t.Errorf("get_user after add_user(alias1) and update_user(aliases): %s", out.GetUser.OK)
	}
	var byAlias []userOut
	out.GetUsersByAlias.decode(t, "get_users_by_name(alias)", &byAlias)
	if len(byAlias) != 1 || byAlias[0].UserID != u.UserID {
		t.Errorf("get_users_by_name(PY.ASMITH): %s", out.GetUsersByAlias.OK)
	}
	if !strings.Contains(out.AddUserTakenAlias.Error, `already the username of the user "py-alice"`) {
		t.Errorf("add_user with another's username as alias: %+v", out.AddUserTakenAlias)
	}
	var in struct {
		Policy string `json:"username_normalization_policy"`
	}
	out.Before.decode(t, "get_integration", &in)
	if in.Policy != "none" {
		t.Errorf("an integration's default policy is %q, want none", in.Policy)
	}
	out.Update.decode(t, "update_integration", &in)
	if in.Policy != "simple" {
		t.Errorf("after update_integration: %q", in.Policy)
	}
	names := []string{`EXAMPLE\py-alice`, "py-alice@example.com", "PY-ALICE", "py.asmith", `EXAMPLE\ASmith2@example.org`}
	if len(out.Logins) != len(names) {
		t.Fatalf("%d logins", len(out.Logins))
	}
	for i, c := range out.Logins {
		var a pyAuth
		c.decode(t, "auth as "+names[i], &a)
		if a.Result != "allow" {
			t.Errorf("auth as %s: %+v", names[i], a)
		}
	}
	var pre struct {
		Result string `json:"result"`
	}
	out.PreauthSimple.decode(t, "preauth simple", &pre)
	if pre.Result != "auth" {
		t.Errorf(`preauth EXAMPLE\py-alice under simple: %s`, pre.Result)
	}
	out.PreauthNone.decode(t, "preauth none", &pre)
	if pre.Result != "enroll" {
		t.Errorf(`preauth EXAMPLE\py-alice under none: %s, want enroll (an unknown user)`, pre.Result)
	}
	out.PreauthNoneAlias.decode(t, "preauth none alias", &pre)
	if pre.Result != "auth" {
		t.Errorf(`preauth py.asmith under none: %s`, pre.Result)
	}

	rows, err := ts.App.Store.ListAuthLog(testCtx(t), store.AuthLogFilter{UserID: u.UserID})
	if err != nil {
		t.Fatal(err)
	}
	allows := 0
	for _, r := range rows {
		if r.Username != "py-alice" {
			t.Errorf("auth log row names %q, want py-alice", r.Username)
		}
		if r.Result == "allow" && r.Factor != "" {
			allows++
		}
	}
	if allows != len(names) {
		t.Errorf("%d allowed logins in the auth log, want %d", allows, len(names))
	}
}

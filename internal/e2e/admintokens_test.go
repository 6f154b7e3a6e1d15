package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// TestAdminTokensGroupsBinary drives hardware tokens, groups and WebAuthn
// credentials on the Admin API of the real `assent serve` with Debian's
// python3-duo-client, unchanged: tokens added with add_hotp6_token and
// add_totp6_token and assigned with add_user_token log in through the Auth
// API with oathtool's codes, once; resync_hotp_token moves the counter;
// create_group/add_user_group/get_group_users, and a disabled group denies
// its member. npm @duosecurity/duo_api signs a GET and a POST (v2 and v5).
// The CLI's group commands run against the same database.
func TestAdminTokensGroupsBinary(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	oathtool(t, "--version")
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			var args []string
			if e == Postgres {
				args = []string{"--database-url", createPostgresDB(t)}
			}
			testAdminTokensGroupsBinary(t, py, bin, args)
		})
	}
}

func testAdminTokensGroupsBinary(t *testing.T, py, bin string, dbArgs []string) {
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{Args: dbArgs})
	cli := func(args ...string) string {
		t.Helper()
		return mustCLI(t, bin, append(append(args, "--data-dir", srv.DataDir), dbArgs...)...).stdout
	}
	keys := func(args ...string) (string, string) {
		t.Helper()
		var in struct {
			IKey string `json:"integration_key"`
			SKey string `json:"secret_key"`
		}
		if out := cli(append([]string{"integration", "create", "--json"}, args...)...); json.Unmarshal([]byte(out), &in) != nil || in.SKey == "" {
			t.Fatalf("integration create %v: %s", args, out)
		}
		return in.IKey, in.SKey
	}
	admIKey, admSKey := keys("--type", "adminapi", "--name", "py admin", "--grant", "all")
	authIKey, authSKey := keys("--type", "authapi", "--name", "py auth")

	const hotpSecret = "3132333435363738393031323334353637383930"
	const totpSecret = "8a0f3c9be0d14f6a7b2c5d8e9f00112233445566"
	var hotp []string
	for c := range 8 {
		hotp = append(hotp, oathtool(t, "--hotp", "--counter="+strconv.Itoa(c), hotpSecret))
	}
	// A TOTP code early in its step, so that it is still current when used.
	if s := time.Now().Second() % 30; s > 20 {
		time.Sleep(time.Duration(31-s) * time.Second)
	}
	totp := oathtool(t, "--totp", totpSecret)

	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_admin_tokens.py"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]pyCall
	runJSON(t, 120*time.Second, &out, py, []string{script}, []string{
		"DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(srv.Port), "DUO_CA=" + srv.CAFile,
		"DUO_ADMIN_IKEY=" + admIKey, "DUO_ADMIN_SKEY=" + admSKey,
		"DUO_AUTH_IKEY=" + authIKey, "DUO_AUTH_SKEY=" + authSKey,
		"DUO_HOTP_SECRET=" + hotpSecret, "DUO_TOTP_SECRET=" + totpSecret,
		"DUO_HOTP_CODES=" + strings.Join(hotp, ","), "DUO_TOTP_CODE=" + totp,
	}, "")
	get := func(name string, v any) {
		t.Helper()
		c, ok := out[name]
		if !ok {
			t.Fatalf("%s: missing from the script's output", name)
		}
		c.decode(t, name, v)
	}
	failed := func(name, want string) {
		t.Helper()
		if c := out[name]; c.Error == "" || !strings.Contains(c.Error, want) {
			t.Errorf("%s: %+v, want an error mentioning %q", name, c, want)
		}
	}
	result := func(name string) string {
		t.Helper()
		var a pyAuth
		get(name, &a)
		return a.Result
	}

	type token struct {
		TokenID  string `json:"token_id"`
		Type     string `json:"type"`
		Serial   string `json:"serial"`
		TotpStep *int   `json:"totp_step"`
		Users    []struct {
			Username string `json:"username"`
		} `json:"users"`
	}
	var h6, t6 token
	get("add_hotp6_token", &h6)
	get("add_totp6_token", &t6)
	if h6.Type != "h6" || h6.Serial != "PY-H6" || h6.TotpStep != nil || t6.Type != "t6" || t6.TotpStep == nil || *t6.TotpStep != 30 {
		t.Errorf("tokens added: %+v %+v", h6, t6)
	}
	failed("add_duplicate", "400")
	if r := result("login_unassigned"); r != "deny" {
		t.Errorf("an unassigned token's code: %s", r)
	}
	var userTokens []token
	get("get_user_tokens", &userTokens)
	if len(userTokens) != 2 || userTokens[0].Users[0].Username != "py-token-user" {
		t.Errorf("get_user_tokens: %+v", userTokens)
	}
	var user struct {
		Tokens     []token `json:"tokens"`
		IsEnrolled bool    `json:"is_enrolled"`
	}
	get("get_user", &user)
	if len(user.Tokens) != 2 || !user.IsEnrolled {
		t.Errorf("get_user_by_id: %+v", user)
	}
	for _, tc := range []struct{ name, want string }{
		{"login_hotp", "allow"}, {"login_hotp_again", "deny"}, {"login_after_resync", "allow"}, {"login_totp", "allow"},
	} {
		if r := result(tc.name); r != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, r, tc.want)
		}
	}
	failed("resync_bad", "400")
	var empty string
	get("resync", &empty)
	var all []token
	get("get_tokens", &all)
	if len(all) != 2 || all[0].Serial != "PY-H6" || all[1].Serial != "PY-T6" {
		t.Errorf("get_tokens: %+v", all)
	}
	var one token
	get("get_token_by_id", &one)
	var bySerial []token
	get("get_tokens_by_serial", &bySerial)
	if one.TokenID != h6.TokenID || len(bySerial) != 1 || bySerial[0].TokenID != h6.TokenID {
		t.Errorf("get_token_by_id %+v, get_tokens_by_serial %+v", one, bySerial)
	}
	get("get_user_tokens_after", &userTokens)
	if len(userTokens) != 1 || userTokens[0].TokenID != h6.TokenID {
		t.Errorf("after delete_user_token: %+v", userTokens)
	}
	failed("get_deleted_token", "404")
	var yk token
	get("add_yubikey_token", &yk)
	if yk.Type != "yk" || yk.Serial != "vvccccfiluij" {
		t.Errorf("add_yubikey_token: %+v", yk)
	}
	get("delete_yubikey_token", &empty)
	var creds []any
	get("webauthn_user", &creds)
	get("webauthn_all", &creds)

	type group struct {
		GroupID string `json:"group_id"`
		Name    string `json:"name"`
		Desc    string `json:"desc"`
		Status  string `json:"status"`
	}
	var g group
	get("create_group", &g)
	if g.Name != "py-group" || g.Desc != "from python" || g.Status != "active" {
		t.Errorf("create_group: %+v", g)
	}
	var members []struct {
		Username string `json:"username"`
	}
	get("get_group_users", &members)
	if len(members) != 1 || members[0].Username != "py-token-user" {
		t.Errorf("get_group_users: %+v", members)
	}
	var v2, v1 group
	get("get_group_v2", &v2)
	get("get_group_v1", &v1)
	var groups []group
	get("get_user_groups", &groups)
	if v2.GroupID != g.GroupID || v1.GroupID != g.GroupID || len(groups) != 1 {
		t.Errorf("get_group v2 %+v, v1 %+v, get_user_groups %+v", v2, v1, groups)
	}
	get("get_groups", &groups)
	get("modify_group", &g)
	if g.Status != "disabled" {
		t.Errorf("modify_group: %+v", g)
	}
	var pre pyPreauth
	get("preauth_disabled_group", &pre)
	if pre.Result != "deny" {
		t.Errorf("preauth of a disabled group's member: %+v", pre)
	}
	get("preauth_out_of_group", &pre)
	if pre.Result != "enroll" { // no group decides; its tokens are gone by now

		t.Errorf("preauth out of the group: %+v", pre)
	}
	failed("get_deleted_group", "404")
	var adminLog []map[string]any
	get("admin_log", &adminLog)
	actions := map[string]int{}
	for _, l := range adminLog {
		actions[fmt.Sprint(l["action"])]++
	}
	for _, a := range []string{"hardtoken_create", "hardtoken_update", "hardtoken_resync", "hardtoken_delete",
		"group_create", "group_member_add", "group_update", "group_member_remove", "group_delete"} {
		if actions[a] == 0 {
			t.Errorf("administrator log has no %s: %v", a, actions)
		}
	}

	// npm @duosecurity/duo_api: a signed GET and a signed POST.
	node, dir := nodePartners(t)
	var nodeOut map[string]duoEnvelope
	runJSON(t, 60*time.Second, &nodeOut, node, []string{filepath.Join(dir, "duo_admin_call.js")}, []string{
		"DUO_IKEY=" + admIKey, "DUO_SKEY=" + admSKey, "DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(srv.Port), "DUO_CA=" + srv.CAFile,
	}, dir)
	for _, name := range []string{"get_tokens", "v5_get_tokens", "create_group", "v5_create_group"} {
		env := nodeOut[name]
		if env.Stat != "OK" {
			t.Fatalf("node %s: stat %q code %d message %q detail %q", name, env.Stat, env.Code, env.Message, env.MessageDetail)
		}
	}
	var nodeTokens []token
	if err := json.Unmarshal(nodeOut["get_tokens"].Response, &nodeTokens); err != nil || len(nodeTokens) != 1 || nodeTokens[0].Serial != "PY-T6" {
		t.Errorf("node get_tokens: %v %s", err, nodeOut["get_tokens"].Response)
	}
	var ng group
	if err := json.Unmarshal(nodeOut["create_group"].Response, &ng); err != nil || ng.Name != "node-group" || ng.Status != "bypass" {
		t.Errorf("node create_group: %v %s", err, nodeOut["create_group"].Response)
	}

	// The CLI sees the groups the APIs made, and changes them.
	if list := cli("group", "list"); !strings.Contains(list, "node-group") || !strings.Contains(list, "bypass") {
		t.Errorf("group list:\n%s", list)
	}
	cli("group", "add-user", "node-group", "py-token-user")
	r := mustCLI(t, bin, "api", "--host", srv.Host, "--ca", srv.CAFile, "--ikey", authIKey, "--skey", authSKey,
		"POST", "/auth/v2/preauth", "username=py-token-user")
	if !strings.Contains(r.stdout, `"result": "allow"`) {
		t.Errorf("preauth of a bypass group's member: %s", r.stdout)
	}
}

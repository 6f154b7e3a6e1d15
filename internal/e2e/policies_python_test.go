package e2e

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestPythonPolicies: Debian's python3-duo-client sets an integration's
// authorized networks (ip_whitelist), trusted_device_days and
// groups_allowed through the Admin API, then the Auth API applies them:
// no second factor from inside the network (logged as trusted_network),
// refused from a denied network, refused for a user outside the permitted
// groups, and a trusted_device_token that lets the same user in again.
func TestPythonPolicies(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ctx := testCtx(t)
	adm, admSKey, err := ts.App.Core.CreateIntegration(ctx, auth.NewIntegration{Name: "py admin", Type: store.TypeAdminAPI, Grants: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	authIKey, authSKey := ts.authAPI(t)
	// A deny rule Duo's ip_whitelist cannot express (assent policy set);
	// ip_whitelist then replaces only the allow rules.
	if _, err := ts.App.Core.ChangePolicy(ctx, auth.PolicyChange{IKey: authIKey, Set: store.PolicySettings{
		Networks: &[]store.NetworkRule{{Range: "203.0.113.0/24", Action: store.NetworkDeny}}}}); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_policies.py"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]pyCall
	runJSON(t, 90*time.Second, &out, py, []string{script}, []string{
		"DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port), "DUO_CA=" + ts.CAFile,
		"DUO_ADMIN_IKEY=" + adm.IKey, "DUO_ADMIN_SKEY=" + admSKey,
		"DUO_AUTH_IKEY=" + authIKey, "DUO_AUTH_SKEY=" + authSKey,
	}, "")
	type integ struct {
		IPWhitelist             []string `json:"ip_whitelist"`
		IPWhitelistEnrollPolicy string   `json:"ip_whitelist_enroll_policy"`
		TrustedDeviceDays       int      `json:"trusted_device_days"`
		GroupsAllowed           []string `json:"groups_allowed"`
		SelfServiceAllowed      bool     `json:"self_service_allowed"`
		EnrollPolicy            string   `json:"enroll_policy"`
	}
	var upd, got integ
	out["update_integration"].decode(t, "update_integration", &upd)
	out["get_integration"].decode(t, "get_integration", &got)
	for _, in := range []integ{upd, got} {
		if !slices.Equal(in.IPWhitelist, []string{"192.0.2.0/24", "198.51.100.7/32"}) || in.TrustedDeviceDays != 7 ||
			in.IPWhitelistEnrollPolicy != "enforce" || !in.SelfServiceAllowed {
			t.Errorf("integration after update: %+v", in)
		}
	}
	if c := out["update_bad_whitelist"]; c.Error == "" || !strings.Contains(c.Error, "192.0.2.0/33") {
		t.Errorf("a bad ip_whitelist: %+v, want an error naming it", c)
	}
	preauth := func(name string) pyPreauth {
		t.Helper()
		var p pyPreauth
		out[name].decode(t, name, &p)
		return p
	}
	authRes := func(name string) pyAuth {
		t.Helper()
		var a pyAuth
		out[name].decode(t, name, &a)
		return a
	}
	for name, want := range map[string]string{
		"preauth_inside": "allow", "preauth_single": "allow", "preauth_outside": "auth", "preauth_no_ip": "auth",
		"preauth_denied": "deny", "preauth_token": "allow", "preauth_token_other_user": "auth",
		"preauth_outsider": "deny", "preauth_member": "auth", "preauth_async_token": "allow",
	} {
		if p := preauth(name); p.Result != want {
			t.Errorf("%s: %+v, want %s", name, p, want)
		}
	}
	for name, want := range map[string]string{"auth_inside": "allow", "auth_denied": "deny", "auth_outsider": "deny", "auth_for_token": "allow"} {
		if a := authRes(name); a.Result != want {
			t.Errorf("%s: %+v, want %s", name, a, want)
		}
	}
	var tok struct {
		Token string `json:"trusted_device_token"`
	}
	out["auth_for_token"].decode(t, "auth_for_token", &tok)
	if tok.Token == "" {
		t.Error("auth with trusted_device_days=7 returned no trusted_device_token")
	}
	// async_txn: the txid, then auth_status with the token (Duo's place;
	// duo_client's auth_status passes it on only from there, beside its
	// own success flag).
	var status struct {
		Success bool   `json:"success"`
		Token   string `json:"trusted_device_token"`
	}
	out["auth_status_for_token"].decode(t, "auth_status_for_token", &status)
	if !status.Success || status.Token == "" {
		t.Errorf("auth_status after an async passcode with trusted_device_days=7: %+v, want allow with a trusted_device_token", status)
	}
	if c := out["update_unknown_group"]; c.Error == "" {
		t.Errorf("groups_allowed naming no group: %+v, want an error", c)
	}
	var created integ
	out["create_integration"].decode(t, "create_integration", &created)
	if !slices.Equal(created.IPWhitelist, []string{"10.0.0.0/8"}) || created.TrustedDeviceDays != 3 || len(created.GroupsAllowed) != 1 ||
		created.EnrollPolicy != "deny" {
		t.Errorf("created integration: %+v", created)
	}

	// The auth log explains each policy decision with Duo's reason.
	rows, err := ts.App.Store.ListAuthLog(ctx, store.AuthLogFilter{IKey: authIKey})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, r := range rows {
		reasons[r.Reason+"/"+r.Result+"/"+r.IP]++
	}
	for _, want := range []string{
		auth.ReasonTrustedNetwork + "/allow/192.0.2.10", auth.ReasonTrustedNetwork + "/allow/198.51.100.7",
		auth.ReasonDeniedByPolicy + "/deny/203.0.113.5", auth.ReasonNotPermittedGroup + "/deny/198.51.100.8",
		auth.ReasonRememberedDevice + "/allow/198.51.100.8",
	} {
		if reasons[want] == 0 {
			t.Errorf("no auth-log row %s; rows: %v", want, reasons)
		}
	}
}

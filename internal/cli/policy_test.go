package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPolicyCommands: global, integration and group policies set, shown
// and unset from the command line, with the integration's own flags;
// mistakes are refused with every problem named.
func TestPolicyCommands(t *testing.T) {
	dir := newInstallation(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := runAssent(t, dir, args...)
		if err != nil {
			t.Fatalf("assent %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	var in struct {
		IntegrationKey string `json:"integration_key"`
	}
	if err := json.Unmarshal([]byte(run("integration", "create", "--type", "authapi", "--name", "vpn", "--json",
		"--ip-whitelist", "192.0.2.0/24, 198.51.100.7", "--trusted-device-days", "7")), &in); err != nil {
		t.Fatal(err)
	}
	run("group", "create", "staff")
	run("policy", "set", "lockout_threshold=3", "lockout_unlock_minutes=15")
	run("policy", "set", "--integration", in.IntegrationKey, "--group", "staff", "methods=push,webauthn", "networks=deny:203.0.113.0/24")
	run("integration", "update", in.IntegrationKey, "--groups-allowed", "staff", "--ip-whitelist-enroll-policy", "allow")

	var list []policyJSON
	if err := json.Unmarshal([]byte(run("policy", "show", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("policies: %+v", list)
	}
	global, app, group := list[0].Settings, list[1].Settings, list[2].Settings
	if list[0].Integration != "" || *global.LockoutThreshold != 3 || *global.LockoutUnlockMinutes != 15 {
		t.Errorf("global: %+v", list[0])
	}
	if list[1].Integration != in.IntegrationKey || len(*app.Networks) != 2 || (*app.Networks)[1].Range != "198.51.100.7/32" ||
		*app.RememberDays != 7 || len(*app.GroupsAllowed) != 1 || *app.NetworksEnrollPolicy != "allow" {
		t.Errorf("integration: %+v", list[1])
	}
	if !strings.HasPrefix(list[2].Group, "DG") || strings.Join(*group.Methods, ",") != "push,webauthn" || (*group.Networks)[0].Action != "deny" {
		t.Errorf("group: %+v", list[2])
	}
	run("policy", "unset", "lockout_threshold", "lockout_unlock_minutes")
	if out := run("policy", "show"); strings.Contains(out, "global") || !strings.Contains(out, in.IntegrationKey) {
		t.Errorf("show after unsetting the global policy:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"policy", "set", "colour=blue", "trusted_device_days=many"}, []string{"colour", "many"}},
		{[]string{"policy", "set", "networks=192.0.2.0/33"}, []string{"192.0.2.0/33"}},
		{[]string{"policy", "set", "--group", "staff", "methods=push"}, []string{"--integration"}},
		{[]string{"policy", "unset", "--integration", in.IntegrationKey, "colour"}, []string{"colour"}},
		{[]string{"integration", "update", in.IntegrationKey, "--ip-whitelist", "nope"}, []string{"nope"}},
		{[]string{"integration", "update", in.IntegrationKey, "--groups-allowed", "nobody"}, []string{"nobody"}},
	} {
		out, err := runAssent(t, dir, tc.args...)
		if err == nil {
			t.Errorf("assent %s succeeded:\n%s", strings.Join(tc.args, " "), out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out+err.Error(), w) {
				t.Errorf("assent %s: %v %s; want it to name %s", strings.Join(tc.args, " "), err, out, w)
			}
		}
	}
}

package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUserAliasAndNormalizationCommands: aliases added, listed and
// removed from the command line, with clear errors; the integration's
// username normalization set on create and update.
func TestUserAliasAndNormalizationCommands(t *testing.T) {
	dir := newInstallation(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := runAssent(t, dir, args...)
		if err != nil {
			t.Fatalf("assent %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	run("user", "create", "alice")
	run("user", "create", "bob")
	run("user", "alias", "add", "alice", "a.smith")
	var got struct {
		Aliases map[string]string `json:"aliases"`
	}
	if err := json.Unmarshal([]byte(run("user", "alias", "add", "ALICE", "asmith@example.com", "--json")), &got); err != nil ||
		got.Aliases["alias1"] != "a.smith" || got.Aliases["alias2"] != "asmith@example.com" {
		t.Fatalf("add: %+v %v", got, err)
	}
	// The user is found by alias everywhere the CLI takes a user.
	if out := run("user", "alias", "list", "A.Smith"); !strings.Contains(out, "alias2") || !strings.Contains(out, "asmith@example.com") {
		t.Errorf("list by alias: %q", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "alias", "add", "bob", "A.SMITH"}, `already an alias of the user "alice"`},
		{[]string{"user", "alias", "add", "bob", "alice"}, `already the username of the user "alice"`},
		{[]string{"user", "alias", "add", "bob", "bob"}, "the user's username"},
		{[]string{"user", "alias", "remove", "bob", "nope"}, "no alias"},
		{[]string{"user", "create", "a.smith"}, "alias"},
		{[]string{"integration", "create", "--type", "authapi", "--name", "x", "--username-normalization", "strict"}, `"none" or "simple"`},
	} {
		if _, err := runAssent(t, dir, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("assent %v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	if out := run("user", "alias", "remove", "alice", "A.SMITH"); strings.Contains(out, "a.smith") || !strings.Contains(out, "asmith@example.com") {
		t.Errorf("remove: %q", out)
	}

	var in struct {
		IKey   string `json:"integration_key"`
		Policy string `json:"username_normalization_policy"`
	}
	if err := json.Unmarshal([]byte(run("integration", "create", "--type", "authapi", "--name", "vpn", "--json")), &in); err != nil || in.Policy != "none" {
		t.Fatalf("create: %+v %v", in, err)
	}
	if err := json.Unmarshal([]byte(run("integration", "update", in.IKey, "--username-normalization", "simple", "--json")), &in); err != nil || in.Policy != "simple" {
		t.Fatalf("update: %+v %v", in, err)
	}
}

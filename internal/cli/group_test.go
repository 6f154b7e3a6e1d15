package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestGroupCommands: groups created, changed, filled, emptied and deleted
// from the command line, and the token and app commands, each write with
// its administrator-log row naming the CLI's user.
func TestGroupCommands(t *testing.T) {
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

	var g groupJSON
	if err := json.Unmarshal([]byte(run("group", "create", "staff", "--desc", "everyone", "--json")), &g); err != nil {
		t.Fatal(err)
	}
	if g.Name != "staff" || g.Status != "active" || g.Description != "everyone" || !strings.HasPrefix(g.GroupID, "DG") {
		t.Fatalf("create: %+v", g)
	}
	run("group", "add-user", "staff", "alice")
	run("group", "add-user", g.GroupID, "bob")
	if out := run("group", "update", "staff", "--status", "disabled", "--name", "employees"); !strings.Contains(out, "employees") || !strings.Contains(out, "disabled") {
		t.Errorf("update: %q", out)
	}
	var one groupJSON
	if err := json.Unmarshal([]byte(run("group", "list", "employees", "--json")), &one); err != nil {
		t.Fatal(err)
	}
	if strings.Join(one.Members, ",") != "alice,bob" || one.Status != "disabled" {
		t.Errorf("members: %+v", one)
	}
	run("group", "remove-user", "employees", "bob")
	if out := run("group", "list"); !strings.Contains(out, "employees") || !strings.Contains(out, "disabled") {
		t.Errorf("list:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"group", "create", "employees"}, []string{"exists"}},
		{[]string{"group", "create", "x", "--status", "locked out"}, []string{"status"}},
		{[]string{"group", "add-user", "nope", "alice"}, []string{"no group"}},
		{[]string{"group", "add-user", "employees", "carol"}, []string{"no user"}},
		{[]string{"group", "remove-user", "employees", "bob"}, []string{"not a member"}},
		{[]string{"group", "update", "employees"}, []string{"nothing to change"}},
	} {
		_, err := runAssent(t, dir, tc.args...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("assent %s: error %v, want it to mention %q", strings.Join(tc.args, " "), err, w)
			}
		}
	}
	run("group", "delete", "employees")
	if out := run("group", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after delete: %s", out)
	}

	// Token and app writes are logged like the rest.
	var app totpAddJSON
	if err := json.Unmarshal([]byte(run("user", "totp", "add", "alice", "--json")), &app); err != nil {
		t.Fatal(err)
	}
	run("user", "totp", "remove", "alice", app.DeviceID)
	run("token", "add", "--type", "h6", "--serial", "H-1", "--secret", "3132333435363738393031323334353637383930")
	run("token", "assign", "H-1", "alice")
	run("token", "resync", "H-1", "755224", "287082")
	run("token", "delete", "H-1")

	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(run("log", "admin", "--json")), "\n") {
		var r adminLogRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log admin --json line %q: %v", line, err)
		}
		if !strings.HasPrefix(r.Actor, "cli:tester@") {
			t.Errorf("actor %q", r.Actor)
		}
		if strings.Contains(string(r.Description), "3132333435") {
			t.Errorf("a secret in the administrator log: %s", line)
		}
		if r.Action != "user_create" {
			actions = append(actions, r.Action)
		}
	}
	want := "group_create,group_member_add,group_member_add,group_update,group_member_remove,group_delete," +
		"totp_app_create,totp_app_delete,hardtoken_create,hardtoken_update,hardtoken_resync,hardtoken_delete"
	if strings.Join(actions, ",") != want {
		t.Errorf("log admin actions\n %s\nwant\n %s", strings.Join(actions, ","), want)
	}
}

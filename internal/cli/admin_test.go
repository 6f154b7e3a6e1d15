package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAdminCommands: an owner is created with a one-time setup link, listed,
// reset with a new link, and deleted; each change is in the administrator
// log, and errors name what is wrong.
func TestAdminCommands(t *testing.T) {
	dir := newInstallation(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := runAssent(t, dir, args...)
		if err != nil {
			t.Fatalf("assent %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	out := run("admin", "create", "Owner@Example.com", "--role", "owner", "--name", "Olive")
	if !strings.Contains(out, "owner@example.com") || !strings.Contains(out, "/admin/setup/") {
		t.Errorf("create: %q", out)
	}
	var j adminJSON
	if err := json.Unmarshal([]byte(run("admin", "create", "help@example.com", "--role", "help desk", "--json")), &j); err != nil {
		t.Fatal(err)
	}
	if j.Role != "help_desk" || !j.Pending || !strings.HasPrefix(j.AdminID, "DE") || !strings.Contains(j.SetupURL, "/admin/setup/") || j.Expires == 0 {
		t.Errorf("create --json: %+v", j)
	}
	var list []adminJSON
	if err := json.Unmarshal([]byte(run("admin", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Email != "help@example.com" || list[1].Email != "owner@example.com" || list[1].Name != "Olive" {
		t.Errorf("list: %+v", list)
	}
	if out := run("admin", "list"); !strings.Contains(out, "setup pending") {
		t.Errorf("list table: %q", out)
	}
	var reset adminJSON
	if err := json.Unmarshal([]byte(run("admin", "reset", j.AdminID, "--json")), &reset); err != nil {
		t.Fatal(err)
	}
	if reset.SetupURL == "" || reset.SetupURL == j.SetupURL {
		t.Errorf("reset gave setup link %q (before: %q)", reset.SetupURL, j.SetupURL)
	}
	run("admin", "delete", "help@example.com")
	for _, bad := range [][]string{
		{"admin", "create", "x@example.com"},                     // no role
		{"admin", "create", "x@example.com", "--role", "root"},   // unknown role
		{"admin", "create", "not-an-address", "--role", "owner"}, // bad e-mail
		{"admin", "create", "owner@example.com", "--role", "owner"},
		{"admin", "delete", "help@example.com"}, // gone
	} {
		if _, err := runAssent(t, dir, bad...); err == nil {
			t.Errorf("assent %s succeeded", strings.Join(bad, " "))
		}
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond))) // the log shows whole past seconds
	log := run("log", "admin", "--json")
	for _, action := range []string{"admin_create", "admin_reset", "admin_delete"} {
		if !strings.Contains(log, action) {
			t.Errorf("admin log lacks %s:\n%s", action, log)
		}
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

// TestDirectoryCommands: a directory added with its password in a file,
// previewed with --dry-run (nothing changes), synced, listed with its
// result, and removed (its users stay). The password appears nowhere.
func TestDirectoryCommands(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{})
	dir := newInstallation(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := runAssent(t, dir, args...)
		if err != nil {
			t.Fatalf("assent %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(ldaptest.ServicePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"directory", "add", "corp", "--url", "http://x", "--schema", "novell"}, []string{"url", "base_dn", "schema"}},
		{[]string{"directory", "add", "corp", "--url", srv.URL, "--base-dn", ldaptest.PeopleDN, "--bind-dn", ldaptest.ServiceDN}, []string{"--bind-password-file"}},
		{[]string{"directory", "add", "corp", "--url", srv.URL, "--base-dn", ldaptest.PeopleDN, "--map", "colour=x"}, []string{"unknown field"}},
		{[]string{"directory", "sync"}, []string{"no directories"}},
		{[]string{"directory", "remove", "corp"}, []string{"no directory"}},
	} {
		_, err := runAssent(t, dir, tc.args...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("assent %s: %v; want %q", strings.Join(tc.args, " "), err, w)
			}
		}
	}

	run("directory", "add", "corp", "--url", srv.URL, "--base-dn", ldaptest.PeopleDN, "--bind-dn", ldaptest.ServiceDN,
		"--bind-password-file", pwFile, "--schema", "ad", "--user-filter", "(objectClass=assentADObject)", "--nested", "recursive",
		"--group", ldaptest.GroupDN("vpnusers"))
	if _, err := runAssent(t, dir, "directory", "add", "corp", "--url", srv.URL, "--base-dn", ldaptest.PeopleDN); err == nil || !strings.Contains(err.Error(), "--update") {
		t.Errorf("adding twice: %v", err)
	}
	out := run("directory", "sync", "corp", "--dry-run")
	if !strings.Contains(out, "dry run") || !strings.Contains(out, "create_user alice") || !strings.Contains(out, "create_user bob") || strings.Contains(out, "carol") {
		t.Errorf("dry run:\n%s", out)
	}
	if out := run("user", "list"); strings.Contains(out, "alice") {
		t.Fatalf("the dry run created users:\n%s", out)
	}
	out = run("directory", "sync")
	if !strings.Contains(out, "create_user alice") || !strings.Contains(out, "create_group vpnusers") {
		t.Errorf("sync:\n%s", out)
	}
	if out := run("group", "list", "vpnusers"); !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("vpnusers:\n%s", out)
	}
	out = run("directory", "list")
	if !strings.Contains(out, "corp") || !strings.Contains(out, "create_user 2") {
		t.Errorf("list:\n%s", out)
	}
	time.Sleep(1100 * time.Millisecond) // rows are readable once their second has ended
	logs := run("log", "admin", "--since", "1h", "--json")
	if !strings.Contains(logs, "directory:corp") || !strings.Contains(logs, "directory_create") {
		t.Errorf("admin log:\n%s", logs)
	}
	for _, o := range []string{out, logs} {
		if strings.Contains(o, ldaptest.ServicePassword) {
			t.Errorf("the bind password was printed:\n%s", o)
		}
	}
	out = run("directory", "users", "corp")
	if !strings.Contains(out, "alice") || !strings.Contains(out, "entryuuid:") || strings.Contains(out, "carol") {
		t.Errorf("users:\n%s", out)
	}
	run("directory", "remove", "corp")
	if out := run("user", "list"); !strings.Contains(out, "alice") {
		t.Errorf("the users went with the directory:\n%s", out)
	}
}

// TestDirectoryFromConfigFile: a [[directory]] table of the configuration
// file is listed and synced like a stored directory, and cannot be added
// or replaced from the command line.
func TestDirectoryFromConfigFile(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{})
	dir := newInstallation(t)
	tmp := t.TempDir()
	pwFile := filepath.Join(tmp, "pw")
	if err := os.WriteFile(pwFile, []byte(ldaptest.ServicePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(tmp, "assent.toml")
	if err := os.WriteFile(conf, []byte(`[[directory]]
  name = "file-ad"
  schema = "ad"
  url = "`+srv.URL+`"
  bind_dn = "`+ldaptest.ServiceDN+`"
  bind_password_file = "`+pwFile+`"
  base_dn = "`+ldaptest.PeopleDN+`"
  user_filter = "(objectClass=assentADObject)"
  nested = "recursive"
  group_dns = ["`+ldaptest.GroupDN("vpnusers")+`"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) { return runAssent(t, dir, append(args, "--config", conf)...) }
	out, err := run("directory", "list")
	if err != nil || !strings.Contains(out, "file-ad") || !strings.Contains(out, "config") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err := run("directory", "add", "file-ad", "--url", srv.URL, "--base-dn", ldaptest.PeopleDN); err == nil || !strings.Contains(err.Error(), "configuration file") {
		t.Errorf("add over a configured directory: %v", err)
	}
	out, err = run("directory", "sync", "--dry-run")
	if err != nil || !strings.Contains(out, "create_user alice") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if out, err = run("directory", "sync", "file-ad"); err != nil || !strings.Contains(out, "create_group vpnusers") {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	if out, _ := run("group", "list", "vpnusers"); !strings.Contains(out, "alice") {
		t.Errorf("vpnusers:\n%s", out)
	}
}

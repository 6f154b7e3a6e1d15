package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirectoryTables: [[directory]] tables load, and every problem in them
// is reported (unknown keys, missing values, a password file missing).
func TestDirectoryTables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", `data_dir = "`+dir+`"
[[directory]]
  name = "corp"
  schema = "ad"
  url = "ldaps://dc1.example.com"
  bind_dn = "CN=svc,DC=example,DC=com"
  bind_password_file = "/etc/assent/pw"
  base_dn = "DC=example,DC=com"
  group_dns = ["CN=VPN,DC=example,DC=com"]
  attributes = "username=sAMAccountName,aliases=mail"
  delete_after_days = 7

[[directory]]
  name = "lab"
  url = "ldap://ldap.lab"
  start_tls = true
  base_dn = "dc=lab"
`)
	cfg, err := Load(Sources{File: good})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Directories) != 2 || cfg.Directories[0].Name != "corp" || cfg.Directories[0].GroupDNs[0] != "CN=VPN,DC=example,DC=com" ||
		cfg.Directories[0].DeleteAfterDays != 7 || !cfg.Directories[1].StartTLS {
		t.Errorf("directories %+v", cfg.Directories)
	}

	bad := write("bad.toml", `data_dir = "`+dir+`"
[[directory]]
  name = "corp"
  url = "http://dc1"
  bind_dn = "CN=svc"
  bind_password = "secret"

[[directory]]
  name = "corp"
`)
	_, err = Load(Sources{File: bad})
	for _, want := range []string{"[[directory]] bind_password: unknown key", "directory[0]: url", "directory[0]: needs base_dn",
		"bind_dn needs bind_password_file", `directory[1]: the name "corp" is used twice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad file: %v; want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
	notTable := write("nottable.toml", `data_dir = "`+dir+`"
directory = "corp"
`)
	if _, err := Load(Sources{File: notTable}); err == nil || !strings.Contains(err.Error(), "[[directory]] tables") {
		t.Errorf("directory as a string: %v", err)
	}
	if _, err := Load(Sources{Env: []string{"ASSENT_DIRECTORY=x"}}); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Errorf("directory from the environment: %v", err)
	}
}

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/app"
)

// Commands other than init, serve and quickstart never create an
// installation: on a missing data directory, database or master key they
// fail naming the path and `assent init`, and leave nothing behind. init
// creates one (with a .gitignore in the data directory it made) and
// changes nothing the second time.
func TestNoImplicitInstallation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"user", "list"},
		{"user", "create", "alice"},
		{"integration", "list"},
		{"log", "auth"},
	} {
		_, err := runAssent(t, dir, args...)
		if !errors.Is(err, app.ErrNotInstalled) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "assent init") {
			t.Errorf("assent %s on a missing data directory: %v; want an error naming %s and assent init", strings.Join(args, " "), err, dir)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("assent %s created %s", strings.Join(args, " "), dir)
		}
	}

	// An empty data directory: the database is missing.
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "assent.db")
	if _, err := runAssent(t, dir, "user", "list"); !errors.Is(err, app.ErrNotInstalled) || !strings.Contains(err.Error(), db) {
		t.Errorf("user list on an empty data directory: %v; want an error naming %s", err, db)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("user list wrote into the empty data directory: %v", entries)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}

	out, err := runAssent(t, dir, "init")
	if err != nil || !strings.Contains(out, "Created a new installation") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	for _, f := range []string{".gitignore", "assent.db", "master.key", "tls/ca.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after init: %v", err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); !strings.HasSuffix(string(b), "\n*\n") {
		t.Errorf(".gitignore %q does not ignore everything", b)
	}
	if _, err := runAssent(t, dir, "user", "create", "alice"); err != nil {
		t.Errorf("user create after init: %v", err)
	}
	out, err = runAssent(t, dir, "init")
	if err != nil || !strings.Contains(out, "exists already") {
		t.Errorf("init again: %v\n%s", err, out)
	}
	if out, _ := runAssent(t, dir, "user", "list"); !strings.Contains(out, "alice") {
		t.Errorf("init again lost the user: %s", out)
	}

	// The master key file gone: refused, and no new key is made.
	key := filepath.Join(dir, "master.key")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"user", "list"}, {"init"}} {
		if _, err := runAssent(t, dir, args...); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("assent %s without the master key file: %v; want an error naming %s", strings.Join(args, " "), err, key)
		}
		if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("assent %s made a new master key for an existing database", strings.Join(args, " "))
		}
	}
}

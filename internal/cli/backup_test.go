package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// runAssentEnv is runAssent with extra environment variables and no
// implicit --data-dir.
func runAssentEnv(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: append([]string{"USER=tester"}, environ...)}
	root := newRoot(e)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := root.ExecuteContext(auth.WithActor(ctx, cliActor(e)))
	if stderr.Len() > 0 {
		t.Logf("assent %s: stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), err
}

// TestBackupRestoreCommands: a backup restored into new data directories,
// with the master key kept apart, with it inside an encrypted backup, and
// the refusals that keep an operator from losing data or keys.
func TestBackupRestoreCommands(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	run := func(environ []string, args ...string) string {
		t.Helper()
		out, err := runAssentEnv(t, environ, args...)
		if err != nil {
			t.Fatalf("assent %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	fails := func(environ []string, want string, args ...string) {
		t.Helper()
		_, err := runAssentEnv(t, environ, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("assent %s: error %v, want it to mention %q", strings.Join(args, " "), err, want)
		}
	}
	run(nil, "init", "--data-dir", src)
	run(nil, "user", "create", "alice", "--data-dir", src)
	run(nil, "integration", "create", "--type", "authapi", "--name", "vpn", "--data-dir", src)
	run(nil, "user", "bypass-codes", "alice", "--count", "2", "--data-dir", src)

	fails(nil, "no database", "backup", filepath.Join(root, "x.backup"), "--data-dir", filepath.Join(root, "none"))
	fails(nil, "needs encryption", "backup", filepath.Join(root, "x.backup"), "--include-master-key", "--data-dir", src)

	plain := filepath.Join(root, "plain.backup")
	var b backupJSON
	if err := json.Unmarshal([]byte(run(nil, "backup", plain, "--json", "--data-dir", src)), &b); err != nil {
		t.Fatal(err)
	}
	if b.Encrypted || b.IncludesMasterKey || b.Source != "sqlite" || rowsOf(b.Tables, "users") != 1 || rowsOf(b.Tables, "bypass_codes") != 2 {
		t.Errorf("backup: %+v", b)
	}
	fails(nil, "already exists", "backup", plain, "--data-dir", src)

	// Into a new data directory: without the master key it is refused; with
	// the key copied there it works, and the data is there.
	dst := filepath.Join(root, "dst")
	fails(nil, "does not include the master key", "restore", plain, "--data-dir", dst)
	key, err := os.ReadFile(filepath.Join(src, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "other.key")
	if err := os.WriteFile(other, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fails(nil, "not the one the backup's secrets are sealed with", "restore", plain, "--data-dir", dst, "--master-key-file", other)
	if err := os.WriteFile(filepath.Join(dst, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	run(nil, "restore", plain, "--data-dir", dst)
	if out := run(nil, "user", "list", "--data-dir", dst); !strings.Contains(out, "alice") {
		t.Errorf("user list after restore:\n%s", out)
	}
	if out := run(nil, "integration", "list", "--data-dir", dst); !strings.Contains(out, "vpn") {
		t.Errorf("integration list after restore:\n%s", out)
	}
	fails(nil, "not empty", "restore", plain, "--data-dir", dst)
	run(nil, "user", "create", "bob", "--data-dir", dst)
	run(nil, "restore", plain, "--data-dir", dst, "--force")
	if out := run(nil, "user", "list", "--data-dir", dst); strings.Contains(out, "bob") {
		t.Errorf("restore --force kept a user created after the backup:\n%s", out)
	}

	// Encrypted to a key file, with the master key inside: a new data
	// directory needs nothing else.
	kf := filepath.Join(root, "backup.key")
	if out := run(nil, "backup-keygen", kf); !strings.Contains(out, "age1") {
		t.Errorf("backup-keygen: %s", out)
	}
	withKey := filepath.Join(root, "with-key.backup")
	run(nil, "backup", withKey, "--key-file", kf, "--include-master-key", "--data-dir", src)
	if raw, _ := os.ReadFile(withKey); bytes.Contains(raw, bytes.TrimSpace(key)) {
		t.Fatal("the encrypted backup holds the master key in clear")
	}
	fails(nil, "encrypted", "restore", withKey, "--data-dir", filepath.Join(root, "d2"))
	fails([]string{passphraseEnv + "=nope"}, "encrypted to a key file", "restore", withKey, "--data-dir", filepath.Join(root, "d2"))
	var r restoreJSON
	if err := json.Unmarshal([]byte(run(nil, "restore", withKey, "--key-file", kf, "--json", "--data-dir", filepath.Join(root, "d2"))), &r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.MasterKey, "backup's master key") || rowsOf(r.Tables, "users") != 1 {
		t.Errorf("restore: %+v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "d2", "master.key")); !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(key)) {
		t.Errorf("restored master key %q, want %q", got, key)
	}
	if out := run(nil, "user", "list", "--data-dir", filepath.Join(root, "d2")); !strings.Contains(out, "alice") {
		t.Errorf("user list after restore:\n%s", out)
	}

	// Encrypted to a passphrase (from a file, and from the environment).
	pf := filepath.Join(root, "pass")
	if err := os.WriteFile(pf, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(root, "pass.backup")
	run(nil, "backup", enc, "--passphrase-file", pf, "--data-dir", src)
	fails([]string{passphraseEnv + "=wrong"}, "wrong passphrase", "restore", enc, "--data-dir", filepath.Join(root, "d3"))
	fails(nil, "encrypted to a passphrase, not to a key", "restore", enc, "--key-file", kf, "--data-dir", filepath.Join(root, "d3"))
	if err := os.MkdirAll(filepath.Join(root, "d3"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "d3", "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	run([]string{passphraseEnv + "=correct horse battery staple"}, "restore", enc, "--data-dir", filepath.Join(root, "d3"))
	if out := run(nil, "user", "list", "--data-dir", filepath.Join(root, "d3")); !strings.Contains(out, "alice") {
		t.Errorf("user list after restore:\n%s", out)
	}
}

func rowsOf(counts []sqlstore.TableCount, table string) int64 {
	for _, c := range counts {
		if c.Table == table {
			return c.Rows
		}
	}
	return -1
}

// TestMigrateDataCommand: SQLite to SQLite through the command (the
// PostgreSQL directions are in sqlstore's and e2e's tests).
func TestMigrateDataCommand(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	if _, err := runAssent(t, src, "init"); err != nil {
		t.Fatal(err)
	}
	if _, err := runAssent(t, src, "user", "create", "alice"); err != nil {
		t.Fatal(err)
	}
	to := "sqlite:" + filepath.Join(root, "dst", "assent.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate-data"}, "--from is required; --to is required"},
		{[]string{"migrate-data", "--from", "sqlite:" + filepath.Join(root, "none.db"), "--to", to}, "no database"},
		{[]string{"migrate-data", "--from", to, "--to", to}, "same database"},
	} {
		if _, err := runAssentEnv(t, nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("assent %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	out, err := runAssentEnv(t, nil, "migrate-data", "--from", "sqlite:"+filepath.Join(src, "assent.db"), "--to", to)
	if err != nil || !strings.Contains(out, "row count matches") {
		t.Fatalf("migrate-data: %v\n%s", err, out)
	}
	if _, err := runAssentEnv(t, nil, "migrate-data", "--from", filepath.Join(src, "assent.db"), "--to", to); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("migrate-data into a full target: %v", err)
	}
	if _, err := runAssentEnv(t, nil, "migrate-data", "--from", filepath.Join(src, "assent.db"), "--to", to, "--force"); err != nil {
		t.Errorf("migrate-data --force: %v", err)
	}
	// The copy is an installation: the same master key opens it.
	key := filepath.Join(src, "master.key")
	if out, err := runAssentEnv(t, nil, "user", "list", "--data-dir", filepath.Join(root, "dst"), "--master-key-file", key); err != nil || !strings.Contains(out, "alice") {
		t.Errorf("user list on the copy: %v\n%s", err, out)
	}
}

package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/assent-auth/assent/internal/testutil"
)

// TestAgeCommand checks the backup format against the reference age
// command (Debian's age): it decrypts backups Write encrypted to a key file
// into the documented tar entries, its keys (age-keygen) work with
// --key-file, and files it encrypted, binary or armored, are read.
func TestAgeCommand(t *testing.T) {
	_, err1 := exec.LookPath("age")
	_, err2 := exec.LookPath("age-keygen")
	testutil.Require(t, "the age command (Debian package age)", err1 == nil && err2 == nil)
	dir := t.TempDir()
	run := func(stdin []byte, name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	db := writeDB(t, "database bytes")

	// Ours → age -d.
	ours := filepath.Join(dir, "ours.key")
	if _, err := GenerateKeyFile(ours, time.Now()); err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRecipientsFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	if err := Write(&enc, manifest(), db, []byte("key\n"), Encryption{Recipients: rs}); err != nil {
		t.Fatal(err)
	}
	plain := run(enc.Bytes(), "age", "-d", "-i", ours)
	var names []string
	tr := tar.NewReader(bytes.NewReader(plain))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == databaseName {
			if b, _ := io.ReadAll(tr); string(b) != "database bytes" {
				t.Errorf("age -d: database %q", b)
			}
		}
	}
	if want := []string{manifestName, databaseName, keyName}; !slices.Equal(names, want) {
		t.Errorf("age -d | tar -t: %v, want %v", names, want)
	}

	// age-keygen's key file → ours, and files age encrypted → Read.
	theirs := filepath.Join(dir, "theirs.key")
	run(nil, "age-keygen", "-o", theirs)
	pub := strings.TrimSpace(string(run(nil, "age-keygen", "-y", theirs)))
	ids, err := ParseKeyFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	var unencrypted bytes.Buffer
	if err := Write(&unencrypted, manifest(), db, nil, Encryption{}); err != nil {
		t.Fatal(err)
	}
	for _, armor := range []bool{false, true} {
		args := []string{"-e", "-r", pub}
		if armor {
			args = append(args, "-a")
		}
		file := run(unencrypted.Bytes(), "age", args...)
		out := filepath.Join(t.TempDir(), "x.db")
		c, err := Read(bytes.NewReader(file), Decryption{Identities: ids}, out)
		if err != nil || !c.Encrypted || c.Manifest.MasterKeyCheck != "check" {
			t.Errorf("Read of a file age encrypted (armor %v): %+v, %v", armor, c, err)
		}
		if b, _ := os.ReadFile(out); string(b) != "database bytes" {
			t.Errorf("database %q", b)
		}
	}
	// A public-key file from age-keygen -y works for Write.
	pubFile := filepath.Join(dir, "theirs.pub")
	if err := os.WriteFile(pubFile, []byte(pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rs, err := ParseRecipientsFile(pubFile); err != nil || len(rs) != 1 {
		t.Errorf("ParseRecipientsFile(age-keygen -y): %v, %v", rs, err)
	} else if _, ok := rs[0].(*age.X25519Recipient); !ok {
		t.Errorf("recipient %T", rs[0])
	}
}

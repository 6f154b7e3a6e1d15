package backup

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// testWorkFactor keeps scrypt fast in tests (the default is 18).
const testWorkFactor = 10

func writeDB(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.db")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func manifest() Manifest {
	return Manifest{Created: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), Source: "sqlite", SchemaVersion: 14,
		AssentVersion: "test", MasterKeyCheck: "check", Rows: map[string]int64{"users": 2}}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "backup.key")
	pub, err := GenerateKeyFile(keyFile, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKeyFile(keyFile, time.Now()); err == nil {
		t.Error("GenerateKeyFile over an existing file succeeded")
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	pubFile := filepath.Join(dir, "backup.pub")
	if err := os.WriteFile(pubFile, []byte("# public\n"+pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ids, err := ParseKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fromIDs, err := ParseRecipientsFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fromPub, err := ParseRecipientsFile(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()

	db := writeDB(t, "database bytes")
	key := []byte("bWFzdGVyIGtleQ==\n")
	for _, tc := range []struct {
		name      string
		enc       Encryption
		key       []byte
		dec       Decryption
		encrypted bool
		wantErr   error
		wantText  string
	}{
		{name: "plain", dec: Decryption{}},
		{name: "plain, passphrase given anyway", dec: Decryption{Passphrase: "x"}},
		{name: "passphrase", enc: Encryption{Passphrase: "correct horse", workFactor: testWorkFactor}, key: key,
			dec: Decryption{Passphrase: "correct horse"}, encrypted: true},
		{name: "key file (identities)", enc: Encryption{Recipients: fromIDs}, key: key, dec: Decryption{Identities: ids}, encrypted: true},
		{name: "key file (public keys)", enc: Encryption{Recipients: fromPub}, dec: Decryption{Identities: ids}, encrypted: true},
		{name: "wrong passphrase", enc: Encryption{Passphrase: "correct horse", workFactor: testWorkFactor},
			dec: Decryption{Passphrase: "battery staple"}, wantErr: ErrWrongKey, wantText: "wrong passphrase"},
		{name: "no passphrase", enc: Encryption{Passphrase: "p", workFactor: testWorkFactor}, wantErr: ErrEncrypted},
		{name: "key file for a passphrase backup", enc: Encryption{Passphrase: "p", workFactor: testWorkFactor},
			dec: Decryption{Identities: ids}, wantErr: ErrWrongKey, wantText: "encrypted to a passphrase"},
		{name: "passphrase for a key-file backup", enc: Encryption{Recipients: fromPub},
			dec: Decryption{Passphrase: "p"}, wantErr: ErrWrongKey, wantText: "encrypted to a key file"},
		{name: "another key", enc: Encryption{Recipients: fromPub},
			dec: Decryption{Identities: []age.Identity{other}}, wantErr: ErrWrongKey, wantText: "holds no key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, manifest(), db, tc.key, tc.enc); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if tc.enc.Encrypted() && bytes.Contains(buf.Bytes(), []byte("database bytes")) {
				t.Fatal("the encrypted backup holds the database in clear")
			}
			out := filepath.Join(t.TempDir(), "restored.db")
			c, err := Read(&buf, tc.dec, out)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("Read = %v, want %v containing %q", err, tc.wantErr, tc.wantText)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("a failed Read left %s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			got, _ := os.ReadFile(out)
			if string(got) != "database bytes" {
				t.Errorf("database = %q", got)
			}
			if c.Encrypted != tc.encrypted || !bytes.Equal(c.MasterKey, tc.key) || c.Manifest.IncludesMasterKey != (tc.key != nil) {
				t.Errorf("Contents = %+v", c)
			}
			if m := c.Manifest; m.Format != Format || m.Version != Version || m.MasterKeyCheck != "check" || m.Rows["users"] != 2 || !m.Created.Equal(manifest().Created) {
				t.Errorf("Manifest = %+v", m)
			}
		})
	}
}

func TestArmoredBackup(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	var enc bytes.Buffer
	if err := Write(&enc, manifest(), writeDB(t, "db"), nil, Encryption{Recipients: []age.Recipient{id.Recipient()}}); err != nil {
		t.Fatal(err)
	}
	var armored bytes.Buffer
	aw := armor.NewWriter(&armored)
	if _, err := io.Copy(aw, &enc); err != nil {
		t.Fatal(err)
	}
	aw.Close()
	if _, err := Read(&armored, Decryption{Identities: []age.Identity{id}}, filepath.Join(t.TempDir(), "x.db")); err != nil {
		t.Fatalf("Read of an armored backup: %v", err)
	}
}

func TestWriteRefuses(t *testing.T) {
	db := writeDB(t, "db")
	if err := Write(io.Discard, manifest(), db, []byte("k"), Encryption{}); err == nil {
		t.Error("Write put the master key into an unencrypted backup")
	}
	id, _ := age.GenerateX25519Identity()
	if err := Write(io.Discard, manifest(), db, nil, Encryption{Passphrase: "p", Recipients: []age.Recipient{id.Recipient()}}); err == nil {
		t.Error("Write encrypted to a passphrase and keys at once")
	}
}

func TestReadBroken(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, manifest(), writeDB(t, strings.Repeat("x", 4096)), nil, Encryption{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not an Assent backup"},
		{"sqlite file", []byte("SQLite format 3\x00rest"), "bare SQLite database"},
		{"text", []byte("hello"), "not an Assent backup"},
		{"truncated", good.Bytes()[:2000], "complete"},
		{"truncated encrypted header", []byte("age-encryption.org/v1\n-> scrypt"), "cannot decrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.db")
			_, err := Read(bytes.NewReader(tc.in), Decryption{Passphrase: "p"}, out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read = %v, want an error containing %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a failed Read left %s", out)
			}
		})
	}
}

// FuzzRead: backups are read from files an operator is handed; whatever
// they hold, Read returns an error or contents, never panics, and leaves no
// database behind on error.
func FuzzRead(f *testing.F) {
	var plain, enc bytes.Buffer
	db := writeDB(f, "database")
	if err := Write(&plain, manifest(), db, nil, Encryption{}); err != nil {
		f.Fatal(err)
	}
	// Decrypting with a key rather than a passphrase: an input may ask
	// scrypt for seconds of work, which would only slow the fuzzer.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	if err := Write(&enc, manifest(), db, []byte("key"), Encryption{Recipients: []age.Recipient{id.Recipient()}}); err != nil {
		f.Fatal(err)
	}
	f.Add(plain.Bytes())
	f.Add(enc.Bytes())
	f.Add([]byte("SQLite format 3\x00"))
	f.Add([]byte(armor.Header + "\n"))
	// One folder for the whole run: t.TempDir on each input would cost
	// more than Read.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte) {
		out := filepath.Join(dir, "x.db")
		defer os.Remove(out)
		if _, err := Read(bytes.NewReader(in), Decryption{Identities: []age.Identity{id}}, out); err != nil {
			if _, serr := os.Stat(out); !os.IsNotExist(serr) {
				t.Errorf("a failed Read left %s", out)
			}
		}
	})
}

// Package backup reads and writes Assent backup files: a tar archive of a
// manifest (assent-backup.json), a consistent copy of the database as a
// SQLite file (assent.db, whatever engine it was taken from) and, when
// asked for, the master key (master.key), optionally encrypted as a whole
// with age (https://age-encryption.org/v1) to a passphrase (scrypt) or to
// X25519 or hybrid post-quantum keys.
//
// The package knows nothing of SQL or of Assent's data: the caller makes the
// database copy (sqlstore's WriteSnapshot) and restores it.
package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Format and Version name what a manifest describes.
const (
	Format  = "assent-backup"
	Version = 1
)

// Names of the archive's entries.
const (
	manifestName = "assent-backup.json"
	databaseName = "assent.db"
	keyName      = "master.key"
)

// Limits on what Read takes into memory.
const (
	maxManifest = 64 << 10
	maxKeyFile  = 4 << 10
)

// Manifest describes a backup.
type Manifest struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// Source is the engine the copy was taken from: sqlite or postgres.
	Source string `json:"source"`
	// SchemaVersion is the database schema version of the copy.
	SchemaVersion int64 `json:"schema_version"`
	// AssentVersion is the version of the program that wrote it.
	AssentVersion string `json:"assent_version"`
	// MasterKeyCheck identifies the master key the secrets in the copy are
	// sealed with, without revealing it (secrets.Box.KeyCheck).
	MasterKeyCheck string `json:"master_key_check"`
	// IncludesMasterKey tells whether the archive holds master.key.
	IncludesMasterKey bool `json:"includes_master_key"`
	// Rows counts the rows of each table, for the record.
	Rows map[string]int64 `json:"rows,omitempty"`
}

// Encryption says how Write encrypts; the zero value does not.
type Encryption struct {
	// Passphrase encrypts to a passphrase (age scrypt recipient).
	Passphrase string
	// Recipients encrypts to public keys (age X25519 or hybrid).
	Recipients []age.Recipient
	// workFactor overrides scrypt's (log2 N), for tests.
	workFactor int
}

// Encrypted reports whether e encrypts.
func (e Encryption) Encrypted() bool { return e.Passphrase != "" || len(e.Recipients) > 0 }

// Decryption holds what Read may decrypt a backup with.
type Decryption struct {
	Passphrase string
	Identities []age.Identity
}

// Errors Read reports.
var (
	// ErrEncrypted: the backup is encrypted and nothing was given to
	// decrypt it with.
	ErrEncrypted = errors.New("the backup is encrypted: give its passphrase or key file")
	// ErrWrongKey: what was given does not decrypt the backup.
	ErrWrongKey = errors.New("cannot decrypt the backup")
	// ErrNotBackup: the file is not an Assent backup.
	ErrNotBackup = errors.New("not an Assent backup")
)

// Write writes a backup of the database file at dbPath to w. masterKey,
// if not nil, is included as master.key (Write refuses to include it in
// an unencrypted backup).
func Write(w io.Writer, m Manifest, dbPath string, masterKey []byte, enc Encryption) error {
	if masterKey != nil && !enc.Encrypted() {
		return errors.New("backup: the master key may only go into an encrypted backup")
	}
	if enc.Passphrase != "" && len(enc.Recipients) > 0 {
		return errors.New("backup: encrypt to a passphrase or to keys, not both")
	}
	m.Format, m.Version = Format, Version
	m.IncludesMasterKey = masterKey != nil
	out := io.WriteCloser(nopCloser{w})
	if enc.Encrypted() {
		recipients := enc.Recipients
		if enc.Passphrase != "" {
			r, err := age.NewScryptRecipient(enc.Passphrase)
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if enc.workFactor > 0 {
				r.SetWorkFactor(enc.workFactor)
			}
			recipients = []age.Recipient{r}
		}
		ew, err := age.Encrypt(w, recipients...)
		if err != nil {
			return fmt.Errorf("backup: encrypt: %w", err)
		}
		out = ew
	}
	tw := tar.NewWriter(out)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := addBytes(tw, manifestName, append(mj, '\n'), m.Created); err != nil {
		return err
	}
	db, err := os.Open(dbPath)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	fi, err := db.Stat()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: databaseName, Mode: 0o600, Size: fi.Size(), ModTime: m.Created, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := io.Copy(tw, db); err != nil {
		return fmt.Errorf("backup: write database: %w", err)
	}
	if masterKey != nil {
		if err := addBytes(tw, keyName, masterKey, m.Created); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("backup: encrypt: %w", err)
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func addBytes(tw *tar.Writer, name string, b []byte, mod time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: mod, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// Contents is what Read found in a backup.
type Contents struct {
	Manifest Manifest
	// Encrypted tells whether the file was encrypted.
	Encrypted bool
	// MasterKey is the content of master.key, or nil.
	MasterKey []byte
}

// The beginnings of age files, binary and armored.
var (
	ageMagic   = []byte("age-encryption.org/")
	armorMagic = []byte(armor.Header)
)

// Read reads a backup from r, decrypting it if needed, writes its database
// to dbPath (created with mode 0600; it must not exist) and returns the
// rest. On error dbPath is removed.
func Read(r io.Reader, dec Decryption, dbPath string) (c Contents, err error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(len(armorMagic))
	in := io.Reader(br)
	switch {
	case bytes.HasPrefix(head, ageMagic) || bytes.HasPrefix(head, armorMagic):
		c.Encrypted = true
		var ids []age.Identity
		if dec.Passphrase != "" {
			id, err := age.NewScryptIdentity(dec.Passphrase)
			if err != nil {
				return c, fmt.Errorf("backup: %w", err)
			}
			ids = append(ids, id)
		}
		ids = append(ids, dec.Identities...)
		if len(ids) == 0 {
			return c, ErrEncrypted
		}
		if bytes.HasPrefix(head, armorMagic) {
			in = armor.NewReader(br)
		}
		in, err = age.Decrypt(in, ids...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				what := "the key file holds no key it was encrypted to"
				if dec.Passphrase != "" {
					what = "wrong passphrase"
				}
				if len(nm.StanzaTypes) > 0 && nm.StanzaTypes[0] == "scrypt" && dec.Passphrase == "" {
					what = "it is encrypted to a passphrase, not to a key"
				} else if len(nm.StanzaTypes) > 0 && nm.StanzaTypes[0] != "scrypt" && len(dec.Identities) == 0 {
					what = "it is encrypted to a key file, not to a passphrase"
				}
				return c, fmt.Errorf("%w: %s", ErrWrongKey, what)
			}
			return c, fmt.Errorf("%w: %w", ErrWrongKey, err)
		}
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		return c, fmt.Errorf("%w: this is a bare SQLite database; make backups with assent backup", ErrNotBackup)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(dbPath)
		}
	}()
	tr := tar.NewReader(in)
	var sawManifest, sawDB bool
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !sawManifest {
				return c, fmt.Errorf("%w: %w", ErrNotBackup, err)
			}
			return c, fmt.Errorf("backup: read: %w (is the file complete?)", err)
		}
		// Plain files only: a sparse entry could expand a small file
		// into any amount of zeros.
		if h.Typeflag != tar.TypeReg {
			return c, fmt.Errorf("backup: unexpected entry %q of type %q", h.Name, h.Typeflag)
		}
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse") {
				return c, fmt.Errorf("backup: unexpected sparse entry %q", h.Name)
			}
		}
		if !sawManifest && h.Name != manifestName {
			return c, fmt.Errorf("%w: it does not start with %s", ErrNotBackup, manifestName)
		}
		switch h.Name {
		case manifestName:
			b, err := io.ReadAll(io.LimitReader(tr, maxManifest))
			if err != nil {
				return c, fmt.Errorf("backup: read manifest: %w", err)
			}
			if err := json.Unmarshal(b, &c.Manifest); err != nil || c.Manifest.Format != Format {
				return c, fmt.Errorf("%w: unreadable manifest", ErrNotBackup)
			}
			if c.Manifest.Version > Version {
				return c, fmt.Errorf("backup: format version %d is newer than this program reads (%d); restore with a newer assent", c.Manifest.Version, Version)
			}
			sawManifest = true
		case databaseName:
			f, err := os.OpenFile(dbPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return c, fmt.Errorf("backup: %w", err)
			}
			n, err := io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = syncFile(dbPath)
			}
			if err != nil {
				return c, fmt.Errorf("backup: write database: %w (is the file complete?)", err)
			}
			if n != h.Size {
				return c, fmt.Errorf("backup: database truncated (%d of %d bytes)", n, h.Size)
			}
			sawDB = true
		case keyName:
			b, err := io.ReadAll(io.LimitReader(tr, maxKeyFile))
			if err != nil {
				return c, fmt.Errorf("backup: read master key: %w", err)
			}
			c.MasterKey = b
		default:
			return c, fmt.Errorf("backup: unexpected entry %q", h.Name)
		}
	}
	if !sawManifest {
		return c, fmt.Errorf("%w: empty file", ErrNotBackup)
	}
	if !sawDB {
		return c, errors.New("backup: the archive holds no database (is the file complete?)")
	}
	if c.Manifest.IncludesMasterKey && c.MasterKey == nil {
		return c, errors.New("backup: the manifest says the master key is included but it is missing")
	}
	return c, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// ParseKeyFile reads an age identity file (lines AGE-SECRET-KEY-1… or
// AGE-SECRET-KEY-PQ-1…, as written by GenerateKeyFile or age-keygen).
func ParseKeyFile(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return ids, nil
}

// ParseRecipientsFile reads public keys to encrypt to: a file of age
// recipients (age1…), or an identity file, whose keys' public halves are
// used.
func ParseRecipientsFile(path string) ([]age.Recipient, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if strings.Contains(string(b), "AGE-SECRET-KEY-") {
		ids, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		var rs []age.Recipient
		for _, id := range ids {
			switch id := id.(type) {
			case *age.X25519Identity:
				rs = append(rs, id.Recipient())
			case *age.HybridIdentity:
				rs = append(rs, id.Recipient())
			default:
				return nil, fmt.Errorf("key file %s: unsupported key type", path)
			}
		}
		return rs, nil
	}
	rs, err := age.ParseRecipients(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return rs, nil
}

// GenerateKeyFile writes a new X25519 identity to path (mode 0600; path
// must not exist) in age-keygen's format and returns its public key.
func GenerateKeyFile(path string, now time.Time) (string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	pub := id.Recipient().String()
	content := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", now.UTC().Format(time.RFC3339), pub, id.String())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("key file: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return "", fmt.Errorf("key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("key file: %w", err)
	}
	return pub, nil
}

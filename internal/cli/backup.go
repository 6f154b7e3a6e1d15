package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/backup"
	"github.com/assent-auth/assent/internal/buildinfo"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// The setting in which the database records its master key's check value
// (see app.openKey).
const settingKeyCheck = "master_key_check"

// passphraseEnv may hold the passphrase of backup and restore.
const passphraseEnv = "ASSENT_BACKUP_PASSPHRASE"

func addCryptFlags(cmd *cobra.Command, verb string) {
	cmd.Flags().String("passphrase-file", "", "file whose first line is the passphrase to "+verb+" with (or env "+passphraseEnv+")")
	cmd.Flags().String("key-file", "", "age key file to "+verb+" with (from assent backup-keygen or age-keygen)")
}

// passphrase returns the passphrase from --passphrase-file or the
// environment, or "".
func passphrase(cmd *cobra.Command, e *env) (string, error) {
	if file, _ := cmd.Flags().GetString("passphrase-file"); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("passphrase: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", fmt.Errorf("passphrase: %s: the first line is empty", file)
		}
		return line, nil
	}
	for _, kv := range e.environ {
		if v, ok := strings.CutPrefix(kv, passphraseEnv+"="); ok && v != "" {
			return v, nil
		}
	}
	return "", nil
}

// openExisting opens the database a DSN names, refusing to create a SQLite
// file that does not exist.
func openExisting(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	if d, path := sqlstore.SplitDSN(dsn); d == sqlstore.DialectSQLite {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no database at %s: %w", path, err)
		}
	}
	return sqlstore.Open(ctx, dsn)
}

// configDSN is the database the configuration names.
func configDSN(cfg config.Config) string {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL
	}
	return cfg.SQLitePath()
}

// masterKey reads the configured master key without creating one. It
// returns nil and the file it would be read from when there is none.
func masterKey(cfg config.Config) (key []byte, source string, err error) {
	if cfg.MasterKey != "" {
		key, err = secrets.ParseKey(cfg.MasterKey)
		return key, "master_key (ASSENT_MASTER_KEY)", err
	}
	source = cfg.MasterKeyFile
	if source == "" {
		source = cfg.DefaultMasterKeyFile()
	}
	b, err := os.ReadFile(source)
	if errors.Is(err, os.ErrNotExist) {
		return nil, source, nil
	}
	if err != nil {
		return nil, source, fmt.Errorf("master key: %w", err)
	}
	key, err = secrets.ParseKey(string(b))
	if err != nil {
		return nil, source, fmt.Errorf("master key from %s: %w", source, err)
	}
	return key, source, nil
}

func printCounts(w io.Writer, counts []sqlstore.TableCount) error {
	rows := make([][]string, 0, len(counts))
	for _, c := range counts {
		rows = append(rows, []string{c.Table, strconv.FormatInt(c.Rows, 10)})
	}
	return table(w, []string{"TABLE", "ROWS"}, rows)
}

func newBackupCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the installation's database to FILE while the server runs",
		Long: `Write a consistent copy of the database (SQLite or PostgreSQL) to FILE, taken
at one moment while the server keeps running. The copy holds every integration,
user, device, token, bypass code and log; its secrets stay sealed with the master
key, which is not in the backup unless --include-master-key is given (only with
encryption). Keep the master key separately: without it the secrets are
unreadable. Restore with assent restore. See docs/backup.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd, e, args[0])
		},
	}
	addCryptFlags(cmd, "encrypt")
	cmd.Flags().Bool("include-master-key", false, "put the master key into the (encrypted) backup")
	cmd.Flags().Bool("json", false, "print the result as JSON")
	return cmd
}

type backupJSON struct {
	File              string                `json:"file"`
	Bytes             int64                 `json:"bytes"`
	Source            string                `json:"source"`
	SchemaVersion     int64                 `json:"schema_version"`
	Encrypted         bool                  `json:"encrypted"`
	IncludesMasterKey bool                  `json:"includes_master_key"`
	Tables            []sqlstore.TableCount `json:"tables"`
}

func runBackup(cmd *cobra.Command, e *env, file string) error {
	ctx := cmd.Context()
	cfg, err := loadConfig(cmd, e)
	if err != nil {
		return err
	}
	var problems []string
	pass, err := passphrase(cmd, e)
	if err != nil {
		problems = append(problems, err.Error())
	}
	var enc backup.Encryption
	enc.Passphrase = pass
	if kf, _ := cmd.Flags().GetString("key-file"); kf != "" {
		if pass != "" {
			problems = append(problems, "give a passphrase or --key-file, not both")
		}
		enc.Recipients, err = backup.ParseRecipientsFile(kf)
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	withKey, _ := cmd.Flags().GetBool("include-master-key")
	var key, keyFile []byte
	if withKey {
		if !enc.Encrypted() {
			problems = append(problems, "--include-master-key needs encryption (--passphrase-file, "+passphraseEnv+" or --key-file): anyone holding the file would read every secret")
		}
		k, src, err := masterKey(cfg)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case k == nil:
			problems = append(problems, "no master key at "+src)
		default:
			key = k
			keyFile = []byte(base64.StdEncoding.EncodeToString(k) + "\n")
		}
	}
	if _, err := os.Stat(file); err == nil {
		problems = append(problems, file+" already exists")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}

	st, err := openExisting(ctx, configDSN(cfg))
	if err != nil {
		return err
	}
	defer st.Close()
	// The copy goes into a private folder beside FILE, so it is written on
	// the same file system and never readable by others.
	tmp, err := os.MkdirTemp(filepath.Dir(file), ".assent-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, "assent.db")
	if err := st.WriteSnapshot(ctx, snap); err != nil {
		return err
	}
	m := backup.Manifest{Created: time.Now().UTC(), Source: st.Dialect(), AssentVersion: buildinfo.Read().Version}
	counts, err := describeSnapshot(ctx, snap, &m)
	if err != nil {
		return err
	}
	if key != nil {
		if box, err := secrets.New(key); err != nil || box.KeyCheck() != m.MasterKeyCheck {
			return errors.New("the configured master key is not the one this database's secrets are sealed with")
		}
	}
	part := filepath.Join(tmp, "backup")
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = backup.Write(f, m, snap, keyFile, enc)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Linked, not renamed, so an existing FILE is never replaced.
	if err := os.Link(part, file); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	out := backupJSON{File: file, Bytes: fi.Size(), Source: m.Source, SchemaVersion: m.SchemaVersion,
		Encrypted: enc.Encrypted(), IncludesMasterKey: key != nil, Tables: counts}
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		return printJSON(e.stdout, out)
	}
	w := e.stdout
	how := "not encrypted"
	switch {
	case pass != "":
		how = "encrypted to a passphrase"
	case enc.Encrypted():
		how = "encrypted to the key file"
	}
	fmt.Fprintf(w, "Backup of the %s database (schema %d) written to %s (%d bytes, %s).\n", m.Source, m.SchemaVersion, file, fi.Size(), how)
	if key != nil {
		fmt.Fprintln(w, "The master key is in the backup: keep the passphrase or key file as safe as the key itself.")
	} else {
		_, src, _ := masterKey(cfg)
		fmt.Fprintf(w, "The master key is NOT in the backup: keep a copy of %s apart from it; without it the secrets are unreadable.\n", src)
	}
	return printCounts(w, counts)
}

// describeSnapshot fills the manifest from the database copy at path and
// returns its row counts.
func describeSnapshot(ctx context.Context, path string, m *backup.Manifest) ([]sqlstore.TableCount, error) {
	s, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if m.SchemaVersion, err = s.SchemaVersion(ctx); err != nil {
		return nil, err
	}
	check, err := s.GetSetting(ctx, settingKeyCheck)
	if err == nil {
		m.MasterKeyCheck = check
	}
	counts, err := s.CountRows(ctx)
	if err != nil {
		return nil, err
	}
	m.Rows = map[string]int64{}
	for _, c := range counts {
		m.Rows[c.Table] = c.Rows
	}
	return counts, nil
}

func newRestoreCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup into a new data directory or an empty PostgreSQL database",
		Long: `Restore a backup written by assent backup into the configured database: the
SQLite database of --data-dir (which must be new or empty but for master.key), or
the PostgreSQL database of --database-url (which must be empty). --force replaces
what is there. The master key must be the one the backup's secrets are sealed
with: the configured one (master_key, master_key_file or <data-dir>/master.key),
or, when there is none, the one in the backup (--include-master-key), which is
then written to the master key file. Stop any server using the target first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd, e, args[0])
		},
	}
	addCryptFlags(cmd, "decrypt")
	cmd.Flags().Bool("force", false, "replace the data of a non-empty target")
	cmd.Flags().Bool("json", false, "print the result as JSON")
	return cmd
}

type restoreJSON struct {
	Target        string                `json:"target"`
	Source        string                `json:"source"`
	Created       time.Time             `json:"created"`
	SchemaVersion int64                 `json:"schema_version"`
	MasterKey     string                `json:"master_key"`
	Tables        []sqlstore.TableCount `json:"tables"`
}

func runRestore(cmd *cobra.Command, e *env, file string) error {
	ctx := cmd.Context()
	cfg, err := loadConfig(cmd, e)
	if err != nil {
		return err
	}
	force, _ := cmd.Flags().GetBool("force")
	var problems []string
	var dec backup.Decryption
	if dec.Passphrase, err = passphrase(cmd, e); err != nil {
		problems = append(problems, err.Error())
	}
	if kf, _ := cmd.Flags().GetString("key-file"); kf != "" {
		if dec.Identities, err = backup.ParseKeyFile(kf); err != nil {
			problems = append(problems, err.Error())
		}
	}
	key, keySource, err := masterKey(cfg)
	if err != nil {
		problems = append(problems, err.Error())
	}
	postgres := cfg.DatabaseURL != ""
	if !postgres && !force {
		if extra := dataDirContents(cfg, keySource); len(extra) > 0 {
			problems = append(problems, fmt.Sprintf("the data directory %s is not empty (%s): restore into a new one, or give --force to replace its database",
				cfg.DataDir, strings.Join(extra, ", ")))
		}
	}
	in, err := os.Open(file)
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		defer in.Close()
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}

	// The backup's database is unpacked next to where it goes.
	parent := os.TempDir()
	if !postgres {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
		parent = cfg.DataDir
	}
	tmp, err := os.MkdirTemp(parent, ".assent-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, "assent.db")
	c, err := backup.Read(in, dec, snap)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}

	// The master key: the configured one must open the backup's secrets;
	// with none configured, the backup's own is written where it is read.
	keyNote := "the configured master key (" + keySource + ")"
	writeKey := false
	// A database no server has opened yet records no key check (and
	// holds no sealed secret): any key fits.
	fits := func(box *secrets.Box) bool {
		return c.Manifest.MasterKeyCheck == "" || box.KeyCheck() == c.Manifest.MasterKeyCheck
	}
	switch {
	case key != nil:
		if box, err := secrets.New(key); err != nil || !fits(box) {
			return fmt.Errorf("the master key from %s is not the one the backup's secrets are sealed with; give the original key (master_key_file or ASSENT_MASTER_KEY)", keySource)
		}
	case c.MasterKey != nil:
		k, err := secrets.ParseKey(string(c.MasterKey))
		if err != nil {
			return fmt.Errorf("the backup's master key: %w", err)
		}
		if box, err := secrets.New(k); err != nil || !fits(box) {
			return errors.New("the backup's master key does not open its secrets")
		}
		writeKey = true
		keyNote = "the backup's master key, written to " + keySource
	default:
		return fmt.Errorf("the backup does not include the master key and there is none at %s: copy the installation's master key there (or set ASSENT_MASTER_KEY) and run restore again; without it the secrets in the backup are unreadable", keySource)
	}

	// Opening migrates an older backup to this program's schema and
	// refuses a newer one.
	src, err := sqlstore.OpenSQLite(ctx, snap)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if check, err := src.GetSetting(ctx, settingKeyCheck); err == nil && check != c.Manifest.MasterKeyCheck {
		src.Close()
		return fmt.Errorf("%s: the database's master key check differs from its manifest's", file)
	}
	var counts []sqlstore.TableCount
	if postgres {
		dst, err := sqlstore.OpenPostgres(ctx, cfg.DatabaseURL)
		if err != nil {
			src.Close()
			return err
		}
		counts, err = sqlstore.Copy(ctx, dst, src, sqlstore.CopyOptions{Force: force})
		dst.Close()
		src.Close()
		if errors.Is(err, sqlstore.ErrTargetNotEmpty) {
			return fmt.Errorf("%w; restore into an empty database, or give --force to replace its data", err)
		}
		if err != nil {
			return err
		}
	} else {
		counts, err = src.CountRows(ctx)
		if cerr := src.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		dbPath := cfg.SQLitePath()
		if force {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
		if err := os.Rename(snap, dbPath); err != nil {
			return err
		}
	}
	if writeKey {
		if err := writeKeyFile(keySource, c.MasterKey); err != nil {
			return err
		}
	}
	target := cfg.SQLitePath()
	if postgres {
		target = "PostgreSQL database"
	}
	out := restoreJSON{Target: target, Source: c.Manifest.Source, Created: c.Manifest.Created,
		SchemaVersion: c.Manifest.SchemaVersion, MasterKey: keyNote, Tables: counts}
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		return printJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "Restored the backup of %s (a %s database, schema %d) into %s, with %s.\n",
		c.Manifest.Created.Format(time.RFC3339), c.Manifest.Source, c.Manifest.SchemaVersion, target, keyNote)
	return printCounts(e.stdout, counts)
}

// dataDirContents lists what the data directory holds besides the master
// key file.
func dataDirContents(cfg config.Config, keyFile string) []string {
	entries, err := os.ReadDir(cfg.DataDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, en := range entries {
		if filepath.Join(cfg.DataDir, en.Name()) == filepath.Clean(keyFile) {
			continue
		}
		out = append(out, en.Name())
	}
	return out
}

// writeKeyFile writes a master key file that must not exist yet.
func writeKeyFile(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the master key: %w", err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fmt.Errorf("write the master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write the master key: %w", err)
	}
	return f.Close()
}

func newBackupKeygenCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "backup-keygen FILE",
		Short: "Write a new key file to encrypt backups to (age X25519) and print its public key",
		Long: `Write a new age X25519 key file (mode 0600) for assent backup --key-file and
assent restore --key-file, and print its public key. A file holding only the
public key (age1…) is enough to write backups, so the server need not hold the
secret half; restoring needs the key file itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := backup.GenerateKeyFile(args[0], time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Wrote %s. Public key: %s\n", args[0], pub)
			return nil
		},
	}
}

func newMigrateDataCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate-data --from DSN --to DSN",
		Short: "Copy every row of an installation to another database (SQLite ↔ PostgreSQL)",
		Long: `Copy everything — integrations with their keys, users, devices with their keys
and counters, tokens, bypass codes, groups, security keys, settings, the auth
and administrator logs — from one database to another, so no application and no
device notices the move. A DSN is sqlite:PATH (or a path) or postgres://….

The target's migrations run first; it must be empty unless --force is given
(its data is then replaced). The source is read in one consistent snapshot and
the target written in one transaction; row counts are compared before it
commits. Secrets stay sealed: run the server on the target with the same
master key. Stop the server first, or changes made after the snapshot (a
counter advanced by a login, a used bypass code) are not carried over.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			from, _ := cmd.Flags().GetString("from")
			to, _ := cmd.Flags().GetString("to")
			force, _ := cmd.Flags().GetBool("force")
			var problems []string
			if from == "" {
				problems = append(problems, "--from is required")
			}
			if to == "" {
				problems = append(problems, "--to is required")
			}
			if from != "" && from == to {
				problems = append(problems, "--from and --to name the same database")
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			ctx := cmd.Context()
			src, err := openExisting(ctx, from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer src.Close()
			dst, err := sqlstore.Open(ctx, to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			defer dst.Close()
			counts, err := sqlstore.Copy(ctx, dst, src, sqlstore.CopyOptions{Force: force})
			if errors.Is(err, sqlstore.ErrTargetNotEmpty) {
				return fmt.Errorf("%w; give --force to replace its data", err)
			}
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				return printJSON(e.stdout, counts)
			}
			fmt.Fprintf(e.stdout, "Copied the %s database to %s; every table's row count matches.\n", src.Dialect(), dst.Dialect())
			return printCounts(e.stdout, counts)
		},
	}
	cmd.Flags().String("from", "", "database to copy: sqlite:PATH or postgres://…")
	cmd.Flags().String("to", "", "database to copy into: sqlite:PATH or postgres://…")
	cmd.Flags().Bool("force", false, "replace the data of a non-empty target")
	cmd.Flags().Bool("json", false, "print the row counts as JSON")
	return cmd
}

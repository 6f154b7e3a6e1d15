package sqlstore

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations live in migrations/<dialect>/NNNN_name.sql. Each dialect has the
// same versions; a version, once released, is never edited — add a new file.
//
//go:embed migrations
var migrationsFS embed.FS

// ErrNoSchema is a database without Assent's schema, opened with
// ExistingOnly.
var ErrNoSchema = errors.New("sqlstore: the database holds no Assent installation (no schema_migrations)")

// SchemaTooNewError is a database migrated by a newer Assent than this
// one: its schema has versions this binary does not know, so it refuses
// to touch it (an older binary could misread or damage the data).
type SchemaTooNewError struct {
	Database     int64  // the newest schema version recorded in the database
	DatabaseName string // its migration's file name
	Binary       int64  // the newest schema version this binary has
	BinaryName   string
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the database's schema version %d (%s) is newer than this assent binary's %d (%s): "+
		"it was upgraded by a newer assent; run that version (or a newer one), or restore a backup taken before the upgrade",
		e.Database, e.DatabaseName, e.Binary, e.BinaryName)
}

// SchemaVersion is the newest schema version this binary knows (the
// number of its last migration) for dialect (DialectSQLite, DialectPostgres).
func SchemaVersion(dialect string) (int64, error) {
	ms, err := loadMigrations(dialect)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

type migration struct {
	version int64
	name    string
	sql     string
}

// migrationLockKey is the pg_advisory_xact_lock key that serializes
// migrations across processes ("assentdb" in ASCII).
const migrationLockKey int64 = 0x6173_7365_6e74_6462

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)`

// loadMigrations returns the dialect's migrations in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive version number and '_'", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationsFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies every migration not yet recorded in schema_migrations, all
// in one transaction. Concurrent openers serialize: on SQLite through BEGIN
// IMMEDIATE (the second waits on the busy timeout), on PostgreSQL through an
// advisory lock taken before anything is read. The later one then finds
// nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.name)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	var notices []normNotice
	err = s.inTx(ctx, func(q *queries) error {
		notices = nil // a retried transaction starts over
		if s.d.postgres {
			if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, migrationLockKey); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		if _, err := q.exec(ctx, createSchemaMigrations); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := q.query(ctx, `SELECT version, name FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		recorded, err := collect(rows, func(r scanner) (migration, error) {
			var m migration
			return m, r.Scan(&m.version, &m.name)
		})
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if len(recorded) == 0 && s.existingOnly {
			return ErrNoSchema
		}
		applied := make([]int64, len(recorded))
		for i, m := range recorded {
			applied[i] = m.version
		}
		if len(recorded) > 0 && len(ms) > 0 {
			newest := slices.MaxFunc(recorded, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
			if known := ms[len(ms)-1]; newest.version > known.version {
				return &SchemaTooNewError{Database: newest.version, DatabaseName: newest.name,
					Binary: known.version, BinaryName: known.name}
			}
		}
		for _, m := range ms {
			if slices.Contains(applied, m.version) {
				continue
			}
			if len(recorded) > 0 {
				s.log.Info("applying a schema migration", "migration", m.name)
			}
			if _, err := q.exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := q.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().Unix()); err != nil {
				return fmt.Errorf("%s: record: %w", m.name, err)
			}
		}
		// Data that depends on Go code rather than on the schema: the
		// username comparison rule (and the Unicode version behind it).
		notices, err = renormalizeUsernames(ctx, q)
		if err != nil {
			return fmt.Errorf("renormalize usernames: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: migrate %s: %w", s.d.name, err)
	}
	logNotices(s.log, notices)
	return nil
}

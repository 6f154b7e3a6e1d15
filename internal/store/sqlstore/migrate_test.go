package sqlstore

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// A database migrated by a newer Assent (a schema version this binary does
// not have) is refused with both versions named, and left as it is; a
// database without Assent's schema is refused with ExistingOnly and left
// empty.
func TestSQLiteSchemaChecks(t *testing.T) {
	dir := t.TempDir()
	testSchemaChecks(t, func(t *testing.T, opts ...Option) (*Store, error) {
		return OpenSQLite(t.Context(), filepath.Join(dir, "assent.db"), opts...)
	})
}

func TestPostgresSchemaChecks(t *testing.T) {
	pg := postgresServer(t)
	dsn := pg.newDB(t)
	testSchemaChecks(t, func(t *testing.T, opts ...Option) (*Store, error) {
		return OpenPostgres(t.Context(), dsn, opts...)
	})
}

func testSchemaChecks(t *testing.T, open func(t *testing.T, opts ...Option) (*Store, error)) {
	if _, err := open(t, ExistingOnly()); !errors.Is(err, ErrNoSchema) {
		t.Fatalf("ExistingOnly on an empty database: %v, want ErrNoSchema", err)
	}
	s, err := open(t) // creates the schema
	if err != nil {
		t.Fatal(err)
	}
	known, err := SchemaVersion(s.Dialect())
	if err != nil || known < 1 {
		t.Fatalf("SchemaVersion: %d %v", known, err)
	}
	ms, err := loadMigrations(s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if rows := migrationRows(t, s); len(rows) != len(ms) {
		t.Fatalf("schema_migrations: %v, want %d rows", rows, len(ms))
	}
	future := known + 1
	if _, err := s.w.ExecContext(t.Context(), s.d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		future, "0099_from_the_future.sql", 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = open(t)
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != future || tooNew.Binary != known {
		t.Fatalf("open a newer database: %v, want SchemaTooNewError %d > %d", err, future, known)
	}
	for _, want := range []string{"0099_from_the_future.sql", "newer than this assent binary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = open(t, ExistingOnly())
	if !errors.As(err, &tooNew) {
		t.Errorf("ExistingOnly on a newer database: %v, want SchemaTooNewError", err)
	}
}

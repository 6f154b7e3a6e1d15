package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/storetest"
)

func openSQLite(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLite(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	})
}

// pgServer is a PostgreSQL server reachable with a superuser DSN; each test
// gets its own database on it.
type pgServer struct {
	dsn   *url.URL
	admin *sql.DB
}

const pgHint = "ASSENT_TEST_POSTGRES_DSN not set: scripts/test.sh starts PostgreSQL"

func postgresServer(t testing.TB) *pgServer {
	t.Helper()
	dsn := os.Getenv("ASSENT_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(pgHint)
		}
		t.Skip(pgHint)
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("ASSENT_TEST_POSTGRES_DSN must be a postgres:// URL (err: %v)", err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(t.Context()); err != nil {
		t.Fatalf("connect to ASSENT_TEST_POSTGRES_DSN: %v", err)
	}
	return &pgServer{dsn: u, admin: admin}
}

// newDB creates an empty database, dropped when t ends, and returns its URL.
func (pg *pgServer) newDB(t testing.TB) string {
	t.Helper()
	name := "assent_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := pg.admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pg.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u := *pg.dsn
	u.Path = "/" + name
	return u.String()
}

func openPostgres(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestPostgres(t *testing.T) {
	pg := postgresServer(t)
	storetest.RunTests(t, func(t *testing.T) store.Store {
		s := openPostgres(t, pg.newDB(t))
		if s.Dialect() != DialectPostgres {
			t.Fatalf("Dialect() = %q", s.Dialect())
		}
		return s
	})
}

// migrationRows returns schema_migrations as version → applied_at.
func migrationRows(t *testing.T, s *Store) map[int64]int64 {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), "SELECT version, applied_at FROM schema_migrations")
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var v, at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		out[v] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// testReopen checks that Open is idempotent (migrations are recorded once and
// not re-applied, data survives) and that a schema newer than the program is
// refused.
func testReopen(t *testing.T, open func(t *testing.T) (*Store, error)) {
	ctx := t.Context()
	s1, err := open(t)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	ms, err := loadMigrations(s1.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	first := migrationRows(t, s1)
	if len(first) != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", len(first), len(ms))
	}
	if err := s1.CreateUser(ctx, store.User{ID: "DU000000000000000001", Username: "alice", Status: store.StatusActive}); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	time.Sleep(1100 * time.Millisecond) // a re-applied migration would get a new applied_at
	s2, err := open(t)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if second := migrationRows(t, s2); len(second) != len(first) {
		t.Errorf("reopen changed schema_migrations: %v → %v", first, second)
	} else {
		for v, at := range first {
			if second[v] != at {
				t.Errorf("migration %d re-applied: applied_at %d → %d", v, at, second[v])
			}
		}
	}
	if _, err := s2.GetUserByUsername(ctx, "ALICE"); err != nil {
		t.Errorf("data did not survive reopening: %v", err)
	}

	if _, err := s2.w.ExecContext(ctx, s2.d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		int64(99999), "99999_future.sql", time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := open(t)
	if err == nil {
		s3.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a database with a newer schema: %v", err)
	}
}

func TestSQLiteReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "assent.db")
	testReopen(t, func(t *testing.T) (*Store, error) { return OpenSQLite(t.Context(), path) })
}

func TestPostgresReopen(t *testing.T) {
	pg := postgresServer(t)
	dsn := pg.newDB(t)
	testReopen(t, func(t *testing.T) (*Store, error) { return OpenPostgres(t.Context(), dsn) })
}

// testConcurrentOpen opens one fresh database from several goroutines at
// once, as several processes or nodes starting together would.
func testConcurrentOpen(t *testing.T, open func(t *testing.T) (*Store, error)) []*Store {
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = open(t)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open #%d: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	ms, err := loadMigrations(stores[0].Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if rows := migrationRows(t, stores[0]); len(rows) != len(ms) {
		t.Errorf("schema_migrations after concurrent opens: %v, want %d rows", rows, len(ms))
	}
	return stores
}

func TestPostgresConcurrentOpen(t *testing.T) {
	pg := postgresServer(t)
	dsn := pg.newDB(t)
	testConcurrentOpen(t, func(t *testing.T) (*Store, error) { return OpenPostgres(t.Context(), dsn) })
}

// Two stores on one SQLite file behave like the server and the assent CLI
// running at the same time: both open (even concurrently, on a new file),
// both see each other's writes, and concurrent transactions from both never
// fail with SQLITE_BUSY or lose an update.
func TestSQLiteSharedFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "shared.db")
	stores := testConcurrentOpen(t, func(t *testing.T) (*Store, error) { return OpenSQLite(t.Context(), path) })
	a, b := stores[0], stores[1]

	u := store.User{ID: "DU000000000000000001", Username: "Alice", Status: store.StatusActive}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetUserByUsername(ctx, "alice"); err != nil {
		t.Fatalf("second store does not see the first one's write: %v", err)
	}
	if err := b.CreateUser(ctx, store.User{ID: "DU000000000000000002", Username: "ALICE"}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("second store CreateUser of a taken username: %v, want ErrAlreadyExists", err)
	}

	const perStore = 25
	var wg sync.WaitGroup
	errc := make(chan error, len(stores)*perStore)
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				errc <- s.InTx(ctx, func(q store.Queries) error {
					got, err := q.GetUser(ctx, u.ID)
					if err != nil {
						return err
					}
					got.FailedAttempts++
					return q.UpdateUser(ctx, got)
				})
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("InTx: %v", err)
		}
	}
	got, err := a.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(stores) * perStore; got.FailedAttempts != want {
		t.Errorf("FailedAttempts = %d, want %d", got.FailedAttempts, want)
	}
}

func TestSQLiteFileAndPragmas(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "missing", "parent")
	path := filepath.Join(dir, "assent.db")
	s := openSQLite(t, path)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("database file mode = %o, want 600", mode)
	}
	if s.Dialect() != DialectSQLite {
		t.Errorf("Dialect() = %q", s.Dialect())
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool MaxOpenConnections = %d, want 1", got)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	for _, db := range []struct {
		name string
		db   *sql.DB
	}{{"write", s.w}, {"read", s.r}} {
		for _, p := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"synchronous", "1"}, // NORMAL
			{"foreign_keys", "1"},
			{"busy_timeout", "10000"},
		} {
			var got string
			if err := db.db.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatalf("%s pool: PRAGMA %s: %v", db.name, p.pragma, err)
			}
			if !strings.EqualFold(got, p.want) {
				t.Errorf("%s pool: PRAGMA %s = %s, want %s", db.name, p.pragma, got, p.want)
			}
		}
	}
	// The read pool is query-only.
	if _, err := s.r.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES ('x', 'y')"); err == nil {
		t.Error("write through the read pool succeeded")
	}
	// Transactions take the write lock at BEGIN: while one is open, another
	// connection cannot start a write transaction.
	other, err := sql.Open("sqlite", path+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = s.InTx(ctx, func(q store.Queries) error {
		_, err := other.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil {
			other.ExecContext(ctx, "ROLLBACK")
			return errors.New("second writer got the lock while a transaction was open")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestOpenDSNForms(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		dsn  string
		file string
	}{
		{filepath.Join(dir, "plain.db"), "plain.db"},
		{"sqlite:" + filepath.Join(dir, "prefixed.db"), "prefixed.db"},
		{"sqlite://" + filepath.Join(dir, "url.db"), "url.db"},
		{filepath.Join(dir, "odd ?#%name.db"), "odd ?#%name.db"},
	} {
		s, err := Open(t.Context(), tc.dsn)
		if err != nil {
			t.Errorf("Open(%q): %v", tc.dsn, err)
			continue
		}
		if s.Dialect() != DialectSQLite {
			t.Errorf("Open(%q).Dialect() = %q", tc.dsn, s.Dialect())
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, tc.file)); err != nil {
			t.Errorf("Open(%q) did not create %s: %v", tc.dsn, tc.file, err)
		}
	}
	for _, dsn := range []string{"", "sqlite:", ":memory:", "file:x.db?mode=memory"} {
		if s, err := Open(t.Context(), dsn); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ? AND z = \"?\"", "x = '?' AND y = $1 AND z = \"?\""},
		{"x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1"},
		{"VALUES (?, ?), (?, ?)", "VALUES ($1, $2), ($3, $4)"},
	} {
		if got := postgresDialect.rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := sqliteDialect.rebind(tc.in); got != tc.in {
			t.Errorf("sqlite rebind(%q) = %q", tc.in, got)
		}
	}
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := loadMigrations(DialectSQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(DialectPostgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].version != pg[i].version || lite[i].name != pg[i].name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i, lite[i].name, pg[i].name)
		}
	}
}

func TestTimes(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		unix int64
	}{
		{time.Time{}, 0},
		{time.Unix(1700000000, 999_999_999), 1700000000},
		{time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("Z", -3600)), time.Date(2030, 1, 2, 4, 4, 5, 0, time.UTC).Unix()},
	} {
		if got := toUnix(tc.in); got != tc.unix {
			t.Errorf("toUnix(%v) = %d, want %d", tc.in, got, tc.unix)
		}
		back := fromUnix(tc.unix)
		if tc.unix == 0 && !back.IsZero() || tc.unix != 0 && (back.Unix() != tc.unix || back.Location() != time.UTC) {
			t.Errorf("fromUnix(%d) = %v", tc.unix, back)
		}
	}
}

// TestPointReadEndedContext: the request path's point reads run without
// their context's cancellation on SQLite, but a context that has already
// ended still stops them before they start.
func TestPointReadEndedContext(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	live, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := s.IntegrationsVersion(live); err != nil {
		t.Fatalf("IntegrationsVersion with a live context: %v", err)
	}
	cancel()
	for name, read := range map[string]func(ctx context.Context) error{
		"IntegrationsVersion": func(ctx context.Context) error { _, err := s.IntegrationsVersion(ctx); return err },
		"GetUserByUsername":   func(ctx context.Context) error { _, err := s.GetUserByUsername(ctx, "alice"); return err },
		"FindBypassCode":      func(ctx context.Context) error { _, err := s.FindBypassCode(ctx, "DU1", []byte{1}); return err },
		"ListDevices":         func(ctx context.Context) error { _, err := s.ListDevices(ctx, "DU1"); return err },
	} {
		if err := read(live); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", name, err)
		}
	}
}

// Ready: a migrated database is ready; one whose newest migration is gone
// (restored from an older copy under a running server) is not; a closed
// one is not, and the failure is counted as a database error.
func TestReady(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("freshly migrated: %v", err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err == nil || !strings.Contains(err.Error(), "schema is at migration") {
		t.Errorf("a migration missing: %v", err)
	}
	before := s.Errors()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err == nil {
		t.Error("a closed store is ready")
	}
	if s.Errors() == before {
		t.Error("a failed ping is not counted")
	}
}

// Package sqlstore implements store.Store on database/sql with two dialects:
// SQLite (modernc.org/sqlite, pure Go) and PostgreSQL (pgx's database/sql
// adapter). Queries are written once with '?' placeholders and rebound to $N
// for PostgreSQL; the schema comes from embedded, numbered migrations applied
// when a Store is opened.
//
// Conventions shared by both dialects:
//   - Times are stored as unix seconds (sub-second precision is dropped) and
//     0 stands for the zero time.Time. Times are returned in UTC.
//   - Usernames are unique under the PRECIS comparison of package username
//     (case, width, Unicode normalisation): the normalised form is kept in
//     users.username_norm with a unique index, and lookups go through it.
//     CreateUser refuses, and GetUserByUsername does not find, a name that
//     is not valid. Opening the store recomputes the column when the rule
//     changed (settings.username_norm), giving users who no longer fit a
//     value nobody can type and logging a warning (see usernames.go).
//   - Create* methods report duplicates as store.ErrAlreadyExists without
//     failing the statement (INSERT … ON CONFLICT DO NOTHING), so inside InTx
//     the transaction stays usable afterwards on both engines.
//   - Update*/Delete* of a single row report a missing row as
//     store.ErrNotFound; DeleteBypassCodesForUser does not.
//   - CreateBypassCodes, CreateDevice and CreateActivation report an unknown
//     user, and CreateTransaction an unknown user or a device that is unknown
//     or not the transaction's user's, as store.ErrNotFound. They check
//     before inserting, so inside InTx the transaction stays usable
//     afterwards. A transaction may have an empty UserID (unknown user) and
//     an empty DeviceID (no device took part).
//   - DeleteUser deletes the user's bypass codes, devices, activations and
//     transactions; DeleteDevice the device's transactions (the foreign keys
//     cascade as well). Activations are not deleted with the device they
//     were used for.
//   - Integration.AllowedOrigins is kept space-separated in one column.
//   - IntegrationsVersion reads integrations_version, a one-row counter
//     that triggers on integrations (migration 0007) bump with every
//     INSERT, UPDATE or DELETE, in the changing transaction.
//   - GetUserAndBypassCode and GetUserAndDevices are one LEFT JOIN
//     outside a transaction; inside one, the two statements of GetUser*
//     and FindBypassCode or ListDevices, with their locks (PostgreSQL
//     cannot lock the nullable side of an outer join).
//   - On SQLite, the point reads of the request path (pointRead) run
//     without their context's cancellation once it is checked.
//   - TakeOnetime is one DELETE … RETURNING statement, so of concurrent
//     takers exactly one gets the token; PutOnetime purges expired tokens.
//   - DeleteExpiredActivations deletes unused activations (DeviceID empty)
//     whose Expires is set and not after now, as BypassCode.Expired counts
//     it; ListPendingTransactions returns TxPushed transactions whose
//     Expires is after now. Both compare in whole seconds.
//   - The Purge* methods delete at most limit rows per call with one
//     DELETE … WHERE key IN (SELECT key … LIMIT ?) statement, served by
//     indexes on the expiry or time columns (migration 0006).
//   - Any other error returned inside InTx should be returned from fn: on
//     PostgreSQL a failed statement aborts the transaction.
//
// SQLite: the file is opened in WAL mode with synchronous=NORMAL,
// foreign_keys=ON and a busy timeout, through two pools: a read pool of
// several query-only connections and a write pool of exactly one connection.
// InTx and every write method run on the write pool in BEGIN IMMEDIATE
// transactions, so writers in this process queue on the pool and writers in
// other processes (the assent CLI) wait on the busy timeout instead of
// failing with SQLITE_BUSY. Because there is one write connection, fn passed
// to InTx must not call write methods of the Store itself: it would wait for
// itself forever (the interface already says fn must only use its Queries).
//
// PostgreSQL: inside InTx, GetUser, GetUserByUsername, FindBypassCode,
// GetDevice, GetActivation and GetTransaction use SELECT … FOR UPDATE, so
// concurrent read-modify-writes of one user, device, activation code or
// push serialize.
//
// The guarded writes of store.GuardedQueries (writepath.go) are single
// statements whose WHERE clause holds what the caller read; a row changed
// in between is left alone and reported as store.ErrConflict. They lock
// only the rows they change (PostgreSQL), and on SQLite they keep the
// single writer's share of a decision to a few statements.
// Migrations run under pg_advisory_xact_lock, so several nodes may start at
// once.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/assent-auth/assent/internal/store"
)

// Dialect names returned by (*Store).Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Store is a store.Store backed by SQLite or PostgreSQL.
type Store struct {
	d  *dialect
	r  *sql.DB  // reads outside transactions
	w  *sql.DB  // writes and transactions; the same pool as r for PostgreSQL
	rq *queries // reads outside transactions, bound to r
	// pq: the point reads of the request path (one row, or one user's
	// few rows, by index) outside transactions. On SQLite they run to
	// completion whatever the caller's context does (see pointRead);
	// on PostgreSQL pq is rq.
	pq *queries
	aq *queries // PostgreSQL only: single-statement writes in autocommit, bound to w

	// SQLite only.
	rst       *stmtCache     // prepared statements on the read pool
	wst       *stmtCache     // prepared statements on the write connection
	wreqs     chan *writeReq // transactions waiting for the writer goroutine, in order
	wdone     chan struct{}  // closed when the writer goroutine has returned
	ck        *sql.DB        // checkpoint connection
	writes    atomic.Uint64  // committed write transactions, for the checkpointer
	stop      chan struct{}  // closed by Close to stop the checkpointer
	done      chan struct{}  // closed when the checkpointer has returned
	closeOnce sync.Once

	log *slog.Logger // what opening the store did to the data
	// existingOnly: migrate refuses a database without schema (ExistingOnly).
	existingOnly bool

	// errs counts failed statements, transactions and pings (Errors).
	errs atomic.Uint64
}

// Errors is how many statements, transaction begins and commits, and
// pings failed since the store was opened, other than constraint
// violations and canceled contexts: the database errors of the metrics.
func (s *Store) Errors() uint64 { return s.errs.Load() }

// checkpointInterval is how often the background checkpointer of a SQLite
// store runs PRAGMA wal_checkpoint(PASSIVE) when something was written.
const checkpointInterval = 200 * time.Millisecond

var _ store.Store = (*Store)(nil)

// Option tunes Open.
type Option func(*options)

type options struct {
	busyTimeout  time.Duration
	readConns    int
	maxConns     int
	logger       *slog.Logger
	existingOnly bool
}

// ExistingOnly refuses a database without Assent's schema (ErrNoSchema)
// instead of creating it: administration commands open an installation,
// they never create one by accident.
func ExistingOnly() Option { return func(o *options) { o.existingOnly = true } }

func defaultOptions() options {
	return options{
		busyTimeout: 10 * time.Second,
		readConns:   max(4, runtime.GOMAXPROCS(0)),
		maxConns:    20,
		logger:      slog.New(slog.DiscardHandler),
	}
}

// WithLogger sets where the store reports what it did to the data when it
// was opened (e.g. usernames that collide under a new comparison rule).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithBusyTimeout sets how long a SQLite connection waits for a lock held by
// another connection or process before failing with SQLITE_BUSY (default
// 10 s). Ignored for PostgreSQL.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

// WithReadConns sets the size of the SQLite read pool (default: the larger of
// 4 and GOMAXPROCS). Ignored for PostgreSQL.
func WithReadConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readConns = n
		}
	}
}

// WithMaxConns sets the maximum number of open PostgreSQL connections
// (default 20). Ignored for SQLite, whose write pool always has exactly one.
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// Open opens the database named by dsn and applies pending migrations.
//
// dsn is either a PostgreSQL URL ("postgres://…" or "postgresql://…", passed
// to pgx unchanged) or a SQLite database file: a plain path, "sqlite:PATH" or
// "sqlite://PATH" (so "sqlite:///var/lib/assent/assent.db" is absolute). A
// SQLite path is taken literally; it cannot carry driver parameters.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	if d, path := SplitDSN(dsn); d == DialectSQLite {
		return OpenSQLite(ctx, path, opts...)
	}
	return OpenPostgres(ctx, dsn, opts...)
}

// OpenSQLite opens (creating if needed, with mode 0600 and missing parent
// directories with mode 0700) the SQLite database file at path and applies
// pending migrations.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case path == "":
		return nil, errors.New("sqlstore: open sqlite: empty database path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlstore: open sqlite: %q: need a database file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: create directory: %w", err)
	}
	// Create the file ourselves so that it (and, following it, the -wal and
	// -shm files SQLite creates) is private to the owner.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}

	uri := sqliteURI(abs)
	common := fmt.Sprintf("_busy_timeout=%d&_foreign_keys=1&_synchronous=NORMAL", o.busyTimeout.Milliseconds())
	// Automatic checkpoints are off on the write connection: they would run
	// inside the COMMIT of whichever request crosses the threshold. A
	// background goroutine checkpoints instead (see checkpointer).
	w, err := sql.Open("sqlite", uri+"?"+common+"&_journal_mode=WAL&_txlock=immediate&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{d: sqliteDialect, w: w, log: o.logger, existingOnly: o.existingOnly}
	if err := s.migrateSQLite(ctx, o.busyTimeout); err != nil {
		w.Close()
		return nil, err
	}

	// Opened after migrating, so the file is already in WAL mode (which is
	// persistent) and read connections never need to write it.
	r, err := sql.Open("sqlite", uri+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	r.SetMaxOpenConns(o.readConns)
	r.SetMaxIdleConns(o.readConns)
	r.SetConnMaxIdleTime(5 * time.Minute)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	ck, err := sql.Open("sqlite", uri+"?"+common)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxIdleTime(time.Minute)
	s.r = r
	s.rst = newStmtCache(r, false)
	s.wst = newStmtCache(w, true)
	s.rq = &queries{db: r, d: s.d, stmts: s.rst, errs: &s.errs}
	s.pq = &queries{db: r, d: s.d, stmts: s.rst, noCancel: true, errs: &s.errs}
	s.wreqs = make(chan *writeReq, maxBatch)
	s.ck = ck
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	s.wdone = make(chan struct{})
	go s.checkpointer()
	go s.writer()
	return s, nil
}

// checkpointer copies the WAL back into the database file off the request
// path: every checkpointInterval, if this store committed anything since the
// last run, it runs PRAGMA wal_checkpoint(PASSIVE) on its own connection
// (which neither waits for nor blocks writers and readers). Durability is
// unchanged: commits are in the WAL (synchronous=NORMAL) either way. Other
// processes (the CLI) checkpoint their own writes when they close.
func (s *Store) checkpointer() {
	defer close(s.done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		n := s.writes.Load()
		if n == seen {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := s.ck.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		cancel()
		if err == nil {
			seen = n
		}
	}
}

// sqliteURI turns an absolute path into a "file:" URI, percent-escaping the
// path so that characters such as '?' and '#' stay part of the file name.
func sqliteURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: C:/x → /C:/x
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath()
}

// OpenPostgres connects to the PostgreSQL database at url (any form pgx
// accepts, normally "postgres://user:pass@host:port/db?sslmode=…") and
// applies pending migrations.
func OpenPostgres(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(min(o.maxConns, 10))
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	s := &Store{d: postgresDialect, r: db, w: db, log: o.logger, existingOnly: o.existingOnly}
	s.rq = &queries{db: db, d: s.d, errs: &s.errs}
	s.pq = s.rq
	s.aq = s.rq
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.d.name }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		s.countErr(err)
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	if s.w != s.r {
		if err := s.w.PingContext(ctx); err != nil {
			s.countErr(err)
			return fmt.Errorf("sqlstore: ping: %w", err)
		}
	}
	return nil
}

// countErr counts a failure outside a statement (begin, commit, ping).
func (s *Store) countErr(err error) { (&queries{errs: &s.errs}).failed(err) }

// Close closes every connection.
func (s *Store) Close() error {
	var errs []error
	if s.ck != nil {
		s.closeOnce.Do(func() {
			close(s.stop)
			<-s.done
			<-s.wdone
			errs = append(errs, s.ck.Close(), s.rst.close(), s.wst.close())
		})
	}
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// InTx runs fn in one transaction (BEGIN IMMEDIATE on SQLite) and commits if
// fn returns nil. If fn returns an error or panics, the transaction is rolled
// back and the error (unchanged) or panic is passed on.
func (s *Store) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	return s.inTx(ctx, func(q *queries) error { return fn(q) })
}

func (s *Store) inTx(ctx context.Context, fn func(q *queries) error) (err error) {
	if s.wreqs != nil {
		return s.inBatch(ctx, fn)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		s.countErr(err)
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// Runs on error and on panic; the panic keeps unwinding.
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && err != nil {
			err = errors.Join(err, fmt.Errorf("sqlstore: rollback: %w", rbErr))
		}
	}()
	if err := fn(&queries{db: tx, d: s.d, tx: true, errs: &s.errs}); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		s.countErr(err)
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// write runs a write method: in autocommit on PostgreSQL when it is a single
// statement, otherwise in its own transaction (BEGIN IMMEDIATE on SQLite).
func (s *Store) write(ctx context.Context, single bool, fn func(q *queries) error) error {
	if single && s.aq != nil {
		return fn(s.aq)
	}
	return s.inTx(ctx, fn)
}

// Reads outside transactions use the read pool.
//
// The point reads every request makes (integrations version, user, bypass
// code, devices, …) go through pointRead. On SQLite such a read takes
// microseconds and never waits for a lock (WAL readers), while a context
// that can be canceled costs, on each statement, a goroutine of
// database/sql watching it for the rows and another of the driver
// watching it to interrupt the statement, plus their channels: about a
// fifth of a passcode request's allocations. So pointRead checks the
// context once and runs the statement without its cancellation. Longer
// reads (lists of users, the auth log) keep it. On PostgreSQL, where a
// read crosses the network, every read keeps the caller's context.

// pointRead returns the queries for a point read, or ctx's error if it has
// already ended.
func (s *Store) pointRead(ctx context.Context) (*queries, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return s.pq, nil
}

func (s *Store) GetIntegration(ctx context.Context, ikey string) (store.Integration, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.Integration{}, err
	}
	return q.GetIntegration(ctx, ikey)
}

func (s *Store) IntegrationsVersion(ctx context.Context) (int64, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return 0, err
	}
	return q.IntegrationsVersion(ctx)
}

func (s *Store) ListIntegrations(ctx context.Context) ([]store.Integration, error) {
	return s.rq.ListIntegrations(ctx)
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.User{}, err
	}
	return q.GetUser(ctx, id)
}

func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.User{}, err
	}
	return q.GetUserByUsername(ctx, username)
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return s.rq.ListUsers(ctx)
}

func (s *Store) ListBypassCodes(ctx context.Context, userID string) ([]store.BypassCode, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return nil, err
	}
	return q.ListBypassCodes(ctx, userID)
}

func (s *Store) FindBypassCode(ctx context.Context, userID string, hash []byte) (store.BypassCode, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.BypassCode{}, err
	}
	return q.FindBypassCode(ctx, userID, hash)
}

func (s *Store) GetUserAndBypassCode(ctx context.Context, username, userID string, hash []byte) (store.User, store.BypassCode, bool, bool, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.User{}, store.BypassCode{}, false, false, err
	}
	return q.GetUserAndBypassCode(ctx, username, userID, hash)
}

func (s *Store) ListAuthLog(ctx context.Context, f store.AuthLogFilter) ([]store.AuthLog, error) {
	return s.rq.ListAuthLog(ctx, f)
}

func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return "", err
	}
	return q.GetSetting(ctx, key)
}

func (s *Store) GetDevice(ctx context.Context, id string) (store.Device, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.Device{}, err
	}
	return q.GetDevice(ctx, id)
}

func (s *Store) GetUserAndDevices(ctx context.Context, username, userID string) (store.User, []store.Device, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.User{}, nil, err
	}
	return q.GetUserAndDevices(ctx, username, userID)
}

func (s *Store) ListDevices(ctx context.Context, userID string) ([]store.Device, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return nil, err
	}
	return q.ListDevices(ctx, userID)
}

func (s *Store) GetActivation(ctx context.Context, codeHash []byte) (store.Activation, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.Activation{}, err
	}
	return q.GetActivation(ctx, codeHash)
}

func (s *Store) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.Transaction{}, err
	}
	return q.GetTransaction(ctx, id)
}

func (s *Store) ListPendingTransactions(ctx context.Context, deviceID string, now time.Time) ([]store.Transaction, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return nil, err
	}
	return q.ListPendingTransactions(ctx, deviceID, now)
}

// Writes go through the write pool.

func (s *Store) CreateIntegration(ctx context.Context, in store.Integration) error {
	return s.write(ctx, true, func(q *queries) error { return q.CreateIntegration(ctx, in) })
}

func (s *Store) DeleteIntegration(ctx context.Context, ikey string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteIntegration(ctx, ikey) })
}

func (s *Store) UpdateIntegration(ctx context.Context, in store.Integration) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateIntegration(ctx, in) })
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.write(ctx, true, func(q *queries) error { return q.CreateUser(ctx, u) })
}

func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateUser(ctx, u) })
}

func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.write(ctx, false, func(q *queries) error { return q.DeleteUser(ctx, id) })
}

func (s *Store) CreateBypassCodes(ctx context.Context, codes []store.BypassCode) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreateBypassCodes(ctx, codes) })
}

func (s *Store) UpdateBypassCode(ctx context.Context, c store.BypassCode) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateBypassCode(ctx, c) })
}

func (s *Store) DeleteBypassCode(ctx context.Context, id string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteBypassCode(ctx, id) })
}

func (s *Store) DeleteBypassCodesForUser(ctx context.Context, userID string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteBypassCodesForUser(ctx, userID) })
}

func (s *Store) AppendAuthLog(ctx context.Context, l *store.AuthLog) error {
	if l == nil {
		return errors.New("sqlstore: append auth log: nil entry")
	}
	// Work on a copy so that l.ID is set only once the row is committed.
	c := *l
	if err := s.write(ctx, false, func(q *queries) error { return q.AppendAuthLog(ctx, &c) }); err != nil {
		return err
	}
	l.ID, l.Time = c.ID, c.Time
	return nil
}

func (s *Store) CreateDevice(ctx context.Context, d store.Device) error {
	return s.write(ctx, true, func(q *queries) error { return q.CreateDevice(ctx, d) })
}

func (s *Store) UpdateDevice(ctx context.Context, d store.Device) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateDevice(ctx, d) })
}

func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.write(ctx, false, func(q *queries) error { return q.DeleteDevice(ctx, id) })
}

func (s *Store) CreateActivation(ctx context.Context, a store.Activation) error {
	return s.write(ctx, true, func(q *queries) error { return q.CreateActivation(ctx, a) })
}

func (s *Store) UpdateActivation(ctx context.Context, a store.Activation) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateActivation(ctx, a) })
}

func (s *Store) DeleteExpiredActivations(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, true, func(q *queries) error {
		var err error
		n, err = q.DeleteExpiredActivations(ctx, now)
		return err
	})
	return n, err
}

func (s *Store) CreateTransaction(ctx context.Context, t store.Transaction) error {
	return s.write(ctx, true, func(q *queries) error { return q.CreateTransaction(ctx, t) })
}

func (s *Store) UpdateTransaction(ctx context.Context, t store.Transaction) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateTransaction(ctx, t) })
}

func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	return s.write(ctx, true, func(q *queries) error { return q.PutSetting(ctx, key, value) })
}

// migrateSQLite migrates, retrying while another process holds the file.
// Opening a new file switches it to WAL, which needs an exclusive lock; a
// process opening the same file at that moment gets SQLITE_BUSY without the
// busy handler being consulted, so the busy timeout alone does not cover it.
func (s *Store) migrateSQLite(ctx context.Context, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := s.migrate(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

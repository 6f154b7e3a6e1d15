package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Copying a whole installation between databases (assent migrate-data,
// assent restore into PostgreSQL, assent backup of PostgreSQL) copies every
// row of every table, column by column, as the database holds it: sealed
// secrets stay sealed with the same master key, ids, counters, hashes and
// times are unchanged, so no application and no device notices the move.
//
// copyTables lists every table that holds data, parents before the tables
// whose foreign keys name them, so rows can be inserted in this order and
// deleted in the reverse one. A table added by a migration must be added
// here (or to bookkeepingTables): Copy refuses a database holding a table it
// does not know, and TestCopyCoversEveryTable fails.
var copyTables = []string{
	"integrations",
	"users",
	"user_groups",
	"user_group_members",
	"directories",
	"directory_users",
	"directory_groups",
	"user_aliases",
	"bypass_codes",
	"devices",
	"pending_phones",
	"sms_passcodes",
	"activations",
	"transactions",
	"webpush_subscriptions",
	"tokens",
	"webauthn_credentials",
	"user_last_method",
	"onetime_tokens",
	"settings",
	"auth_log",
	"admin_log",
	"admins",
	"admin_sessions",
	"user_sessions",
	"user_default_method",
	"admin_webauthn_credentials",
	"policies",
	"telephony_log",
	"phone_proofs",
}

// bookkeepingTables are kept by the schema itself rather than copied:
// schema_migrations is the target's own (both sides must be at the same
// version), integrations_version is moved past both sides' counters (so a
// node caching integrations rereads them) and log_clock is raised to the
// greater of both clocks.
var bookkeepingTables = []string{"schema_migrations", "integrations_version", "log_clock"}

// freshSettings are the settings a newly migrated database already holds;
// a target holding only these counts as empty.
var freshSettings = []string{"username_norm"}

// identityTables have a PostgreSQL identity column id whose sequence must
// continue after the greatest copied id.
var identityTables = []string{"auth_log", "admin_log", "telephony_log"}

// copyBatch is the number of rows per INSERT statement.
const copyBatch = 200

// ErrTargetNotEmpty is returned by Copy when the target holds data and
// CopyOptions.Force is not set.
var ErrTargetNotEmpty = errors.New("target database is not empty")

// CopyOptions tunes Copy.
type CopyOptions struct {
	// Force deletes whatever the target holds before copying.
	Force bool
	// Progress, if set, is called after each table is copied.
	Progress func(table string, rows int64)
}

// TableCount is the number of rows of one table.
type TableCount struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// Copy copies every row of src into dst in one transaction of dst, reading
// src in one consistent snapshot (a read transaction on SQLite, REPEATABLE
// READ on PostgreSQL), so src may be in use meanwhile. Both stores must be
// open (so both are migrated) and at the same schema version. dst must be
// empty (no rows except what its migrations put there) unless opts.Force is
// set, which deletes its rows first. After copying, the row counts of
// every table are compared inside the same transaction; on any difference
// nothing is committed. It returns the counts.
func Copy(ctx context.Context, dst, src *Store, opts CopyOptions) ([]TableCount, error) {
	if err := checkSameSchema(ctx, dst, src); err != nil {
		return nil, err
	}
	for _, s := range []*Store{src, dst} {
		if err := checkKnownTables(ctx, s); err != nil {
			return nil, err
		}
	}
	txOpts := &sql.TxOptions{ReadOnly: true}
	if src.d.postgres {
		txOpts.Isolation = sql.LevelRepeatableRead
	}
	stx, err := src.r.BeginTx(ctx, txOpts)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: copy: read source: %w", err)
	}
	defer func() { _ = stx.Rollback() }()
	sq := &queries{db: stx, d: src.d, tx: true}

	// The counts are read first, in the snapshot, so they are what is copied.
	srcCounts, err := countRows(ctx, sq)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: copy: count source rows: %w", err)
	}
	var counts []TableCount
	err = dst.inTx(ctx, func(tq *queries) error {
		// Without the statement cache: these statements are one-off.
		q := &queries{db: tq.db, d: tq.d, tx: true}
		if err := prepareTarget(ctx, q, opts.Force); err != nil {
			return err
		}
		for _, table := range copyTables {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := copyTable(ctx, q, sq, table)
			if err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			if opts.Progress != nil {
				opts.Progress(table, n)
			}
		}
		if err := copyBookkeeping(ctx, q, sq); err != nil {
			return err
		}
		dstCounts, err := countRows(ctx, q)
		if err != nil {
			return fmt.Errorf("count copied rows: %w", err)
		}
		var diffs []string
		for i, c := range srcCounts {
			if dstCounts[i].Rows != c.Rows {
				diffs = append(diffs, fmt.Sprintf("%s: %d in the source, %d copied", c.Table, c.Rows, dstCounts[i].Rows))
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("row counts differ, nothing copied: %s", strings.Join(diffs, "; "))
		}
		counts = dstCounts
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: copy to %s: %w", dst.d.name, err)
	}
	return counts, nil
}

// SchemaVersion returns the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version (%s): %w", s.d.name, err)
	}
	return v, nil
}

// CountRows counts the rows of every table Copy copies, in the order it
// copies them.
func (s *Store) CountRows(ctx context.Context) ([]TableCount, error) {
	c, err := countRows(ctx, s.rq)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count rows: %w", err)
	}
	return c, nil
}

// SplitDSN tells which engine a DSN as Open takes it names, and for SQLite
// the database file's path.
func SplitDSN(dsn string) (dialect, path string) {
	lower := strings.ToLower(dsn)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return DialectPostgres, ""
	case strings.HasPrefix(lower, "sqlite://"):
		return DialectSQLite, dsn[len("sqlite://"):]
	case strings.HasPrefix(lower, "sqlite:"):
		return DialectSQLite, dsn[len("sqlite:"):]
	}
	return DialectSQLite, dsn
}

// checkSameSchema refuses stores at different schema versions.
func checkSameSchema(ctx context.Context, dst, src *Store) error {
	var vs [2]int64
	for i, s := range []*Store{dst, src} {
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: copy: %w", err)
		}
		vs[i] = v
	}
	if vs[0] != vs[1] {
		return fmt.Errorf("sqlstore: copy: source schema version %d differs from target's %d", vs[1], vs[0])
	}
	return nil
}

// Tables returns the names of the tables of the database, sorted.
func (s *Store) Tables(ctx context.Context) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	if s.d.postgres {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := s.r.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tables: %w", err)
	}
	names, err := collect(rows, func(r scanner) (string, error) {
		var n string
		return n, r.Scan(&n)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tables: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// checkKnownTables refuses a database holding a table Copy would not copy.
func checkKnownTables(ctx context.Context, s *Store) error {
	names, err := s.Tables(ctx)
	if err != nil {
		return err
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(copyTables, n) && !slices.Contains(bookkeepingTables, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("sqlstore: copy: the %s database has tables this program cannot copy: %s",
			s.d.name, strings.Join(unknown, ", "))
	}
	return nil
}

// countRows counts the rows of every copied table, in copyTables order.
func countRows(ctx context.Context, q *queries) ([]TableCount, error) {
	out := make([]TableCount, 0, len(copyTables))
	for _, t := range copyTables {
		var n int64
		if err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		out = append(out, TableCount{Table: t, Rows: n})
	}
	return out, nil
}

// prepareTarget refuses a target holding data, or with force deletes it.
func prepareTarget(ctx context.Context, q *queries, force bool) error {
	if force {
		for _, t := range slices.Backward(copyTables) {
			if _, err := q.db.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("empty %s: %w", t, err)
			}
		}
		return nil
	}
	var full []string
	for _, t := range copyTables {
		query := `SELECT COUNT(*) FROM ` + t
		if t == "settings" {
			query += ` WHERE key NOT IN ('` + strings.Join(freshSettings, "', '") + `')`
		}
		var n int64
		if err := q.db.QueryRowContext(ctx, query).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", t, err)
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s (%d rows)", t, n))
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s", ErrTargetNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// copyTable copies every row of table from sq to q in batches and returns
// how many it copied.
func copyTable(ctx context.Context, q, sq *queries, table string) (int64, error) {
	rows, err := sq.db.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	kinds, err := targetColumns(ctx, q, table, cols)
	if err != nil {
		return 0, err
	}
	row := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range row {
		ptrs[i] = &row[i]
	}
	var (
		args []any
		n    int64
		in   int
	)
	flush := func() error {
		if in == 0 {
			return nil
		}
		query := insertSQL(table, cols, in)
		if _, err := q.db.ExecContext(ctx, q.d.rebind(query), args...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		args, in = args[:0], 0
		return nil
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("read: %w", err)
		}
		for i, v := range row {
			args = append(args, convertValue(v, kinds[i]))
		}
		in++
		n++
		if in == copyBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read: %w", err)
	}
	return n, flush()
}

// targetColumns checks that the target's table has exactly cols and
// reports which of them hold bytes and which accept NULL.
func targetColumns(ctx context.Context, q *queries, table string, cols []string) ([]colKind, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return nil, fmt.Errorf("read target columns: %w", err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("read target columns: %w", err)
	}
	byName := map[string]string{}
	for _, ct := range types {
		byName[ct.Name()] = strings.ToUpper(ct.DatabaseTypeName())
	}
	if len(byName) != len(cols) {
		return nil, fmt.Errorf("source has %d columns, target %d", len(cols), len(byName))
	}
	nullable, err := nullableColumns(ctx, q, table)
	if err != nil {
		return nil, fmt.Errorf("read target columns: %w", err)
	}
	kinds := make([]colKind, len(cols))
	for i, c := range cols {
		typ, ok := byName[c]
		if !ok {
			return nil, fmt.Errorf("target has no column %s", c)
		}
		kinds[i] = colKind{blob: typ == "BLOB" || typ == "BYTEA", nullable: nullable[c]}
	}
	return kinds, nil
}

// colKind is what convertValue needs to know of a target column.
type colKind struct{ blob, nullable bool }

// nullableColumns lists the columns of table that accept NULL.
func nullableColumns(ctx context.Context, q *queries, table string) (map[string]bool, error) {
	query := `SELECT name, "notnull" = 0 FROM pragma_table_info(?)`
	if q.d.postgres {
		query = `SELECT column_name, is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`
	}
	rows, err := q.db.QueryContext(ctx, q.d.rebind(query), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var (
			name string
			null bool
		)
		if err := rows.Scan(&name, &null); err != nil {
			return nil, err
		}
		out[name] = null
	}
	return out, rows.Err()
}

// convertValue adapts a value read from one engine for the other: an empty
// BLOB is read as a nil []byte, which NOT NULL columns refuse (a nullable
// column keeps NULL), and text read into a byte column is kept as bytes.
func convertValue(v any, k colKind) any {
	if !k.blob {
		if b, ok := v.([]byte); ok {
			return string(b)
		}
		return v
	}
	switch x := v.(type) {
	case nil:
		if k.nullable {
			return nil
		}
		return []byte{}
	case []byte:
		return blob(x)
	case string:
		return []byte(x)
	}
	return v
}

// insertSQL is INSERT INTO table (cols) VALUES (?, …), … for n rows;
// settings are upserted (a migrated database already holds some).
func insertSQL(table string, cols []string, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(") VALUES ")
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	if table == "settings" {
		b.WriteString(" ON CONFLICT (key) DO UPDATE SET value = excluded.value")
	}
	return b.String()
}

// copyBookkeeping moves the integrations version past both sides', raises
// the log clocks and, on PostgreSQL, sets the identity sequences after the
// greatest copied ids.
func copyBookkeeping(ctx context.Context, q, sq *queries) error {
	var n int64
	if err := sq.db.QueryRowContext(ctx, `SELECT n FROM integrations_version WHERE id = 1`).Scan(&n); err != nil {
		return fmt.Errorf("read integrations_version: %w", err)
	}
	if _, err := q.db.ExecContext(ctx, q.d.rebind(`UPDATE integrations_version SET n = n + ? WHERE id = 1`), n); err != nil {
		return fmt.Errorf("update integrations_version: %w", err)
	}
	rows, err := sq.db.QueryContext(ctx, `SELECT id, t FROM log_clock`)
	if err != nil {
		return fmt.Errorf("read log_clock: %w", err)
	}
	type clock struct{ id, t int64 }
	clocks, err := collect(rows, func(r scanner) (clock, error) {
		var c clock
		return c, r.Scan(&c.id, &c.t)
	})
	if err != nil {
		return fmt.Errorf("read log_clock: %w", err)
	}
	for _, c := range clocks {
		if _, err := q.db.ExecContext(ctx, q.d.rebind(`UPDATE log_clock SET t = ? WHERE id = ? AND t < ?`), c.t, c.id, c.t); err != nil {
			return fmt.Errorf("update log_clock: %w", err)
		}
	}
	q.authClockKnown = false
	if q.d.postgres {
		for _, t := range identityTables {
			if _, err := q.db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t+`', 'id'), COALESCE((SELECT MAX(id) FROM `+t+`), 0) + 1, false)`); err != nil {
				return fmt.Errorf("set %s id sequence: %w", t, err)
			}
		}
	}
	return nil
}

// WriteSnapshot writes a consistent copy of the whole database, taken while
// it may be in use, to a new SQLite database file at path (which must not
// exist). On SQLite it is VACUUM INTO; on PostgreSQL a Copy into a new
// SQLite database, in one REPEATABLE READ snapshot. The copy is migrated to
// this program's schema and can be opened with OpenSQLite.
func (s *Store) WriteSnapshot(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("sqlstore: snapshot: %s already exists", path)
	}
	if !s.d.postgres {
		// On the checkpoint connection: the read pool is query-only,
		// which VACUUM INTO refuses. It reads in one transaction, so
		// writers go on meanwhile and the copy is of one moment.
		if _, err := s.ck.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
			return fmt.Errorf("sqlstore: snapshot: %w", err)
		}
		return os.Chmod(path, 0o600)
	}
	dst, err := OpenSQLite(ctx, path)
	if err != nil {
		return fmt.Errorf("sqlstore: snapshot: %w", err)
	}
	_, err = Copy(ctx, dst, s, CopyOptions{})
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("sqlstore: snapshot: %w", err)
	}
	return nil
}

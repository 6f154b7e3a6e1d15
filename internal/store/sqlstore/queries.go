package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/assent-auth/assent/internal/store"
)

// execer is what *sql.DB and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries on a pool or on one transaction.
type queries struct {
	db execer
	d  *dialect
	tx bool // bound to a transaction

	// SQLite only: prepared statements reused across calls. On the read
	// pool, stmts holds statements prepared on it; in a write transaction,
	// stmts holds statements prepared on the write pool and sqlTx is the
	// transaction they are bound to.
	stmts *stmtCache
	sqlTx *sql.Tx
	// txStmts: the statements of stmts bound to sqlTx so far, reused by
	// every transaction of a group-commit batch (database/sql allocates a
	// new bound statement on each Tx.StmtContext).
	txStmts map[string]*sql.Stmt
	// noCancel: run statements to completion even if the caller's context
	// ends (group commit, see groupcommit.go; SQLite's point reads, see
	// Store.pointRead).
	noCancel bool
	// errs counts failed statements (Store.Errors); nil counts nothing.
	errs *atomic.Uint64

	// SQLite, in a write transaction: the auth log's clock as this
	// transaction last read or wrote it, if authClockKnown. No other
	// writer can change it before the commit (one connection holds the
	// database's write lock from BEGIN IMMEDIATE), so each auth-log row's
	// stamp is computed here rather than read by a subquery and returned
	// by RETURNING in every INSERT (a third of the row's cost on the
	// single writer). A ROLLBACK TO forgets it (groupcommit.go).
	authClock      int64
	authClockKnown bool
}

// failed counts err, a statement's error, unless it is none or the
// caller's context ending (a client gone, not a database problem).
func (q *queries) failed(err error) {
	if err != nil && q.errs != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		q.errs.Add(1)
	}
}

// maxCachedStmts bounds a stmtCache; queries beyond it run unprepared.
const maxCachedStmts = 128

// stmtCache keeps one *sql.Stmt per query text, so SQLite compiles each
// query once per connection instead of on every call.
type stmtCache struct {
	db   *sql.DB
	lazy bool // write pool: prepare only through prepareWanted, outside a transaction

	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]struct{}
}

func newStmtCache(db *sql.DB, lazy bool) *stmtCache {
	return &stmtCache{db: db, lazy: lazy, m: make(map[string]*sql.Stmt), wanted: make(map[string]struct{})}
}

// get returns the statement for query, preparing it now unless the cache is
// lazy (the single write connection is then held by the caller's
// transaction: the query is noted for prepareWanted and nil returned).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxCachedStmts
	if !ok && !full && c.lazy {
		c.wanted[query] = struct{}{}
	}
	c.mu.Unlock()
	if ok || full || c.lazy {
		return st
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the caller runs it unprepared and reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

// prepareWanted prepares the queries get noted, while the write connection
// is free; errors leave the query unprepared.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for query := range c.wanted {
		delete(c.wanted, query)
		if _, ok := c.m[query]; ok || len(c.m) >= maxCachedStmts {
			continue
		}
		if st, err := c.db.PrepareContext(ctx, query); err == nil {
			c.m[query] = st
		}
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for query, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, query)
	}
	return errors.Join(errs...)
}

// stmt returns the cached prepared statement for query bound to q's pool or
// transaction, or nil to run query unprepared.
func (q *queries) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.stmts == nil {
		return nil
	}
	if q.sqlTx != nil && q.txStmts != nil {
		if st, ok := q.txStmts[query]; ok {
			return st
		}
	}
	st := q.stmts.get(ctx, query)
	if st == nil || q.sqlTx == nil {
		return st
	}
	st = q.sqlTx.StmtContext(ctx, st)
	if q.txStmts != nil {
		q.txStmts[query] = st
	}
	return st
}

var _ store.Queries = (*queries)(nil)

// ctx returns the context to run a statement with: without ctx's
// cancellation when q.noCancel is set (and ctx can be canceled at all).
func (q *queries) ctx(ctx context.Context) context.Context {
	if q.noCancel && ctx.Done() != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	ctx = q.ctx(ctx)
	if st := q.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = q.db.ExecContext(ctx, q.d.rebind(query), args...)
	}
	if err != nil && !isConstraint(err) {
		q.failed(err)
	}
	return res, err
}

func (q *queries) query(ctx context.Context, query string, args ...any) (rows *sql.Rows, err error) {
	ctx = q.ctx(ctx)
	if st := q.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = q.db.QueryContext(ctx, q.d.rebind(query), args...)
	}
	q.failed(err)
	return rows, err
}

func (q *queries) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = q.ctx(ctx)
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.db.QueryRowContext(ctx, q.d.rebind(query), args...)
}

// forUpdate locks the selected rows until the end of the transaction on
// engines that lock rows. SQLite needs nothing: its transactions here are
// BEGIN IMMEDIATE on a single connection, so they already run one at a time.
func (q *queries) forUpdate() string {
	if q.tx && q.d.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// affected returns the number of rows a statement changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Integrations.

const integrationCols = `ikey, name, type, secret_enc, new_user_policy, created, allowed_origins, legacy_signatures, grants, verified_push, username_normalization_policy`

// integrationReadCols adds what CreateIntegration never writes (rotation).
const integrationReadCols = integrationCols + `, prev_secret_enc, prev_secret_expires`

func scanIntegration(r scanner) (store.Integration, error) {
	var (
		in          store.Integration
		typ, policy string
		secret      []byte
		created     int64
		origins     string
		legacy      int64
		grants      string
		prev        []byte
		prevExpires int64
		verified    int64
	)
	if err := r.Scan(&in.IKey, &in.Name, &typ, &secret, &policy, &created, &origins, &legacy,
		&grants, &verified, &in.UsernameNormalization, &prev, &prevExpires); err != nil {
		return store.Integration{}, err
	}
	if grants != "" {
		in.Grants = strings.Fields(grants)
	}
	if len(prev) > 0 {
		in.PrevSecretEnc = prev
		in.PrevSecretExpires = fromUnix(prevExpires)
	}
	if origins != "" {
		in.AllowedOrigins = strings.Fields(origins)
	}
	in.Type = store.IntegrationType(typ)
	in.SecretEnc = secret
	in.NewUserPolicy = store.NewUserPolicy(policy)
	in.Created = fromUnix(created)
	in.LegacySignatures = legacy != 0
	in.VerifiedPush = int(verified)
	return in, nil
}

func (q *queries) CreateIntegration(ctx context.Context, in store.Integration) error {
	res, err := q.exec(ctx,
		`INSERT INTO integrations (`+integrationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		in.IKey, in.Name, string(in.Type), blob(in.SecretEnc), string(in.NewUserPolicy), toUnix(in.Created),
		strings.Join(in.AllowedOrigins, " "), flag(in.LegacySignatures), strings.Join(in.Grants, " "), int64(in.VerifiedPush),
		cmp.Or(in.UsernameNormalization, "none"))
	if err != nil {
		return fmt.Errorf("sqlstore: create integration %s: %w", in.IKey, mapErr(err))
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: create integration %s: %w", in.IKey, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: create integration %s: %w", in.IKey, store.ErrAlreadyExists)
	}
	return nil
}

func (q *queries) GetIntegration(ctx context.Context, ikey string) (store.Integration, error) {
	in, err := scanIntegration(q.queryRow(ctx,
		`SELECT `+integrationReadCols+` FROM integrations WHERE ikey = ?`, ikey))
	if err != nil {
		return store.Integration{}, fmt.Errorf("sqlstore: get integration %s: %w", ikey, mapErr(err))
	}
	if in.Policies, err = q.integrationPolicies(ctx, ikey); err != nil {
		return store.Integration{}, err
	}
	return in, nil
}

func (q *queries) ListIntegrations(ctx context.Context) ([]store.Integration, error) {
	rows, err := q.query(ctx,
		`SELECT `+integrationReadCols+` FROM integrations ORDER BY created, ikey`+q.d.binary)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list integrations: %w", err)
	}
	out, err := collect(rows, scanIntegration)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list integrations: %w", err)
	}
	policies, err := q.ListPolicies(ctx)
	if err != nil {
		return nil, err
	}
	withPolicies(out, policies)
	return out, nil
}

func (q *queries) UpdateIntegration(ctx context.Context, in store.Integration) error {
	res, err := q.exec(ctx,
		`UPDATE integrations SET name = ?, new_user_policy = ?, allowed_origins = ?, legacy_signatures = ?, verified_push = ?,
		 username_normalization_policy = ? WHERE ikey = ?`,
		in.Name, string(in.NewUserPolicy), strings.Join(in.AllowedOrigins, " "), flag(in.LegacySignatures),
		int64(in.VerifiedPush), cmp.Or(in.UsernameNormalization, "none"), in.IKey)
	if err != nil {
		return fmt.Errorf("sqlstore: update integration %s: %w", in.IKey, mapErr(err))
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: update integration %s: %w", in.IKey, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: update integration %s: %w", in.IKey, store.ErrNotFound)
	}
	return nil
}

// IntegrationsVersion reads the counter that triggers on integrations bump
// with every change (migration 0007): one row, one integer.
func (q *queries) IntegrationsVersion(ctx context.Context) (int64, error) {
	var n int64
	if err := q.queryRow(ctx, `SELECT n FROM integrations_version WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: integrations version: %w", mapErr(err))
	}
	return n, nil
}

// flag stores a boolean as 0 or 1, the same in both dialects.
func flag(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (q *queries) DeleteIntegration(ctx context.Context, ikey string) error {
	res, err := q.exec(ctx, `DELETE FROM integrations WHERE ikey = ?`, ikey)
	if err != nil {
		return fmt.Errorf("sqlstore: delete integration %s: %w", ikey, err)
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: delete integration %s: %w", ikey, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete integration %s: %w", ikey, store.ErrNotFound)
	}
	return nil
}

// Users.

const userCols = `id, username, status, failed_attempts, lockout_reason, created, last_login, realname, email, notes, firstname, lastname`

func scanUser(r scanner) (store.User, error) {
	var (
		u                  store.User
		status             string
		created, lastLogin int64
	)
	p := &u.Profile
	if err := r.Scan(&u.ID, &u.Username, &status, &u.FailedAttempts, &u.LockoutReason, &created, &lastLogin,
		&p.RealName, &p.Email, &p.Notes, &p.FirstName, &p.LastName); err != nil {
		return store.User{}, err
	}
	u.Status = store.UserStatus(status)
	u.Created = fromUnix(created)
	u.LastLogin = fromUnix(lastLogin)
	return u, nil
}

func (q *queries) CreateUser(ctx context.Context, u store.User) error {
	norm, err := normUsername(u.Username)
	if err != nil {
		return fmt.Errorf("sqlstore: create user %s: username %w", u.ID, err)
	}
	res, err := q.exec(ctx,
		`INSERT INTO users (id, username, username_norm, status, failed_attempts, lockout_reason, created, last_login)
		 SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM user_aliases WHERE alias_norm = ?)
		 ON CONFLICT DO NOTHING`,
		u.ID, u.Username, norm, string(u.Status), u.FailedAttempts, u.LockoutReason,
		toUnix(u.Created), toUnix(u.LastLogin), norm)
	if err != nil {
		return fmt.Errorf("sqlstore: create user %s: %w", u.ID, mapErr(err))
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: create user %s: %w", u.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: create user %s (%q): %w", u.ID, u.Username, store.ErrAlreadyExists)
	}
	return nil
}

func (q *queries) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(q.queryRow(ctx,
		`SELECT `+userCols+` FROM users WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlstore: get user %s: %w", id, mapErr(err))
	}
	return u, nil
}

func (q *queries) GetUserByUsername(ctx context.Context, name string) (store.User, error) {
	norm, err := normUsername(name)
	if err != nil {
		// No user can have a name that is not valid.
		return store.User{}, fmt.Errorf("sqlstore: get user by username: %w", store.ErrNotFound)
	}
	u, err := scanUser(q.queryRow(ctx,
		`SELECT `+userCols+` FROM users u WHERE `+userByName+q.forUpdate(), norm, norm))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlstore: get user by username %q: %w", name, mapErr(err))
	}
	return u, nil
}

func (q *queries) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := q.query(ctx,
		`SELECT `+userCols+` FROM users ORDER BY username_norm`+q.d.binary+`, id`+q.d.binary)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	out, err := collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	return out, nil
}

// UpdateUser recomputes username_norm only when the username changes, so a
// user whose norm was set aside when opening the store (see
// renormalizeUsernames) keeps it through status updates, and a name kept
// from before the current rule may stay, but nothing is renamed to one.
func (q *queries) UpdateUser(ctx context.Context, u store.User) error {
	norm, normErr := normUsername(u.Username)
	var (
		res sql.Result
		err error
	)
	if normErr == nil {
		res, err = q.exec(ctx,
			`UPDATE users SET username = ?, username_norm = CASE WHEN username = ? THEN username_norm ELSE ? END,
			 status = ?, failed_attempts = ?, lockout_reason = ?, last_login = ?
			 WHERE id = ? AND (username = ? OR NOT EXISTS (SELECT 1 FROM user_aliases WHERE alias_norm = ? AND user_id <> ?))`,
			u.Username, u.Username, norm, string(u.Status), u.FailedAttempts, u.LockoutReason, toUnix(u.LastLogin),
			u.ID, u.Username, norm, u.ID)
	} else {
		res, err = q.exec(ctx,
			`UPDATE users SET status = ?, failed_attempts = ?, lockout_reason = ?, last_login = ?
			 WHERE id = ? AND username = ?`,
			string(u.Status), u.FailedAttempts, u.LockoutReason, toUnix(u.LastLogin), u.ID, u.Username)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: update user %s: %w", u.ID, mapErr(err))
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: update user %s: %w", u.ID, err)
	}
	if n > 0 {
		return nil
	}
	var one int
	if err := q.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`, u.ID).Scan(&one); err == nil {
		if normErr != nil {
			return fmt.Errorf("sqlstore: update user %s: username %w", u.ID, normErr)
		}
		// The row is there, so the new name is another user's alias.
		return fmt.Errorf("sqlstore: update user %s: username %q is another user's alias: %w", u.ID, u.Username, store.ErrAlreadyExists)
	}
	return fmt.Errorf("sqlstore: update user %s: %w", u.ID, store.ErrNotFound)
}

func (q *queries) DeleteUser(ctx context.Context, id string) error {
	// The foreign keys cascade too; deleting explicitly does not depend on
	// them. Transactions go before the devices they reference.
	for _, table := range []string{"transactions", "activations", "sms_passcodes", "devices", "bypass_codes", "webauthn_credentials", "user_last_method", "user_group_members", "user_sessions", "user_default_method", "user_aliases", "phone_proofs"} {
		if _, err := q.exec(ctx, `DELETE FROM `+table+` WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete user %s: %s: %w", id, table, err)
		}
	}
	if err := q.deleteUserTokens(ctx, id); err != nil {
		return fmt.Errorf("sqlstore: delete user %s: %w", id, err)
	}
	// Pending phones outlive their user, as Duo's phones do.
	if _, err := q.exec(ctx, `UPDATE pending_phones SET user_id = NULL WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete user %s: pending phones: %w", id, err)
	}
	res, err := q.exec(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete user %s: %w", id, err)
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: delete user %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete user %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Bypass codes.

const bypassCols = `id, user_id, hash, remaining_uses, expires, created`

func scanBypassCode(r scanner) (store.BypassCode, error) {
	var (
		c                store.BypassCode
		expires, created int64
	)
	if err := r.Scan(&c.ID, &c.UserID, &c.Hash, &c.RemainingUses, &expires, &created); err != nil {
		return store.BypassCode{}, err
	}
	c.Expires = fromUnix(expires)
	c.Created = fromUnix(created)
	return c, nil
}

// bypassBatch bounds the rows of one multi-row INSERT, well under both
// engines' limits on bound parameters.
const bypassBatch = 200

func (q *queries) CreateBypassCodes(ctx context.Context, codes []store.BypassCode) error {
	if len(codes) == 0 {
		return nil
	}
	// Report an unknown user clearly; the foreign key is the backstop.
	checked := make(map[string]bool)
	for _, c := range codes {
		if checked[c.UserID] {
			continue
		}
		checked[c.UserID] = true
		var one int
		err := q.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`, c.UserID).Scan(&one)
		if err != nil {
			return fmt.Errorf("sqlstore: create bypass codes: user %s: %w", c.UserID, mapErr(err))
		}
	}
	for len(codes) > 0 {
		batch := codes[:min(len(codes), bypassBatch)]
		codes = codes[len(batch):]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO bypass_codes (` + bypassCols + `) VALUES `)
		args := make([]any, 0, 6*len(batch))
		for i, c := range batch {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, c.ID, c.UserID, blob(c.Hash), c.RemainingUses, toUnix(c.Expires), toUnix(c.Created))
		}
		sb.WriteString(` ON CONFLICT DO NOTHING`)
		res, err := q.exec(ctx, sb.String(), args...)
		if err != nil {
			return fmt.Errorf("sqlstore: create bypass codes: %w", mapErr(err))
		}
		n, err := affected(res)
		if err != nil {
			return fmt.Errorf("sqlstore: create bypass codes: %w", err)
		}
		if n != int64(len(batch)) {
			return fmt.Errorf("sqlstore: create bypass codes: %d of %d: %w (same ID, or same hash for the user)",
				int64(len(batch))-n, len(batch), store.ErrAlreadyExists)
		}
	}
	return nil
}

func (q *queries) ListBypassCodes(ctx context.Context, userID string) ([]store.BypassCode, error) {
	rows, err := q.query(ctx,
		`SELECT `+bypassCols+` FROM bypass_codes WHERE user_id = ? ORDER BY created, id`+q.d.binary, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list bypass codes of %s: %w", userID, err)
	}
	out, err := collect(rows, scanBypassCode)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list bypass codes of %s: %w", userID, err)
	}
	return out, nil
}

func (q *queries) FindBypassCode(ctx context.Context, userID string, hash []byte) (store.BypassCode, error) {
	c, err := scanBypassCode(q.queryRow(ctx,
		`SELECT `+bypassCols+` FROM bypass_codes WHERE user_id = ? AND hash = ?`+q.forUpdate(), userID, blob(hash)))
	if err != nil {
		return store.BypassCode{}, fmt.Errorf("sqlstore: find bypass code of %s: %w", userID, mapErr(err))
	}
	return c, nil
}

func (q *queries) GetUserAndBypassCode(ctx context.Context, username, userID string, hash []byte) (store.User, store.BypassCode, bool, bool, error) {
	norm, err := normUsername(username)
	if err != nil {
		// No user can have a name that is not valid.
		return store.User{}, store.BypassCode{}, false, false, fmt.Errorf("sqlstore: get user by username: %w", store.ErrNotFound)
	}
	if q.tx {
		// Two statements, each locking its row where rows are locked
		// (PostgreSQL cannot lock the nullable side of an outer join).
		u, err := q.GetUserByUsername(ctx, username)
		if err != nil || u.ID != userID {
			return u, store.BypassCode{}, false, false, err
		}
		c, err := q.FindBypassCode(ctx, userID, hash)
		if errors.Is(err, store.ErrNotFound) {
			return u, store.BypassCode{}, true, false, nil
		}
		if err != nil {
			return store.User{}, store.BypassCode{}, false, false, err
		}
		return u, c, true, true, nil
	}
	// One statement: the user by its name, and the code only where the
	// user's ID is the one hash was computed for (both by unique index).
	var (
		u                  store.User
		status             string
		created, lastLogin int64
		c                  store.BypassCode
		expires, cCreated  int64
		groups             string
	)
	err = q.queryRow(ctx, q.d.userAndCode, userID, blob(hash), norm, norm).
		Scan(&u.ID, &u.Username, &status, &u.FailedAttempts, &u.LockoutReason, &created, &lastLogin,
			&c.ID, &c.RemainingUses, &expires, &cCreated, &groups)
	if err != nil {
		return store.User{}, store.BypassCode{}, false, false, fmt.Errorf("sqlstore: get user and bypass code by username %q: %w", username, mapErr(err))
	}
	u.Status = store.UserStatus(status)
	if err := scanUserGroups(&u, groups); err != nil {
		return store.User{}, store.BypassCode{}, false, false, fmt.Errorf("sqlstore: get user and bypass code: %w", err)
	}
	u.Created = fromUnix(created)
	u.LastLogin = fromUnix(lastLogin)
	if u.ID != userID {
		return u, store.BypassCode{}, false, false, nil
	}
	if c.ID == "" {
		return u, store.BypassCode{}, true, false, nil
	}
	c.UserID, c.Hash = u.ID, bytes.Clone(hash)
	c.Expires, c.Created = fromUnix(expires), fromUnix(cCreated)
	return u, c, true, true, nil
}

func (q *queries) UpdateBypassCode(ctx context.Context, c store.BypassCode) error {
	res, err := q.exec(ctx, `UPDATE bypass_codes SET remaining_uses = ? WHERE id = ?`, c.RemainingUses, c.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update bypass code %s: %w", c.ID, err)
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: update bypass code %s: %w", c.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: update bypass code %s: %w", c.ID, store.ErrNotFound)
	}
	return nil
}

func (q *queries) DeleteBypassCode(ctx context.Context, id string) error {
	res, err := q.exec(ctx, `DELETE FROM bypass_codes WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete bypass code %s: %w", id, err)
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: delete bypass code %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete bypass code %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (q *queries) DeleteBypassCodesForUser(ctx context.Context, userID string) error {
	if _, err := q.exec(ctx, `DELETE FROM bypass_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlstore: delete bypass codes of %s: %w", userID, err)
	}
	return nil
}

// Auth log.

const authLogCols = `id, txid, time, ikey, user_id, username, factor, device, result, reason, ip, hostname, group_list, alias, policy`

func scanAuthLog(r scanner) (store.AuthLog, error) {
	var (
		l      store.AuthLog
		at     int64
		groups string
	)
	if err := r.Scan(&l.ID, &l.TxID, &at, &l.IKey, &l.UserID, &l.Username, &l.Factor, &l.Device,
		&l.Result, &l.Reason, &l.IP, &l.Hostname, &groups, &l.Alias, &l.Policy); err != nil {
		return store.AuthLog{}, err
	}
	l.Time = fromUnix(at)
	if groups != "" {
		if err := json.Unmarshal([]byte(groups), &l.Groups); err != nil {
			return store.AuthLog{}, fmt.Errorf("auth log row %d: groups: %w", l.ID, err)
		}
	}
	return l, nil
}

// groupList is the group_list column of an auth-log row: a JSON array of
// {"id","name"}, or ” for none.
func groupList(gs []store.LogGroup) (string, error) {
	if len(gs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(gs)
	return string(b), err
}

func (q *queries) AppendAuthLog(ctx context.Context, l *store.AuthLog) error {
	if l == nil {
		return errors.New("sqlstore: append auth log: nil entry")
	}
	// The row's time is raised to the last seal of the log clock, read in
	// the INSERT (see admin.go).
	if err := q.lockAuthLog(ctx, false); err != nil {
		return fmt.Errorf("sqlstore: append auth log: %w", err)
	}
	groups, err := groupList(l.Groups)
	if err != nil {
		return fmt.Errorf("sqlstore: append auth log: %w", err)
	}
	if q.tx && !q.d.postgres {
		return q.appendAuthLogSQLite(ctx, l, groups)
	}
	var id, at int64
	err = q.queryRow(ctx, q.d.appendAuthLog, authLogArgs(l, toUnix(l.Time), groups)...).Scan(&id, &at)
	if err != nil {
		return fmt.Errorf("sqlstore: append auth log: %w", err)
	}
	l.ID, l.Time = id, fromUnix(at)
	return nil
}

// appendAuthLogSQLite is AppendAuthLog in a SQLite write transaction: the
// stamp is max(the row's time, the clock) with the clock read once per
// transaction, and the ID is the INSERT's rowid.
func (q *queries) appendAuthLogSQLite(ctx context.Context, l *store.AuthLog, groups string) error {
	if !q.authClockKnown {
		if err := q.queryRow(ctx, `SELECT t FROM log_clock WHERE id = ?`, int64(store.LogAuth)).Scan(&q.authClock); err != nil {
			return fmt.Errorf("sqlstore: append auth log: log clock: %w", err)
		}
		q.authClockKnown = true
	}
	at := max(toUnix(l.Time), q.authClock)
	res, err := q.exec(ctx, insertAuthLog, authLogArgs(l, at, groups)...)
	if err != nil {
		return fmt.Errorf("sqlstore: append auth log: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlstore: append auth log: %w", err)
	}
	l.ID, l.Time = id, fromUnix(at)
	return nil
}

func (q *queries) ListAuthLog(ctx context.Context, f store.AuthLogFilter) ([]store.AuthLog, error) {
	var (
		where []string
		args  []any
	)
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.IKey != "" {
		where = append(where, "ikey = ?")
		args = append(args, f.IKey)
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, f.Since.Unix())
	}
	query := `SELECT ` + authLogCols + ` FROM auth_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY time DESC, id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list auth log: %w", err)
	}
	out, err := collect(rows, scanAuthLog)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list auth log: %w", err)
	}
	return out, nil
}

// Settings.

func (q *queries) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if err := q.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return "", fmt.Errorf("sqlstore: get setting %q: %w", key, mapErr(err))
	}
	return v, nil
}

func (q *queries) PutSetting(ctx context.Context, key, value string) error {
	if _, err := q.exec(ctx,
		`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, value); err != nil {
		return fmt.Errorf("sqlstore: put setting %q: %w", key, err)
	}
	return nil
}

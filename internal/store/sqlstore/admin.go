package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// The log clocks (table log_clock, a row per log) let an exporter paging by
// time never miss a row: a reader first seals the log at T (SealLogs) and
// then reads only rows stamped before T; for that, every row stamped before
// T must be committed when the seal returns, and every row committed after
// it must be stamped at or after T.
//
// The admin log (rare writes) keeps the simplest scheme: each row is
// stamped, in the transaction that writes it, with t = max(its own time,
// log_clock.t), and log_clock.t is set to t, so its stamps follow commit
// order (on PostgreSQL the UPDATE holds the clock row until the commit).
// A seal raises t to the reader's now the same way.
//
// The auth log is written by every decision, so its writers must not
// queue on one shared row (issue 10: no serialisation of unrelated users).
// Its clock holds only the last seal, and writers never write it:
//
//   - A writer stamps its row with max(its own time, log_clock.t), reading
//     the clock in the INSERT itself, and leaves the clock alone.
//   - A seal raises log_clock.t to max(t, reader's now) and commits.
//   - What keeps a writer from reading the clock before a seal and
//     committing after it: on SQLite, write transactions run one at a time
//     (one writer process holds the database's write lock from BEGIN
//     IMMEDIATE to COMMIT, whatever process it is: the server's group
//     commit or the CLI), so a seal sits entirely before or after a
//     writer's transaction. On PostgreSQL, a writer first takes the shared
//     transaction-level advisory lock authLogLockKey (writers never wait
//     for each other), in a statement of its own, and reads the clock in
//     the next statement, whose READ COMMITTED snapshot therefore sees
//     every seal committed before it got the lock. A seal takes the same
//     lock exclusively: it waits for every writer holding it to commit (or
//     roll back), holds back new ones for the time of one UPDATE, and
//     releases it at its commit, after which new writers read its value.
//
// So the stamps come from the writers' own clocks (the injected one) and
// need no agreement between nodes: a node whose clock lags gets its rows
// raised to the last seal, one whose clock leads writes rows that become
// readable once a reader's clock reaches them (as before). Rows are
// readable once a seal has passed their second (Duo's cloud holds the last
// two minutes back). Auth-log rows are no longer stamped in commit order
// among themselves; the exporter needs only the seal's guarantee.

// authLogLockKey is the pg_advisory_xact_lock key of the auth log's clock
// ("assental" in ASCII): shared by writers, exclusive for a seal.
const authLogLockKey int64 = 0x6173_7365_6e74_616c

// logStamp raises the log clock to at and returns the stamp for a new row.
func (q *queries) logStamp(ctx context.Context, log store.LogName, at time.Time) (time.Time, error) {
	var t int64
	sec := toUnix(at)
	err := q.queryRow(ctx,
		`UPDATE log_clock SET t = CASE WHEN t < ? THEN ? ELSE t END WHERE id = ? RETURNING t`, sec, sec, int64(log)).Scan(&t)
	if err != nil {
		return time.Time{}, fmt.Errorf("log clock: %w", err)
	}
	if log == store.LogAuth {
		q.authClock, q.authClockKnown = t, true
	}
	return fromUnix(t), nil
}

// lockAuthLog takes the auth log's advisory lock on PostgreSQL until the
// transaction ends: shared for a writer, exclusive for a seal (see above).
// The decisions append their log row last, so a writer holding it waits
// for no other lock and a seal waits at most for the commits in flight
// (PostgreSQL's deadlock detector also sees advisory locks).
func (q *queries) lockAuthLog(ctx context.Context, exclusive bool) error {
	if !q.d.postgres {
		return nil
	}
	if !q.tx {
		return errors.New("auth log clock: not in a transaction")
	}
	lock := `SELECT pg_advisory_xact_lock_shared(?)`
	if exclusive {
		lock = `SELECT pg_advisory_xact_lock(?)`
	}
	if _, err := q.exec(ctx, lock, authLogLockKey); err != nil {
		return fmt.Errorf("auth log clock: %w", err)
	}
	return nil
}

func (q *queries) SealLogs(ctx context.Context, log store.LogName, now time.Time) (time.Time, error) {
	if log == store.LogAuth {
		if err := q.lockAuthLog(ctx, true); err != nil {
			return time.Time{}, fmt.Errorf("sqlstore: seal logs: %w", err)
		}
	}
	t, err := q.logStamp(ctx, log, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlstore: seal logs: %w", err)
	}
	return t, nil
}

func (q *queries) UpdateUserProfile(ctx context.Context, id string, p store.UserProfile) error {
	res, err := q.exec(ctx,
		`UPDATE users SET realname = ?, email = ?, notes = ?, firstname = ?, lastname = ? WHERE id = ?`,
		p.RealName, p.Email, p.Notes, p.FirstName, p.LastName, id)
	if err != nil {
		return fmt.Errorf("sqlstore: update profile of %s: %w", id, err)
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: update profile of %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: update profile of %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (q *queries) ListUsersPage(ctx context.Context, p store.UserPage) ([]store.User, int, error) {
	var (
		where []string
		args  []any
	)
	if p.Username != "" {
		norm, err := normUsername(p.Username)
		if err != nil {
			return nil, 0, nil // no user can have an invalid name
		}
		where = append(where, userByName) // the username or an alias, as Duo's filter
		args = append(args, norm, norm)
	}
	if p.Email != "" {
		where = append(where, "email = ?")
		args = append(args, p.Email)
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, " AND ")
	}
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM users u`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count users: %w", err)
	}
	limit := max(p.Limit, 1)
	rows, err := q.query(ctx, `SELECT `+userCols+` FROM users u`+cond+` ORDER BY created, id`+q.d.binary+` LIMIT ? OFFSET ?`,
		append(args, limit, max(p.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: list users: %w", err)
	}
	out, err := collect(rows, scanUser)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: list users: %w", err)
	}
	return out, total, nil
}

func (q *queries) ListBypassCodesPage(ctx context.Context, offset, limit int) ([]store.BypassCode, int, error) {
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM bypass_codes`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count bypass codes: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+bypassCols+` FROM bypass_codes ORDER BY created, id`+q.d.binary+` LIMIT ? OFFSET ?`,
		max(limit, 1), max(offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: list bypass codes: %w", err)
	}
	out, err := collect(rows, scanBypassCode)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: list bypass codes: %w", err)
	}
	return out, total, nil
}

func (q *queries) GetBypassCode(ctx context.Context, id string) (store.BypassCode, error) {
	c, err := scanBypassCode(q.queryRow(ctx, `SELECT `+bypassCols+` FROM bypass_codes WHERE id = ?`, id))
	if err != nil {
		return store.BypassCode{}, fmt.Errorf("sqlstore: get bypass code %s: %w", id, mapErr(err))
	}
	return c, nil
}

func (q *queries) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count users: %w", err)
	}
	return n, nil
}

func (q *queries) SetIntegrationGrants(ctx context.Context, ikey string, grants []string) error {
	return q.updateIntegrationRow(ctx, "set grants of", `UPDATE integrations SET grants = ? WHERE ikey = ?`,
		strings.Join(grants, " "), ikey)
}

func (q *queries) RotateIntegrationSecret(ctx context.Context, ikey string, newEnc []byte, prevExpires time.Time) error {
	if prevExpires.IsZero() {
		return q.updateIntegrationRow(ctx, "rotate secret of",
			`UPDATE integrations SET secret_enc = ?, prev_secret_enc = ?, prev_secret_expires = 0 WHERE ikey = ?`,
			blob(newEnc), []byte{}, ikey)
	}
	// The right-hand sides read the row as it was: the current secret
	// becomes the previous one.
	return q.updateIntegrationRow(ctx, "rotate secret of",
		`UPDATE integrations SET prev_secret_enc = secret_enc, secret_enc = ?, prev_secret_expires = ? WHERE ikey = ?`,
		blob(newEnc), toUnix(prevExpires), ikey)
}

func (q *queries) updateIntegrationRow(ctx context.Context, op, query string, args ...any) error {
	ikey := args[len(args)-1]
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: %s integration %s: %w", op, ikey, err)
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("sqlstore: %s integration %s: %w", op, ikey, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s integration %s: %w", op, ikey, store.ErrNotFound)
	}
	return nil
}

const adminLogCols = `id, time, actor, action, object, description, ip`

func (q *queries) AppendAdminLog(ctx context.Context, l *store.AdminLog) error {
	if l == nil {
		return errors.New("sqlstore: append admin log: nil entry")
	}
	at, err := q.logStamp(ctx, store.LogAdmin, l.Time)
	if err != nil {
		return fmt.Errorf("sqlstore: append admin log: %w", err)
	}
	var id int64
	err = q.queryRow(ctx, `INSERT INTO admin_log (time, actor, action, object, description, ip) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		toUnix(at), l.Actor, l.Action, l.Object, l.Description, l.IP).Scan(&id)
	if err != nil {
		return fmt.Errorf("sqlstore: append admin log: %w", err)
	}
	l.ID, l.Time = id, at
	return nil
}

func (q *queries) ListAdminLog(ctx context.Context, since, until time.Time, limit int) ([]store.AdminLog, error) {
	rows, err := q.query(ctx, `SELECT `+adminLogCols+` FROM admin_log WHERE time >= ? AND time < ? ORDER BY time, id LIMIT ?`,
		toUnix(since), toUnix(until), max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list admin log: %w", err)
	}
	out, err := collect(rows, scanAdminLog)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list admin log: %w", err)
	}
	return out, nil
}

// in appends "col IN (?, …)" for a non-empty set.
func in(where []string, args []any, col string, vals []string) ([]string, []any) {
	if len(vals) == 0 {
		return where, args
	}
	where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
	for _, v := range vals {
		args = append(args, v)
	}
	return where, args
}

// inGroups appends a match of any of the group ids in group_list (see
// migration 0016). Group ids are upper-case letters and digits; any other
// value can name no group, and matches nothing (also on SQLite, whose LIKE
// ignores case). A name cannot fake an id: its quotes are escaped in the
// JSON.
func inGroups(where []string, args []any, ids []string) ([]string, []any) {
	if len(ids) == 0 {
		return where, args
	}
	var or []string
	for _, id := range ids {
		if id == "" || strings.IndexFunc(id, func(r rune) bool { return !isIDChar(r) }) >= 0 {
			continue
		}
		or = append(or, "group_list LIKE ?")
		args = append(args, `%"id":"`+id+`"%`)
	}
	if len(or) == 0 {
		return append(where, "1 = 0"), args
	}
	return append(where, "("+strings.Join(or, " OR ")+")"), args
}

func isIDChar(r rune) bool { return r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' }

func scanAdminLog(r scanner) (store.AdminLog, error) {
	var (
		l  store.AdminLog
		at int64
	)
	err := r.Scan(&l.ID, &at, &l.Actor, &l.Action, &l.Object, &l.Description, &l.IP)
	l.Time = fromUnix(at)
	return l, err
}

func (q *queries) QueryAdminLog(ctx context.Context, f store.AdminLogQuery) ([]store.AdminLog, int, error) {
	where := []string{"time >= ?", "time < ?"}
	args := []any{toUnix(f.Min), toUnix(f.Max)}
	where, args = in(where, args, "actor", f.Actors)
	where, args = in(where, args, "action", f.Actions)
	where, args = in(where, args, "object", f.Objects)
	cond := ` WHERE ` + strings.Join(where, " AND ")
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM admin_log`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count admin log: %w", err)
	}
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	page, pargs := cond, args
	if !f.After.Time.IsZero() {
		ct := toUnix(f.After.Time)
		page += ` AND (time ` + cmp + ` ? OR (time = ? AND id ` + cmp + ` ?))`
		pargs = append(append([]any{}, args...), ct, ct, f.After.ID)
	}
	rows, err := q.query(ctx, `SELECT `+adminLogCols+` FROM admin_log`+page+` ORDER BY time `+dir+`, id `+dir+` LIMIT ?`,
		append(pargs, max(f.Limit, 1))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: query admin log: %w", err)
	}
	out, err := collect(rows, scanAdminLog)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: query admin log: %w", err)
	}
	return out, total, nil
}

func (q *queries) QueryAuthLog(ctx context.Context, f store.AuthLogQuery) ([]store.AuthLog, int, error) {
	where := []string{"time >= ?", "time < ?"}
	args := []any{toUnix(f.Min), toUnix(f.Max)}
	where, args = in(where, args, "user_id", f.UserIDs)
	where, args = in(where, args, "ikey", f.IKeys)
	where, args = in(where, args, "result", f.Results)
	where, args = in(where, args, "reason", f.Reasons)
	where, args = in(where, args, "factor", f.Factors)
	where, args = inGroups(where, args, f.GroupIDs)
	where, args = in(where, args, "username", f.Usernames)
	cond := ` WHERE ` + strings.Join(where, " AND ")
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM auth_log`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count auth log: %w", err)
	}
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	page := cond
	pargs := args
	if !f.After.Time.IsZero() {
		ct := toUnix(f.After.Time)
		page += ` AND (time ` + cmp + ` ? OR (time = ? AND txid` + q.d.binary + ` ` + cmp + ` ?))`
		pargs = append(append([]any{}, args...), ct, ct, f.After.TxID)
	}
	order := ` ORDER BY time ` + dir + `, txid` + q.d.binary + ` ` + dir + `, id ` + dir
	limit := max(f.Limit, 1)
	rows, err := q.query(ctx, `SELECT `+authLogCols+` FROM auth_log`+page+order+` LIMIT ?`, append(pargs, limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: query auth log: %w", err)
	}
	out, err := collect(rows, scanAuthLog)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: query auth log: %w", err)
	}
	// The cursor names (time, txid): a page never ends inside a group of
	// rows sharing both, or the next page would skip the group's rest.
	if len(out) == limit {
		last := out[len(out)-1]
		rest, err := q.query(ctx, `SELECT `+authLogCols+` FROM auth_log`+cond+` AND time = ? AND txid = ? AND id `+cmp+` ? ORDER BY id `+dir,
			append(append([]any{}, args...), toUnix(last.Time), last.TxID, last.ID)...)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlstore: query auth log: %w", err)
		}
		more, err := collect(rest, scanAuthLog)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlstore: query auth log: %w", err)
		}
		out = append(out, more...)
	}
	return out, total, nil
}

// Outside a transaction: reads on the read pool, writes on the write pool.

func (s *Store) UpdateUserProfile(ctx context.Context, id string, p store.UserProfile) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateUserProfile(ctx, id, p) })
}

func (s *Store) ListUsersPage(ctx context.Context, p store.UserPage) ([]store.User, int, error) {
	return s.rq.ListUsersPage(ctx, p)
}

func (s *Store) CountUsers(ctx context.Context) (int, error) { return s.rq.CountUsers(ctx) }

func (s *Store) ListBypassCodesPage(ctx context.Context, offset, limit int) ([]store.BypassCode, int, error) {
	return s.rq.ListBypassCodesPage(ctx, offset, limit)
}

func (s *Store) GetBypassCode(ctx context.Context, id string) (store.BypassCode, error) {
	return s.rq.GetBypassCode(ctx, id)
}

func (s *Store) SetIntegrationGrants(ctx context.Context, ikey string, grants []string) error {
	return s.write(ctx, true, func(q *queries) error { return q.SetIntegrationGrants(ctx, ikey, grants) })
}

func (s *Store) RotateIntegrationSecret(ctx context.Context, ikey string, newEnc []byte, prevExpires time.Time) error {
	return s.write(ctx, true, func(q *queries) error { return q.RotateIntegrationSecret(ctx, ikey, newEnc, prevExpires) })
}

func (s *Store) AppendAdminLog(ctx context.Context, l *store.AdminLog) error {
	if l == nil {
		return errors.New("sqlstore: append admin log: nil entry")
	}
	c := *l
	if err := s.write(ctx, false, func(q *queries) error { return q.AppendAdminLog(ctx, &c) }); err != nil {
		return err
	}
	*l = c
	return nil
}

func (s *Store) ListAdminLog(ctx context.Context, since, until time.Time, limit int) ([]store.AdminLog, error) {
	return s.rq.ListAdminLog(ctx, since, until, limit)
}

func (s *Store) QueryAdminLog(ctx context.Context, f store.AdminLogQuery) ([]store.AdminLog, int, error) {
	return s.rq.QueryAdminLog(ctx, f)
}

func (s *Store) QueryAuthLog(ctx context.Context, f store.AuthLogQuery) ([]store.AuthLog, int, error) {
	return s.rq.QueryAuthLog(ctx, f)
}

func (s *Store) SealLogs(ctx context.Context, log store.LogName, now time.Time) (time.Time, error) {
	var t time.Time
	err := s.write(ctx, false, func(q *queries) error {
		var err error
		t, err = q.SealLogs(ctx, log, now)
		return err
	})
	return t, err
}

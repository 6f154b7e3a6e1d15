package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Console administrators and their sessions (store.AdminAccountQueries).

const adminCols = `id, email, name, role, password_hash, totp_secret_enc, totp_last_step, created, last_login`

// adminSelect reads adminCols and the count of security keys.
const adminSelect = `SELECT ` + adminCols + `,
	(SELECT COUNT(*) FROM admin_webauthn_credentials w WHERE w.admin_id = admins.id) FROM admins`

func scanAdmin(r scanner) (store.Admin, error) {
	var (
		a                 store.Admin
		role              string
		created, lastSeen int64
	)
	if err := r.Scan(&a.ID, &a.Email, &a.Name, &role, &a.PasswordHash, &a.TOTPSecretEnc, &a.TOTPLastStep, &created, &lastSeen, &a.Keys); err != nil {
		return store.Admin{}, err
	}
	if len(a.TOTPSecretEnc) == 0 {
		a.TOTPSecretEnc = nil
	}
	a.Role, a.Created, a.LastLogin = store.AdminRole(role), fromUnix(created), fromUnix(lastSeen)
	return a, nil
}

// nullBlob stores an empty secret as NULL.
func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (q *queries) CreateAdmin(ctx context.Context, a store.Admin) error {
	err := q.insertOne(ctx, `INSERT INTO admins (`+adminCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		a.ID, a.Email, a.Name, string(a.Role), a.PasswordHash, nullBlob(a.TOTPSecretEnc), a.TOTPLastStep, toUnix(a.Created), toUnix(a.LastLogin))
	if err != nil {
		return fmt.Errorf("sqlstore: create admin %s: %w", a.ID, err)
	}
	return nil
}

func (q *queries) GetAdmin(ctx context.Context, id string) (store.Admin, error) {
	a, err := scanAdmin(q.queryRow(ctx, adminSelect+` WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.Admin{}, fmt.Errorf("sqlstore: get admin %s: %w", id, mapErr(err))
	}
	return a, nil
}

func (q *queries) GetAdminByEmail(ctx context.Context, email string) (store.Admin, error) {
	a, err := scanAdmin(q.queryRow(ctx, adminSelect+` WHERE email = ?`+q.forUpdate(), email))
	if err != nil {
		return store.Admin{}, fmt.Errorf("sqlstore: get admin %q: %w", email, mapErr(err))
	}
	return a, nil
}

func (q *queries) ListAdmins(ctx context.Context) ([]store.Admin, error) {
	rows, err := q.query(ctx, adminSelect+` ORDER BY email`+q.d.binary+`, id`+q.d.binary)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list admins: %w", err)
	}
	out, err := collect(rows, scanAdmin)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list admins: %w", err)
	}
	return out, nil
}

func (q *queries) UpdateAdmin(ctx context.Context, a store.Admin) error {
	if err := q.changeOne(ctx, `UPDATE admins SET name = ?, role = ?, password_hash = ?, totp_secret_enc = ?, totp_last_step = ?, last_login = ? WHERE id = ?`,
		a.Name, string(a.Role), a.PasswordHash, nullBlob(a.TOTPSecretEnc), a.TOTPLastStep, toUnix(a.LastLogin), a.ID); err != nil {
		return fmt.Errorf("sqlstore: update admin %s: %w", a.ID, err)
	}
	return nil
}

func (q *queries) AdvanceAdminTOTP(ctx context.Context, id string, step int64, at time.Time) error {
	err := q.guarded(ctx, `UPDATE admins SET totp_last_step = ?, last_login = ? WHERE id = ? AND totp_last_step < ?`,
		step, toUnix(at), id, step)
	if err == store.ErrConflict {
		if rerr := q.requireRow(ctx, `SELECT 1 FROM admins WHERE id = ?`, id); rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: advance TOTP step of admin %s: %w", id, err)
	}
	return nil
}

func (q *queries) DeleteAdmin(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete admin %s: sessions: %w", id, mapErr(err))
	}
	if _, err := q.exec(ctx, `DELETE FROM admin_webauthn_credentials WHERE admin_id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete admin %s: security keys: %w", id, mapErr(err))
	}
	if err := q.changeOne(ctx, `DELETE FROM admins WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete admin %s: %w", id, err)
	}
	return nil
}

const adminSessionCols = `hash, admin_id, created, last_seen, reauth, ip`

func scanAdminSession(r scanner) (store.AdminSession, error) {
	var (
		s                       store.AdminSession
		created, seen, reauthAt int64
	)
	if err := r.Scan(&s.Hash, &s.AdminID, &created, &seen, &reauthAt, &s.IP); err != nil {
		return store.AdminSession{}, err
	}
	s.Created, s.LastSeen, s.Reauth = fromUnix(created), fromUnix(seen), fromUnix(reauthAt)
	return s, nil
}

func (q *queries) CreateAdminSession(ctx context.Context, s store.AdminSession) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM admins WHERE id = ?`, s.AdminID); err != nil {
		return fmt.Errorf("sqlstore: create session of admin %s: %w", s.AdminID, err)
	}
	err := q.insertOne(ctx, `INSERT INTO admin_sessions (`+adminSessionCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		s.Hash, s.AdminID, toUnix(s.Created), toUnix(s.LastSeen), toUnix(s.Reauth), s.IP)
	if err != nil {
		return fmt.Errorf("sqlstore: create session of admin %s: %w", s.AdminID, err)
	}
	return nil
}

func (q *queries) GetAdminSession(ctx context.Context, hash []byte) (store.AdminSession, error) {
	s, err := scanAdminSession(q.queryRow(ctx, `SELECT `+adminSessionCols+` FROM admin_sessions WHERE hash = ?`, hash))
	if err != nil {
		return store.AdminSession{}, fmt.Errorf("sqlstore: get admin session: %w", mapErr(err))
	}
	return s, nil
}

func (q *queries) TouchAdminSession(ctx context.Context, s store.AdminSession) error {
	if err := q.changeOne(ctx, `UPDATE admin_sessions SET last_seen = ?, reauth = ? WHERE hash = ?`,
		toUnix(s.LastSeen), toUnix(s.Reauth), s.Hash); err != nil {
		return fmt.Errorf("sqlstore: touch admin session: %w", err)
	}
	return nil
}

func (q *queries) DeleteAdminSession(ctx context.Context, hash []byte) error {
	if err := q.changeOne(ctx, `DELETE FROM admin_sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("sqlstore: delete admin session: %w", err)
	}
	return nil
}

func (q *queries) DeleteAdminSessionsOf(ctx context.Context, adminID string) (int, error) {
	res, err := q.exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = ?`, adminID)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete sessions of admin %s: %w", adminID, mapErr(err))
	}
	n, err := affected(res)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete sessions of admin %s: %w", adminID, err)
	}
	return int(n), nil
}

func (q *queries) PurgeAdminSessions(ctx context.Context, created, seen time.Time, limit int) (int, error) {
	return q.purge(ctx, "admin sessions", "admin_sessions", "hash", `created < ? OR last_seen < ?`, limit, toUnix(created), toUnix(seen))
}

// Outside transactions: reads on the read pool, writes as single statements
// where they are one.

func (s *Store) CreateAdmin(ctx context.Context, a store.Admin) error {
	return s.write(ctx, true, func(q *queries) error { return q.CreateAdmin(ctx, a) })
}

func (s *Store) GetAdmin(ctx context.Context, id string) (store.Admin, error) {
	return s.rq.GetAdmin(ctx, id)
}

func (s *Store) GetAdminByEmail(ctx context.Context, email string) (store.Admin, error) {
	return s.rq.GetAdminByEmail(ctx, email)
}

func (s *Store) ListAdmins(ctx context.Context) ([]store.Admin, error) { return s.rq.ListAdmins(ctx) }

func (s *Store) UpdateAdmin(ctx context.Context, a store.Admin) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateAdmin(ctx, a) })
}

func (s *Store) AdvanceAdminTOTP(ctx context.Context, id string, step int64, at time.Time) error {
	return s.write(ctx, false, func(q *queries) error { return q.AdvanceAdminTOTP(ctx, id, step, at) })
}

func (s *Store) DeleteAdmin(ctx context.Context, id string) error {
	return s.write(ctx, false, func(q *queries) error { return q.DeleteAdmin(ctx, id) })
}

func (s *Store) CreateAdminSession(ctx context.Context, as store.AdminSession) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreateAdminSession(ctx, as) })
}

func (s *Store) GetAdminSession(ctx context.Context, hash []byte) (store.AdminSession, error) {
	return s.rq.GetAdminSession(ctx, hash)
}

func (s *Store) TouchAdminSession(ctx context.Context, as store.AdminSession) error {
	return s.write(ctx, true, func(q *queries) error { return q.TouchAdminSession(ctx, as) })
}

func (s *Store) DeleteAdminSession(ctx context.Context, hash []byte) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteAdminSession(ctx, hash) })
}

func (s *Store) DeleteAdminSessionsOf(ctx context.Context, adminID string) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.DeleteAdminSessionsOf(ctx, adminID) })
}

func (s *Store) PurgeAdminSessions(ctx context.Context, created, seen time.Time, limit int) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.PurgeAdminSessions(ctx, created, seen, limit) })
}

// notEnrolled is true for a user (alias u) with no device, confirmed
// token or security key.
const notEnrolled = `NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = u.id)
	AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.user_id = u.id AND t.confirmed <> 0)
	AND NOT EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.user_id = u.id)`

func (q *queries) ConsoleCounts(ctx context.Context, now time.Time) (store.ConsoleCounts, error) {
	var c store.ConsoleCounts
	err := q.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM users),
		(SELECT COUNT(*) FROM users WHERE status = 'locked out'),
		(SELECT COUNT(*) FROM users WHERE status = 'disabled'),
		(SELECT COUNT(*) FROM users u WHERE `+notEnrolled+`),
		(SELECT COUNT(*) FROM transactions WHERE state = 'pushed' AND expires > ?)`, toUnix(now)).
		Scan(&c.Users, &c.LockedOut, &c.Disabled, &c.NotEnrolled, &c.PendingPushes)
	if err != nil {
		return store.ConsoleCounts{}, fmt.Errorf("sqlstore: console counts: %w", err)
	}
	return c, nil
}

// likeEscape escapes LIKE's wildcards (with \ as the escape character).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (q *queries) ConsoleUsers(ctx context.Context, cq store.ConsoleUserQuery) ([]store.User, int, error) {
	var (
		where []string
		args  []any
	)
	if s := strings.TrimSpace(cq.Search); s != "" {
		norm, err := normUsername(s)
		if err != nil {
			norm = strings.ToLower(s)
		}
		where = append(where, `(username_norm LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\' OR id = ?)`)
		args = append(args, "%"+likeEscape(norm)+"%", "%"+likeEscape(strings.ToLower(s))+"%", s)
	}
	if cq.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(cq.Status))
	}
	if cq.NotEnrolled {
		where = append(where, notEnrolled)
	}
	if cq.GroupID != "" {
		where = append(where, `id IN (SELECT user_id FROM user_group_members WHERE group_id = ?)`)
		args = append(args, cq.GroupID)
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, " AND ")
	}
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM users u`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count console users: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+userCols+` FROM users u`+cond+` ORDER BY username_norm`+q.d.binary+`, id`+q.d.binary+` LIMIT ? OFFSET ?`,
		append(args, max(cq.Limit, 1), max(cq.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: console users: %w", err)
	}
	out, err := collect(rows, scanUser)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: console users: %w", err)
	}
	return out, total, nil
}

func (s *Store) ConsoleCounts(ctx context.Context, now time.Time) (store.ConsoleCounts, error) {
	return s.rq.ConsoleCounts(ctx, now)
}

func (s *Store) ConsoleUsers(ctx context.Context, q store.ConsoleUserQuery) ([]store.User, int, error) {
	return s.rq.ConsoleUsers(ctx, q)
}

package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Self-service portal sessions (store.UserSessionQueries).

const userSessionCols = `hash, user_id, created, last_seen, reauth, ip`

func scanUserSession(r scanner) (store.UserSession, error) {
	var (
		s                       store.UserSession
		created, seen, reauthAt int64
	)
	if err := r.Scan(&s.Hash, &s.UserID, &created, &seen, &reauthAt, &s.IP); err != nil {
		return store.UserSession{}, err
	}
	s.Created, s.LastSeen, s.Reauth = fromUnix(created), fromUnix(seen), fromUnix(reauthAt)
	return s, nil
}

func (q *queries) CreateUserSession(ctx context.Context, s store.UserSession) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, s.UserID); err != nil {
		return fmt.Errorf("sqlstore: create session of user %s: %w", s.UserID, err)
	}
	err := q.insertOne(ctx, `INSERT INTO user_sessions (`+userSessionCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		s.Hash, s.UserID, toUnix(s.Created), toUnix(s.LastSeen), toUnix(s.Reauth), s.IP)
	if err != nil {
		return fmt.Errorf("sqlstore: create session of user %s: %w", s.UserID, err)
	}
	return nil
}

func (q *queries) GetUserSession(ctx context.Context, hash []byte) (store.UserSession, error) {
	s, err := scanUserSession(q.queryRow(ctx, `SELECT `+userSessionCols+` FROM user_sessions WHERE hash = ?`, hash))
	if err != nil {
		return store.UserSession{}, fmt.Errorf("sqlstore: get user session: %w", mapErr(err))
	}
	return s, nil
}

func (q *queries) TouchUserSession(ctx context.Context, s store.UserSession) error {
	if err := q.changeOne(ctx, `UPDATE user_sessions SET last_seen = ?, reauth = ? WHERE hash = ?`,
		toUnix(s.LastSeen), toUnix(s.Reauth), s.Hash); err != nil {
		return fmt.Errorf("sqlstore: touch user session: %w", err)
	}
	return nil
}

func (q *queries) DeleteUserSession(ctx context.Context, hash []byte) error {
	if err := q.changeOne(ctx, `DELETE FROM user_sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("sqlstore: delete user session: %w", err)
	}
	return nil
}

func (q *queries) PurgeUserSessions(ctx context.Context, created, seen time.Time, limit int) (int, error) {
	return q.purge(ctx, "user sessions", "user_sessions", "hash", `created < ? OR last_seen < ?`, limit, toUnix(created), toUnix(seen))
}

func (s *Store) CreateUserSession(ctx context.Context, us store.UserSession) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreateUserSession(ctx, us) })
}

func (s *Store) GetUserSession(ctx context.Context, hash []byte) (store.UserSession, error) {
	return s.rq.GetUserSession(ctx, hash)
}

func (s *Store) TouchUserSession(ctx context.Context, us store.UserSession) error {
	return s.write(ctx, true, func(q *queries) error { return q.TouchUserSession(ctx, us) })
}

func (s *Store) DeleteUserSession(ctx context.Context, hash []byte) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteUserSession(ctx, hash) })
}

func (s *Store) PurgeUserSessions(ctx context.Context, created, seen time.Time, limit int) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.PurgeUserSessions(ctx, created, seen, limit) })
}

func (q *queries) GetDefaultMethod(ctx context.Context, userID string) (string, error) {
	var m string
	if err := q.queryRow(ctx, `SELECT method_id FROM user_default_method WHERE user_id = ?`, userID).Scan(&m); err != nil {
		return "", fmt.Errorf("sqlstore: default method of %s: %w", userID, mapErr(err))
	}
	return m, nil
}

func (q *queries) SetDefaultMethod(ctx context.Context, userID, methodID string, at time.Time) error {
	if methodID == "" {
		if _, err := q.exec(ctx, `DELETE FROM user_default_method WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlstore: forget default method of %s: %w", userID, mapErr(err))
		}
		return nil
	}
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, userID); err != nil {
		return fmt.Errorf("sqlstore: set default method of %s: %w", userID, err)
	}
	_, err := q.exec(ctx,
		`INSERT INTO user_default_method (user_id, method_id, updated) VALUES (?, ?, ?)
		 ON CONFLICT (user_id) DO UPDATE SET method_id = excluded.method_id, updated = excluded.updated`,
		userID, methodID, toUnix(at))
	if err != nil {
		return fmt.Errorf("sqlstore: set default method of %s: %w", userID, mapErr(err))
	}
	return nil
}

func (s *Store) GetDefaultMethod(ctx context.Context, userID string) (string, error) {
	return s.rq.GetDefaultMethod(ctx, userID)
}

func (s *Store) SetDefaultMethod(ctx context.Context, userID, methodID string, at time.Time) error {
	return s.write(ctx, false, func(q *queries) error { return q.SetDefaultMethod(ctx, userID, methodID, at) })
}

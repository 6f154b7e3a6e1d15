package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Guarded writes (store.GuardedQueries): each is one statement whose WHERE
// clause holds what the caller read, so that a row changed in between is
// left alone and reported as store.ErrConflict. On SQLite the write
// transactions run one after another (one writer), so the guard sees every
// earlier commit and every earlier caller of the same batch. On PostgreSQL
// an UPDATE or DELETE waits for a concurrent transaction holding the row
// and then evaluates its WHERE clause again on the row as committed (READ
// COMMITTED), so the guard holds there too; the row stays locked until the
// transaction ends.

// guarded runs a guarded UPDATE or DELETE of one row and reports no row
// changed as store.ErrConflict.
func (q *queries) guarded(ctx context.Context, query string, args ...any) error {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	n, err := affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// forShare locks the selected rows against changes until the end of the
// transaction on engines that lock rows, without blocking other readers
// taking the same lock.
func (q *queries) forShare() string {
	if q.tx && q.d.postgres {
		return " FOR SHARE"
	}
	return ""
}

func (q *queries) UseBypassCode(ctx context.Context, c store.BypassCode) error {
	var err error
	switch {
	case c.RemainingUses < 0:
		err = fmt.Errorf("remaining uses %d: %w", c.RemainingUses, store.ErrConflict)
	case c.RemainingUses == 0:
		var one int
		err = q.queryRow(ctx,
			`SELECT 1 FROM bypass_codes WHERE id = ? AND remaining_uses = 0`+q.forShare(), c.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			err = store.ErrConflict
		}
	case c.RemainingUses == 1:
		err = q.guarded(ctx, `DELETE FROM bypass_codes WHERE id = ? AND remaining_uses = 1`, c.ID)
	default:
		err = q.guarded(ctx,
			`UPDATE bypass_codes SET remaining_uses = remaining_uses - 1 WHERE id = ? AND remaining_uses = ?`,
			c.ID, c.RemainingUses)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: use bypass code %s: %w", c.ID, err)
	}
	return nil
}

func (q *queries) AdvanceHOTPCounter(ctx context.Context, deviceID string, next int64) error {
	err := q.guarded(ctx,
		`UPDATE devices SET hotp_counter = ? WHERE id = ? AND hotp_counter < ?`, next, deviceID, next)
	if err != nil {
		return fmt.Errorf("sqlstore: advance HOTP counter of %s to %d: %w", deviceID, next, err)
	}
	return nil
}

func (q *queries) RecordSuccess(ctx context.Context, userID string, at time.Time) error {
	t := toUnix(at)
	err := q.guarded(ctx,
		`UPDATE users SET failed_attempts = 0, last_login = CASE WHEN last_login < ? THEN ? ELSE last_login END
		 WHERE id = ? AND status = ?`,
		t, t, userID, string(store.StatusActive))
	if err != nil {
		return fmt.Errorf("sqlstore: record success of %s: %w", userID, err)
	}
	return nil
}

func (q *queries) RecordFailure(ctx context.Context, userID string) (int, error) {
	var n int
	err := q.queryRow(ctx,
		`UPDATE users SET failed_attempts = failed_attempts + 1 WHERE id = ? AND status = ? RETURNING failed_attempts`,
		userID, string(store.StatusActive)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: record failure of %s: %w", userID, err)
	}
	return n, nil
}

func (q *queries) LockOut(ctx context.Context, userID, reason string, at time.Time) error {
	err := q.guarded(ctx,
		`UPDATE users SET status = ?, lockout_reason = ?, locked_at = ? WHERE id = ? AND status = ?`,
		string(store.StatusLockedOut), reason, toUnix(at), userID, string(store.StatusActive))
	if err != nil {
		return fmt.Errorf("sqlstore: lock out %s: %w", userID, err)
	}
	return nil
}

// Outside a transaction, each guarded write is its own transaction.

func (s *Store) UseBypassCode(ctx context.Context, c store.BypassCode) error {
	return s.write(ctx, true, func(q *queries) error { return q.UseBypassCode(ctx, c) })
}

func (s *Store) AdvanceHOTPCounter(ctx context.Context, deviceID string, next int64) error {
	return s.write(ctx, true, func(q *queries) error { return q.AdvanceHOTPCounter(ctx, deviceID, next) })
}

func (s *Store) RecordSuccess(ctx context.Context, userID string, at time.Time) error {
	return s.write(ctx, true, func(q *queries) error { return q.RecordSuccess(ctx, userID, at) })
}

func (s *Store) RecordFailure(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.write(ctx, true, func(q *queries) error {
		var err error
		n, err = q.RecordFailure(ctx, userID)
		return err
	})
	return n, err
}

func (s *Store) LockOut(ctx context.Context, userID, reason string, at time.Time) error {
	return s.write(ctx, true, func(q *queries) error { return q.LockOut(ctx, userID, reason, at) })
}

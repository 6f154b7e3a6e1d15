package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// The console's reads of the logs (store.ConsoleLogQueries).

func (q *queries) GetAuthLog(ctx context.Context, id int64) (store.AuthLog, error) {
	l, err := scanAuthLog(q.queryRow(ctx, `SELECT `+authLogCols+` FROM auth_log WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuthLog{}, fmt.Errorf("sqlstore: auth log row %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.AuthLog{}, fmt.Errorf("sqlstore: auth log row %d: %w", id, err)
	}
	return l, nil
}

func (q *queries) GetAdminLog(ctx context.Context, id int64) (store.AdminLog, error) {
	l, err := scanAdminLog(q.queryRow(ctx, `SELECT `+adminLogCols+` FROM admin_log WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AdminLog{}, fmt.Errorf("sqlstore: admin log row %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.AdminLog{}, fmt.Errorf("sqlstore: admin log row %d: %w", id, err)
	}
	return l, nil
}

// CountAuthLog buckets in SQL: time is whole seconds since the epoch (an
// integer on both engines), so time / width * width is the bucket's start
// (integer division; times are positive). The window is read through
// auth_log_time; no other index is needed, and none is added to the
// auth log, whose every insert is on the decision's hot path.
func (q *queries) CountAuthLog(ctx context.Context, min, max time.Time, width time.Duration) ([]store.AuthLogCount, error) {
	w := int64(width / time.Second)
	if w <= 0 {
		return nil, fmt.Errorf("sqlstore: count auth log: bucket width %v is under a second", width)
	}
	// The width is an integer of ours, written in the statement: with
	// parameters, PostgreSQL would not see the SELECT's and the GROUP BY's
	// expressions as one.
	b := fmt.Sprintf("time / %d * %d", w, w)
	rows, err := q.query(ctx, `SELECT `+b+`, result, reason, COUNT(*) FROM auth_log
		WHERE time >= ? AND time < ? GROUP BY `+b+`, result, reason
		ORDER BY `+b+`, result`+q.d.binary+`, reason`+q.d.binary,
		toUnix(min), toUnix(max))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count auth log: %w", err)
	}
	out, err := collect(rows, func(r scanner) (store.AuthLogCount, error) {
		var (
			c  store.AuthLogCount
			at int64
		)
		err := r.Scan(&at, &c.Result, &c.Reason, &c.N)
		c.Start = time.Unix(at, 0).UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count auth log: %w", err)
	}
	return out, nil
}

// ListPendingPushes reads through transactions_expires: pushes expire
// within minutes, so the unexpired ones are few.
func (q *queries) ListPendingPushes(ctx context.Context, now time.Time, limit int) ([]store.Transaction, error) {
	rows, err := q.query(ctx, `SELECT `+transactionCols+` FROM transactions WHERE state = ? AND expires > ?
		ORDER BY created DESC, id`+q.d.binary+` DESC LIMIT ?`, store.TxPushed, toUnix(now), max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pending pushes: %w", err)
	}
	out, err := collect(rows, scanTransaction)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pending pushes: %w", err)
	}
	return out, nil
}

func (s *Store) ListPendingPushes(ctx context.Context, now time.Time, limit int) ([]store.Transaction, error) {
	return s.rq.ListPendingPushes(ctx, now, limit)
}

func (s *Store) GetAuthLog(ctx context.Context, id int64) (store.AuthLog, error) {
	return s.rq.GetAuthLog(ctx, id)
}

func (s *Store) GetAdminLog(ctx context.Context, id int64) (store.AdminLog, error) {
	return s.rq.GetAdminLog(ctx, id)
}

func (s *Store) CountAuthLog(ctx context.Context, min, max time.Time, width time.Duration) ([]store.AuthLogCount, error) {
	return s.rq.CountAuthLog(ctx, min, max, width)
}

package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Retention (store.PurgeQueries). Each purge is one statement deleting the
// first limit matching rows by primary key, the same on both engines.

func (q *queries) purge(ctx context.Context, what, table, key, where string, limit int, args ...any) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("sqlstore: purge %s: limit must be positive", what)
	}
	res, err := q.exec(ctx, `DELETE FROM `+table+` WHERE `+key+` IN (SELECT `+key+` FROM `+table+` WHERE `+where+` LIMIT ?)`,
		append(args, limit)...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge %s: %w", what, err)
	}
	n, err := affected(res)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge %s: %w", what, err)
	}
	return int(n), nil
}

func (q *queries) PurgeTransactions(ctx context.Context, before time.Time, limit int) (int, error) {
	return q.purge(ctx, "transactions", "transactions", "id", `expires < ?`, limit, toUnix(before))
}

func (q *queries) PurgeActivations(ctx context.Context, before time.Time, limit int) (int, error) {
	return q.purge(ctx, "activations", "activations", "code_hash", `expires <> 0 AND expires < ?`, limit, toUnix(before))
}

func (q *queries) PurgeOnetime(ctx context.Context, now time.Time, limit int) (int, error) {
	return q.purge(ctx, "one-time tokens", "onetime_tokens", "hash", `expires <= ?`, limit, toUnix(now))
}

func (q *queries) PurgeAuthLog(ctx context.Context, before time.Time, limit int) (int, error) {
	return q.purge(ctx, "auth log", "auth_log", "id", `time < ?`, limit, toUnix(before))
}

// Outside a transaction each purge is its own write.

func (s *Store) purgeWrite(ctx context.Context, fn func(q *queries) (int, error)) (int, error) {
	var n int
	err := s.write(ctx, true, func(q *queries) error {
		var err error
		n, err = fn(q)
		return err
	})
	return n, err
}

func (s *Store) PurgeTransactions(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.PurgeTransactions(ctx, before, limit) })
}

func (s *Store) PurgeActivations(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.PurgeActivations(ctx, before, limit) })
}

func (s *Store) PurgeOnetime(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.PurgeOnetime(ctx, now, limit) })
}

func (s *Store) PurgeAuthLog(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.PurgeAuthLog(ctx, before, limit) })
}

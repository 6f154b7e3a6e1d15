package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Single-use tokens (store.OnetimeQueries). The hash is a credential's
// digest: errors name the kind, never the hash.

const onetimeCols = `hash, kind, payload, expires, created`

func scanOnetime(r scanner) (store.Onetime, error) {
	var (
		o                store.Onetime
		expires, created int64
	)
	if err := r.Scan(&o.Hash, &o.Kind, &o.Payload, &expires, &created); err != nil {
		return store.Onetime{}, err
	}
	if o.Payload == nil {
		o.Payload = []byte{}
	}
	o.Expires = fromUnix(expires)
	o.Created = fromUnix(created)
	return o, nil
}

func (q *queries) PutOnetime(ctx context.Context, o store.Onetime) error {
	// Purging here keeps the table small without a background job; the
	// expires index makes it cheap.
	if _, err := q.exec(ctx, `DELETE FROM onetime_tokens WHERE expires <= ?`, toUnix(o.Created)); err != nil {
		return fmt.Errorf("sqlstore: put %s token: purge expired: %w", o.Kind, err)
	}
	// The purge removed any expired row with this hash, so a conflict left
	// is a live token.
	err := q.insertOne(ctx,
		`INSERT INTO onetime_tokens (`+onetimeCols+`) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		blob(o.Hash), o.Kind, blob(o.Payload), toUnix(o.Expires), toUnix(o.Created))
	if err != nil {
		return fmt.Errorf("sqlstore: put %s token: %w", o.Kind, err)
	}
	return nil
}

func (q *queries) GetOnetime(ctx context.Context, kind string, hash []byte, now time.Time) (store.Onetime, error) {
	o, err := scanOnetime(q.queryRow(ctx,
		`SELECT `+onetimeCols+` FROM onetime_tokens WHERE hash = ? AND kind = ? AND expires > ?`,
		blob(hash), kind, toUnix(now)))
	if err != nil {
		return store.Onetime{}, fmt.Errorf("sqlstore: get %s token: %w", kind, mapErr(err))
	}
	return o, nil
}

func (q *queries) TakeOnetime(ctx context.Context, kind string, hash []byte, now time.Time) (store.Onetime, error) {
	// One statement: of concurrent takers only the one whose DELETE removed
	// the row sees it returned.
	o, err := scanOnetime(q.queryRow(ctx,
		`DELETE FROM onetime_tokens WHERE hash = ? AND kind = ? AND expires > ? RETURNING `+onetimeCols,
		blob(hash), kind, toUnix(now)))
	if err != nil {
		return store.Onetime{}, fmt.Errorf("sqlstore: take %s token: %w", kind, mapErr(err))
	}
	return o, nil
}

func (s *Store) PutOnetime(ctx context.Context, o store.Onetime) error {
	return s.write(ctx, false, func(q *queries) error { return q.PutOnetime(ctx, o) })
}

func (s *Store) GetOnetime(ctx context.Context, kind string, hash []byte, now time.Time) (store.Onetime, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return store.Onetime{}, err
	}
	return q.GetOnetime(ctx, kind, hash, now)
}

func (s *Store) TakeOnetime(ctx context.Context, kind string, hash []byte, now time.Time) (store.Onetime, error) {
	var o store.Onetime
	err := s.write(ctx, true, func(q *queries) error {
		var err error
		o, err = q.TakeOnetime(ctx, kind, hash, now)
		return err
	})
	return o, err
}

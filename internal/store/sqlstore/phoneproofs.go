package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/assent-auth/assent/internal/store"
)

// Phone numbers being added in the portal (store.PhoneProofQueries): one
// row per user.

const phoneProofCols = `user_id, number, extension, name, hash, attempts, created, expires`

func scanPhoneProof(r scanner) (store.PhoneProof, error) {
	var (
		p                store.PhoneProof
		created, expires int64
	)
	if err := r.Scan(&p.UserID, &p.Number, &p.Extension, &p.Name, &p.Hash, &p.Attempts, &created, &expires); err != nil {
		return store.PhoneProof{}, err
	}
	p.Created, p.Expires = fromUnix(created), fromUnix(expires)
	return p, nil
}

func (q *queries) PutPhoneProof(ctx context.Context, p store.PhoneProof) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, p.UserID); err != nil {
		return fmt.Errorf("sqlstore: put phone proof of %s: %w", p.UserID, err)
	}
	_, err := q.exec(ctx, `INSERT INTO phone_proofs (`+phoneProofCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET number = excluded.number, extension = excluded.extension, name = excluded.name,
		hash = excluded.hash, attempts = excluded.attempts, created = excluded.created, expires = excluded.expires`,
		p.UserID, p.Number, p.Extension, p.Name, blob(p.Hash), p.Attempts, toUnix(p.Created), toUnix(p.Expires))
	if err != nil {
		return fmt.Errorf("sqlstore: put phone proof of %s: %w", p.UserID, err)
	}
	return nil
}

func (q *queries) GetPhoneProof(ctx context.Context, userID string) (store.PhoneProof, error) {
	p, err := scanPhoneProof(q.queryRow(ctx, `SELECT `+phoneProofCols+` FROM phone_proofs WHERE user_id = ?`+q.forUpdate(), userID))
	if err != nil {
		return store.PhoneProof{}, fmt.Errorf("sqlstore: get phone proof of %s: %w", userID, mapErr(err))
	}
	return p, nil
}

func (q *queries) CountPhoneProofFailure(ctx context.Context, userID string) error {
	if err := q.changeOne(ctx, `UPDATE phone_proofs SET attempts = attempts + 1 WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlstore: count phone proof failure of %s: %w", userID, err)
	}
	return nil
}

func (q *queries) DeletePhoneProof(ctx context.Context, userID string) error {
	err := q.changeOne(ctx, `DELETE FROM phone_proofs WHERE user_id = ?`, userID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: delete phone proof of %s: %w", userID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: delete phone proof of %s: %w", userID, err)
	}
	return nil
}

func (s *Store) PutPhoneProof(ctx context.Context, p store.PhoneProof) error {
	return s.write(ctx, false, func(q *queries) error { return q.PutPhoneProof(ctx, p) })
}

func (s *Store) GetPhoneProof(ctx context.Context, userID string) (store.PhoneProof, error) {
	return s.rq.GetPhoneProof(ctx, userID)
}

func (s *Store) CountPhoneProofFailure(ctx context.Context, userID string) error {
	return s.write(ctx, true, func(q *queries) error { return q.CountPhoneProofFailure(ctx, userID) })
}

func (s *Store) DeletePhoneProof(ctx context.Context, userID string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeletePhoneProof(ctx, userID) })
}

package sqlstore

import (
	"context"
	"fmt"

	"github.com/assent-auth/assent/internal/store"
)

// Authenticator apps and hardware tokens (store.TokenQueries).

// tokenCols are the columns a token is read from; user_id is NULL for an
// unassigned hardware token, read as "".
const tokenCols = `id, COALESCE(user_id, ''), kind, serial, name, secret_enc, algorithm, digits, period, counter, drift,
	public_id, private_id_enc, aes_key_enc, confirmed, created, last_used`

func scanToken(r scanner) (store.Token, error) {
	var (
		t                 store.Token
		kind              string
		confirmed         int64
		created, lastUsed int64
	)
	if err := r.Scan(&t.ID, &t.UserID, &kind, &t.Serial, &t.Name, &t.SecretEnc, &t.Algorithm, &t.Digits,
		&t.Period, &t.Counter, &t.Drift, &t.PublicID, &t.PrivateIDEnc, &t.AESKeyEnc, &confirmed,
		&created, &lastUsed); err != nil {
		return store.Token{}, err
	}
	t.Kind = store.TokenKind(kind)
	t.Confirmed = confirmed != 0
	t.Created = fromUnix(created)
	t.LastUsed = fromUnix(lastUsed)
	return t, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (q *queries) CreateToken(ctx context.Context, t store.Token) error {
	if t.UserID != "" {
		if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, t.UserID); err != nil {
			return fmt.Errorf("sqlstore: create token %s: user %s: %w", t.ID, t.UserID, err)
		}
	}
	// ON CONFLICT DO NOTHING covers every unique index: the ID, a hardware
	// serial and a YubiKey public ID.
	err := q.insertOne(ctx,
		`INSERT INTO tokens (id, user_id, kind, serial, name, secret_enc, algorithm, digits, period, counter, drift,
		 public_id, private_id_enc, aes_key_enc, confirmed, created, last_used)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		t.ID, nullIfEmpty(t.UserID), string(t.Kind), t.Serial, t.Name, blob(t.SecretEnc), t.Algorithm, t.Digits,
		t.Period, t.Counter, t.Drift, t.PublicID, blob(t.PrivateIDEnc), blob(t.AESKeyEnc), boolInt(t.Confirmed),
		toUnix(t.Created), toUnix(t.LastUsed))
	if err != nil {
		return fmt.Errorf("sqlstore: create token %s: %w", t.ID, err)
	}
	return nil
}

func (q *queries) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := scanToken(q.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlstore: get token %s: %w", id, mapErr(err))
	}
	return t, nil
}

func (q *queries) GetTokenBySerial(ctx context.Context, serial string) (store.Token, error) {
	t, err := scanToken(q.queryRow(ctx,
		`SELECT `+tokenCols+` FROM tokens WHERE serial = ? AND kind <> ?`+q.forUpdate(), serial, string(store.TokenTOTPApp)))
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlstore: get token with serial %q: %w", serial, mapErr(err))
	}
	return t, nil
}

func (q *queries) ListTokens(ctx context.Context, userID string) ([]store.Token, error) {
	rows, err := q.query(ctx,
		`SELECT `+tokenCols+` FROM tokens WHERE user_id = ? ORDER BY created, id`+q.d.binary, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tokens of %s: %w", userID, err)
	}
	out, err := collect(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tokens of %s: %w", userID, err)
	}
	return out, nil
}

func (q *queries) ListHardwareTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := q.query(ctx,
		`SELECT `+tokenCols+` FROM tokens WHERE kind <> ? ORDER BY serial`+q.d.binary, string(store.TokenTOTPApp))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list hardware tokens: %w", err)
	}
	out, err := collect(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list hardware tokens: %w", err)
	}
	return out, nil
}

func (q *queries) UpdateToken(ctx context.Context, t store.Token) error {
	if t.UserID != "" {
		if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, t.UserID); err != nil {
			return fmt.Errorf("sqlstore: update token %s: user %s: %w", t.ID, t.UserID, err)
		}
	}
	err := q.changeOne(ctx, `UPDATE tokens SET user_id = ?, name = ?, confirmed = ? WHERE id = ?`,
		nullIfEmpty(t.UserID), t.Name, boolInt(t.Confirmed), t.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update token %s: %w", t.ID, err)
	}
	return nil
}

func (q *queries) DeleteToken(ctx context.Context, id string) error {
	if err := q.changeOne(ctx, `DELETE FROM tokens WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete token %s: %w", id, err)
	}
	return nil
}

// deleteUserTokens deletes the user's apps and unassigns their hardware
// tokens (DeleteUser).
func (q *queries) deleteUserTokens(ctx context.Context, userID string) error {
	if _, err := q.exec(ctx, `DELETE FROM tokens WHERE user_id = ? AND kind = ?`, userID, string(store.TokenTOTPApp)); err != nil {
		return fmt.Errorf("apps: %w", err)
	}
	if _, err := q.exec(ctx, `UPDATE tokens SET user_id = NULL WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	return nil
}

func (q *queries) AdvanceTokenCounter(ctx context.Context, u store.TokenUse) error {
	query := `UPDATE tokens SET counter = ?, drift = ?, last_used = ? WHERE id = ? AND counter < ?`
	if u.Confirm {
		query = `UPDATE tokens SET counter = ?, drift = ?, last_used = ?, confirmed = 1 WHERE id = ? AND counter < ?`
	}
	if err := q.guarded(ctx, query, u.Next, u.Drift, toUnix(u.At), u.ID, u.Next); err != nil {
		return fmt.Errorf("sqlstore: advance counter of token %s to %d: %w", u.ID, u.Next, err)
	}
	return nil
}

// Reads outside transactions use the read pool; writes the write pool.

func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	return s.rq.GetToken(ctx, id)
}

func (s *Store) GetTokenBySerial(ctx context.Context, serial string) (store.Token, error) {
	return s.rq.GetTokenBySerial(ctx, serial)
}

func (s *Store) ListTokens(ctx context.Context, userID string) ([]store.Token, error) {
	return s.rq.ListTokens(ctx, userID)
}

func (s *Store) ListHardwareTokens(ctx context.Context) ([]store.Token, error) {
	return s.rq.ListHardwareTokens(ctx)
}

func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreateToken(ctx, t) })
}

func (s *Store) UpdateToken(ctx context.Context, t store.Token) error {
	return s.write(ctx, false, func(q *queries) error { return q.UpdateToken(ctx, t) })
}

func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteToken(ctx, id) })
}

func (s *Store) AdvanceTokenCounter(ctx context.Context, u store.TokenUse) error {
	return s.write(ctx, true, func(q *queries) error { return q.AdvanceTokenCounter(ctx, u) })
}

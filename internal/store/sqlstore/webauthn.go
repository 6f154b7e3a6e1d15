package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// WebAuthn credentials and the last prompt method (store.WebAuthnQueries).

const webauthnCols = `id, user_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports, name,
	backup_eligible, backup_state, created, last_used`

func scanWebAuthn(r scanner) (store.WebAuthnCredential, error) {
	var (
		c                 store.WebAuthnCredential
		count, be, bs     int64
		transports        string
		created, lastUsed int64
	)
	if err := r.Scan(&c.ID, &c.UserID, &c.CredentialID, &c.PublicKey, &c.AttestationType, &c.AAGUID, &count,
		&transports, &c.Name, &be, &bs, &created, &lastUsed); err != nil {
		return store.WebAuthnCredential{}, err
	}
	c.SignCount = uint32(count)
	if transports != "" {
		c.Transports = strings.Split(transports, ",")
	}
	c.BackupEligible, c.BackupState = be != 0, bs != 0
	c.Created, c.LastUsed = fromUnix(created), fromUnix(lastUsed)
	return c, nil
}

func (q *queries) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, c.UserID); err != nil {
		return fmt.Errorf("sqlstore: create WebAuthn credential %s: user %s: %w", c.ID, c.UserID, err)
	}
	err := q.insertOne(ctx,
		`INSERT INTO webauthn_credentials (`+webauthnCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.ID, c.UserID, blob(c.CredentialID), blob(c.PublicKey), c.AttestationType, blob(c.AAGUID), int64(c.SignCount),
		strings.Join(c.Transports, ","), c.Name, flag(c.BackupEligible), flag(c.BackupState),
		toUnix(c.Created), toUnix(c.LastUsed))
	if err != nil {
		return fmt.Errorf("sqlstore: create WebAuthn credential %s: %w", c.ID, err)
	}
	return nil
}

func (q *queries) GetWebAuthnCredential(ctx context.Context, id string) (store.WebAuthnCredential, error) {
	c, err := scanWebAuthn(q.queryRow(ctx, `SELECT `+webauthnCols+` FROM webauthn_credentials WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("sqlstore: get WebAuthn credential %s: %w", id, mapErr(err))
	}
	return c, nil
}

func (q *queries) ListWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	rows, err := q.query(ctx,
		`SELECT `+webauthnCols+` FROM webauthn_credentials WHERE (? = '' OR user_id = ?) ORDER BY created, id`+q.d.binary, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list WebAuthn credentials of %s: %w", userID, err)
	}
	out, err := collect(rows, scanWebAuthn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list WebAuthn credentials of %s: %w", userID, err)
	}
	return out, nil
}

func (q *queries) RenameWebAuthnCredential(ctx context.Context, id, name string) error {
	if err := q.changeOne(ctx, `UPDATE webauthn_credentials SET name = ? WHERE id = ?`, name, id); err != nil {
		return fmt.Errorf("sqlstore: rename WebAuthn credential %s: %w", id, err)
	}
	return nil
}

func (q *queries) DeleteWebAuthnCredential(ctx context.Context, id string) error {
	if err := q.changeOne(ctx, `DELETE FROM webauthn_credentials WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete WebAuthn credential %s: %w", id, err)
	}
	return nil
}

func (q *queries) UseWebAuthnCredential(ctx context.Context, id string, prev, next uint32, backupState bool, at time.Time) error {
	t := toUnix(at)
	err := q.guarded(ctx,
		`UPDATE webauthn_credentials SET sign_count = ?, backup_state = ?,
		 last_used = CASE WHEN last_used < ? THEN ? ELSE last_used END
		 WHERE id = ? AND sign_count = ?`,
		int64(next), flag(backupState), t, t, id, int64(prev))
	if err != nil {
		return fmt.Errorf("sqlstore: use WebAuthn credential %s (counter %d → %d): %w", id, prev, next, err)
	}
	return nil
}

func (q *queries) GetLastMethod(ctx context.Context, userID string) (string, error) {
	var m string
	if err := q.queryRow(ctx, `SELECT method FROM user_last_method WHERE user_id = ?`, userID).Scan(&m); err != nil {
		return "", fmt.Errorf("sqlstore: last method of %s: %w", userID, mapErr(err))
	}
	return m, nil
}

func (q *queries) SetLastMethod(ctx context.Context, userID, method string, at time.Time) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, userID); err != nil {
		return fmt.Errorf("sqlstore: set last method of %s: %w", userID, err)
	}
	_, err := q.exec(ctx,
		`INSERT INTO user_last_method (user_id, method, updated) VALUES (?, ?, ?)
		 ON CONFLICT (user_id) DO UPDATE SET method = excluded.method, updated = excluded.updated`,
		userID, method, toUnix(at))
	if err != nil {
		return fmt.Errorf("sqlstore: set last method of %s: %w", userID, mapErr(err))
	}
	return nil
}

// Outside transactions: reads on the read pool, writes as single statements.

func (s *Store) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreateWebAuthnCredential(ctx, c) })
}

func (s *Store) GetWebAuthnCredential(ctx context.Context, id string) (store.WebAuthnCredential, error) {
	return s.rq.GetWebAuthnCredential(ctx, id)
}

func (s *Store) ListWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	return s.rq.ListWebAuthnCredentials(ctx, userID)
}

func (s *Store) RenameWebAuthnCredential(ctx context.Context, id, name string) error {
	return s.write(ctx, true, func(q *queries) error { return q.RenameWebAuthnCredential(ctx, id, name) })
}

func (s *Store) DeleteWebAuthnCredential(ctx context.Context, id string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteWebAuthnCredential(ctx, id) })
}

func (s *Store) UseWebAuthnCredential(ctx context.Context, id string, prev, next uint32, backupState bool, at time.Time) error {
	return s.write(ctx, true, func(q *queries) error { return q.UseWebAuthnCredential(ctx, id, prev, next, backupState, at) })
}

func (s *Store) GetLastMethod(ctx context.Context, userID string) (string, error) {
	return s.rq.GetLastMethod(ctx, userID)
}

func (s *Store) SetLastMethod(ctx context.Context, userID, method string, at time.Time) error {
	return s.write(ctx, false, func(q *queries) error { return q.SetLastMethod(ctx, userID, method, at) })
}

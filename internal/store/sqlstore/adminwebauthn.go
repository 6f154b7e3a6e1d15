package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Console administrators' security keys and passkeys
// (store.AdminAccountQueries): the columns of webauthn_credentials, with
// admin_id for user_id.

const adminWebAuthnCols = `id, admin_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports, name,
	backup_eligible, backup_state, created, last_used`

func (q *queries) CreateAdminWebAuthn(ctx context.Context, c store.WebAuthnCredential) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM admins WHERE id = ?`, c.UserID); err != nil {
		return fmt.Errorf("sqlstore: create security key %s: admin %s: %w", c.ID, c.UserID, err)
	}
	err := q.insertOne(ctx,
		`INSERT INTO admin_webauthn_credentials (`+adminWebAuthnCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.ID, c.UserID, blob(c.CredentialID), blob(c.PublicKey), c.AttestationType, blob(c.AAGUID), int64(c.SignCount),
		strings.Join(c.Transports, ","), c.Name, flag(c.BackupEligible), flag(c.BackupState),
		toUnix(c.Created), toUnix(c.LastUsed))
	if err != nil {
		return fmt.Errorf("sqlstore: create security key %s of admin %s: %w", c.ID, c.UserID, err)
	}
	return nil
}

func (q *queries) ListAdminWebAuthn(ctx context.Context, adminID string) ([]store.WebAuthnCredential, error) {
	rows, err := q.query(ctx,
		`SELECT `+adminWebAuthnCols+` FROM admin_webauthn_credentials WHERE admin_id = ? ORDER BY created, id`+q.d.binary, adminID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list security keys of admin %s: %w", adminID, err)
	}
	out, err := collect(rows, scanWebAuthn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list security keys of admin %s: %w", adminID, err)
	}
	return out, nil
}

func (q *queries) DeleteAdminWebAuthn(ctx context.Context, id string) error {
	if err := q.changeOne(ctx, `DELETE FROM admin_webauthn_credentials WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete security key %s: %w", id, err)
	}
	return nil
}

func (q *queries) DeleteAdminWebAuthnOf(ctx context.Context, adminID string) (int, error) {
	res, err := q.exec(ctx, `DELETE FROM admin_webauthn_credentials WHERE admin_id = ?`, adminID)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete security keys of admin %s: %w", adminID, mapErr(err))
	}
	n, err := affected(res)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete security keys of admin %s: %w", adminID, err)
	}
	return int(n), nil
}

func (q *queries) UseAdminWebAuthn(ctx context.Context, id string, prev, next uint32, backupState bool, at time.Time) error {
	t := toUnix(at)
	err := q.guarded(ctx,
		`UPDATE admin_webauthn_credentials SET sign_count = ?, backup_state = ?,
		 last_used = CASE WHEN last_used < ? THEN ? ELSE last_used END
		 WHERE id = ? AND sign_count = ?`,
		int64(next), flag(backupState), t, t, id, int64(prev))
	if err != nil {
		return fmt.Errorf("sqlstore: use security key %s (counter %d → %d): %w", id, prev, next, err)
	}
	return nil
}

// Outside transactions.

func (s *Store) CreateAdminWebAuthn(ctx context.Context, c store.WebAuthnCredential) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreateAdminWebAuthn(ctx, c) })
}

func (s *Store) ListAdminWebAuthn(ctx context.Context, adminID string) ([]store.WebAuthnCredential, error) {
	return s.rq.ListAdminWebAuthn(ctx, adminID)
}

func (s *Store) DeleteAdminWebAuthn(ctx context.Context, id string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteAdminWebAuthn(ctx, id) })
}

func (s *Store) DeleteAdminWebAuthnOf(ctx context.Context, adminID string) (int, error) {
	return s.purgeWrite(ctx, func(q *queries) (int, error) { return q.DeleteAdminWebAuthnOf(ctx, adminID) })
}

func (s *Store) UseAdminWebAuthn(ctx context.Context, id string, prev, next uint32, backupState bool, at time.Time) error {
	return s.write(ctx, true, func(q *queries) error { return q.UseAdminWebAuthn(ctx, id, prev, next, backupState, at) })
}

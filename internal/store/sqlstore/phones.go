package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/assent-auth/assent/internal/store"
)

// Pending phones (store.PhoneQueries). user_id is NULL while a phone has no
// user, so that it can be a foreign key; the store reads and writes that
// as "".

const pendingPhoneCols = `id, COALESCE(user_id, ''), name, type, platform, number, extension, predelay, postdelay, created`

func scanPendingPhone(r scanner) (store.PendingPhone, error) {
	var (
		p       store.PendingPhone
		created int64
	)
	if err := r.Scan(&p.ID, &p.UserID, &p.Name, &p.Type, &p.Platform, &p.Number, &p.Extension, &p.Predelay, &p.Postdelay,
		&created); err != nil {
		return store.PendingPhone{}, err
	}
	p.Created = fromUnix(created)
	return p, nil
}

// nullableID is s, or NULL for "".
func nullableID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (q *queries) CreatePendingPhone(ctx context.Context, p store.PendingPhone) error {
	if p.UserID != "" {
		if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, p.UserID); err != nil {
			return fmt.Errorf("sqlstore: create pending phone %s: user %s: %w", p.ID, p.UserID, err)
		}
	}
	switch err := q.requireRow(ctx, `SELECT 1 FROM devices WHERE id = ?`, p.ID); {
	case err == nil:
		return fmt.Errorf("sqlstore: create pending phone %s: a device has that ID: %w", p.ID, store.ErrAlreadyExists)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("sqlstore: create pending phone %s: %w", p.ID, err)
	}
	err := q.insertOne(ctx, `INSERT INTO pending_phones (id, user_id, name, type, platform, number, extension, predelay, postdelay, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.ID, nullableID(p.UserID), p.Name, p.Type, p.Platform, p.Number, p.Extension, p.Predelay, p.Postdelay, toUnix(p.Created))
	if err != nil {
		return fmt.Errorf("sqlstore: create pending phone %s: %w", p.ID, err)
	}
	return nil
}

func (q *queries) GetPendingPhone(ctx context.Context, id string) (store.PendingPhone, error) {
	p, err := scanPendingPhone(q.queryRow(ctx, `SELECT `+pendingPhoneCols+` FROM pending_phones WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.PendingPhone{}, fmt.Errorf("sqlstore: get pending phone %s: %w", id, mapErr(err))
	}
	return p, nil
}

func (q *queries) ListPendingPhones(ctx context.Context, userID string) ([]store.PendingPhone, error) {
	query, args := `SELECT `+pendingPhoneCols+` FROM pending_phones`, []any{}
	if userID != "" {
		query, args = query+` WHERE user_id = ?`, append(args, userID)
	}
	rows, err := q.query(ctx, query+` ORDER BY created, id`+q.d.binary, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pending phones: %w", err)
	}
	out, err := collect(rows, scanPendingPhone)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pending phones: %w", err)
	}
	return out, nil
}

func (q *queries) UpdatePendingPhone(ctx context.Context, p store.PendingPhone) error {
	if p.UserID != "" {
		if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, p.UserID); err != nil {
			return fmt.Errorf("sqlstore: update pending phone %s: user %s: %w", p.ID, p.UserID, err)
		}
	}
	err := q.changeOne(ctx, `UPDATE pending_phones SET user_id = ?, name = ?, type = ?, platform = ?, number = ?, extension = ?,
		predelay = ?, postdelay = ? WHERE id = ?`,
		nullableID(p.UserID), p.Name, p.Type, p.Platform, p.Number, p.Extension, p.Predelay, p.Postdelay, p.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update pending phone %s: %w", p.ID, err)
	}
	return nil
}

func (q *queries) DeletePendingPhone(ctx context.Context, id string) error {
	if err := q.changeOne(ctx, `DELETE FROM pending_phones WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete pending phone %s: %w", id, err)
	}
	return nil
}

func (q *queries) ListDevicesPage(ctx context.Context, offset, limit int) ([]store.Device, int, error) {
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM devices`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count devices: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+deviceCols+` FROM devices ORDER BY created, id`+q.d.binary+` LIMIT ? OFFSET ?`,
		max(limit, 1), max(offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: list devices: %w", err)
	}
	out, err := collect(rows, scanDevice)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: list devices: %w", err)
	}
	return out, total, nil
}

// Outside transactions: reads on the read pool, writes as single statements
// where they are one.

func (s *Store) CreatePendingPhone(ctx context.Context, p store.PendingPhone) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreatePendingPhone(ctx, p) })
}

func (s *Store) GetPendingPhone(ctx context.Context, id string) (store.PendingPhone, error) {
	return s.rq.GetPendingPhone(ctx, id)
}

func (s *Store) ListPendingPhones(ctx context.Context, userID string) ([]store.PendingPhone, error) {
	return s.rq.ListPendingPhones(ctx, userID)
}

func (s *Store) UpdatePendingPhone(ctx context.Context, p store.PendingPhone) error {
	return s.write(ctx, p.UserID == "", func(q *queries) error { return q.UpdatePendingPhone(ctx, p) })
}

func (s *Store) DeletePendingPhone(ctx context.Context, id string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeletePendingPhone(ctx, id) })
}

func (s *Store) ListDevicesPage(ctx context.Context, offset, limit int) ([]store.Device, int, error) {
	return s.rq.ListDevicesPage(ctx, offset, limit)
}

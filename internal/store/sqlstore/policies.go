package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Policies (migration 0024): one row per (ikey, group_id), the settings as
// JSON text. They are read with their integration (GetIntegration,
// ListIntegrations), which is cached by IntegrationsVersion; triggers move
// that version with every change of a policy.

const policyCols = `ikey, group_id, settings, updated`

func scanPolicy(row scanner) (store.Policy, error) {
	var (
		p        store.Policy
		settings string
		updated  int64
	)
	if err := row.Scan(&p.IKey, &p.GroupID, &settings, &updated); err != nil {
		return store.Policy{}, err
	}
	if err := json.Unmarshal([]byte(settings), &p.Settings); err != nil {
		return store.Policy{}, fmt.Errorf("policy %q/%q: settings: %w", p.IKey, p.GroupID, err)
	}
	p.Updated = fromUnix(updated)
	return p, nil
}

func (q *queries) PutPolicy(ctx context.Context, p store.Policy) error {
	if p.IKey != "" {
		if err := q.requireRow(ctx, `SELECT 1 FROM integrations WHERE ikey = ?`, p.IKey); err != nil {
			return fmt.Errorf("sqlstore: put policy: integration %s: %w", p.IKey, err)
		}
	}
	if p.GroupID != "" {
		if err := q.requireRow(ctx, `SELECT 1 FROM user_groups WHERE id = ?`, p.GroupID); err != nil {
			return fmt.Errorf("sqlstore: put policy: group %s: %w", p.GroupID, err)
		}
	}
	settings, err := json.Marshal(p.Settings)
	if err != nil {
		return fmt.Errorf("sqlstore: put policy: %w", err)
	}
	if _, err := q.exec(ctx, `INSERT INTO policies (`+policyCols+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (ikey, group_id) DO UPDATE SET settings = excluded.settings, updated = excluded.updated`,
		p.IKey, p.GroupID, string(settings), toUnix(p.Updated)); err != nil {
		return fmt.Errorf("sqlstore: put policy %q/%q: %w", p.IKey, p.GroupID, mapErr(err))
	}
	return nil
}

func (q *queries) DeletePolicy(ctx context.Context, ikey, groupID string) error {
	if err := q.changeOne(ctx, `DELETE FROM policies WHERE ikey = ? AND group_id = ?`, ikey, groupID); err != nil {
		return fmt.Errorf("sqlstore: delete policy %q/%q: %w", ikey, groupID, err)
	}
	return nil
}

func (q *queries) ListPolicies(ctx context.Context) ([]store.Policy, error) {
	rows, err := q.query(ctx, `SELECT `+policyCols+` FROM policies ORDER BY ikey`+q.d.binary+`, group_id`+q.d.binary)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list policies: %w", err)
	}
	out, err := collect(rows, scanPolicy)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list policies: %w", err)
	}
	return out, nil
}

// integrationPolicies reads the global policy and ikey's policies.
func (q *queries) integrationPolicies(ctx context.Context, ikey string) ([]store.Policy, error) {
	rows, err := q.query(ctx, `SELECT `+policyCols+` FROM policies WHERE ikey = '' OR ikey = ? ORDER BY ikey`+q.d.binary+`, group_id`+q.d.binary, ikey)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: policies of %s: %w", ikey, err)
	}
	out, err := collect(rows, scanPolicy)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: policies of %s: %w", ikey, err)
	}
	return out, nil
}

// withPolicies gives each integration the global policy and its own.
func withPolicies(list []store.Integration, all []store.Policy) {
	for i := range list {
		for _, p := range all {
			if p.IKey == "" || p.IKey == list[i].IKey {
				list[i].Policies = append(list[i].Policies, p)
			}
		}
	}
}

func (q *queries) LockedAt(ctx context.Context, userID string) (time.Time, error) {
	var at int64
	if err := q.queryRow(ctx, `SELECT locked_at FROM users WHERE id = ?`, userID).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("sqlstore: locked_at of %s: %w", userID, mapErr(err))
	}
	if at == 0 {
		return time.Time{}, nil
	}
	return fromUnix(at), nil
}

func (q *queries) AutoUnlock(ctx context.Context, userID string, lockedAt time.Time) error {
	err := q.guarded(ctx,
		`UPDATE users SET status = ?, failed_attempts = 0, lockout_reason = '', locked_at = 0
		 WHERE id = ? AND status = ? AND locked_at = ?`,
		string(store.StatusActive), userID, string(store.StatusLockedOut), toUnix(lockedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: unlock %s: %w", userID, err)
	}
	return nil
}

func (s *Store) PutPolicy(ctx context.Context, p store.Policy) error {
	return s.write(ctx, true, func(q *queries) error { return q.PutPolicy(ctx, p) })
}

func (s *Store) DeletePolicy(ctx context.Context, ikey, groupID string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeletePolicy(ctx, ikey, groupID) })
}

func (s *Store) ListPolicies(ctx context.Context) ([]store.Policy, error) {
	return s.rq.ListPolicies(ctx)
}

func (s *Store) LockedAt(ctx context.Context, userID string) (time.Time, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return q.LockedAt(ctx, userID)
}

func (s *Store) AutoUnlock(ctx context.Context, userID string, lockedAt time.Time) error {
	return s.write(ctx, true, func(q *queries) error { return q.AutoUnlock(ctx, userID, lockedAt) })
}

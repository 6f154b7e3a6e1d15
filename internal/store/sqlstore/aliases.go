package sqlstore

import (
	"context"
	"fmt"

	"github.com/assent-auth/assent/internal/store"
)

// SetUserAliases replaces the user's aliases. Each alias is written by a
// statement that refuses it when it is another user's username, and the
// unique index on alias_norm refuses one that is any other alias; CreateUser
// and UpdateUser refuse a username that is another user's alias the same
// way. On SQLite, where writers take turns, this keeps usernames and
// aliases one namespace exactly; on PostgreSQL two transactions committing
// at the same moment, one adding an alias and the other the same name as a
// username, could both pass, and the lookups then prefer the username.
func (q *queries) SetUserAliases(ctx context.Context, userID string, aliases []string) error {
	if len(aliases) > store.MaxAliases {
		return fmt.Errorf("sqlstore: set aliases of %s: %d aliases, at most %d", userID, len(aliases), store.MaxAliases)
	}
	{
		var one int
		if err := q.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`+q.forUpdate(), userID).Scan(&one); err != nil {
			return fmt.Errorf("sqlstore: set aliases of %s: %w", userID, mapErr(err))
		}
		if _, err := q.exec(ctx, `DELETE FROM user_aliases WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlstore: set aliases of %s: %w", userID, err)
		}
		for i, a := range aliases {
			if a == "" {
				continue
			}
			norm, err := normUsername(a)
			if err != nil {
				return fmt.Errorf("sqlstore: set aliases of %s: alias%d %w", userID, i+1, err)
			}
			res, err := q.exec(ctx,
				`INSERT INTO user_aliases (user_id, position, alias, alias_norm)
				 SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users WHERE username_norm = ? AND id <> ?)`,
				userID, i+1, a, norm, norm, userID)
			if err != nil {
				return fmt.Errorf("sqlstore: set aliases of %s: alias%d %q: %w", userID, i+1, a, mapErr(err))
			}
			n, err := affected(res)
			if err != nil {
				return fmt.Errorf("sqlstore: set aliases of %s: %w", userID, err)
			}
			if n == 0 {
				return fmt.Errorf("sqlstore: set aliases of %s: alias%d %q is another user's username: %w", userID, i+1, a, store.ErrAlreadyExists)
			}
		}
		return nil
	}
}

func (q *queries) ListUserAliases(ctx context.Context, userID string) ([]string, error) {
	rows, err := q.query(ctx, `SELECT position, alias FROM user_aliases WHERE user_id = ? ORDER BY position`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list aliases of %s: %w", userID, err)
	}
	type row struct {
		pos   int
		alias string
	}
	list, err := collect(rows, func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.pos, &x.alias)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list aliases of %s: %w", userID, err)
	}
	var out []string
	for _, x := range list {
		if x.pos < 1 || x.pos > store.MaxAliases {
			continue
		}
		for len(out) < x.pos {
			out = append(out, "")
		}
		out[x.pos-1] = x.alias
	}
	return out, nil
}

func (s *Store) SetUserAliases(ctx context.Context, userID string, aliases []string) error {
	return s.write(ctx, false, func(q *queries) error { return q.SetUserAliases(ctx, userID, aliases) })
}

func (s *Store) ListUserAliases(ctx context.Context, userID string) ([]string, error) {
	q, err := s.pointRead(ctx)
	if err != nil {
		return nil, err
	}
	return q.ListUserAliases(ctx, userID)
}

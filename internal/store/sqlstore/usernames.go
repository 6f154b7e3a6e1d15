package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/username"
)

// settingUsernameNorm records which rule users.username_norm was computed
// with: username.Version, or "lower" (strings.ToLower, before migration
// 0005). When it differs from username.Version, opening the store
// recomputes every row.
const settingUsernameNorm = "username_norm"

// Prefixes of username_norm values no input can produce: Normalize never
// returns upper-case ASCII, and user IDs are upper case (DU…).
const (
	// unreachableNorm marks a user whose name is not valid under the
	// current rule, or collides with an older user's: it can only be
	// reached by its user ID until it is renamed.
	unreachableNorm = "unreachable:"
	// movingNorm is a row's value while the norms are rewritten, so that no
	// intermediate state trips the unique index.
	movingNorm = "renormalizing:"
)

// normRow is one user as renormalizeUsernames sees it.
type normRow struct {
	id, name, norm string
	created        int64
	target         string // the new norm
}

// normNotice is a warning to log once the transaction has committed.
type normNotice struct {
	level slog.Level
	msg   string
	attrs []any
}

// renormalizeUsernames brings users.username_norm up to the current rule
// (package username) inside the migration transaction. A user whose name
// is no longer valid, or now collides with another user's, is not dropped
// and does not fail the upgrade: it gets a norm nobody can type (its user
// ID, prefixed) and a warning says what to do. Of colliding users, the one
// already reached by the shared name keeps it (so no login silently
// switches to another account), else the oldest.
func renormalizeUsernames(ctx context.Context, q *queries) ([]normNotice, error) {
	v, err := q.GetSetting(ctx, settingUsernameNorm)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if v == username.Version {
		return nil, nil
	}
	rows, err := q.query(ctx, `SELECT id, username, username_norm, created FROM users`)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	users, err := collect(rows, func(r scanner) (normRow, error) {
		var u normRow
		return u, r.Scan(&u.id, &u.name, &u.norm, &u.created)
	})
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}

	notices := assignNorms(users)

	var changed []*normRow
	for i := range users {
		if users[i].target != users[i].norm {
			changed = append(changed, &users[i])
		}
	}
	// Two passes keep every intermediate state unique: first each changed
	// row moves to a value of its own, then to its target.
	for _, pass := range []func(u *normRow) string{
		func(u *normRow) string { return movingNorm + u.id },
		func(u *normRow) string { return u.target },
	} {
		for _, u := range changed {
			if _, err := q.exec(ctx, `UPDATE users SET username_norm = ? WHERE id = ?`, pass(u), u.id); err != nil {
				return nil, fmt.Errorf("update user %s: %w", u.id, mapErr(err))
			}
		}
	}
	aliasNotices, err := renormalizeAliases(ctx, q, users)
	if err != nil {
		return nil, err
	}
	notices = append(notices, aliasNotices...)
	if err := q.PutSetting(ctx, settingUsernameNorm, username.Version); err != nil {
		return nil, err
	}
	if len(changed) > 0 {
		notices = append(notices, normNotice{level: slog.LevelInfo, msg: "usernames renormalised for the current comparison rule",
			attrs: []any{"rule", username.Version, "previous_rule", cmp.Or(v, "lower"), "users_changed", len(changed)}})
	}
	return notices, nil
}

// assignNorms sets each row's target and returns the warnings to log.
func assignNorms(users []normRow) []normNotice {
	var notices []normNotice
	byNorm := map[string][]*normRow{}
	for i := range users {
		u := &users[i]
		n, err := username.Normalize(u.name)
		if err != nil {
			u.target = unreachableNorm + u.id
			notices = append(notices, normNotice{level: slog.LevelWarn,
				msg: "username is not valid under the current rule; the user can only be reached by its user ID",
				attrs: []any{"user_id", u.id, "username", u.name, "reason", err.Error(),
					"remedy", "rename it: assent user rename " + u.id + " NEW_NAME"},
			})
			continue
		}
		u.target = n
		byNorm[n] = append(byNorm[n], u)
	}
	// Sorted, so the warnings come in a stable order.
	for _, n := range slices.Sorted(maps.Keys(byNorm)) {
		group := byNorm[n]
		if len(group) < 2 {
			continue
		}
		slices.SortFunc(group, func(a, b *normRow) int {
			// The user already reached by this name first, then the oldest.
			if ak, bk := a.norm == n, b.norm == n; ak != bk {
				if ak {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.id, b.id))
		})
		keep := group[0]
		for _, u := range group[1:] {
			u.target = unreachableNorm + u.id
			notices = append(notices, normNotice{level: slog.LevelWarn,
				msg: "two usernames are the same under the current rule; the second user can only be reached by its user ID",
				attrs: []any{"username", keep.name, "user_id", keep.id, "colliding_username", u.name, "colliding_user_id", u.id,
					"remedy", "rename one: assent user rename " + u.id + " NEW_NAME (or delete it)"},
			})
		}
	}
	return notices
}

func logNotices(log *slog.Logger, notices []normNotice) {
	for _, n := range notices {
		log.Log(context.Background(), n.level, n.msg, n.attrs...)
	}
}

// aliasRow is one alias as renormalizeAliases sees it.
type aliasRow struct {
	userID, alias, norm string
	pos                 int
	target              string
}

// renormalizeAliases brings user_aliases.alias_norm up to the current rule,
// after the users' norms (users holds their targets). An alias that is no
// longer valid, or now equals a username or an earlier alias, is set aside
// like such a username (a norm nobody can type) with a warning; it stays
// listed, so an administrator can see and replace it.
func renormalizeAliases(ctx context.Context, q *queries, users []normRow) ([]normNotice, error) {
	rows, err := q.query(ctx, `SELECT user_id, position, alias, alias_norm FROM user_aliases ORDER BY user_id, position`)
	if err != nil {
		return nil, fmt.Errorf("read aliases: %w", err)
	}
	aliases, err := collect(rows, func(r scanner) (aliasRow, error) {
		var a aliasRow
		return a, r.Scan(&a.userID, &a.pos, &a.alias, &a.norm)
	})
	if err != nil {
		return nil, fmt.Errorf("read aliases: %w", err)
	}
	taken := map[string]bool{}
	for _, u := range users {
		taken[u.target] = true
	}
	var notices []normNotice
	var changed []*aliasRow
	for i := range aliases {
		a := &aliases[i]
		key := fmt.Sprintf("%s%s:%d", unreachableNorm, a.userID, a.pos)
		n, err := username.Normalize(a.alias)
		switch {
		case err != nil:
			a.target = key
			notices = append(notices, normNotice{level: slog.LevelWarn,
				msg:   "username alias is not valid under the current rule; it no longer reaches its user",
				attrs: []any{"user_id", a.userID, "alias", a.alias, "reason", err.Error(), "remedy", "assent user alias remove " + a.userID + " ALIAS, then add a valid one"}})
		case taken[n]:
			a.target = key
			notices = append(notices, normNotice{level: slog.LevelWarn,
				msg:   "username alias is now the same as another username or alias; it no longer reaches its user",
				attrs: []any{"user_id", a.userID, "alias", a.alias, "remedy", "assent user alias remove " + a.userID + " ALIAS"}})
		default:
			a.target = n
			taken[n] = true
		}
		if a.target != a.norm {
			changed = append(changed, a)
		}
	}
	for _, pass := range []func(a *aliasRow) string{
		func(a *aliasRow) string { return fmt.Sprintf("%s%s:%d", movingNorm, a.userID, a.pos) },
		func(a *aliasRow) string { return a.target },
	} {
		for _, a := range changed {
			if _, err := q.exec(ctx, `UPDATE user_aliases SET alias_norm = ? WHERE user_id = ? AND position = ?`, pass(a), a.userID, a.pos); err != nil {
				return nil, fmt.Errorf("update alias %s/%d: %w", a.userID, a.pos, mapErr(err))
			}
		}
	}
	return notices, nil
}

package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/assent-auth/assent/internal/store"
)

// Groups and their members (store.GroupQueries).

const groupCols = `id, name, description, status, created`

func scanGroup(r scanner) (store.Group, error) {
	var (
		g       store.Group
		status  string
		created int64
	)
	if err := r.Scan(&g.ID, &g.Name, &g.Description, &status, &created); err != nil {
		return store.Group{}, err
	}
	g.Status, g.Created = store.UserStatus(status), fromUnix(created)
	return g, nil
}

func (q *queries) CreateGroup(ctx context.Context, g store.Group) error {
	err := q.insertOne(ctx, `INSERT INTO user_groups (`+groupCols+`) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		g.ID, g.Name, g.Description, string(g.Status), toUnix(g.Created))
	if err != nil {
		return fmt.Errorf("sqlstore: create group %s: %w", g.ID, err)
	}
	return nil
}

func (q *queries) GetGroup(ctx context.Context, id string) (store.Group, error) {
	g, err := scanGroup(q.queryRow(ctx, `SELECT `+groupCols+` FROM user_groups WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.Group{}, fmt.Errorf("sqlstore: get group %s: %w", id, mapErr(err))
	}
	return g, nil
}

func (q *queries) GetGroupByName(ctx context.Context, name string) (store.Group, error) {
	g, err := scanGroup(q.queryRow(ctx, `SELECT `+groupCols+` FROM user_groups WHERE name = ?`+q.forUpdate(), name))
	if err != nil {
		return store.Group{}, fmt.Errorf("sqlstore: get group named %q: %w", name, mapErr(err))
	}
	return g, nil
}

func (q *queries) listGroups(ctx context.Context, query string, args ...any) ([]store.Group, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanGroup)
}

func (q *queries) ListGroups(ctx context.Context) ([]store.Group, error) {
	out, err := q.listGroups(ctx, `SELECT `+groupCols+` FROM user_groups ORDER BY name`+q.d.binary+`, id`+q.d.binary)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list groups: %w", err)
	}
	return out, nil
}

func (q *queries) UpdateGroup(ctx context.Context, g store.Group) error {
	if err := q.changeOne(ctx, `UPDATE user_groups SET name = ?, description = ?, status = ? WHERE id = ?`,
		g.Name, g.Description, string(g.Status), g.ID); err != nil {
		return fmt.Errorf("sqlstore: update group %s: %w", g.ID, err)
	}
	return nil
}

func (q *queries) DeleteGroup(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `DELETE FROM user_group_members WHERE group_id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete group %s: members: %w", id, mapErr(err))
	}
	if err := q.changeOne(ctx, `DELETE FROM user_groups WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete group %s: %w", id, err)
	}
	return nil
}

func (q *queries) AddGroupMember(ctx context.Context, groupID, userID string) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM user_groups WHERE id = ?`, groupID); err != nil {
		return fmt.Errorf("sqlstore: add member to group %s: %w", groupID, err)
	}
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, userID); err != nil {
		return fmt.Errorf("sqlstore: add member %s to group %s: %w", userID, groupID, err)
	}
	if _, err := q.exec(ctx, `INSERT INTO user_group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		groupID, userID); err != nil {
		return fmt.Errorf("sqlstore: add member %s to group %s: %w", userID, groupID, mapErr(err))
	}
	return nil
}

func (q *queries) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	if err := q.changeOne(ctx, `DELETE FROM user_group_members WHERE group_id = ? AND user_id = ?`, groupID, userID); err != nil {
		return fmt.Errorf("sqlstore: remove member %s from group %s: %w", userID, groupID, err)
	}
	return nil
}

func (q *queries) ListGroupMembers(ctx context.Context, groupID string) ([]store.User, error) {
	rows, err := q.query(ctx, `SELECT `+prefixed("u.", userCols)+` FROM users u JOIN user_group_members m ON m.user_id = u.id
		WHERE m.group_id = ? ORDER BY u.username_norm`+q.d.binary+`, u.id`+q.d.binary, groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list members of group %s: %w", groupID, err)
	}
	out, err := collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list members of group %s: %w", groupID, err)
	}
	return out, nil
}

func (q *queries) ListUserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	query := userGroupsSQL[0]
	if q.d.postgres {
		query = userGroupsSQL[1]
	}
	out, err := q.listGroups(ctx, query, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list groups of %s: %w", userID, err)
	}
	return out, nil
}

// userGroupsSQL is ListUserGroups' statement for SQLite and PostgreSQL,
// built once: every authentication decision runs it (auth.Service reads
// the user's groups with their status).
var userGroupsSQL = [2]string{userGroupsQuery(sqliteDialect.binary), userGroupsQuery(postgresDialect.binary)}

func userGroupsQuery(binary string) string {
	return `SELECT ` + prefixed("g.", groupCols) + ` FROM user_groups g JOIN user_group_members m ON m.group_id = g.id
		WHERE m.user_id = ? ORDER BY g.name` + binary + `, g.id` + binary
}

func (q *queries) GroupStatus(ctx context.Context, userID string) (store.UserStatus, error) {
	rows, err := q.query(ctx, `SELECT DISTINCT g.status FROM user_groups g JOIN user_group_members m ON m.group_id = g.id
		WHERE m.user_id = ? AND g.status <> 'active'`, userID)
	if err != nil {
		return "", fmt.Errorf("sqlstore: group status of %s: %w", userID, err)
	}
	list, err := collect(rows, func(r scanner) (string, error) {
		var s string
		err := r.Scan(&s)
		return s, err
	})
	if err != nil {
		return "", fmt.Errorf("sqlstore: group status of %s: %w", userID, err)
	}
	st := store.StatusActive
	for _, s := range list {
		switch store.UserStatus(s) {
		case store.StatusDisabled:
			return store.StatusDisabled, nil
		case store.StatusBypass:
			st = store.StatusBypass
		}
	}
	return st, nil
}

// userGroupsJSON is a scalar subquery for the groups of the user u as a
// JSON array of [id, name, status] arrays ordered as ListUserGroups
// orders them ('[]' for none), so that the decision's one-statement reads
// carry the groups with the user (see scanUserGroups).
func userGroupsJSON(d *dialect) string {
	if d.postgres {
		return `(SELECT COALESCE(json_agg(json_build_array(g.id, g.name, g.status) ORDER BY g.name` + d.binary + `, g.id` + d.binary + `)::text, '[]')
			FROM user_groups g JOIN user_group_members m ON m.group_id = g.id WHERE m.user_id = u.id)`
	}
	return `(SELECT json_group_array(json_array(id, name, status)) FROM (SELECT g.id, g.name, g.status
			FROM user_groups g JOIN user_group_members m ON m.group_id = g.id WHERE m.user_id = u.id ORDER BY g.name, g.id))`
}

// scanUserGroups sets u's groups from a userGroupsJSON column.
func scanUserGroups(u *store.User, col string) error {
	var rows [][3]string
	if err := json.Unmarshal([]byte(col), &rows); err != nil {
		return fmt.Errorf("groups of %s: %w", u.ID, err)
	}
	u.Groups, u.GroupsRead = nil, true
	for _, r := range rows {
		u.Groups = append(u.Groups, store.Group{ID: r[0], Name: r[1], Status: store.UserStatus(r[2])})
	}
	return nil
}

// prefixed qualifies each of a comma-separated column list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// Outside transactions: reads on the read pool, writes as single statements.

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	return s.write(ctx, false, func(q *queries) error { return q.CreateGroup(ctx, g) })
}

func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	return s.rq.GetGroup(ctx, id)
}

func (s *Store) GetGroupByName(ctx context.Context, name string) (store.Group, error) {
	return s.rq.GetGroupByName(ctx, name)
}

func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) { return s.rq.ListGroups(ctx) }

func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	return s.write(ctx, true, func(q *queries) error { return q.UpdateGroup(ctx, g) })
}

func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteGroup(ctx, id) })
}

func (s *Store) AddGroupMember(ctx context.Context, groupID, userID string) error {
	return s.write(ctx, true, func(q *queries) error { return q.AddGroupMember(ctx, groupID, userID) })
}

func (s *Store) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return s.write(ctx, true, func(q *queries) error { return q.RemoveGroupMember(ctx, groupID, userID) })
}

func (s *Store) ListGroupMembers(ctx context.Context, groupID string) ([]store.User, error) {
	return s.rq.ListGroupMembers(ctx, groupID)
}

func (s *Store) ListUserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	return s.rq.ListUserGroups(ctx, userID)
}

func (s *Store) GroupStatus(ctx context.Context, userID string) (store.UserStatus, error) {
	return s.rq.GroupStatus(ctx, userID)
}

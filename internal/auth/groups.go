package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Groups of users, as Duo's. A group's status applies to its members'
// decisions: see EffectiveStatus.

// maxGroupName and maxGroupDescription bound what a group is given.
const (
	maxGroupName        = 100
	maxGroupDescription = 1000
)

// NewGroup is a group to create.
type NewGroup struct {
	Name        string
	Description string
	Status      store.UserStatus // "": active
}

// GroupUpdate says what ModifyGroup changes; nil fields stay.
type GroupUpdate struct {
	Name        *string
	Description *string
	Status      *store.UserStatus
}

func checkGroupName(name string) error {
	if strings.TrimSpace(name) != name || name == "" || utf8.RuneCountInString(name) > maxGroupName || !utf8.ValidString(name) {
		return invalid("name", fmt.Sprintf("must be 1 to %d characters without leading or trailing spaces", maxGroupName))
	}
	return nil
}

func checkGroupStatus(st store.UserStatus) error {
	switch st {
	case store.StatusActive, store.StatusBypass, store.StatusDisabled:
		return nil
	}
	return invalid("status", "must be one of active, bypass, disabled")
}

func checkGroupDescription(d string) error {
	if utf8.RuneCountInString(d) > maxGroupDescription || !utf8.ValidString(d) {
		return invalid("desc", fmt.Sprintf("must be at most %d characters", maxGroupDescription))
	}
	return nil
}

func (s *Service) groupNameTaken(name string) error {
	return &Error{Kind: KindConflict, Param: "name", Detail: "a group named " + name + " exists"}
}

// CreateGroup creates a group, in one transaction with its
// administrator-log row.
func (s *Service) CreateGroup(ctx context.Context, n NewGroup) (store.Group, error) {
	if n.Status == "" {
		n.Status = store.StatusActive
	}
	if err := errors.Join(checkGroupName(n.Name), checkGroupDescription(n.Description), checkGroupStatus(n.Status)); err != nil {
		return store.Group{}, err
	}
	g := store.Group{ID: ids.New(ids.Group), Name: n.Name, Description: n.Description, Status: n.Status, Created: s.now()}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateGroup(ctx, g); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "group_create", g.Name, map[string]any{"group_id": g.ID, "desc": g.Description, "status": g.Status})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.Group{}, s.groupNameTaken(n.Name)
	}
	if err != nil {
		return store.Group{}, wrap("create group", err)
	}
	s.opts.Logger.Info("group created", "group_id", g.ID)
	return g, nil
}

// Group finds a group by ID or name.
func (s *Service) Group(ctx context.Context, idOrName string) (store.Group, error) {
	return s.group(ctx, s.st, idOrName)
}

func (s *Service) group(ctx context.Context, q store.Queries, idOrName string) (store.Group, error) {
	if strings.HasPrefix(idOrName, ids.Group) && len(idOrName) == 20 {
		g, err := q.GetGroup(ctx, idOrName)
		if err == nil {
			return g, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.Group{}, wrap("get group", err)
		}
	}
	g, err := q.GetGroupByName(ctx, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		return store.Group{}, notFound("no group " + idOrName)
	}
	if err != nil {
		return store.Group{}, wrap("get group", err)
	}
	return g, nil
}

// Groups lists every group by name.
func (s *Service) Groups(ctx context.Context) ([]store.Group, error) {
	list, err := s.st.ListGroups(ctx)
	if err != nil {
		return nil, wrap("list groups", err)
	}
	return list, nil
}

// ModifyGroup changes a group's name, description or status, in one
// transaction with its administrator-log row.
func (s *Service) ModifyGroup(ctx context.Context, idOrName string, up GroupUpdate) (store.Group, error) {
	var errs []error
	if up.Name != nil {
		errs = append(errs, checkGroupName(*up.Name))
	}
	if up.Description != nil {
		errs = append(errs, checkGroupDescription(*up.Description))
	}
	if up.Status != nil {
		errs = append(errs, checkGroupStatus(*up.Status))
	}
	if err := errors.Join(errs...); err != nil {
		return store.Group{}, err
	}
	var g store.Group
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if g, err = s.group(ctx, q, idOrName); err != nil {
			return err
		}
		desc := map[string]any{"group_id": g.ID}
		if up.Name != nil {
			g.Name, desc["name"] = *up.Name, *up.Name
		}
		if up.Description != nil {
			g.Description, desc["desc"] = *up.Description, *up.Description
		}
		if up.Status != nil {
			g.Status, desc["status"] = *up.Status, *up.Status
		}
		if err := q.UpdateGroup(ctx, g); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "group_update", g.Name, desc)
	})
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return store.Group{}, err
	case errors.Is(err, store.ErrAlreadyExists) && up.Name != nil:
		return store.Group{}, s.groupNameTaken(*up.Name)
	case errors.Is(err, store.ErrNotFound):
		return store.Group{}, notFound("no group " + idOrName)
	case err != nil:
		return store.Group{}, wrap("update group", err)
	}
	s.opts.Logger.Info("group updated", "group_id", g.ID)
	return g, nil
}

// DeleteGroup deletes a group (its members stay users), in one transaction
// with its administrator-log row.
func (s *Service) DeleteGroup(ctx context.Context, idOrName string) error {
	var g store.Group
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if g, err = s.group(ctx, q, idOrName); err != nil {
			return err
		}
		if err := q.DeleteGroup(ctx, g.ID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "group_delete", g.Name, map[string]any{"group_id": g.ID})
	})
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, store.ErrNotFound):
		return notFound("no group " + idOrName)
	case err != nil:
		return wrap("delete group", err)
	}
	s.opts.Logger.Info("group deleted", "group_id", g.ID)
	return nil
}

// AddGroupMember puts a user in a group (nothing changes if the user is
// already a member, and nothing is logged then).
func (s *Service) AddGroupMember(ctx context.Context, group, user string) error {
	return s.changeMember(ctx, group, user, true)
}

// RemoveGroupMember takes a user out of a group; KindNotFound if the user
// is not a member.
func (s *Service) RemoveGroupMember(ctx context.Context, group, user string) error {
	return s.changeMember(ctx, group, user, false)
}

func (s *Service) changeMember(ctx context.Context, group, user string, add bool) error {
	u, err := s.User(ctx, user)
	if err != nil {
		return err
	}
	var g store.Group
	err = s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if g, err = s.group(ctx, q, group); err != nil {
			return err
		}
		groups, err := q.ListUserGroups(ctx, u.ID)
		if err != nil {
			return err
		}
		member := false
		for _, m := range groups {
			member = member || m.ID == g.ID
		}
		switch {
		case add && member:
			return nil
		case add:
			if err := q.AddGroupMember(ctx, g.ID, u.ID); err != nil {
				return err
			}
			return s.adminLog(ctx, q, "group_member_add", u.Username, map[string]any{"group_id": g.ID, "group": g.Name, "user_id": u.ID})
		case !member:
			return notFound(u.Username + " is not a member of " + g.Name)
		}
		if err := q.RemoveGroupMember(ctx, g.ID, u.ID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "group_member_remove", u.Username, map[string]any{"group_id": g.ID, "group": g.Name, "user_id": u.ID})
	})
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, store.ErrNotFound):
		return notFound("the user or the group is gone")
	case err != nil:
		return wrap("group membership", err)
	}
	s.opts.Logger.Info("group membership changed", "group_id", g.ID, "user_id", u.ID, "added", add)
	return nil
}

// GroupMembers lists a group's members by username.
func (s *Service) GroupMembers(ctx context.Context, group string) ([]store.User, error) {
	g, err := s.Group(ctx, group)
	if err != nil {
		return nil, err
	}
	list, err := s.st.ListGroupMembers(ctx, g.ID)
	if err != nil {
		return nil, wrap("list group members", err)
	}
	return list, nil
}

// UserGroups lists the groups a user (name or ID) is in, by name.
func (s *Service) UserGroups(ctx context.Context, user string) ([]store.Group, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return nil, err
	}
	list, err := s.st.ListUserGroups(ctx, u.ID)
	if err != nil {
		return nil, wrap("list user groups", err)
	}
	return list, nil
}

// EffectiveStatus is the status a decision applies to u. The user's own
// status decides when it is not active (a bypass user in a disabled group
// is let in; a disabled or locked-out user in a bypass group is not).
// For an active user the groups decide: disabled if any of them is
// disabled, else bypass if any is bypass — as Duo, where a group's status
// enables or disables many users at once.
func (s *Service) EffectiveStatus(ctx context.Context, q store.Queries, u store.User) (store.UserStatus, error) {
	st, _, err := s.statusAndGroups(ctx, q, u)
	return st, err
}

// statusAndGroups is EffectiveStatus for a decision, which also logs the
// user's groups: those read with the user (store.User.GroupsRead), else
// read now.
func (s *Service) statusAndGroups(ctx context.Context, q store.Queries, u store.User) (store.UserStatus, []store.LogGroup, error) {
	gs := u.Groups
	if !u.GroupsRead {
		var err error
		if gs, err = q.ListUserGroups(ctx, u.ID); err != nil {
			return "", nil, wrap("user groups", err)
		}
	}
	var logged []store.LogGroup
	st := store.StatusActive
	for _, g := range gs {
		logged = append(logged, store.LogGroup{ID: g.ID, Name: g.Name})
		switch {
		case g.Status == store.StatusDisabled:
			st = store.StatusDisabled
		case g.Status == store.StatusBypass && st == store.StatusActive:
			st = store.StatusBypass
		}
	}
	if u.Status != store.StatusActive {
		st = u.Status
	}
	return st, logged, nil
}

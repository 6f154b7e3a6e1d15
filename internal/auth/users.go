package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/username"
)

// normalizeUsername returns the form usernames are compared in (see
// package username), or a KindInvalid error naming the parameter.
func normalizeUsername(name string) (string, error) {
	norm, err := username.Normalize(name)
	if err != nil {
		return "", invalid("username", err.Error())
	}
	return norm, nil
}

func validateUsername(name string) error {
	_, err := normalizeUsername(name)
	return err
}

// CreateUser creates an active user.
func (s *Service) CreateUser(ctx context.Context, username string) (store.User, error) {
	if err := validateUsername(username); err != nil {
		return store.User{}, err
	}
	u := store.User{
		ID:       ids.New(ids.User),
		Username: username,
		Status:   store.StatusActive,
		Created:  s.now(),
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "user_create", u.Username, map[string]any{"user_id": u.ID, "status": u.Status})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, s.usernameTaken(ctx, username)
	}
	if err != nil {
		return store.User{}, wrap("create user", err)
	}
	s.opts.Logger.Info("user created", "user_id", u.ID)
	return u, nil
}

// usernameTaken explains a refused creation, naming the existing user the
// new name collides with (it may look different: "ALICE", "ａｌｉｃｅ").
func (s *Service) usernameTaken(ctx context.Context, name string) error {
	detail := "a user with that username already exists"
	if u, err := s.st.GetUserByUsername(ctx, name); err == nil {
		n, _ := username.Normalize(name)
		if o, _ := username.Normalize(u.Username); o != n {
			return aliasTaken("username", name, u) // name is one of u's aliases
		}
		if u.Username != name {
			detail = fmt.Sprintf("%q is the same username as the existing user %q (usernames are compared ignoring case and character width)", name, u.Username)
		}
	}
	return &Error{Kind: KindConflict, Param: "username", Detail: detail}
}

// User returns the user with the given username or user ID (a DU… value
// that names no user by that ID is tried as a username too).
func (s *Service) User(ctx context.Context, nameOrID string) (store.User, error) {
	if strings.HasPrefix(nameOrID, ids.User) && len(nameOrID) == 20 {
		u, err := s.st.GetUser(ctx, nameOrID)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.User{}, wrap("get user", err)
		}
	}
	if err := validateUsername(nameOrID); err != nil {
		return store.User{}, err
	}
	u, err := s.st.GetUserByUsername(ctx, nameOrID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("no user named " + nameOrID)
	}
	if err != nil {
		return store.User{}, wrap("get user", err)
	}
	return u, nil
}

// Users lists all users ordered by username.
func (s *Service) Users(ctx context.Context) ([]store.User, error) {
	list, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, wrap("list users", err)
	}
	return list, nil
}

// SetUserStatus sets an administrator-chosen status. "locked out" is set by
// the system only; setting "active" on a locked-out user unlocks it and
// clears its failure count.
func (s *Service) SetUserStatus(ctx context.Context, nameOrID string, status store.UserStatus) (store.User, error) {
	switch status {
	case store.StatusActive, store.StatusBypass, store.StatusDisabled:
	case store.StatusLockedOut:
		return store.User{}, invalid("status", `"locked out" is set by the system after failed attempts; use disabled instead`)
	default:
		return store.User{}, invalid("status", "must be one of active, bypass, disabled")
	}
	out, err := s.updateUserLogged(ctx, "set user status", nameOrID, func(u *store.User) {
		u.Status = status
		u.FailedAttempts = 0
		u.LockoutReason = ""
	}, func(ctx context.Context, q store.Queries, u store.User) error {
		return s.adminLog(ctx, q, "user_update", u.Username, map[string]any{"status": status})
	})
	if err != nil {
		return store.User{}, err
	}
	s.opts.Logger.Info("user status set", "user_id", out.ID, "status", status)
	return out, nil
}

// RenameUser gives a user a new username, which must be valid and not be
// another user's under the comparison rule (see package username). It is
// also how a user set aside when usernames were renormalised (reachable
// only by its user ID) gets a name again.
func (s *Service) RenameUser(ctx context.Context, nameOrID, newName string) (store.User, error) {
	if err := validateUsername(newName); err != nil {
		return store.User{}, err
	}
	out, err := s.updateUserLogged(ctx, "rename user", nameOrID, func(u *store.User) { u.Username = newName },
		func(ctx context.Context, q store.Queries, u store.User) error {
			return s.adminLog(ctx, q, "user_update", u.Username, map[string]any{"username": newName})
		})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, s.usernameTaken(ctx, newName)
	}
	if err != nil {
		return store.User{}, err
	}
	s.opts.Logger.Info("user renamed", "user_id", out.ID)
	return out, nil
}

// updateUser finds a user by username or user ID, then in one transaction
// reads it again, applies change and writes it back. Errors finding the
// user are the core's own; store errors are wrapped, naming op.
// after runs in the same transaction once the user is written (the
// administrator-log row).
func (s *Service) updateUserLogged(ctx context.Context, op, nameOrID string, change func(*store.User),
	after func(context.Context, store.Queries, store.User) error) (store.User, error) {
	found, err := s.User(ctx, nameOrID)
	if err != nil {
		return store.User{}, err
	}
	var out store.User
	err = s.st.InTx(ctx, func(q store.Queries) error {
		u, err := q.GetUser(ctx, found.ID)
		if err != nil {
			return err
		}
		change(&u)
		out = u
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		return after(ctx, q, u)
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, err
	}
	if err != nil {
		return store.User{}, wrap(op, err)
	}
	return out, nil
}

// DeleteUser removes a user and everything that belongs to it.
func (s *Service) DeleteUser(ctx context.Context, nameOrID string) error {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return err
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "user_delete", u.Username, map[string]any{"user_id": u.ID})
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no user named " + nameOrID)
	}
	if err != nil {
		return wrap("delete user", err)
	}
	s.opts.Logger.Info("user deleted", "user_id", u.ID)
	return nil
}

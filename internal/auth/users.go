package auth

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// maxUsernameLen bounds usernames; Duo's limit is not public, this is generous.
const maxUsernameLen = 256

func validateUsername(name string) error {
	switch {
	case name == "":
		return invalid("username", "must not be empty")
	case len(name) > maxUsernameLen:
		return invalid("username", "is longer than 256 bytes")
	case !utf8.ValidString(name):
		return invalid("username", "is not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return invalid("username", "must not start or end with white space")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid("username", "must not contain control characters")
		}
	}
	return nil
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
	err := s.st.CreateUser(ctx, u)
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, &Error{Kind: KindConflict, Param: "username", Detail: "a user with that username already exists"}
	}
	if err != nil {
		return store.User{}, wrap("create user", err)
	}
	s.opts.Logger.Info("user created", "user_id", u.ID)
	return u, nil
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
		u.Status = status
		u.FailedAttempts = 0
		u.LockoutReason = ""
		out = u
		return q.UpdateUser(ctx, u)
	})
	if err != nil {
		return store.User{}, wrap("set user status", err)
	}
	s.opts.Logger.Info("user status set", "user_id", out.ID, "status", status)
	return out, nil
}

// DeleteUser removes a user and everything that belongs to it.
func (s *Service) DeleteUser(ctx context.Context, nameOrID string) error {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return err
	}
	if err := s.st.DeleteUser(ctx, u.ID); err != nil {
		return wrap("delete user", err)
	}
	s.opts.Logger.Info("user deleted", "user_id", u.ID)
	return nil
}

package store

import (
	"context"
	"time"
)

// Group is a group of users, as Duo's: its status applies to its members'
// decisions (see auth.EffectiveStatus).
type Group struct {
	ID          string // "DG" + 18
	Name        string // unique
	Description string
	Status      UserStatus // active, bypass or disabled
	Created     time.Time
}

// GroupQueries store groups and their members.
type GroupQueries interface {
	// CreateGroup returns ErrAlreadyExists if the ID or name is taken.
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, id string) (Group, error)
	GetGroupByName(ctx context.Context, name string) (Group, error)
	// ListGroups is ordered by name, then ID.
	ListGroups(ctx context.Context) ([]Group, error)
	// UpdateGroup writes Name, Description and Status; ErrNotFound if
	// absent, ErrAlreadyExists if the name is taken.
	UpdateGroup(ctx context.Context, g Group) error
	DeleteGroup(ctx context.Context, id string) error // ErrNotFound if absent; members go with it
	// AddGroupMember makes the user a member (nothing if already one);
	// ErrNotFound for an unknown group or user.
	AddGroupMember(ctx context.Context, groupID, userID string) error
	// RemoveGroupMember: ErrNotFound if the user is not a member.
	RemoveGroupMember(ctx context.Context, groupID, userID string) error
	// ListGroupMembers lists the members, ordered by username.
	ListGroupMembers(ctx context.Context, groupID string) ([]User, error)
	// ListUserGroups lists the groups a user is in, ordered by name.
	ListUserGroups(ctx context.Context, userID string) ([]Group, error)
	// GroupStatus is what the user's groups say of the user: disabled if
	// any of them is disabled, else bypass if any is bypass, else active
	// (also for a user in no group). One indexed read, for decisions.
	GroupStatus(ctx context.Context, userID string) (UserStatus, error)
}

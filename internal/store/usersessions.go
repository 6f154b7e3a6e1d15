package store

import (
	"context"
	"time"
)

// UserSession is a signed-in session of the users' self-service portal
// (/my/). The browser holds a random token; the store holds only its
// keyed hash.
type UserSession struct {
	Hash     []byte // keyed hash of the cookie's token; the primary key
	UserID   string
	Created  time.Time // for the absolute timeout
	LastSeen time.Time // for the idle timeout
	// Reauth is when the user last proved a second factor in this session
	// (sign-in or re-verification before removing a method).
	Reauth time.Time
	IP     string // where the session signed in
}

// UserSessionQueries store the self-service portal's sessions.
type UserSessionQueries interface {
	// CreateUserSession returns ErrNotFound for an unknown user.
	CreateUserSession(ctx context.Context, s UserSession) error
	GetUserSession(ctx context.Context, hash []byte) (UserSession, error) // ErrNotFound if absent
	// TouchUserSession writes LastSeen and Reauth; ErrNotFound if absent.
	TouchUserSession(ctx context.Context, s UserSession) error
	DeleteUserSession(ctx context.Context, hash []byte) error // ErrNotFound if absent
	// PurgeUserSessions deletes sessions created before created or last
	// seen before seen, at most limit, and returns how many.
	PurgeUserSessions(ctx context.Context, created, seen time.Time, limit int) (int, error)

	// GetDefaultMethod returns the ID of the method (device, token or
	// security key) the user chose as default; ErrNotFound if none.
	GetDefaultMethod(ctx context.Context, userID string) (string, error)
	// SetDefaultMethod records the user's default method; "" forgets it.
	// ErrNotFound for an unknown user.
	SetDefaultMethod(ctx context.Context, userID, methodID string, at time.Time) error
}

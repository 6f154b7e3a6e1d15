package store

import "context"

// Bulk is a batch of new users with their devices and bypass codes, written
// at once by a BulkLoader. Devices and codes may only belong to users of the
// same batch or to users that exist already.
type Bulk struct {
	Users       []User
	Devices     []Device
	BypassCodes []BypassCode
}

// BulkLoader writes many new rows quickly: `assent bench seed` fills an
// installation with a million users through it. It is separate from Store
// so that a store without a fast path need not pretend to have one; callers
// type-assert.
type BulkLoader interface {
	// LoadBulk inserts b's users, then its devices, then its bypass codes,
	// all or nothing. The rows are exactly what CreateUser, CreateDevice and
	// CreateBypassCodes would write (usernames compared as package username
	// says; an invalid one is refused). A row that already exists (same ID,
	// same username, same code hash for the user) makes it return
	// ErrAlreadyExists; a device or code of an unknown user, ErrNotFound.
	// Either way nothing of b is written.
	LoadBulk(ctx context.Context, b Bulk) error
	// Analyze refreshes the query planner's statistics, as after any large
	// change of the tables' sizes.
	Analyze(ctx context.Context) error
}

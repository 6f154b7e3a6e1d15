package store

import (
	"context"
	"errors"
	"time"
)

// ErrConflict is what a guarded write returns when its row no longer holds
// what the caller read: another request changed it in between. Nothing was
// written; the caller reads again, decides again and retries.
var ErrConflict = errors.New("changed since it was read")

// GuardedQueries are the writes of an authentication decision taken from
// reads made before the write transaction (on the read pool). Each changes
// its row only if the row still holds what the decision was based on, and
// otherwise returns ErrConflict and changes nothing. Run inside InTx, they
// make the transaction's outcome the same as if the reads had been made in
// it: a single-use code is spent once, a HOTP counter only moves forward
// past unused codes, and failure counts are exact.
//
// Engines that lock rows (PostgreSQL) lock each row these methods change
// until the transaction ends, so concurrent decisions about one user
// serialize only for the length of the write transaction, and its auth-log
// row is inserted after the user's row is locked.
type GuardedQueries interface {
	// UseBypassCode spends one use of c as it was read: a code with
	// RemainingUses 1 is deleted, one with more has RemainingUses lowered
	// by one, both only while the stored count is still c.RemainingUses.
	// An unlimited code (0) is not changed but must still exist unchanged
	// (PostgreSQL: share-locked until the end of the transaction, so it is
	// not deleted before the decision commits). Expiry is the caller's to
	// check. ErrConflict otherwise.
	UseBypassCode(ctx context.Context, c BypassCode) error
	// AdvanceHOTPCounter sets the device's HOTP counter to next, the
	// counter after the code just accepted, if the stored counter is still
	// at most next-1 (that code is still unused). ErrConflict otherwise,
	// also for an unknown device.
	AdvanceHOTPCounter(ctx context.Context, deviceID string, next int64) error
	// AdvanceTokenCounter sets the token's Counter to next (see
	// Token.Counter), its Drift to drift and LastUsed to at, if the stored
	// counter is still below next (the code just accepted is still
	// unused). With confirm it also marks the token confirmed.
	// ErrConflict otherwise, also for an unknown token.
	AdvanceTokenCounter(ctx context.Context, u TokenUse) error
	// RecordSuccess clears the failed attempts of an active user and sets
	// LastLogin to at (never moving it back). ErrConflict if the user is
	// gone or no longer active.
	RecordSuccess(ctx context.Context, userID string, at time.Time) error
	// RecordFailure adds one failed attempt to an active user, atomically,
	// and returns the new count. ErrConflict if the user is gone or no
	// longer active.
	RecordFailure(ctx context.Context, userID string) (int, error)
	// LockOut sets an active user's status to StatusLockedOut with reason,
	// locked at at (see PolicyQueries.LockedAt). ErrConflict if the user
	// is gone or no longer active.
	LockOut(ctx context.Context, userID, reason string, at time.Time) error
}

// TokenUse is an accepted token code: what AdvanceTokenCounter writes.
type TokenUse struct {
	ID      string
	Next    int64 // the token's counter after this code
	Drift   int
	At      time.Time
	Confirm bool // also mark the token confirmed (an app's first code)
}

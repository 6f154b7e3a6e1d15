package store

import (
	"context"
	"time"
)

// AuthLogCount is how many auth-log rows of one bucket of time had one
// result and reason (the console's dashboard charts, issue 15).
type AuthLogCount struct {
	Start  time.Time // start of the bucket (UTC, a multiple of the width since the epoch)
	Result string
	Reason string
	N      int
}

// ConsoleLogQueries are the console's reads of the two logs.
type ConsoleLogQueries interface {
	// GetAuthLog returns one auth-log row; ErrNotFound if absent.
	GetAuthLog(ctx context.Context, id int64) (AuthLog, error)
	// GetAdminLog returns one administrator-log row; ErrNotFound if absent.
	GetAdminLog(ctx context.Context, id int64) (AdminLog, error)
	// CountAuthLog counts the auth-log rows with min <= Time < max by
	// bucket of width (whole seconds, > 0; buckets start at multiples of
	// width since the Unix epoch), result and reason, ordered by bucket,
	// result, reason. Empty buckets are absent.
	CountAuthLog(ctx context.Context, min, max time.Time, width time.Duration) ([]AuthLogCount, error)
	// ListPendingPushes lists every device's transactions in TxPushed that
	// expire after now, newest first, at most limit.
	ListPendingPushes(ctx context.Context, now time.Time, limit int) ([]Transaction, error)
}

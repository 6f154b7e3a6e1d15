package store

import (
	"context"
	"time"
)

// Admin API grants, as Duo names them ("Grant read log", …). An adminapi
// integration may call an endpoint only with the grant the endpoint needs.
const (
	GrantReadLog       = "read-log"
	GrantReadResource  = "read-resource"
	GrantWriteResource = "write-resource"
	GrantSettings      = "settings"
)

// AllGrants lists every grant, in the order they are shown.
var AllGrants = []string{GrantReadLog, GrantReadResource, GrantWriteResource, GrantSettings}

// UserProfile holds Duo's descriptive user fields, which decide nothing.
type UserProfile struct {
	RealName  string
	Email     string
	Notes     string
	FirstName string
	LastName  string
}

// UserPage selects one page of users for the Admin API, in creation order
// (created, then ID), so that pages stay stable while users are added: a
// new user has the newest creation time and lands on the last page.
type UserPage struct {
	Username string // exact user, compared as package username says; "" for all
	Email    string // exact e-mail address; "" for all
	Offset   int
	Limit    int // > 0
}

// AuthLogQuery selects a window of the auth log for the Admin API: rows with
// Min <= Time < Max (whole seconds), the filters each a set (empty: any),
// sorted by (Time, ID) ascending or descending, resuming after a cursor.
type AuthLogQuery struct {
	Min, Max time.Time
	UserIDs  []string
	IKeys    []string
	Results  []string
	Reasons  []string
	Factors  []string
	GroupIDs []string // rows whose user was in any of these groups
	// Usernames matches the username as the caller sent it (exactly);
	// for rows of unknown users, which have no user ID.
	Usernames []string
	Desc      bool
	// After, when After.Time is not zero, resumes after the row at that
	// position in the chosen order: rows with (Time, TxID, ID) beyond it.
	After AuthLogCursor
	Limit int // > 0
}

// AuthLogCursor is a position in the auth log.
type AuthLogCursor struct {
	Time time.Time
	TxID string
}

// AdminLogQuery selects a window of the administrator log for the Admin
// API's activity log: rows with Min <= Time < Max (whole seconds), sorted
// by (Time, ID) ascending or descending, resuming after a cursor.
type AdminLogQuery struct {
	Min, Max time.Time
	// The filters, each a set of exact values (empty: any).
	Actors, Actions, Objects []string
	Desc                     bool
	// After, when After.Time is not zero, resumes after the row at that
	// position in the chosen order: rows with (Time, ID) beyond it.
	After AdminLogCursor
	Limit int // > 0
}

// AdminLogCursor is a position in the administrator log. IDs grow with
// every row, and a row's time is never before an earlier row's (the log
// clock), so (Time, ID) orders rows as they were committed.
type AdminLogCursor struct {
	Time time.Time
	ID   int64
}

// AdminLog is one change made by an administrator.
type AdminLog struct {
	ID          int64 // assigned by the store
	Time        time.Time
	Actor       string // who: "cli:user@host", "integration:DI…"
	Action      string // Duo's action names: user_create, integration_update, …
	Object      string // what changed: a username, an integration key
	Description string // JSON object with the changed fields (never secrets)
	IP          string // where from; "" for the CLI
}

// LogName names a log with its own clock (see SealLogs).
type LogName int

const (
	LogAuth  LogName = 1 // auth_log
	LogAdmin LogName = 2 // admin_log
)

// AdminQueries are the Admin API's reads and writes.
type AdminQueries interface {
	// UpdateUserProfile writes the profile fields of the user with id;
	// ErrNotFound if absent.
	UpdateUserProfile(ctx context.Context, id string, p UserProfile) error
	// ListUsersPage returns one page of users and how many users match.
	ListUsersPage(ctx context.Context, p UserPage) ([]User, int, error)
	CountUsers(ctx context.Context) (int, error)
	// ListBypassCodesPage returns one page of every user's bypass codes
	// (ordered by Created, then ID) and how many there are.
	ListBypassCodesPage(ctx context.Context, offset, limit int) ([]BypassCode, int, error)
	// GetBypassCode returns one bypass code; ErrNotFound if absent.
	GetBypassCode(ctx context.Context, id string) (BypassCode, error)

	// SetIntegrationGrants replaces the Admin API grants.
	SetIntegrationGrants(ctx context.Context, ikey string, grants []string) error
	// RotateIntegrationSecret makes newEnc the secret key and keeps the
	// current one as the previous secret until prevExpires (zero: drop it).
	RotateIntegrationSecret(ctx context.Context, ikey string, newEnc []byte, prevExpires time.Time) error

	// AppendAdminLog writes a row and sets l.ID; l.Time is raised to the
	// log's clock (see SealLogs), as AppendAuthLog does for the auth log.
	AppendAdminLog(ctx context.Context, l *AdminLog) error
	// ListAdminLog lists rows with since <= Time < until, oldest first, at
	// most limit.
	ListAdminLog(ctx context.Context, since, until time.Time, limit int) ([]AdminLog, error)

	// QueryAdminLog returns one page of the administrator log and how many
	// rows the window holds (ignoring After and Limit).
	QueryAdminLog(ctx context.Context, q AdminLogQuery) ([]AdminLog, int, error)

	// QueryAuthLog returns one page of the auth log and how many rows the
	// window and filters match (ignoring After and Limit).
	QueryAuthLog(ctx context.Context, q AuthLogQuery) ([]AuthLog, int, error)

	// SealLogs raises the clock of one log to now and returns it: every row
	// of that log committed from then on has a Time at or after the
	// returned instant, and every row before it is already committed. A
	// reader that reads only rows before the returned time never misses a
	// row committed later with an earlier timestamp.
	SealLogs(ctx context.Context, log LogName, now time.Time) (time.Time, error)
}

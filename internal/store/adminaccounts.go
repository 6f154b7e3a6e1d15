package store

import (
	"context"
	"time"
)

// AdminRole is what an administrator of the console may do.
type AdminRole string

// The roles, from the most to the least powerful (Duo's names).
const (
	// RoleOwner may do everything, administrators and settings included.
	RoleOwner AdminRole = "owner"
	// RoleAdministrator manages users, groups, applications and tokens.
	RoleAdministrator AdminRole = "administrator"
	// RoleHelpDesk manages users' devices, bypass codes, lockouts.
	RoleHelpDesk AdminRole = "help_desk"
	// RoleReadOnly reads everything and changes nothing.
	RoleReadOnly AdminRole = "read_only"
)

// AdminRoles lists every role, most powerful first.
var AdminRoles = []AdminRole{RoleOwner, RoleAdministrator, RoleHelpDesk, RoleReadOnly}

// Admin is an administrator of the web console. An administrator created
// by `assent admin create` has no password and no second factor until the
// one-time setup link is used (Pending).
type Admin struct {
	ID    string // "DE" + 18, as Duo's admin IDs
	Email string // unique; stored lower-cased
	Name  string
	Role  AdminRole
	// PasswordHash is a PHC string (argon2id); "" until setup.
	PasswordHash string
	// TOTPSecretEnc is the authenticator app's secret sealed with the
	// master key (associated data: the admin ID); nil until setup.
	TOTPSecretEnc []byte
	// TOTPLastStep is the time step of the last accepted code: a code of
	// that step or an earlier one is never accepted again.
	TOTPLastStep int64
	Created      time.Time
	LastLogin    time.Time // zero: never
	// Keys counts the administrator's security keys and passkeys
	// (AdminWebAuthnQueries); read-only, filled by GetAdmin, GetAdminByEmail
	// and ListAdmins.
	Keys int
}

// Pending reports whether the administrator has not finished setup: a
// password and at least one second factor (authenticator app or security
// key).
func (a Admin) Pending() bool {
	return a.PasswordHash == "" || (len(a.TOTPSecretEnc) == 0 && a.Keys == 0)
}

// HasTOTP reports whether the administrator has an authenticator app.
func (a Admin) HasTOTP() bool { return len(a.TOTPSecretEnc) > 0 }

// AdminSession is a signed-in console session. The browser holds a random
// token; the store holds only its keyed hash.
type AdminSession struct {
	Hash     []byte // keyed hash of the cookie's token; the primary key
	AdminID  string
	Created  time.Time // for the absolute timeout
	LastSeen time.Time // for the idle timeout
	// Reauth is when the administrator last proved the password and second
	// factor in this session (sign-in or re-authentication).
	Reauth time.Time
	IP     string // where the session signed in
}

// ConsoleCounts are the console dashboard's counts.
type ConsoleCounts struct {
	Users         int
	LockedOut     int
	Disabled      int
	NotEnrolled   int // users with no device, confirmed token or security key
	PendingPushes int // pushes waiting for an answer, unexpired
}

// ConsoleUserQuery selects one page of users for the console, by
// username (or user ID) order.
type ConsoleUserQuery struct {
	Search string     // part of the username (compared as normalised) or of the e-mail; "" for all
	Status UserStatus // "" for any
	// NotEnrolled keeps only users with no device, confirmed token or
	// security key (as ConsoleCounts.NotEnrolled counts them).
	NotEnrolled bool
	// GroupID keeps only the members of that group; "" for any.
	GroupID string
	Offset  int
	Limit   int // > 0
}

// AdminAccountQueries store console administrators and their sessions.
type AdminAccountQueries interface {
	// CreateAdmin returns ErrAlreadyExists if the ID or e-mail is taken.
	CreateAdmin(ctx context.Context, a Admin) error
	GetAdmin(ctx context.Context, id string) (Admin, error)           // ErrNotFound if absent
	GetAdminByEmail(ctx context.Context, email string) (Admin, error) // e-mail lower-cased by the caller
	// ListAdmins is ordered by e-mail, then ID.
	ListAdmins(ctx context.Context) ([]Admin, error)
	// UpdateAdmin writes Name, Role, PasswordHash, TOTPSecretEnc,
	// TOTPLastStep and LastLogin; ErrNotFound if absent.
	UpdateAdmin(ctx context.Context, a Admin) error
	// AdvanceAdminTOTP records step as the last accepted TOTP step and at
	// as the last login, only while the stored step is below step:
	// ErrConflict otherwise (the code was used already), ErrNotFound for an
	// unknown administrator.
	AdvanceAdminTOTP(ctx context.Context, id string, step int64, at time.Time) error
	// DeleteAdmin deletes the administrator and its sessions.
	DeleteAdmin(ctx context.Context, id string) error

	// CreateAdminSession returns ErrNotFound for an unknown administrator.
	CreateAdminSession(ctx context.Context, s AdminSession) error
	GetAdminSession(ctx context.Context, hash []byte) (AdminSession, error)
	// TouchAdminSession writes LastSeen and Reauth; ErrNotFound if absent.
	TouchAdminSession(ctx context.Context, s AdminSession) error
	DeleteAdminSession(ctx context.Context, hash []byte) error // ErrNotFound if absent
	// DeleteAdminSessionsOf ends every session of an administrator and
	// returns how many there were.
	DeleteAdminSessionsOf(ctx context.Context, adminID string) (int, error)
	// PurgeAdminSessions deletes sessions created before created or last
	// seen before seen, at most limit, and returns how many.
	PurgeAdminSessions(ctx context.Context, created, seen time.Time, limit int) (int, error)

	// Administrators' security keys and passkeys: store.WebAuthnCredential
	// with UserID holding the administrator's ID (DE…).

	// CreateAdminWebAuthn returns ErrAlreadyExists if the ID or the
	// credential ID is taken, ErrNotFound if the administrator does not
	// exist.
	CreateAdminWebAuthn(ctx context.Context, c WebAuthnCredential) error
	// ListAdminWebAuthn lists an administrator's credentials by Created,
	// then ID.
	ListAdminWebAuthn(ctx context.Context, adminID string) ([]WebAuthnCredential, error)
	DeleteAdminWebAuthn(ctx context.Context, id string) error // ErrNotFound if absent
	// DeleteAdminWebAuthnOf deletes every credential of an administrator
	// and returns how many there were.
	DeleteAdminWebAuthnOf(ctx context.Context, adminID string) (int, error)
	// UseAdminWebAuthn records an accepted assertion as
	// WebAuthnQueries.UseWebAuthnCredential does (guarded on prev;
	// ErrConflict otherwise, also for an unknown credential).
	UseAdminWebAuthn(ctx context.Context, id string, prev, next uint32, backupState bool, at time.Time) error

	// ConsoleCounts counts users by state and the pushes pending at now.
	ConsoleCounts(ctx context.Context, now time.Time) (ConsoleCounts, error)
	// ConsoleUsers returns one page of users and how many match.
	ConsoleUsers(ctx context.Context, q ConsoleUserQuery) ([]User, int, error)
}

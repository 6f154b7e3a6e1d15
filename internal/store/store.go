// Package store defines Assent's persistent records and the Store interface
// that the core uses. Only the sqlstore package knows SQL; everything above
// it sees these value types and sentinel errors.
package store

import (
	"context"
	"errors"
	"time"
)

// MaxPendingTransactions bounds how many pending pushes one device is
// shown (ListPendingTransactions): the newest ones. Push rate limits keep a
// user far below it; the bound keeps a device's poll cheap regardless.
const MaxPendingTransactions = 100

// Sentinel errors returned by every Store implementation.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
)

// IntegrationType says which API an integration's keys may call.
type IntegrationType string

const (
	TypeAuthAPI   IntegrationType = "authapi"
	TypeAdminAPI  IntegrationType = "adminapi"
	TypeWebSDK    IntegrationType = "websdk"
	TypeUniversal IntegrationType = "universal"
)

// Valid reports whether t is one of the known integration types.
func (t IntegrationType) Valid() bool {
	switch t {
	case TypeAuthAPI, TypeAdminAPI, TypeWebSDK, TypeUniversal:
		return true
	}
	return false
}

// NewUserPolicy decides what happens to users who are unknown or have not
// enrolled a device, as Duo's "new user policy" does.
type NewUserPolicy string

const (
	PolicyEnroll NewUserPolicy = "enroll" // default: ask the user to enroll
	PolicyAllow  NewUserPolicy = "allow"  // let them in without a second factor
	PolicyDeny   NewUserPolicy = "deny"   // refuse them
)

// Valid reports whether p is a known policy.
func (p NewUserPolicy) Valid() bool {
	switch p {
	case PolicyEnroll, PolicyAllow, PolicyDeny:
		return true
	}
	return false
}

// Integration is one set of credentials (ikey/skey) for one application.
type Integration struct {
	IKey          string // "DI" + 18 upper-case alphanumerics
	Name          string
	Type          IntegrationType
	SecretEnc     []byte // the skey, sealed by the secrets package; never plaintext
	NewUserPolicy NewUserPolicy
	Created       time.Time
	// AllowedOrigins are the web origins (scheme://host[:port]) that may
	// frame this integration's hosted prompt (Web SDK v2 parent pages); empty
	// means only the parent named in each signed request.
	AllowedOrigins []string
	// Grants are the Admin API grants (store.Grant…) of an adminapi
	// integration; none by default.
	Grants []string
	// PrevSecretEnc is the secret key before the last rotation, sealed like
	// SecretEnc, which still verifies until PrevSecretExpires; empty when
	// no rotation is in its grace period.
	PrevSecretEnc     []byte
	PrevSecretExpires time.Time
	// LegacySignatures lets the integration sign requests with signature
	// version 1 on every Auth API route, with or without a date. Version 1
	// covers no date, so such a request can be replayed at any time; only
	// old clients that cannot sign otherwise need it (the legacy /rest/v1
	// routes accept version 1 from any integration).
	LegacySignatures bool
	// VerifiedPush is the number of digits of the code its pushes carry
	// (number matching): 0 is off, 3 as Duo's, 6 for more assurance.
	VerifiedPush int
	// UsernameNormalization is Duo's username_normalization_policy
	// ("none" or "simple", see package username); "" reads as "none".
	UsernameNormalization string
	// Policies are the global policy and this integration's own and group
	// policies, read with the integration (see PolicyQueries); nil when
	// there are none. Never written by CreateIntegration or
	// UpdateIntegration.
	Policies []Policy
}

// UserStatus is Duo's user status. StatusLockedOut is set by the system only.
type UserStatus string

const (
	StatusActive    UserStatus = "active"
	StatusBypass    UserStatus = "bypass"
	StatusDisabled  UserStatus = "disabled"
	StatusLockedOut UserStatus = "locked out"
)

// Valid reports whether s is a known status.
func (s UserStatus) Valid() bool {
	switch s {
	case StatusActive, StatusBypass, StatusDisabled, StatusLockedOut:
		return true
	}
	return false
}

// User is a person who authenticates.
type User struct {
	ID             string // "DU" + 18 upper-case alphanumerics
	Username       string // as created; lookups compare as package username says (PRECIS)
	Status         UserStatus
	FailedAttempts int    // consecutive failed second-factor attempts
	LockoutReason  string // why the user was locked out; empty otherwise
	Created        time.Time
	LastLogin      time.Time // zero: never
	// Profile holds Duo's descriptive fields (real name, e-mail, notes);
	// written with UpdateUserProfile, never with CreateUser or UpdateUser.
	Profile UserProfile
	// Groups are the user's groups (ID, name and status, by name) when the
	// read that returned the user also read them (GroupsRead), as the
	// decision's one-statement reads do. Never written.
	Groups     []Group
	GroupsRead bool
}

// MaxAliases is how many username aliases a user may have (Duo's alias1
// to alias8).
const MaxAliases = 8

// BypassCode is an administrator-issued one-time (or N-time) passcode. Only a
// keyed hash of the code is stored.
type BypassCode struct {
	ID            string // "DB" + 18 upper-case alphanumerics
	UserID        string
	Hash          []byte // keyed hash of the code; unique per user
	RemainingUses int    // 0 means unlimited
	Expires       time.Time
	Created       time.Time
}

// Expired reports whether the code has an expiry and it is not after now.
func (b BypassCode) Expired(now time.Time) bool {
	return !b.Expires.IsZero() && !now.Before(b.Expires)
}

// AuthLog is one authentication decision. It is written in the same
// transaction as the state that decision changed.
type AuthLog struct {
	ID       int64 // assigned by the store
	TxID     string
	Time     time.Time
	IKey     string // integration that asked; empty for internal callers
	UserID   string // empty when the user is unknown
	Username string // the user's username; as the caller sent it when the user is unknown
	// Alias is the name the user was found by when it was one of the
	// user's aliases rather than the username (Duo's alias); empty
	// otherwise.
	Alias    string
	Factor   string // passcode, bypass_code, push, …; empty if none was tried
	Device   string // device ID or empty
	Result   string // allow, deny, …
	Reason   string // machine-readable reason, e.g. valid_passcode, locked_out
	IP       string
	Hostname string
	// Groups are the user's groups at the time of the decision (Duo's
	// v2 log shows them as user.groups), ordered by name; nil when the
	// user is unknown or in no group.
	Groups []LogGroup
	// Policy names the policy that decided, when one did (a denied or
	// authorized network, groups_allowed, a remembered device, a method
	// restriction, a new-user policy): "global", "integration" or
	// "group:<name>"; empty when no policy setting decided.
	Policy string
}

// LogGroup is a group as an auth-log row remembers it.
type LogGroup struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AuthLogFilter selects auth-log rows; zero fields do not filter.
type AuthLogFilter struct {
	UserID string
	IKey   string
	Since  time.Time // Time >= Since
	Limit  int       // 0: no limit. Newest first.
}

// Queries holds every read and write. Store implements it outside a
// transaction; InTx hands fn an implementation bound to one transaction.
type Queries interface {
	CreateIntegration(ctx context.Context, in Integration) error // ErrAlreadyExists on duplicate IKey
	GetIntegration(ctx context.Context, ikey string) (Integration, error)
	ListIntegrations(ctx context.Context) ([]Integration, error) // ordered by Created, then IKey
	DeleteIntegration(ctx context.Context, ikey string) error    // ErrNotFound if absent
	// UpdateIntegration writes Name, NewUserPolicy, AllowedOrigins,
	// LegacySignatures, VerifiedPush and UsernameNormalization of the integration with in.IKey
	// (never its type, secret or creation time); ErrNotFound if absent.
	UpdateIntegration(ctx context.Context, in Integration) error
	// IntegrationsVersion returns a number that grows with every change of
	// any integration (create, update, delete), made by any process or
	// node, committed in the same transaction as the change. A copy of an
	// integration read after IntegrationsVersion returned n is current as
	// long as IntegrationsVersion still returns n.
	IntegrationsVersion(ctx context.Context) (int64, error)

	// CreateUser returns ErrAlreadyExists if the ID or the username (compared
	// case-insensitively) is taken, as a username or as another user's alias.
	CreateUser(ctx context.Context, u User) error
	// GetUser and GetUserByUsername lock the row until the end of the
	// transaction when called inside InTx on engines that lock rows
	// (PostgreSQL: SELECT … FOR UPDATE), so concurrent read-modify-writes
	// of one user serialize. Authentication decisions read outside the
	// transaction instead and write with GuardedQueries.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername finds the user whose username, or else one of
	// whose aliases, is username (compared as package username says).
	GetUserByUsername(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error) // ordered by username
	// UpdateUser writes Username, Status, FailedAttempts, LockoutReason and
	// LastLogin of the user with u.ID; ErrNotFound if absent,
	// ErrAlreadyExists if a new username is taken (as CreateUser).
	UpdateUser(ctx context.Context, u User) error
	// SetUserAliases replaces the user's aliases: aliases[i] is Duo's
	// alias<i+1>, "" for none; at most MaxAliases. It returns
	// ErrAlreadyExists if an alias is another user's username or alias (or
	// two are the same), ErrNotFound if the user does not exist.
	SetUserAliases(ctx context.Context, userID string, aliases []string) error
	// ListUserAliases returns the user's aliases as SetUserAliases takes
	// them, without trailing empty positions (nil: none).
	ListUserAliases(ctx context.Context, userID string) ([]string, error)
	// DeleteUser also deletes the user's bypass codes, devices,
	// activations, transactions and authenticator apps, and unassigns the
	// user's hardware tokens.
	DeleteUser(ctx context.Context, id string) error

	CreateBypassCodes(ctx context.Context, codes []BypassCode) error
	ListBypassCodes(ctx context.Context, userID string) ([]BypassCode, error) // ordered by Created, then ID
	FindBypassCode(ctx context.Context, userID string, hash []byte) (BypassCode, error)
	// GetUserAndBypassCode is GetUserByUsername(username) and, in the same
	// read, FindBypassCode(userID, hash) if the user found has ID userID
	// (hash being computed for that user): checked reports whether the
	// user's ID was userID, found whether a code matched then. Outside a
	// transaction it locks nothing.
	GetUserAndBypassCode(ctx context.Context, username, userID string, hash []byte) (u User, c BypassCode, checked, found bool, err error)
	UpdateBypassCode(ctx context.Context, c BypassCode) error // writes RemainingUses
	DeleteBypassCode(ctx context.Context, id string) error
	DeleteBypassCodesForUser(ctx context.Context, userID string) error

	// AppendAuthLog sets l.ID, and raises l.Time to the auth log's clock
	// (the last SealLogs): a row committed after a seal is stamped at or
	// after it (see AdminQueries.SealLogs). Concurrent writers do not wait
	// for each other, so rows are not stamped in commit order among
	// themselves.
	AppendAuthLog(ctx context.Context, l *AuthLog) error
	ListAuthLog(ctx context.Context, f AuthLogFilter) ([]AuthLog, error)

	GetSetting(ctx context.Context, key string) (string, error) // ErrNotFound if unset
	PutSetting(ctx context.Context, key, value string) error    // insert or replace

	DeviceQueries
	TokenQueries
	OnetimeQueries
	PurgeQueries
	GuardedQueries

	// Second factors (issue 11).
	WebAuthnQueries

	// The Admin API and the administrator log (issue 12).
	AdminQueries

	// Web Push subscriptions of the Assent Authenticator (issue 13).
	WebPushQueries

	// Groups (issue 12).
	GroupQueries

	// Phones created before activation (issue 12).
	PhoneQueries
	// Console administrators and their sessions (issue 15).
	AdminAccountQueries
	// Directories users and groups are synced from (issue 16).
	DirectoryQueries
	// Self-service portal sessions (issue 15).
	UserSessionQueries
	// The console's log pages and dashboard charts (issue 15).
	ConsoleLogQueries
	// Policies (issue 16).
	PolicyQueries
	// SMS passcodes and the telephony log (issue 17).
	TelephonyQueries
	// Phone numbers being added in the portal (issue 17).
	PhoneProofQueries
}

// Store is a database.
type Store interface {
	Queries
	// InTx runs fn inside one transaction and commits if fn returns nil.
	// fn must use only the Queries it is given.
	InTx(ctx context.Context, fn func(q Queries) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Device is an activated authenticator (a phone app or `assent device`).
type Device struct {
	ID        string // "DP" + 18; also the pkey the device names itself with
	UserID    string
	Name      string // shown in prompts, e.g. "Pixel 8" or "assent device"
	Platform  string // Android, iOS, Assent CLI, …
	PublicKey string // PEM SubjectPublicKeyInfo (RSA) verifying the device's requests
	// HOTPSecretEnc is the hotp_secret, sealed by the secrets package.
	HOTPSecretEnc []byte
	// HOTPCounter is the lowest counter value still accepted; every code at
	// or below a used one is spent.
	HOTPCounter int64
	PushToken   string // registration token (e.g. "GCM:…"); may be empty
	// Number (E.164) and Extension are the phone's, "" for none. A device
	// without a PublicKey is a phone without an app: it receives SMS
	// passcodes and nothing else.
	Number    string
	Extension string
	// PhoneType is "" for a mobile number, PhoneLandline for one that is
	// called and never texted. Predelay and Postdelay are Duo's seconds
	// around dialling Extension once answered, as given; "" is the default.
	PhoneType           string
	Predelay, Postdelay string
	Created             time.Time
	LastSeen            time.Time // zero: never
}

// PhoneLandline is Device.PhoneType of a landline.
const PhoneLandline = "landline"

// Activation is a pending or used activation code. Only a keyed hash of the
// code is stored: the code itself is a bearer secret.
type Activation struct {
	CodeHash []byte
	UserID   string
	Expires  time.Time
	DeviceID string // set when a device used the code; empty while waiting
	Created  time.Time
	// PhoneID is the phone the code activates (an Admin API phone, pending
	// or to be reactivated): the device takes that ID. Empty: a new ID.
	PhoneID string
}

// Transaction states.
const (
	TxPushed  = "pushed" // waiting for the device
	TxAllow   = "allow"
	TxDeny    = "deny"
	TxTimeout = "timeout"
	TxFraud   = "fraud" // denied by the user as "this wasn't me"
	// TxFailed is a phone call that could not be placed (the SIP trunk
	// refused it, a transport error): neither allow nor deny but an error.
	TxFailed = "failed"
)

// Transaction is an out-of-band authentication (a push) waiting for or
// holding its answer.
type Transaction struct {
	ID              string // lower-case UUID: the txid and the device's urgid
	UserID          string
	DeviceID        string
	IKey            string
	Factor          string // push
	State           string // TxPushed, TxAllow, TxDeny, TxTimeout, TxFraud
	Type            string // shown before "request", e.g. "Login"
	DisplayUsername string
	PushInfo        string // URL-encoded key=value pairs shown on the device
	IP              string
	Hostname        string
	Created         time.Time
	Expires         time.Time
	Answered        time.Time // zero while pushed
	// StepUpDigits is the length of the Verified Push code the device must
	// send back with an approval; 0 for a plain push.
	StepUpDigits int
	// Groups are the user's groups when the push was sent, for the
	// auth-log row written when it is answered.
	Groups []LogGroup
	// Progress is where a phone call (Factor "phone") stands while State
	// is TxPushed: "calling" or "answered"; "" for a push.
	Progress string
	// Phone is the masked number a phone call dials (XXX-XXX-1234).
	Phone string
}

// DeviceQueries are the device, activation and transaction reads and
// writes. Inside InTx on PostgreSQL, GetDevice, GetActivation and
// GetTransaction lock the row (SELECT … FOR UPDATE) like GetUser, so a
// read-modify-write of a device (last seen, push token) cannot write back
// a HOTP counter that a concurrent login has just advanced.
type DeviceQueries interface {
	CreateDevice(ctx context.Context, d Device) error // ErrAlreadyExists on duplicate ID
	GetDevice(ctx context.Context, id string) (Device, error)
	ListDevices(ctx context.Context, userID string) ([]Device, error) // ordered by Created, then ID
	// GetUserAndDevices is GetUserByUsername(username), or GetUser(userID)
	// when username is empty, and ListDevices of the user found, in one
	// read.
	GetUserAndDevices(ctx context.Context, username, userID string) (User, []Device, error)
	// UpdateDevice writes Name, HOTPCounter, PushToken and LastSeen.
	UpdateDevice(ctx context.Context, d Device) error
	DeleteDevice(ctx context.Context, id string) error // also deletes its transactions

	CreateActivation(ctx context.Context, a Activation) error
	GetActivation(ctx context.Context, codeHash []byte) (Activation, error)
	UpdateActivation(ctx context.Context, a Activation) error // writes DeviceID, by CodeHash
	// DeleteExpiredActivations removes unused activations that expired
	// before now and returns how many.
	DeleteExpiredActivations(ctx context.Context, now time.Time) (int, error)

	CreateTransaction(ctx context.Context, t Transaction) error
	GetTransaction(ctx context.Context, id string) (Transaction, error)
	// UpdateTransaction writes State, Answered and Progress.
	UpdateTransaction(ctx context.Context, t Transaction) error
	// ListPendingTransactions lists a device's transactions in TxPushed that
	// expire after now, oldest first: the newest MaxPendingTransactions of
	// them, so what a device fetches stays bounded however many wait.
	ListPendingTransactions(ctx context.Context, deviceID string, now time.Time) ([]Transaction, error)
}

// Onetime is a single-use, expiring token: an enrollment-portal link, an
// OAuth authorization code, a seen JWT ID. Only a keyed hash of the token is
// stored (like activation codes, the token is a bearer secret).
type Onetime struct {
	Hash    []byte // keyed hash of the token; the primary key
	Kind    string // what the token is for, e.g. "enroll_link", "oauth_code"
	Payload []byte // what the token stands for; opaque to the store
	Expires time.Time
	Created time.Time
}

// OnetimeQueries store single-use tokens. A token is usable while now is
// before Expires (whole seconds); an expired token is reported as ErrNotFound
// and may be purged at any time.
type OnetimeQueries interface {
	// PutOnetime stores a token. It returns ErrAlreadyExists if a token with
	// the same hash exists and has not expired at o.Created; an expired one
	// is replaced. It also purges tokens that expired by o.Created.
	PutOnetime(ctx context.Context, o Onetime) error
	// GetOnetime returns the unexpired token of that kind and hash without
	// using it.
	GetOnetime(ctx context.Context, kind string, hash []byte, now time.Time) (Onetime, error)
	// TakeOnetime deletes and returns the unexpired token of that kind and
	// hash, atomically: of concurrent takers exactly one gets it, the others
	// get ErrNotFound.
	TakeOnetime(ctx context.Context, kind string, hash []byte, now time.Time) (Onetime, error)
}

// PurgeQueries delete rows that have outlived their use. Each call deletes
// at most limit rows (limit > 0) and returns how many it deleted; callers
// repeat while a call deletes limit rows, so no single statement holds the
// writer long. Times compare in whole seconds.
type PurgeQueries interface {
	// PurgeTransactions deletes transactions whose Expires is before
	// before, whatever their state (answered, timed out, never settled).
	PurgeTransactions(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeActivations deletes activations, used or not, whose Expires is
	// set and before before.
	PurgeActivations(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeOnetime deletes single-use tokens that expired by now (Expires
	// not after now), of every kind.
	PurgeOnetime(ctx context.Context, now time.Time, limit int) (int, error)
	// PurgeAuthLog deletes auth-log rows whose Time is before before.
	PurgeAuthLog(ctx context.Context, before time.Time, limit int) (int, error)
}

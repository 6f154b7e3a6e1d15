// Package auth is Assent's core: it decides authentications and owns
// integrations, users and bypass codes. It never imports net/http; the
// protocol edges (authapi, frame, …) translate to and from it.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-auth/assent/internal/passhash"
	"github.com/assent-auth/assent/internal/push"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
)

// Options configure a Service. Zero values take the documented defaults.
type Options struct {
	// LockoutThreshold is the number of consecutive failed attempts after
	// which a user is locked out. 0 means the default (10); negative disables
	// lockout.
	LockoutThreshold int
	// EnrollPortalURL returns the URL preauth sends users who must enroll
	// (typically a link with a token from EnrollLinkToken).
	EnrollPortalURL func(ctx context.Context, username string) (string, error)
	// EnrollLinkTTL is how long EnrollLinkToken's links stay valid.
	// Default DefaultEnrollLinkTTL.
	EnrollLinkTTL time.Duration
	// Now is the clock; tests inject their own.
	Now func() time.Time
	// Logger receives operational events (never secrets or passcodes).
	Logger *slog.Logger
	// APIHostname is the public host[:port] devices activate against.
	APIHostname string
	// CustomerName is shown on activated devices. Default "Assent".
	CustomerName string
	// Broker wakes requests waiting for push answers; default in-process.
	Broker Broker
	// PushTimeout is how long a push waits for its answer. Default 60 s.
	PushTimeout time.Duration
	// PushCooldownAfter is how many pushes in a row a user may deny, mark
	// as fraud or leave unanswered within PushCooldown before further
	// pushes are refused until PushCooldown after the last of them; 0: no
	// cool-down.
	PushCooldownAfter int
	// PushCooldown is the cool-down and the window its denials count in.
	// Default 15 minutes.
	PushCooldown time.Duration
	// FraudLockout locks out a user who marks a push as fraud.
	FraudLockout bool
	// StatusWait is how long auth_status holds a request while nothing
	// changes. Default 30 s.
	StatusWait time.Duration
	// Limits are the per-user and per-integration rate limits; the zero
	// value limits nothing.
	Limits Limits
	// SMS configures SMS passcodes (sms.go); the zero value sends none.
	SMS SMSOptions
	// Phone configures phone-callback calls (phone.go); the zero value
	// places none.
	Phone PhoneOptions
	// MaxHeldRequests caps the requests held at once while they wait for a
	// device (synchronous pushes, auth_status); more are refused with
	// KindRateLimited. 0 means DefaultMaxHeldRequests; negative, no cap.
	MaxHeldRequests int
	// RetainTransactions is how long push transactions and activation
	// codes are kept after they expire. 0 means DefaultRetainTransactions;
	// negative keeps them forever.
	RetainTransactions time.Duration
	// RetainAuthLog is how long auth-log rows are kept; 0 or negative keeps
	// them forever.
	RetainAuthLog time.Duration
	// PurgeInterval is how often RunPurger purges. Default
	// DefaultPurgeInterval.
	PurgeInterval time.Duration
	// TOTPIssuer names the installation in authenticator apps (the issuer
	// of otpauth:// URIs). Default DefaultTOTPIssuer.
	TOTPIssuer string

	// Console administrators (admins.go): how long a setup link is valid,
	// the idle and absolute timeouts of a session, how long a sign-in or
	// re-authentication lets a session do dangerous things, and the
	// password hash's costs. Zero values take the Default… constants.
	AdminSetupTTL       time.Duration
	AdminIdleTimeout    time.Duration
	AdminSessionTimeout time.Duration
	AdminReauthWindow   time.Duration
	AdminPasswordCost   passhash.Params
	// YubiKey decodes YubiKey OTPs; nil: YubiKey tokens accept nothing.
	YubiKey YubiKeyOTP

	// WebAuthn verifies security keys and passkeys (internal/webauthnrp);
	// nil: they cannot be registered or used.
	WebAuthn WebAuthnRP

	// PushNotifier wakes the device of each push sent (Web Push to the
	// Assent Authenticator); nil: devices find pushes by polling.
	PushNotifier PushNotifier

	// Events receives every auth-log row once committed (for a SIEM);
	// nil: none.
	Events AuthEvents

	// Mailer sends e-mail to users (mail.go); nil: none. MailNotices are
	// the notices sent (enrollment e-mails are always sent when asked).
	Mailer      Mailer
	MailNotices []NoticeKind
}

// PushNotifier is told of every push once it is stored, so it can wake
// the device. It must return at once (deliver in the background).
type PushNotifier interface {
	PushSent(t store.Transaction)
}

// Broker wakes requests waiting on a transaction (see package push):
// Subscribe calls wake after each Publish of txid until stop is called;
// wake must return quickly.
type Broker interface {
	Subscribe(txid string, wake func()) (stop func())
	Publish(ctx context.Context, txid string) error
}

// Defaults.
const (
	// DefaultLockoutThreshold matches Duo's default of 10 failed attempts.
	DefaultLockoutThreshold = 10
	// DefaultPushTimeout is how long a push waits, as in Duo.
	DefaultPushTimeout = 60 * time.Second
	// DefaultStatusWait is how long auth_status holds an unchanged request.
	DefaultStatusWait = 30 * time.Second
)

// Service is the domain core.
type Service struct {
	st   store.Store
	box  *secrets.Box
	opts Options
	lim  limiters
	sms  smsState
	// calls is a pointer: its WaitGroup and mutex must not be copied.
	calls *phoneState

	skeys sync.Map     // ikey → *cachedIntegration; see Integration
	nkeys atomic.Int64 // entries stored into skeys since it was last cleared
	// versions shares IntegrationsVersion reads among concurrent requests.
	versions sharedRead[int64]

	threshold thresholdCache // the lockout threshold in force; see lockoutsetting.go
	pushLimit pushLimitCache // the pushes-per-user limit in force; see pushlimitsetting.go
	logo      logoCache      // the console's logo; see logosetting.go
	userHints sync.Map       // username → the user ID last found for it; see lookupForAuth
	nhints    atomic.Int64   // entries stored into userHints since it was last cleared

	held   heldGate   // requests waiting for a device; see hold
	checks checkQueue // re-reads of waited-for transactions; see watch
	shown  codeShown  // verified pushes whose code auth_status reported

	watches sync.Map    // *watch → struct{}: the waits under way; see EndHeld
	ending  atomic.Bool // EndHeld was called: waits end at once

	pushTimeout atomic.Int64 // time.Duration; Options.PushTimeout, see SetPushTimeout

	stats Stats // counters for the metrics; see stats.go

	dummyOnce sync.Once // see dummyHash
	dummy     string
}

// New returns a Service persisting through st and sealing secrets with box.
func New(st store.Store, box *secrets.Box, opts Options) *Service {
	if opts.LockoutThreshold == 0 {
		opts.LockoutThreshold = DefaultLockoutThreshold
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CustomerName == "" {
		opts.CustomerName = "Assent"
	}
	if opts.Broker == nil {
		opts.Broker = push.NewLocal()
	}
	if opts.PushTimeout <= 0 {
		opts.PushTimeout = DefaultPushTimeout
	}
	if opts.PushCooldown <= 0 {
		opts.PushCooldown = 15 * time.Minute
	}
	if opts.StatusWait <= 0 {
		opts.StatusWait = DefaultStatusWait
	}
	if opts.RetainTransactions == 0 {
		opts.RetainTransactions = DefaultRetainTransactions
	}
	if opts.PurgeInterval <= 0 {
		opts.PurgeInterval = DefaultPurgeInterval
	}
	if opts.EnrollPortalURL == nil {
		opts.EnrollPortalURL = func(context.Context, string) (string, error) { return "", nil }
	}
	if opts.EnrollLinkTTL <= 0 {
		opts.EnrollLinkTTL = DefaultEnrollLinkTTL
	}
	opts.adminDefaults()
	if opts.TOTPIssuer == "" {
		opts.TOTPIssuer = DefaultTOTPIssuer
	}
	if opts.MaxHeldRequests == 0 {
		opts.MaxHeldRequests = DefaultMaxHeldRequests
	}
	s := &Service{st: st, box: box, opts: opts, lim: newLimiters(opts.Limits, opts.Now), sms: newSMSState(opts.SMS, opts.Now),
		calls: newPhoneState(opts.Phone, opts.Now)}
	s.pushLimit.configured = opts.Limits.PushesPerUser
	s.pushTimeout.Store(int64(opts.PushTimeout))
	return s
}

// PushTimeout is how long a new push waits for its device.
func (s *Service) PushTimeout() time.Duration { return time.Duration(s.pushTimeout.Load()) }

// SetPushTimeout changes the push timeout for pushes sent from now on
// (a configuration reload); pushes already sent keep their expiry. A value
// of 0 or less is ignored.
func (s *Service) SetPushTimeout(d time.Duration) {
	if d > 0 {
		s.pushTimeout.Store(int64(d))
	}
}

// SetLimits changes the core's rate limits (a configuration reload); the
// buckets already kept take the new rates at once.
func (s *Service) SetLimits(l Limits) {
	s.setConfiguredPushLimit(l.PushesPerUser)
	s.lim.passcodeUser.SetLimit(l.PasscodeFailuresPerUser)
	s.lim.passcodeIP.SetLimit(l.PasscodeFailuresPerIP)
	s.lim.enrollments.SetLimit(l.EnrollmentsPerIntegration)
}

func (s *Service) now() time.Time { return s.opts.Now().Truncate(time.Second) }

// Kind classifies errors for the edges, which map them to protocol codes.
type Kind int

const (
	// KindInvalid is a bad or missing parameter (Duo 400/40002).
	KindInvalid Kind = iota + 1
	// KindNotFound is a named resource that does not exist (Duo 404/40401).
	KindNotFound
	// KindConflict is a resource that already exists.
	KindConflict
	// KindRateLimited is an attempt refused by a rate limit (Duo 429/42901);
	// Error.RetryAfter says when to try again.
	KindRateLimited
)

// Error is an error a caller caused. Param names the offending parameter
// where there is one; Detail is safe to show to the caller.
type Error struct {
	Kind   Kind
	Param  string
	Detail string
	// RetryAfter is set for KindRateLimited: how long until an attempt can
	// succeed again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Param != "" && e.Detail != "" {
		return e.Param + ": " + e.Detail
	}
	if e.Detail != "" {
		return e.Detail
	}
	return e.Param
}

func invalid(param, detail string) error {
	return &Error{Kind: KindInvalid, Param: param, Detail: detail}
}

func notFound(detail string) error { return &Error{Kind: KindNotFound, Detail: detail} }

func rateLimited(detail string, retry time.Duration) error {
	return &Error{Kind: KindRateLimited, Detail: detail, RetryAfter: retry}
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	if err == nil {
		return false // no allocation for the target below on the common path
	}
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// ErrNoCapableDevice is returned when a factor needs a device the user does
// not have (Duo answers 400/40002 "no capable device").
var ErrNoCapableDevice = &Error{Kind: KindInvalid, Detail: "no capable device"}

func wrap(op string, err error) error { return fmt.Errorf("auth: %s: %w", op, err) }

// userRef names a user by username or by user ID; exactly one is set.
type userRef struct {
	Username string
	UserID   string
}

func (r userRef) validate() error {
	switch {
	case r.Username == "" && r.UserID == "":
		return invalid("username", "one of username or user_id is required")
	case r.Username != "" && r.UserID != "":
		return invalid("username", "give username or user_id, not both")
	}
	return nil
}

// lookup finds the referenced user with q. A missing user is (zero, false, nil).
func lookup(ctx context.Context, q store.Queries, r userRef) (store.User, bool, error) {
	var (
		u   store.User
		err error
	)
	if r.UserID != "" {
		u, err = q.GetUser(ctx, r.UserID)
	} else {
		u, err = q.GetUserByUsername(ctx, r.Username)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, err
	}
	return u, true, nil
}

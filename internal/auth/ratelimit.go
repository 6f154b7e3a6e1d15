package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Limits are the core's rate limits: token buckets kept in this process
// (each node of a cluster keeps its own). A zero ratelimit.Limit disables
// a limit. The per-address limits on guessed activation codes and portal
// links live at the edges that read those codes.
type Limits struct {
	// PushesPerUser is spent by every push started for a user (sync or
	// async, from any entry point). Over it: KindRateLimited, no push.
	PushesPerUser ratelimit.Limit
	// PasscodeFailuresPerUser is spent by every failed passcode of a user.
	// A user out of tokens has every passcode refused unchecked, a right
	// one too, so the limit tells a guesser nothing. The lockout counter
	// counts on beside it.
	PasscodeFailuresPerUser ratelimit.Limit
	// PasscodeFailuresPerIP is the same per end-user address: Request.IP
	// (ipaddr, the browser's address in the prompt), IPv6 by /64. Requests
	// without one are limited per user only: a VPN's own address must not
	// throttle all its users.
	PasscodeFailuresPerIP ratelimit.Limit
	// EnrollmentsPerIntegration is spent by every activation code an
	// integration creates (EnrollRequest.IKey).
	EnrollmentsPerIntegration ratelimit.Limit
}

// Names of the core's limits in warnings: the settings that configure them.
const (
	LimitPushesPerUser             = "rate_limit_pushes_per_user"
	LimitPasscodeFailuresPerUser   = "rate_limit_passcode_failures_per_user"
	LimitPasscodeFailuresPerIP     = "rate_limit_passcode_failures_per_ip"
	LimitEnrollmentsPerIntegration = "rate_limit_enrollments_per_integration"
)

// ReasonRateLimited is the auth-log reason of an attempt a rate limit
// refused (Duo's reason for too frequent attempts).
const ReasonRateLimited = "frequent_attempts"

// Details of the rate-limit errors (message_detail of the 429 answers).
const (
	detailTooManyPushes      = "too many pushes for this user; try again later"
	detailTooManyPasscodes   = "too many failed passcodes for this user; try again later"
	detailTooManyFromAddress = "too many failed passcodes from this address; try again later"
	detailTooManyEnrollments = "too many enrollments for this integration; try again later"
)

type limiters struct {
	pushes, passcodeUser, passcodeIP, enrollments *ratelimit.Named
}

func newLimiters(l Limits, now func() time.Time) limiters {
	o := ratelimit.Options{Now: now}
	return limiters{
		pushes:       ratelimit.NewNamed(LimitPushesPerUser, l.PushesPerUser, o),
		passcodeUser: ratelimit.NewNamed(LimitPasscodeFailuresPerUser, l.PasscodeFailuresPerUser, o),
		passcodeIP:   ratelimit.NewNamed(LimitPasscodeFailuresPerIP, l.PasscodeFailuresPerIP, o),
		enrollments:  ratelimit.NewNamed(LimitEnrollmentsPerIntegration, l.EnrollmentsPerIntegration, o),
	}
}

// RateLimits are the core's rate limits, for metrics (each counts its
// refusals).
func (s *Service) RateLimits() []*ratelimit.Named {
	return []*ratelimit.Named{s.lim.pushes, s.lim.passcodeUser, s.lim.passcodeIP, s.lim.enrollments}
}

// passcodeAttempt is one passcode check admitted by the per-user and
// per-address limits (ratelimit Begin); end records its outcome.
type passcodeAttempt struct {
	lim        *limiters
	user, addr string // keys begun; "" for none
	failed     bool
}

// beginPasscode admits a passcode check for user from ip, or refuses it
// with KindRateLimited before anything is checked.
func (s *Service) beginPasscode(ctx context.Context, a *passcodeAttempt, u store.User, ip string) error {
	if a.lim != nil {
		if a.user == u.ID {
			return nil // admitted when this request's decision was first taken
		}
		// Decided again about another user (the username changed hands
		// meanwhile): give back the first admission, unspent.
		a.end(false)
		*a = passcodeAttempt{}
	}
	a.lim = &s.lim
	if ok, retry := s.lim.passcodeUser.Begin(u.ID); !ok {
		s.lim.passcodeUser.Warn(s.log(ctx).With("username", u.Username), u.ID, retry)
		return rateLimited(detailTooManyPasscodes, retry)
	}
	a.user = u.ID
	addr := ratelimit.AddrKey(ip)
	if addr == "" {
		return nil
	}
	if ok, retry := s.lim.passcodeIP.Begin(addr); !ok {
		s.lim.passcodeIP.Warn(s.log(ctx).With("username", u.Username), addr, retry)
		return rateLimited(detailTooManyFromAddress, retry)
	}
	a.addr = addr
	return nil
}

// end ends the attempt; a failed one spends a token of each bucket.
func (a *passcodeAttempt) end(committed bool) {
	if a.lim == nil {
		return
	}
	failed := a.failed && committed
	if a.user != "" {
		a.lim.passcodeUser.End(a.user, failed)
	}
	if a.addr != "" {
		a.lim.passcodeIP.End(a.addr, failed)
	}
}

// allowPush spends a push token of the user.
func (s *Service) allowPush(ctx context.Context, u store.User) error {
	s.refreshPushLimit(ctx)
	if ok, retry := s.lim.pushes.Allow(u.ID); !ok {
		s.lim.pushes.Warn(s.log(ctx).With("username", u.Username), u.ID, retry)
		return rateLimited(detailTooManyPushes, retry)
	}
	return nil
}

// allowEnrollment spends an enrollment token of the integration ikey
// (none for administrators, ikey "").
func (s *Service) allowEnrollment(ctx context.Context, ikey string) error {
	if ikey == "" {
		return nil
	}
	if ok, retry := s.lim.enrollments.Allow(ikey); !ok {
		s.lim.enrollments.Warn(s.log(ctx), ikey, retry)
		return rateLimited(detailTooManyEnrollments, retry)
	}
	return nil
}

type loggerKey struct{}

// WithLogger returns ctx carrying the logger of one request (with its
// request ID); the core's warnings about that request go to it.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// log is the request's logger when ctx has one, else the core's.
func (s *Service) log(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return s.opts.Logger
}

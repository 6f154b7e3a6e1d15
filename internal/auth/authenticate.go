package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Factors accepted by auth.
const (
	FactorAuto     = "auto"
	FactorPush     = "push"
	FactorPasscode = "passcode"
	FactorPhone    = "phone"
	FactorSMS      = "sms"
	FactorPrompt   = "prompt" // duo_unix: the value of the prompt parameter decides
)

// AuthRequest asks to authenticate a user with a factor.
type AuthRequest struct {
	Request
	Factor   string
	Passcode string // factor=passcode, or auto carrying a passcode
	Prompt   string // factor=prompt: a factor name from the prompt, or a passcode
	Device   string // device ID or "auto"
	// Async returns a txid at once; the answer comes from AuthStatus.
	Async bool
	// Type, DisplayUsername and PushInfo are shown on the device.
	Type            string
	DisplayUsername string
	PushInfo        string
}

// AuthResult is Duo's auth answer: the decision, or (async) only TxID.
type AuthResult struct {
	Result    string // allow or deny; empty for an async answer
	Status    string // allow, deny, bypass, locked_out, timeout, …
	StatusMsg string
	TxID      string
}

// maxPasscodeLen bounds passcodes; YubiKey OTPs are 44 characters.
const maxPasscodeLen = 64

// deviceFactor matches the device-bound factor names duo_unix and the RADIUS
// proxy send (push, push2, phone1, sms, smsrefresh1, voice1, verified_push1).
var deviceFactor = regexp.MustCompile(`^(push|phone|sms|voice|smsrefresh|verified_push)([0-9]*)$`)

// plan is the factor an auth request resolves to.
type plan struct {
	passcode string // non-empty: check this passcode
	device   string // "push", "phone" or "sms": needs a device
	index    int    // 1-based device position from a prompt factor (push2); 0: by req.Device
}

func resolveFactor(req AuthRequest) (plan, error) {
	switch req.Factor {
	case "":
		return plan{}, invalid("factor", "is required")
	case FactorPasscode:
		if req.Passcode == "" {
			return plan{}, invalid("passcode", "is required with factor=passcode")
		}
		return checkPasscodeShape(req.Passcode)
	case FactorAuto:
		if req.Passcode != "" {
			return checkPasscodeShape(req.Passcode)
		}
		return plan{device: FactorPush}, nil
	case FactorPrompt:
		if req.Prompt == "" {
			return plan{}, invalid("prompt", "is required with factor=prompt")
		}
		if m := deviceFactor.FindStringSubmatch(req.Prompt); m != nil {
			return factorName(m[1], m[2]), nil
		}
		return checkPasscodeShape(req.Prompt)
	case FactorPush, FactorPhone, FactorSMS:
		return plan{device: req.Factor}, nil
	}
	return plan{}, invalid("factor", fmt.Sprintf("unknown factor %q", req.Factor))
}

// factorName maps a prompt factor such as push2 or smsrefresh1 to a plan.
func factorName(name, num string) plan {
	p := plan{device: FactorPush}
	switch name {
	case "phone", "voice":
		p.device = FactorPhone
	case "sms", "smsrefresh":
		p.device = FactorSMS
	}
	if n, err := strconv.Atoi(num); err == nil {
		p.index = n
	}
	return p
}

func checkPasscodeShape(p string) (plan, error) {
	if len(p) > maxPasscodeLen {
		return plan{}, invalid("passcode", "is too long")
	}
	for _, c := range p {
		if c <= ' ' || c > '~' {
			return plan{}, invalid("passcode", "must be printable ASCII without spaces")
		}
	}
	return plan{passcode: p}, nil
}

// Auth authenticates a user. Every decision writes an auth-log row in the
// same transaction as the state it changes (failure count, lockout, bypass
// code uses, HOTP counter), so the log never disagrees with the state. A
// push is stored as a transaction and decided when the device answers or
// the push times out; synchronous requests wait for that in awaitPush
// (see Auth and StartAuth). A push or passcode refused by a rate limit
// (Options.Limits) is a KindRateLimited error, recorded in the auth log as
// ReasonRateLimited.
func (s *Service) startAuth(ctx context.Context, req AuthRequest, held **Held) (AuthResult, error) {
	var err error
	if req.Request, err = req.check(); err != nil {
		return AuthResult{}, err
	}
	if err := req.checkPush(); err != nil {
		return AuthResult{}, err
	}
	p, err := resolveFactor(req)
	if err != nil {
		return AuthResult{}, err
	}
	var place *heldPlace
	if !req.Async && p.device == FactorPush {
		// A synchronous push holds the request until the device answers:
		// take a place first, so a refusal sends no push.
		if place, err = s.hold(); err != nil {
			return AuthResult{}, err
		}
		defer place.release() // a no-op once the wait took the place over
	}
	var (
		res     AuthResult
		pending *store.Transaction
		limited error           // a rate limit's refusal, answered after the commit
		attempt passcodeAttempt // the passcode check the limits admitted, if any
	)
	committed := false
	defer func() { attempt.end(committed) }()
	err = s.st.InTx(ctx, func(q store.Queries) error {
		u, known, err := lookup(ctx, q, req.ref())
		if err != nil {
			return err
		}
		if !known && req.UserID != "" {
			return invalid("user_id", "no user with that user_id")
		}
		l := s.logRow(req.Request, u)
		res, pending, err = s.decide(ctx, q, req, p, u, known, &l, &attempt)
		if IsKind(err, KindRateLimited) {
			// Nothing was tried; the refusal itself is logged.
			limited, l.Result, l.Reason = err, ResultDeny, ReasonRateLimited
			return q.AppendAuthLog(ctx, &l)
		}
		if err != nil {
			return err
		}
		if pending != nil {
			// Decided when the device answers or the push times out.
			return q.CreateTransaction(ctx, *pending)
		}
		res.TxID = l.TxID
		l.Result = res.Result
		if req.Async {
			// auth_status must be able to report this decision.
			if err := q.CreateTransaction(ctx, store.Transaction{
				ID: l.TxID, UserID: u.ID, DeviceID: l.Device, IKey: req.Integration.IKey, Factor: l.Factor,
				State: finalState(res), IP: req.IP, Hostname: req.Hostname,
				Created: l.Time, Expires: l.Time, Answered: l.Time,
			}); err != nil {
				return err
			}
		}
		attempt.failed = l.Reason == ReasonInvalidPasscode
		return q.AppendAuthLog(ctx, &l)
	})
	committed = err == nil
	var ae *Error
	if errors.As(err, &ae) {
		return AuthResult{}, err
	}
	if err != nil {
		return AuthResult{}, wrap("auth", err)
	}
	if limited != nil {
		return AuthResult{}, limited
	}
	if pending == nil {
		if req.Async {
			return AuthResult{TxID: res.TxID}, nil
		}
		return res, nil
	}
	s.opts.Logger.Info("push sent", "txid", pending.ID, "user_id", pending.UserID, "device_id", pending.DeviceID)
	if req.Async {
		return AuthResult{TxID: pending.ID}, nil
	}
	return s.awaitPush(ctx, pending.ID, place, held)
}

func finalState(r AuthResult) string {
	if r.Result == ResultAllow {
		return store.TxAllow
	}
	return store.TxDeny
}

// decide makes the decision inside the transaction and fills the log row's
// factor, device and reason; the caller records the result. A push returns
// the transaction to create instead of a result.
//
// The rate limits are applied here, once the user is known and just before
// anything is tried: a push spends a token of the user's push bucket, a
// passcode check must be admitted by the user's and the address's failure
// buckets (even a right code is refused unchecked when they are empty).
func (s *Service) decide(ctx context.Context, q store.Queries, req AuthRequest, p plan, u store.User, known bool, l *store.AuthLog, a *passcodeAttempt) (AuthResult, *store.Transaction, error) {
	if p.passcode != "" {
		l.Factor = FactorPasscode
	}
	if !known {
		return s.unenrolledAuth(req.Integration, l), nil, nil
	}
	switch u.Status {
	case store.StatusBypass:
		l.Reason = ReasonBypassUser
		return AuthResult{Result: ResultAllow, Status: "bypass", StatusMsg: msgBypassAllowed}, nil, nil
	case store.StatusDisabled:
		l.Reason = ReasonUserDisabled
		return AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgDisabled}, nil, nil
	case store.StatusLockedOut:
		l.Reason = ReasonLockedOut
		return AuthResult{Result: ResultDeny, Status: "locked_out", StatusMsg: msgLockedOut}, nil, nil
	}
	devices, err := q.ListDevices(ctx, u.ID)
	if err != nil {
		return AuthResult{}, nil, err
	}
	codes, err := q.ListBypassCodes(ctx, u.ID)
	if err != nil {
		return AuthResult{}, nil, err
	}
	now := s.now()
	if len(devices) == 0 && !usableBypassCodes(codes, now) {
		// Not enrolled: nothing to authenticate with.
		if p.device != "" {
			return AuthResult{}, nil, ErrNoCapableDevice
		}
		return s.unenrolledAuth(req.Integration, l), nil, nil
	}
	if p.device != "" {
		t, err := s.newPush(req, p, u, devices, now)
		if err != nil {
			return AuthResult{}, nil, err
		}
		l.Factor, l.Device = factorPushLog, t.DeviceID
		if err := s.allowPush(ctx, u); err != nil {
			return AuthResult{}, nil, err
		}
		return AuthResult{}, t, nil
	}
	if err := s.beginPasscode(ctx, a, u, req.IP); err != nil {
		return AuthResult{}, nil, err
	}
	return s.checkPasscode(ctx, q, u, devices, p.passcode, now, l)
}

// checkPasscode tries bypass codes, then the HOTP codes of each device.
func (s *Service) checkPasscode(ctx context.Context, q store.Queries, u store.User, devices []store.Device, code string, now time.Time, l *store.AuthLog) (AuthResult, *store.Transaction, error) {
	ok, err := s.consumeBypassCode(ctx, q, u.ID, code, now)
	if err != nil {
		return AuthResult{}, nil, err
	}
	if ok {
		l.Factor = "bypass_code"
	} else {
		for _, d := range devices {
			c, matched, err := s.matchHOTP(d, code)
			if err != nil {
				return AuthResult{}, nil, err
			}
			if matched {
				// Spend this code and every earlier one.
				d.HOTPCounter = c + 1
				if err := q.UpdateDevice(ctx, d); err != nil {
					return AuthResult{}, nil, err
				}
				ok, l.Factor, l.Device = true, "duo_mobile_passcode", d.ID
				break
			}
		}
	}
	if ok {
		u.FailedAttempts = 0
		u.LastLogin = now
		if err := q.UpdateUser(ctx, u); err != nil {
			return AuthResult{}, nil, err
		}
		l.Reason = ReasonValidPasscode
		return AuthResult{Result: ResultAllow, Status: ResultAllow, StatusMsg: msgSuccess}, nil, nil
	}
	l.Reason = ReasonInvalidPasscode
	if err := s.recordFailure(ctx, q, u); err != nil {
		return AuthResult{}, nil, err
	}
	return AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgBadPasscode}, nil, nil
}

// unenrolledAuth applies the new-user policy to an auth request.
func (s *Service) unenrolledAuth(in store.Integration, l *store.AuthLog) AuthResult {
	switch in.NewUserPolicy {
	case store.PolicyAllow:
		l.Reason = ReasonAllowUnenrolled
		return AuthResult{Result: ResultAllow, Status: ResultAllow, StatusMsg: msgAllowUnenroll}
	case store.PolicyDeny:
		l.Reason = ReasonDenyUnenrolled
		return AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgDenyUnenroll}
	}
	l.Reason = ReasonEnrollRequired
	return AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgEnroll}
}

// consumeBypassCode uses one use of the matching code, if any.
func (s *Service) consumeBypassCode(ctx context.Context, q store.Queries, userID, code string, now time.Time) (bool, error) {
	c, err := q.FindBypassCode(ctx, userID, s.bypassHash(userID, code))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if c.Expired(now) {
		return false, q.DeleteBypassCode(ctx, c.ID)
	}
	switch c.RemainingUses {
	case 0: // unlimited
		return true, nil
	case 1:
		return true, q.DeleteBypassCode(ctx, c.ID)
	}
	c.RemainingUses--
	return true, q.UpdateBypassCode(ctx, c)
}

// recordFailure counts a failed attempt and locks the user out at the
// threshold.
func (s *Service) recordFailure(ctx context.Context, q store.Queries, u store.User) error {
	u.FailedAttempts++
	if t := s.opts.LockoutThreshold; t > 0 && u.FailedAttempts >= t {
		u.Status = store.StatusLockedOut
		u.LockoutReason = fmt.Sprintf("%d consecutive failed authentication attempts", u.FailedAttempts)
		s.opts.Logger.Warn("user locked out", "user_id", u.ID, "failed_attempts", u.FailedAttempts)
	}
	return q.UpdateUser(ctx, u)
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
}

// AuthResult is Duo's synchronous auth answer.
type AuthResult struct {
	Result    string // allow or deny
	Status    string // allow, deny, bypass, locked_out, …
	StatusMsg string
	TxID      string // identifies the auth-log row
}

// maxPasscodeLen bounds passcodes; YubiKey OTPs are 44 characters.
const maxPasscodeLen = 64

// deviceFactor matches the device-bound factor names duo_unix and the RADIUS
// proxy send (push, push2, phone1, sms, smsrefresh1, voice1, verified_push1).
var deviceFactor = regexp.MustCompile(`^(push|phone|sms|voice|smsrefresh|verified_push)[0-9]*$`)

// plan is the factor an auth request resolves to.
type plan struct {
	passcode string // non-empty: check this passcode
	device   bool   // needs a device (push, phone, sms)
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
		return plan{device: true}, nil
	case FactorPrompt:
		switch {
		case req.Prompt == "":
			return plan{}, invalid("prompt", "is required with factor=prompt")
		case deviceFactor.MatchString(req.Prompt):
			return plan{device: true}, nil
		}
		return checkPasscodeShape(req.Prompt)
	case FactorPush, FactorPhone, FactorSMS:
		return plan{device: true}, nil
	}
	return plan{}, invalid("factor", fmt.Sprintf("unknown factor %q", req.Factor))
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
// code uses), so the log never disagrees with the state.
func (s *Service) Auth(ctx context.Context, req AuthRequest) (AuthResult, error) {
	if err := req.ref().validate(); err != nil {
		return AuthResult{}, err
	}
	p, err := resolveFactor(req)
	if err != nil {
		return AuthResult{}, err
	}
	var res AuthResult
	err = s.st.InTx(ctx, func(q store.Queries) error {
		u, known, err := lookup(ctx, q, req.ref())
		if err != nil {
			return err
		}
		if !known && req.UserID != "" {
			return invalid("user_id", "no user with that user_id")
		}
		l := s.logRow(req.Request, u)
		res, err = s.decide(ctx, q, req, p, u, known, &l)
		if err != nil {
			return err
		}
		res.TxID = l.TxID
		l.Result = res.Result
		return q.AppendAuthLog(ctx, &l)
	})
	var ae *Error
	if errors.As(err, &ae) {
		return AuthResult{}, err
	}
	if err != nil {
		return AuthResult{}, wrap("auth", err)
	}
	return res, nil
}

// decide makes the decision inside the transaction and fills the log row's
// factor and reason; the caller records the result.
func (s *Service) decide(ctx context.Context, q store.Queries, req AuthRequest, p plan, u store.User, known bool, l *store.AuthLog) (AuthResult, error) {
	if p.passcode != "" {
		l.Factor = FactorPasscode
	}
	if !known {
		return s.unenrolledAuth(req.Integration, l), nil
	}
	switch u.Status {
	case store.StatusBypass:
		l.Reason = ReasonBypassUser
		return AuthResult{Result: ResultAllow, Status: "bypass", StatusMsg: msgBypassAllowed}, nil
	case store.StatusDisabled:
		l.Reason = ReasonUserDisabled
		return AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgDisabled}, nil
	case store.StatusLockedOut:
		l.Reason = ReasonLockedOut
		return AuthResult{Result: ResultDeny, Status: "locked_out", StatusMsg: msgLockedOut}, nil
	}
	codes, err := q.ListBypassCodes(ctx, u.ID)
	if err != nil {
		return AuthResult{}, err
	}
	now := s.now()
	if !usableBypassCodes(codes, now) {
		// No devices yet and nothing else to authenticate with.
		if p.device {
			return AuthResult{}, ErrNoCapableDevice
		}
		return s.unenrolledAuth(req.Integration, l), nil
	}
	if p.device {
		return AuthResult{}, ErrNoCapableDevice
	}

	ok, err := s.consumeBypassCode(ctx, q, u.ID, p.passcode, now)
	if err != nil {
		return AuthResult{}, err
	}
	if ok {
		u.FailedAttempts = 0
		u.LastLogin = now
		if err := q.UpdateUser(ctx, u); err != nil {
			return AuthResult{}, err
		}
		l.Factor, l.Reason = "bypass_code", ReasonValidPasscode
		return AuthResult{Result: ResultAllow, Status: ResultAllow, StatusMsg: msgSuccess}, nil
	}
	l.Reason = ReasonInvalidPasscode
	if err := s.recordFailure(ctx, q, u); err != nil {
		return AuthResult{}, err
	}
	return AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgBadPasscode}, nil
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

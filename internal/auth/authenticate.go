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
	// TxID is the txid a preauth announced for a Verified Push (duo_unix
	// 2.x sends it with prompt=verified_push1); the push then uses it, so
	// its code is the one the preauth showed.
	TxID string
}

// AuthResult is Duo's auth answer: the decision, or (async) only TxID.
type AuthResult struct {
	Result    string // allow or deny; empty for an async answer
	Status    string // allow, deny, bypass, locked_out, timeout, …
	StatusMsg string
	TxID      string
	// VerifyCode is the Verified Push code of an asynchronous push, for
	// the waiting side to show; "" for a plain push.
	VerifyCode string
	// TrustedDeviceToken is Duo's trusted_device_token: issued with an
	// allow after a passcode when the policy remembers devices (see
	// RememberToken).
	TrustedDeviceToken string
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
	verified bool   // the client asked for a Verified Push (verified_push1)
	auto     bool   // factor=auto: a push, or a call to a phone without the app
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
		return plan{device: FactorPush, auto: true}, nil
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
	p := plan{device: FactorPush, verified: name == "verified_push"}
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

// startAuth authenticates a user. Every decision writes an auth-log row in the
// same transaction as the state it changes (failure count, lockout, bypass
// code uses, HOTP counter), so the log never disagrees with the state. The
// decision is taken from reads made before that transaction (on the read
// pool), and the transaction holds only guarded writes, retried from the
// reads when a concurrent request changed a row in between (see decideAuth).
// A push is stored as a transaction and decided when the device answers or
// the push times out; synchronous requests wait for that in awaitPush (see
// Auth and StartAuth). A push or passcode refused by a rate limit
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
	if !req.Async && (p.device == FactorPush || p.device == FactorPhone) {
		// A synchronous push holds the request until the device answers:
		// take a place first, so a refusal sends no push.
		if place, err = s.hold(); err != nil {
			return AuthResult{}, err
		}
		defer place.release() // a no-op once the wait took the place over
	}
	var c authCall
	committed := false
	defer func() { c.attempt.end(committed) }()
	d, err := s.decideAuth(ctx, req, p, &c)
	committed = err == nil
	var ae *Error
	if errors.As(err, &ae) {
		return AuthResult{}, err
	}
	if err != nil {
		return AuthResult{}, wrap("auth", err)
	}
	if d.lockedOut > 0 {
		s.opts.Logger.Warn("user locked out", "user_id", d.log.UserID, "failed_attempts", d.lockedOut)
	}
	if d.limited != nil {
		return AuthResult{}, d.limited
	}
	if d.smsRefresh != nil {
		s.refreshSMS(ctx, d)
	}
	pending := d.push
	if pending == nil {
		if req.Async {
			return AuthResult{TxID: d.res.TxID}, nil
		}
		if d.res.Result == ResultAllow && d.log.Reason == ReasonValidPasscode {
			d.res.TrustedDeviceToken, _ = s.RememberToken(req.Integration, d.log.UserID, groupIDs(d.log.Groups))
		}
		return d.res, nil
	}
	if d.call != nil {
		s.startCall(ctx, *pending, *d.call)
	} else {
		s.opts.Logger.Info("push sent", "txid", pending.ID, "user_id", pending.UserID, "device_id", pending.DeviceID,
			"verified_push", pending.StepUpDigits > 0)
		if s.opts.PushNotifier != nil {
			s.opts.PushNotifier.PushSent(*pending)
		}
	}
	if req.Async {
		return AuthResult{TxID: pending.ID, VerifyCode: s.VerifyCode(*pending)}, nil
	}
	return s.awaitPush(ctx, req.Integration, *pending, place, held)
}

func finalState(r AuthResult) string {
	if r.Result == ResultAllow {
		return store.TxAllow
	}
	return store.TxDeny
}

// decide takes the decision from reads on the read pool and fills the log
// row's factor, device and reason; the caller records the result. What the
// decision writes is in d (see Service.commit). A push returns the
// transaction to create instead of a result.
//
// The rate limits are applied here, once the user is known and just before
// anything is tried: a push spends a token of the user's push bucket, a
// passcode check must be admitted by the user's and the address's failure
// buckets (even a right code is refused unchecked when they are empty).
func (s *Service) decide(ctx context.Context, req AuthRequest, p plan, u store.User, known bool, pre *userRead, d *decision, c *authCall) error {
	l := &d.log
	if p.passcode != "" {
		l.Factor = FactorPasscode
	}
	if !known {
		e := evaluate(req.Integration, nil)
		g := s.policyGate(e, req.Request, nil)
		if g.result == "" {
			g = s.networkAllowsUnenrolled(e, req.Request)
		}
		if g.result != "" {
			s.gateAuth(ctx, req.Request, g, d)
			return nil
		}
		d.res = s.unenrolledAuth(e.newUser, l)
		return nil
	}
	status, groups, err := s.statusAndGroups(ctx, s.st, u)
	if err != nil {
		return err
	}
	l.Groups = groups
	ids := groupIDs(groups)
	e := evaluate(req.Integration, ids)
	d.threshold = e.threshold
	if status == store.StatusLockedOut {
		unlocked, err := s.autoUnlock(ctx, e, u)
		if err != nil {
			return err
		}
		if unlocked.Status != u.Status {
			u = unlocked
			if status, _, err = s.statusAndGroups(ctx, s.st, u); err != nil {
				return err
			}
		}
	}
	if g := s.policyGate(e, req.Request, ids); g.result != "" {
		s.gateAuth(ctx, req.Request, g, d)
		return nil
	}
	if e.verifiedPush && req.Integration.VerifiedPush == 0 {
		req.Integration.VerifiedPush = VerifiedPushDigits // Duo's code length
	}
	switch status {
	case store.StatusBypass:
		l.Reason = ReasonBypassUser
		d.res = AuthResult{Result: ResultAllow, Status: "bypass", StatusMsg: msgBypassAllowed}
		return nil
	case store.StatusDisabled:
		l.Reason = ReasonUserDisabled
		d.res = AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgDisabled}
		return nil
	case store.StatusLockedOut:
		l.Reason = ReasonLockedOut
		d.res = AuthResult{Result: ResultDeny, Status: "locked_out", StatusMsg: msgLockedOut}
		return nil
	}
	now := s.now()
	var bypass bypassMatch
	switch {
	case p.passcode != "" && pre != nil && pre.codeRead:
		bypass = pre.match(now) // read with the user
	case p.passcode != "":
		var err error
		if bypass, err = s.findBypassCode(ctx, u.ID, p.passcode, now); err != nil {
			return err
		}
	}
	var (
		devices []store.Device
		tokens  []store.Token
	)
	if bypass.code == nil {
		// A usable bypass code is all a bypass-code login needs; anything
		// else needs the devices (HOTP, pushes, whether the user enrolled)
		// and, for a passcode or to tell whether the user enrolled, the
		// apps and tokens.
		var err error
		if pre != nil && pre.devicesRead {
			devices = pre.devices // read with the user
		} else if devices, err = s.st.ListDevices(ctx, u.ID); err != nil {
			return err
		}
		if p.passcode != "" || len(devices) == 0 {
			if tokens, err = s.usableTokens(ctx, u.ID); err != nil {
				return err
			}
		}
		if len(devices) == 0 && len(tokens) == 0 {
			// Bypass codes alone are an enrollment too.
			codes, err := s.st.ListBypassCodes(ctx, u.ID)
			if err != nil {
				return err
			}
			keys, err := s.st.ListWebAuthnCredentials(ctx, u.ID)
			if err != nil {
				return err
			}
			// A security key is an enrollment, though not usable here.
			if !usableBypassCodes(codes, now) && len(keys) == 0 {
				// Not enrolled: nothing to authenticate with.
				if g := s.networkAllowsUnenrolled(e, req.Request); g.result != "" {
					s.gateAuth(ctx, req.Request, g, d)
					return nil
				}
				if p.device != "" {
					return ErrNoCapableDevice
				}
				d.res = s.unenrolledAuth(e.newUser, l)
				return nil
			}
		}
	}
	if g := s.networkAllows(e, req.Request); g.result != "" {
		s.gateAuth(ctx, req.Request, g, d)
		return nil
	}
	if p.auto && s.autoCalls(req, devices, e) {
		p.device = FactorPhone // Duo's auto: push if possible, else phone
	}
	if p.device != "" && !e.allows(p.device) {
		s.gateAuth(ctx, req.Request, gate{ResultDeny, msgFactorRestricted, ReasonFactorRestricted, e.methodsFrom}, d)
		return nil
	}
	if p.index > 0 {
		devices = s.preauthListed(devices, e) // phone2 counts as preauth lists
	}
	if p.device == FactorSMS {
		return s.decideSMS(req, p, u, devices, now, d, c)
	}
	if p.device == FactorPhone {
		return s.decideCall(req, p, u, devices, now, d, c)
	}
	if p.device != "" {
		t, err := s.newPush(req, p, u, devices, now)
		if err != nil {
			return err
		}
		l.Factor, l.Device = factorPushLog, t.DeviceID
		if c.pushAllowed != u.ID {
			// Once per request, even when the decision is taken again.
			if err := s.pushCooldown(ctx, u, now); err != nil {
				return err
			}
			if err := s.allowPush(ctx, u); err != nil {
				return err
			}
			c.pushAllowed = u.ID
		}
		d.push = t
		return nil
	}
	var smsCodes []store.SMSPasscode
	if bypass.code == nil {
		var err error
		if smsCodes, err = s.smsCodesFor(ctx, u, devices, p.passcode); err != nil {
			return err
		}
	}
	if err := s.beginPasscode(ctx, &c.attempt, u, req.IP); err != nil {
		return err
	}
	if err := s.checkPasscode(u, devices, tokens, smsCodes, p.passcode, bypass, now, d); err != nil {
		return err
	}
	if m := d.method(); m != "" && !e.allows(m) {
		// A right code of a method the policy does not allow: refused,
		// neither spent nor counted as a failure.
		d.code, d.hotp, d.token, d.smsCode, d.smsRefresh, d.outcome = nil, nil, nil, nil, nil, outcomeNone
		s.gateAuth(ctx, req.Request, gate{ResultDeny, msgFactorRestricted, ReasonFactorRestricted, e.methodsFrom}, d)
	}
	return nil
}

// gateAuth records a policy's decision as the auth answer.
func (s *Service) gateAuth(ctx context.Context, req Request, g gate, d *decision) {
	s.explain(ctx, req, g)
	d.log.Reason, d.log.Policy = g.reason, g.from.logName(d.log.Groups)
	d.res = AuthResult{Result: g.result, Status: g.result, StatusMsg: g.msg}
}

// bypassMatch is the bypass code a passcode matches.
type bypassMatch struct {
	code    *store.BypassCode // unexpired: usable
	expired string            // the ID of a matching code that expired
}

// findBypassCode reads the user's bypass code matching passcode, if any.
func (s *Service) findBypassCode(ctx context.Context, userID, passcode string, now time.Time) (bypassMatch, error) {
	c, err := s.st.FindBypassCode(ctx, userID, s.bypassHash(userID, passcode))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return bypassMatch{}, nil
	case err != nil:
		return bypassMatch{}, err
	case c.Expired(now):
		return bypassMatch{expired: c.ID}, nil
	}
	return bypassMatch{code: &c}, nil
}

// checkPasscode accepts a matching bypass code, else tries the HOTP codes
// of each device, then the codes of each authenticator app and token. It
// only reads; the code's use, the counter's advance and the user's success
// or failure are written by commit, guarded by what was read before.
func (s *Service) checkPasscode(u store.User, devices []store.Device, tokens []store.Token, smsCodes []store.SMSPasscode, code string,
	bypass bypassMatch, now time.Time, d *decision) error {
	l := &d.log
	d.user = u.ID
	d.code, d.expired = bypass.code, bypass.expired
	if d.code != nil {
		l.Factor = factorBypassCode
	} else {
		for _, dev := range devices {
			if !hasApp(dev) {
				continue // a phone number only: no HOTP secret
			}
			n, matched, err := s.matchHOTP(dev, code)
			if err != nil {
				return err
			}
			if matched {
				// Spend this code and every earlier one.
				d.hotp = &hotpUse{device: dev.ID, next: n + 1}
				l.Factor, l.Device = factorDuoMobile, dev.ID
				break
			}
		}
	}
	if d.code == nil && d.hotp == nil {
		for _, t := range tokens {
			use, matched, err := s.matchToken(t, code, now)
			if err != nil {
				return err
			}
			if matched {
				d.token = &use
				l.Factor, l.Device = tokenFactor(t), t.ID
				break
			}
		}
	}
	if d.code == nil && d.hotp == nil && d.token == nil {
		if d.smsCode = s.matchSMS(u, smsCodes, code, now); d.smsCode != nil {
			l.Factor, l.Device = factorSMSPasscode, d.smsCode.DeviceID
			d.smsRefresh = s.lastOfBatch(d.smsCode, smsCodes, devices, now)
		}
	}
	if d.code != nil || d.hotp != nil || d.token != nil || d.smsCode != nil {
		d.outcome = outcomeSuccess
		l.Reason = ReasonValidPasscode
		d.res = AuthResult{Result: ResultAllow, Status: ResultAllow, StatusMsg: msgSuccess}
		return nil
	}
	d.outcome = outcomeFailure
	l.Reason = ReasonInvalidPasscode
	d.res = AuthResult{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgBadPasscode}
	return nil
}

// unenrolledAuth applies the new-user policy to an auth request.
func (s *Service) unenrolledAuth(p store.NewUserPolicy, l *store.AuthLog) AuthResult {
	switch p {
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

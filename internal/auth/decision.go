package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// The write path of an authentication: read, decide, then write.
//
// The reads (user, devices, bypass code) run on the store's read pool,
// outside any write transaction, and the decision (HOTP, keyed hashes,
// policies, rate limits) is computed from them. The write transaction then
// holds only guarded writes (store.GuardedQueries: the code's use only if
// its uses are still what was read, the HOTP counter only if the code is
// still unused, the user's failure count only while the user is still
// active, …) and the auth-log row. When a guard finds that a concurrent
// request changed a row in between, the transaction is rolled back and the
// whole read → decide → write runs again, at most maxDecisionTries times.
// A decision therefore takes effect exactly as if its reads had been made
// inside the transaction: a code is accepted once, the failure count is
// exact, and the answer leaves only after the commit.

// maxDecisionTries bounds the reads and decisions of one request. A guard
// fails only when another request changed the same user's records after
// this one read them, so each retry follows someone else's progress.
const maxDecisionTries = 8

// errContention is returned when every try found the records changed.
var errContention = errors.New("the user's records kept changing while deciding; try again")

// outcome is what a passcode check writes to the user.
type outcome int

const (
	outcomeNone    outcome = iota
	outcomeSuccess         // failed attempts cleared, last login set
	outcomeFailure         // one more failed attempt, lockout at the threshold
)

// hotpUse is the HOTP counter to store after an accepted code.
type hotpUse struct {
	device string
	next   int64
}

// decision is one try's decision and the writes it needs.
type decision struct {
	res     AuthResult
	log     store.AuthLog
	push    *store.Transaction // a push or call to create: decided when answered
	call    *store.Device      // the phone a call (push.Factor "phone") dials, once committed
	limited error              // a rate limit's refusal: only its log row is written
	async   bool               // record the decision as a transaction for auth_status

	user    string            // whose failure count the outcome changes
	outcome outcome           // what the passcode check writes to the user
	code    *store.BypassCode // the bypass code to spend, as read
	expired string            // an expired bypass code that was tried: deleted
	hotp    *hotpUse          // the HOTP counter to advance
	token   *store.TokenUse   // the app's or token's counter to advance
	sms     *smsBatch         // SMS passcodes delivered: stored by commit
	smsCode *store.SMSPasscode
	// smsRefresh is the phone whose batch smsCode ends (sms_refresh).
	smsRefresh *store.Device

	lockedOut int // set by commit: the failure count that locked the user out
	threshold int // the policy's lockout threshold: 0 the service's, negative off
}

// method is the policy method of the passcode d accepted ("" when none).
func (d *decision) method() string {
	switch {
	case d.code != nil:
		return MethodBypassCode
	case d.hotp != nil:
		return MethodMobileOTP
	case d.token != nil:
		if d.log.Factor == factorTOTPApp {
			return MethodTOTP
		}
		return MethodHardwareToken
	case d.smsCode != nil:
		return MethodSMS
	}
	return ""
}

// authCall is what one Auth request keeps across tries.
type authCall struct {
	attempt     passcodeAttempt // the passcode check the limits admitted
	pushAllowed string          // the user a push token was spent for
	sms         *smsBatch       // the SMS batch of this request, sent once
	callAllowed string          // the user a call token was spent for
}

// decideAuth reads, decides and commits, again while a guarded write finds
// its row changed (store.ErrConflict).
func (s *Service) decideAuth(ctx context.Context, req AuthRequest, p plan, c *authCall) (*decision, error) {
	// The threshold is read here, outside the write transaction.
	s.refreshThreshold(ctx)
	for try := 1; ; try++ {
		d, err := s.decideOnce(ctx, req, p, c)
		if err != nil {
			return nil, err
		}
		if err := s.sendSMS(ctx, d); err != nil {
			return nil, err
		}
		err = s.st.InTx(ctx, func(q store.Queries) error { return s.commit(ctx, q, d) })
		if err == nil {
			c.attempt.failed = d.log.Reason == ReasonInvalidPasscode
			if d.push != nil {
				s.stats.pushes[pushSent].Add(1) // its row is written when it is decided
			} else {
				s.logged(&d.log)
			}
			if d.lockedOut > 0 {
				s.stats.lockouts.Add(1)
			}
			return d, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		if try == maxDecisionTries {
			return nil, fmt.Errorf("%w (%d tries): %w", errContention, try, err)
		}
	}
}

// decideOnce reads what the decision needs and takes it.
func (s *Service) decideOnce(ctx context.Context, req AuthRequest, p plan, c *authCall) (*decision, error) {
	u, known, pre, err := s.lookupForAuth(ctx, req, p)
	if err != nil {
		return nil, err
	}
	if !known && req.UserID != "" {
		return nil, invalid("user_id", "no user with that user_id")
	}
	d := &decision{log: s.logRow(req.Request, u), async: req.Async}
	err = s.decide(ctx, req, p, u, known, pre, d, c)
	if IsKind(err, KindRateLimited) {
		// Nothing was tried; the refusal itself is logged.
		d.limited, d.log.Result, d.log.Reason = err, ResultDeny, ReasonRateLimited
		d.push, d.call, d.outcome, d.code, d.expired, d.hotp, d.token, d.sms, d.smsCode, d.smsRefresh = nil, nil, outcomeNone, nil, "", nil, nil, nil, nil, nil
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if d.push == nil {
		d.res.TxID = d.log.TxID
		d.log.Result = d.res.Result
	}
	return d, nil
}

// maxUserHints bounds Service.userHints; past it the map starts over.
const maxUserHints = 1 << 16

// userRead is what was read together with the user: the bypass code the
// passcode matches (codeRead), or the user's devices (devicesRead).
type userRead struct {
	codeRead    bool
	code        store.BypassCode
	found       bool
	devicesRead bool
	devices     []store.Device
}

// match is the bypassMatch of the code read, at now.
func (r *userRead) match(now time.Time) bypassMatch {
	switch {
	case !r.found:
		return bypassMatch{}
	case r.code.Expired(now):
		return bypassMatch{expired: r.code.ID}
	}
	c := r.code
	return bypassMatch{code: &c}
}

// lookupForAuth reads the request's user. For a passcode sent with a
// username whose user ID an earlier request found (Service.userHints),
// the bypass code the passcode matches is read in the same statement
// (keyed hashes are per user, so the hash can only be computed for a user
// ID known in advance; the store checks that the user found has that ID,
// so a stale hint only costs the separate read). Otherwise the user is
// read with the devices, which every other decision needs (a push, a
// phone call or SMS, a device's HOTP code, whether the user enrolled),
// and which also bring the groups: one statement instead of the user's,
// then the groups', then the devices'. pre is nil when nothing was read
// with the user.
func (s *Service) lookupForAuth(ctx context.Context, req AuthRequest, p plan) (u store.User, known bool, pre *userRead, err error) {
	ref := req.ref()
	bypassShaped := p.passcode != "" && couldBeBypassCode(p.passcode)
	if bypassShaped && ref.UserID == "" {
		if hint, ok := s.userHints.Load(ref.Username); ok {
			id := hint.(string)
			u, c, checked, found, err := s.st.GetUserAndBypassCode(ctx, ref.Username, id, s.bypassHash(id, p.passcode))
			switch {
			case errors.Is(err, store.ErrNotFound):
				s.userHints.Delete(ref.Username)
				return store.User{}, false, nil, nil
			case err != nil:
				return store.User{}, false, nil, err
			case !checked:
				s.hintUser(ref.Username, u.ID)
				return u, true, nil, nil
			}
			return u, true, &userRead{codeRead: true, code: c, found: found}, nil
		}
	}
	name := ref.Username
	if ref.UserID != "" {
		name = "" // by user_id when given, as lookup does
	}
	u, devices, err := s.st.GetUserAndDevices(ctx, name, ref.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, nil, nil
	}
	if err != nil {
		return store.User{}, false, nil, err
	}
	if bypassShaped && ref.UserID == "" {
		s.hintUser(ref.Username, u.ID) // the next code is read with the user
	}
	// A passcode that is no bypass code can only be a device's, app's or
	// token's: no code to read.
	return u, true, &userRead{codeRead: p.passcode != "" && !bypassShaped, devicesRead: true, devices: devices}, nil
}

// couldBeBypassCode reports whether passcode has the shape of every bypass
// code Assent stores: BypassCodeDigits digits (IssueBypassCodes and
// BulkCreateUsers make and accept no other), longer than any device
// passcode.
func couldBeBypassCode(passcode string) bool {
	return len(passcode) == BypassCodeDigits && allIn(passcode, "0123456789")
}

// hintUser notes that username was last found to be the user with ID id.
func (s *Service) hintUser(username, id string) {
	if s.nhints.Add(1) > maxUserHints {
		s.userHints.Clear()
		s.nhints.Store(1)
	}
	s.userHints.Store(username, id)
}

// commit writes d inside the write transaction: first the guarded writes
// of the code or device, then the user's row (which, on PostgreSQL, locks
// it, so the auth-log rows of one user's decisions are numbered in the
// order those decisions commit), then the push or decided transaction and
// the auth-log row.
func (s *Service) commit(ctx context.Context, q store.Queries, d *decision) error {
	d.lockedOut = 0
	if d.limited != nil {
		return q.AppendAuthLog(ctx, &d.log)
	}
	if d.expired != "" {
		if err := q.DeleteBypassCode(ctx, d.expired); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if d.code != nil {
		if err := q.UseBypassCode(ctx, *d.code); err != nil {
			return err
		}
	}
	if d.hotp != nil {
		if err := q.AdvanceHOTPCounter(ctx, d.hotp.device, d.hotp.next); err != nil {
			return err
		}
	}
	if d.token != nil {
		if err := q.AdvanceTokenCounter(ctx, *d.token); err != nil {
			return err
		}
	}
	if d.smsCode != nil {
		if err := q.UseSMSPasscode(ctx, d.smsCode.ID); err != nil {
			return err
		}
	}
	if d.sms != nil {
		if err := s.commitSMS(ctx, q, d); err != nil {
			return err
		}
	}
	switch d.outcome {
	case outcomeSuccess:
		if err := q.RecordSuccess(ctx, d.user, d.log.Time); err != nil {
			return err
		}
	case outcomeFailure:
		n, err := q.RecordFailure(ctx, d.user)
		if err != nil {
			return err
		}
		t := s.lockoutThreshold()
		if d.threshold != 0 {
			t = d.threshold
		}
		if t > 0 && n >= t {
			reason := fmt.Sprintf("%d consecutive failed authentication attempts", n)
			if err := q.LockOut(ctx, d.user, reason, d.log.Time); err != nil {
				return err
			}
			d.lockedOut = n
		}
	}
	if d.push != nil {
		// Decided when the device answers or the push times out. A device
		// deleted since it was read is a changed record like any other.
		t := *d.push
		t.Groups = d.log.Groups
		return conflictIfGone(q.CreateTransaction(ctx, t))
	}
	if d.async {
		// auth_status must be able to report this decision.
		l := d.log
		device := l.Device
		if d.token != nil {
			device = "" // a token is no device: the transaction names none
		}
		if err := conflictIfGone(q.CreateTransaction(ctx, store.Transaction{
			ID: l.TxID, UserID: l.UserID, DeviceID: device, IKey: l.IKey, Factor: l.Factor,
			State: finalState(d.res), IP: l.IP, Hostname: l.Hostname,
			Created: l.Time, Expires: l.Time, Answered: l.Time, Groups: l.Groups,
		})); err != nil {
			return err
		}
	}
	return q.AppendAuthLog(ctx, &d.log)
}

// conflictIfGone reports a row that a new row refers to and that was read
// before the transaction but is gone now (store.ErrNotFound) as
// store.ErrConflict, so the decision is taken again.
func conflictIfGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errors.Join(store.ErrConflict, err)
	}
	return err
}

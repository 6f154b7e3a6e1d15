package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Phone-callback calls (factor=phone, phoneN): Assent calls the phone's
// number and the user presses 1 to approve. A call is a transaction like a
// push (State TxPushed while it runs), so it uses the push machinery: the
// synchronous wait, async=1 with auth_status, the broker's cross-node
// wake-ups, the expiry's settle. The call runs on a goroutine bounded by
// PhoneOptions.MaxDuration and by the service's lifetime (EndCalls); its
// progress (calling, answered) is stored on the transaction for auth_status
// on any node, and its outcome is written with the guarded update a device's
// approval uses: a call that ends after its transaction was settled changes
// nothing. Only "approved" without an error allows; a failed call is an
// error (Duo's 500), never an allow.

// PhoneCaller places a phone-callback call (internal/telephony/sipcall
// through the app's adapter). Call dials d, reports stages (CallCalling,
// CallRinging, CallAnswered) through progress, which must not block, and
// returns an outcome (Call… constants) once the call ended; err says why a
// call failed.
type PhoneCaller interface {
	Call(ctx context.Context, d PhoneDial, progress func(stage string)) (outcome string, err error)
	// Name names the provider in the telephony log (sip).
	Name() string
}

// PhoneDial is whom a call reaches: Number (E.164, or a SIP URI) and, for
// a phone behind a PBX, Extension dialled Predelay after the answer, the
// prompt starting Postdelay after its last digit.
type PhoneDial struct {
	Number, Extension   string
	Predelay, Postdelay time.Duration
}

// Delays around an extension when the phone gives none (Duo's predelay
// and postdelay left empty): time for an attendant's greeting, and for the
// extension to be put through.
const (
	DefaultPredelay  = 2 * time.Second
	DefaultPostdelay = time.Second
)

// dialOf is how dev is called.
func dialOf(dev store.Device) PhoneDial {
	d := PhoneDial{Number: dev.Number, Extension: dev.Extension}
	if d.Extension == "" {
		return d
	}
	seconds := func(v string, def time.Duration) time.Duration {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxPhoneDelay { // "", or not stored through check
			return def
		}
		return time.Duration(n) * time.Second
	}
	d.Predelay, d.Postdelay = seconds(dev.Predelay, DefaultPredelay), seconds(dev.Postdelay, DefaultPostdelay)
	return d
}

// PhoneOptions configure phone calls. A nil Caller disables them: no phone
// offers the phone capability.
type PhoneOptions struct {
	Caller PhoneCaller
	// MaxDuration bounds a call from dialling to hanging up (the caller's
	// own bound, sip_max_call_duration); 0: DefaultCallMaxDuration. The
	// transaction expires callGrace later.
	MaxDuration time.Duration
	// PerUser limits the calls placed to each user's phones, Global those
	// placed to anyone (toll fraud and cost). Zero limits disable them.
	PerUser, Global ratelimit.Limit
}

// Call stages and outcomes, as internal/telephony/sipcall names them.
const (
	CallCalling  = "calling"
	CallRinging  = "ringing"
	CallAnswered = "answered"

	CallApproved = "approved"
	CallDenied   = "denied"
	CallHungUp   = "hung_up"
	CallTimeout  = "timeout"
	CallNoAnswer = "no_answer"
	CallBusy     = "busy"
	CallFailed   = "failed"
)

// Names of the call rate limits in warnings: the settings that configure them.
const (
	LimitCallsPerUser = "rate_limit_calls_per_user"
	LimitCallsGlobal  = "rate_limit_calls_global"
)

const (
	// DefaultCallMaxDuration is the default bound of a call.
	DefaultCallMaxDuration = 90 * time.Second
	// callGrace is how long a call's transaction outlives the call's bound,
	// so that its outcome is written before the transaction times out.
	callGrace = 10 * time.Second
	// callWriteTimeout bounds each write of a call's progress or outcome.
	callWriteTimeout = 10 * time.Second

	// Duo's auth_status texts for a phone callback.
	msgDialing  = "Dialing %s..."
	msgAnswered = "Answered. Press '1' on your phone to log in."
	// factorPhoneLog is the auth-log factor of a phone callback (Duo's).
	factorPhoneLog = "phone_call"
	// ReasonCallFailed is the auth-log reason of a call that could not be
	// placed.
	ReasonCallFailed = "call_failed"
	// TelephonyPhone is the telephony-log type of a call.
	TelephonyPhone = "phone"

	detailTooManyCalls       = "too many phone calls for this user; try again later"
	detailTooManyCallsGlobal = "too many phone calls placed; try again later"
)

// ErrCallFailed is the error a synchronous auth or auth_status answers for
// a call that could not be placed (Duo's 500): never an allow.
var ErrCallFailed = errors.New("the phone call could not be placed")

// phoneState is the Service's phone configuration, limits and the calls
// under way.
type phoneState struct {
	opts            PhoneOptions
	perUser, global *ratelimit.Named

	ctx    context.Context // ends with EndCalls
	cancel context.CancelFunc
	mu     sync.Mutex
	ended  bool
	wg     sync.WaitGroup // the calls under way
}

func newPhoneState(o PhoneOptions, now func() time.Time) *phoneState {
	if o.MaxDuration <= 0 {
		o.MaxDuration = DefaultCallMaxDuration
	}
	ro := ratelimit.Options{Now: now}
	ctx, cancel := context.WithCancel(context.Background())
	return &phoneState{opts: o, perUser: ratelimit.NewNamed(LimitCallsPerUser, o.PerUser, ro),
		global: ratelimit.NewNamed(LimitCallsGlobal, o.Global, ro), ctx: ctx, cancel: cancel}
}

// CallRateLimits are the phone-call rate limits, for metrics.
func (s *Service) CallRateLimits() []*ratelimit.Named {
	return []*ratelimit.Named{s.calls.perUser, s.calls.global}
}

// SetCallLimits changes the call rate limits (a configuration reload).
func (s *Service) SetCallLimits(perUser, global ratelimit.Limit) {
	s.calls.perUser.SetLimit(perUser)
	s.calls.global.SetLimit(global)
}

// phoneEnabled reports whether calls can be placed.
func (s *Service) phoneEnabled() bool { return s.calls.opts.Caller != nil }

// phoneCapable reports whether d can be called.
func (s *Service) phoneCapable(d store.Device) bool { return s.phoneEnabled() && d.Number != "" }

// callTimeout is how long a call's transaction waits for its outcome.
func (s *Service) callTimeout() time.Duration { return s.calls.opts.MaxDuration + callGrace }

// autoCalls reports whether factor=auto calls rather than pushes: the
// device it names (or, for "auto", every device of the user) has no app
// but one can be called, and the policy allows calls.
func (s *Service) autoCalls(req AuthRequest, devices []store.Device, e effective) bool {
	if !s.phoneEnabled() || !e.allows(MethodPhone) {
		return false
	}
	callable := false
	for _, d := range devices {
		if req.Device != "" && req.Device != "auto" && d.ID != req.Device {
			continue
		}
		if hasApp(d) && e.allows(MethodPush) {
			return false
		}
		callable = callable || s.phoneCapable(d)
	}
	return callable
}

// allowCall spends a token of the global and of the user's call buckets.
func (s *Service) allowCall(u store.User) error {
	if ok, retry := s.calls.global.Allow(""); !ok {
		s.calls.global.Warn(s.opts.Logger, "", retry)
		return rateLimited(detailTooManyCallsGlobal, retry)
	}
	if ok, retry := s.calls.perUser.Allow(u.ID); !ok {
		s.calls.perUser.Warn(s.opts.Logger, u.ID, retry)
		return rateLimited(detailTooManyCalls, retry)
	}
	return nil
}

// decideCall builds the transaction of a phone call: commit stores it and
// startAuth places the call once it is committed.
func (s *Service) decideCall(req AuthRequest, p plan, u store.User, devices []store.Device, now time.Time, d *decision, c *authCall) error {
	if req.TxID != "" {
		return invalid("txid", "is only accepted with a verified push (prompt=verified_push1)")
	}
	dev, err := pickDevice(req, p, devices, s.phoneCapable)
	if err != nil {
		return err
	}
	l := &d.log
	l.Factor, l.Device = factorPhoneLog, dev.ID
	if c.callAllowed != u.ID {
		// Once per request, even when the decision is taken again.
		if err := s.allowCall(u); err != nil {
			return err
		}
		c.callAllowed = u.ID
	}
	typ := req.Type
	if typ == "" {
		typ = "Login"
	}
	d.push = &store.Transaction{
		ID: ids.TxID(), UserID: u.ID, DeviceID: dev.ID, IKey: req.Integration.IKey, Factor: FactorPhone,
		State: store.TxPushed, Type: typ, DisplayUsername: req.DisplayUsername, IP: req.IP, Hostname: req.Hostname,
		Created: now, Expires: now.Add(s.callTimeout()), Progress: CallCalling, Phone: MaskNumber(dev.Number),
	}
	d.call = &dev
	return nil
}

// startCall places the committed call t to dev on a goroutine of its own.
func (s *Service) startCall(ctx context.Context, t store.Transaction, dev store.Device) {
	ps := s.calls
	ps.mu.Lock()
	if ps.ended {
		ps.mu.Unlock()
		s.finishCall(ctx, t, dev, CallFailed, errors.New("the server is stopping"))
		return
	}
	ps.wg.Add(1)
	ps.mu.Unlock()
	s.log(ctx).Info("phone call started", "txid", t.ID, "user_id", t.UserID, "device_id", dev.ID,
		"phone", MaskNumber(dev.Number), "provider", ps.opts.Caller.Name())
	logCtx := s.waitContext(ctx)
	go func() {
		defer ps.wg.Done()
		s.runCall(logCtx, t, dev)
	}()
}

// runCall places the call, stores its progress as it goes and its outcome
// at the end.
func (s *Service) runCall(logCtx context.Context, t store.Transaction, dev store.Device) {
	ps := s.calls
	ctx, cancel := context.WithTimeout(ps.ctx, ps.opts.MaxDuration)
	defer cancel()
	// Progress is written in order by one goroutine; the callback only
	// hands the stage over and never blocks.
	var (
		mu     sync.Mutex
		closed bool
	)
	stages := make(chan string, 4)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for st := range stages {
			s.callProgress(logCtx, t.ID, st)
		}
	}()
	progress := func(stage string) {
		if stage != CallAnswered { // calling is stored with the call; ringing is calling for Duo
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		select {
		case stages <- stage:
		default:
		}
	}
	outcome, err := ps.opts.Caller.Call(ctx, dialOf(dev), progress)
	mu.Lock()
	closed = true
	close(stages)
	mu.Unlock()
	<-written
	s.finishCall(logCtx, t, dev, outcome, err)
}

// callProgress stores a stage of a waiting call and wakes its waiters.
func (s *Service) callProgress(logCtx context.Context, txid, stage string) {
	ctx, cancel := context.WithTimeout(logCtx, callWriteTimeout)
	defer cancel()
	changed := false
	err := s.st.InTx(ctx, func(q store.Queries) error {
		changed = false
		t, err := q.GetTransaction(ctx, txid)
		if err != nil {
			return err
		}
		if t.State != store.TxPushed || t.Progress == stage {
			return nil
		}
		t.Progress = stage
		changed = true
		return q.UpdateTransaction(ctx, t)
	})
	if err != nil {
		s.log(ctx).Warn("could not store a phone call's progress", "txid", txid, "stage", stage, "err", err)
		return
	}
	if changed {
		s.publish(ctx, txid)
	}
}

// callResult maps a call's outcome to the transaction's state and the
// auth-log row's result and reason. Only an approval without an error
// allows.
func callResult(outcome string, err error) (state, result, reason string) {
	if err != nil {
		return store.TxFailed, ResultDeny, ReasonCallFailed
	}
	switch outcome {
	case CallApproved:
		return store.TxAllow, ResultAllow, ReasonUserApproved
	case CallDenied, CallHungUp:
		return store.TxDeny, ResultDeny, ReasonUserDenied
	case CallNoAnswer, CallTimeout, CallBusy:
		return store.TxTimeout, ResultDeny, ReasonNoResponse
	}
	return store.TxFailed, ResultDeny, ReasonCallFailed
}

// finishCall records a call's outcome: the transaction's decision with its
// auth-log row (unless the transaction was settled meanwhile) and the
// call's telephony-log row, in one transaction; then it wakes the waiters.
func (s *Service) finishCall(logCtx context.Context, t store.Transaction, dev store.Device, outcome string, callErr error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(logCtx), callWriteTimeout)
	defer cancel()
	if callErr != nil {
		outcome = CallFailed
	}
	state, result, reason := callResult(outcome, callErr)
	provider := s.calls.opts.Caller.Name()
	log := s.log(ctx).With("txid", t.ID, "user_id", t.UserID, "device_id", dev.ID, "phone", MaskNumber(dev.Number),
		"provider", provider, "outcome", outcome)
	if callErr != nil {
		log.Error("phone call failed", "err", callErr)
	} else {
		log.Info("phone call ended")
	}
	now := s.now()
	var (
		row     store.AuthLog
		locked  bool
		changed bool
	)
	err := s.st.InTx(ctx, func(q store.Queries) error {
		changed, locked = false, false
		tel := callTelephonyRow(t.ID, dev, TelephonyAuthentication, outcome, provider, now)
		if err := q.AppendTelephonyLog(ctx, &tel); err != nil {
			return err
		}
		cur, err := q.GetTransaction(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // its device was deleted meanwhile
		}
		if err != nil {
			return err
		}
		if cur.State != store.TxPushed {
			return nil // settled meanwhile (timed out, server stopped)
		}
		st, res, why := state, result, reason
		if !now.Before(cur.Expires) {
			st, res, why = store.TxTimeout, ResultDeny, ReasonNoResponse
		}
		cur.State, cur.Answered = st, now
		if err := q.UpdateTransaction(ctx, cur); err != nil {
			return err
		}
		changed = true
		return s.logPush(ctx, q, cur, res, why, &row, &locked)
	})
	if err != nil {
		log.Error("could not record a phone call's outcome", "err", err)
		return
	}
	if changed {
		s.pushDecided(&row, locked)
		s.publish(ctx, t.ID)
	}
}

// callTelephonyRow is the telephony-log row of a call to d. A call that
// was placed costs a credit; one that failed does not.
func callTelephonyRow(txid string, d store.Device, context, outcome, provider string, now time.Time) store.TelephonyLog {
	credits := 1
	if outcome == CallFailed {
		credits = 0
	}
	return store.TelephonyLog{TxID: txid, Time: now, UserID: d.UserID, Phone: MaskNumber(d.Number),
		Type: TelephonyPhone, Context: context, Credits: credits, Provider: provider, Status: outcome}
}

// EndCalls ends the calls under way (the server stops) and waits for
// their outcomes to be written; calls started later fail at once.
func (s *Service) EndCalls() {
	ps := s.calls
	ps.mu.Lock()
	ps.ended = true
	ps.mu.Unlock()
	ps.cancel()
	ps.wg.Wait()
}

// TestCall calls number, dialling extension once answered with the default
// delays (assent telephony test-call), and writes its telephony-log row; it
// returns the call's outcome.
func (s *Service) TestCall(ctx context.Context, number, extension string) (string, error) {
	if !s.phoneEnabled() {
		return "", invalid("sip", "no SIP trunk is configured for phone calls")
	}
	f, err := PhoneFields{Number: &number, Extension: &extension}.check()
	if err != nil {
		return "", err
	}
	n := *f.Number
	if n == "" {
		return "", invalid("number", "is required")
	}
	if ok, retry := s.calls.global.Allow(""); !ok {
		return "", rateLimited(detailTooManyCallsGlobal, retry)
	}
	ctx2, cancel := context.WithTimeout(ctx, s.calls.opts.MaxDuration)
	defer cancel()
	caller := s.calls.opts.Caller
	outcome, callErr := caller.Call(ctx2, dialOf(store.Device{Number: n, Extension: *f.Extension}), func(string) {})
	if callErr != nil {
		outcome = CallFailed
	}
	row := callTelephonyRow(ids.TxID(), store.Device{Number: n}, TelephonyAdminTest, outcome, caller.Name(), s.now())
	if err := s.st.AppendTelephonyLog(ctx, &row); err != nil {
		return outcome, errors.Join(callErr, wrap("telephony log", err))
	}
	if callErr != nil {
		return outcome, fmt.Errorf("test call to %s through %s: %w", MaskNumber(n), caller.Name(), callErr)
	}
	return outcome, nil
}

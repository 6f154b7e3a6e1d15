package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Push status messages, as in Duo.
const (
	msgPushed     = "Pushed a login request to your device..."
	msgPushDenied = "Login request denied."
	msgTimedOut   = "Login timed out."
)

// Auth-log reasons for pushes.
const (
	ReasonUserApproved = "user_approved"
	ReasonUserDenied   = "user_denied"
	ReasonNoResponse   = "no_response"
	factorPushLog      = "duo_push"
)

// recheckEvery bounds how long a waiter trusts the broker alone: a lost
// wake-up costs at most this much latency, and each pending push reads its
// row at most this often.
const recheckEvery = 15 * time.Second

// newPush picks the device and builds the transaction for a push.
func (s *Service) newPush(req AuthRequest, p plan, u store.User, devices []store.Device, now time.Time) (*store.Transaction, error) {
	if p.device != FactorPush {
		return nil, ErrNoCapableDevice // phone: decideCall; SMS: decideSMS
	}
	d, err := pickDevice(req, p, devices, hasApp)
	if err != nil {
		return nil, err
	}
	typ := req.Type
	if typ == "" {
		typ = "Login"
	}
	digits := req.Integration.VerifiedPush
	txid := ids.TxID()
	switch {
	case p.verified && digits == 0:
		return nil, invalid("prompt", "Verified Push is not enabled for this integration")
	case p.verified && !validTxID(req.TxID):
		// Duo's double denies a verified push without the preauth's txid:
		// the user saw no code.
		return nil, invalid("txid", "the txid from preauth is required with a verified push")
	case p.verified:
		txid = req.TxID
	case req.TxID != "":
		return nil, invalid("txid", "is only accepted with a verified push (prompt=verified_push1)")
	}
	return &store.Transaction{
		ID: txid, UserID: u.ID, DeviceID: d.ID, IKey: req.Integration.IKey, Factor: FactorPush,
		State: store.TxPushed, Type: typ, DisplayUsername: req.DisplayUsername, PushInfo: req.PushInfo,
		IP: req.IP, Hostname: req.Hostname, Created: now, Expires: now.Add(s.PushTimeout()),
		StepUpDigits: digits,
	}, nil
}

// Status is Duo's auth_status answer.
type Status struct {
	Result    string // waiting, allow, deny
	Status    string // pushed, allow, deny, timeout, fraud
	StatusMsg string
	// VerifyCode is the Verified Push code while the push waits ("" for
	// a plain push); StatusMsg tells it too, as Duo's does.
	VerifyCode string
	// TrustedDeviceToken is Duo's trusted_device_token on an allow that
	// took a second factor (an approved push, a valid passcode), when the
	// policy remembers devices.
	TrustedDeviceToken string
}

// txStatus renders a transaction as auth_status reports it.
func (s *Service) txStatus(t store.Transaction) Status {
	switch t.State {
	case store.TxPushed:
		if t.Factor == FactorPhone {
			if t.Progress == CallAnswered {
				return Status{Result: "waiting", Status: CallAnswered, StatusMsg: msgAnswered}
			}
			return Status{Result: "waiting", Status: CallCalling, StatusMsg: fmt.Sprintf(msgDialing, t.Phone)}
		}
		if code := s.VerifyCode(t); code != "" {
			return Status{Result: "waiting", Status: "pushed", StatusMsg: fmt.Sprintf(msgVerifiedPush, code), VerifyCode: code}
		}
		return Status{Result: "waiting", Status: "pushed", StatusMsg: msgPushed}
	case store.TxAllow:
		return Status{Result: ResultAllow, Status: ResultAllow, StatusMsg: msgSuccess}
	case store.TxTimeout:
		return Status{Result: ResultDeny, Status: "timeout", StatusMsg: msgTimedOut}
	case store.TxFraud:
		return Status{Result: ResultDeny, Status: "fraud", StatusMsg: msgFraud}
	}
	if t.Factor == FactorPasscode {
		return Status{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgBadPasscode}
	}
	return Status{Result: ResultDeny, Status: ResultDeny, StatusMsg: msgPushDenied}
}

// AuthStatus reports a transaction of the calling integration, holding the
// request up to StatusWait while it is still waiting for the device.
func (s *Service) AuthStatus(ctx context.Context, in store.Integration, txid string) (Status, error) {
	if txid == "" {
		return Status{}, invalid("txid", "is required")
	}
	t, err := s.st.GetTransaction(ctx, txid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.IKey != in.IKey) {
		return Status{}, invalid("txid", "no such transaction")
	}
	if err != nil {
		return Status{}, wrap("auth status", err)
	}
	if t.State == store.TxPushed && (t.StepUpDigits > 0 || t.Factor == FactorPhone) && s.shown.first(t.ID, t.Expires, s.now()) {
		// The user needs the code before the device can be answered; a
		// call's first poll shows "Dialing …" at once.
		return s.txStatus(t), nil
	}
	if t.State == store.TxPushed {
		place, err := s.hold()
		if err != nil {
			return Status{}, err
		}
		defer place.release()
		if t, err = s.waitTx(ctx, t, s.opts.StatusWait); err != nil {
			return Status{}, wrap("auth status", err)
		}
	}
	if t.State == store.TxFailed {
		return Status{}, fmt.Errorf("auth status %s: %w", t.ID, ErrCallFailed)
	}
	st := s.txStatus(t)
	if t.State == store.TxAllow && secondFactor(t.Factor) {
		st.TrustedDeviceToken, _ = s.RememberToken(in, t.UserID, txGroupIDs(t))
	}
	return st, nil
}

// secondFactor reports whether an allowed transaction of factor took a
// second factor: a push (allowed only by its device's approval) or a
// checked passcode (its log factor names what matched). An allow without
// one (bypass status, an authorized network, a remembered device) records
// "" or the bare "passcode".
func secondFactor(factor string) bool {
	return factor != "" && factor != FactorPasscode
}

// txGroupIDs are the IDs of the groups t recorded.
func txGroupIDs(t store.Transaction) []string {
	groups := make([]string, 0, len(t.Groups))
	for _, g := range t.Groups {
		groups = append(groups, g.ID)
	}
	return groups
}

// settle reads a transaction and, if it is still pushed past its expiry,
// records the timeout (with its auth-log row) and wakes other waiters.
// With early it records the timeout even before the push's expiry (the
// server stops, see EndHeld).
func (s *Service) settle(ctx context.Context, txid string, early bool) (store.Transaction, error) {
	t, err := s.st.GetTransaction(ctx, txid)
	if err != nil {
		return store.Transaction{}, err
	}
	now := s.now()
	if t.State != store.TxPushed || (now.Before(t.Expires) && !early) {
		return t, nil
	}
	changed := false
	var (
		row    store.AuthLog
		locked bool
	)
	err = s.st.InTx(ctx, func(q store.Queries) error {
		changed, locked = false, false
		cur, err := q.GetTransaction(ctx, txid)
		if err != nil {
			return err
		}
		t = cur
		if cur.State != store.TxPushed {
			return nil // answered or settled meanwhile
		}
		t.State, t.Answered = store.TxTimeout, now
		if err := q.UpdateTransaction(ctx, t); err != nil {
			return err
		}
		changed = true
		return s.logPush(ctx, q, t, ResultDeny, ReasonNoResponse, &row, &locked)
	})
	if err != nil {
		return store.Transaction{}, err
	}
	if changed {
		s.pushDecided(&row, locked)
		s.publish(ctx, txid)
	}
	return t, nil
}

// logPush writes the auth-log row of a decided push.
// It fills *row with the row and *lockedOut with whether it locked the
// user out, for Service.pushDecided once the transaction commits.
func (s *Service) logPush(ctx context.Context, q store.Queries, t store.Transaction, result, reason string, row *store.AuthLog, lockedOut *bool) error {
	u, err := q.GetUser(ctx, t.UserID)
	if err != nil {
		return err
	}
	l := store.AuthLog{
		TxID: t.ID, Time: t.Answered, IKey: t.IKey, UserID: u.ID, Username: u.Username,
		Factor: factorPushLog, Device: t.DeviceID, Result: result, Reason: reason, IP: t.IP, Hostname: t.Hostname,
		Groups: t.Groups,
	}
	if t.Factor == FactorPhone {
		l.Factor = factorPhoneLog
	}
	if t.Factor == FactorVerificationPush {
		// An identity check, not a login: it neither logs the user in nor
		// locks them out (a caller posing as the user must not be able to
		// lock the real one out through the help desk).
		l.Factor = FactorVerificationPush
		return q.AppendAuthLog(ctx, &l)
	}
	if result == ResultAllow {
		u.FailedAttempts = 0
		u.LastLogin = t.Answered
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
	}
	if reason == ReasonUserMarkedFraud && s.opts.FraudLockout && u.Status == store.StatusActive {
		if err := q.LockOut(ctx, u.ID, "a login request was reported as fraud (txid "+t.ID+")", s.now()); err != nil {
			return err
		}
		*lockedOut = true
	}
	if err := q.AppendAuthLog(ctx, &l); err != nil {
		return err
	}
	*row = l
	return nil
}

// pushDecided counts a committed push decision and logs its row.
func (s *Service) pushDecided(row *store.AuthLog, lockedOut bool) {
	s.stats.pushes[pushOutcome(row.Reason)].Add(1)
	if lockedOut {
		s.stats.lockouts.Add(1)
	}
	s.logged(row)
}

func (s *Service) publish(ctx context.Context, txid string) {
	if err := s.opts.Broker.Publish(context.WithoutCancel(ctx), txid); err != nil {
		// Waiters on other nodes still recheck within recheckEvery.
		s.opts.Logger.Warn("could not publish a push answer to other nodes", "txid", txid, "err", err)
	}
}

// ErrAlreadyAnswered is an answer to a push that is no longer waiting.
var ErrAlreadyAnswered = &Error{Kind: KindConflict, Detail: "this request was already answered or has expired"}

// Answer records a device's plain approve or deny (see AnswerPush).
func (s *Service) Answer(ctx context.Context, deviceID, txid string, approve bool) error {
	_, err := s.AnswerPush(ctx, deviceID, txid, PushAnswer{Approve: approve})
	return err
}

// PushAnswer is a device's answer to a push.
type PushAnswer struct {
	Approve bool
	// Fraud: the user denied with "This wasn't me". Wins over Approve.
	Fraud bool
	// Code is the Verified Push code typed on the device; an approval of
	// a verified push with a wrong or missing code denies it.
	Code string
}

// AnswerPush records a device's answer to one of its pushes and wakes the
// request waiting for it, on whichever node it waits. It returns the
// push's final state: store.TxAllow, TxDeny (also for an approval with a
// wrong code) or TxFraud. A fraud report is logged as a warning for
// administrators (and locks the user out with Options.FraudLockout).
func (s *Service) AnswerPush(ctx context.Context, deviceID, txid string, a PushAnswer) (string, error) {
	now := s.now()
	var (
		final  store.Transaction
		row    store.AuthLog
		locked bool
	)
	err := s.st.InTx(ctx, func(q store.Queries) error {
		locked = false
		t, err := q.GetTransaction(ctx, txid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (t.DeviceID != deviceID || t.Factor == FactorPhone)) {
			// A call is answered on the phone, not by the app.
			return notFound("no such transaction for this device")
		}
		if err != nil {
			return err
		}
		if t.State != store.TxPushed || !now.Before(t.Expires) {
			return ErrAlreadyAnswered
		}
		result, reason := ResultDeny, ReasonUserDenied
		t.State = store.TxDeny
		switch {
		case a.Fraud:
			reason, t.State = ReasonUserMarkedFraud, store.TxFraud
		case a.Approve && t.StepUpDigits > 0 && !s.codeMatches(t, a.Code):
			reason = ReasonInvalidVerificationCode
		case a.Approve:
			result, reason = ResultAllow, ReasonUserApproved
			t.State = store.TxAllow
		}
		t.Answered = now
		if err := q.UpdateTransaction(ctx, t); err != nil {
			return err
		}
		final = t
		return s.logPush(ctx, q, t, result, reason, &row, &locked)
	})
	var ae *Error
	if errors.As(err, &ae) {
		return "", err
	}
	if err != nil {
		return "", wrap("answer", err)
	}
	s.pushDecided(&row, locked)
	switch final.State {
	case store.TxFraud:
		s.opts.Logger.Warn("push reported as fraud by the user", "txid", txid, "user_id", final.UserID,
			"device_id", deviceID, "ikey", final.IKey, "ip", final.IP, "locked_out", s.opts.FraudLockout)
		s.noticeFraud(ctx, final)
	case store.TxDeny:
		s.opts.Logger.Info("push answered", "txid", txid, "device_id", deviceID, "approved", false,
			"wrong_code", a.Approve && !a.Fraud)
	default:
		s.opts.Logger.Info("push answered", "txid", txid, "device_id", deviceID, "approved", true)
	}
	s.publish(ctx, txid)
	return final.State, nil
}

// PendingPush is a push waiting on a device, with what the device shows.
type PendingPush struct {
	store.Transaction
	Username        string
	IntegrationName string
}

// Pending lists the pushes waiting for a device's answer, oldest first.
func (s *Service) Pending(ctx context.Context, deviceID string) ([]PendingPush, error) {
	list, err := s.st.ListPendingTransactions(ctx, deviceID, s.now())
	if err != nil {
		return nil, wrap("pending pushes", err)
	}
	out := make([]PendingPush, 0, len(list))
	names := map[string]string{}     // integration key → name
	usernames := map[string]string{} // user ID → username (one device, usually one user)
	for _, t := range list {
		if t.Factor == FactorPhone {
			continue // a call rings the phone; the app has nothing to answer
		}
		p := PendingPush{Transaction: t, Username: t.DisplayUsername}
		if p.Username == "" {
			username, ok := usernames[t.UserID]
			if !ok {
				if u, err := s.st.GetUser(ctx, t.UserID); err == nil {
					username = u.Username
				}
				usernames[t.UserID] = username
			}
			p.Username = username
		}
		name, ok := names[t.IKey]
		if !ok {
			if in, err := s.st.GetIntegration(ctx, t.IKey); err == nil {
				name = in.Name
			}
			names[t.IKey] = name
		}
		p.IntegrationName = name
		out = append(out, p)
	}
	return out, nil
}

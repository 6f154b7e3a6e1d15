package auth

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Verification pushes (Duo's send_verification_push): a help desk checks
// that the person on the line holds the user's phone. The push is an
// ordinary pending push for the device (fetched and answered through the
// device API, woken by the notifiers), but it is no login: it is sent
// whatever the user's status (a help desk verifies locked-out users before
// unlocking them), shows that it is an identity check from the help desk,
// carries a 6-digit code the help desk reads out and the user types on the
// device (Verified Push), and its answer neither counts as a login nor
// locks anyone out. Its auth-log row has the factor verification_push.

// FactorVerificationPush is the factor of a verification push's
// transaction and auth-log row.
const FactorVerificationPush = "verification_push"

// verificationPushDigits is the length of a verification push's code.
const verificationPushDigits = VerifiedPushDigits6

// verificationPushType is shown before "request" on the device.
const verificationPushType = "Identity verification"

// verificationPushInfo is what the device shows below the request.
var verificationPushInfo = "Requested+by=" + url.QueryEscape("your help desk") +
	"&Note=" + url.QueryEscape("This is not a login. Approve only if you are talking with your help desk right now, with the code they read to you.")

// VerificationPush is a sent verification push.
type VerificationPush struct {
	ID      string // the push_id (the transaction's txid)
	Code    string // what the help desk reads out; the user types it on the device
	Expires time.Time
}

// Verification push results, as Duo's verification_push_response names them.
const (
	VerificationWaiting = "waiting"
	VerificationApprove = "approve"
	VerificationDeny    = "deny"
	VerificationFraud   = "fraud"
	VerificationTimeout = "timeout"
)

// SendVerificationPush sends a verification push to one of the user's
// activated phones, in one transaction with its administrator-log row. in
// is the integration asking; the device shows its name.
func (s *Service) SendVerificationPush(ctx context.Context, in store.Integration, nameOrID, phoneID string) (VerificationPush, error) {
	if phoneID == "" {
		return VerificationPush{}, invalid("phone_id", "is required")
	}
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return VerificationPush{}, err
	}
	now := s.now()
	t := store.Transaction{
		ID: ids.TxID(), UserID: u.ID, DeviceID: phoneID, IKey: in.IKey, Factor: FactorVerificationPush, State: store.TxPushed,
		Type: verificationPushType, PushInfo: verificationPushInfo, Created: now, Expires: now.Add(s.opts.PushTimeout),
		StepUpDigits: verificationPushDigits,
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		ph, err := s.phone(ctx, q, phoneID)
		switch {
		case err != nil:
			return err
		case ph.UserID != u.ID:
			return invalid("phone_id", "is not a phone of this user")
		case !ph.Activated:
			return invalid("phone_id", "the phone has not been activated yet")
		}
		if err := q.CreateTransaction(ctx, t); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "verification_push", u.Username, map[string]any{"user_id": u.ID, "phone_id": phoneID, "push_id": t.ID})
	})
	var ae *Error
	if errors.As(err, &ae) {
		return VerificationPush{}, err
	}
	if err != nil {
		return VerificationPush{}, wrap("send verification push", err)
	}
	s.opts.Logger.Info("verification push sent", "txid", t.ID, "user_id", u.ID, "device_id", phoneID, "ikey", in.IKey)
	if s.opts.PushNotifier != nil {
		s.opts.PushNotifier.PushSent(t)
	}
	return VerificationPush{ID: t.ID, Code: s.VerifyCode(t), Expires: t.Expires}, nil
}

// VerificationPushResult reports the answer to a verification push of the
// user, at once: waiting, approve, deny (also for an approval with a wrong
// code), fraud or timeout.
func (s *Service) VerificationPushResult(ctx context.Context, nameOrID, pushID string) (string, error) {
	if pushID == "" {
		return "", invalid("push_id", "is required")
	}
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return "", err
	}
	errUnknown := notFound("no verification push with that push_id for this user")
	if !validTxID(pushID) {
		return "", errUnknown
	}
	t, err := s.settle(ctx, pushID, false)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && (t.UserID != u.ID || t.Factor != FactorVerificationPush)):
		return "", errUnknown
	case err != nil:
		return "", wrap("verification push result", err)
	}
	switch t.State {
	case store.TxPushed:
		return VerificationWaiting, nil
	case store.TxAllow:
		return VerificationApprove, nil
	case store.TxFraud:
		return VerificationFraud, nil
	case store.TxTimeout:
		return VerificationTimeout, nil
	}
	return VerificationDeny, nil
}

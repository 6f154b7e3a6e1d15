package store

import (
	"context"
	"time"
)

// SMSPasscode is one unused passcode of a batch sent by SMS. Only a keyed
// hash of the code is stored.
type SMSPasscode struct {
	ID       string
	UserID   string
	DeviceID string
	Hash     []byte
	// Seq is the code's place in the batch (0, 1, …): the code starts with
	// the digit Seq%9+1, which preauth announces as sms_nextcode.
	Seq     int
	Created time.Time
	Expires time.Time // zero: never
}

// Expired reports whether the code can no longer be used at now.
func (c SMSPasscode) Expired(now time.Time) bool {
	return !c.Expires.IsZero() && !now.Before(c.Expires)
}

// TelephonyLog is one message of the telephony log. Phone is the number as
// Duo masks it (XXX-XXX-1234), never the full number.
type TelephonyLog struct {
	ID       int64
	TxID     string
	Time     time.Time
	UserID   string
	Phone    string
	Type     string // sms (phone: a call)
	Context  string // authentication, enrollment, administrator test
	Credits  int
	Provider string // the provider's name: kannel, smpp, http
	Status   string // sent, failed
}

// TelephonyQueries store SMS passcodes and the telephony log.
type TelephonyQueries interface {
	// ReplaceSMSPasscodes deletes every passcode of the codes' device and
	// stores codes (a new batch; all of one device). ErrNotFound if the
	// device is gone.
	ReplaceSMSPasscodes(ctx context.Context, deviceID string, codes []SMSPasscode) error
	// ListSMSPasscodes lists a user's passcodes, ordered by device, then
	// Seq.
	ListSMSPasscodes(ctx context.Context, userID string) ([]SMSPasscode, error)
	// UseSMSPasscode deletes the code: a guarded write (GuardedQueries),
	// ErrConflict if it is gone (used by a concurrent request, or replaced).
	UseSMSPasscode(ctx context.Context, id string) error
	// ListDevicesByNumber lists the devices with that number (E.164),
	// ordered by Created, then ID.
	ListDevicesByNumber(ctx context.Context, number string) ([]Device, error)
	// AppendTelephonyLog sets l.ID.
	AppendTelephonyLog(ctx context.Context, l *TelephonyLog) error
	// ListTelephonyLog lists the rows with Since <= Time < Until (a zero
	// Until: no bound), oldest first, at most limit (0: no limit).
	ListTelephonyLog(ctx context.Context, since, until time.Time, limit int) ([]TelephonyLog, error)
}

// PhoneProof is a number a user asked to add in the self-service portal,
// waiting for the code sent to it by SMS. A user has at most one: a new
// one replaces it. Only a keyed hash of the code is stored.
type PhoneProof struct {
	UserID    string
	Number    string // E.164
	Extension string
	Name      string
	Hash      []byte
	// Attempts counts the wrong codes typed.
	Attempts int
	Created  time.Time
	Expires  time.Time
}

// PhoneProofQueries store the portal's pending phone numbers.
type PhoneProofQueries interface {
	// PutPhoneProof stores p, replacing the user's proof if there is one;
	// ErrNotFound for an unknown user.
	PutPhoneProof(ctx context.Context, p PhoneProof) error
	// GetPhoneProof returns the user's proof; it locks the row inside InTx
	// on engines that lock rows, like GetDevice.
	GetPhoneProof(ctx context.Context, userID string) (PhoneProof, error)
	// CountPhoneProofFailure adds one to the proof's Attempts; ErrNotFound
	// if there is none.
	CountPhoneProofFailure(ctx context.Context, userID string) error
	// DeletePhoneProof deletes the user's proof: a guarded write
	// (GuardedQueries), ErrConflict if it is gone (used by a concurrent
	// request, or replaced).
	DeletePhoneProof(ctx context.Context, userID string) error
}

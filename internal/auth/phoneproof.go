package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// A user adds a phone number in the self-service portal by proving it:
// SendPhoneProof texts a short code to the number (through the SMS sender
// of SMS passcodes, spending the same rate limits, with its telephony-log
// row), and ConfirmPhoneProof turns the number into a phone of the user's
// once the code comes back. The code is stored as a keyed hash bound to the
// user and the number; it works for PhoneProofValid, for at most
// PhoneProofAttempts tries, and once. A user has one proof at a time: a
// new code replaces the previous one.

// Limits of a phone proof.
const (
	PhoneProofValid    = 10 * time.Minute
	PhoneProofAttempts = 5
	phoneProofDigits   = 6
	phoneProofPurpose  = "phone proof"
	// TelephonyEnrollment is the telephony-log context of a proof code.
	TelephonyEnrollment = "enrollment"
)

// Refusals of ConfirmPhoneProof, worded for the person typing the code.
var (
	ErrPhoneProofWrong = &Error{Kind: KindInvalid, Param: "code", Detail: "That code is not right. Check the text message and try again."}
	ErrPhoneProofGone  = &Error{Kind: KindInvalid, Param: "code", Detail: "That code expired or was tried too many times. Send a new code."}
	errSMSOff          = invalid("sms_provider", "SMS is not configured: set sms_provider (docs/telephony.md)")
)

// SMSEnabled reports whether an SMS provider is configured: phones with a
// number can receive SMS passcodes and proof codes.
func (s *Service) SMSEnabled() bool { return s.smsEnabled() }

// PhoneProofSent is a proof code sent: the number as shown (masked) and
// when the code expires.
type PhoneProofSent struct {
	Masked  string
	Expires time.Time
}

// SendPhoneProof texts a proof code to a number a user wants to add (E.164
// or Duo's reading of a number, with an optional extension and name).
func (s *Service) SendPhoneProof(ctx context.Context, userID, number, extension, name string) (PhoneProofSent, error) {
	if !s.smsEnabled() {
		return PhoneProofSent{}, errSMSOff
	}
	f, err := PhoneFields{Number: &number, Extension: &extension, Name: &name}.check()
	if err != nil {
		return PhoneProofSent{}, err
	}
	if *f.Number == "" {
		return PhoneProofSent{}, invalid("number", "Enter the phone number, with its country code (+44 20 7946 0958).")
	}
	u, err := s.st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return PhoneProofSent{}, notFound("no user " + userID)
	}
	if err != nil {
		return PhoneProofSent{}, wrap("send phone proof", err)
	}
	devs, err := s.st.ListDevices(ctx, u.ID)
	if err != nil {
		return PhoneProofSent{}, wrap("send phone proof", err)
	}
	for _, d := range devs {
		if d.Number == *f.Number && d.Extension == *f.Extension {
			return PhoneProofSent{}, invalid("number", "This number is already one of your phones.")
		}
	}
	if err := s.allowSMS(u); err != nil {
		return PhoneProofSent{}, err
	}
	code, err := proofCode()
	if err != nil {
		return PhoneProofSent{}, err
	}
	now := s.now()
	p := store.PhoneProof{UserID: u.ID, Number: *f.Number, Extension: *f.Extension, Name: *f.Name,
		Hash: s.phoneProofHash(u.ID, *f.Number, code), Created: now, Expires: now.Add(PhoneProofValid)}
	text := fmt.Sprintf("Your code to add this phone to Assent: %s. It expires in %d minutes.", code, int(PhoneProofValid/time.Minute))
	dev := store.Device{UserID: u.ID, Number: p.Number}
	log := s.opts.Logger.With("user_id", u.ID, "phone", MaskNumber(p.Number), "provider", s.sms.opts.Sender.Name())
	sctx, cancel := context.WithTimeout(ctx, smsDeliverTimeout)
	sendErr := s.sms.opts.Sender.SendSMS(sctx, p.Number, text)
	cancel()
	if sendErr != nil {
		log.Error("phone proof: sms delivery failed", "err", sendErr)
		row := s.telephonyRow(ids.TxID(), dev, TelephonyEnrollment, TelephonyFailed)
		return PhoneProofSent{}, errors.Join(fmt.Errorf("send a phone proof to %s through %s: %w", MaskNumber(p.Number),
			s.sms.opts.Sender.Name(), sendErr), s.st.AppendTelephonyLog(ctx, &row))
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.PutPhoneProof(ctx, p); err != nil {
			return err
		}
		row := s.telephonyRow(ids.TxID(), dev, TelephonyEnrollment, TelephonySent)
		return q.AppendTelephonyLog(ctx, &row)
	})
	if err != nil {
		return PhoneProofSent{}, wrap("send phone proof", err)
	}
	log.Info("phone proof sent")
	return PhoneProofSent{Masked: MaskNumber(p.Number), Expires: p.Expires}, nil
}

// PendingPhoneProof is the user's proof waiting for its code (KindNotFound
// if there is none, or it can no longer be used).
func (s *Service) PendingPhoneProof(ctx context.Context, userID string) (PhoneProofSent, error) {
	p, err := s.st.GetPhoneProof(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return PhoneProofSent{}, notFound("no phone number waits for its code")
	}
	if err != nil {
		return PhoneProofSent{}, wrap("phone proof", err)
	}
	if !s.now().Before(p.Expires) || p.Attempts >= PhoneProofAttempts {
		return PhoneProofSent{}, notFound("no phone number waits for its code")
	}
	return PhoneProofSent{Masked: MaskNumber(p.Number), Expires: p.Expires}, nil
}

// ConfirmPhoneProof checks the code typed for the user's proof and, when
// it is right, makes the number a phone of the user's (a device without an
// app), in one transaction with the proof's removal and the administrator
// log's row.
func (s *Service) ConfirmPhoneProof(ctx context.Context, userID, code string) (store.Device, error) {
	code = strings.Join(strings.Fields(code), "")
	var (
		dev           store.Device
		wrong, gone   bool
		expired, used bool
	)
	err := s.st.InTx(ctx, func(q store.Queries) error {
		wrong, gone, expired, used = false, false, false, false
		p, err := q.GetPhoneProof(ctx, userID)
		if errors.Is(err, store.ErrNotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		if !s.now().Before(p.Expires) || p.Attempts >= PhoneProofAttempts {
			expired = true
			return q.DeletePhoneProof(ctx, userID)
		}
		if subtle.ConstantTimeCompare(s.phoneProofHash(userID, p.Number, code), p.Hash) != 1 {
			wrong = true
			used = p.Attempts+1 >= PhoneProofAttempts
			return q.CountPhoneProofFailure(ctx, userID)
		}
		if err := q.DeletePhoneProof(ctx, userID); err != nil {
			return err
		}
		name := p.Name
		if name == "" {
			name = "Phone " + MaskNumber(p.Number)
		}
		dev = store.Device{ID: ids.New(ids.Device), UserID: userID, Name: name, Number: p.Number, Extension: p.Extension,
			Created: s.now()}
		if err := q.CreateDevice(ctx, dev); err != nil {
			return err
		}
		return s.adminLogIfActor(ctx, q, "phone_create", dev.ID, map[string]any{"user_id": userID, "name": dev.Name,
			"number": MaskNumber(dev.Number), "extension": dev.Extension, "proved_by": "sms"})
	})
	if err != nil {
		return store.Device{}, wrap("confirm phone proof", err)
	}
	log := s.opts.Logger.With("user_id", userID)
	switch {
	case gone || expired:
		return store.Device{}, ErrPhoneProofGone
	case wrong && used:
		log.Warn("phone proof: too many wrong codes")
		return store.Device{}, ErrPhoneProofGone
	case wrong:
		return store.Device{}, ErrPhoneProofWrong
	}
	log.Info("phone added in the portal", "device_id", dev.ID, "phone", MaskNumber(dev.Number))
	return dev, nil
}

func (s *Service) phoneProofHash(userID, number, code string) []byte {
	return s.box.KeyedHash(phoneProofPurpose, userID, number, code)
}

// proofCode is a random code of phoneProofDigits digits.
func proofCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("phone proof code: %w", err)
	}
	return fmt.Sprintf("%0*d", phoneProofDigits, n.Int64()), nil
}

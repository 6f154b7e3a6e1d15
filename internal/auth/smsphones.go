package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Phones with numbers. A pending phone (add_phone) that has a number is
// already, in Duo's semantics, a phone that can receive SMS passcodes once
// it has a user: AddUserPhone makes it a device without an app (same ID,
// same number), which an activation code for that ID can later turn into
// an authenticator app keeping the number. AddNumberPhone is the same for
// the CLI, in one step.

// AddNumberPhone gives a user a mobile phone with a number and no app
// (see AddUserNumber).
func (s *Service) AddNumberPhone(ctx context.Context, nameOrID, number, extension, name string) (store.Device, error) {
	return s.AddUserNumber(ctx, nameOrID, PhoneFields{Number: &number, Extension: &extension, Name: &name})
}

// AddUserNumber gives a user a phone with a number and no app: a mobile
// (texted and called) or a landline (called), with an extension and its
// delays, in one transaction with its administrator-log row. Platform is
// not taken: a phone without an app reports none.
func (s *Service) AddUserNumber(ctx context.Context, nameOrID string, f PhoneFields) (store.Device, error) {
	f, err := f.check()
	if err != nil {
		return store.Device{}, err
	}
	if deref(f.Number, "") == "" {
		return store.Device{}, invalid("number", "is required")
	}
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return store.Device{}, err
	}
	d := numberPhoneOf(store.PendingPhone{ID: ids.New(ids.Device), UserID: u.ID, Name: deref(f.Name, ""), Type: deref(f.Type, phoneMobile),
		Number: *f.Number, Extension: deref(f.Extension, ""), Predelay: deref(f.Predelay, ""), Postdelay: deref(f.Postdelay, ""),
		Created: s.now()})
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateDevice(ctx, d); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_create", d.ID, map[string]any{"user_id": u.ID, "name": d.Name, "type": s.phoneOfDevice(d).Type,
			"number": MaskNumber(d.Number), "extension": d.Extension})
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, notFound("no user " + nameOrID)
	}
	if err != nil {
		return store.Device{}, wrap("add phone", err)
	}
	s.opts.Logger.Info("phone created", "phone_id", d.ID, "user_id", u.ID, "phone", MaskNumber(d.Number))
	return d, nil
}

// numberPhoneOf is the device a pending phone with a number becomes once
// it has a user.
func numberPhoneOf(p store.PendingPhone) store.Device {
	d := store.Device{ID: p.ID, UserID: p.UserID, Name: p.Name, Number: p.Number, Extension: p.Extension,
		Predelay: p.Predelay, Postdelay: p.Postdelay, Created: p.Created}
	if p.Type == phoneLandline {
		d.PhoneType = store.PhoneLandline
	}
	return d
}

// SendSMSPasscodes sends a new batch of passcodes to a phone (the Admin
// API's send_sms_passcodes), with the same limits as factor=sms; the batch,
// its telephony-log row and the administrator-log row are written in one
// transaction once the message is sent.
func (s *Service) SendSMSPasscodes(ctx context.Context, phoneID string) error {
	if _, err := s.Phone(ctx, phoneID); err != nil {
		return err
	}
	d, err := s.st.GetDevice(ctx, phoneID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.smsCapable(d)) {
		if !s.smsEnabled() {
			return invalid("phone_id", "SMS is not configured: set sms_provider (docs/telephony.md)")
		}
		return invalid("phone_id", "the phone has no number or no user")
	}
	if err != nil {
		return wrap("send sms passcodes", err)
	}
	u, err := s.st.GetUser(ctx, d.UserID)
	if err != nil {
		return wrap("send sms passcodes", err)
	}
	if err := s.allowSMS(u); err != nil {
		return err
	}
	b, err := s.newSMSBatch(u, d, s.now())
	if err != nil {
		return wrap("send sms passcodes", err)
	}
	dec := &decision{sms: b, log: store.AuthLog{TxID: ids.TxID()}}
	if err := s.sendSMS(ctx, dec); err != nil {
		return err
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.ReplaceSMSPasscodes(ctx, d.ID, b.codes); err != nil {
			return err
		}
		row := s.telephonyRow(dec.log.TxID, d, TelephonyAdministrator, TelephonySent)
		if err := q.AppendTelephonyLog(ctx, &row); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_send_sms_passcodes", d.ID, map[string]any{"user_id": u.ID, "phone": MaskNumber(d.Number)})
	})
	if err != nil {
		return wrap("send sms passcodes", err)
	}
	return nil
}

// Kinds of SendPhoneMessages, as the administrator log names them.
const (
	PhoneSMSActivation   = "phone_send_sms_activation"
	PhoneSMSInstallation = "phone_send_sms_installation"
)

// maxPhoneMessage bounds a message an administrator composes.
const maxPhoneMessage = 640

// CheckPhoneSMS reports whether a text message can be sent to a phone: SMS
// configured and the phone with a number (the Admin API checks before it
// issues an activation code for the message).
func (s *Service) CheckPhoneSMS(ctx context.Context, phoneID string) (Phone, error) {
	ph, err := s.Phone(ctx, phoneID)
	if err != nil {
		return Phone{}, err
	}
	if !s.smsEnabled() {
		return Phone{}, errSMSOff
	}
	if ph.Number == "" {
		return Phone{}, invalid("phone_id", "the phone has no number: set one first (POST /admin/v1/phones/{phone_id} number=…)")
	}
	return ph, nil
}

// SendPhoneMessages texts messages an administrator asked for (Duo's
// send_sms_activation and send_sms_installation) to a phone's number, in
// order. Each message spends the SMS rate limits (the phone's user's and
// the global one) and writes its telephony-log row; the first failure
// stops. The administrator-log row names the kind and the masked number.
func (s *Service) SendPhoneMessages(ctx context.Context, phoneID, kind string, msgs []string) error {
	ph, err := s.CheckPhoneSMS(ctx, phoneID)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := checkText("message", m, maxPhoneMessage); err != nil {
			return err
		}
	}
	// A pending phone without a user is limited on its own ID.
	limitKey := store.User{ID: ph.UserID}
	if ph.UserID == "" {
		limitKey.ID = ph.ID
	}
	dev := store.Device{ID: ph.ID, UserID: ph.UserID, Number: ph.Number}
	log := s.opts.Logger.With("phone_id", ph.ID, "user_id", ph.UserID, "phone", MaskNumber(ph.Number), "provider", s.sms.opts.Sender.Name())
	for _, m := range msgs {
		if err := s.allowSMS(limitKey); err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, smsDeliverTimeout)
		sendErr := s.sms.opts.Sender.SendSMS(sctx, ph.Number, m)
		cancel()
		status := TelephonySent
		if sendErr != nil {
			status = TelephonyFailed
			log.Error("sms delivery failed", "kind", kind, "err", sendErr)
		}
		row := s.telephonyRow(ids.TxID(), dev, TelephonyAdministrator, status)
		if err := s.st.AppendTelephonyLog(ctx, &row); err != nil {
			return errors.Join(sendErr, wrap("telephony log", err))
		}
		if sendErr != nil {
			return fmt.Errorf("send an sms to %s through %s: %w", MaskNumber(ph.Number), s.sms.opts.Sender.Name(), sendErr)
		}
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		return s.adminLog(ctx, q, kind, ph.ID, map[string]any{"user_id": ph.UserID, "phone": MaskNumber(ph.Number), "messages": len(msgs)})
	})
	if err != nil {
		return wrap("send sms", err)
	}
	log.Info("sms sent to a phone", "kind", kind, "messages", len(msgs))
	return nil
}

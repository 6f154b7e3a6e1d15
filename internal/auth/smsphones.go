package auth

import (
	"context"
	"errors"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Phones with numbers. A pending phone (add_phone) that has a number is
// already, in Duo's semantics, a phone that can receive SMS passcodes once
// it has a user: AddUserPhone makes it a device without an app (same ID,
// same number), which an activation code for that ID can later turn into
// an authenticator app keeping the number. AddNumberPhone is the same for
// the CLI, in one step.

// AddNumberPhone gives a user a phone with a number and no app, in one
// transaction with its administrator-log row.
func (s *Service) AddNumberPhone(ctx context.Context, nameOrID, number, extension, name string) (store.Device, error) {
	f, err := PhoneFields{Number: &number, Extension: &extension, Name: &name}.check()
	if err != nil {
		return store.Device{}, err
	}
	if *f.Number == "" {
		return store.Device{}, invalid("number", "is required")
	}
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return store.Device{}, err
	}
	d := store.Device{ID: ids.New(ids.Device), UserID: u.ID, Name: *f.Name, Number: *f.Number, Extension: *f.Extension,
		Created: s.now()}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateDevice(ctx, d); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_create", d.ID, map[string]any{"user_id": u.ID, "name": d.Name,
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
	return store.Device{ID: p.ID, UserID: p.UserID, Name: p.Name, Number: p.Number, Extension: p.Extension, Created: p.Created}
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

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// SMS passcodes and the telephony log (store.TelephonyQueries).

const smsPasscodeCols = `id, user_id, device_id, hash, seq, created, expires`

func scanSMSPasscode(r scanner) (store.SMSPasscode, error) {
	var (
		c                store.SMSPasscode
		created, expires int64
	)
	if err := r.Scan(&c.ID, &c.UserID, &c.DeviceID, &c.Hash, &c.Seq, &created, &expires); err != nil {
		return store.SMSPasscode{}, err
	}
	c.Created, c.Expires = fromUnix(created), fromUnix(expires)
	return c, nil
}

func (q *queries) ReplaceSMSPasscodes(ctx context.Context, deviceID string, codes []store.SMSPasscode) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM devices WHERE id = ?`, deviceID); err != nil {
		return fmt.Errorf("sqlstore: replace sms passcodes of %s: %w", deviceID, err)
	}
	if _, err := q.exec(ctx, `DELETE FROM sms_passcodes WHERE device_id = ?`, deviceID); err != nil {
		return fmt.Errorf("sqlstore: replace sms passcodes of %s: %w", deviceID, err)
	}
	for _, c := range codes {
		if c.DeviceID != deviceID {
			return fmt.Errorf("sqlstore: replace sms passcodes of %s: a code of device %s", deviceID, c.DeviceID)
		}
		err := q.insertOne(ctx, `INSERT INTO sms_passcodes (`+smsPasscodeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			c.ID, c.UserID, c.DeviceID, blob(c.Hash), c.Seq, toUnix(c.Created), toUnix(c.Expires))
		if err != nil {
			return fmt.Errorf("sqlstore: replace sms passcodes of %s: %w", deviceID, err)
		}
	}
	return nil
}

func (q *queries) ListSMSPasscodes(ctx context.Context, userID string) ([]store.SMSPasscode, error) {
	rows, err := q.query(ctx, `SELECT `+smsPasscodeCols+` FROM sms_passcodes WHERE user_id = ? ORDER BY device_id`+q.d.binary+`, seq`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sms passcodes of %s: %w", userID, err)
	}
	out, err := collect(rows, scanSMSPasscode)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sms passcodes of %s: %w", userID, err)
	}
	return out, nil
}

func (q *queries) UseSMSPasscode(ctx context.Context, id string) error {
	err := q.changeOne(ctx, `DELETE FROM sms_passcodes WHERE id = ?`, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: use sms passcode %s: %w", id, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: use sms passcode %s: %w", id, err)
	}
	return nil
}

func (q *queries) ListDevicesByNumber(ctx context.Context, number string) ([]store.Device, error) {
	rows, err := q.query(ctx, `SELECT `+deviceCols+` FROM devices WHERE number = ? ORDER BY created, id`+q.d.binary, number)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list devices by number: %w", err)
	}
	out, err := collect(rows, scanDevice)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list devices by number: %w", err)
	}
	return out, nil
}

func (s *Store) ListDevicesByNumber(ctx context.Context, number string) ([]store.Device, error) {
	return s.rq.ListDevicesByNumber(ctx, number)
}

const telephonyLogCols = `id, txid, time, user_id, phone, type, context, credits, provider, status`

func scanTelephonyLog(r scanner) (store.TelephonyLog, error) {
	var (
		l  store.TelephonyLog
		at int64
	)
	if err := r.Scan(&l.ID, &l.TxID, &at, &l.UserID, &l.Phone, &l.Type, &l.Context, &l.Credits, &l.Provider, &l.Status); err != nil {
		return store.TelephonyLog{}, err
	}
	l.Time = fromUnix(at)
	return l, nil
}

func (q *queries) AppendTelephonyLog(ctx context.Context, l *store.TelephonyLog) error {
	if l == nil {
		return errors.New("sqlstore: append telephony log: nil entry")
	}
	var id int64
	err := q.queryRow(ctx, `INSERT INTO telephony_log (txid, time, user_id, phone, type, context, credits, provider, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		l.TxID, toUnix(l.Time), l.UserID, l.Phone, l.Type, l.Context, l.Credits, l.Provider, l.Status).Scan(&id)
	if err != nil {
		return fmt.Errorf("sqlstore: append telephony log: %w", err)
	}
	l.ID = id
	return nil
}

func (q *queries) ListTelephonyLog(ctx context.Context, since, until time.Time, limit int) ([]store.TelephonyLog, error) {
	end := int64(1) << 62
	if !until.IsZero() {
		end = toUnix(until)
	}
	lim := int64(limit)
	if limit <= 0 {
		lim = 1 << 62
	}
	rows, err := q.query(ctx, `SELECT `+telephonyLogCols+` FROM telephony_log WHERE time >= ? AND time < ? ORDER BY time, id LIMIT ?`,
		toUnix(since), end, lim)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list telephony log: %w", err)
	}
	out, err := collect(rows, scanTelephonyLog)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list telephony log: %w", err)
	}
	return out, nil
}

func (s *Store) ReplaceSMSPasscodes(ctx context.Context, deviceID string, codes []store.SMSPasscode) error {
	return s.write(ctx, false, func(q *queries) error { return q.ReplaceSMSPasscodes(ctx, deviceID, codes) })
}

func (s *Store) ListSMSPasscodes(ctx context.Context, userID string) ([]store.SMSPasscode, error) {
	return s.rq.ListSMSPasscodes(ctx, userID)
}

func (s *Store) UseSMSPasscode(ctx context.Context, id string) error {
	return s.write(ctx, true, func(q *queries) error { return q.UseSMSPasscode(ctx, id) })
}

func (s *Store) AppendTelephonyLog(ctx context.Context, l *store.TelephonyLog) error {
	if l == nil {
		return errors.New("sqlstore: append telephony log: nil entry")
	}
	c := *l
	if err := s.write(ctx, true, func(q *queries) error { return q.AppendTelephonyLog(ctx, &c) }); err != nil {
		return err
	}
	*l = c
	return nil
}

func (s *Store) ListTelephonyLog(ctx context.Context, since, until time.Time, limit int) ([]store.TelephonyLog, error) {
	return s.rq.ListTelephonyLog(ctx, since, until, limit)
}

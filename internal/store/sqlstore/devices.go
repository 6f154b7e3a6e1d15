package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Devices, activations and push transactions (store.DeviceQueries).

// requireRow returns store.ErrNotFound unless query selects a row. Create*
// methods check what they reference this way before inserting, so that an
// unknown user or device is reported clearly and, on PostgreSQL, without a
// failed statement that would abort the surrounding transaction. The foreign
// keys remain the backstop (mapErr turns their violation into ErrNotFound).
func (q *queries) requireRow(ctx context.Context, query string, args ...any) error {
	var one int
	return mapErr(q.queryRow(ctx, query, args...).Scan(&one))
}

// insertOne runs an INSERT … ON CONFLICT DO NOTHING and reports a skipped
// row as store.ErrAlreadyExists.
func (q *queries) insertOne(ctx context.Context, query string, args ...any) error {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	n, err := affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrAlreadyExists
	}
	return nil
}

// changeOne runs an UPDATE or DELETE of one row and reports a missing row as
// store.ErrNotFound.
func (q *queries) changeOne(ctx context.Context, query string, args ...any) error {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	n, err := affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Devices.

const deviceCols = `id, user_id, name, platform, public_key, hotp_secret_enc, hotp_counter, push_token, created, last_seen, number, extension,
	phone_type, predelay, postdelay`

func scanDevice(r scanner) (store.Device, error) {
	var (
		d                 store.Device
		secret            []byte
		created, lastSeen int64
	)
	if err := r.Scan(&d.ID, &d.UserID, &d.Name, &d.Platform, &d.PublicKey, &secret, &d.HOTPCounter,
		&d.PushToken, &created, &lastSeen, &d.Number, &d.Extension, &d.PhoneType, &d.Predelay, &d.Postdelay); err != nil {
		return store.Device{}, err
	}
	d.HOTPSecretEnc = secret
	d.Created = fromUnix(created)
	d.LastSeen = fromUnix(lastSeen)
	return d, nil
}

func (q *queries) CreateDevice(ctx context.Context, d store.Device) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, d.UserID); err != nil {
		return fmt.Errorf("sqlstore: create device %s: user %s: %w", d.ID, d.UserID, err)
	}
	err := q.insertOne(ctx,
		`INSERT INTO devices (`+deviceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		d.ID, d.UserID, d.Name, d.Platform, d.PublicKey, blob(d.HOTPSecretEnc), d.HOTPCounter, d.PushToken,
		toUnix(d.Created), toUnix(d.LastSeen), d.Number, d.Extension, d.PhoneType, d.Predelay, d.Postdelay)
	if err != nil {
		return fmt.Errorf("sqlstore: create device %s: %w", d.ID, err)
	}
	return nil
}

func (q *queries) GetDevice(ctx context.Context, id string) (store.Device, error) {
	d, err := scanDevice(q.queryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.Device{}, fmt.Errorf("sqlstore: get device %s: %w", id, mapErr(err))
	}
	return d, nil
}

func (q *queries) ListDevices(ctx context.Context, userID string) ([]store.Device, error) {
	rows, err := q.query(ctx,
		`SELECT `+deviceCols+` FROM devices WHERE user_id = ? ORDER BY created, id`+q.d.binary, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list devices of %s: %w", userID, err)
	}
	out, err := collect(rows, scanDevice)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list devices of %s: %w", userID, err)
	}
	return out, nil
}

func (q *queries) GetUserAndDevices(ctx context.Context, username, userID string) (store.User, []store.Device, error) {
	if q.tx {
		// Two statements, each locking its rows where rows are locked
		// (PostgreSQL cannot lock the nullable side of an outer join).
		var (
			u   store.User
			err error
		)
		if username != "" {
			u, err = q.GetUserByUsername(ctx, username)
		} else {
			u, err = q.GetUser(ctx, userID)
		}
		if err != nil {
			return store.User{}, nil, err
		}
		ds, err := q.ListDevices(ctx, u.ID)
		if err != nil {
			return store.User{}, nil, err
		}
		return u, ds, nil
	}
	query, args := q.d.userAndDevicesByID, []any{userID}
	if username != "" {
		norm, err := normUsername(username)
		if err != nil {
			// No user can have a name that is not valid.
			return store.User{}, nil, fmt.Errorf("sqlstore: get user and devices by username: %w", store.ErrNotFound)
		}
		query, args = q.d.userAndDevicesByName, []any{norm, norm}
	}
	// One statement: the user, once per device (or once with no device).
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return store.User{}, nil, fmt.Errorf("sqlstore: get user and devices: %w", err)
	}
	defer rows.Close()
	var (
		u       store.User
		devices []store.Device
		n       int
	)
	for rows.Next() {
		var (
			status, groups     string
			created, lastLogin int64
			d                  store.Device
			secret             []byte
			dCreated, lastSeen int64
		)
		if err := rows.Scan(&u.ID, &u.Username, &status, &u.FailedAttempts, &u.LockoutReason, &created, &lastLogin,
			&d.ID, &d.Name, &d.Platform, &d.PublicKey, &secret, &d.HOTPCounter, &d.PushToken, &dCreated, &lastSeen,
			&d.Number, &d.Extension, &d.PhoneType, &d.Predelay, &d.Postdelay, &groups); err != nil {
			return store.User{}, nil, fmt.Errorf("sqlstore: get user and devices: %w", err)
		}
		if n == 0 {
			if err := scanUserGroups(&u, groups); err != nil {
				return store.User{}, nil, fmt.Errorf("sqlstore: get user and devices: %w", err)
			}
		}
		n++
		u.Status = store.UserStatus(status)
		u.Created = fromUnix(created)
		u.LastLogin = fromUnix(lastLogin)
		if d.ID == "" {
			continue // the user has no device
		}
		d.UserID = u.ID
		d.HOTPSecretEnc = secret
		d.Created = fromUnix(dCreated)
		d.LastSeen = fromUnix(lastSeen)
		devices = append(devices, d)
	}
	if err := rows.Err(); err != nil {
		return store.User{}, nil, fmt.Errorf("sqlstore: get user and devices: %w", err)
	}
	if n == 0 {
		return store.User{}, nil, fmt.Errorf("sqlstore: get user and devices: %w", store.ErrNotFound)
	}
	return u, devices, nil
}

func (q *queries) UpdateDevice(ctx context.Context, d store.Device) error {
	err := q.changeOne(ctx,
		`UPDATE devices SET name = ?, hotp_counter = ?, push_token = ?, last_seen = ?, number = ?, extension = ?,
		 phone_type = ?, predelay = ?, postdelay = ? WHERE id = ?`,
		d.Name, d.HOTPCounter, d.PushToken, toUnix(d.LastSeen), d.Number, d.Extension, d.PhoneType, d.Predelay, d.Postdelay, d.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update device %s: %w", d.ID, err)
	}
	return nil
}

func (q *queries) DeleteDevice(ctx context.Context, id string) error {
	// The foreign key cascades too; deleting explicitly does not depend on it.
	if _, err := q.exec(ctx, `DELETE FROM transactions WHERE device_id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete device %s: transactions: %w", id, err)
	}
	if _, err := q.exec(ctx, `DELETE FROM sms_passcodes WHERE device_id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete device %s: sms passcodes: %w", id, err)
	}
	if err := q.changeOne(ctx, `DELETE FROM devices WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlstore: delete device %s: %w", id, err)
	}
	return nil
}

// Activations.

const activationCols = `code_hash, user_id, expires, device_id, created, phone_id`

func scanActivation(r scanner) (store.Activation, error) {
	var (
		a                store.Activation
		expires, created int64
	)
	if err := r.Scan(&a.CodeHash, &a.UserID, &expires, &a.DeviceID, &created, &a.PhoneID); err != nil {
		return store.Activation{}, err
	}
	a.Expires = fromUnix(expires)
	a.Created = fromUnix(created)
	return a, nil
}

func (q *queries) CreateActivation(ctx context.Context, a store.Activation) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, a.UserID); err != nil {
		return fmt.Errorf("sqlstore: create activation for %s: user: %w", a.UserID, err)
	}
	err := q.insertOne(ctx,
		`INSERT INTO activations (`+activationCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		blob(a.CodeHash), a.UserID, toUnix(a.Expires), a.DeviceID, toUnix(a.Created), a.PhoneID)
	if err != nil {
		return fmt.Errorf("sqlstore: create activation for %s: %w", a.UserID, err)
	}
	return nil
}

// The code hash is a credential's digest: errors name the user, never it.

func (q *queries) GetActivation(ctx context.Context, codeHash []byte) (store.Activation, error) {
	a, err := scanActivation(q.queryRow(ctx,
		`SELECT `+activationCols+` FROM activations WHERE code_hash = ?`+q.forUpdate(), blob(codeHash)))
	if err != nil {
		return store.Activation{}, fmt.Errorf("sqlstore: get activation: %w", mapErr(err))
	}
	return a, nil
}

func (q *queries) UpdateActivation(ctx context.Context, a store.Activation) error {
	err := q.changeOne(ctx, `UPDATE activations SET device_id = ? WHERE code_hash = ?`, a.DeviceID, blob(a.CodeHash))
	if err != nil {
		return fmt.Errorf("sqlstore: update activation: %w", err)
	}
	return nil
}

func (q *queries) DeleteExpiredActivations(ctx context.Context, now time.Time) (int, error) {
	// Expired like store.BypassCode.Expired: an expiry at or before now (in
	// whole seconds); a zero Expires never expires.
	res, err := q.exec(ctx,
		`DELETE FROM activations WHERE device_id = '' AND expires <> 0 AND expires <= ?`, toUnix(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired activations: %w", err)
	}
	n, err := affected(res)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired activations: %w", err)
	}
	return int(n), nil
}

// Transactions.

// transactionCols are the columns a transaction is read from. user_id and
// device_id are NULL when the transaction has no user or device, so that
// they can be foreign keys; the store reads and writes that as "".
const transactionCols = `id, COALESCE(user_id, ''), COALESCE(device_id, ''), ikey, factor, state, type,
	display_username, push_info, ip, hostname, created, expires, answered, step_up_digits, group_list,
	progress, phone`

func scanTransaction(r scanner) (store.Transaction, error) {
	var (
		t                          store.Transaction
		created, expires, answered int64
		digits                     int64
		groups                     string
	)
	if err := r.Scan(&t.ID, &t.UserID, &t.DeviceID, &t.IKey, &t.Factor, &t.State, &t.Type, &t.DisplayUsername,
		&t.PushInfo, &t.IP, &t.Hostname, &created, &expires, &answered, &digits, &groups, &t.Progress, &t.Phone); err != nil {
		return store.Transaction{}, err
	}
	if groups != "" {
		if err := json.Unmarshal([]byte(groups), &t.Groups); err != nil {
			return store.Transaction{}, fmt.Errorf("transaction %s: groups: %w", t.ID, err)
		}
	}
	t.Created = fromUnix(created)
	t.Expires = fromUnix(expires)
	t.Answered = fromUnix(answered)
	t.StepUpDigits = int(digits)
	return t, nil
}

// nullIfEmpty stores an empty reference as NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateTransaction accepts an empty UserID (an unknown user) and an empty
// DeviceID (no device took part). A non-empty DeviceID must name a device of
// UserID, and a non-empty UserID a user; otherwise it returns
// store.ErrNotFound.
func (q *queries) CreateTransaction(ctx context.Context, t store.Transaction) error {
	switch {
	case t.DeviceID != "":
		if err := q.requireRow(ctx, `SELECT 1 FROM devices WHERE id = ? AND user_id = ?`, t.DeviceID, t.UserID); err != nil {
			return fmt.Errorf("sqlstore: create transaction %s: device %s of user %q: %w", t.ID, t.DeviceID, t.UserID, err)
		}
	case t.UserID != "":
		if err := q.requireRow(ctx, `SELECT 1 FROM users WHERE id = ?`, t.UserID); err != nil {
			return fmt.Errorf("sqlstore: create transaction %s: user %s: %w", t.ID, t.UserID, err)
		}
	}
	groups, err := groupList(t.Groups)
	if err != nil {
		return fmt.Errorf("sqlstore: create transaction %s: %w", t.ID, err)
	}
	err = q.insertOne(ctx,
		`INSERT INTO transactions (id, user_id, device_id, ikey, factor, state, type, display_username, push_info,
		 ip, hostname, created, expires, answered, step_up_digits, group_list, progress, phone)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		t.ID, nullIfEmpty(t.UserID), nullIfEmpty(t.DeviceID), t.IKey, t.Factor, t.State, t.Type, t.DisplayUsername,
		t.PushInfo, t.IP, t.Hostname, toUnix(t.Created), toUnix(t.Expires), toUnix(t.Answered), int64(t.StepUpDigits), groups, t.Progress, t.Phone)
	if err != nil {
		return fmt.Errorf("sqlstore: create transaction %s: %w", t.ID, err)
	}
	return nil
}

func (q *queries) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	t, err := scanTransaction(q.queryRow(ctx,
		`SELECT `+transactionCols+` FROM transactions WHERE id = ?`+q.forUpdate(), id))
	if err != nil {
		return store.Transaction{}, fmt.Errorf("sqlstore: get transaction %s: %w", id, mapErr(err))
	}
	return t, nil
}

func (q *queries) UpdateTransaction(ctx context.Context, t store.Transaction) error {
	err := q.changeOne(ctx, `UPDATE transactions SET state = ?, answered = ?, progress = ? WHERE id = ?`,
		t.State, toUnix(t.Answered), t.Progress, t.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update transaction %s: %w", t.ID, err)
	}
	return nil
}

func (q *queries) ListPendingTransactions(ctx context.Context, deviceID string, now time.Time) ([]store.Transaction, error) {
	rows, err := q.query(ctx,
		`SELECT `+transactionCols+` FROM transactions WHERE device_id = ? AND state = ? AND expires > ?
		 ORDER BY created DESC, id`+q.d.binary+` DESC LIMIT ?`,
		deviceID, store.TxPushed, toUnix(now), store.MaxPendingTransactions)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pending transactions of %s: %w", deviceID, err)
	}
	out, err := collect(rows, scanTransaction)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list pending transactions of %s: %w", deviceID, err)
	}
	slices.Reverse(out) // the newest were selected; oldest first
	return out, nil
}

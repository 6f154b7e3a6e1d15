package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Conformance tests for store.DeviceQueries: devices, activations and push
// transactions.

func deviceID(n int) string { return fmt.Sprintf("DP%018d", n) }
func txID(n int) string     { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func normDevice(d store.Device) store.Device {
	d.Created = sec(d.Created)
	d.LastSeen = sec(d.LastSeen)
	if d.HOTPSecretEnc == nil {
		d.HOTPSecretEnc = []byte{}
	}
	return d
}

func normActivation(a store.Activation) store.Activation {
	a.Expires = sec(a.Expires)
	a.Created = sec(a.Created)
	if a.CodeHash == nil {
		a.CodeHash = []byte{}
	}
	return a
}

func normTx(t store.Transaction) store.Transaction {
	t.Created = sec(t.Created)
	t.Expires = sec(t.Expires)
	t.Answered = sec(t.Answered)
	return t
}

func mkDevice(n int, userID string, created time.Time) store.Device {
	return store.Device{
		ID:            deviceID(n),
		UserID:        userID,
		Name:          fmt.Sprintf("phone %d", n),
		Platform:      "Android",
		PublicKey:     "-----BEGIN PUBLIC KEY-----\nMIIB…\n-----END PUBLIC KEY-----\n",
		HOTPSecretEnc: []byte{byte(n), 0, 0xff},
		Created:       created,
	}
}

func mkTx(n int, userID, deviceID string, created, expires time.Time) store.Transaction {
	return store.Transaction{
		ID:              txID(n),
		UserID:          userID,
		DeviceID:        deviceID,
		IKey:            ikey(1),
		Factor:          "push",
		State:           store.TxPushed,
		Type:            "Login",
		DisplayUsername: "alice",
		PushInfo:        "from=vpn&n=" + fmt.Sprint(n),
		IP:              "192.0.2.7",
		Hostname:        "vpn1",
		Created:         created,
		Expires:         expires,
	}
}

func createDevices(t *testing.T, s store.Store, devices ...store.Device) {
	t.Helper()
	for _, d := range devices {
		must(t, "CreateDevice "+d.ID, s.CreateDevice(t.Context(), d))
	}
}

func createTxs(t *testing.T, s store.Store, txs ...store.Transaction) {
	t.Helper()
	for _, tx := range txs {
		must(t, "CreateTransaction "+tx.ID, s.CreateTransaction(t.Context(), tx))
	}
}

func testDevices(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)

	got, err := s.ListDevices(ctx, alice.ID)
	must(t, "ListDevices on empty store", err)
	if len(got) != 0 {
		t.Fatalf("ListDevices on empty store: %d devices", len(got))
	}

	// Every field set, the counter beyond 32 bits, LastSeen in another zone.
	d1 := store.Device{ID: deviceID(5), UserID: alice.ID, Name: "Pixel 8", Platform: "Android",
		PublicKey:     "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq…\n-----END PUBLIC KEY-----\n",
		HOTPSecretEnc: []byte{0, 1, 2, 0, 0xfe, 0xff}, HOTPCounter: 1<<40 + 7, PushToken: "GCM:token-1",
		Created: at(0), LastSeen: at(3*time.Hour + 250*time.Millisecond).In(time.FixedZone("X", 5*3600))}
	// The same second as d1 with a smaller ID: listed before it.
	d2 := store.Device{ID: deviceID(3), UserID: alice.ID, Name: "assent device", Platform: "Assent CLI",
		PublicKey: "pem", HOTPSecretEnc: nil, Created: at(0).Add(300 * time.Millisecond)}
	d3 := mkDevice(9, alice.ID, at(-time.Hour))
	d4 := mkDevice(1, bob.ID, at(-2*time.Hour))
	createDevices(t, s, d1, d2, d3, d4)

	get := func(t *testing.T, id string) store.Device {
		t.Helper()
		d, err := s.GetDevice(ctx, id)
		must(t, "GetDevice "+id, err)
		return d
	}
	list := func(t *testing.T, userID string) []store.Device {
		t.Helper()
		ds, err := s.ListDevices(ctx, userID)
		must(t, "ListDevices", err)
		return ds
	}

	t.Run("WithUser", func(t *testing.T) {
		carol := mkUser(3, "carol") // no device
		createUsers(t, s, carol)
		for _, tx := range []bool{false, true} {
			read := func(username, id string) (u store.User, ds []store.Device, err error) {
				if !tx {
					return s.GetUserAndDevices(ctx, username, id)
				}
				err = s.InTx(ctx, func(q store.Queries) error {
					var err error
					u, ds, err = q.GetUserAndDevices(ctx, username, id)
					return err
				})
				return u, ds, err
			}
			for _, tc := range []struct {
				name, username, id string
				user               store.User
				devices            []store.Device
			}{
				{"by username", "ALICE", "", alice, []store.Device{d3, d2, d1}},
				{"by ID", "", alice.ID, alice, []store.Device{d3, d2, d1}},
				{"one device", "bob", "", bob, []store.Device{d4}},
				{"no device", "carol", "", carol, nil},
				{"no device, by ID", "", carol.ID, carol, nil},
			} {
				what := fmt.Sprintf("GetUserAndDevices (in a transaction: %v) %s", tx, tc.name)
				u, ds, err := read(tc.username, tc.id)
				must(t, what, err)
				check(t, what+": user", u, tc.user, normUser)
				checkList(t, what+": devices", ds, tc.devices, normDevice)
			}
			_, _, err := read("nobody", "")
			wantErr(t, "GetUserAndDevices of an unknown username", err, store.ErrNotFound)
			_, _, err = read("", userID(99))
			wantErr(t, "GetUserAndDevices of an unknown ID", err, store.ErrNotFound)
			_, _, err = read(" bad", "")
			wantErr(t, "GetUserAndDevices of an invalid username", err, store.ErrNotFound)
		}
	})

	t.Run("Get", func(t *testing.T) {
		for _, want := range []store.Device{d1, d2, d3, d4} {
			check(t, "GetDevice "+want.ID, get(t, want.ID), want, normDevice)
		}
		_, err := s.GetDevice(ctx, deviceID(99))
		wantErr(t, "GetDevice of unknown id", err, store.ErrNotFound)
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup := mkDevice(0, bob.ID, at(0))
		dup.ID = d1.ID
		wantErr(t, "CreateDevice with a taken ID", s.CreateDevice(ctx, dup), store.ErrAlreadyExists)
		check(t, "device after a failed duplicate create", get(t, d1.ID), d1, normDevice)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		err := s.CreateDevice(ctx, mkDevice(50, userID(99), at(0)))
		wantErr(t, "CreateDevice for an unknown user", err, store.ErrNotFound)
		_, err = s.GetDevice(ctx, deviceID(50))
		wantErr(t, "GetDevice of a device of an unknown user", err, store.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		checkList(t, "ListDevices (by Created, then ID)", list(t, alice.ID), []store.Device{d3, d2, d1}, normDevice)
		checkList(t, "ListDevices of another user", list(t, bob.ID), []store.Device{d4}, normDevice)
		checkList(t, "ListDevices of an unknown user", list(t, userID(99)), nil, normDevice)
	})

	t.Run("Update", func(t *testing.T) {
		steps := []struct {
			name   string
			change func(d *store.Device)
		}{
			{"all written fields", func(d *store.Device) {
				d.Name = "Pixel 9"
				d.HOTPCounter = 1<<41 + 1
				d.PushToken = "GCM:token-2"
				d.LastSeen = at(5*time.Hour + 900*time.Millisecond)
			}},
			{"back to zero values", func(d *store.Device) {
				d.Name = ""
				d.HOTPCounter = 0
				d.PushToken = ""
				d.LastSeen = time.Time{}
			}},
			{"counter only", func(d *store.Device) { d.HOTPCounter = 42 }},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				d := get(t, d1.ID)
				st.change(&d)
				must(t, "UpdateDevice", s.UpdateDevice(ctx, d))
				check(t, "device after UpdateDevice", get(t, d1.ID), d, normDevice)
			})
		}

		t.Run("other fields are not written", func(t *testing.T) {
			before := get(t, d1.ID)
			d := before
			d.UserID = bob.ID
			d.Platform = "iOS"
			d.PublicKey = "other"
			d.HOTPSecretEnc = []byte("other")
			d.Created = at(100 * time.Hour)
			d.Name = "renamed"
			must(t, "UpdateDevice", s.UpdateDevice(ctx, d))
			want := before
			want.Name = "renamed"
			check(t, "device after UpdateDevice", get(t, d1.ID), want, normDevice)
			checkList(t, "ListDevices of the other user", list(t, bob.ID), []store.Device{d4}, normDevice)
			d1 = want
		})

		t.Run("unknown device", func(t *testing.T) {
			wantErr(t, "UpdateDevice of unknown id", s.UpdateDevice(ctx, mkDevice(99, alice.ID, at(0))), store.ErrNotFound)
			_, err := s.GetDevice(ctx, deviceID(99))
			wantErr(t, "GetDevice after UpdateDevice of unknown id", err, store.ErrNotFound)
		})
	})

	t.Run("Delete", func(t *testing.T) {
		tx1 := mkTx(1, alice.ID, d1.ID, at(0), at(time.Minute))
		tx2 := mkTx(2, alice.ID, d1.ID, at(0), at(time.Minute))
		tx2.State, tx2.Answered = store.TxAllow, at(time.Second)
		tx3 := mkTx(3, alice.ID, d2.ID, at(0), at(time.Minute))
		createTxs(t, s, tx1, tx2, tx3)

		must(t, "DeleteDevice", s.DeleteDevice(ctx, d1.ID))
		_, err := s.GetDevice(ctx, d1.ID)
		wantErr(t, "GetDevice after delete", err, store.ErrNotFound)
		for _, tx := range []store.Transaction{tx1, tx2} {
			_, err := s.GetTransaction(ctx, tx.ID)
			wantErr(t, "GetTransaction of a deleted device's transaction", err, store.ErrNotFound)
		}
		pending, err := s.ListPendingTransactions(ctx, d1.ID, at(0))
		must(t, "ListPendingTransactions", err)
		checkList(t, "ListPendingTransactions of a deleted device", pending, nil, normTx)
		got, err := s.GetTransaction(ctx, tx3.ID)
		must(t, "GetTransaction of another device's transaction", err)
		check(t, "other device's transaction", got, tx3, normTx)
		checkList(t, "ListDevices after delete", list(t, alice.ID), []store.Device{d3, d2}, normDevice)

		wantErr(t, "DeleteDevice again", s.DeleteDevice(ctx, d1.ID), store.ErrNotFound)
		wantErr(t, "UpdateDevice of a deleted device", s.UpdateDevice(ctx, d1), store.ErrNotFound)
		// The ID is free again, and the new device inherits nothing.
		must(t, "CreateDevice after delete", s.CreateDevice(ctx, d1))
		_, err = s.GetTransaction(ctx, tx1.ID)
		wantErr(t, "GetTransaction after re-creating the device", err, store.ErrNotFound)
	})
}

func testActivations(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	d := mkDevice(1, alice.ID, at(0))
	createDevices(t, s, d)

	now := at(time.Hour)
	expired := store.Activation{CodeHash: []byte{1, 2, 3, 0, 0xff}, UserID: alice.ID,
		Expires: now.Add(-time.Minute), Created: at(0)}
	expiredBob := store.Activation{CodeHash: []byte("bob-expired"), UserID: bob.ID,
		Expires: now.Add(-48 * time.Hour), Created: at(-49 * time.Hour)}
	future := store.Activation{CodeHash: []byte("future"), UserID: alice.ID,
		Expires: now.Add(time.Minute), Created: at(0).In(time.FixedZone("Y", -7*3600))}
	usedExpired := store.Activation{CodeHash: []byte("used"), UserID: alice.ID,
		Expires: now.Add(-time.Hour), DeviceID: d.ID, Created: at(-time.Hour)}
	// A zero Expires never expires, as for bypass codes.
	noExpiry := store.Activation{CodeHash: []byte("forever"), UserID: bob.ID, Created: at(0)}
	all := []store.Activation{expired, expiredBob, future, usedExpired, noExpiry}
	for _, a := range all {
		must(t, "CreateActivation", s.CreateActivation(ctx, a))
	}

	get := func(t *testing.T, hash []byte) store.Activation {
		t.Helper()
		a, err := s.GetActivation(ctx, hash)
		must(t, fmt.Sprintf("GetActivation %q", hash), err)
		return a
	}

	t.Run("Get", func(t *testing.T) {
		for _, want := range all {
			check(t, fmt.Sprintf("GetActivation %q", want.CodeHash), get(t, want.CodeHash), want, normActivation)
		}
		for _, tc := range []struct {
			name string
			hash []byte
		}{
			{"unknown hash", []byte("nope")},
			{"hash prefix", expired.CodeHash[:3]},
			{"empty hash", nil},
		} {
			_, err := s.GetActivation(ctx, tc.hash)
			wantErr(t, "GetActivation with "+tc.name, err, store.ErrNotFound)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup := store.Activation{CodeHash: future.CodeHash, UserID: bob.ID, Expires: at(1000 * time.Hour), Created: at(0)}
		wantErr(t, "CreateActivation with a taken hash", s.CreateActivation(ctx, dup), store.ErrAlreadyExists)
		check(t, "activation after a failed duplicate create", get(t, future.CodeHash), future, normActivation)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		a := store.Activation{CodeHash: []byte("ghost"), UserID: userID(99), Expires: now, Created: at(0)}
		wantErr(t, "CreateActivation for an unknown user", s.CreateActivation(ctx, a), store.ErrNotFound)
		_, err := s.GetActivation(ctx, a.CodeHash)
		wantErr(t, "GetActivation of an activation of an unknown user", err, store.ErrNotFound)
	})

	t.Run("Update", func(t *testing.T) {
		// Only DeviceID is written.
		u := future
		u.DeviceID = d.ID
		u.UserID = bob.ID
		u.Expires = at(1000 * time.Hour)
		u.Created = at(1000 * time.Hour)
		must(t, "UpdateActivation", s.UpdateActivation(ctx, u))
		want := future
		want.DeviceID = d.ID
		check(t, "activation after UpdateActivation", get(t, future.CodeHash), want, normActivation)

		// And back.
		must(t, "UpdateActivation to unused", s.UpdateActivation(ctx, future))
		check(t, "activation after UpdateActivation", get(t, future.CodeHash), future, normActivation)

		unknown := future
		unknown.CodeHash = []byte("unknown")
		wantErr(t, "UpdateActivation of unknown hash", s.UpdateActivation(ctx, unknown), store.ErrNotFound)
		_, err := s.GetActivation(ctx, unknown.CodeHash)
		wantErr(t, "GetActivation after UpdateActivation of unknown hash", err, store.ErrNotFound)
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		n, err := s.DeleteExpiredActivations(ctx, now)
		must(t, "DeleteExpiredActivations", err)
		if n != 2 {
			t.Errorf("DeleteExpiredActivations = %d, want 2 (the unused expired ones)", n)
		}
		for _, a := range []store.Activation{expired, expiredBob} {
			_, err := s.GetActivation(ctx, a.CodeHash)
			wantErr(t, fmt.Sprintf("GetActivation %q after DeleteExpiredActivations", a.CodeHash), err, store.ErrNotFound)
		}
		for _, want := range []store.Activation{future, usedExpired, noExpiry} {
			check(t, "activation kept by DeleteExpiredActivations", get(t, want.CodeHash), want, normActivation)
		}
		n, err = s.DeleteExpiredActivations(ctx, now)
		must(t, "DeleteExpiredActivations again", err)
		if n != 0 {
			t.Errorf("DeleteExpiredActivations again = %d, want 0", n)
		}

		// Later, the future one has expired too; the used one still stays.
		n, err = s.DeleteExpiredActivations(ctx, now.Add(time.Hour))
		must(t, "DeleteExpiredActivations later", err)
		if n != 1 {
			t.Errorf("DeleteExpiredActivations an hour later = %d, want 1", n)
		}
		_, err = s.GetActivation(ctx, future.CodeHash)
		wantErr(t, "GetActivation of an expired activation", err, store.ErrNotFound)
		for _, want := range []store.Activation{usedExpired, noExpiry} {
			check(t, "activation kept by DeleteExpiredActivations", get(t, want.CodeHash), want, normActivation)
		}
	})
}

func testTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	d1, d2 := mkDevice(1, alice.ID, at(0)), mkDevice(2, alice.ID, at(0))
	d3 := mkDevice(3, bob.ID, at(0))
	createDevices(t, s, d1, d2, d3)

	now := at(time.Minute)
	// Pending on d1, oldest first: older, tieLow, tieHigh.
	tieHigh := mkTx(8, alice.ID, d1.ID, now, now.Add(time.Minute))
	tieLow := mkTx(4, alice.ID, d1.ID, now.Add(400*time.Millisecond), now.Add(time.Minute))
	older := mkTx(9, alice.ID, d1.ID, now.Add(-30*time.Second), now.Add(2*time.Second).In(time.FixedZone("Z", 3600)))
	// Not pending.
	answered := mkTx(1, alice.ID, d1.ID, now.Add(-40*time.Second), now.Add(time.Minute))
	answered.State, answered.Answered = store.TxDeny, now.Add(-10*time.Second)
	timedOut := mkTx(2, alice.ID, d1.ID, now.Add(-50*time.Second), now.Add(time.Minute))
	timedOut.State = store.TxTimeout
	expired := mkTx(3, alice.ID, d1.ID, now.Add(-2*time.Minute), now.Add(-time.Minute))
	expiresNow := mkTx(5, alice.ID, d1.ID, now.Add(-time.Minute), now)
	otherDevice := mkTx(6, alice.ID, d2.ID, now.Add(-time.Minute), now.Add(time.Minute))
	bobs := mkTx(7, bob.ID, d3.ID, now.Add(-time.Minute), now.Add(time.Minute))
	bobs.DisplayUsername, bobs.IKey, bobs.PushInfo, bobs.IP, bobs.Hostname, bobs.Type = "Bob", ikey(2), "", "2001:db8::1", "", "Transaction"
	// Decisions recorded for auth_status: without a device, and for an
	// unknown user.
	noDevice := mkTx(10, alice.ID, "", now, now)
	noDevice.Factor, noDevice.State, noDevice.Answered = "passcode", store.TxAllow, now
	noUser := mkTx(11, "", "", now, now)
	noUser.Factor, noUser.State, noUser.Answered, noUser.DisplayUsername = "", store.TxDeny, now, ""
	verified := mkTx(12, bob.ID, d3.ID, now.Add(-time.Minute), now)
	verified.State, verified.Answered, verified.StepUpDigits = store.TxFraud, now, 6
	all := []store.Transaction{tieHigh, tieLow, older, answered, timedOut, expired, expiresNow, otherDevice, bobs,
		noDevice, noUser, verified}
	createTxs(t, s, all...)

	get := func(t *testing.T, id string) store.Transaction {
		t.Helper()
		tx, err := s.GetTransaction(ctx, id)
		must(t, "GetTransaction "+id, err)
		return tx
	}
	pending := func(t *testing.T, deviceID string, now time.Time) []store.Transaction {
		t.Helper()
		txs, err := s.ListPendingTransactions(ctx, deviceID, now)
		must(t, "ListPendingTransactions", err)
		return txs
	}

	t.Run("Get", func(t *testing.T) {
		for _, want := range all {
			check(t, "GetTransaction "+want.ID, get(t, want.ID), want, normTx)
		}
		_, err := s.GetTransaction(ctx, txID(99))
		wantErr(t, "GetTransaction of unknown id", err, store.ErrNotFound)
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup := mkTx(0, bob.ID, d3.ID, now, now.Add(time.Hour))
		dup.ID = older.ID
		wantErr(t, "CreateTransaction with a taken ID", s.CreateTransaction(ctx, dup), store.ErrAlreadyExists)
		check(t, "transaction after a failed duplicate create", get(t, older.ID), older, normTx)
	})

	t.Run("UnknownReferences", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			tx   store.Transaction
		}{
			{"unknown device", mkTx(50, alice.ID, deviceID(99), now, now.Add(time.Minute))},
			{"unknown user", mkTx(51, userID(99), d1.ID, now, now.Add(time.Minute))},
			{"another user's device", mkTx(52, alice.ID, d3.ID, now, now.Add(time.Minute))},
			{"a device but no user", mkTx(53, "", d1.ID, now, now.Add(time.Minute))},
			{"unknown user and no device", mkTx(54, userID(99), "", now, now.Add(time.Minute))},
		} {
			wantErr(t, "CreateTransaction with "+tc.name, s.CreateTransaction(ctx, tc.tx), store.ErrNotFound)
			_, err := s.GetTransaction(ctx, tc.tx.ID)
			wantErr(t, "GetTransaction after CreateTransaction with "+tc.name, err, store.ErrNotFound)
		}
	})

	t.Run("ListPending", func(t *testing.T) {
		checkList(t, "ListPendingTransactions (TxPushed, Expires after now, oldest first)",
			pending(t, d1.ID, now), []store.Transaction{older, tieLow, tieHigh}, normTx)
		checkList(t, "ListPendingTransactions of another device", pending(t, d2.ID, now),
			[]store.Transaction{otherDevice}, normTx)
		checkList(t, "ListPendingTransactions of another user's device", pending(t, d3.ID, now),
			[]store.Transaction{bobs}, normTx)
		checkList(t, "ListPendingTransactions of an unknown device", pending(t, deviceID(99), now), nil, normTx)
		checkList(t, "ListPendingTransactions of no device", pending(t, "", now.Add(-time.Hour)), nil, normTx)
		checkList(t, "ListPendingTransactions a little later", pending(t, d1.ID, now.Add(10*time.Second)),
			[]store.Transaction{tieLow, tieHigh}, normTx)
		checkList(t, "ListPendingTransactions once all expired", pending(t, d1.ID, now.Add(time.Hour)), nil, normTx)
		checkList(t, "ListPendingTransactions earlier", pending(t, d1.ID, now.Add(-90*time.Second)),
			[]store.Transaction{expired, expiresNow, older, tieLow, tieHigh}, normTx)
	})

	t.Run("Update", func(t *testing.T) {
		// Only State and Answered are written.
		u := tieLow
		u.State, u.Answered = store.TxAllow, now.Add(1500*time.Millisecond)
		u.UserID, u.DeviceID, u.IKey, u.Factor, u.Type = bob.ID, d3.ID, ikey(9), "sms", "Other"
		u.DisplayUsername, u.PushInfo, u.IP, u.Hostname = "x", "y=z", "203.0.113.1", "elsewhere"
		u.Created, u.Expires = at(100*time.Hour), at(200*time.Hour)
		must(t, "UpdateTransaction", s.UpdateTransaction(ctx, u))
		want := tieLow
		want.State, want.Answered = store.TxAllow, u.Answered
		check(t, "transaction after UpdateTransaction", get(t, tieLow.ID), want, normTx)
		tieLow = want
		checkList(t, "ListPendingTransactions after an answer", pending(t, d1.ID, now),
			[]store.Transaction{older, tieHigh}, normTx)
		checkList(t, "ListPendingTransactions of the other user's device", pending(t, d3.ID, now),
			[]store.Transaction{bobs}, normTx)

		// Back to pushed, with a zero Answered.
		must(t, "UpdateTransaction back to pushed", s.UpdateTransaction(ctx, mkTx(4, alice.ID, d1.ID, tieLow.Created, tieLow.Expires)))
		want.State, want.Answered = store.TxPushed, time.Time{}
		check(t, "transaction after UpdateTransaction", get(t, tieLow.ID), want, normTx)

		unknown := mkTx(99, alice.ID, d1.ID, now, now.Add(time.Minute))
		wantErr(t, "UpdateTransaction of unknown id", s.UpdateTransaction(ctx, unknown), store.ErrNotFound)
		_, err := s.GetTransaction(ctx, unknown.ID)
		wantErr(t, "GetTransaction after UpdateTransaction of unknown id", err, store.ErrNotFound)
	})

	t.Run("ListPendingBounded", func(t *testing.T) {
		// More pending than a device is shown: the newest, oldest first.
		var all []store.Transaction
		for i := range store.MaxPendingTransactions + 5 {
			tx := mkTx(1000+i, alice.ID, d2.ID, now.Add(time.Duration(i)*time.Second), now.Add(time.Hour))
			must(t, "CreateTransaction", s.CreateTransaction(ctx, tx))
			all = append(all, tx)
		}
		got := pending(t, d2.ID, now.Add(30*time.Minute))
		checkList(t, "ListPendingTransactions of more than MaxPendingTransactions", got,
			all[len(all)-store.MaxPendingTransactions:], normTx)
	})
}

// DeleteUser takes the user's devices, activations and transactions with it,
// and only the user's.
func testDeleteUserDevices(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	ad1, ad2, bd := mkDevice(1, alice.ID, at(0)), mkDevice(2, alice.ID, at(time.Second)), mkDevice(3, bob.ID, at(0))
	createDevices(t, s, ad1, ad2, bd)
	aAct := store.Activation{CodeHash: []byte("a-unused"), UserID: alice.ID, Expires: at(time.Hour), Created: at(0)}
	aUsed := store.Activation{CodeHash: []byte("a-used"), UserID: alice.ID, Expires: at(time.Hour), DeviceID: ad1.ID, Created: at(0)}
	bAct := store.Activation{CodeHash: []byte("b-unused"), UserID: bob.ID, Expires: at(time.Hour), Created: at(0)}
	for _, a := range []store.Activation{aAct, aUsed, bAct} {
		must(t, "CreateActivation", s.CreateActivation(ctx, a))
	}
	aTx1 := mkTx(1, alice.ID, ad1.ID, at(0), at(time.Hour))
	aTx2 := mkTx(2, alice.ID, ad2.ID, at(0), at(time.Hour))
	bTx := mkTx(3, bob.ID, bd.ID, at(0), at(time.Hour))
	aTx3 := mkTx(4, alice.ID, "", at(0), at(0)) // no device
	aTx3.State, aTx3.Answered = store.TxAllow, at(0)
	noUser := mkTx(5, "", "", at(0), at(0))
	noUser.State, noUser.Answered = store.TxDeny, at(0)
	createTxs(t, s, aTx1, aTx2, bTx, aTx3, noUser)

	must(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))

	devices, err := s.ListDevices(ctx, alice.ID)
	must(t, "ListDevices", err)
	checkList(t, "devices of a deleted user", devices, nil, normDevice)
	for _, d := range []store.Device{ad1, ad2} {
		_, err := s.GetDevice(ctx, d.ID)
		wantErr(t, "GetDevice of a deleted user's device", err, store.ErrNotFound)
		wantErr(t, "DeleteDevice of a deleted user's device", s.DeleteDevice(ctx, d.ID), store.ErrNotFound)
	}
	for _, a := range []store.Activation{aAct, aUsed} {
		_, err := s.GetActivation(ctx, a.CodeHash)
		wantErr(t, fmt.Sprintf("GetActivation %q of a deleted user", a.CodeHash), err, store.ErrNotFound)
	}
	for _, tx := range []store.Transaction{aTx1, aTx2, aTx3} {
		_, err := s.GetTransaction(ctx, tx.ID)
		wantErr(t, "GetTransaction of a deleted user", err, store.ErrNotFound)
	}

	devices, err = s.ListDevices(ctx, bob.ID)
	must(t, "ListDevices", err)
	checkList(t, "other user's devices", devices, []store.Device{bd}, normDevice)
	gotAct, err := s.GetActivation(ctx, bAct.CodeHash)
	must(t, "GetActivation of the other user", err)
	check(t, "other user's activation", gotAct, bAct, normActivation)
	for _, want := range []store.Transaction{bTx, noUser} {
		got, err := s.GetTransaction(ctx, want.ID)
		must(t, "GetTransaction of another user", err)
		check(t, "transaction of another user", got, want, normTx)
	}

	// Re-created, the user inherits nothing, and the IDs and hashes are free.
	must(t, "CreateUser after delete", s.CreateUser(ctx, alice))
	devices, err = s.ListDevices(ctx, alice.ID)
	must(t, "ListDevices", err)
	checkList(t, "devices of a re-created user", devices, nil, normDevice)
	createDevices(t, s, ad1)
	must(t, "CreateActivation after delete", s.CreateActivation(ctx, aAct))
	createTxs(t, s, aTx1)
}

// Device writes inside InTx: reads see them, a rollback undoes them, and an
// ErrAlreadyExists or ErrNotFound from a create leaves the transaction usable.
func testDeviceInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	d1 := mkDevice(1, alice.ID, at(0))
	createDevices(t, s, d1)
	act := store.Activation{CodeHash: []byte("code"), UserID: alice.ID, Expires: at(time.Hour), Created: at(0)}
	must(t, "CreateActivation", s.CreateActivation(ctx, act))
	tx1 := mkTx(1, alice.ID, d1.ID, at(0), at(time.Hour))
	createTxs(t, s, tx1)

	// The enrollment flow: use the code, add the device, answer a push.
	d2 := mkDevice(2, alice.ID, at(time.Second))
	tx2 := mkTx(2, alice.ID, d2.ID, at(time.Second), at(time.Hour))
	change := func(q store.Queries) error {
		if err := q.CreateDevice(ctx, d1); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("CreateDevice of a taken ID: %v, want ErrAlreadyExists", err)
		}
		if err := q.CreateDevice(ctx, mkDevice(3, userID(99), at(0))); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("CreateDevice for an unknown user: %v, want ErrNotFound", err)
		}
		if err := q.CreateActivation(ctx, act); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("CreateActivation of a taken hash: %v, want ErrAlreadyExists", err)
		}
		if err := q.CreateTransaction(ctx, mkTx(3, alice.ID, deviceID(99), at(0), at(time.Hour))); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("CreateTransaction on an unknown device: %v, want ErrNotFound", err)
		}
		if _, err := q.GetTransaction(ctx, txID(99)); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("GetTransaction of unknown id: %v, want ErrNotFound", err)
		}
		a, err := q.GetActivation(ctx, act.CodeHash)
		if err != nil {
			return err
		}
		if err := q.CreateDevice(ctx, d2); err != nil {
			return err
		}
		a.DeviceID = d2.ID
		if err := q.UpdateActivation(ctx, a); err != nil {
			return err
		}
		if err := q.CreateTransaction(ctx, tx2); err != nil {
			return err
		}
		if ds, err := q.ListDevices(ctx, alice.ID); err != nil || len(ds) != 2 {
			return fmt.Errorf("ListDevices in InTx: %d devices, %v", len(ds), err)
		}
		if p, err := q.ListPendingTransactions(ctx, d2.ID, at(0)); err != nil || len(p) != 1 {
			return fmt.Errorf("ListPendingTransactions in InTx: %d, %v", len(p), err)
		}
		got, err := q.GetTransaction(ctx, tx1.ID)
		if err != nil {
			return err
		}
		got.State, got.Answered = store.TxAllow, at(time.Minute)
		if err := q.UpdateTransaction(ctx, got); err != nil {
			return err
		}
		dev, err := q.GetDevice(ctx, d1.ID)
		if err != nil {
			return err
		}
		dev.HOTPCounter, dev.LastSeen = 5, at(time.Minute)
		if err := q.UpdateDevice(ctx, dev); err != nil {
			return err
		}
		if _, err := q.DeleteExpiredActivations(ctx, at(2*time.Hour)); err != nil {
			return err
		}
		return nil
	}

	type state struct {
		Devices []store.Device
		Act     store.Activation
		Tx1     store.Transaction
		Tx2Err  bool
	}
	snap := func(t *testing.T) state {
		t.Helper()
		var st state
		ds, err := s.ListDevices(ctx, alice.ID)
		must(t, "ListDevices", err)
		st.Devices = mapSlice(ds, normDevice)
		a, err := s.GetActivation(ctx, act.CodeHash)
		must(t, "GetActivation", err)
		st.Act = normActivation(a)
		tx, err := s.GetTransaction(ctx, tx1.ID)
		must(t, "GetTransaction", err)
		st.Tx1 = normTx(tx)
		_, err = s.GetTransaction(ctx, tx2.ID)
		st.Tx2Err = errors.Is(err, store.ErrNotFound)
		return st
	}

	t.Run("Rollback", func(t *testing.T) {
		before := snap(t)
		err := s.InTx(ctx, func(q store.Queries) error {
			if err := change(q); err != nil {
				return fmt.Errorf("unexpected: %w", err)
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("InTx returned %v, want the error from fn", err)
		}
		if after := snap(t); !reflect.DeepEqual(after, before) {
			t.Errorf("rolled-back transaction left changes:\n before %+v\n after  %+v", before, after)
		}
	})

	t.Run("Commit", func(t *testing.T) {
		must(t, "InTx", s.InTx(ctx, change))
		got := snap(t)
		d1w := d1
		d1w.HOTPCounter, d1w.LastSeen = 5, at(time.Minute)
		checkList(t, "devices after commit", got.Devices, []store.Device{d1w, d2}, normDevice)
		actw := act
		actw.DeviceID = d2.ID
		check(t, "activation after commit (used, so not deleted as expired)", got.Act, actw, normActivation)
		tx1w := tx1
		tx1w.State, tx1w.Answered = store.TxAllow, at(time.Minute)
		check(t, "transaction after commit", got.Tx1, tx1w, normTx)
		if got.Tx2Err {
			t.Error("transaction created in InTx is missing after commit")
		}
	})
}

// raceWindow is how long the concurrency tests wait between a locking read
// and the write that depends on it, so that without the lock the other
// transactions would read the same state in the meantime.
const raceWindow = 10 * time.Millisecond

// raceRounds is how many times the concurrency tests race. The first round
// may barely overlap while a pool opens its connections; later ones do.
const raceRounds = 3

// race runs fn in n concurrent transactions and returns how many of the
// committed ones reported that they won.
func race(t *testing.T, s store.Store, n int, fn func(i int, q store.Queries) (won bool, err error)) int {
	t.Helper()
	var (
		wg      sync.WaitGroup
		winners atomic.Int32
		errMu   sync.Mutex
		errs    []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			won := false
			err := s.InTx(t.Context(), func(q store.Queries) error {
				var err error
				won, err = fn(i, q)
				return err
			})
			if err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
				return
			}
			if won {
				winners.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("InTx: %v", err)
	}
	return int(winners.Load())
}

// Answering one push from concurrent transactions: exactly one of them sees
// it still pushed and answers it.
func testConcurrentTransactionAnswer(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	d := mkDevice(1, alice.ID, at(0))
	createDevices(t, s, d)

	const n = 10
	for round := range raceRounds {
		tx := mkTx(round+1, alice.ID, d.ID, at(0), at(time.Hour))
		createTxs(t, s, tx)
		w := race(t, s, n, func(i int, q store.Queries) (bool, error) {
			got, err := q.GetTransaction(ctx, tx.ID)
			if err != nil || got.State != store.TxPushed {
				return false, err
			}
			time.Sleep(raceWindow)
			got.State, got.Answered = store.TxAllow, at(time.Duration(i+1)*time.Second)
			return true, q.UpdateTransaction(ctx, got)
		})
		if w != 1 {
			t.Errorf("round %d: %d of %d concurrent transactions answered the push, want exactly 1", round, w, n)
		}
		got, err := s.GetTransaction(ctx, tx.ID)
		must(t, "GetTransaction", err)
		if got.State != store.TxAllow || got.Answered.IsZero() {
			t.Errorf("round %d: transaction after the race: State %q, Answered %v", round, got.State, got.Answered)
		}
	}
}

// Using one activation code from concurrent transactions: exactly one device
// gets it.
func testConcurrentActivationUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)

	const n = 10
	for round := range raceRounds {
		act := store.Activation{CodeHash: fmt.Appendf(nil, "code-%d", round), UserID: alice.ID,
			Expires: at(time.Hour), Created: at(0)}
		must(t, "CreateActivation", s.CreateActivation(ctx, act))
		w := race(t, s, n, func(i int, q store.Queries) (bool, error) {
			a, err := q.GetActivation(ctx, act.CodeHash)
			if err != nil || a.DeviceID != "" {
				return false, err
			}
			time.Sleep(raceWindow)
			dev := mkDevice(round*n+i+1, alice.ID, at(time.Duration(round)*time.Minute))
			if err := q.CreateDevice(ctx, dev); err != nil {
				return false, err
			}
			a.DeviceID = dev.ID
			return true, q.UpdateActivation(ctx, a)
		})
		if w != 1 {
			t.Errorf("round %d: %d of %d concurrent transactions used the activation code, want exactly 1", round, w, n)
		}
		devices, err := s.ListDevices(ctx, alice.ID)
		must(t, "ListDevices", err)
		if len(devices) != round+1 {
			t.Fatalf("round %d: %d devices after the race, want %d", round, len(devices), round+1)
		}
		a, err := s.GetActivation(ctx, act.CodeHash)
		must(t, "GetActivation", err)
		if last := devices[len(devices)-1]; a.DeviceID != last.ID {
			t.Errorf("round %d: activation used by %q, but the new device is %s", round, a.DeviceID, last.ID)
		}
	}
}

package storetest

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

func normPending(p store.PendingPhone) store.PendingPhone {
	p.Created = sec(p.Created)
	return p
}

// testPendingPhones covers phones created before activation: their fields
// and user, the IDs they share with devices, what a deleted user leaves,
// the phone an activation code names, and devices paged across users.
func testPendingPhones(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	d1, d2, d3 := mkDevice(1, alice.ID, at(0)), mkDevice(2, bob.ID, at(time.Second)), mkDevice(3, alice.ID, at(2*time.Second))
	createDevices(t, s, d1, d2, d3)

	free := store.PendingPhone{ID: deviceID(10), Name: "desk phone", Type: "Mobile", Platform: "Google Android",
		Number: "+15555550100", Extension: "12", Predelay: "1", Postdelay: "2", Created: at(0)}
	alices := store.PendingPhone{ID: deviceID(11), UserID: alice.ID, Type: "Mobile", Platform: "Apple iOS", Created: at(time.Second)}
	for _, p := range []store.PendingPhone{free, alices} {
		must(t, "CreatePendingPhone "+p.ID, s.CreatePendingPhone(ctx, p))
	}
	wantErr(t, "CreatePendingPhone with a taken ID", s.CreatePendingPhone(ctx, store.PendingPhone{ID: free.ID, Created: at(0)}), store.ErrAlreadyExists)
	wantErr(t, "CreatePendingPhone with a device's ID", s.CreatePendingPhone(ctx, store.PendingPhone{ID: d1.ID, Created: at(0)}), store.ErrAlreadyExists)
	wantErr(t, "CreatePendingPhone for an unknown user", s.CreatePendingPhone(ctx, store.PendingPhone{ID: deviceID(12), UserID: userID(9), Created: at(0)}), store.ErrNotFound)

	got, err := s.GetPendingPhone(ctx, free.ID)
	must(t, "GetPendingPhone", err)
	check(t, "pending phone", got, free, normPending)
	_, err = s.GetPendingPhone(ctx, d1.ID)
	wantErr(t, "GetPendingPhone of a device", err, store.ErrNotFound)

	all, err := s.ListPendingPhones(ctx, "")
	must(t, "ListPendingPhones all", err)
	checkList(t, "every pending phone", all, []store.PendingPhone{free, alices}, normPending)
	mine, err := s.ListPendingPhones(ctx, alice.ID)
	must(t, "ListPendingPhones alice", err)
	checkList(t, "alice's pending phones", mine, []store.PendingPhone{alices}, normPending)

	// Associate, rename, and keep what was not changed.
	free.UserID, free.Name, free.Number = bob.ID, "bob's phone", ""
	must(t, "UpdatePendingPhone", s.UpdatePendingPhone(ctx, free))
	got, err = s.GetPendingPhone(ctx, free.ID)
	must(t, "GetPendingPhone after update", err)
	check(t, "updated pending phone", got, free, normPending)
	wantErr(t, "UpdatePendingPhone of an unknown phone", s.UpdatePendingPhone(ctx, store.PendingPhone{ID: deviceID(19)}), store.ErrNotFound)
	bad := free
	bad.UserID = userID(9)
	wantErr(t, "UpdatePendingPhone to an unknown user", s.UpdatePendingPhone(ctx, bad), store.ErrNotFound)

	// An activation code names the phone it activates.
	act := store.Activation{CodeHash: []byte("phone-code"), UserID: bob.ID, Expires: at(time.Hour), Created: at(0), PhoneID: free.ID}
	must(t, "CreateActivation with a phone", s.CreateActivation(ctx, act))
	gotAct, err := s.GetActivation(ctx, act.CodeHash)
	must(t, "GetActivation with a phone", err)
	check(t, "activation with a phone", gotAct, act, normActivation)

	// A deleted user leaves the phone, without a user.
	must(t, "DeleteUser bob", s.DeleteUser(ctx, bob.ID))
	got, err = s.GetPendingPhone(ctx, free.ID)
	must(t, "GetPendingPhone after its user was deleted", err)
	if got.UserID != "" {
		t.Errorf("pending phone of a deleted user has user %q, want none", got.UserID)
	}
	mine, err = s.ListPendingPhones(ctx, bob.ID)
	must(t, "ListPendingPhones of a deleted user", err)
	checkList(t, "deleted user's pending phones", mine, nil, normPending)

	// Deleted inside a transaction together with the device that takes its
	// ID (what activation does).
	err = s.InTx(ctx, func(q store.Queries) error {
		if _, err := q.GetPendingPhone(ctx, alices.ID); err != nil {
			return err
		}
		if err := q.DeletePendingPhone(ctx, alices.ID); err != nil {
			return err
		}
		return q.CreateDevice(ctx, mkDevice(11, alice.ID, at(3*time.Second)))
	})
	must(t, "activate a pending phone in a transaction", err)
	_, err = s.GetPendingPhone(ctx, alices.ID)
	wantErr(t, "GetPendingPhone after activation", err, store.ErrNotFound)
	if _, err := s.GetDevice(ctx, alices.ID); err != nil {
		t.Errorf("the device with the pending phone's ID: %v", err)
	}
	wantErr(t, "DeletePendingPhone of an unknown phone", s.DeletePendingPhone(ctx, alices.ID), store.ErrNotFound)

	// Devices across users, paged in creation order (bob's went with him).
	page, total, err := s.ListDevicesPage(ctx, 0, 2)
	must(t, "ListDevicesPage", err)
	if total != 3 {
		t.Errorf("ListDevicesPage total %d, want 3", total)
	}
	checkList(t, "first page of devices", page, []store.Device{d1, d3}, normDevice)
	page, _, err = s.ListDevicesPage(ctx, 2, 2)
	must(t, "ListDevicesPage offset 2", err)
	if len(page) != 1 || page[0].ID != deviceID(11) {
		t.Errorf("second page of devices %v, want the activated phone", page)
	}
}

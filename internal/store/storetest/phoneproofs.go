package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// testPhoneProofs covers the portal's pending numbers: one per user (a new
// one replaces it), failures counted, deleted once as a guarded write,
// gone with their user.
func testPhoneProofs(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	norm := func(p store.PhoneProof) store.PhoneProof {
		p.Created, p.Expires = sec(p.Created), sec(p.Expires)
		return p
	}
	p := store.PhoneProof{UserID: alice.ID, Number: "+15555550100", Extension: "12", Name: "desk", Hash: []byte("h1"),
		Created: at(0), Expires: at(10 * time.Minute)}
	wantErr(t, "GetPhoneProof of none", func() error { _, err := s.GetPhoneProof(ctx, alice.ID); return err }(), store.ErrNotFound)
	must(t, "PutPhoneProof", s.PutPhoneProof(ctx, p))
	got, err := s.GetPhoneProof(ctx, alice.ID)
	must(t, "GetPhoneProof", err)
	if !reflect.DeepEqual(norm(got), norm(p)) {
		t.Errorf("GetPhoneProof = %+v, want %+v", got, p)
	}
	must(t, "CountPhoneProofFailure", s.CountPhoneProofFailure(ctx, alice.ID))
	must(t, "CountPhoneProofFailure", s.CountPhoneProofFailure(ctx, alice.ID))
	if got, _ := s.GetPhoneProof(ctx, alice.ID); got.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", got.Attempts)
	}
	// A new proof replaces the old one, attempts and all.
	p2 := p
	p2.Number, p2.Extension, p2.Hash, p2.Created = "+442079460958", "", []byte("h2"), at(time.Minute)
	must(t, "PutPhoneProof again", s.PutPhoneProof(ctx, p2))
	got, _ = s.GetPhoneProof(ctx, alice.ID)
	if !reflect.DeepEqual(norm(got), norm(p2)) {
		t.Errorf("after a new proof: %+v, want %+v", got, p2)
	}
	wantErr(t, "PutPhoneProof of an unknown user", s.PutPhoneProof(ctx, store.PhoneProof{UserID: userID(9), Hash: []byte("x")}), store.ErrNotFound)
	wantErr(t, "CountPhoneProofFailure of none", s.CountPhoneProofFailure(ctx, bob.ID), store.ErrNotFound)
	err = s.InTx(ctx, func(q store.Queries) error {
		if _, err := q.GetPhoneProof(ctx, alice.ID); err != nil {
			return err
		}
		return q.DeletePhoneProof(ctx, alice.ID)
	})
	must(t, "DeletePhoneProof in a transaction", err)
	wantErr(t, "DeletePhoneProof twice", s.DeletePhoneProof(ctx, alice.ID), store.ErrConflict)
	must(t, "PutPhoneProof bob", s.PutPhoneProof(ctx, store.PhoneProof{UserID: bob.ID, Number: "+15555550101", Hash: []byte("h3"),
		Created: at(0), Expires: at(time.Minute)}))
	must(t, "DeleteUser", s.DeleteUser(ctx, bob.ID))
	wantErr(t, "GetPhoneProof of a deleted user", func() error { _, err := s.GetPhoneProof(ctx, bob.ID); return err }(), store.ErrNotFound)
}

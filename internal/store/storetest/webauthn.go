package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// WebAuthn credentials and the last prompt method (store.WebAuthnQueries).

// RunWebAuthnTests runs the WebAuthn conformance tests. They are kept out
// of RunTests' table so the second-factor branches merge without
// conflicts; the implementations' tests call both.
func RunWebAuthnTests(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"WebAuthnCredentials", testWebAuthnCredentials},
		{"WebAuthnSignCount", testWebAuthnSignCount},
		{"ConcurrentWebAuthnUse", testConcurrentWebAuthnUse},
		{"LastMethod", testLastMethod},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func webauthnID(n int) string { return fmt.Sprintf("DW%018d", n) }

func normWebAuthn(c store.WebAuthnCredential) store.WebAuthnCredential {
	c.Created, c.LastUsed = sec(c.Created), sec(c.LastUsed)
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	return c
}

func mkWebAuthn(n int, userID string, created time.Time) store.WebAuthnCredential {
	return store.WebAuthnCredential{
		ID: webauthnID(n), UserID: userID,
		CredentialID:    []byte{0, byte(n), 0xff, 0x80, 'c'},
		PublicKey:       []byte{0xa5, 1, 2, 3, 0x26, byte(n), 0},
		AttestationType: "none",
		AAGUID:          make([]byte, 16),
		SignCount:       uint32(n),
		Transports:      []string{"usb", "nfc"},
		Name:            fmt.Sprintf("Key %d", n),
		BackupEligible:  n%2 == 0,
		Created:         created,
	}
}

func testWebAuthnCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	a1, a2, b1 := mkWebAuthn(1, alice.ID, at(time.Minute)), mkWebAuthn(2, alice.ID, at(0)), mkWebAuthn(3, bob.ID, at(0))
	a2.Transports, a2.AAGUID, a2.SignCount = nil, []byte("0123456789abcdef"), 0
	a2.BackupState, a2.LastUsed = true, at(time.Hour)
	for _, c := range []store.WebAuthnCredential{a1, a2, b1} {
		must(t, "CreateWebAuthnCredential "+c.ID, s.CreateWebAuthnCredential(ctx, c))
	}

	dupID := mkWebAuthn(1, bob.ID, at(0))
	dupID.CredentialID = []byte("other")
	wantErr(t, "CreateWebAuthnCredential with a taken ID", s.CreateWebAuthnCredential(ctx, dupID), store.ErrAlreadyExists)
	dupCred := mkWebAuthn(9, bob.ID, at(0))
	dupCred.CredentialID = a1.CredentialID
	wantErr(t, "CreateWebAuthnCredential with a taken credential ID", s.CreateWebAuthnCredential(ctx, dupCred), store.ErrAlreadyExists)
	wantErr(t, "CreateWebAuthnCredential of an unknown user",
		s.CreateWebAuthnCredential(ctx, mkWebAuthn(10, userID(99), at(0))), store.ErrNotFound)

	got, err := s.GetWebAuthnCredential(ctx, a2.ID)
	must(t, "GetWebAuthnCredential", err)
	check(t, "credential", got, a2, normWebAuthn)
	_, err = s.GetWebAuthnCredential(ctx, webauthnID(42))
	wantErr(t, "GetWebAuthnCredential of an unknown ID", err, store.ErrNotFound)

	list, err := s.ListWebAuthnCredentials(ctx, alice.ID)
	must(t, "ListWebAuthnCredentials", err)
	checkList(t, "alice's credentials (by creation)", list, []store.WebAuthnCredential{a2, a1}, normWebAuthn)
	list, err = s.ListWebAuthnCredentials(ctx, "")
	must(t, "ListWebAuthnCredentials of every user", err)
	checkList(t, "every credential (by creation, then ID)", list, []store.WebAuthnCredential{a2, b1, a1}, normWebAuthn)

	must(t, "RenameWebAuthnCredential", s.RenameWebAuthnCredential(ctx, a1.ID, "YubiKey 5 NFC"))
	a1.Name = "YubiKey 5 NFC"
	got, err = s.GetWebAuthnCredential(ctx, a1.ID)
	must(t, "GetWebAuthnCredential after rename", err)
	check(t, "renamed credential", got, a1, normWebAuthn)
	wantErr(t, "RenameWebAuthnCredential of an unknown ID", s.RenameWebAuthnCredential(ctx, webauthnID(42), "x"), store.ErrNotFound)

	must(t, "DeleteWebAuthnCredential", s.DeleteWebAuthnCredential(ctx, a1.ID))
	wantErr(t, "DeleteWebAuthnCredential again", s.DeleteWebAuthnCredential(ctx, a1.ID), store.ErrNotFound)
	list, err = s.ListWebAuthnCredentials(ctx, alice.ID)
	must(t, "ListWebAuthnCredentials after delete", err)
	checkList(t, "alice's credentials after delete", list, []store.WebAuthnCredential{a2}, normWebAuthn)

	// A user's credentials go with the user; others' stay.
	must(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	_, err = s.GetWebAuthnCredential(ctx, a2.ID)
	wantErr(t, "GetWebAuthnCredential of a deleted user's credential", err, store.ErrNotFound)
	list, err = s.ListWebAuthnCredentials(ctx, bob.ID)
	must(t, "ListWebAuthnCredentials of bob", err)
	checkList(t, "bob's credentials", list, []store.WebAuthnCredential{b1}, normWebAuthn)
	// Its credential ID is free again.
	again := mkWebAuthn(11, bob.ID, at(0))
	again.CredentialID = a2.CredentialID
	must(t, "CreateWebAuthnCredential with a deleted credential's ID", s.CreateWebAuthnCredential(ctx, again))
}

// UseWebAuthnCredential is a guarded write: it changes the counter only
// from the value read.
func testWebAuthnSignCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	c := mkWebAuthn(1, alice.ID, at(0))
	c.SignCount = 5
	must(t, "CreateWebAuthnCredential", s.CreateWebAuthnCredential(ctx, c))

	wantErr(t, "UseWebAuthnCredential from a stale counter", s.UseWebAuthnCredential(ctx, c.ID, 4, 9, false, at(time.Hour)), store.ErrConflict)
	wantErr(t, "UseWebAuthnCredential of an unknown credential", s.UseWebAuthnCredential(ctx, webauthnID(9), 0, 1, false, at(time.Hour)), store.ErrConflict)
	must(t, "UseWebAuthnCredential", s.UseWebAuthnCredential(ctx, c.ID, 5, 9, true, at(time.Hour)))
	c.SignCount, c.BackupState, c.LastUsed = 9, true, at(time.Hour)
	got, err := s.GetWebAuthnCredential(ctx, c.ID)
	must(t, "GetWebAuthnCredential", err)
	check(t, "credential after use", got, c, normWebAuthn)
	wantErr(t, "UseWebAuthnCredential from the old counter again", s.UseWebAuthnCredential(ctx, c.ID, 5, 10, false, at(2*time.Hour)), store.ErrConflict)

	// A counter-less authenticator (0 → 0) is recorded too; LastUsed never
	// moves back.
	z := mkWebAuthn(2, alice.ID, at(0))
	z.SignCount = 0
	must(t, "CreateWebAuthnCredential", s.CreateWebAuthnCredential(ctx, z))
	must(t, "UseWebAuthnCredential 0 → 0", s.UseWebAuthnCredential(ctx, z.ID, 0, 0, false, at(time.Hour)))
	must(t, "UseWebAuthnCredential 0 → 0 earlier", s.UseWebAuthnCredential(ctx, z.ID, 0, 0, false, at(time.Minute)))
	z.LastUsed = at(time.Hour)
	got, err = s.GetWebAuthnCredential(ctx, z.ID)
	must(t, "GetWebAuthnCredential", err)
	check(t, "counter-less credential after use", got, z, normWebAuthn)

	// Inside a transaction, a conflict leaves the transaction to roll back.
	err = s.InTx(ctx, func(q store.Queries) error {
		return q.UseWebAuthnCredential(ctx, c.ID, 1, 2, false, at(3*time.Hour))
	})
	wantErr(t, "UseWebAuthnCredential in InTx from a stale counter", err, store.ErrConflict)
}

// Concurrent logins with assertions read at the same counter: exactly one
// records its counter.
func testConcurrentWebAuthnUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	c := mkWebAuthn(1, alice.ID, at(0))
	must(t, "CreateWebAuthnCredential", s.CreateWebAuthnCredential(ctx, c))
	won := race(t, s, 8, func(i int, q store.Queries) (bool, error) {
		err := q.UseWebAuthnCredential(ctx, c.ID, c.SignCount, c.SignCount+1+uint32(i), false, at(time.Hour))
		if errors.Is(err, store.ErrConflict) {
			return false, nil
		}
		return err == nil, err
	})
	if won != 1 {
		t.Errorf("%d concurrent uses from one counter succeeded, want 1", won)
	}
	got, err := s.GetWebAuthnCredential(ctx, c.ID)
	must(t, "GetWebAuthnCredential", err)
	if got.SignCount <= c.SignCount || got.SignCount > c.SignCount+8 {
		t.Errorf("counter %d after the race, want one winner's", got.SignCount)
	}
}

func testLastMethod(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	_, err := s.GetLastMethod(ctx, alice.ID)
	wantErr(t, "GetLastMethod before any", err, store.ErrNotFound)
	for _, m := range []string{"webauthn", "push", "passcode"} {
		must(t, "SetLastMethod "+m, s.SetLastMethod(ctx, alice.ID, m, at(time.Hour)))
		got, err := s.GetLastMethod(ctx, alice.ID)
		must(t, "GetLastMethod", err)
		if got != m {
			t.Errorf("GetLastMethod = %q, want %q", got, m)
		}
	}
	wantErr(t, "SetLastMethod of an unknown user", s.SetLastMethod(ctx, userID(99), "push", at(0)), store.ErrNotFound)
	must(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	_, err = s.GetLastMethod(ctx, alice.ID)
	wantErr(t, "GetLastMethod of a deleted user", err, store.ErrNotFound)
}

package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Console administrators and their sessions (store.AdminAccountQueries).

// RunAdminAccountTests runs the console administrator conformance tests
// (kept out of RunTests' table, like RunWebPushTests, so branches merge
// without conflicts).
func RunAdminAccountTests(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Admins", func(t *testing.T) { testAdmins(t, open(t)) })
	t.Run("AdminTOTPReplay", func(t *testing.T) { testAdminTOTP(t, open(t)) })
	t.Run("AdminSessions", func(t *testing.T) { testAdminSessions(t, open(t)) })
	t.Run("AdminWebAuthn", func(t *testing.T) { testAdminWebAuthn(t, open(t)) })
	t.Run("ConsoleUsers", func(t *testing.T) { testConsoleUsers(t, open(t)) })
}

// testConsoleUsers: the dashboard's counts and the users page's search.
func testConsoleUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob, carol, dave := mkUser(1, "alice"), mkUser(2, "Bob_1"), mkUser(3, "carol"), mkUser(4, "bob%2")
	carol.Status, dave.Status = store.StatusLockedOut, store.StatusDisabled
	createUsers(t, s, alice, bob, carol, dave)
	must(t, "UpdateUserProfile", s.UpdateUserProfile(ctx, alice.ID, store.UserProfile{Email: "Alice@Example.com"}))
	createDevices(t, s, mkDevice(1, alice.ID, at(0)))
	vpn := store.Group{ID: "DG000000000000000001", Name: "vpn", Status: store.StatusActive, Created: at(0)}
	must(t, "CreateGroup", s.CreateGroup(ctx, vpn))
	must(t, "AddGroupMember", s.AddGroupMember(ctx, vpn.ID, carol.ID))
	must(t, "AddGroupMember", s.AddGroupMember(ctx, vpn.ID, bob.ID))

	c, err := s.ConsoleCounts(ctx, at(0))
	must(t, "ConsoleCounts", err)
	if want := (store.ConsoleCounts{Users: 4, LockedOut: 1, Disabled: 1, NotEnrolled: 3}); c != want {
		t.Errorf("ConsoleCounts = %+v, want %+v", c, want)
	}

	for _, tc := range []struct {
		q    store.ConsoleUserQuery
		want []store.User
		n    int
	}{
		{store.ConsoleUserQuery{Limit: 10}, []store.User{alice, dave, bob, carol}, 4}, // by normalised username: bob%2 < bob_1
		{store.ConsoleUserQuery{Search: "BOB", Limit: 10}, []store.User{dave, bob}, 2},
		{store.ConsoleUserQuery{Search: "b_", Limit: 10}, []store.User{bob}, 1}, // _ is no wildcard
		{store.ConsoleUserQuery{Search: "%", Limit: 10}, []store.User{dave}, 1},
		{store.ConsoleUserQuery{Search: "example.COM", Limit: 10}, []store.User{alice}, 1},
		{store.ConsoleUserQuery{Search: carol.ID, Limit: 10}, []store.User{carol}, 1},
		{store.ConsoleUserQuery{Status: store.StatusLockedOut, Limit: 10}, []store.User{carol}, 1},
		{store.ConsoleUserQuery{Search: "o", Status: store.StatusActive, Limit: 10}, []store.User{alice, bob}, 2},
		{store.ConsoleUserQuery{Offset: 1, Limit: 2}, []store.User{dave, bob}, 4},
		{store.ConsoleUserQuery{NotEnrolled: true, Limit: 10}, []store.User{dave, bob, carol}, 3},
		{store.ConsoleUserQuery{NotEnrolled: true, Search: "bob", Status: store.StatusDisabled, Limit: 10}, []store.User{dave}, 1},
		{store.ConsoleUserQuery{GroupID: vpn.ID, Limit: 10}, []store.User{bob, carol}, 2},
		{store.ConsoleUserQuery{GroupID: vpn.ID, Status: store.StatusLockedOut, Limit: 10}, []store.User{carol}, 1},
		{store.ConsoleUserQuery{GroupID: "DG999999999999999999", Limit: 10}, nil, 0},
	} {
		got, n, err := s.ConsoleUsers(ctx, tc.q)
		must(t, "ConsoleUsers", err)
		if n != tc.n {
			t.Errorf("ConsoleUsers(%+v) total %d, want %d", tc.q, n, tc.n)
		}
		var names, want []string
		for _, u := range got {
			names = append(names, u.Username)
		}
		for _, u := range tc.want {
			want = append(want, u.Username)
		}
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Errorf("ConsoleUsers(%+v) = %v, want %v", tc.q, names, want)
		}
	}
}

func adminID(n int) string { return fmt.Sprintf("DE%018d", n) }

func normAdmin(a store.Admin) store.Admin {
	a.Created, a.LastLogin = sec(a.Created), sec(a.LastLogin)
	return a
}

func normSession(s store.AdminSession) store.AdminSession {
	s.Created, s.LastSeen, s.Reauth = sec(s.Created), sec(s.LastSeen), sec(s.Reauth)
	return s
}

func testAdmins(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner := store.Admin{ID: adminID(1), Email: "zoe@example.com", Role: store.RoleOwner, Created: at(0)}
	help := store.Admin{ID: adminID(2), Email: "amy@example.com", Name: "Amy", Role: store.RoleHelpDesk,
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", TOTPSecretEnc: []byte{1, 2, 3}, Created: at(time.Second)}
	for _, a := range []store.Admin{owner, help} {
		must(t, "CreateAdmin "+a.Email, s.CreateAdmin(ctx, a))
	}
	wantErr(t, "CreateAdmin with a taken e-mail", s.CreateAdmin(ctx, store.Admin{ID: adminID(3), Email: owner.Email, Role: store.RoleReadOnly, Created: at(0)}), store.ErrAlreadyExists)
	wantErr(t, "CreateAdmin with a taken ID", s.CreateAdmin(ctx, store.Admin{ID: owner.ID, Email: "x@example.com", Role: store.RoleReadOnly, Created: at(0)}), store.ErrAlreadyExists)

	got, err := s.GetAdmin(ctx, owner.ID)
	must(t, "GetAdmin", err)
	check(t, "admin", got, owner, normAdmin)
	if !got.Pending() {
		t.Error("an admin without password and TOTP secret is not pending")
	}
	got, err = s.GetAdminByEmail(ctx, help.Email)
	must(t, "GetAdminByEmail", err)
	check(t, "admin by e-mail", got, help, normAdmin)
	if got.Pending() {
		t.Error("an admin with password and TOTP secret is pending")
	}
	_, err = s.GetAdmin(ctx, adminID(9))
	wantErr(t, "GetAdmin of an unknown ID", err, store.ErrNotFound)
	_, err = s.GetAdminByEmail(ctx, "nobody@example.com")
	wantErr(t, "GetAdminByEmail of an unknown e-mail", err, store.ErrNotFound)

	list, err := s.ListAdmins(ctx)
	must(t, "ListAdmins", err)
	checkList(t, "admins by e-mail", list, []store.Admin{help, owner}, normAdmin)

	owner.Name, owner.PasswordHash, owner.TOTPSecretEnc, owner.TOTPLastStep, owner.LastLogin = "Zoe", "$argon2id$x", []byte("sealed"), 7, at(time.Hour)
	must(t, "UpdateAdmin", s.UpdateAdmin(ctx, owner))
	got, err = s.GetAdmin(ctx, owner.ID)
	must(t, "GetAdmin after update", err)
	check(t, "updated admin", got, owner, normAdmin)
	help.Role = store.RoleReadOnly
	must(t, "UpdateAdmin in a transaction", s.InTx(ctx, func(q store.Queries) error { return q.UpdateAdmin(ctx, help) }))
	got, err = s.GetAdmin(ctx, help.ID)
	must(t, "GetAdmin after update in a transaction", err)
	check(t, "admin with a new role", got, help, normAdmin)
	wantErr(t, "UpdateAdmin of an unknown ID", s.UpdateAdmin(ctx, store.Admin{ID: adminID(9), Role: store.RoleOwner}), store.ErrNotFound)

	// A rolled back creation leaves nothing.
	ghost := store.Admin{ID: adminID(4), Email: "ghost@example.com", Role: store.RoleOwner, Created: at(0)}
	_ = s.InTx(ctx, func(q store.Queries) error {
		must(t, "CreateAdmin in a transaction", q.CreateAdmin(ctx, ghost))
		return fmt.Errorf("roll back")
	})
	_, err = s.GetAdmin(ctx, ghost.ID)
	wantErr(t, "GetAdmin of a rolled back admin", err, store.ErrNotFound)

	must(t, "DeleteAdmin", s.DeleteAdmin(ctx, help.ID))
	wantErr(t, "DeleteAdmin again", s.DeleteAdmin(ctx, help.ID), store.ErrNotFound)
	list, err = s.ListAdmins(ctx)
	must(t, "ListAdmins after delete", err)
	checkList(t, "admins after delete", list, []store.Admin{owner}, normAdmin)
}

// testAdminTOTP: a TOTP step is accepted once, and never one at or
// before the last accepted.
func testAdminTOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Admin{ID: adminID(1), Email: "a@example.com", Role: store.RoleOwner, Created: at(0)}
	must(t, "CreateAdmin", s.CreateAdmin(ctx, a))
	must(t, "AdvanceAdminTOTP to 100", s.AdvanceAdminTOTP(ctx, a.ID, 100, at(time.Minute)))
	wantErr(t, "AdvanceAdminTOTP to the same step", s.AdvanceAdminTOTP(ctx, a.ID, 100, at(time.Minute)), store.ErrConflict)
	wantErr(t, "AdvanceAdminTOTP to an earlier step", s.AdvanceAdminTOTP(ctx, a.ID, 99, at(time.Minute)), store.ErrConflict)
	must(t, "AdvanceAdminTOTP to 101", s.AdvanceAdminTOTP(ctx, a.ID, 101, at(2*time.Minute)))
	wantErr(t, "AdvanceAdminTOTP of an unknown admin", s.AdvanceAdminTOTP(ctx, adminID(9), 1, at(0)), store.ErrNotFound)
	got, err := s.GetAdmin(ctx, a.ID)
	must(t, "GetAdmin", err)
	if got.TOTPLastStep != 101 || !got.LastLogin.Equal(sec(at(2*time.Minute))) {
		t.Errorf("after the steps: last step %d, last login %v; want 101, %v", got.TOTPLastStep, got.LastLogin, sec(at(2*time.Minute)))
	}
}

func testAdminSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Admin{ID: adminID(1), Email: "a@example.com", Role: store.RoleOwner, Created: at(0)}
	b := store.Admin{ID: adminID(2), Email: "b@example.com", Role: store.RoleReadOnly, Created: at(0)}
	must(t, "CreateAdmin a", s.CreateAdmin(ctx, a))
	must(t, "CreateAdmin b", s.CreateAdmin(ctx, b))
	s1 := store.AdminSession{Hash: bytes.Repeat([]byte{1}, 32), AdminID: a.ID, Created: at(0), LastSeen: at(0), Reauth: at(0), IP: "192.0.2.1"}
	s2 := store.AdminSession{Hash: bytes.Repeat([]byte{2}, 32), AdminID: a.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	s3 := store.AdminSession{Hash: bytes.Repeat([]byte{3}, 32), AdminID: b.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	for _, x := range []store.AdminSession{s1, s2, s3} {
		must(t, "CreateAdminSession", s.CreateAdminSession(ctx, x))
	}
	wantErr(t, "CreateAdminSession with a taken hash", s.CreateAdminSession(ctx, s1), store.ErrAlreadyExists)
	wantErr(t, "CreateAdminSession of an unknown admin",
		s.CreateAdminSession(ctx, store.AdminSession{Hash: []byte{9}, AdminID: adminID(9), Created: at(0), LastSeen: at(0), Reauth: at(0)}), store.ErrNotFound)

	got, err := s.GetAdminSession(ctx, s1.Hash)
	must(t, "GetAdminSession", err)
	check(t, "session", got, s1, normSession)
	_, err = s.GetAdminSession(ctx, []byte{9})
	wantErr(t, "GetAdminSession of an unknown hash", err, store.ErrNotFound)

	s1.LastSeen, s1.Reauth = at(10*time.Minute), at(5*time.Minute)
	must(t, "TouchAdminSession", s.TouchAdminSession(ctx, s1))
	got, err = s.GetAdminSession(ctx, s1.Hash)
	must(t, "GetAdminSession after touch", err)
	check(t, "touched session", got, s1, normSession)
	wantErr(t, "TouchAdminSession of an unknown hash", s.TouchAdminSession(ctx, store.AdminSession{Hash: []byte{9}}), store.ErrNotFound)

	must(t, "DeleteAdminSession", s.DeleteAdminSession(ctx, s2.Hash))
	wantErr(t, "DeleteAdminSession again", s.DeleteAdminSession(ctx, s2.Hash), store.ErrNotFound)

	// Purge: s1 was created before the cut-off.
	n, err := s.PurgeAdminSessions(ctx, at(time.Minute), at(0), 10)
	must(t, "PurgeAdminSessions", err)
	if n != 1 {
		t.Errorf("PurgeAdminSessions deleted %d sessions, want 1", n)
	}
	_, err = s.GetAdminSession(ctx, s1.Hash)
	wantErr(t, "GetAdminSession of a purged session", err, store.ErrNotFound)
	// Idle: s3 was last seen before the cut-off.
	n, err = s.PurgeAdminSessions(ctx, at(0), at(2*time.Hour), 10)
	must(t, "PurgeAdminSessions idle", err)
	if n != 1 {
		t.Errorf("PurgeAdminSessions of idle sessions deleted %d, want 1", n)
	}

	// Every session of one administrator ends at once.
	s5 := store.AdminSession{Hash: bytes.Repeat([]byte{5}, 32), AdminID: a.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	s6 := store.AdminSession{Hash: bytes.Repeat([]byte{6}, 32), AdminID: a.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	must(t, "CreateAdminSession s5", s.CreateAdminSession(ctx, s5))
	must(t, "CreateAdminSession s6", s.CreateAdminSession(ctx, s6))
	n, err = s.DeleteAdminSessionsOf(ctx, a.ID)
	must(t, "DeleteAdminSessionsOf", err)
	if n != 2 {
		t.Errorf("DeleteAdminSessionsOf deleted %d sessions, want 2", n)
	}
	_, err = s.GetAdminSession(ctx, s5.Hash)
	wantErr(t, "GetAdminSession after DeleteAdminSessionsOf", err, store.ErrNotFound)

	// An administrator's sessions go with it.
	s4 := store.AdminSession{Hash: bytes.Repeat([]byte{4}, 32), AdminID: b.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	must(t, "CreateAdminSession s4", s.CreateAdminSession(ctx, s4))
	must(t, "DeleteAdmin", s.DeleteAdmin(ctx, b.ID))
	_, err = s.GetAdminSession(ctx, s4.Hash)
	wantErr(t, "GetAdminSession of a deleted admin's session", err, store.ErrNotFound)
}

// testAdminWebAuthn: administrators' security keys, the count GetAdmin
// reports, the guarded counter, and deletion with the administrator.
func testAdminWebAuthn(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Admin{ID: adminID(1), Email: "a@example.com", Role: store.RoleOwner, PasswordHash: "$argon2id$x", Created: at(0)}
	b := store.Admin{ID: adminID(2), Email: "b@example.com", Role: store.RoleReadOnly, Created: at(0)}
	must(t, "CreateAdmin a", s.CreateAdmin(ctx, a))
	must(t, "CreateAdmin b", s.CreateAdmin(ctx, b))
	k1 := store.WebAuthnCredential{ID: "DW" + strings.Repeat("A", 18), UserID: a.ID, CredentialID: []byte{1, 2, 3}, PublicKey: []byte{0xa5, 1},
		AttestationType: "none", AAGUID: make([]byte, 16), SignCount: 5, Transports: []string{"usb", "nfc"}, Name: "YubiKey",
		BackupEligible: true, Created: at(time.Minute)}
	k2 := store.WebAuthnCredential{ID: "DW" + strings.Repeat("B", 18), UserID: a.ID, CredentialID: []byte{4}, PublicKey: []byte{0xa5, 2},
		AAGUID: make([]byte, 16), Name: "Passkey", Created: at(0)}
	must(t, "CreateAdminWebAuthn k1", s.CreateAdminWebAuthn(ctx, k1))
	must(t, "CreateAdminWebAuthn k2", s.CreateAdminWebAuthn(ctx, k2))
	dup := k1
	dup.ID = "DW" + strings.Repeat("C", 18)
	wantErr(t, "CreateAdminWebAuthn with a taken credential ID", s.CreateAdminWebAuthn(ctx, dup), store.ErrAlreadyExists)
	dup = k2
	dup.UserID = adminID(9)
	dup.ID, dup.CredentialID = "DW"+strings.Repeat("D", 18), []byte{9}
	wantErr(t, "CreateAdminWebAuthn of an unknown admin", s.CreateAdminWebAuthn(ctx, dup), store.ErrNotFound)

	list, err := s.ListAdminWebAuthn(ctx, a.ID)
	must(t, "ListAdminWebAuthn", err)
	checkList(t, "a's keys (by creation)", list, []store.WebAuthnCredential{k2, k1}, normWebAuthn)
	list, err = s.ListAdminWebAuthn(ctx, b.ID)
	must(t, "ListAdminWebAuthn of b", err)
	if len(list) != 0 {
		t.Errorf("b has %d keys, want 0", len(list))
	}
	got, err := s.GetAdmin(ctx, a.ID)
	must(t, "GetAdmin", err)
	if got.Keys != 2 || got.Pending() || got.HasTOTP() {
		t.Errorf("admin with a password and 2 keys: Keys %d, pending %v, TOTP %v", got.Keys, got.Pending(), got.HasTOTP())
	}
	must(t, "GetAdmin in a transaction", s.InTx(ctx, func(q store.Queries) error {
		got, err := q.GetAdminByEmail(ctx, a.Email)
		if err == nil && got.Keys != 2 {
			t.Errorf("GetAdminByEmail in a transaction: Keys %d, want 2", got.Keys)
		}
		return err
	}))
	admins, err := s.ListAdmins(ctx)
	must(t, "ListAdmins", err)
	if len(admins) != 2 || admins[0].Keys != 2 || admins[1].Keys != 0 {
		t.Errorf("ListAdmins keys: %+v", admins)
	}

	must(t, "UseAdminWebAuthn 5 → 6", s.UseAdminWebAuthn(ctx, k1.ID, 5, 6, true, at(time.Hour)))
	wantErr(t, "UseAdminWebAuthn from a stale counter", s.UseAdminWebAuthn(ctx, k1.ID, 5, 7, true, at(time.Hour)), store.ErrConflict)
	wantErr(t, "UseAdminWebAuthn of an unknown key", s.UseAdminWebAuthn(ctx, "DW"+strings.Repeat("Z", 18), 0, 1, false, at(0)), store.ErrConflict)
	list, err = s.ListAdminWebAuthn(ctx, a.ID)
	must(t, "ListAdminWebAuthn after use", err)
	k1.SignCount, k1.BackupState, k1.LastUsed = 6, true, at(time.Hour)
	checkList(t, "a's keys after use", list, []store.WebAuthnCredential{k2, k1}, normWebAuthn)

	must(t, "DeleteAdminWebAuthn", s.DeleteAdminWebAuthn(ctx, k2.ID))
	wantErr(t, "DeleteAdminWebAuthn again", s.DeleteAdminWebAuthn(ctx, k2.ID), store.ErrNotFound)
	n, err := s.DeleteAdminWebAuthnOf(ctx, a.ID)
	must(t, "DeleteAdminWebAuthnOf", err)
	if n != 1 {
		t.Errorf("DeleteAdminWebAuthnOf deleted %d, want 1", n)
	}
	got, err = s.GetAdmin(ctx, a.ID)
	must(t, "GetAdmin after deleting the keys", err)
	if got.Keys != 0 || !got.Pending() {
		t.Errorf("admin without keys or TOTP: Keys %d, pending %v", got.Keys, got.Pending())
	}
	must(t, "CreateAdminWebAuthn again", s.CreateAdminWebAuthn(ctx, k2))
	must(t, "DeleteAdmin", s.DeleteAdmin(ctx, a.ID))
	list, err = s.ListAdminWebAuthn(ctx, a.ID)
	must(t, "ListAdminWebAuthn after DeleteAdmin", err)
	if len(list) != 0 {
		t.Errorf("a deleted admin still has %d keys", len(list))
	}
}

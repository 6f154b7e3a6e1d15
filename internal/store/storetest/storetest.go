// Package storetest is the conformance suite every store.Store
// implementation must pass. Run it from the implementation's tests:
//
//	func TestSQLite(t *testing.T) {
//		storetest.RunTests(t, func(t *testing.T) store.Store { … })
//	}
//
// Times are compared at second precision; stores may drop sub-second parts.
package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// RunTests runs every conformance test, each in its own subtest. open must
// return a new, empty store for each call and arrange (with t.Cleanup) for it
// to be closed when t ends.
func RunTests(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"Integrations", testIntegrations},
		{"UpdateIntegration", testUpdateIntegration},
		{"IntegrationsVersion", testIntegrationsVersion},
		{"Users", testUsers},
		{"UpdateUser", testUpdateUser},
		{"UsernameComparison", testUsernameComparison},
		{"DeleteUser", testDeleteUser},
		{"BypassCodes", testBypassCodes},
		{"AuthLog", testAuthLog},
		{"Settings", testSettings},
		{"InTxCommit", testInTxCommit},
		{"InTxRollback", testInTxRollback},
		{"InTxPanic", testInTxPanic},
		{"InTxCanceledContext", testInTxCanceledContext},
		{"InTxAlreadyExistsKeepsTxUsable", testInTxAlreadyExists},
		{"ConcurrentUserUpdates", testConcurrentUserUpdates},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Devices", testDevices},
		{"Activations", testActivations},
		{"Transactions", testTransactions},
		{"DeleteUserDevices", testDeleteUserDevices},
		{"DeviceInTx", testDeviceInTx},
		{"ConcurrentTransactionAnswer", testConcurrentTransactionAnswer},
		{"ConcurrentActivationUse", testConcurrentActivationUse},
		{"Onetime", testOnetime},
		{"OnetimeInTx", testOnetimeInTx},
		{"ConcurrentOnetimeTake", testConcurrentOnetimeTake},
		{"Purge", testPurge},
		{"GuardedWrites", testGuardedWrites},
		{"ConcurrentGuardedWrites", testConcurrentGuardedWrites},
		{"ConcurrentDeviceUpdates", testConcurrentDeviceUpdates},
		{"Tokens", testTokens},
		{"AdvanceTokenCounter", testAdvanceTokenCounter},
		{"UsersPage", testUsersPage},
		{"IntegrationAdmin", testIntegrationAdmin},
		{"AdminLog", testAdminLog},
		{"LogClock", testLogClock},
		{"LogClockConcurrent", testLogClockConcurrent},
		{"QueryAuthLog", testQueryAuthLog},
		{"AuthLogGroups", testAuthLogGroups},
		{"AuthLogFields", testAuthLogFields},
		{"QueryAdminLog", testQueryAdminLog},
		{"QueryAdminLogConcurrent", testQueryAdminLogConcurrent},
		{"Groups", testGroups},
		{"PendingPhones", testPendingPhones},
		{"Directories", testDirectories},
		{"UserAliases", testUserAliases},
		{"Policies", testPolicies},
		{"AutoUnlock", testAutoUnlock},
		{"Telephony", testTelephony},
		{"PhoneProofs", testPhoneProofs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// base has a sub-second part on purpose: stores keep whole seconds.
var base = time.Date(2025, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// sec normalizes a time the way stores keep it: whole seconds, UTC; zero
// stays zero.
func sec(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Second).UTC()
}

func ikey(n int) string   { return fmt.Sprintf("DI%018d", n) }
func userID(n int) string { return fmt.Sprintf("DU%018d", n) }
func codeID(n int) string { return fmt.Sprintf("DB%018d", n) }

func normIntegration(in store.Integration) store.Integration {
	in.Created = sec(in.Created)
	if in.SecretEnc == nil {
		in.SecretEnc = []byte{}
	}
	if len(in.AllowedOrigins) == 0 {
		in.AllowedOrigins = nil
	}
	in.UsernameNormalization = cmp.Or(in.UsernameNormalization, "none") // "" reads as "none"
	return in
}

func normUser(u store.User) store.User {
	u.Groups, u.GroupsRead = nil, false // checked by testGroups
	u.Created = sec(u.Created)
	u.LastLogin = sec(u.LastLogin)
	return u
}

func normCode(c store.BypassCode) store.BypassCode {
	c.Expires = sec(c.Expires)
	c.Created = sec(c.Created)
	if c.Hash == nil {
		c.Hash = []byte{}
	}
	return c
}

func normLog(l store.AuthLog) store.AuthLog {
	l.Time = sec(l.Time)
	return l
}

func mapSlice[T any](in []T, f func(T) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// check fails t unless got and want are deeply equal after norm.
func check[T any](t *testing.T, what string, got, want T, norm func(T) T) {
	t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func checkList[T any](t *testing.T, what string, got, want []T, norm func(T) T) {
	t.Helper()
	g, w := mapSlice(got, norm), mapSlice(want, norm)
	if len(g) == 0 && len(w) == 0 {
		return // nil and empty are the same list
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mkUser(n int, username string) store.User {
	return store.User{ID: userID(n), Username: username, Status: store.StatusActive, Created: at(time.Duration(n) * time.Minute)}
}

func createUsers(t *testing.T, s store.Store, users ...store.User) {
	t.Helper()
	for _, u := range users {
		must(t, "CreateUser "+u.Username, s.CreateUser(t.Context(), u))
	}
}

func testUpdateIntegration(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Integration{IKey: ikey(1), Name: "Portal", Type: store.TypeWebSDK,
		SecretEnc: []byte{0, 1, 2, 0xfe, 0xff}, NewUserPolicy: store.PolicyEnroll, Created: at(0),
		AllowedOrigins: []string{"https://old.example"}}
	b := store.Integration{IKey: ikey(2), Name: "VPN", Type: store.TypeAuthAPI,
		SecretEnc: []byte("sealed"), NewUserPolicy: store.PolicyAllow, Created: at(time.Second)}
	for _, in := range []store.Integration{a, b} {
		must(t, "CreateIntegration "+in.IKey, s.CreateIntegration(ctx, in))
	}

	// Name, policy, origins and the legacy flag change; type, secret and
	// creation time do not, even when the argument carries other values.
	want := a
	want.Name = "Customer portal"
	want.NewUserPolicy = store.PolicyDeny
	want.AllowedOrigins = []string{"https://app.example", "http://localhost:8080"}
	want.LegacySignatures = true
	want.VerifiedPush = 3
	arg := want
	arg.Type = store.TypeAdminAPI
	arg.SecretEnc = []byte("other")
	arg.Created = at(time.Hour)
	must(t, "UpdateIntegration", s.UpdateIntegration(ctx, arg))
	got, err := s.GetIntegration(ctx, a.IKey)
	must(t, "GetIntegration", err)
	check(t, "integration after update", got, want, normIntegration)

	// Writing the same values again is not "not found".
	must(t, "UpdateIntegration with unchanged values", s.UpdateIntegration(ctx, want))

	// Clearing the origins and the legacy flag.
	want.AllowedOrigins = nil
	want.LegacySignatures = false
	want.VerifiedPush = 0
	must(t, "UpdateIntegration clearing origins and legacy flag", s.UpdateIntegration(ctx, want))
	got, err = s.GetIntegration(ctx, a.IKey)
	must(t, "GetIntegration", err)
	check(t, "integration after clearing origins and legacy flag", got, want, normIntegration)

	// Other integrations are untouched.
	got, err = s.GetIntegration(ctx, b.IKey)
	must(t, "GetIntegration", err)
	check(t, "other integration after update", got, b, normIntegration)

	missing := want
	missing.IKey = ikey(99)
	wantErr(t, "UpdateIntegration of unknown ikey", s.UpdateIntegration(ctx, missing), store.ErrNotFound)
	_, err = s.GetIntegration(ctx, ikey(99))
	wantErr(t, "GetIntegration after update of unknown ikey", err, store.ErrNotFound)

	// Inside a transaction too.
	want.Name = "In tx"
	must(t, "InTx UpdateIntegration", s.InTx(ctx, func(q store.Queries) error { return q.UpdateIntegration(ctx, want) }))
	got, err = s.GetIntegration(ctx, a.IKey)
	must(t, "GetIntegration", err)
	check(t, "integration after update in a transaction", got, want, normIntegration)
}

// testIntegrationsVersion: every change of an integration, committed,
// moves IntegrationsVersion (so that a copy read before it is never taken
// as current), inside or outside a transaction; a rolled-back change and
// changes of other records do not need to, and reads never do.
func testIntegrationsVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	version := func() int64 {
		t.Helper()
		n, err := s.IntegrationsVersion(ctx)
		must(t, "IntegrationsVersion", err)
		return n
	}
	a := store.Integration{IKey: ikey(1), Name: "VPN", Type: store.TypeAuthAPI,
		SecretEnc: []byte("sealed"), NewUserPolicy: store.PolicyEnroll, Created: at(0)}
	policy := a
	policy.NewUserPolicy = store.PolicyDeny
	renamed := policy
	renamed.Name = "Renamed in a transaction"
	errRollback := errors.New("roll back")
	for _, step := range []struct {
		name    string
		change  func() error
		changed bool
	}{
		{"GetIntegration of a missing ikey", func() error { _, err := s.GetIntegration(ctx, a.IKey); return ignore(err, store.ErrNotFound) }, false},
		{"CreateIntegration", func() error { return s.CreateIntegration(ctx, a) }, true},
		{"GetIntegration", func() error { _, err := s.GetIntegration(ctx, a.IKey); return err }, false},
		{"ListIntegrations", func() error { _, err := s.ListIntegrations(ctx); return err }, false},
		{"CreateUser", func() error {
			return s.CreateUser(ctx, store.User{ID: userID(1), Username: "alice", Status: store.StatusActive, Created: at(0)})
		}, false},
		{"UpdateIntegration", func() error { return s.UpdateIntegration(ctx, policy) }, true},
		{"UpdateIntegration with unchanged values", func() error { return s.UpdateIntegration(ctx, policy) }, true},
		{"UpdateIntegration in a transaction", func() error {
			return s.InTx(ctx, func(q store.Queries) error { return q.UpdateIntegration(ctx, renamed) })
		}, true},
		{"UpdateIntegration rolled back", func() error {
			err := s.InTx(ctx, func(q store.Queries) error {
				if err := q.UpdateIntegration(ctx, a); err != nil {
					return err
				}
				return errRollback
			})
			return ignore(err, errRollback)
		}, false},
		{"DeleteIntegration", func() error { return s.DeleteIntegration(ctx, a.IKey) }, true},
		{"CreateIntegration again", func() error { return s.CreateIntegration(ctx, a) }, true},
		{"DeleteIntegration in a transaction", func() error {
			return s.InTx(ctx, func(q store.Queries) error { return q.DeleteIntegration(ctx, a.IKey) })
		}, true},
	} {
		before := version()
		must(t, step.name, step.change())
		after := version()
		switch {
		case step.changed && after <= before:
			t.Errorf("%s: IntegrationsVersion %d → %d, want it to grow", step.name, before, after)
		case !step.changed && after != before:
			t.Errorf("%s: IntegrationsVersion %d → %d, want it unchanged", step.name, before, after)
		}
	}
	// Read in a transaction, it sees the transaction's own change.
	must(t, "InTx", s.InTx(ctx, func(q store.Queries) error {
		before, err := q.IntegrationsVersion(ctx)
		if err != nil {
			return err
		}
		if err := q.CreateIntegration(ctx, a); err != nil {
			return err
		}
		after, err := q.IntegrationsVersion(ctx)
		if err != nil {
			return err
		}
		if after <= before {
			t.Errorf("IntegrationsVersion in a transaction: %d → %d after CreateIntegration, want it to grow", before, after)
		}
		return nil
	}))
}

// ignore returns nil for an error that is target, err otherwise.
func ignore(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}

func testPing(t *testing.T, s store.Store) {
	must(t, "Ping", s.Ping(t.Context()))
}

func testIntegrations(t *testing.T, s store.Store) {
	ctx := t.Context()

	got, err := s.ListIntegrations(ctx)
	must(t, "ListIntegrations on empty store", err)
	if len(got) != 0 {
		t.Fatalf("ListIntegrations on empty store: %d integrations", len(got))
	}

	// Created ties are broken by IKey, so b (ikey 1) comes before a (ikey 2).
	a := store.Integration{IKey: ikey(2), Name: "VPN", Type: store.TypeAuthAPI,
		SecretEnc: []byte{0, 1, 2, 0xfe, 0xff}, NewUserPolicy: store.PolicyEnroll, Created: at(0)}
	b := store.Integration{IKey: ikey(1), Name: "Admin", Type: store.TypeAdminAPI,
		SecretEnc: []byte("sealed"), NewUserPolicy: store.PolicyDeny, Created: at(0).Add(200 * time.Millisecond)}
	c := store.Integration{IKey: ikey(3), Name: "Wiki", Type: store.TypeUniversal,
		SecretEnc: []byte{0}, NewUserPolicy: store.PolicyAllow, Created: at(-time.Hour).In(time.FixedZone("X", 5*3600)),
		AllowedOrigins: []string{"https://app.example", "http://localhost:8080"}}
	// An integration that may sign with the undated signature version 1.
	d := store.Integration{IKey: ikey(4), Name: "Old pam_duo", Type: store.TypeAuthAPI,
		SecretEnc: []byte("sealed too"), NewUserPolicy: store.PolicyEnroll, Created: at(time.Hour), LegacySignatures: true,
		VerifiedPush: 6}
	for _, in := range []store.Integration{a, b, c, d} {
		must(t, "CreateIntegration "+in.IKey, s.CreateIntegration(ctx, in))
	}

	t.Run("Get", func(t *testing.T) {
		for _, want := range []store.Integration{a, b, c, d} {
			got, err := s.GetIntegration(ctx, want.IKey)
			must(t, "GetIntegration", err)
			check(t, "GetIntegration "+want.IKey, got, want, normIntegration)
		}
		_, err := s.GetIntegration(ctx, ikey(99))
		wantErr(t, "GetIntegration of unknown ikey", err, store.ErrNotFound)
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup := a
		dup.Name = "other"
		wantErr(t, "CreateIntegration with a taken ikey", s.CreateIntegration(ctx, dup), store.ErrAlreadyExists)
		got, err := s.GetIntegration(ctx, a.IKey)
		must(t, "GetIntegration", err)
		check(t, "integration after a failed duplicate create", got, a, normIntegration)
	})

	t.Run("List", func(t *testing.T) {
		got, err := s.ListIntegrations(ctx)
		must(t, "ListIntegrations", err)
		checkList(t, "ListIntegrations (by Created, then IKey)", got, []store.Integration{c, b, a, d}, normIntegration)
	})

	t.Run("Delete", func(t *testing.T) {
		must(t, "DeleteIntegration", s.DeleteIntegration(ctx, b.IKey))
		_, err := s.GetIntegration(ctx, b.IKey)
		wantErr(t, "GetIntegration after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteIntegration again", s.DeleteIntegration(ctx, b.IKey), store.ErrNotFound)
		got, err := s.ListIntegrations(ctx)
		must(t, "ListIntegrations", err)
		checkList(t, "ListIntegrations after delete", got, []store.Integration{c, a, d}, normIntegration)
		// The ikey is free again.
		must(t, "CreateIntegration after delete", s.CreateIntegration(ctx, b))
	})
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()

	got, err := s.ListUsers(ctx)
	must(t, "ListUsers on empty store", err)
	if len(got) != 0 {
		t.Fatalf("ListUsers on empty store: %d users", len(got))
	}

	alice := store.User{ID: userID(1), Username: "Alice", Status: store.StatusActive, Created: at(0)}
	bob := store.User{ID: userID(2), Username: "bob", Status: store.StatusBypass, FailedAttempts: 2,
		Created: at(time.Hour), LastLogin: at(2 * time.Hour)}
	carol := store.User{ID: userID(3), Username: "CAROL", Status: store.StatusLockedOut, FailedAttempts: 10,
		LockoutReason: "too many failed attempts", Created: at(-time.Hour)}
	aaron := store.User{ID: userID(4), Username: "aaron", Status: store.StatusDisabled, Created: at(0)}
	createUsers(t, s, alice, bob, carol, aaron)

	t.Run("Get", func(t *testing.T) {
		for _, want := range []store.User{alice, bob, carol, aaron} {
			got, err := s.GetUser(ctx, want.ID)
			must(t, "GetUser", err)
			check(t, "GetUser "+want.ID, got, want, normUser)
		}
		_, err := s.GetUser(ctx, userID(99))
		wantErr(t, "GetUser of unknown id", err, store.ErrNotFound)
	})

	t.Run("GetByUsernameIgnoresCase", func(t *testing.T) {
		for _, tc := range []struct {
			username string
			want     store.User
		}{
			{"Alice", alice}, {"alice", alice}, {"ALICE", alice}, {"aLiCe", alice},
			{"bob", bob}, {"Bob", bob},
			{"carol", carol}, {"CAROL", carol},
		} {
			got, err := s.GetUserByUsername(ctx, tc.username)
			if err != nil {
				t.Errorf("GetUserByUsername(%q): %v", tc.username, err)
				continue
			}
			check(t, fmt.Sprintf("GetUserByUsername(%q)", tc.username), got, tc.want, normUser)
		}
		for _, name := range []string{"", "alic", "alice ", "nobody"} {
			_, err := s.GetUserByUsername(ctx, name)
			wantErr(t, fmt.Sprintf("GetUserByUsername(%q)", name), err, store.ErrNotFound)
		}
	})

	t.Run("Duplicates", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			u    store.User
		}{
			{"same id", store.User{ID: alice.ID, Username: "someone-else", Status: store.StatusActive}},
			{"same username", store.User{ID: userID(50), Username: "Alice", Status: store.StatusActive}},
			{"same username, other case", store.User{ID: userID(51), Username: "ALICE", Status: store.StatusActive}},
			{"same username, lower case", store.User{ID: userID(52), Username: "carol", Status: store.StatusActive}},
		} {
			wantErr(t, "CreateUser with "+tc.name, s.CreateUser(ctx, tc.u), store.ErrAlreadyExists)
		}
		got, err := s.GetUser(ctx, alice.ID)
		must(t, "GetUser", err)
		check(t, "user after failed duplicate creates", got, alice, normUser)
	})

	t.Run("ListOrderedByUsernameIgnoringCase", func(t *testing.T) {
		got, err := s.ListUsers(ctx)
		must(t, "ListUsers", err)
		checkList(t, "ListUsers", got, []store.User{aaron, alice, bob, carol}, normUser)
	})
}

func testUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	bob := mkUser(2, "bob")
	createUsers(t, s, alice, bob)

	get := func(t *testing.T, id string) store.User {
		t.Helper()
		u, err := s.GetUser(ctx, id)
		must(t, "GetUser", err)
		return u
	}

	tests := []struct {
		name   string
		change func(u *store.User)
	}{
		{"status and attempts", func(u *store.User) {
			u.Status = store.StatusLockedOut
			u.FailedAttempts = 5
			u.LockoutReason = "failed_attempts"
		}},
		{"last login set", func(u *store.User) { u.LastLogin = at(3*time.Hour + 700*time.Millisecond) }},
		{"last login in another zone", func(u *store.User) {
			u.LastLogin = at(4 * time.Hour).In(time.FixedZone("Y", -7*3600))
		}},
		{"back to zero values", func(u *store.User) {
			u.Status = store.StatusActive
			u.FailedAttempts = 0
			u.LockoutReason = ""
			u.LastLogin = time.Time{}
		}},
		{"rename", func(u *store.User) { u.Username = "Alicia" }},
		{"rename, case only", func(u *store.User) { u.Username = "ALICIA" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := get(t, alice.ID)
			tc.change(&u)
			must(t, "UpdateUser", s.UpdateUser(ctx, u))
			check(t, "user after UpdateUser", get(t, alice.ID), u, normUser)
		})
	}

	t.Run("Created is not written", func(t *testing.T) {
		u := get(t, alice.ID)
		u.Created = at(100 * time.Hour)
		must(t, "UpdateUser", s.UpdateUser(ctx, u))
		if got := get(t, alice.ID).Created; !got.Equal(sec(alice.Created)) {
			t.Errorf("Created after UpdateUser = %v, want %v", got, sec(alice.Created))
		}
	})

	t.Run("lookup follows rename", func(t *testing.T) {
		got, err := s.GetUserByUsername(ctx, "alicia")
		must(t, "GetUserByUsername(alicia)", err)
		if got.ID != alice.ID {
			t.Errorf("GetUserByUsername(alicia) = %s, want %s", got.ID, alice.ID)
		}
		_, err = s.GetUserByUsername(ctx, "alice")
		wantErr(t, "GetUserByUsername of the old name", err, store.ErrNotFound)
		// The old name is free again.
		must(t, "CreateUser with the old name", s.CreateUser(ctx, mkUser(3, "Alice")))
	})

	t.Run("rename to a taken username", func(t *testing.T) {
		u := get(t, alice.ID)
		before := u
		u.Username = "BOB"
		wantErr(t, "UpdateUser to a taken username", s.UpdateUser(ctx, u), store.ErrAlreadyExists)
		check(t, "user after failed rename", get(t, alice.ID), before, normUser)
	})

	t.Run("rename to a taken username in another width", func(t *testing.T) {
		u := get(t, alice.ID)
		u.Username = "ＢＯＢ"
		wantErr(t, "UpdateUser to a fullwidth spelling of a taken username", s.UpdateUser(ctx, u), store.ErrAlreadyExists)
	})

	t.Run("rename to an invalid username", func(t *testing.T) {
		u := get(t, alice.ID)
		before := u
		u.Username = "\u212Aarl" // KELVIN SIGN
		err := s.UpdateUser(ctx, u)
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("UpdateUser to %+q: %v, want an invalid-username error", u.Username, err)
		}
		check(t, "user after refused rename", get(t, alice.ID), before, normUser)
	})

	t.Run("unknown user", func(t *testing.T) {
		wantErr(t, "UpdateUser of unknown id", s.UpdateUser(ctx, mkUser(99, "ghost")), store.ErrNotFound)
		if _, err := s.GetUser(ctx, userID(99)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateUser of an unknown id created it: GetUser err = %v", err)
		}
	})
}

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "Alice")
	bob := mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	aliceCodes := []store.BypassCode{
		{ID: codeID(1), UserID: alice.ID, Hash: []byte("h1"), RemainingUses: 1, Created: at(0)},
		{ID: codeID(2), UserID: alice.ID, Hash: []byte("h2"), RemainingUses: 1, Created: at(0)},
	}
	bobCodes := []store.BypassCode{
		{ID: codeID(3), UserID: bob.ID, Hash: []byte("h1"), RemainingUses: 1, Created: at(0)},
	}
	must(t, "CreateBypassCodes", s.CreateBypassCodes(ctx, append(slices.Clone(aliceCodes), bobCodes...)))

	must(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	_, err := s.GetUser(ctx, alice.ID)
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "alice")
	wantErr(t, "GetUserByUsername after delete", err, store.ErrNotFound)
	codes, err := s.ListBypassCodes(ctx, alice.ID)
	must(t, "ListBypassCodes", err)
	if len(codes) != 0 {
		t.Errorf("deleted user still has %d bypass codes", len(codes))
	}
	_, err = s.FindBypassCode(ctx, alice.ID, []byte("h1"))
	wantErr(t, "FindBypassCode of deleted user", err, store.ErrNotFound)
	for _, c := range aliceCodes {
		wantErr(t, "DeleteBypassCode of a deleted user's code", s.DeleteBypassCode(ctx, c.ID), store.ErrNotFound)
	}

	codes, err = s.ListBypassCodes(ctx, bob.ID)
	must(t, "ListBypassCodes", err)
	checkList(t, "other user's codes", codes, bobCodes, normCode)
	users, err := s.ListUsers(ctx)
	must(t, "ListUsers", err)
	checkList(t, "ListUsers after delete", users, []store.User{bob}, normUser)

	wantErr(t, "DeleteUser again", s.DeleteUser(ctx, alice.ID), store.ErrNotFound)
	// Username and id are free again.
	must(t, "CreateUser after delete", s.CreateUser(ctx, alice))
	codes, err = s.ListBypassCodes(ctx, alice.ID)
	must(t, "ListBypassCodes", err)
	if len(codes) != 0 {
		t.Errorf("re-created user inherited %d bypass codes", len(codes))
	}
}

func testBypassCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	u1, u2 := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, u1, u2)

	// Listed by Created, then ID: c3, c1, c2.
	c1 := store.BypassCode{ID: codeID(1), UserID: u1.ID, Hash: []byte{1, 2, 3, 0, 0xff}, RemainingUses: 1,
		Expires: at(time.Hour + 250*time.Millisecond), Created: at(0)}
	c2 := store.BypassCode{ID: codeID(2), UserID: u1.ID, Hash: []byte("second"), RemainingUses: 0,
		Expires: time.Time{}, Created: at(0)}
	c3 := store.BypassCode{ID: codeID(3), UserID: u1.ID, Hash: []byte("third"), RemainingUses: 3,
		Expires: at(-time.Hour), Created: at(-time.Minute)}
	must(t, "CreateBypassCodes(empty)", s.CreateBypassCodes(ctx, nil))
	must(t, "CreateBypassCodes", s.CreateBypassCodes(ctx, []store.BypassCode{c1, c2, c3}))

	list := func(t *testing.T, userID string) []store.BypassCode {
		t.Helper()
		codes, err := s.ListBypassCodes(ctx, userID)
		must(t, "ListBypassCodes", err)
		return codes
	}

	t.Run("List", func(t *testing.T) {
		checkList(t, "ListBypassCodes (by Created, then ID)", list(t, u1.ID), []store.BypassCode{c3, c1, c2}, normCode)
		checkList(t, "ListBypassCodes of a user without codes", list(t, u2.ID), nil, normCode)
		checkList(t, "ListBypassCodes of an unknown user", list(t, userID(99)), nil, normCode)
	})

	t.Run("Page and Get", func(t *testing.T) {
		c4 := store.BypassCode{ID: codeID(4), UserID: u2.ID, Hash: []byte("fourth"), RemainingUses: 1, Created: at(-2 * time.Minute)}
		must(t, "CreateBypassCodes", s.CreateBypassCodes(ctx, []store.BypassCode{c4}))
		defer func() { must(t, "DeleteBypassCode", s.DeleteBypassCode(ctx, c4.ID)) }()
		var all []store.BypassCode
		for off := 0; ; off += 3 {
			page, total, err := s.ListBypassCodesPage(ctx, off, 3)
			must(t, "ListBypassCodesPage", err)
			if total != 4 {
				t.Fatalf("ListBypassCodesPage total = %d, want 4", total)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
		}
		checkList(t, "ListBypassCodesPage (all users, by Created, then ID)", all, []store.BypassCode{c4, c3, c1, c2}, normCode)
		got, err := s.GetBypassCode(ctx, c1.ID)
		must(t, "GetBypassCode", err)
		checkList(t, "GetBypassCode", []store.BypassCode{got}, []store.BypassCode{c1}, normCode)
		_, err = s.GetBypassCode(ctx, codeID(99))
		wantErr(t, "GetBypassCode of a missing code", err, store.ErrNotFound)
	})

	t.Run("Find", func(t *testing.T) {
		for _, want := range []store.BypassCode{c1, c2, c3} {
			got, err := s.FindBypassCode(ctx, want.UserID, want.Hash)
			must(t, "FindBypassCode", err)
			check(t, "FindBypassCode "+want.ID, got, want, normCode)
		}
		for _, tc := range []struct {
			name   string
			userID string
			hash   []byte
		}{
			{"other user", u2.ID, c1.Hash},
			{"unknown hash", u1.ID, []byte("nope")},
			{"hash prefix", u1.ID, c1.Hash[:3]},
			{"empty hash", u1.ID, nil},
		} {
			_, err := s.FindBypassCode(ctx, tc.userID, tc.hash)
			wantErr(t, "FindBypassCode with "+tc.name, err, store.ErrNotFound)
		}
	})

	t.Run("WithUser", func(t *testing.T) {
		// GetUserAndBypassCode finds the code exactly as FindBypassCode,
		// only when the hash was computed for the user found, inside a
		// transaction or not.
		for _, tx := range []bool{false, true} {
			read := func(username, id string, hash []byte) (u store.User, c store.BypassCode, checked, found bool, err error) {
				if !tx {
					return s.GetUserAndBypassCode(ctx, username, id, hash)
				}
				err = s.InTx(ctx, func(q store.Queries) error {
					var err error
					u, c, checked, found, err = q.GetUserAndBypassCode(ctx, username, id, hash)
					return err
				})
				return u, c, checked, found, err
			}
			for _, tc := range []struct {
				name, username, id string
				hash               []byte
				user               store.User
				code               *store.BypassCode // nil: not found
				checked            bool
			}{
				{"code", "alice", u1.ID, c1.Hash, u1, &c1, true},
				{"unlimited code", "ALICE", u1.ID, c2.Hash, u1, &c2, true},
				{"expired code", "alice", u1.ID, c3.Hash, u1, &c3, true},
				{"unknown hash", "alice", u1.ID, []byte("nope"), u1, nil, true},
				{"hash for another user", "alice", u2.ID, c1.Hash, u1, nil, false},
				{"user without codes", "bob", u2.ID, c1.Hash, u2, nil, true},
			} {
				what := fmt.Sprintf("GetUserAndBypassCode (in a transaction: %v) %s", tx, tc.name)
				u, c, checked, found, err := read(tc.username, tc.id, tc.hash)
				must(t, what, err)
				check(t, what+": user", u, tc.user, normUser)
				if checked != tc.checked || found != (tc.code != nil) {
					t.Errorf("%s: checked, found = %v, %v; want %v, %v", what, checked, found, tc.checked, tc.code != nil)
				}
				if tc.code != nil {
					check(t, what+": code", c, *tc.code, normCode)
				}
			}
			_, _, _, _, err := read("nobody", u1.ID, c1.Hash)
			wantErr(t, "GetUserAndBypassCode of an unknown user", err, store.ErrNotFound)
			_, _, _, _, err = read("", u1.ID, c1.Hash)
			wantErr(t, "GetUserAndBypassCode of an invalid username", err, store.ErrNotFound)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		now := at(30 * time.Minute)
		for _, tc := range []struct {
			c       store.BypassCode
			expired bool
		}{{c1, false}, {c2, false}, {c3, true}} {
			got, err := s.FindBypassCode(ctx, tc.c.UserID, tc.c.Hash)
			must(t, "FindBypassCode", err)
			if got.Expired(now) != tc.expired {
				t.Errorf("code %s: Expired = %v, want %v (Expires %v)", got.ID, got.Expired(now), tc.expired, got.Expires)
			}
		}
	})

	t.Run("Duplicates", func(t *testing.T) {
		// The same hash may belong to another user.
		other := store.BypassCode{ID: codeID(10), UserID: u2.ID, Hash: c1.Hash, RemainingUses: 1, Created: at(0)}
		must(t, "CreateBypassCodes with another user's hash", s.CreateBypassCodes(ctx, []store.BypassCode{other}))

		fresh := store.BypassCode{ID: codeID(11), UserID: u1.ID, Hash: []byte("fresh"), RemainingUses: 1, Created: at(0)}
		for _, tc := range []struct {
			name string
			dup  store.BypassCode
		}{
			{"same hash, same user", store.BypassCode{ID: codeID(12), UserID: u1.ID, Hash: c2.Hash, Created: at(0)}},
			{"same id", store.BypassCode{ID: c1.ID, UserID: u2.ID, Hash: []byte("unique"), Created: at(0)}},
			{"same hash twice in one call", store.BypassCode{ID: codeID(13), UserID: u1.ID, Hash: fresh.Hash, Created: at(0)}},
		} {
			err := s.CreateBypassCodes(ctx, []store.BypassCode{fresh, tc.dup})
			wantErr(t, "CreateBypassCodes with "+tc.name, err, store.ErrAlreadyExists)
			// Outside InTx the call is atomic: fresh was not kept either.
			_, err = s.FindBypassCode(ctx, u1.ID, fresh.Hash)
			wantErr(t, "FindBypassCode of a code from a failed batch", err, store.ErrNotFound)
		}
		checkList(t, "codes after failed creates", list(t, u1.ID), []store.BypassCode{c3, c1, c2}, normCode)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		err := s.CreateBypassCodes(ctx, []store.BypassCode{{ID: codeID(20), UserID: userID(99), Hash: []byte("x"), Created: at(0)}})
		wantErr(t, "CreateBypassCodes for an unknown user", err, store.ErrNotFound)
	})

	t.Run("Update", func(t *testing.T) {
		u := c1
		u.RemainingUses = 0
		// Only RemainingUses is written.
		u.Expires = at(1000 * time.Hour)
		u.Hash = []byte("changed")
		must(t, "UpdateBypassCode", s.UpdateBypassCode(ctx, u))
		want := c1
		want.RemainingUses = 0
		got, err := s.FindBypassCode(ctx, u1.ID, c1.Hash)
		must(t, "FindBypassCode", err)
		check(t, "code after UpdateBypassCode", got, want, normCode)
		c1 = want

		unknown := c1
		unknown.ID = codeID(99)
		wantErr(t, "UpdateBypassCode of unknown id", s.UpdateBypassCode(ctx, unknown), store.ErrNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		must(t, "DeleteBypassCode", s.DeleteBypassCode(ctx, c3.ID))
		checkList(t, "codes after DeleteBypassCode", list(t, u1.ID), []store.BypassCode{c1, c2}, normCode)
		_, err := s.FindBypassCode(ctx, u1.ID, c3.Hash)
		wantErr(t, "FindBypassCode after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteBypassCode again", s.DeleteBypassCode(ctx, c3.ID), store.ErrNotFound)
	})

	t.Run("DeleteForUser", func(t *testing.T) {
		must(t, "DeleteBypassCodesForUser", s.DeleteBypassCodesForUser(ctx, u1.ID))
		checkList(t, "codes after DeleteBypassCodesForUser", list(t, u1.ID), nil, normCode)
		if n := len(list(t, u2.ID)); n != 1 {
			t.Errorf("DeleteBypassCodesForUser touched another user: %d codes left, want 1", n)
		}
		must(t, "DeleteBypassCodesForUser with no codes", s.DeleteBypassCodesForUser(ctx, u1.ID))
		must(t, "DeleteBypassCodesForUser of unknown user", s.DeleteBypassCodesForUser(ctx, userID(99)))
		if _, err := s.GetUser(ctx, u1.ID); err != nil {
			t.Errorf("DeleteBypassCodesForUser deleted the user: %v", err)
		}
	})
}

func testAuthLog(t *testing.T, s store.Store) {
	ctx := t.Context()

	got, err := s.ListAuthLog(ctx, store.AuthLogFilter{})
	must(t, "ListAuthLog on empty store", err)
	if len(got) != 0 {
		t.Fatalf("ListAuthLog on empty store: %d rows", len(got))
	}

	u1, u2 := userID(1), userID(2)
	k1, k2 := ikey(1), ikey(2)
	// Appended in this order; l3 and l4 share a second, and l5 is older
	// than the rest although appended last: no reader has sealed the log
	// since (SealLogs), so it keeps its own time (testLogClock checks that
	// rows are raised to the last seal).
	entries := []*store.AuthLog{
		{TxID: "tx-1", Time: at(0), IKey: k1, UserID: u1, Username: "alice", Factor: "passcode",
			Device: "DP000000000000000001", Result: "allow", Reason: "valid_passcode", IP: "192.0.2.1", Hostname: "vpn1"},
		{TxID: "tx-2", Time: at(time.Second), IKey: k2, UserID: u2, Username: "Bob", Factor: "push",
			Result: "deny", Reason: "user_cancelled", IP: "2001:db8::1"},
		{TxID: "tx-3", Time: at(2 * time.Second), IKey: k1, UserID: u2, Username: "bob", Factor: "bypass_code",
			Result: "allow", Reason: "bypass_user"},
		{TxID: "tx-4", Time: at(2*time.Second + 400*time.Millisecond), IKey: k1, UserID: u1, Username: "alice",
			Result: "deny", Reason: "denied_by_policy", Policy: "integration"},
		{TxID: "tx-5", Time: at(-time.Hour), Username: "mallory", Result: "deny", Reason: "no_such_user"},
	}
	seen := map[int64]bool{}
	for i, l := range entries {
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, l))
		if l.ID <= 0 {
			t.Fatalf("AppendAuthLog #%d: ID = %d, want > 0", i, l.ID)
		}
		if seen[l.ID] {
			t.Fatalf("AppendAuthLog #%d: ID %d reused", i, l.ID)
		}
		if i > 0 && l.ID <= entries[i-1].ID {
			t.Errorf("AppendAuthLog #%d: ID %d not after previous ID %d", i, l.ID, entries[i-1].ID)
		}
		seen[l.ID] = true
	}
	if got, want := sec(entries[4].Time), sec(at(-time.Hour)); !got.Equal(want) {
		t.Errorf("AppendAuthLog of a row older than the last one, no seal: Time = %v, want its own %v", got, want)
	}
	e := func(idx ...int) []store.AuthLog {
		out := []store.AuthLog{}
		for _, i := range idx {
			out = append(out, *entries[i-1])
		}
		return out
	}

	tests := []struct {
		name string
		f    store.AuthLogFilter
		want []store.AuthLog
	}{
		{"all, newest first, ties by ID", store.AuthLogFilter{}, e(4, 3, 2, 1, 5)},
		{"user", store.AuthLogFilter{UserID: u1}, e(4, 1)},
		{"other user", store.AuthLogFilter{UserID: u2}, e(3, 2)},
		{"unknown user", store.AuthLogFilter{UserID: userID(99)}, nil},
		{"ikey", store.AuthLogFilter{IKey: k1}, e(4, 3, 1)},
		{"since is inclusive", store.AuthLogFilter{Since: at(time.Second)}, e(4, 3, 2)},
		{"since after everything", store.AuthLogFilter{Since: at(time.Hour)}, nil},
		{"limit", store.AuthLogFilter{Limit: 2}, e(4, 3)},
		{"limit above count", store.AuthLogFilter{Limit: 100}, e(4, 3, 2, 1, 5)},
		{"user and ikey", store.AuthLogFilter{UserID: u2, IKey: k1}, e(3)},
		{"ikey and since", store.AuthLogFilter{IKey: k1, Since: at(time.Second)}, e(4, 3)},
		{"all filters", store.AuthLogFilter{UserID: u1, IKey: k1, Since: at(-time.Minute), Limit: 1}, e(4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAuthLog(ctx, tc.f)
			must(t, "ListAuthLog", err)
			checkList(t, fmt.Sprintf("ListAuthLog(%+v)", tc.f), got, tc.want, normLog)
		})
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "missing")
	wantErr(t, "GetSetting of unset key", err, store.ErrNotFound)

	steps := []struct{ key, value string }{
		{"a", "1"},
		{"b", "two"},
		{"a", "replaced"}, // put replaces
		{"empty", ""},
		{"multi.line", "x\ny"},
	}
	want := map[string]string{}
	for _, st := range steps {
		must(t, "PutSetting "+st.key, s.PutSetting(ctx, st.key, st.value))
		want[st.key] = st.value
		for k, v := range want {
			got, err := s.GetSetting(ctx, k)
			must(t, "GetSetting "+k, err)
			if got != v {
				t.Errorf("after PutSetting(%q, %q): GetSetting(%q) = %q, want %q", st.key, st.value, k, got, v)
			}
		}
	}
}

var errBoom = errors.New("boom")

func testInTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := store.Integration{IKey: ikey(1), Name: "app", Type: store.TypeAuthAPI, SecretEnc: []byte("s"),
		NewUserPolicy: store.PolicyEnroll, Created: at(0)}
	u := mkUser(1, "Alice")
	code := store.BypassCode{ID: codeID(1), UserID: u.ID, Hash: []byte("h"), RemainingUses: 2, Created: at(0)}
	entry := &store.AuthLog{TxID: "tx", Time: at(0), UserID: u.ID, Username: "alice", Result: "allow",
		Alias: "A.Lice", Policy: "group:staff"}

	err := s.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateIntegration(ctx, in); err != nil {
			return err
		}
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		// Reads inside the transaction see its writes.
		got, err := q.GetUserByUsername(ctx, "ALICE")
		if err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		got.FailedAttempts = 1
		if err := q.UpdateUser(ctx, got); err != nil {
			return err
		}
		if err := q.CreateBypassCodes(ctx, []store.BypassCode{code}); err != nil {
			return err
		}
		c, err := q.FindBypassCode(ctx, u.ID, code.Hash)
		if err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		c.RemainingUses--
		if err := q.UpdateBypassCode(ctx, c); err != nil {
			return err
		}
		if err := q.AppendAuthLog(ctx, entry); err != nil {
			return err
		}
		if entry.ID <= 0 {
			return fmt.Errorf("AppendAuthLog in InTx: ID = %d", entry.ID)
		}
		if logs, err := q.ListAuthLog(ctx, store.AuthLogFilter{}); err != nil || len(logs) != 1 {
			return fmt.Errorf("ListAuthLog in InTx: %d rows, %v", len(logs), err)
		}
		return q.PutSetting(ctx, "k", "v")
	})
	must(t, "InTx", err)

	gotIn, err := s.GetIntegration(ctx, in.IKey)
	must(t, "GetIntegration after commit", err)
	check(t, "integration after commit", gotIn, in, normIntegration)
	gotU, err := s.GetUser(ctx, u.ID)
	must(t, "GetUser after commit", err)
	u.FailedAttempts = 1
	check(t, "user after commit", gotU, u, normUser)
	gotC, err := s.FindBypassCode(ctx, u.ID, code.Hash)
	must(t, "FindBypassCode after commit", err)
	code.RemainingUses = 1
	check(t, "bypass code after commit", gotC, code, normCode)
	logs, err := s.ListAuthLog(ctx, store.AuthLogFilter{})
	must(t, "ListAuthLog after commit", err)
	checkList(t, "auth log after commit", logs, []store.AuthLog{*entry}, normLog)
	v, err := s.GetSetting(ctx, "k")
	must(t, "GetSetting after commit", err)
	if v != "v" {
		t.Errorf("setting after commit = %q, want v", v)
	}
}

// snapshot is everything a store holds, for before/after comparisons.
type snapshot struct {
	Integrations []store.Integration
	Users        []store.User
	Codes        []store.BypassCode
	Log          []store.AuthLog
	Settings     map[string]string
}

func takeSnapshot(t *testing.T, s store.Store, userIDs []string, settingKeys []string) snapshot {
	t.Helper()
	ctx := t.Context()
	var snap snapshot
	var err error
	snap.Integrations, err = s.ListIntegrations(ctx)
	must(t, "ListIntegrations", err)
	snap.Integrations = mapSlice(snap.Integrations, normIntegration)
	snap.Users, err = s.ListUsers(ctx)
	must(t, "ListUsers", err)
	snap.Users = mapSlice(snap.Users, normUser)
	for _, id := range userIDs {
		codes, err := s.ListBypassCodes(ctx, id)
		must(t, "ListBypassCodes", err)
		snap.Codes = append(snap.Codes, mapSlice(codes, normCode)...)
	}
	snap.Log, err = s.ListAuthLog(ctx, store.AuthLogFilter{})
	must(t, "ListAuthLog", err)
	snap.Log = mapSlice(snap.Log, normLog)
	snap.Settings = map[string]string{}
	for _, k := range settingKeys {
		v, err := s.GetSetting(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		must(t, "GetSetting", err)
		snap.Settings[k] = v
	}
	return snap
}

// seedForRollback creates one of everything and returns what
// takeSnapshot needs, plus a fn that changes all of it.
func seedForRollback(t *testing.T, s store.Store) (userIDs, keys []string, change func(ctx context.Context, q store.Queries) error) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	must(t, "CreateIntegration", s.CreateIntegration(ctx, store.Integration{IKey: ikey(1), Name: "a",
		Type: store.TypeAuthAPI, SecretEnc: []byte("s"), NewUserPolicy: store.PolicyEnroll, Created: at(0)}))
	must(t, "CreateBypassCodes", s.CreateBypassCodes(ctx, []store.BypassCode{
		{ID: codeID(1), UserID: alice.ID, Hash: []byte("h"), RemainingUses: 1, Created: at(0)}}))
	must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &store.AuthLog{TxID: "t0", Time: at(0), Result: "allow"}))
	must(t, "PutSetting", s.PutSetting(ctx, "k", "old"))

	change = func(ctx context.Context, q store.Queries) error {
		steps := []struct {
			name string
			fn   func() error
		}{
			{"CreateIntegration", func() error {
				return q.CreateIntegration(ctx, store.Integration{IKey: ikey(2), Name: "b", Type: store.TypeAdminAPI,
					SecretEnc: []byte("s"), NewUserPolicy: store.PolicyDeny, Created: at(0)})
			}},
			{"DeleteIntegration", func() error { return q.DeleteIntegration(ctx, ikey(1)) }},
			{"CreateUser", func() error { return q.CreateUser(ctx, mkUser(2, "bob")) }},
			{"UpdateUser", func() error {
				u, err := q.GetUser(ctx, alice.ID)
				if err != nil {
					return err
				}
				u.FailedAttempts, u.Status, u.LastLogin = 7, store.StatusLockedOut, at(time.Hour)
				return q.UpdateUser(ctx, u)
			}},
			{"CreateBypassCodes", func() error {
				return q.CreateBypassCodes(ctx, []store.BypassCode{
					{ID: codeID(2), UserID: userID(2), Hash: []byte("h"), RemainingUses: 1, Created: at(0)}})
			}},
			{"UpdateBypassCode", func() error {
				return q.UpdateBypassCode(ctx, store.BypassCode{ID: codeID(1), RemainingUses: 9})
			}},
			{"AppendAuthLog", func() error {
				return q.AppendAuthLog(ctx, &store.AuthLog{TxID: "t1", Time: at(time.Second), Result: "deny"})
			}},
			{"PutSetting", func() error { return q.PutSetting(ctx, "k", "new") }},
			{"PutSetting new key", func() error { return q.PutSetting(ctx, "k2", "v") }},
			{"DeleteBypassCode", func() error { return q.DeleteBypassCode(ctx, codeID(1)) }},
			{"DeleteUser", func() error { return q.DeleteUser(ctx, alice.ID) }},
		}
		for _, st := range steps {
			if err := st.fn(); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
		}
		return nil
	}
	return []string{alice.ID, userID(2)}, []string{"k", "k2"}, change
}

func testInTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	userIDs, keys, change := seedForRollback(t, s)
	before := takeSnapshot(t, s, userIDs, keys)

	err := s.InTx(ctx, func(q store.Queries) error {
		if err := change(ctx, q); err != nil {
			return fmt.Errorf("unexpected: %w", err)
		}
		return fmt.Errorf("fn failed: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx returned %v, want the error from fn", err)
	}
	after := takeSnapshot(t, s, userIDs, keys)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("rolled-back transaction left changes:\n before %+v\n after  %+v", before, after)
	}

	// The store is still usable for writes and transactions.
	must(t, "PutSetting after rollback", s.PutSetting(ctx, "k3", "v"))
	must(t, "InTx after rollback", s.InTx(ctx, func(q store.Queries) error { return q.PutSetting(ctx, "k4", "v") }))
}

func testInTxPanic(t *testing.T, s store.Store) {
	ctx := t.Context()
	userIDs, keys, change := seedForRollback(t, s)
	before := takeSnapshot(t, s, userIDs, keys)

	func() {
		defer func() {
			if p := recover(); p != errBoom {
				t.Errorf("recovered %v, want the panic from fn", p)
			}
		}()
		_ = s.InTx(ctx, func(q store.Queries) error {
			if err := change(ctx, q); err != nil {
				t.Errorf("unexpected: %v", err)
			}
			panic(errBoom)
		})
	}()
	after := takeSnapshot(t, s, userIDs, keys)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("panicking transaction left changes:\n before %+v\n after  %+v", before, after)
	}
	must(t, "InTx after panic", s.InTx(ctx, func(q store.Queries) error { return q.PutSetting(ctx, "k4", "v") }))
	must(t, "PutSetting after panic", s.PutSetting(ctx, "k3", "v"))
}

func testInTxCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.InTx(ctx, func(q store.Queries) error { return q.PutSetting(ctx, "k", "v") })
	if err == nil {
		t.Fatal("InTx with a canceled context succeeded")
	}
	_, err = s.GetSetting(t.Context(), "k")
	wantErr(t, "GetSetting after InTx with canceled context", err, store.ErrNotFound)
	must(t, "InTx after a canceled one", s.InTx(t.Context(), func(q store.Queries) error {
		return q.PutSetting(t.Context(), "k", "v")
	}))
}

// A failed create must not poison the transaction: "create the user, or
// load it if it exists" is a normal flow.
func testInTxAlreadyExists(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "Alice")
	createUsers(t, s, alice)
	in := store.Integration{IKey: ikey(1), Name: "a", Type: store.TypeAuthAPI, SecretEnc: []byte("s"),
		NewUserPolicy: store.PolicyEnroll, Created: at(0)}
	must(t, "CreateIntegration", s.CreateIntegration(ctx, in))

	err := s.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateUser(ctx, mkUser(2, "ALICE")); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("CreateUser of a taken username: %v, want ErrAlreadyExists", err)
		}
		if err := q.CreateIntegration(ctx, in); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("CreateIntegration of a taken ikey: %v, want ErrAlreadyExists", err)
		}
		if _, err := q.GetUser(ctx, userID(99)); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("GetUser of unknown id: %v, want ErrNotFound", err)
		}
		u, err := q.GetUserByUsername(ctx, "alice")
		if err != nil {
			return err
		}
		u.LastLogin = at(time.Hour)
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		return q.PutSetting(ctx, "k", "v")
	})
	must(t, "InTx", err)
	got, err := s.GetUser(ctx, alice.ID)
	must(t, "GetUser", err)
	alice.LastLogin = at(time.Hour)
	check(t, "user after InTx", got, alice, normUser)
	if _, err := s.GetUser(ctx, userID(2)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("duplicate user was created: GetUser err = %v", err)
	}
}

// Read-modify-write of one user in concurrent transactions must serialize:
// no increment may be lost.
func testConcurrentUserUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(1, "Alice")
	createUsers(t, s, u)

	const n = 20
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		errs  []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := s.InTx(ctx, func(q store.Queries) error {
				var (
					got store.User
					err error
				)
				if i%2 == 0 {
					got, err = q.GetUser(ctx, u.ID)
				} else {
					got, err = q.GetUserByUsername(ctx, "alice")
				}
				if err != nil {
					return err
				}
				got.FailedAttempts++
				return q.UpdateUser(ctx, got)
			})
			if err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("InTx: %v", err)
	}
	got, err := s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	if got.FailedAttempts != n {
		t.Errorf("FailedAttempts = %d after %d concurrent increments (%d failed), want %d", got.FailedAttempts, n, len(errs), n)
	}
}

// Writes outside transactions, concurrent with reads, must not fail with
// "database is locked" or similar.
func testConcurrentWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		errs  []error
		ids   = make([]int64, n)
	)
	report := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			l := &store.AuthLog{TxID: fmt.Sprint("tx-", i), Time: at(time.Duration(i) * time.Second), Result: "allow"}
			if err := s.AppendAuthLog(ctx, l); err != nil {
				report(err)
				return
			}
			ids[i] = l.ID
			if err := s.PutSetting(ctx, fmt.Sprint("k", i%3), fmt.Sprint(i)); err != nil {
				report(err)
			}
		})
		wg.Go(func() {
			<-start
			if _, err := s.ListAuthLog(ctx, store.AuthLogFilter{Limit: 5}); err != nil {
				report(err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("concurrent write or read: %v", err)
	}
	logs, err := s.ListAuthLog(ctx, store.AuthLogFilter{})
	must(t, "ListAuthLog", err)
	if len(logs) != n {
		t.Errorf("ListAuthLog: %d rows after %d concurrent appends", len(logs), n)
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != n || ids[0] <= 0 {
		t.Errorf("AppendAuthLog IDs not distinct and positive: %v", ids)
	}
}

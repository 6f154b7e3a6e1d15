package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// RunUserSessionTests runs the self-service portal's session conformance
// tests (kept out of RunTests' table, so branches merge without conflicts).
func RunUserSessionTests(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("UserSessions", func(t *testing.T) { testUserSessions(t, open(t)) })
	t.Run("DefaultMethod", func(t *testing.T) { testDefaultMethod(t, open(t)) })
}

func testDefaultMethod(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	_, err := s.GetDefaultMethod(ctx, alice.ID)
	wantErr(t, "GetDefaultMethod before any", err, store.ErrNotFound)
	must(t, "SetDefaultMethod", s.SetDefaultMethod(ctx, alice.ID, "DPAAAAAAAAAAAAAAAAAA", at(0)))
	must(t, "SetDefaultMethod again", s.SetDefaultMethod(ctx, alice.ID, "DWAAAAAAAAAAAAAAAAAA", at(time.Minute)))
	got, err := s.GetDefaultMethod(ctx, alice.ID)
	must(t, "GetDefaultMethod", err)
	if got != "DWAAAAAAAAAAAAAAAAAA" {
		t.Errorf("default method %q, want the last one set", got)
	}
	wantErr(t, "SetDefaultMethod of an unknown user", s.SetDefaultMethod(ctx, userID(9), "DP", at(0)), store.ErrNotFound)
	must(t, "SetDefaultMethod forget", s.SetDefaultMethod(ctx, alice.ID, "", at(0)))
	_, err = s.GetDefaultMethod(ctx, alice.ID)
	wantErr(t, "GetDefaultMethod after forgetting", err, store.ErrNotFound)
	must(t, "SetDefaultMethod", s.SetDefaultMethod(ctx, alice.ID, "DPAAAAAAAAAAAAAAAAAA", at(0)))
	must(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	_, err = s.GetDefaultMethod(ctx, alice.ID)
	wantErr(t, "GetDefaultMethod of a deleted user", err, store.ErrNotFound)
}

func normUserSession(s store.UserSession) store.UserSession {
	s.Created, s.LastSeen, s.Reauth = sec(s.Created), sec(s.LastSeen), sec(s.Reauth)
	return s
}

func testUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	s1 := store.UserSession{Hash: bytes.Repeat([]byte{1}, 32), UserID: alice.ID, Created: at(0), LastSeen: at(0), Reauth: at(0), IP: "192.0.2.1"}
	s2 := store.UserSession{Hash: bytes.Repeat([]byte{2}, 32), UserID: alice.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	s3 := store.UserSession{Hash: bytes.Repeat([]byte{3}, 32), UserID: bob.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	for _, x := range []store.UserSession{s1, s2, s3} {
		must(t, "CreateUserSession", s.CreateUserSession(ctx, x))
	}
	wantErr(t, "CreateUserSession with a taken hash", s.CreateUserSession(ctx, s1), store.ErrAlreadyExists)
	wantErr(t, "CreateUserSession of an unknown user",
		s.CreateUserSession(ctx, store.UserSession{Hash: []byte{9}, UserID: userID(9), Created: at(0), LastSeen: at(0), Reauth: at(0)}), store.ErrNotFound)

	got, err := s.GetUserSession(ctx, s1.Hash)
	must(t, "GetUserSession", err)
	check(t, "session", got, s1, normUserSession)
	_, err = s.GetUserSession(ctx, []byte{9})
	wantErr(t, "GetUserSession of an unknown hash", err, store.ErrNotFound)

	s1.LastSeen, s1.Reauth = at(10*time.Minute), at(5*time.Minute)
	must(t, "TouchUserSession", s.TouchUserSession(ctx, s1))
	got, err = s.GetUserSession(ctx, s1.Hash)
	must(t, "GetUserSession after touch", err)
	check(t, "touched session", got, s1, normUserSession)
	wantErr(t, "TouchUserSession of an unknown hash", s.TouchUserSession(ctx, store.UserSession{Hash: []byte{9}}), store.ErrNotFound)

	must(t, "DeleteUserSession", s.DeleteUserSession(ctx, s2.Hash))
	wantErr(t, "DeleteUserSession again", s.DeleteUserSession(ctx, s2.Hash), store.ErrNotFound)

	// Purge: s1 was created before the cut-off.
	n, err := s.PurgeUserSessions(ctx, at(time.Minute), at(0), 10)
	must(t, "PurgeUserSessions", err)
	if n != 1 {
		t.Errorf("PurgeUserSessions deleted %d sessions, want 1", n)
	}
	_, err = s.GetUserSession(ctx, s1.Hash)
	wantErr(t, "GetUserSession of a purged session", err, store.ErrNotFound)
	// Idle: s3 was last seen before the cut-off.
	n, err = s.PurgeUserSessions(ctx, at(0), at(2*time.Hour), 10)
	must(t, "PurgeUserSessions idle", err)
	if n != 1 {
		t.Errorf("PurgeUserSessions of idle sessions deleted %d, want 1", n)
	}

	// A user's sessions go with the user.
	s4 := store.UserSession{Hash: bytes.Repeat([]byte{4}, 32), UserID: bob.ID, Created: at(time.Hour), LastSeen: at(time.Hour), Reauth: at(time.Hour)}
	must(t, "CreateUserSession s4", s.CreateUserSession(ctx, s4))
	must(t, "DeleteUser", s.DeleteUser(ctx, bob.ID))
	_, err = s.GetUserSession(ctx, s4.Hash)
	wantErr(t, "GetUserSession of a deleted user's session", err, store.ErrNotFound)
}

package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// testUserAliases checks Duo's username aliases: a user is found by any of
// its aliases (compared as usernames are) in every read that finds users
// by name, including the decision's one-statement reads; usernames and
// aliases are one namespace; aliases go with their user; and the
// integration's username normalization policy is stored.
func testUserAliases(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	must(t, "SetUserAliases", s.SetUserAliases(ctx, alice.ID, []string{"A.Smith", "", "asmith@example.com"}))

	got, err := s.ListUserAliases(ctx, alice.ID)
	must(t, "ListUserAliases", err)
	if want := []string{"A.Smith", "", "asmith@example.com"}; !slices.Equal(got, want) {
		t.Errorf("ListUserAliases = %q, want %q", got, want)
	}
	if got, err := s.ListUserAliases(ctx, bob.ID); err != nil || got != nil {
		t.Errorf("ListUserAliases(bob) = %q, %v; want none", got, err)
	}

	t.Run("lookups", func(t *testing.T) {
		for _, name := range []string{"alice", "ALICE", "a.smith", "A.SMITH", "ＡＳＭＩＴＨ@example.com"} {
			u, err := s.GetUserByUsername(ctx, name)
			if err != nil || u.ID != alice.ID || u.Username != "alice" {
				t.Errorf("GetUserByUsername(%q) = %s %q, %v; want alice", name, u.ID, u.Username, err)
			}
			u, _, err = s.GetUserAndDevices(ctx, name, "")
			if err != nil || u.ID != alice.ID || u.Username != "alice" {
				t.Errorf("GetUserAndDevices(%q) = %s %q, %v; want alice", name, u.ID, u.Username, err)
			}
			u, _, checked, _, err := s.GetUserAndBypassCode(ctx, name, alice.ID, []byte("h"))
			if err != nil || u.ID != alice.ID || !checked {
				t.Errorf("GetUserAndBypassCode(%q) = %s checked=%v, %v; want alice", name, u.ID, checked, err)
			}
		}
		for _, name := range []string{"smith", "a.smith2", ""} {
			_, err := s.GetUserByUsername(ctx, name)
			wantErr(t, fmt.Sprintf("GetUserByUsername(%q)", name), err, store.ErrNotFound)
			_, _, err = s.GetUserAndDevices(ctx, name+"x", "")
			wantErr(t, fmt.Sprintf("GetUserAndDevices(%q)", name+"x"), err, store.ErrNotFound)
		}
		// Inside a transaction (locking reads on PostgreSQL) too.
		must(t, "InTx", s.InTx(ctx, func(q store.Queries) error {
			u, err := q.GetUserByUsername(ctx, "a.smith")
			if err != nil || u.ID != alice.ID {
				t.Errorf("in tx: GetUserByUsername(a.smith) = %s, %v", u.ID, err)
			}
			return nil
		}))
	})

	t.Run("one namespace", func(t *testing.T) {
		// An alias may not be another user's username or alias, in any case.
		wantErr(t, "alias = another's username", s.SetUserAliases(ctx, bob.ID, []string{"ALICE"}), store.ErrAlreadyExists)
		wantErr(t, "alias = another's alias", s.SetUserAliases(ctx, bob.ID, []string{"x", "a.smith"}), store.ErrAlreadyExists)
		wantErr(t, "two equal aliases", s.SetUserAliases(ctx, bob.ID, []string{"rob", "ROB"}), store.ErrAlreadyExists)
		if got, _ := s.ListUserAliases(ctx, bob.ID); got != nil {
			t.Errorf("a refused SetUserAliases outside a transaction left %q", got)
		}
		// A username may not be another user's alias.
		wantErr(t, "CreateUser named as an alias", s.CreateUser(ctx, mkUser(3, "a.smith")), store.ErrAlreadyExists)
		b := bob
		b.Username = "A.Smith"
		wantErr(t, "rename to another's alias", s.UpdateUser(ctx, b), store.ErrAlreadyExists)
		// A user's own username as alias is harmless; renaming a user to
		// its own alias is allowed.
		a := alice
		a.Username = "A.Smith"
		must(t, "rename to own alias", s.UpdateUser(ctx, a))
		must(t, "rename back", s.UpdateUser(ctx, alice))
		// Status updates are not username changes.
		b = bob
		b.FailedAttempts = 3
		must(t, "UpdateUser bob", s.UpdateUser(ctx, b))
		wantErr(t, "aliases of an unknown user", s.SetUserAliases(ctx, userID(99), []string{"zed"}), store.ErrNotFound)
		if err := s.SetUserAliases(ctx, bob.ID, make([]string, store.MaxAliases+1)); err == nil {
			t.Error("SetUserAliases with too many aliases: no error")
		}
	})

	t.Run("replace and clear", func(t *testing.T) {
		must(t, "SetUserAliases bob", s.SetUserAliases(ctx, bob.ID, []string{"", "", "", "", "", "", "", "robert"}))
		if got, _ := s.ListUserAliases(ctx, bob.ID); len(got) != store.MaxAliases || got[7] != "robert" {
			t.Errorf("alias8: %q", got)
		}
		must(t, "SetUserAliases bob", s.SetUserAliases(ctx, bob.ID, []string{"rob"}))
		if _, err := s.GetUserByUsername(ctx, "robert"); err == nil {
			t.Error("a replaced alias still finds the user")
		}
		u, err := s.GetUserByUsername(ctx, "ROB")
		if err != nil || u.ID != bob.ID {
			t.Errorf("GetUserByUsername(ROB) = %s, %v", u.ID, err)
		}
		must(t, "clear", s.SetUserAliases(ctx, bob.ID, nil))
		if got, _ := s.ListUserAliases(ctx, bob.ID); got != nil {
			t.Errorf("after clearing: %q", got)
		}
		// A freed alias can be taken by another user.
		must(t, "SetUserAliases alice rob", s.SetUserAliases(ctx, alice.ID, []string{"A.Smith", "rob"}))
		must(t, "SetUserAliases alice back", s.SetUserAliases(ctx, alice.ID, []string{"A.Smith", "", "asmith@example.com"}))
	})

	t.Run("in a transaction", func(t *testing.T) {
		err := s.InTx(ctx, func(q store.Queries) error {
			if err := q.SetUserAliases(ctx, bob.ID, []string{"bobby"}); err != nil {
				return err
			}
			return q.SetUserAliases(ctx, bob.ID, []string{"bobby", "alice"})
		})
		wantErr(t, "InTx with a taken alias", err, store.ErrAlreadyExists)
		if _, err := s.GetUserByUsername(ctx, "bobby"); err == nil {
			t.Error("a rolled-back alias finds the user")
		}
	})

	t.Run("concurrent claims", func(t *testing.T) {
		// Users race for one alias: the unique index lets exactly one
		// have it.
		var ids []string
		for i := range 6 {
			u := mkUser(20+i, fmt.Sprintf("racer%d", i))
			createUsers(t, s, u)
			ids = append(ids, u.ID)
		}
		errs := make(chan error, len(ids))
		for _, id := range ids {
			go func() { errs <- s.SetUserAliases(ctx, id, []string{"contested"}) }()
		}
		won := 0
		for range ids {
			err := <-errs
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("a losing claim: %v, want ErrAlreadyExists", err)
			}
		}
		if won != 1 {
			t.Errorf("%d users got the alias, want 1", won)
		}
		u, err := s.GetUserByUsername(ctx, "CONTESTED")
		if err != nil || !slices.Contains(ids, u.ID) {
			t.Errorf("GetUserByUsername(CONTESTED) = %s, %v", u.ID, err)
		}
	})

	t.Run("deleted with the user", func(t *testing.T) {
		must(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
		_, err := s.GetUserByUsername(ctx, "a.smith")
		wantErr(t, "alias of a deleted user", err, store.ErrNotFound)
		must(t, "alias free again", s.CreateUser(ctx, mkUser(4, "A.Smith")))
	})

	t.Run("integration policy", func(t *testing.T) {
		in := store.Integration{IKey: ikey(7), Name: "VPN", Type: store.TypeAuthAPI, SecretEnc: []byte("s"),
			NewUserPolicy: store.PolicyEnroll, Created: at(time.Second)}
		must(t, "CreateIntegration", s.CreateIntegration(ctx, in))
		got, err := s.GetIntegration(ctx, in.IKey)
		if err != nil || got.UsernameNormalization != "none" {
			t.Errorf("default policy = %q, %v; want none", got.UsernameNormalization, err)
		}
		in.UsernameNormalization = "simple"
		must(t, "UpdateIntegration", s.UpdateIntegration(ctx, in))
		if got, _ := s.GetIntegration(ctx, in.IKey); got.UsernameNormalization != "simple" {
			t.Errorf("policy after update = %q", got.UsernameNormalization)
		}
		in2 := in
		in2.IKey = ikey(8)
		must(t, "CreateIntegration simple", s.CreateIntegration(ctx, in2))
		if got, _ := s.GetIntegration(ctx, in2.IKey); got.UsernameNormalization != "simple" {
			t.Errorf("created with simple: %q", got.UsernameNormalization)
		}
	})
}

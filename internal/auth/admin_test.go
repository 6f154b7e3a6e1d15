package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// adminLog lists every administrator-log row (after moving the clock past
// their second, as a reader must).
func (f *fixture) adminLog(t *testing.T) []store.AdminLog {
	t.Helper()
	f.clock.Advance(time.Second)
	rows, err := f.svc.AdminLogSince(context.Background(), time.Unix(0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestRotateSecretGrace(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "cli:root@h"})
	_, oldKey, err := f.svc.Integration(ctx, f.in.IKey)
	if err != nil {
		t.Fatal(err)
	}
	in, newKey, err := f.svc.RotateSecret(ctx, f.in.IKey, time.Hour)
	if err != nil || newKey == oldKey || len(newKey) != 40 {
		t.Fatalf("RotateSecret: %v", err)
	}
	if _, cur, _ := f.svc.Integration(ctx, f.in.IKey); cur != newKey {
		t.Errorf("current key after rotation is not the new one")
	}
	if prev, ok := f.svc.PreviousSecret(in); !ok || prev != oldKey {
		t.Errorf("during the grace: previous key %v", ok)
	}
	f.clock.Advance(time.Hour)
	if _, ok := f.svc.PreviousSecret(in); ok {
		t.Errorf("after the grace the previous key still verifies")
	}
	// Without grace the old key stops at once.
	in, _, err = f.svc.RotateSecret(ctx, f.in.IKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.svc.PreviousSecret(in); ok {
		t.Errorf("rotation without grace kept the previous key")
	}
	for _, g := range []time.Duration{-time.Second, 721 * time.Hour} {
		if _, _, err := f.svc.RotateSecret(ctx, f.in.IKey, g); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("RotateSecret grace %v: %v", g, err)
		}
	}
	if _, _, err := f.svc.RotateSecret(ctx, "DINOSUCHINTEGRATION0", 0); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("RotateSecret of a missing integration: %v", err)
	}
	var rotations int
	for _, l := range f.adminLog(t) {
		if l.Action == "integration_rotate_secret" {
			rotations++
			if l.Actor != "cli:root@h" || strings.Contains(l.Description, newKey) || strings.Contains(l.Description, oldKey) {
				t.Errorf("rotation row %+v", l)
			}
		}
	}
	if rotations != 2 {
		t.Errorf("%d rotation rows, want 2", rotations)
	}
}

// TestAdminLogInTransaction: a change that fails writes no row, and each
// change writes exactly one, naming the actor.
func TestAdminLogInTransaction(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "integration:DIX", IP: "192.0.2.9"})
	before := len(f.adminLog(t))
	u, err := f.svc.AddUser(ctx, auth.NewUser{Username: "dora", Profile: store.UserProfile{Email: "d@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddUser(ctx, auth.NewUser{Username: "DORA"}); !auth.IsKind(err, auth.KindConflict) {
		t.Fatalf("duplicate AddUser: %v", err)
	}
	if _, err := f.svc.ModifyUser(ctx, u.ID, auth.UserUpdate{Status: ptr(store.StatusLockedOut)}); !auth.IsKind(err, auth.KindInvalid) {
		t.Fatalf("ModifyUser to locked out: %v", err)
	}
	notes := "n"
	got, err := f.svc.ModifyUser(ctx, u.ID, auth.UserUpdate{Notes: &notes})
	if err != nil || got.Profile.Notes != "n" || got.Profile.Email != "d@example.com" {
		t.Fatalf("ModifyUser: %+v %v", got, err)
	}
	if _, err := f.svc.IssueBypassCodes(ctx, u.ID, auth.NewBypassCodes{Count: 1, Codes: []string{"12345678", "12345678"}}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("duplicate given codes: %v", err)
	}
	if out, err := f.svc.IssueBypassCodes(ctx, u.ID, auth.NewBypassCodes{Codes: []string{"12345678"}, Uses: 1}); err != nil || out.Codes[0] != "12345678" {
		t.Errorf("given code: %+v %v", out, err)
	}
	if err := f.svc.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, l := range f.adminLog(t)[before:] {
		if l.Actor != "integration:DIX" || l.IP != "192.0.2.9" {
			t.Errorf("row %+v: wrong actor", l)
		}
		actions = append(actions, l.Action)
	}
	if got := strings.Join(actions, ","); got != "user_create,user_update,bypass_create,user_delete" {
		t.Errorf("admin log actions %s", got)
	}
}

func ptr[T any](v T) *T { return &v }

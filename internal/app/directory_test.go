package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

type fakeEnrollCore struct {
	sent []string
	err  error
}

func (f *fakeEnrollCore) SendEnrollmentEmail(_ context.Context, nameOrID string) (auth.EnrollmentEmail, error) {
	if f.err != nil {
		return auth.EnrollmentEmail{}, f.err
	}
	f.sent = append(f.sent, nameOrID)
	return auth.EnrollmentEmail{UserID: nameOrID}, nil
}

func TestEnrollmentMailer(t *testing.T) {
	errSMTP := errors.New("smtp down")
	for _, tc := range []struct {
		name     string
		user     store.User
		coreErr  error
		wantSent bool
		wantErr  error
	}{
		{"with an address", store.User{ID: "DU1", Username: "alice", Profile: store.UserProfile{Email: "alice@example.com"}}, nil, true, nil},
		{"without an address: skipped", store.User{ID: "DU2", Username: "bob"}, nil, false, nil},
		{"send fails: reported", store.User{ID: "DU3", Username: "carol", Profile: store.UserProfile{Email: "c@example.com"}}, errSMTP, false, errSMTP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := &fakeEnrollCore{err: tc.coreErr}
			err := enrollmentMailer{core: core, log: slog.New(slog.DiscardHandler)}.UserCreated(t.Context(), tc.user)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("UserCreated: %v, want %v", err, tc.wantErr)
			}
			if got := len(core.sent) == 1 && core.sent[0] == tc.user.ID; got != tc.wantSent {
				t.Errorf("sent %v, want a message to %s: %v", core.sent, tc.user.ID, tc.wantSent)
			}
		})
	}
}

type fakeAliasCore struct {
	aliases []string
	set     map[int]string
}

func (f *fakeAliasCore) UserAliases(context.Context, string) ([]string, error) { return f.aliases, nil }

func (f *fakeAliasCore) ModifyUser(_ context.Context, _ string, up auth.UserUpdate) (store.User, error) {
	f.set = up.Aliases
	return store.User{}, nil
}

// TestDirectoryAliases: a sync owns alias1–alias4: it sets those it maps,
// clears the others of the four, and leaves alias5–alias8 alone.
func TestDirectoryAliases(t *testing.T) {
	core := &fakeAliasCore{aliases: []string{"a", "b", "c", "d", "e5"}}
	d := directoryAliases{core: core}
	got, err := d.UserAliases(t.Context(), "DU1")
	if err != nil || len(got) != 4 || got[3] != "d" {
		t.Fatalf("UserAliases = %q, %v; want the first four", got, err)
	}
	if err := d.SetUserAliases(t.Context(), "DU1", []string{"x@example.com"}); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{0: "x@example.com", 1: "", 2: "", 3: ""}
	if len(core.set) != len(want) {
		t.Fatalf("set %v, want %v", core.set, want)
	}
	for k, v := range want {
		if core.set[k] != v {
			t.Errorf("position %d set to %q, want %q", k, core.set[k], v)
		}
	}
}

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

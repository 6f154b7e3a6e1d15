package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
)

func TestUserSessionTimeouts(t *testing.T) {
	f := newFixture(t, auth.Options{AdminIdleTimeout: 10 * time.Minute, AdminSessionTimeout: time.Hour, AdminReauthWindow: 5 * time.Minute})
	ctx := context.Background()
	u := f.user(t, "alice", store.StatusActive)
	tok, err := f.svc.StartUserSession(ctx, u.ID, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.svc.UserSession(ctx, tok)
	if err != nil || s.User.ID != u.ID || !s.Recent {
		t.Fatalf("fresh session: %+v, %v", s, err)
	}
	if _, err := f.svc.UserSession(ctx, tok+"x"); err != auth.ErrUserSessionInvalid {
		t.Errorf("another token: %v", err)
	}
	// Active every 9 minutes: no idle timeout; the re-verification window closes.
	for range 6 {
		f.clock.Advance(9 * time.Minute)
		if s, err = f.svc.UserSession(ctx, tok); err != nil {
			t.Fatalf("active session at %v: %v", f.clock.Now(), err)
		}
	}
	if s.Recent {
		t.Error("54 minutes after sign-in the session counts as recently verified")
	}
	if err := f.svc.UserSessionReauthenticated(ctx, s.Session); err != nil {
		t.Fatal(err)
	}
	if s, err = f.svc.UserSession(ctx, tok); err != nil || !s.Recent {
		t.Errorf("after re-verification: recent %v, %v", s.Recent, err)
	}
	// The absolute timeout strikes however active.
	f.clock.Advance(6*time.Minute + time.Second)
	if _, err := f.svc.UserSession(ctx, tok); err != auth.ErrUserSessionInvalid {
		t.Errorf("after the absolute timeout: %v", err)
	}
	// The idle timeout.
	tok, _ = f.svc.StartUserSession(ctx, u.ID, "")
	f.clock.Advance(10 * time.Minute)
	if _, err := f.svc.UserSession(ctx, tok); err != auth.ErrUserSessionInvalid {
		t.Errorf("after the idle timeout: %v", err)
	}
	// A user disabled since: the session ends.
	tok, _ = f.svc.StartUserSession(ctx, u.ID, "")
	if _, err := f.svc.SetUserStatus(ctx, u.ID, store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UserSession(ctx, tok); err != auth.ErrUserSessionInvalid {
		t.Errorf("session of a disabled user: %v", err)
	}
	// Sign-out.
	if _, err := f.svc.SetUserStatus(ctx, u.ID, store.StatusActive); err != nil {
		t.Fatal(err)
	}
	tok, _ = f.svc.StartUserSession(ctx, u.ID, "")
	if err := f.svc.EndUserSession(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UserSession(ctx, tok); err != auth.ErrUserSessionInvalid {
		t.Errorf("after sign-out: %v", err)
	}
}

func TestPortalPasscode(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	f.user(t, "alice", store.StatusActive)
	f.user(t, "bypassed", store.StatusBypass)
	app, err := f.svc.AddTOTPApp(ctx, "alice", auth.NewTOTPApp{Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	code := otp.TOTP(app.Secret, f.clock.Now(), 30, 6, otp.SHA1)
	for _, tc := range []struct {
		name, user, code string
		ok               bool
	}{
		{"unknown user", "nobody", code, false},
		{"wrong code", "alice", "000000", false},
		{"empty code", "alice", " ", false},
		{"bypass status lets nobody in here", "bypassed", "123456", false},
		{"right code", "alice", code, true},
		{"the same code again", "alice", code, false},
	} {
		u, err := f.svc.PortalPasscode(ctx, auth.PortalRequest(tc.user, "", "192.0.2.1"), tc.code)
		switch {
		case tc.ok && (err != nil || u.Username != "alice"):
			t.Errorf("%s: %+v, %v", tc.name, u, err)
		case !tc.ok && !errors.Is(err, auth.ErrPortalLogin):
			t.Errorf("%s: %v, want ErrPortalLogin", tc.name, err)
		}
	}
	rows, err := f.st.ListAuthLog(ctx, store.AuthLogFilter{IKey: auth.PortalIKey})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 4 {
		t.Errorf("the portal's sign-ins wrote %d auth-log rows", len(rows))
	}
}

// TestRemoveUserMethodNeverLast: two removals at once of a user's last
// two methods leave one.
func TestRemoveUserMethodNeverLast(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	u := f.user(t, "alice", store.StatusActive)
	for _, n := range []string{"one", "two"} {
		if _, err := f.svc.AddTOTPApp(ctx, "alice", auth.NewTOTPApp{Name: n, Confirmed: true}); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := f.svc.UserMethods(ctx, u.ID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("methods %+v, %v", ms, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, m := range ms {
		wg.Go(func() { errs[i] = f.svc.RemoveUserMethod(ctx, u.ID, m.ID) })
	}
	wg.Wait()
	left, err := f.svc.UserMethods(ctx, u.ID)
	if err != nil || len(left) != 1 {
		t.Fatalf("left %+v, %v (errors %v)", left, err, errs)
	}
	if !errors.Is(errs[0], auth.ErrLastMethod) && !errors.Is(errs[1], auth.ErrLastMethod) {
		t.Errorf("no removal was refused: %v", errs)
	}
	if err := f.svc.RemoveUserMethod(ctx, u.ID, left[0].ID); !errors.Is(err, auth.ErrLastMethod) {
		t.Errorf("removing the last: %v", err)
	}
	// Another user's method is not found.
	b := f.user(t, "bob", store.StatusActive)
	if err := f.svc.RemoveUserMethod(ctx, b.ID, left[0].ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("removing another user's method: %v", err)
	}
}

package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// A user adds an app in a browser: a new user is created, an abandoned
// attempt is replaced, the pending app can be shown again until it is
// confirmed, wrong first codes spend the passcode limit, and a confirmed
// app makes the enrollment link refuse.
func TestBeginTOTPApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{
		Limits: auth.Limits{PasscodeFailuresPerUser: ratelimit.Limit{Every: time.Hour, Burst: 2}}})

	link, _, err := f.svc.EnrollLinkToken(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.svc.BeginTOTPApp(ctx, auth.TOTPAppRequest{Username: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := f.svc.BeginTOTPApp(ctx, auth.TOTPAppRequest{Username: "carol", Name: "Aegis"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PendingTOTPApp(ctx, "carol", first.Token.ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Fatalf("abandoned app still pending: %v", err)
	}
	again, err := f.svc.PendingTOTPApp(ctx, "carol", enr.Token.ID)
	if err != nil || again.URI != enr.URI || again.SecretBase32 != enr.SecretBase32 {
		t.Fatalf("pending app: %+v, %v (want URI %s)", again, err, enr.URI)
	}
	if _, err := f.svc.PendingTOTPApp(ctx, "mallory", enr.Token.ID); err == nil {
		t.Fatal("another user saw carol's app")
	}
	// Unconfirmed, the app is no enrollment: the link still works.
	if _, err := f.svc.EnrollLink(ctx, link); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := f.svc.ConfirmTOTPAppFrom(ctx, "192.0.2.1", "carol", enr.Token.ID, "000000"); err != auth.ErrBadConfirmationCode {
			t.Fatalf("wrong first code: %v", err)
		}
	}
	code := otp.TOTP(enr.Secret, f.clock.Now(), 30, 6, otp.SHA1)
	if err := f.svc.ConfirmTOTPAppFrom(ctx, "192.0.2.1", "carol", enr.Token.ID, code); !auth.IsKind(err, auth.KindRateLimited) {
		t.Fatalf("third try within the limit: %v", err)
	}
	f.clock.Advance(time.Hour)
	code = otp.TOTP(enr.Secret, f.clock.Now(), 30, 6, otp.SHA1)
	if err := f.svc.ConfirmTOTPAppFrom(ctx, "192.0.2.1", "carol", enr.Token.ID, " "+code+" "); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if _, err := f.svc.PendingTOTPApp(ctx, "carol", enr.Token.ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Fatalf("a confirmed app's secret was shown again: %v", err)
	}
	if _, err := f.svc.RedeemEnrollLink(ctx, link); err != auth.ErrAlreadyEnrolled {
		t.Fatalf("enrollment link of a user with an app: %v", err)
	}
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "carol"}})
	if err != nil || pre.Result != auth.ResultAuth {
		t.Fatalf("preauth: %+v, %v", pre, err)
	}
	if _, err := f.svc.BeginTOTPApp(ctx, auth.TOTPAppRequest{Username: ""}); err == nil {
		t.Fatal("empty username accepted")
	}
}

// An app an administrator added is an enrollment for the portal link.
func TestEnrollLinkCountsApps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	f.user(t, "dave", store.StatusActive)
	link, _, err := f.svc.EnrollLinkToken(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddTOTPApp(ctx, "dave", auth.NewTOTPApp{Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RedeemEnrollLink(ctx, link); err != auth.ErrAlreadyEnrolled {
		t.Fatalf("enrollment link of a user with an app: %v", err)
	}
}

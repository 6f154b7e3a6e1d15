package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
)

// TestTOTPIssuerSetting: the console's issuer name overrides the
// configured one for apps added afterwards, on every node (another
// Service on the same store), is logged, and "" goes back to the
// configuration; invalid names are refused and change nothing.
func TestTOTPIssuerSetting(t *testing.T) {
	f := newFixture(t, auth.Options{TOTPIssuer: "Configured"})
	other := newFixtureWith(t, f.st, auth.Options{TOTPIssuer: "Configured"})
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "admin:o@example.com", IP: "192.0.2.1"})
	if got := f.svc.TOTPIssuer(ctx); got != "Configured" {
		t.Fatalf("before any setting: %q", got)
	}
	for _, bad := range []string{"a:b", " lead", strings.Repeat("x", 65), "new\nline", "\x7f"} {
		if err := f.svc.SetTOTPIssuer(ctx, bad); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("SetTOTPIssuer(%q): %v, want KindInvalid", bad, err)
		}
	}
	if err := f.svc.SetTOTPIssuer(ctx, "Example Corp"); err != nil {
		t.Fatal(err)
	}
	if got := other.svc.TOTPIssuer(ctx); got != "Example Corp" {
		t.Errorf("another node reads %q", got)
	}
	if _, err := f.svc.CreateUser(ctx, "erin"); err != nil {
		t.Fatal(err)
	}
	e, err := other.svc.AddTOTPApp(ctx, "erin", auth.NewTOTPApp{Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := otp.ParseURI(e.URI); err != nil || k.Issuer != "Example Corp" {
		t.Errorf("the new app's issuer: %+v %v", k, err)
	}
	if err := f.svc.SetTOTPIssuer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := other.svc.TOTPIssuer(ctx); got != "Configured" {
		t.Errorf("after clearing: %q", got)
	}
	f.clock.Advance(2 * time.Second)
	rows, err := f.svc.AdminLogSince(ctx, time.Unix(0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if r.Action == "customer_update" && strings.Contains(r.Description, "totp_issuer") && r.Actor == "admin:o@example.com" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d customer_update rows for the issuer, want 2", n)
	}
}

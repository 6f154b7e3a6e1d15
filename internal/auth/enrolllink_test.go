package auth_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

func TestIntegrationAllowedOrigins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	in, _, err := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "wiki", Type: store.TypeWebSDK,
		AllowedOrigins: []string{"https://Wiki.example/", "https://wiki.example:443", "http://localhost:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://wiki.example", "http://localhost:8080"}
	got, _, err := f.svc.Integration(ctx, in.IKey)
	if err != nil || !reflect.DeepEqual(got.AllowedOrigins, want) || !reflect.DeepEqual(in.AllowedOrigins, want) {
		t.Errorf("allowed origins %v (stored %v, %v), want %v", in.AllowedOrigins, got.AllowedOrigins, err, want)
	}
	_, _, err = f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "bad", Type: store.TypeWebSDK,
		AllowedOrigins: []string{"https://wiki.example/login"}})
	if !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("an origin with a path: %v", err)
	}
}

// Preauth's enroll_portal_url comes from the options; the hosted prompt
// asks for none.
func TestPreauthEnrollPortal(t *testing.T) {
	t.Parallel()
	calls := 0
	f := newFixture(t, auth.Options{EnrollPortalURL: func(_ context.Context, u string) (string, error) {
		calls++
		return "https://assent.example/portal/enroll/token-for-" + u, nil
	}})
	ctx := context.Background()
	res, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "Newbie"}})
	if err != nil || res.Result != auth.ResultEnroll || res.EnrollPortalURL != "https://assent.example/portal/enroll/token-for-Newbie" {
		t.Errorf("preauth: %+v, %v", res, err)
	}
	res, err = f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "newbie"}, NoEnrollPortal: true})
	if err != nil || res.Result != auth.ResultEnroll || res.EnrollPortalURL != "" || calls != 1 {
		t.Errorf("preauth without portal: %+v, %v, %d calls", res, err, calls)
	}

	failing := newFixture(t, auth.Options{EnrollPortalURL: func(context.Context, string) (string, error) {
		return "", errors.New("database down")
	}})
	if _, err := failing.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: failing.in, Username: "x"}}); err == nil {
		t.Error("preauth hid a failure to make the portal link")
	}
}

func TestEnrollLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{EnrollLinkTTL: time.Hour})
	ctx := context.Background()
	tok, exp, err := f.svc.EnrollLinkToken(ctx, "Uma")
	if err != nil || len(tok) != 32 || !exp.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("EnrollLinkToken = %q, %v, %v", tok, exp, err)
	}
	if _, _, err := f.svc.EnrollLinkToken(ctx, ""); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("empty username: %v", err)
	}
	// Every spelling of one user gets that user's link; the Kelvin sign
	// is not a spelling of anyone.
	for _, name := range []string{"UMA", "ｕｍａ", "Ｕｍａ"} {
		if again, _, err := f.svc.EnrollLinkToken(ctx, name); err != nil || again != tok {
			t.Errorf("EnrollLinkToken(%q) = %q, %v; want Uma's link", name, again, err)
		}
	}
	if _, _, err := f.svc.EnrollLinkToken(ctx, "\u212Aelvin"); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("EnrollLinkToken with KELVIN SIGN: %v, want invalid", err)
	}
	info, err := f.svc.EnrollLink(ctx, tok)
	if err != nil || info.Username != "Uma" || !info.Expires.Equal(exp) {
		t.Errorf("EnrollLink = %+v, %v", info, err)
	}
	e, err := f.svc.RedeemEnrollLink(ctx, tok)
	if err != nil || e.Username != "Uma" || e.Code == "" || !e.Expires.Equal(f.clock.Now().Add(auth.PromptEnrollValid)) {
		t.Fatalf("RedeemEnrollLink = %+v, %v", e, err)
	}
	if _, err := f.svc.RedeemEnrollLink(ctx, tok); !errors.Is(err, auth.ErrEnrollLinkInvalid) {
		t.Errorf("second redeem: %v", err)
	}
	// The used link is not handed out again.
	if again, _, err := f.svc.EnrollLinkToken(ctx, "uma"); err != nil || again == tok {
		t.Errorf("link after use: %q, %v", again, err)
	}

	// ClaimOnce.
	if err := f.svc.ClaimOnce(ctx, "k", "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ClaimOnce(ctx, "k", "a", time.Minute); !errors.Is(err, auth.ErrAlreadyClaimed) {
		t.Errorf("second claim: %v", err)
	}
	if err := f.svc.ClaimOnce(ctx, "other kind", "a", time.Minute); err != nil {
		t.Errorf("same key, other kind: %v", err)
	}
}

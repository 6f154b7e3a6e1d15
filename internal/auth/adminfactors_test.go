package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/passhash"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/webauthnrp/webauthntest"
)

const adminPassword = "correct horse battery"

// keyAdmin creates an administrator and finishes its setup with key.
func keyAdmin(t *testing.T, f *fixture, email string, role store.AdminRole, key *webauthntest.Authenticator) store.Admin {
	t.Helper()
	ctx := context.Background()
	_, link, err := f.svc.CreateAdmin(ctx, email, "", role)
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.svc.BeginAdminSetupKey(ctx, link.Token)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := key.Create(k.Options)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.CompleteAdminSetupKey(ctx, link.Token, adminPassword, k.Sealed, resp, "")
	if err != nil {
		t.Fatalf("CompleteAdminSetupKey: %v", err)
	}
	return a
}

func keySignIn(f *fixture, email string, key *webauthntest.Authenticator) (store.Admin, error) {
	ctx := context.Background()
	k, err := f.svc.BeginAdminKeySignIn(ctx, email, adminPassword)
	if err != nil {
		return store.Admin{}, err
	}
	resp, err := key.Get(k.Options)
	if err != nil {
		return store.Admin{}, err
	}
	return f.svc.FinishAdminKeySignIn(ctx, k.Sealed, resp)
}

func TestAdminSecurityKeys(t *testing.T) {
	f := newWebAuthnFixture(t, auth.Options{AdminPasswordCost: passhash.Params{Memory: 64, Time: 1, Threads: 1}})
	ctx := context.Background()
	key := webauthntest.New(waOrigin)
	key.Counter = 5
	owner := keyAdmin(t, f, "owner@example.com", store.RoleOwner, key)
	if owner.Pending() || owner.HasTOTP() || owner.Keys != 1 {
		t.Fatalf("after key setup: pending %v, app %v, keys %d", owner.Pending(), owner.HasTOTP(), owner.Keys)
	}
	// The link works once.
	if _, err := f.svc.BeginAdminSetupKey(ctx, "nope"); !errors.Is(err, auth.ErrAdminSetupInvalid) {
		t.Errorf("BeginAdminSetupKey with an unknown link: %v", err)
	}
	if _, err := keySignIn(f, "owner@example.com", key); err != nil {
		t.Fatalf("key sign-in: %v", err)
	}
	// A wrong password never starts the ceremony; an app code is not
	// accepted from a key-only administrator.
	if _, err := f.svc.BeginAdminKeySignIn(ctx, "owner@example.com", "wrong wrong wrong"); !errors.Is(err, auth.ErrAdminLogin) {
		t.Errorf("BeginAdminKeySignIn with a wrong password: %v", err)
	}
	if _, err := f.svc.AdminSignIn(ctx, "owner@example.com", adminPassword, "123456"); !errors.Is(err, auth.ErrAdminLogin) {
		t.Errorf("app sign-in of a key-only administrator: %v", err)
	}
	// An administrator with only the app who leaves the code empty is
	// refused as for a wrong password (no oracle for the password).
	_, link, err := f.svc.CreateAdmin(ctx, "app@example.com", "", store.RoleReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.svc.BeginAdminSetup(ctx, link.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CompleteAdminSetup(ctx, link.Token, adminPassword, info.Sealed, otp.TOTP(info.Secret, f.clock.Now(), 30, 6, otp.SHA1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.BeginAdminKeySignIn(ctx, "app@example.com", adminPassword); !errors.Is(err, auth.ErrAdminLogin) {
		t.Errorf("key sign-in of an app-only administrator: %v", err)
	}

	// A counter that does not increase is refused (a cloned key).
	key.StepCounter = 0
	if _, err := keySignIn(f, "owner@example.com", key); !errors.Is(err, auth.ErrAdminLogin) {
		t.Errorf("sign-in with a counter that did not increase: %v", err)
	}
	key.StepCounter = 1

	// A sign-in ceremony is not a re-authentication's, nor another
	// administrator's; an answer is used once.
	other := webauthntest.New(waOrigin)
	help := keyAdmin(t, f, "help@example.com", store.RoleHelpDesk, other)
	k, err := f.svc.BeginAdminKeySignIn(ctx, "owner@example.com", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := key.Get(k.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminReauthKey(ctx, owner.ID, adminPassword, k.Sealed, resp); err == nil {
		t.Error("a sign-in ceremony re-authenticated")
	}
	if _, err := f.svc.AdminReauthKey(ctx, help.ID, adminPassword, k.Sealed, resp); err == nil {
		t.Error("the owner's ceremony re-authenticated the help desk")
	}
	if _, err := f.svc.FinishAdminKeySignIn(ctx, k.Sealed, resp); err != nil {
		t.Fatalf("FinishAdminKeySignIn: %v", err)
	}
	if _, err := f.svc.FinishAdminKeySignIn(ctx, k.Sealed, resp); !errors.Is(err, auth.ErrAdminLogin) {
		t.Errorf("a replayed answer: %v", err)
	}
	// The help desk's key does not answer for the owner.
	k, _ = f.svc.BeginAdminKeySignIn(ctx, "owner@example.com", adminPassword)
	if resp, err := other.Get(k.Options); err == nil {
		if _, err := f.svc.FinishAdminKeySignIn(ctx, k.Sealed, resp); err == nil {
			t.Error("another administrator's key signed the owner in")
		}
	}
	// Re-authentication with the key and the password.
	k, err = f.svc.BeginAdminKeyReauth(ctx, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = key.Get(k.Options)
	if _, err := f.svc.AdminReauthKey(ctx, owner.ID, "wrong wrong wrong", k.Sealed, resp); !errors.Is(err, auth.ErrAdminLogin) {
		t.Errorf("re-authentication with a wrong password: %v", err)
	}
	if _, err := f.svc.AdminReauthKey(ctx, owner.ID, adminPassword, k.Sealed, resp); err != nil {
		t.Errorf("re-authentication with the key: %v", err)
	}

	// The last factor stays; the last owner stays owner.
	keys, _ := f.svc.AdminKeys(ctx, owner.ID)
	if err := f.svc.RemoveAdminKey(ctx, owner.ID, keys[0].ID); !errors.Is(err, auth.ErrAdminLastFactor) {
		t.Errorf("remove the last key: %v", err)
	}
	if err := f.svc.RemoveAdminKey(ctx, help.ID, keys[0].ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("remove another administrator's key: %v", err)
	}
	if _, err := f.svc.SetAdminRole(ctx, owner.ID, store.RoleReadOnly); !errors.Is(err, auth.ErrAdminLastOwner) {
		t.Errorf("demote the last owner: %v", err)
	}
	if _, err := f.svc.SetAdminRole(ctx, help.ID, store.RoleOwner); err != nil {
		t.Fatal(err)
	}
	if a, err := f.svc.SetAdminRole(ctx, owner.ID, store.RoleReadOnly); err != nil || a.Role != store.RoleReadOnly {
		t.Errorf("demote an owner while another exists: %v %s", err, a.Role)
	}
	// A reset removes the keys.
	if _, _, err := f.svc.ResetAdmin(ctx, owner.ID); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.svc.Admin(ctx, owner.ID); !a.Pending() || a.Keys != 0 {
		t.Errorf("after reset: pending %v, keys %d", a.Pending(), a.Keys)
	}
	if _, err := f.svc.BeginAdminKeySignIn(ctx, "owner@example.com", adminPassword); !errors.Is(err, auth.ErrAdminLogin) {
		t.Errorf("sign-in after reset: %v", err)
	}
}

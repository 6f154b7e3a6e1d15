package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/passhash"
	"github.com/assent-auth/assent/internal/store"
)

var cheapPasswords = passhash.Params{Memory: 64, Time: 1, Threads: 1}

// setUpAdmin creates an administrator and finishes its setup; it returns
// the authenticator app's secret.
func (f *fixture) setUpAdmin(t *testing.T, email string, role store.AdminRole, password string) (store.Admin, []byte) {
	t.Helper()
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "cli:root@h"})
	_, link, err := f.svc.CreateAdmin(ctx, email, "", role)
	if err != nil {
		t.Fatalf("CreateAdmin: %v", err)
	}
	info, err := f.svc.BeginAdminSetup(ctx, link.Token)
	if err != nil {
		t.Fatalf("BeginAdminSetup: %v", err)
	}
	code := otp.TOTP(info.Secret, f.clock.Now(), 30, 6, otp.SHA1)
	a, err := f.svc.CompleteAdminSetup(ctx, link.Token, password, info.Sealed, code)
	if err != nil {
		t.Fatalf("CompleteAdminSetup: %v", err)
	}
	return a, info.Secret
}

func TestAdminSetupAndSignIn(t *testing.T) {
	f := newFixture(t, auth.Options{AdminPasswordCost: cheapPasswords})
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "cli:root@h"})
	a, link, err := f.svc.CreateAdmin(ctx, "Owner@Example.com", "Olive", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "owner@example.com" || !a.Pending() {
		t.Errorf("new admin %+v: want a lower-cased e-mail, pending", a)
	}
	if !link.Expires.Equal(f.clock.Now().Add(auth.DefaultAdminSetupTTL)) {
		t.Errorf("link expires %v", link.Expires)
	}
	if _, _, err := f.svc.CreateAdmin(ctx, "owner@EXAMPLE.com", "", store.RoleReadOnly); !auth.IsKind(err, auth.KindConflict) {
		t.Errorf("CreateAdmin with a taken e-mail: %v", err)
	}
	for _, bad := range []string{"", "owner", "Olive <o@example.com>", "a@b@c"} {
		if _, _, err := f.svc.CreateAdmin(ctx, bad, "", store.RoleOwner); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("CreateAdmin(%q): %v", bad, err)
		}
	}
	if _, _, err := f.svc.CreateAdmin(ctx, "x@example.com", "", "root"); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("CreateAdmin with role root: %v", err)
	}

	info, err := f.svc.BeginAdminSetup(ctx, link.Token)
	if err != nil {
		t.Fatal(err)
	}
	code := otp.TOTP(info.Secret, f.clock.Now(), 30, 6, otp.SHA1)
	if _, err := f.svc.CompleteAdminSetup(ctx, link.Token, "short", info.Sealed, code); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("setup with a short password: %v", err)
	}
	if _, err := f.svc.CompleteAdminSetup(ctx, link.Token, "long enough password", info.Sealed, "000000"); !auth.IsKind(err, auth.KindInvalid) && code != "000000" {
		t.Errorf("setup with a wrong code: %v", err)
	}
	other, _ := f.svc.BeginAdminSetup(ctx, link.Token)
	if _, err := f.svc.CompleteAdminSetup(ctx, "nope", "long enough password", other.Sealed, code); err != auth.ErrAdminSetupInvalid {
		t.Errorf("setup with an unknown link: %v", err)
	}
	a, err = f.svc.CompleteAdminSetup(ctx, link.Token, "long enough password", info.Sealed, code)
	if err != nil {
		t.Fatal(err)
	}
	if a.Pending() {
		t.Error("admin still pending after setup")
	}
	if _, err := f.svc.BeginAdminSetup(ctx, link.Token); err != auth.ErrAdminSetupInvalid {
		t.Errorf("a used link: %v", err)
	}

	// The setup's code is used: signing in needs the next one.
	if _, err := f.svc.AdminSignIn(ctx, "owner@example.com", "long enough password", code); err != auth.ErrAdminLogin {
		t.Errorf("sign-in replaying the setup code: %v", err)
	}
	f.clock.Advance(30 * time.Second)
	code = otp.TOTP(info.Secret, f.clock.Now(), 30, 6, otp.SHA1)
	for _, tc := range []struct{ email, pw, code string }{
		{"owner@example.com", "wrong password!!", code},
		{"nobody@example.com", "long enough password", code},
	} {
		if _, err := f.svc.AdminSignIn(ctx, tc.email, tc.pw, tc.code); err != auth.ErrAdminLogin {
			t.Errorf("AdminSignIn(%s, %s): %v", tc.email, tc.pw, err)
		}
	}
	if _, err := f.svc.AdminSignIn(ctx, "OWNER@example.com", "long enough password", code); err != nil {
		t.Fatalf("AdminSignIn: %v", err)
	}
	if _, err := f.svc.AdminSignIn(ctx, "owner@example.com", "long enough password", code); err != auth.ErrAdminLogin {
		t.Errorf("a code accepted twice: %v", err)
	}

	var actions []string
	for _, l := range f.adminLog(t) {
		if l.Object == "owner@example.com" {
			actions = append(actions, l.Action)
		}
	}
	want := []string{"admin_create", "admin_setup", "admin_login_error", "admin_login_error", "admin_login", "admin_login_error"}
	if len(actions) != len(want) {
		t.Fatalf("admin log %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Errorf("admin log %v, want %v", actions, want)
			break
		}
	}
}

func TestAdminSetupLinkExpires(t *testing.T) {
	f := newFixture(t, auth.Options{AdminPasswordCost: cheapPasswords, AdminSetupTTL: time.Hour})
	_, link, err := f.svc.CreateAdmin(context.Background(), "a@example.com", "", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.svc.BeginAdminSetup(context.Background(), link.Token); err != auth.ErrAdminSetupInvalid {
		t.Errorf("an expired link: %v", err)
	}
}

func TestAdminSessionTimeouts(t *testing.T) {
	f := newFixture(t, auth.Options{AdminPasswordCost: cheapPasswords, AdminIdleTimeout: 10 * time.Minute,
		AdminSessionTimeout: time.Hour, AdminReauthWindow: 5 * time.Minute})
	ctx := context.Background()
	a, secret := f.setUpAdmin(t, "a@example.com", store.RoleOwner, "long enough password")
	tok, err := f.svc.StartAdminSession(ctx, a.ID, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.svc.AdminSession(ctx, tok)
	if err != nil || s.Admin.ID != a.ID || !s.Recent {
		t.Fatalf("fresh session: %+v, %v", s, err)
	}
	if _, err := f.svc.AdminSession(ctx, tok+"x"); err != auth.ErrAdminSessionInvalid {
		t.Errorf("another token: %v", err)
	}
	// Active every 9 minutes: the idle timeout never strikes, the
	// re-authentication window closes.
	for range 6 {
		f.clock.Advance(9 * time.Minute)
		if s, err = f.svc.AdminSession(ctx, tok); err != nil {
			t.Fatalf("active session after %v: %v", f.clock.Now(), err)
		}
	}
	if s.Recent {
		t.Error("54 minutes after sign-in the session counts as recently authenticated")
	}
	f.clock.Advance(30 * time.Second)
	code := otp.TOTP(secret, f.clock.Now(), 30, 6, otp.SHA1)
	if _, err := f.svc.AdminReauth(ctx, a.ID, "long enough password", code); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AdminSessionReauthenticated(ctx, s.Session); err != nil {
		t.Fatal(err)
	}
	if s, err = f.svc.AdminSession(ctx, tok); err != nil || !s.Recent {
		t.Errorf("after re-authentication: recent %v, %v", s.Recent, err)
	}
	// The absolute timeout (1 h after sign-in) strikes however active.
	f.clock.Advance(6 * time.Minute)
	if _, err := f.svc.AdminSession(ctx, tok); err != auth.ErrAdminSessionInvalid {
		t.Errorf("after the absolute timeout: %v", err)
	}

	// Idle: a second session unused for the idle timeout ends.
	tok2, _ := f.svc.StartAdminSession(ctx, a.ID, "")
	f.clock.Advance(10 * time.Minute)
	if _, err := f.svc.AdminSession(ctx, tok2); err != auth.ErrAdminSessionInvalid {
		t.Errorf("after the idle timeout: %v", err)
	}
	// Sign-out.
	tok3, _ := f.svc.StartAdminSession(ctx, a.ID, "")
	if err := f.svc.EndAdminSession(ctx, tok3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminSession(ctx, tok3); err != auth.ErrAdminSessionInvalid {
		t.Errorf("after sign-out: %v", err)
	}
	// A reset ends every session.
	tok4, _ := f.svc.StartAdminSession(ctx, a.ID, "")
	if _, _, err := f.svc.ResetAdmin(ctx, a.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminSession(ctx, tok4); err != auth.ErrAdminSessionInvalid {
		t.Errorf("after a reset: %v", err)
	}
}

func TestAdminLastOwner(t *testing.T) {
	f := newFixture(t, auth.Options{AdminPasswordCost: cheapPasswords})
	ctx := context.Background()
	a, _ := f.setUpAdmin(t, "a@example.com", store.RoleOwner, "long enough password")
	if err := f.svc.DeleteAdmin(ctx, a.Email); err != auth.ErrAdminLastOwner {
		t.Errorf("deleting the last owner: %v", err)
	}
	b, _ := f.setUpAdmin(t, "b@example.com", store.RoleOwner, "long enough password")
	if err := f.svc.DeleteAdmin(ctx, a.ID); err != nil {
		t.Errorf("deleting an owner while another exists: %v", err)
	}
	if err := f.svc.DeleteAdmin(ctx, b.Email); err != auth.ErrAdminLastOwner {
		t.Errorf("deleting the last owner: %v", err)
	}
	if err := f.svc.DeleteAdmin(ctx, "nobody@example.com"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("deleting an unknown admin: %v", err)
	}
}

func TestAdminMay(t *testing.T) {
	want := map[store.AdminRole][]auth.Permission{
		store.RoleOwner:         {auth.PermRead, auth.PermHelpDesk, auth.PermManage, auth.PermOwner},
		store.RoleAdministrator: {auth.PermRead, auth.PermHelpDesk, auth.PermManage},
		store.RoleHelpDesk:      {auth.PermRead, auth.PermHelpDesk},
		store.RoleReadOnly:      {auth.PermRead},
		"":                      nil,
	}
	for role, perms := range want {
		for _, p := range []auth.Permission{auth.PermRead, auth.PermHelpDesk, auth.PermManage, auth.PermOwner} {
			may := false
			for _, q := range perms {
				may = may || q == p
			}
			if got := auth.AdminMay(role, p); got != may {
				t.Errorf("AdminMay(%q, %d) = %v, want %v", role, p, got, may)
			}
		}
	}
	for in, want := range map[string]store.AdminRole{"owner": store.RoleOwner, "Help desk": store.RoleHelpDesk, "read-only": store.RoleReadOnly} {
		if got, err := auth.ParseAdminRole(in); err != nil || got != want {
			t.Errorf("ParseAdminRole(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := auth.ParseAdminRole("root"); err == nil {
		t.Error("ParseAdminRole(root) accepted")
	}
}

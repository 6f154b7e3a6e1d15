package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
)

// lastLog is the newest auth-log row of a user.
func (f *fixture) lastLog(t *testing.T, userID string) store.AuthLog {
	t.Helper()
	l := f.logs(t, userID)
	if len(l) == 0 {
		t.Fatal("no auth-log row")
	}
	return l[0]
}

func TestTOTPApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{TOTPIssuer: "ACME VPN"})
	alice := f.user(t, "alice", store.StatusActive)
	enr, err := f.svc.AddTOTPApp(ctx, "alice", auth.NewTOTPApp{Name: "Aegis", Digits: 8, Algorithm: "sha256"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := otp.ParseURI(enr.URI)
	if err != nil {
		t.Fatalf("ParseURI(%s): %v", enr.URI, err)
	}
	if key.Issuer != "ACME VPN" || key.Account != "alice" || key.Digits != 8 || key.Algorithm != otp.SHA256 ||
		key.Period != 30 || string(key.Secret) != string(enr.Secret) || !strings.HasPrefix(enr.Token.ID, "DH") {
		t.Fatalf("enrollment %+v, URI %s", enr.Token, enr.URI)
	}
	code := func(d time.Duration) string { return otp.TOTP(enr.Secret, f.clock.Now().Add(d), 30, 8, otp.SHA256) }

	// Unconfirmed, the app does not count: alice is not enrolled.
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil || pre.Result != auth.ResultEnroll {
		t.Fatalf("preauth before confirmation: %+v, %v", pre, err)
	}
	if res := f.passcode(t, "alice", code(0)); res.Result != auth.ResultDeny {
		t.Fatalf("code of an unconfirmed app: %+v", res)
	}
	if err := f.svc.ConfirmTOTPApp(ctx, "alice", enr.Token.ID, "12345678"); err != auth.ErrBadConfirmationCode {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	if err := f.svc.ConfirmTOTPApp(ctx, "bob", enr.Token.ID, code(0)); err == nil {
		t.Fatal("another user confirmed alice's app")
	}
	if err := f.svc.ConfirmTOTPApp(ctx, "alice", enr.Token.ID, code(0)); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	pre, err = f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil || pre.Result != auth.ResultAuth || len(pre.Devices) != 1 {
		t.Fatalf("preauth after confirmation: %+v, %v", pre, err)
	}
	if d := pre.Devices[0]; d.ID != enr.Token.ID || d.Type != "token" || d.Name != "Aegis" || len(d.Capabilities) != 0 {
		t.Errorf("preauth device %+v", d)
	}

	steps := []struct {
		name    string
		advance time.Duration // clock moves first
		code    func() string
		want    string
	}{
		{"the confirmation code again", 0, func() string { return code(0) }, auth.ResultDeny},
		{"next step", 30 * time.Second, func() string { return code(0) }, auth.ResultAllow},
		{"same code twice", 0, func() string { return code(0) }, auth.ResultDeny},
		{"two steps old", 30 * time.Second, func() string { return code(-60 * time.Second) }, auth.ResultDeny},
		{"two steps ahead", 0, func() string { return code(60 * time.Second) }, auth.ResultDeny},
		{"one step ahead", 0, func() string { return code(30 * time.Second) }, auth.ResultAllow},
		{"current, before the accepted one", 0, func() string { return code(0) }, auth.ResultDeny},
		{"wrong", 2 * time.Minute, func() string { return "00000000" }, auth.ResultDeny},
		{"one step behind", 0, func() string { return code(-30 * time.Second) }, auth.ResultAllow},
	}
	for _, st := range steps {
		f.clock.Set(f.clock.Now().Add(st.advance))
		res := f.passcode(t, "alice", st.code())
		if res.Result != st.want {
			t.Errorf("%s: %s, want %s", st.name, res.Result, st.want)
			continue
		}
		if l := f.lastLog(t, alice.ID); st.want == auth.ResultAllow && (l.Factor != "totp_app" || l.Device != enr.Token.ID) {
			t.Errorf("%s: logged factor %q device %q", st.name, l.Factor, l.Device)
		}
	}
	tok, err := f.st.GetToken(ctx, enr.Token.ID)
	if err != nil || tok.Drift != -1 {
		t.Errorf("remembered drift %d (%v), want -1", tok.Drift, err)
	}

	// The administrator's app is confirmed at once; removing works per user.
	adm, err := f.svc.AddTOTPApp(ctx, "alice", auth.NewTOTPApp{Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if res := f.passcode(t, "alice", otp.TOTP(adm.Secret, f.clock.Now(), 30, 6, otp.SHA1)); res.Result != auth.ResultAllow {
		t.Errorf("code of an administrator's app: %+v", res)
	}
	f.user(t, "bob", store.StatusActive)
	if err := f.svc.RemoveTOTPApp(ctx, "bob", adm.Token.ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("bob removed alice's app: %v", err)
	}
	if err := f.svc.RemoveTOTPApp(ctx, "alice", adm.Token.ID); err != nil {
		t.Errorf("remove: %v", err)
	}
	if list, _ := f.svc.UserTokens(ctx, "alice"); len(list) != 1 {
		t.Errorf("alice has %d apps after removing one of two", len(list))
	}
}

func TestAddTOTPAppValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	_, err := f.svc.AddTOTPApp(context.Background(), "alice", auth.NewTOTPApp{Digits: 7, Period: 5, Algorithm: "MD5"})
	for _, param := range []string{"digits", "period", "algorithm"} {
		if err == nil || !strings.Contains(err.Error(), param) {
			t.Errorf("error %v does not name %s", err, param)
		}
	}
	if _, err := f.svc.AddTOTPApp(context.Background(), "nobody", auth.NewTOTPApp{}); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("app for an unknown user: %v", err)
	}
}

func TestHardwareTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	alice := f.user(t, "alice", store.StatusActive)
	secret := []byte("12345678901234567890")
	added, err := f.svc.AddTokens(ctx, []auth.NewToken{
		{Kind: store.TokenH6, Serial: "H6-1", Secret: secret, Counter: 5},
		{Kind: store.TokenT8, Serial: "T8-1", Secret: secret, Step: 60, Algorithm: "SHA512"},
	})
	if err != nil || len(added) != 2 {
		t.Fatalf("AddTokens: %v", err)
	}
	hotp := func(c uint64) string { return otp.HOTP(secret, c, 6, otp.SHA1) }
	totp := func(d time.Duration) string { return otp.TOTP(secret, f.clock.Now().Add(d), 60, 8, otp.SHA512) }

	if res := f.passcode(t, "alice", hotp(5)); res.Result != auth.ResultDeny {
		t.Error("a code of an unassigned token was accepted")
	}
	for _, serial := range []string{"H6-1", "T8-1"} {
		if _, err := f.svc.AssignToken(ctx, serial, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name    string
		advance time.Duration
		code    func() string
		want    string
		factor  string
	}{
		{"HOTP first", 0, func() string { return hotp(5) }, auth.ResultAllow, "hardware_token"},
		{"HOTP again", 0, func() string { return hotp(5) }, auth.ResultDeny, ""},
		{"HOTP ahead in the window", 0, func() string { return hotp(15) }, auth.ResultAllow, "hardware_token"},
		{"HOTP skipped earlier", 0, func() string { return hotp(10) }, auth.ResultDeny, ""},
		{"HOTP beyond the window", 0, func() string { return hotp(26) }, auth.ResultDeny, ""},
		{"TOTP current", 0, func() string { return totp(0) }, auth.ResultAllow, "hardware_token"},
		{"TOTP replayed", 0, func() string { return totp(0) }, auth.ResultDeny, ""},
		{"TOTP two steps old", 2 * time.Minute, func() string { return totp(-2 * time.Minute) }, auth.ResultDeny, ""},
		{"TOTP current after", 0, func() string { return totp(0) }, auth.ResultAllow, "hardware_token"},
	}
	for _, st := range steps {
		f.clock.Set(f.clock.Now().Add(st.advance))
		res := f.passcode(t, "alice", st.code())
		if res.Result != st.want {
			t.Errorf("%s: %s, want %s", st.name, res.Result, st.want)
		} else if l := f.lastLog(t, alice.ID); st.factor != "" && l.Factor != st.factor {
			t.Errorf("%s: logged factor %q", st.name, l.Factor)
		}
	}

	// Resync: two consecutive codes far ahead move the counter past them.
	if _, err := f.svc.ResyncToken(ctx, "H6-1", hotp(500), hotp(502)); err != auth.ErrResyncFailed {
		t.Errorf("resync with codes not consecutive: %v", err)
	}
	tk, err := f.svc.ResyncToken(ctx, "H6-1", hotp(500), hotp(501))
	if err != nil || tk.Counter != 502 {
		t.Fatalf("resync: counter %d, %v", tk.Counter, err)
	}
	if res := f.passcode(t, "alice", hotp(501)); res.Result != auth.ResultDeny {
		t.Error("a resync code was accepted again")
	}
	if res := f.passcode(t, "alice", hotp(503)); res.Result != auth.ResultAllow {
		t.Error("the code after a resync was refused")
	}
	// A TOTP token whose clock runs 5 steps behind: resync records the
	// drift, and its window follows it.
	if _, err := f.svc.AddTokens(ctx, []auth.NewToken{{Kind: store.TokenT8, Serial: "T8-2", Secret: secret, Step: 60, Algorithm: "SHA512"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AssignToken(ctx, "T8-2", alice.ID); err != nil {
		t.Fatal(err)
	}
	if res := f.passcode(t, "alice", totp(-5*time.Minute)); res.Result != auth.ResultDeny {
		t.Error("a code 5 steps old was accepted before the resync")
	}
	tk, err = f.svc.ResyncToken(ctx, "T8-2", totp(-6*time.Minute), totp(-5*time.Minute))
	if err != nil || tk.Drift != -5 {
		t.Fatalf("TOTP resync: drift %d, %v", tk.Drift, err)
	}
	f.clock.Set(f.clock.Now().Add(time.Minute))
	if res := f.passcode(t, "alice", totp(-5*time.Minute)); res.Result != auth.ResultAllow {
		t.Error("the drifting token's current code was refused after its resync")
	}

	// Unassigned, its codes stop working; deleted, it is gone.
	if _, err := f.svc.AssignToken(ctx, "H6-1", ""); err != nil {
		t.Fatal(err)
	}
	if res := f.passcode(t, "alice", hotp(504)); res.Result != auth.ResultDeny {
		t.Error("a code of an unassigned token was accepted")
	}
	if err := f.svc.DeleteToken(ctx, "H6-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.HardwareToken(ctx, "H6-1"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("deleted token: %v", err)
	}
}

func TestAddTokensValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	secret := []byte("12345678901234567890")
	if _, err := f.svc.AddTokens(ctx, []auth.NewToken{{Kind: store.TokenH6, Serial: "taken", Secret: secret}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		list []auth.NewToken
		want []string
		kind auth.Kind
	}{
		{"every problem", []auth.NewToken{
			{Kind: "h7", Serial: "a b", Secret: secret},
			{Kind: store.TokenT6, Serial: "ok", Secret: []byte("short"), Step: 999},
			{Kind: store.TokenYubiKey, Serial: "y", PublicID: "xyz", PrivateID: []byte{1}, AESKey: []byte{2}},
			{Kind: store.TokenH8, Serial: "ok", Secret: secret},
		}, []string{"token 1", "type", "serial", "token 2", "secret", "totp_step", "token 3", "public_id", "private_id", "aes_key", "token 4", "appears twice"}, auth.KindInvalid},
		{"serial taken", []auth.NewToken{{Kind: store.TokenH6, Serial: "new", Secret: secret}, {Kind: store.TokenH8, Serial: "taken", Secret: secret}},
			[]string{`"taken"`}, auth.KindConflict},
	}
	for _, tt := range tests {
		_, err := f.svc.AddTokens(ctx, tt.list)
		if !auth.IsKind(err, tt.kind) {
			t.Errorf("%s: %v, want kind %d", tt.name, err, tt.kind)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", tt.name, err, w)
			}
		}
	}
	// Nothing of a refused batch was added.
	if _, err := f.svc.HardwareToken(ctx, "new"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("a token of a refused batch exists: %v", err)
	}
}

// An asynchronous passcode check with a token records its decision for
// auth_status; the transaction names no device (a token is none).
func TestTokenAsync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	enr, err := f.svc.AddTOTPApp(ctx, "alice", auth.NewTOTPApp{Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Auth(ctx, auth.AuthRequest{
		Request: auth.Request{Integration: f.in, Username: "alice"}, Async: true,
		Factor: auth.FactorPasscode, Passcode: otp.TOTP(enr.Secret, f.clock.Now(), 30, 6, otp.SHA1),
	})
	if err != nil || res.TxID == "" {
		t.Fatalf("async auth: %+v, %v", res, err)
	}
	st, err := f.svc.AuthStatus(ctx, f.in, res.TxID)
	if err != nil || st.Result != auth.ResultAllow {
		t.Fatalf("auth_status: %+v, %v", st, err)
	}
}

package auth_test

import (
	"context"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/yubiotp"
)

// ykOTP generates an OTP as a YubiKey would (package yubiotp, which the
// installation wires as the core's YubiKeyOTP).
func ykOTP(t *testing.T, public string, private, key []byte, use uint16, session byte) string {
	t.Helper()
	tok := yubiotp.Token{UseCounter: use, SessionCounter: session, Timestamp: 0x030201, Random: 0xa55a}
	copy(tok.PrivateID[:], private)
	otp, err := yubiotp.Generate(public, key, tok)
	if err != nil {
		t.Fatal(err)
	}
	return otp
}

func TestYubiKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{YubiKey: yubiotp.Codec{}})
	alice := f.user(t, "alice", store.StatusActive)
	public, private, key := "vvccccfiluij", []byte{1, 2, 3, 4, 5, 6}, []byte("0123456789abcdef")
	if _, err := f.svc.AddTokens(ctx, []auth.NewToken{{Kind: store.TokenYubiKey, Serial: "12345", PublicID: public, PrivateID: private, AESKey: key}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AssignToken(ctx, "12345", "alice"); err != nil {
		t.Fatal(err)
	}
	otp := func(use uint16, session byte) string { return ykOTP(t, public, private, key, use, session) }
	for _, st := range []struct {
		name string
		otp  string
		want string
	}{
		{"first", otp(3, 0), auth.ResultAllow},
		{"replayed", otp(3, 0), auth.ResultDeny},
		{"next in the session", otp(3, 1), auth.ResultAllow},
		{"earlier session", otp(2, 9), auth.ResultDeny},
		{"new session", otp(4, 0), auth.ResultAllow},
		{"another key's private ID", ykOTP(t, public, []byte{9, 9, 9, 9, 9, 9}, key, 5, 0), auth.ResultDeny},
		{"another AES key", ykOTP(t, public, private, []byte("fedcba9876543210"), 5, 0), auth.ResultDeny},
		{"another public ID", ykOTP(t, "vvccccfilukk", private, key, 5, 0), auth.ResultDeny},
	} {
		res := f.passcode(t, "alice", st.otp)
		if res.Result != st.want {
			t.Errorf("%s: %s, want %s", st.name, res.Result, st.want)
		} else if l := f.lastLog(t, alice.ID); st.want == auth.ResultAllow && l.Factor != "yubikey_code" {
			t.Errorf("%s: logged factor %q", st.name, l.Factor)
		}
	}
}

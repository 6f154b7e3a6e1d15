package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/otp"
)

// The token and app commands against a temporary installation: what they
// print, and that what they store authenticates (checked by reading back).
func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := runCA(t, dir, args...)
		if err != nil {
			t.Fatalf("assent %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	run("user", "create", "alice")

	var added totpAddJSON
	if err := json.Unmarshal([]byte(run("user", "totp", "add", "alice", "--name", "Aegis", "--digits", "8", "--algorithm", "SHA256", "--json")), &added); err != nil {
		t.Fatal(err)
	}
	key, err := otp.ParseURI(added.OTPAuthURI)
	if err != nil || key.Issuer != "Assent" || key.Account != "alice" || key.Digits != 8 || key.Algorithm != otp.SHA256 {
		t.Fatalf("otpauth_uri %q: %+v, %v", added.OTPAuthURI, key, err)
	}
	b64, ok := strings.CutPrefix(added.QRURL, "data:image/png;base64,")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil {
		t.Fatalf("qr_url is not a PNG data: URL: %.60s", added.QRURL)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("qr_url PNG: %v", err)
	}
	var apps []tokenJSON
	if err := json.Unmarshal([]byte(run("user", "totp", "list", "alice", "--json")), &apps); err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].TokenID != added.DeviceID || !apps[0].Confirmed || apps[0].Name != "Aegis" {
		t.Fatalf("totp list: %+v", apps)
	}

	secret := "3132333435363738393031323334353637383930"
	run("token", "add", "--type", "h6", "--serial", "H-1", "--secret", secret, "--counter", "3")
	run("token", "add", "--type", "t8", "--serial", "T-1", "--secret-base32", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "--step", "60")
	if out := run("token", "assign", "H-1", "alice"); !strings.Contains(out, "assigned to alice") {
		t.Errorf("assign: %q", out)
	}
	// Resync from codes 100 and 101 moves the counter to 102.
	key20 := []byte("12345678901234567890")
	var tok tokenJSON
	if err := json.Unmarshal([]byte(run("token", "resync", "H-1", otp.HOTP(key20, 100, 6, otp.SHA1), otp.HOTP(key20, 101, 6, otp.SHA1), "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Username != "alice" || tok.LastUsed == nil || time.Since(time.Unix(*tok.LastUsed, 0)) > time.Minute {
		t.Errorf("resync: %+v", tok)
	}
	list := run("token", "list")
	for _, want := range []string{"H-1", "h6", "alice", "T-1", "t8"} {
		if !strings.Contains(list, want) {
			t.Errorf("token list does not show %q:\n%s", want, list)
		}
	}
	run("token", "unassign", "H-1")
	run("token", "delete", "H-1")
	run("user", "totp", "remove", "alice", added.DeviceID)
	if out := run("user", "totp", "list", "alice", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after removing: %s", out)
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"token", "add", "--type", "h7", "--serial", "a b", "--secret", "00"}, []string{"type", "serial"}},
		{[]string{"token", "add", "--type", "h6", "--serial", "x", "--secret", "zz", "--aes-key", "q"}, []string{"--secret", "--aes-key"}},
		{[]string{"token", "add", "--type", "t6", "--serial", "T-1", "--secret", secret}, []string{"exists"}},
		{[]string{"token", "resync", "T-1", "123", "456"}, []string{"consecutive"}},
		{[]string{"token", "assign", "nope", "alice"}, []string{"no hardware token"}},
		{[]string{"user", "totp", "add", "bob"}, []string{"no user"}},
	} {
		_, err := runCA(t, dir, tc.args...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("assent %s: error %v, want it to mention %q", strings.Join(tc.args, " "), err, w)
			}
		}
	}
}

package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// The token and app commands against a temporary installation: what they
// print, and that what they store authenticates (checked by reading back).
func TestTokenCommands(t *testing.T) {
	dir := newInstallation(t)
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

// TestTokenImport: tokens imported from RFC 6030's example PSKC files
// (plain and encrypted with a pre-shared key) and from a CSV file, then
// assigned, authenticate with the codes Debian's oathtool computes from
// the same secrets, once each.
func TestTokenImport(t *testing.T) {
	oathtool, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	dir := newInstallation(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := runCA(t, dir, args...)
		if err != nil {
			t.Fatalf("assent %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	run("user", "create", "alice")
	const rfcSecret = "3132333435363738393031323334353637383930" // "12345678901234567890"
	csv := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(csv, []byte("serial,type,secret,step\nC-1,t6,"+rfcSecret+",60\nC-2,h6,"+rfcSecret+",\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("qwerty\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pskc := func(name string) string { return filepath.Join("..", "tokenimport", "testdata", name) }
	tests := []struct {
		name   string
		args   []string
		serial string
		code   []string // oathtool arguments for a current code
	}{
		{"PSKC plain (RFC 6030 figure 3)", []string{pskc("rfc6030-figure3.xml")}, "987654321", []string{"-d", "8", "-c", "0"}},
		{"PSKC encrypted (RFC 6030 figure 6)", []string{pskc("rfc6030-figure6.xml"), "--key", "12345678901234567890123456789012"},
			"987654321", []string{"-d", "8", "-c", "3"}},
		{"PSKC with a password (RFC 6030 figure 7)", []string{pskc("rfc6030-figure7.xml"), "--password-file", pwFile},
			"987654321", []string{"-d", "8", "-c", "0"}},
		{"CSV TOTP", []string{csv}, "C-1", []string{"--totp", "-s", "60", "-d", "6"}},
		{"CSV HOTP", nil, "C-2", []string{"-c", "0"}},
	}
	for _, tt := range tests {
		if tt.args != nil {
			run(append([]string{"token", "import"}, tt.args...)...)
		}
		run("token", "assign", tt.serial, "alice")
		code, err := exec.Command(oathtool, append(tt.code, rfcSecret)...).Output()
		if err != nil {
			t.Fatalf("%s: oathtool: %v", tt.name, err)
		}
		for i, want := range []string{auth.ResultAllow, auth.ResultDeny} {
			if got := passcodeAuth(t, dir, "alice", strings.TrimSpace(string(code))); got != want {
				t.Errorf("%s: attempt %d: %s, want %s", tt.name, i+1, got, want)
			}
		}
		run("token", "unassign", tt.serial)
		if tt.serial == "987654321" {
			run("token", "delete", tt.serial) // the next file has the same serial
		}
	}
	// A broken file adds nothing and names every problem.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("B-1,zz\nB-2,"+rfcSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runCA(t, dir, "token", "import", bad, "--type", "h6"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("import of a broken file: %v", err)
	}
	if list := run("token", "list"); strings.Contains(list, "B-2") {
		t.Errorf("a token of a refused file was added:\n%s", list)
	}
}

// passcodeAuth opens the installation in dir as the server does and
// authenticates user with code through the core.
func passcodeAuth(t *testing.T, dir, user, code string) string {
	t.Helper()
	cfg, err := config.Load(config.Sources{Flags: map[string]string{"data_dir": dir, "public_hostname": "mfa.example.com:8443"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	in, _, err := a.Core.CreateIntegration(t.Context(), auth.NewIntegration{Name: "test", Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Core.Auth(t.Context(), auth.AuthRequest{Request: auth.Request{Integration: in, Username: user},
		Factor: auth.FactorPasscode, Passcode: code})
	if err != nil {
		t.Fatal(err)
	}
	return res.Result
}

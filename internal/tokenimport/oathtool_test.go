package tokenimport

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// hotp is RFC 4226 HOTP with HMAC-SHA1, kept here so that this package's
// tests do not depend on the OTP package the core uses.
func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, code%mod)
}

func TestHOTPHelperRFC4226(t *testing.T) {
	t.Parallel()
	// RFC 4226 Appendix D.
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp([]byte("12345678901234567890"), uint64(i), 6); got != w {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, w)
		}
	}
	// RFC 6238 Appendix B, SHA1, T = 59 s: counter 1, 8 digits.
	if got := hotp([]byte("12345678901234567890"), 59/30, 8); got != "94287082" {
		t.Errorf("TOTP(59) = %s, want 94287082", got)
	}
}

// TestImportedTokensMatchOathtool imports the RFC 6030 examples, a TOTP
// file and a CSV, and checks that oathtool computes, from each imported
// secret, counter and step, the codes computed here.
func TestImportedTokensMatchOathtool(t *testing.T) {
	t.Parallel()
	oathtool, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)

	var toks []Token
	for _, f := range []struct {
		name string
		key  string
	}{{"rfc6030-figure3.xml", ""}, {"rfc6030-figure6.xml", "12345678901234567890123456789012"}, {"rfc6030-figure7.xml", "651e63cd57008476af1ff6422cd02e41"}, {"totp.xml", ""}} {
		var key []byte
		if f.key != "" {
			key = unhex(t, f.key)
		}
		got, err := ParsePSKC(strings.NewReader(readTestdata(t, f.name)), key)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		toks = append(toks, got...)
	}
	csvToks, err := ParseCSV(strings.NewReader("C1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,5\nC2,"+strings.Repeat("a1b2c3d4", 4)+",123456789\n"), Options{Type: "h6"})
	if err != nil {
		t.Fatal(err)
	}
	toks = append(toks, csvToks...)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, oathtool, args...).Output()
		if err != nil {
			t.Fatalf("oathtool %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	now := time.Now().Unix()
	for _, tk := range toks {
		digits := Digits(tk.Type)
		secret := hex.EncodeToString(tk.Secret)
		if IsHOTP(tk.Type) {
			// Three codes from the imported counter on.
			got := run("--hotp", "--digits="+strconv.Itoa(digits), "--counter="+strconv.FormatUint(tk.Counter, 10), "--window=2", secret)
			var want []string
			for i := range uint64(3) {
				want = append(want, hotp(tk.Secret, tk.Counter+i, digits))
			}
			if got != strings.Join(want, "\n") {
				t.Errorf("%s %s: oathtool %q, here %q", tk.Type, tk.Serial, got, want)
			}
			continue
		}
		// TOTP at a fixed time, so the test does not race the clock.
		at := now - now%int64(tk.Step)
		got := run("--totp", "--digits="+strconv.Itoa(digits), "--time-step-size="+strconv.Itoa(tk.Step)+"s",
			"--now=@"+strconv.FormatInt(at, 10), secret)
		if want := hotp(tk.Secret, uint64(at)/uint64(tk.Step), digits); got != want {
			t.Errorf("%s %s: oathtool %q, here %q", tk.Type, tk.Serial, got, want)
		}
	}
	if len(toks) != 7 {
		t.Errorf("%d tokens imported, want 7", len(toks))
	}
}

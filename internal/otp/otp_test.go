package otp

import (
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// RFC 4226 Appendix D.
func TestHOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for c, w := range want {
		if got := HOTP(key, uint64(c), 6, SHA1); got != w {
			t.Errorf("HOTP(count %d) = %s, want %s", c, got, w)
		}
	}
}

// RFC 6238 Appendix B (8 digits, 30-second steps).
func TestTOTPVectors(t *testing.T) {
	keys := map[Algorithm][]byte{
		SHA1:   []byte("12345678901234567890"),
		SHA256: []byte("12345678901234567890123456789012"),
		SHA512: []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	tests := []struct {
		unix int64
		step string // T in hex, as the RFC's table
		want map[Algorithm]string
	}{
		{59, "0000000000000001", map[Algorithm]string{SHA1: "94287082", SHA256: "46119246", SHA512: "90693936"}},
		{1111111109, "00000000023523EC", map[Algorithm]string{SHA1: "07081804", SHA256: "68084774", SHA512: "25091201"}},
		{1111111111, "00000000023523ED", map[Algorithm]string{SHA1: "14050471", SHA256: "67062674", SHA512: "99943326"}},
		{1234567890, "000000000273EF07", map[Algorithm]string{SHA1: "89005924", SHA256: "91819424", SHA512: "93441116"}},
		{2000000000, "0000000003F940AA", map[Algorithm]string{SHA1: "69279037", SHA256: "90698825", SHA512: "38618901"}},
		{20000000000, "0000000027BC86AA", map[Algorithm]string{SHA1: "65353130", SHA256: "77737706", SHA512: "47863826"}},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0)
		step, _ := strconv.ParseUint(tt.step, 16, 64)
		if got := Step(at, 30); got != step {
			t.Errorf("Step(%d) = %X, want %s", tt.unix, got, tt.step)
		}
		for alg, want := range tt.want {
			if got := TOTP(keys[alg], at, 30, 8, alg); got != want {
				t.Errorf("TOTP(%d, %s) = %s, want %s", tt.unix, alg, got, want)
			}
		}
	}
}

func TestFindCounter(t *testing.T) {
	key := []byte("12345678901234567890")
	p := Params{Digits: 6, Algorithm: SHA1}
	tests := []struct {
		name   string
		from   uint64
		window int
		code   string
		want   uint64
		ok     bool
	}{
		{"first", 0, 10, "755224", 0, true},
		{"inside", 3, 10, "520489", 9, true},
		{"before the window", 4, 10, "969429", 0, false},
		{"after the window", 0, 5, "254676", 0, false},
		{"wrong length", 0, 10, "75522", 0, false},
		{"wrong code", 0, 10, "000000", 0, false},
	}
	for _, tt := range tests {
		got, ok := FindCounter(key, tt.from, tt.window, tt.code, p)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: FindCounter = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"": SHA1, "sha1": SHA1, "SHA-256": SHA256, "sha512": SHA512} {
		if got, err := ParseAlgorithm(in); err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseAlgorithm("MD5"); err == nil {
		t.Error("ParseAlgorithm(MD5) succeeded")
	}
}

// The codes agree with oathtool's (Debian), the program administrators
// and the end-to-end tests check tokens with.
func TestOathtool(t *testing.T) {
	path, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool", err == nil)
	key := []byte("an authenticator-app secret!")
	hexKey := hex.EncodeToString(key)
	at := time.Unix(1767225600, 0) // 2026-01-01
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-c", "7", hexKey}, HOTP(key, 7, 6, SHA1)},
		{[]string{"-d", "8", "-c", "123456", hexKey}, HOTP(key, 123456, 8, SHA1)},
		{[]string{"--totp", "-s", "30", "-d", "6", "-N", at.UTC().Format(time.RFC3339), hexKey}, TOTP(key, at, 30, 6, SHA1)},
		{[]string{"--totp=sha256", "-s", "60", "-d", "8", "-N", at.UTC().Format(time.RFC3339), hexKey}, TOTP(key, at, 60, 8, SHA256)},
		{[]string{"--totp=sha512", "-N", at.UTC().Format(time.RFC3339), hexKey}, TOTP(key, at, 30, 6, SHA512)},
	}
	for _, tt := range tests {
		out, err := exec.Command(path, tt.args...).Output()
		if err != nil {
			t.Fatalf("oathtool %v: %v", tt.args, err)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("oathtool %v = %s, we compute %s", tt.args, got, tt.want)
		}
	}
}

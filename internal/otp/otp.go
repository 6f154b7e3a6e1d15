// Package otp computes and checks one-time passwords: HOTP (RFC 4226) and
// TOTP (RFC 6238) with SHA-1, SHA-256 or SHA-512 and 6 or 8 digits, and
// reads and writes the otpauth:// key URIs that authenticator apps scan
// (Google's Key Uri Format). It is a leaf: it knows nothing of users,
// stores or counters kept elsewhere; callers decide which counters or time
// steps to try and remember what was used.
package otp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"time"
)

// Algorithm is the HMAC hash of a code.
type Algorithm string

// The algorithms of RFC 6238.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// ParseAlgorithm reads an algorithm name, case-insensitively, with or
// without a dash (SHA-256). The empty string is SHA1, the default of every
// app and of RFC 4226.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToUpper(strings.ReplaceAll(s, "-", "")) {
	case "", "SHA1":
		return SHA1, nil
	case "SHA256":
		return SHA256, nil
	case "SHA512":
		return SHA512, nil
	}
	return "", fmt.Errorf("unknown algorithm %q (SHA1, SHA256 or SHA512)", s)
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return sha1.New
}

// Valid reports whether a is one of SHA1, SHA256 and SHA512.
func (a Algorithm) Valid() bool { return a == SHA1 || a == SHA256 || a == SHA512 }

// ValidDigits reports whether n is a code length this package produces
// (RFC 4226 allows 6 to 8; apps and tokens use 6 or 8).
func ValidDigits(n int) bool { return n == 6 || n == 8 }

// Default parameters, as in every authenticator app.
const (
	DefaultDigits = 6
	DefaultPeriod = 30 // seconds
)

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// HOTP returns the RFC 4226 code of key at counter, with digits digits (1
// to 9; 6 or 8 in practice) and the HMAC of alg (SHA1 when empty or
// unknown).
func HOTP(key []byte, counter uint64, digits int, alg Algorithm) string {
	if digits < 1 || digits > 9 {
		digits = DefaultDigits
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(alg.hash(), key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", digits, bin%pow10[digits])
}

// Step is the RFC 6238 time step of t for a period of period seconds
// (T0 = 0). Times before the epoch are step 0.
func Step(t time.Time, period int) uint64 {
	if period <= 0 {
		period = DefaultPeriod
	}
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return uint64(u) / uint64(period)
}

// TOTP returns the RFC 6238 code of key at time t.
func TOTP(key []byte, t time.Time, period, digits int, alg Algorithm) string {
	return HOTP(key, Step(t, period), digits, alg)
}

// Equal compares two codes in constant time (for codes of equal length).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Params are what a code is computed with besides the key and counter.
type Params struct {
	Digits    int
	Algorithm Algorithm
}

// FindCounter returns the first counter c in [from, from+window) whose
// code is code, checking every candidate in the same way so the time taken
// does not depend on where (or whether) the code matched.
func FindCounter(key []byte, from uint64, window int, code string, p Params) (uint64, bool) {
	if len(code) != p.Digits {
		return 0, false
	}
	var found uint64
	ok := false
	for i := range window {
		c := from + uint64(i)
		if c < from { // wrapped
			break
		}
		if Equal(HOTP(key, c, p.Digits, p.Algorithm), code) && !ok {
			found, ok = c, true
		}
	}
	return found, ok
}

// Package passhash hashes passwords with Argon2id (RFC 9106) and encodes
// the result as a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash), the
// format of the reference implementation, so the parameters travel with
// each hash and can be raised later without breaking existing ones.
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id's costs.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// Default follows RFC 9106's second recommended option (64 MiB, 3
// passes, 4 lanes): a few tens of milliseconds per sign-in.
var Default = Params{Memory: 64 * 1024, Time: 3, Threads: 4}

const (
	saltLen = 16
	keyLen  = 32
	// Limits on what a stored string may ask for, so a tampered row
	// cannot make a sign-in allocate gigabytes or loop for minutes.
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 64
)

// ErrMalformed is returned for a string that is not an Argon2id PHC hash
// this package can verify.
var ErrMalformed = errors.New("passhash: malformed hash")

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of password with a fresh random salt.
func Hash(password string, p Params) (string, error) {
	if p == (Params{}) {
		p = Default
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passhash: salt: %w", err)
	}
	return encode(p, salt, argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)), nil
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Decoded is a parsed PHC string.
type Decoded struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// Decode parses an Argon2id PHC string.
func Decode(s string) (Decoded, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Decoded{}, ErrMalformed
	}
	var d Decoded
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Decoded{}, ErrMalformed
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || (len(v) > 1 && v[0] == '0') {
			return Decoded{}, ErrMalformed
		}
		switch {
		case k == "m" && seen == 0:
			d.Params.Memory = uint32(n)
		case k == "t" && seen == 1:
			d.Params.Time = uint32(n)
		case k == "p" && seen == 2 && n <= 255:
			d.Params.Threads = uint8(n)
		default:
			return Decoded{}, ErrMalformed
		}
		seen++
	}
	p := d.Params
	if seen != 3 || p.Threads < 1 || p.Time < 1 || p.Time > maxTime || p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return Decoded{}, ErrMalformed
	}
	// encoding/base64 skips '\r' and '\n' even in strict mode: refuse them,
	// so that a string decodes only if it is exactly what Encode writes.
	if strings.ContainsAny(parts[4], "\r\n") || strings.ContainsAny(parts[5], "\r\n") {
		return Decoded{}, ErrMalformed
	}
	var err error
	if d.Salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(d.Salt) < 8 {
		return Decoded{}, ErrMalformed
	}
	if d.Key, err = b64.Strict().DecodeString(parts[5]); err != nil || len(d.Key) < 16 || len(d.Key) > 64 {
		return Decoded{}, ErrMalformed
	}
	return d, nil
}

// Verify reports whether password matches the PHC string encoded, in time
// that does not depend on how much of the key matched.
func Verify(password, encoded string) (bool, error) {
	d, err := Decode(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), d.Salt, d.Params.Time, d.Params.Memory, d.Params.Threads, uint32(len(d.Key)))
	return subtle.ConstantTimeCompare(key, d.Key) == 1, nil
}

// NeedsRehash reports whether encoded was made with costs other than p
// (a sign-in can then store a new hash).
func NeedsRehash(encoded string, p Params) bool {
	d, err := Decode(encoded)
	return err != nil || d.Params != p
}

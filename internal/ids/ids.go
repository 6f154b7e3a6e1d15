// Package ids makes identifiers shaped like Duo's: a two-letter prefix and
// 18 upper-case alphanumerics (DI… integrations, DU… users, DP… devices),
// and lower-case UUIDs for transactions.
package ids

import (
	"crypto/rand"
	"math/big"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Prefixes used by Assent.
const (
	Integration = "DI"
	User        = "DU"
	Device      = "DP"
	BypassCode  = "DB"
)

// New returns prefix followed by 18 random characters from [A-Z0-9].
func New(prefix string) string {
	return prefix + Random(18, alphabet)
}

// Random returns n characters drawn uniformly from alphabet using crypto/rand.
func Random(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("crypto/rand failed: " + err.Error()) // the OS RNG never fails on Linux
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// TxID returns a random (version 4) UUID in lower case.
func TxID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[v>>4], hex[v&0x0f])
	}
	return string(out)
}

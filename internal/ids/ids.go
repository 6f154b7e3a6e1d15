// Package ids makes identifiers shaped like Duo's: a two-letter prefix and
// 18 upper-case alphanumerics (DI… integrations, DU… users, DP… devices),
// and lower-case UUIDs for transactions.
package ids

import "crypto/rand"

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Prefixes used by Assent.
const (
	Integration = "DI"
	User        = "DU"
	Device      = "DP"
	BypassCode  = "DB"
	Token       = "DH" // authenticator apps and hardware tokens, as Duo names tokens
	WebAuthn    = "DW" // a WebAuthn credential (security key, passkey)
	Group       = "DG" // a group of users, as Duo names groups
	Admin       = "DE" // a console administrator, as Duo names admins
)

// New returns prefix followed by 18 random characters from [A-Z0-9].
func New(prefix string) string {
	return prefix + Random(18, alphabet)
}

// Random returns n characters drawn uniformly from alphabet (1 to 256
// bytes) using crypto/rand. Random bytes at or above the largest multiple
// of len(alphabet) are rejected, so every character is equally likely;
// reading the bytes in blocks keeps a million IDs (`assent bench seed`)
// to about a second.
func Random(n int, alphabet string) string {
	k := len(alphabet)
	if k == 0 || k > 256 {
		panic("ids: alphabet must have 1 to 256 characters")
	}
	limit := 256 - 256%k // bytes below limit map evenly onto the alphabet
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("crypto/rand failed: " + err.Error()) // the OS RNG never fails on Linux
		}
		for _, v := range buf {
			if int(v) < limit {
				out = append(out, alphabet[int(v)%k])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
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

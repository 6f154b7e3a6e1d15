// Package secrets protects values at rest with a server master key.
//
// A Box seals values (integration secret keys, OTP seeds, …) with
// AES-256-GCM under a key derived from the master key, and derives keyed
// hashes ("peppers") for values that are only ever compared, such as bypass
// codes. The master key itself lives outside the database: in a key file
// (LoadOrCreateKeyFile) or in the environment (ParseKey).
package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// KeySize is the length in bytes of a master key.
const KeySize = 32

// sealVersion is the first byte of every sealed value.
const sealVersion byte = 1

const (
	nonceSize = 12
	tagSize   = 16

	sealInfo   = "assent seal v1"
	pepperInfo = "assent pepper v1\x00" // followed by the purpose
)

// ErrDecrypt is wrapped by every error Open returns: the value was sealed
// under another master key or other associated data, or it was altered.
var ErrDecrypt = errors.New("secrets: cannot decrypt value (wrong master key, wrong associated data, or corrupted data)")

// Box seals and opens values under one master key. It is safe for
// concurrent use.
type Box struct {
	master []byte
	aead   cipher.AEAD
	// peppers: purpose → Pepper(purpose), derived once. They are keys
	// derived from master, which the Box holds anyway; KeyedHash runs on
	// every bypass-code check, where deriving (HKDF, two HMACs) cost as
	// much as the hash itself.
	peppers sync.Map
}

// New returns a Box for a 32-byte master key. The key is copied.
func New(masterKey []byte) (*Box, error) {
	if len(masterKey) != KeySize {
		return nil, fmt.Errorf("secrets: master key must be %d bytes, got %d", KeySize, len(masterKey))
	}
	master := append([]byte(nil), masterKey...)
	encKey, err := hkdf.Key(sha256.New, master, nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("secrets: deriving encryption key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Box{master: master, aead: aead}, nil
}

// String keeps key material out of logs and error messages.
func (b *Box) String() string { return "secrets.Box{…}" }

// GoString keeps key material out of %#v output.
func (b *Box) GoString() string { return b.String() }

// Seal encrypts plaintext, binding it to ad (associated data, e.g. the
// integration key of the row that stores it). The result is
// version byte || 12-byte random nonce || ciphertext || 16-byte tag.
func (b *Box) Seal(plaintext, ad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+tagSize)
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("secrets: reading random nonce: %w", err)
	}
	return b.aead.Seal(out, out[1:1+nonceSize], plaintext, ad), nil
}

// Open decrypts a value produced by Seal with the same associated data.
// Every failure returns an error wrapping ErrDecrypt.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: sealed value too short (%d bytes)", ErrDecrypt, len(sealed))
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrDecrypt, sealed[0])
	}
	nonce := sealed[1 : 1+nonceSize]
	pt, err := b.aead.Open(nil, nonce, sealed[1+nonceSize:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Pepper returns a 32-byte subkey of the master key for one purpose (e.g.
// "bypass code"). Different purposes give independent keys.
func (b *Box) Pepper(purpose string) []byte {
	return bytes.Clone(b.pepper(purpose))
}

// pepper returns Pepper(purpose), shared with the Box's cache: read-only.
func (b *Box) pepper(purpose string) []byte {
	if k, ok := b.peppers.Load(purpose); ok {
		return k.([]byte)
	}
	k, err := hkdf.Key(sha256.New, b.master, nil, pepperInfo+purpose, 32)
	if err != nil {
		// Only possible for output lengths far above 32 bytes.
		panic("secrets: hkdf: " + err.Error())
	}
	b.peppers.Store(purpose, k)
	return k
}

// KeyedHash returns HMAC-SHA256 under Pepper(purpose) of the parts, each
// prefixed with its length, so that ("ab","c") and ("a","bc") differ.
func (b *Box) KeyedHash(purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, b.pepper(purpose))
	size := 0
	for _, p := range parts {
		size += 8 + len(p)
	}
	buf := make([]byte, 0, size) // one write: one allocation, not one per part
	for _, p := range parts {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	m.Write(buf)
	return m.Sum(make([]byte, 0, sha256.Size))
}

// KeyCheck returns a short, non-secret fingerprint of the master key (32
// hex characters). The server stores it in the database and compares it on
// start, to report a wrong master key clearly instead of failing to decrypt
// later.
func (b *Box) KeyCheck() string {
	m := hmac.New(sha256.New, b.pepper("key check"))
	m.Write([]byte("assent"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

package yubiotp

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

const (
	// CiphertextLen is the size of the encrypted block, in bytes.
	CiphertextLen = 16
	// MaxPublicIDLen is the longest public identity a YubiKey prefixes,
	// in bytes (twice that in modhex characters).
	MaxPublicIDLen = 16
	// KeyLen is the size of an AES key, in bytes.
	KeyLen = 16
	// PrivateIDLen is the size of the private identity, in bytes.
	PrivateIDLen = 6

	otpChars = 2 * CiphertextLen
	// crcResidue is the CRC-16 of a block that carries its own correct CRC.
	crcResidue = 0xf0b8
	// capsLockBit is set in the raw use counter when caps lock was on.
	capsLockBit = 0x8000
	// MaxUseCounter is the highest use counter a YubiKey reaches.
	MaxUseCounter = 0x7fff
	// MaxTimestamp is the highest 24-bit timestamp.
	MaxTimestamp = 0xffffff
)

var (
	// ErrFormat reports an OTP that is not modhex of the right length.
	ErrFormat = errors.New("yubiotp: malformed OTP")
	// ErrCRC reports a block whose CRC does not check: the wrong AES key,
	// or a corrupted OTP.
	ErrCRC = errors.New("yubiotp: CRC mismatch (wrong AES key or corrupted OTP)")
	// ErrPrivateID reports an OTP that decrypts with the key but carries
	// another private identity.
	ErrPrivateID = errors.New("yubiotp: private identity does not match")
	// ErrKey reports an AES key or private identity of the wrong size.
	ErrKey = errors.New("yubiotp: bad key")
)

// Token is the decrypted content of an OTP.
type Token struct {
	PrivateID [PrivateIDLen]byte
	// UseCounter counts power-ups (non-volatile), without the caps-lock
	// bit: 0..MaxUseCounter.
	UseCounter uint16
	// CapsLock reports that caps lock was on when the OTP was typed (the
	// top bit of the raw counter, which YubiKeys use as a flag).
	CapsLock bool
	// Timestamp is the 24-bit, 8 Hz timer started at power-up.
	Timestamp uint32
	// SessionCounter counts OTPs since power-up.
	SessionCounter uint8
	Random         uint16
}

// Parse splits an OTP as a YubiKey types it into its public identity (0 to
// 32 modhex characters, returned in lower case) and the 16-byte
// ciphertext. Case does not matter; surrounding white space is ignored.
func Parse(otp string) (publicID string, ciphertext []byte, err error) {
	otp = strings.ToLower(strings.TrimSpace(otp))
	n := len(otp)
	switch {
	case n < otpChars:
		return "", nil, fmt.Errorf("%w: %d characters, want %d to %d", ErrFormat, n, otpChars, otpChars+2*MaxPublicIDLen)
	case n > otpChars+2*MaxPublicIDLen:
		return "", nil, fmt.Errorf("%w: %d characters, want at most %d", ErrFormat, n, otpChars+2*MaxPublicIDLen)
	case n%2 != 0:
		return "", nil, fmt.Errorf("%w: odd length %d (a public identity is whole bytes)", ErrFormat, n)
	}
	publicID = otp[:n-otpChars]
	if _, err := ModhexDecode(publicID); err != nil {
		return "", nil, fmt.Errorf("%w: public identity: %w", ErrFormat, err)
	}
	ciphertext, err = ModhexDecode(otp[n-otpChars:])
	if err != nil {
		return "", nil, fmt.Errorf("%w: encrypted part: %w", ErrFormat, err)
	}
	return publicID, ciphertext, nil
}

// Decrypt decrypts one block with aesKey and checks its CRC. A wrong key
// passes the CRC once in 65536 tries: callers also compare the private
// identity (Verify does).
func Decrypt(aesKey, ciphertext []byte) (Token, error) {
	if len(aesKey) != KeyLen {
		return Token{}, fmt.Errorf("%w: AES key of %d bytes, want %d", ErrKey, len(aesKey), KeyLen)
	}
	if len(ciphertext) != CiphertextLen {
		return Token{}, fmt.Errorf("%w: ciphertext of %d bytes, want %d", ErrFormat, len(ciphertext), CiphertextLen)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrKey, err)
	}
	var p [CiphertextLen]byte
	block.Decrypt(p[:], ciphertext)
	if crc16(p[:]) != crcResidue {
		return Token{}, ErrCRC
	}
	var t Token
	copy(t.PrivateID[:], p[0:6])
	raw := binary.LittleEndian.Uint16(p[6:8])
	t.UseCounter = raw &^ capsLockBit
	t.CapsLock = raw&capsLockBit != 0
	t.Timestamp = uint32(binary.LittleEndian.Uint16(p[8:10])) | uint32(p[10])<<16
	t.SessionCounter = p[11]
	t.Random = binary.LittleEndian.Uint16(p[12:14])
	return t, nil
}

// Verify parses otp, decrypts it with aesKey and checks that it carries
// privateID (compared in constant time). It does not judge the counters:
// compare the result to the last accepted token with Newer.
func Verify(otp string, aesKey, privateID []byte) (publicID string, t Token, err error) {
	if len(privateID) != PrivateIDLen {
		return "", Token{}, fmt.Errorf("%w: private identity of %d bytes, want %d", ErrKey, len(privateID), PrivateIDLen)
	}
	publicID, ct, err := Parse(otp)
	if err != nil {
		return "", Token{}, err
	}
	t, err = Decrypt(aesKey, ct)
	if err != nil {
		return "", Token{}, err
	}
	if subtle.ConstantTimeCompare(t.PrivateID[:], privateID) != 1 {
		return "", Token{}, ErrPrivateID
	}
	return publicID, t, nil
}

// Counter returns the token's position as one number, use counter << 8 |
// session counter: a later OTP has a higher Counter (Newer compares the
// same way), so a store can keep the next acceptable value as an integer.
func (t Token) Counter() int64 {
	return int64(t.UseCounter)<<8 | int64(t.SessionCounter)
}

// Codec offers Parse and Decrypt to a caller that keeps one counter per
// key (the core's YubiKey interface): Decrypt returns the private identity
// and Token.Counter. The caller compares the private identity in constant
// time and refuses a counter not above the last accepted one.
type Codec struct{}

// Parse is the package's Parse.
func (Codec) Parse(otp string) (publicID string, ciphertext []byte, err error) {
	return Parse(otp)
}

// Decrypt decrypts and checks the block and returns its private identity
// and counter.
func (Codec) Decrypt(aesKey, ciphertext []byte) (privateID []byte, counter int64, err error) {
	t, err := Decrypt(aesKey, ciphertext)
	if err != nil {
		return nil, 0, err
	}
	return t.PrivateID[:], t.Counter(), nil
}

// Newer reports whether cur comes after prev: a higher use counter, or the
// same use counter and a higher session counter. An OTP that is not newer
// than the last accepted one is a replay (or an older OTP typed late) and
// must be refused.
func Newer(prev, cur Token) bool {
	if cur.UseCounter != prev.UseCounter {
		return cur.UseCounter > prev.UseCounter
	}
	return cur.SessionCounter > prev.SessionCounter
}

// Encrypt builds the encrypted block for t, with its CRC, as a YubiKey
// does. It exists for tests and tools that simulate a key.
func Encrypt(aesKey []byte, t Token) ([]byte, error) {
	if len(aesKey) != KeyLen {
		return nil, fmt.Errorf("%w: AES key of %d bytes, want %d", ErrKey, len(aesKey), KeyLen)
	}
	if t.UseCounter > MaxUseCounter {
		return nil, fmt.Errorf("yubiotp: use counter %d above %d", t.UseCounter, MaxUseCounter)
	}
	if t.Timestamp > MaxTimestamp {
		return nil, fmt.Errorf("yubiotp: timestamp %d does not fit 24 bits", t.Timestamp)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	var p [CiphertextLen]byte
	copy(p[0:6], t.PrivateID[:])
	raw := t.UseCounter
	if t.CapsLock {
		raw |= capsLockBit
	}
	binary.LittleEndian.PutUint16(p[6:8], raw)
	binary.LittleEndian.PutUint16(p[8:10], uint16(t.Timestamp))
	p[10] = byte(t.Timestamp >> 16)
	p[11] = t.SessionCounter
	binary.LittleEndian.PutUint16(p[12:14], t.Random)
	binary.LittleEndian.PutUint16(p[14:16], ^crc16(p[:14]))
	out := make([]byte, CiphertextLen)
	block.Encrypt(out, p[:])
	return out, nil
}

// Generate returns the OTP a YubiKey with this public identity (modhex)
// and AES key would type for t. It exists for tests and simulators.
func Generate(publicID string, aesKey []byte, t Token) (string, error) {
	if publicID != "" {
		if _, err := ModhexDecode(publicID); err != nil {
			return "", fmt.Errorf("%w: public identity: %w", ErrFormat, err)
		}
		if len(publicID) > 2*MaxPublicIDLen {
			return "", fmt.Errorf("%w: public identity of %d characters, want at most %d", ErrFormat, len(publicID), 2*MaxPublicIDLen)
		}
	}
	ct, err := Encrypt(aesKey, t)
	if err != nil {
		return "", err
	}
	return strings.ToLower(publicID) + ModhexEncode(ct), nil
}

// crc16 is the CRC-16 of ISO 13239 (reflected polynomial 0x8408, initial
// value 0xffff, no final inversion) that YubiKeys use.
func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, x := range b {
		crc ^= uint16(x)
		for range 8 {
			lsb := crc & 1
			crc >>= 1
			if lsb != 0 {
				crc ^= 0x8408
			}
		}
	}
	return crc
}

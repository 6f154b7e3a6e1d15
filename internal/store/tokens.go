package store

import (
	"context"
	"time"
)

// TokenKind says what a Token is: a user's authenticator app or one of
// Duo's hardware token types.
type TokenKind string

const (
	TokenTOTPApp TokenKind = "totp_app" // an authenticator app (RFC 6238), belongs to one user
	TokenH6      TokenKind = "h6"       // OATH HOTP, 6 digits
	TokenH8      TokenKind = "h8"       // OATH HOTP, 8 digits
	TokenT6      TokenKind = "t6"       // OATH TOTP, 6 digits
	TokenT8      TokenKind = "t8"       // OATH TOTP, 8 digits
	TokenYubiKey TokenKind = "yk"       // YubiKey OTP, validated locally with its AES key
)

// Valid reports whether k is a known kind.
func (k TokenKind) Valid() bool {
	switch k {
	case TokenTOTPApp, TokenH6, TokenH8, TokenT6, TokenT8, TokenYubiKey:
		return true
	}
	return false
}

// Hardware reports whether k is a hardware token type (Duo's tokens).
func (k TokenKind) Hardware() bool { return k.Valid() && k != TokenTOTPApp }

// HOTP reports whether codes of k are counter based.
func (k TokenKind) HOTP() bool { return k == TokenH6 || k == TokenH8 }

// TOTP reports whether codes of k are time based.
func (k TokenKind) TOTP() bool { return k == TokenTOTPApp || k == TokenT6 || k == TokenT8 }

// Token is an authenticator app or a hardware token.
type Token struct {
	ID     string // "DH" + 18, as Duo's token IDs
	UserID string // "" for a hardware token assigned to nobody
	Kind   TokenKind
	Serial string // hardware tokens: unique among them; "" for apps
	Name   string // an app's name as the user gave it
	// SecretEnc is the OATH secret, sealed by the secrets package with the
	// token ID as additional data (empty for a YubiKey).
	SecretEnc []byte
	Algorithm string // SHA1, SHA256 or SHA512
	Digits    int    // 6 or 8
	Period    int    // TOTP step in seconds (Duo's totp_step); 0 for others
	// Counter is what the next accepted code must reach: the next HOTP
	// counter, the TOTP step after the last accepted one, or a YubiKey's
	// (use counter << 8 | session counter) + 1. It only moves forward
	// (AdvanceTokenCounter).
	Counter int64
	Drift   int // TOTP steps between the token's clock and ours, at the last accepted code
	// YubiKey OTP: the public ID (modhex), and the private ID and AES key,
	// sealed like SecretEnc (additional data: ID + ":private_id", ID + ":aes_key").
	PublicID     string
	PrivateIDEnc []byte
	AESKeyEnc    []byte
	// Confirmed: an app counts only once the user has entered a first code
	// (hardware tokens and apps an administrator adds are confirmed at once).
	Confirmed bool
	Created   time.Time
	LastUsed  time.Time // zero: never
}

// TokenQueries store tokens.
type TokenQueries interface {
	// CreateToken returns ErrAlreadyExists on a duplicate ID, hardware
	// serial or YubiKey public ID, and ErrNotFound for an unknown user.
	CreateToken(ctx context.Context, t Token) error
	GetToken(ctx context.Context, id string) (Token, error)
	// GetTokenBySerial finds a hardware token by its serial.
	GetTokenBySerial(ctx context.Context, serial string) (Token, error)
	// ListTokens lists a user's tokens and apps, ordered by Created, then ID.
	ListTokens(ctx context.Context, userID string) ([]Token, error)
	// ListHardwareTokens lists every hardware token, ordered by serial.
	ListHardwareTokens(ctx context.Context) ([]Token, error)
	// UpdateToken writes UserID, Name and Confirmed (never the secrets or
	// counters); ErrNotFound if absent, also for an unknown user.
	UpdateToken(ctx context.Context, t Token) error
	DeleteToken(ctx context.Context, id string) error // ErrNotFound if absent
}

package tokenimport

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// Token types, as Duo names them.
const (
	TypeHOTP6   = "h6"
	TypeHOTP8   = "h8"
	TypeTOTP6   = "t6"
	TypeTOTP8   = "t8"
	TypeYubiKey = "yk"
)

// Limits on what a file may hold.
const (
	// MaxFileSize bounds the bytes read from one file.
	MaxFileSize = 8 << 20
	// MaxTokens bounds the tokens one file may define.
	MaxTokens = 100_000
	// MaxSerialLen bounds a serial number, in bytes.
	MaxSerialLen = 64
	// MinSecretLen is the shortest HOTP/TOTP secret accepted, in bytes:
	// 80 bits, the shortest that vendors and authenticator apps use (RFC
	// 4226 asks for 128 and recommends 160; RFC 6030's Figure 7 has 80).
	MinSecretLen = 10
	// MaxSecretLen is the longest HOTP/TOTP secret accepted, in bytes.
	MaxSecretLen = 128
	// DefaultStep is the TOTP time step when a file does not give one.
	DefaultStep = 30
	// MaxStep bounds a TOTP time step, in seconds.
	MaxStep = 300
	// MaxCounter bounds an HOTP counter (it is stored as a signed 64-bit
	// integer with room to move forward).
	MaxCounter = 1 << 62
	// maxProblems bounds the problems listed in one Error.
	maxProblems = 200
)

// Token is one hardware token to create.
type Token struct {
	Serial string
	// Type is one of h6, h8, t6, t8, yk.
	Type string
	// Secret is the HOTP/TOTP key (h6, h8, t6, t8).
	Secret []byte
	// Counter is the HOTP moving factor to start from (h6, h8).
	Counter uint64
	// Step is the TOTP time step in seconds (t6, t8).
	Step int
	// PublicID is the YubiKey's modhex public identity (yk), when the
	// file gives one; Duo identifies YubiKeys by serial alone.
	PublicID string
	// PrivateID is the 6-byte private identity (yk).
	PrivateID []byte
	// AESKey is the 16-byte AES key (yk).
	AESKey []byte
}

// Digits returns the passcode length of an OATH token type, or 0.
func Digits(typ string) int {
	switch typ {
	case TypeHOTP6, TypeTOTP6:
		return 6
	case TypeHOTP8, TypeTOTP8:
		return 8
	}
	return 0
}

// IsHOTP and IsTOTP classify a type.
func IsHOTP(typ string) bool { return typ == TypeHOTP6 || typ == TypeHOTP8 }
func IsTOTP(typ string) bool { return typ == TypeTOTP6 || typ == TypeTOTP8 }

// ValidType reports whether typ is one of Duo's token types.
func ValidType(typ string) bool { return IsHOTP(typ) || IsTOTP(typ) || typ == TypeYubiKey }

// Problem is one thing wrong in a file.
type Problem struct {
	// Line is the 1-based line the problem is on (for PSKC, where the
	// key package starts), or 0 for the file as a whole.
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.Msg
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
}

// Error lists every problem found in a file.
type Error struct {
	Problems []Problem
	// More counts problems found past the ones listed.
	More int
}

func (e *Error) Error() string {
	var b strings.Builder
	n := len(e.Problems) + e.More
	if n == 1 {
		b.WriteString("1 problem: ")
	} else {
		fmt.Fprintf(&b, "%d problems:", n)
	}
	for i, p := range e.Problems {
		if n > 1 || i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(p.String())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  … and %d more", e.More)
	}
	return b.String()
}

// problems collects Problems up to maxProblems.
type problems struct{ e Error }

func (ps *problems) add(line int, format string, args ...any) {
	if len(ps.e.Problems) >= maxProblems {
		ps.e.More++
		return
	}
	ps.e.Problems = append(ps.e.Problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.e.Problems) == 0 {
		return nil
	}
	e := ps.e
	return &e
}

// Secret encodings for ParseCSV.
const (
	// EncodingAuto takes hex when a secret is valid hex and base32 when
	// it is only valid base32 (hex wins when both fit, as Duo takes hex).
	EncodingAuto = ""
	EncodingHex  = "hex"
	// EncodingBase32 is RFC 4648 base32, any case, padding optional.
	EncodingBase32 = "base32"
)

// decodeSecret decodes s as enc, after dropping white space, dashes and
// a "hex:" or "base32:" mark. Errors never include the value.
func decodeSecret(s, enc string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return r
	}, s)
	if mark, rest, ok := strings.Cut(s, ":"); ok {
		switch strings.ToLower(mark) {
		case EncodingHex, EncodingBase32:
			s, enc = rest, strings.ToLower(mark)
		default:
			return nil, fmt.Errorf("unknown encoding mark %q (want hex: or base32:)", mark)
		}
	}
	if s == "" {
		return nil, fmt.Errorf("is empty")
	}
	switch enc {
	case EncodingHex:
		return decodeHex(s)
	case EncodingBase32:
		return decodeBase32(s)
	case EncodingAuto:
		if b, err := decodeHex(s); err == nil {
			return b, nil
		}
		if b, err := decodeBase32(s); err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("is neither hex nor base32 (%d characters)", len(s))
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}

func decodeHex(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("is not hex: odd length %d", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("is not hex (%d characters)", len(s))
	}
	return b, nil
}

func decodeBase32(s string) ([]byte, error) {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(strings.ToUpper(s), "="))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("is not base32 (%d characters)", len(s))
	}
	return b, nil
}

// checkOATHSecret checks a decoded HOTP/TOTP secret's length.
func checkOATHSecret(b []byte) error {
	switch {
	case len(b) < MinSecretLen:
		return fmt.Errorf("secret of %d bytes is too short (at least %d)", len(b), MinSecretLen)
	case len(b) > MaxSecretLen:
		return fmt.Errorf("secret of %d bytes is too long (at most %d)", len(b), MaxSecretLen)
	}
	return nil
}

// checkSerial checks a serial number: 1 to MaxSerialLen letters, digits
// or ._:/+- (what the token store and Duo's Admin API take).
func checkSerial(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("serial is empty")
	case len(s) > MaxSerialLen:
		return fmt.Errorf("serial of %d bytes is too long (at most %d)", len(s), MaxSerialLen)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:/+-", r)
		if !ok {
			return fmt.Errorf("serial %q has a character other than letters, digits and ._:/+-", s)
		}
	}
	return nil
}

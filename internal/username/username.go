// Package username decides which usernames Assent accepts and the form in
// which they are compared: the PRECIS UsernameCaseMapped profile (RFC 8265),
// applied to each space-separated part. "Alice", "ALICE" and the fullwidth
// "ＡＬＩＣＥ" are one user; "\u212Aarl" (KELVIN SIGN) is not a way to type
// "karl", it is refused.
//
// It is a leaf: the core validates with it and the store keys its unique
// index on Normalize's result, so the two cannot disagree.
package username

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// MaxLength is the longest username accepted, in characters (code points)
// after normalisation.
const MaxLength = 128

// maxInputBytes bounds the raw input before any work is done on it. It is
// generous enough for MaxLength characters of any script, decomposed.
const maxInputBytes = 1024

// Version names the comparison rule, including the Unicode version of the
// tables behind it. A store that keeps normalised names recomputes them when
// the Version it recorded differs (a newer golang.org/x/text may know more
// characters).
const Version = "precis-usernamecasemapped-userparts/unicode-" + norm.Version

// Error is why a username was refused. Its text completes a sentence whose
// subject is the username ("must not be empty", "is longer than …").
type Error struct {
	Reason string
}

func (e *Error) Error() string { return e.Reason }

func refuse(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Normalize returns the form in which s is compared with other usernames,
// or an *Error saying why s is not a valid username.
//
// The steps follow RFC 8265 §3.3 for each part separated by a space (§3.5
// "userparts"):
//
//  1. Width mapping: fullwidth and halfwidth forms become their ordinary
//     forms (so U+3000 IDEOGRAPHIC SPACE becomes a space).
//  2. Every code point must then be valid in the PRECIS IdentifierClass. In
//     particular, a character with a compatibility form (RFC 8264 §9.17
//     HasCompat: its NFKC form differs from itself, e.g. KELVIN SIGN, OHM
//     SIGN, the "ﬁ" ligature, superscripts) is refused outright. This is
//     checked here explicitly because golang.org/x/text's profile case-maps
//     before it checks, and so turns "\u212Aarl" into "karl" without error.
//  3. The parts must be non-empty: no leading, trailing or doubled spaces.
//     They are refused rather than tidied up, so that one account is never
//     reachable by several visibly different spellings.
//  4. Each part is enforced with precis.UsernameCaseMapped (case mapping to
//     lower case, NFC, the Bidi rule, the IdentifierClass), and the parts
//     are joined with single spaces.
//  5. The result must be at most MaxLength characters.
func Normalize(s string) (string, error) {
	switch {
	case s == "":
		return "", refuse("must not be empty")
	case len(s) > maxInputBytes:
		return "", refuse("is longer than %d characters", MaxLength)
	}
	if out, ok := normalizeASCII(s); ok {
		return out, nil
	}
	return normalize(s)
}

// normalizeASCII is Normalize for the common case, a name of printable
// ASCII (U+0021–U+007E, which the IdentifierClass allows as they are)
// in parts separated by single spaces, at most MaxLength long. For such a
// name every step but the case mapping changes nothing: width mapping and
// NFC leave ASCII alone, and the Bidi rule only concerns names with
// right-to-left characters. So the result is the name in lower case, as
// precis maps it (TestNormalizeASCII compares the two). ok is false for
// any other name, which normalize then handles (or refuses).
func normalizeASCII(s string) (out string, ok bool) {
	if s == "" || len(s) > MaxLength || s[0] == ' ' || s[len(s)-1] == ' ' {
		return "", false
	}
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			if s[i-1] == ' ' {
				return "", false
			}
		case c < 0x21 || c > 0x7e:
			return "", false
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	if !upper {
		return s, true
	}
	return strings.ToLower(s), true
}

// normalize is Normalize's general case.
func normalize(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", refuse("is not valid UTF-8")
	}
	prepared := width.Fold.String(s)
	for _, r := range prepared {
		if err := checkPrepared(r); err != nil {
			return "", err
		}
	}
	parts := strings.Split(prepared, " ")
	for i, p := range parts {
		if p != "" {
			continue
		}
		if i == 0 || i == len(parts)-1 {
			return "", refuse("must not start or end with a space")
		}
		return "", refuse("must not contain two spaces in a row")
	}
	for i, p := range parts {
		out, err := precis.UsernameCaseMapped.String(p)
		if err != nil {
			return "", partError(p, err)
		}
		parts[i] = out
	}
	out := strings.Join(parts, " ")
	if utf8.RuneCountInString(out) > MaxLength {
		return "", refuse("is longer than %d characters", MaxLength)
	}
	return out, nil
}

// checkPrepared refuses, before any mapping, a code point the profile would
// otherwise map onto an allowed one.
func checkPrepared(r rune) error {
	if r < utf8.RuneSelf {
		if r < 0x20 || r == 0x7f {
			return refuse("must not contain control characters (found %U)", r)
		}
		return nil
	}
	// For one code point, "not in NFKC" is "NFKC changes it" (HasCompat).
	if !norm.NFKC.IsNormalString(string(r)) {
		return refuse("must not contain %U, a compatibility form of another character; type the character itself", r)
	}
	return nil
}

// partError explains why precis refused one part, naming the first code
// point that is not in the IdentifierClass where there is one.
func partError(part string, err error) error {
	allowed := precis.UsernameCaseMapped.Allowed()
	for _, r := range part {
		if allowed.Contains(r) {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return refuse("must not contain control characters (found %U)", r)
		}
		return refuse("must not contain %U: usernames are made of letters, digits and ASCII punctuation", r)
	}
	if errors.Is(err, bidirule.ErrInvalid) {
		return refuse("mixes left-to-right and right-to-left text in a way RFC 5893 does not allow")
	}
	return refuse("is not a valid username (RFC 8265): %v", err)
}

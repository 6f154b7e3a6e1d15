package otp

import (
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Key types of an otpauth URI.
const (
	TypeTOTP = "totp"
	TypeHOTP = "hotp"
)

// maxSecret bounds a key's secret: SHA-512 keys are 64 bytes; a few times
// that is generous and keeps a hostile URI small.
const maxSecret = 256

// maxPeriod bounds the TOTP period an URI may carry (an hour).
const maxPeriod = 3600

// Key is what an otpauth:// URI carries.
type Key struct {
	Type      string // TypeTOTP or TypeHOTP
	Issuer    string // shown by the app above the account; may be empty
	Account   string // the user's name
	Secret    []byte
	Algorithm Algorithm // SHA1 when empty
	Digits    int       // 6 when 0
	Period    int       // TOTP seconds; 30 when 0
	Counter   uint64    // HOTP: the next counter
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeBase32 is the secret as apps take it: RFC 4648 base32, upper case,
// no padding.
func EncodeBase32(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeBase32 reads a base32 secret as people and vendors write it: any
// case, with or without padding, spaces or dashes between groups.
func DecodeBase32(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '=', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(s))
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, errors.New("secret is not valid base32")
	}
	return b, nil
}

// escape percent-encodes a label part or parameter value. Spaces become
// %20 (not "+", which some apps show literally) and ':' is encoded, since
// it separates the issuer from the account in the label.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// URI returns the otpauth:// URI of k, e.g.
// otpauth://totp/Assent:alice?secret=…&issuer=Assent&algorithm=SHA1&digits=6&period=30.
// Every parameter is written explicitly, so that apps which ignore some
// (Google Authenticator ignores algorithm on some versions) are the only
// ones that can disagree.
func (k Key) URI() string {
	k = k.withDefaults()
	label := escape(k.Account)
	if k.Issuer != "" {
		label = escape(k.Issuer) + ":" + label
	}
	var b strings.Builder
	b.WriteString("otpauth://")
	b.WriteString(k.Type)
	b.WriteString("/")
	b.WriteString(label)
	b.WriteString("?secret=")
	b.WriteString(EncodeBase32(k.Secret))
	if k.Issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(k.Issuer))
	}
	b.WriteString("&algorithm=")
	b.WriteString(string(k.Algorithm))
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(k.Digits))
	if k.Type == TypeHOTP {
		b.WriteString("&counter=")
		b.WriteString(strconv.FormatUint(k.Counter, 10))
	} else {
		b.WriteString("&period=")
		b.WriteString(strconv.Itoa(k.Period))
	}
	return b.String()
}

func (k Key) withDefaults() Key {
	if k.Type == "" {
		k.Type = TypeTOTP
	}
	if k.Algorithm == "" {
		k.Algorithm = SHA1
	}
	if k.Digits == 0 {
		k.Digits = DefaultDigits
	}
	if k.Period == 0 && k.Type == TypeTOTP {
		k.Period = DefaultPeriod
	}
	return k
}

// ParseURI reads an otpauth:// URI. It reports every problem it finds in
// one error. Missing parameters take the defaults (SHA1, 6 digits, 30
// seconds); an issuer both in the label and as a parameter must agree.
func ParseURI(s string) (Key, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Key{}, errors.New("otpauth URI: not a URI")
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("otpauth URI: "+format, a...)) }
	if !strings.EqualFold(u.Scheme, "otpauth") {
		bad("scheme must be otpauth")
	}
	k := Key{Type: strings.ToLower(u.Host)}
	if k.Type != TypeTOTP && k.Type != TypeHOTP {
		bad("type must be totp or hotp")
	}
	// Split the label before unescaping: an encoded ':' belongs to a name.
	label := strings.TrimPrefix(u.EscapedPath(), "/")
	rawIssuer, rawAccount, hasIssuer := strings.Cut(label, ":")
	if !hasIssuer {
		rawIssuer, rawAccount = "", label
	}
	if k.Issuer, err = url.PathUnescape(rawIssuer); err != nil {
		bad("malformed issuer in the label")
	}
	if k.Account, err = url.PathUnescape(rawAccount); err != nil {
		bad("malformed account in the label")
	}
	k.Account = strings.TrimLeft(k.Account, " ")
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		bad("malformed parameters")
	}
	switch sec := q.Get("secret"); {
	case sec == "":
		bad("secret is required")
	default:
		if k.Secret, err = DecodeBase32(sec); err != nil {
			bad("%v", err)
		} else if len(k.Secret) == 0 || len(k.Secret) > maxSecret {
			bad("secret must be 1 to %d bytes", maxSecret)
		}
	}
	if iss := q.Get("issuer"); iss != "" {
		if k.Issuer != "" && k.Issuer != iss {
			bad("issuer %q does not match the label's %q", iss, k.Issuer)
		}
		k.Issuer = iss
	}
	if k.Algorithm, err = ParseAlgorithm(q.Get("algorithm")); err != nil {
		bad("%v", err)
	}
	k.Digits = DefaultDigits
	if v := q.Get("digits"); v != "" {
		if k.Digits, err = strconv.Atoi(v); err != nil || !ValidDigits(k.Digits) {
			bad("digits must be 6 or 8")
		}
	}
	if k.Type == TypeTOTP {
		k.Period = DefaultPeriod
		if v := q.Get("period"); v != "" {
			if k.Period, err = strconv.Atoi(v); err != nil || k.Period < 1 || k.Period > maxPeriod {
				bad("period must be 1 to %d seconds", maxPeriod)
			}
		}
	}
	if k.Type == TypeHOTP {
		if v := q.Get("counter"); v != "" {
			if k.Counter, err = strconv.ParseUint(v, 10, 64); err != nil {
				bad("counter must be a non-negative integer")
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Key{}, err
	}
	return k, nil
}

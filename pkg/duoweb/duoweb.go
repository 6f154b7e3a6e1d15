// Package duoweb implements the application side of Duo's Web SDK v2
// ("sign_request" / "verify_response") for Go web applications, and the
// signed values the prompt server exchanges with them.
//
// It is byte-compatible with Duo's official SDKs (duo_python, duo_php,
// duo_java, duo_nodejs): the same prefixes, lifetimes, HMAC-SHA1 signatures
// and error strings, so an application using this package works with Duo's
// hosted prompt and with Assent's, and an application using an official SDK
// works with Assent.
//
// A sig_request is two signed values joined by ":":
//
//	TX|base64(username|ikey|expiry)|hex(HMAC-SHA1(skey, "TX|"+base64))      expiry = now+300
//	APP|base64(username|ikey|expiry)|hex(HMAC-SHA1(akey, "APP|"+base64))    expiry = now+3600
//
// The page passes it to Duo-Web-v2.js, which sends the TX half to the prompt
// and keeps the APP half. After the user authenticates, the prompt answers
// AUTH|base64(username|ikey|expiry)|hex(HMAC-SHA1(skey, …)) and the page posts
// sig_response = AUTH-half + ":" + APP-half, which VerifyResponse checks.
package duoweb

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Prefixes of the signed values.
const (
	PrefixTX            = "TX"             // request half for the prompt (skey)
	PrefixApp           = "APP"            // request half kept by the application (akey)
	PrefixAuth          = "AUTH"           // the prompt's answer after an authentication (skey)
	PrefixEnroll        = "ENROLL"         // the prompt's answer after an enrollment (skey)
	PrefixEnrollRequest = "ENROLL_REQUEST" // request half asking for enrollment (skey)
)

// Lifetimes of the signed request halves, as in the official SDKs.
const (
	DuoExpire = 300 * time.Second  // DUO_EXPIRE: the TX / ENROLL_REQUEST half
	AppExpire = 3600 * time.Second // APP_EXPIRE: the APP half
)

// Key lengths checked by SignRequest.
const (
	IKeyLen    = 20 // integration keys are exactly 20 characters
	SKeyLen    = 40 // secret keys are exactly 40 characters
	AKeyMinLen = 40 // application keys are at least 40 characters
)

// Errors returned by SignRequest and SignEnrollRequest. Their text is exactly
// the string the official SDKs return instead of a signature (duo_python,
// duo_java; duo_nodejs omits the final period of the ikey and skey texts), so
// an application can hand err.Error() to Duo-Web-v2.js, which shows it.
var (
	//lint:ignore ST1005 must match Duo's SDKs byte for byte
	ErrUser = errors.New("ERR|The username passed to sign_request() is invalid.")
	//lint:ignore ST1005 must match Duo's SDKs byte for byte
	ErrIKey = errors.New("ERR|The Duo integration key passed to sign_request() is invalid.")
	//lint:ignore ST1005 must match Duo's SDKs byte for byte
	ErrSKey = errors.New("ERR|The Duo secret key passed to sign_request() is invalid.")
	//lint:ignore ST1005 must match Duo's SDKs byte for byte
	ErrAKey = errors.New("ERR|The application secret key passed to sign_request() must be at least 40 characters.")
	//lint:ignore ST1005 must match Duo's SDKs byte for byte
	ErrUserEncoding = errors.New("ERR|The username passed to sign_request() could not be encoded.")
)

// Errors returned by the verifying functions, wrapped with the reason.
var (
	// ErrInvalid is a value or response that is malformed, wrongly signed,
	// has the wrong prefix or belongs to another integration.
	ErrInvalid = errors.New("duoweb: invalid signed value")
	// ErrExpired is a correctly signed value whose expiry has passed.
	ErrExpired = errors.New("duoweb: signed value expired")
	// ErrUserMismatch is a response whose two halves name different users.
	ErrUserMismatch = errors.New("duoweb: the response halves name different users")
)

// SDK signs and verifies with a clock. The zero value uses time.Now; tests
// set Now. The package-level functions use the zero value.
type SDK struct {
	Now func() time.Time
}

func (s SDK) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SignRequest returns the sig_request for username to pass to
// Duo-Web-v2.js (data-sig-request or Duo.init({sig_request})).
func SignRequest(ikey, skey, akey, username string) (string, error) {
	return SDK{}.SignRequest(ikey, skey, akey, username)
}

// SignEnrollRequest is SignRequest for an enrollment-only prompt.
func SignEnrollRequest(ikey, skey, akey, username string) (string, error) {
	return SDK{}.SignEnrollRequest(ikey, skey, akey, username)
}

// VerifyResponse checks the sig_response the page posted after the prompt
// and returns the authenticated username.
func VerifyResponse(ikey, skey, akey, sigResponse string) (string, error) {
	return SDK{}.VerifyResponse(ikey, skey, akey, sigResponse)
}

// VerifyEnrollResponse checks the sig_response of an enrollment prompt and
// returns the enrolled username.
func VerifyEnrollResponse(ikey, skey, akey, sigResponse string) (string, error) {
	return SDK{}.VerifyEnrollResponse(ikey, skey, akey, sigResponse)
}

// SignRequest is the package-level SignRequest with s's clock.
func (s SDK) SignRequest(ikey, skey, akey, username string) (string, error) {
	return s.signRequest(ikey, skey, akey, username, PrefixTX)
}

// SignEnrollRequest is the package-level SignEnrollRequest with s's clock.
func (s SDK) SignEnrollRequest(ikey, skey, akey, username string) (string, error) {
	return s.signRequest(ikey, skey, akey, username, PrefixEnrollRequest)
}

// VerifyResponse is the package-level VerifyResponse with s's clock.
func (s SDK) VerifyResponse(ikey, skey, akey, sigResponse string) (string, error) {
	return s.verifyResponse(ikey, skey, akey, PrefixAuth, sigResponse)
}

// VerifyEnrollResponse is the package-level VerifyEnrollResponse with s's
// clock.
func (s SDK) VerifyEnrollResponse(ikey, skey, akey, sigResponse string) (string, error) {
	return s.verifyResponse(ikey, skey, akey, PrefixEnroll, sigResponse)
}

// The checks run in the official SDKs' order, so the same bad input gets the
// same error string. Lengths count characters, as the SDKs' string lengths
// do for the ASCII keys Duo issues.
func (s SDK) signRequest(ikey, skey, akey, username, prefix string) (string, error) {
	if !utf8.ValidString(username) {
		return "", ErrUserEncoding
	}
	if username == "" || strings.Contains(username, "|") {
		return "", ErrUser
	}
	if utf8.RuneCountInString(ikey) != IKeyLen {
		return "", ErrIKey
	}
	if utf8.RuneCountInString(skey) != SKeyLen {
		return "", ErrSKey
	}
	if utf8.RuneCountInString(akey) < AKeyMinLen {
		return "", ErrAKey
	}
	now := s.now()
	duo := Value{Prefix: prefix, Username: username, IKey: ikey, Expires: now.Add(DuoExpire)}
	app := Value{Prefix: PrefixApp, Username: username, IKey: ikey, Expires: now.Add(AppExpire)}
	return duo.Sign(skey) + ":" + app.Sign(akey), nil
}

func (s SDK) verifyResponse(ikey, skey, akey, prefix, sigResponse string) (string, error) {
	authHalf, appHalf, ok := strings.Cut(sigResponse, ":")
	if !ok || strings.Contains(appHalf, ":") {
		return "", fmt.Errorf("%w: a response has exactly two halves separated by ':'", ErrInvalid)
	}
	now := s.now()
	auth, err := VerifyValue(skey, authHalf, prefix, ikey, now)
	if err != nil {
		return "", fmt.Errorf("%s half: %w", prefix, err)
	}
	app, err := VerifyValue(akey, appHalf, PrefixApp, ikey, now)
	if err != nil {
		return "", fmt.Errorf("%s half: %w", PrefixApp, err)
	}
	if subtle.ConstantTimeCompare([]byte(auth.Username), []byte(app.Username)) != 1 {
		return "", ErrUserMismatch
	}
	return auth.Username, nil
}

// Value is the content of one signed value PREFIX|base64(username|ikey|expiry)|signature.
type Value struct {
	Prefix   string
	Username string
	IKey     string
	Expires  time.Time // whole seconds; the value is valid while now is before it
}

// Sign returns v signed with key: PREFIX|base64(username|ikey|expiry)|hex(HMAC-SHA1(key, PREFIX|base64)).
// The prompt server signs its AUTH answers with this and the integration's
// secret key.
func (v Value) Sign(key string) string {
	payload := v.Username + "|" + v.IKey + "|" + strconv.FormatInt(v.Expires.Unix(), 10)
	cookie := v.Prefix + "|" + base64.StdEncoding.EncodeToString([]byte(payload))
	return cookie + "|" + signature(key, cookie)
}

// signature is the lowercase hex HMAC-SHA1 of msg, as every SDK computes it.
func signature(key, msg string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// maxValueLen bounds what is parsed: real values are well under 1 KiB
// (usernames are short); anything longer is refused before any work.
const maxValueLen = 8 << 10

// PeekValue parses a signed value without checking its signature. The
// result is untrusted: use it only to find the key to check it with (the
// prompt reads the ikey of a TX half this way), then call VerifyValue.
func PeekValue(signed string) (Value, error) {
	v, _, _, err := split(signed)
	return v, err
}

// VerifyValue checks that signed is a value with the given prefix, signed
// with key, for integration ikey, and not expired at now (the SDKs' "now <
// expiry", in whole seconds). It returns the value's content. Errors wrap
// ErrInvalid or ErrExpired.
func VerifyValue(key, signed, prefix, ikey string, now time.Time) (Value, error) {
	v, cookie, sig, err := split(signed)
	if err != nil {
		return Value{}, err
	}
	// Compare the signature before looking at anything it covers.
	if subtle.ConstantTimeCompare([]byte(signature(key, cookie)), []byte(sig)) != 1 {
		return Value{}, fmt.Errorf("%w: bad signature", ErrInvalid)
	}
	if v.Prefix != prefix {
		return Value{}, fmt.Errorf("%w: prefix %q, want %q", ErrInvalid, v.Prefix, prefix)
	}
	if subtle.ConstantTimeCompare([]byte(v.IKey), []byte(ikey)) != 1 {
		return Value{}, fmt.Errorf("%w: signed for another integration", ErrInvalid)
	}
	if now.Unix() >= v.Expires.Unix() {
		return Value{}, fmt.Errorf("%w at %s", ErrExpired, v.Expires.UTC().Format(time.RFC3339))
	}
	return v, nil
}

// split parses PREFIX|base64|sig and the base64 payload user|ikey|expiry,
// with exactly three fields each as the SDKs require. cookie is the signed
// part "PREFIX|base64".
func split(signed string) (v Value, cookie, sig string, err error) {
	if len(signed) > maxValueLen {
		return Value{}, "", "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, maxValueLen)
	}
	parts := strings.Split(signed, "|")
	if len(parts) != 3 {
		return Value{}, "", "", fmt.Errorf("%w: want PREFIX|base64|signature", ErrInvalid)
	}
	prefix, b64, sig := parts[0], parts[1], parts[2]
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// Signers always pad, but the signature covers the text as sent, so
		// accepting unpadded base64 costs nothing.
		if raw, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return Value{}, "", "", fmt.Errorf("%w: payload is not base64", ErrInvalid)
		}
	}
	if !utf8.Valid(raw) {
		return Value{}, "", "", fmt.Errorf("%w: payload is not UTF-8", ErrInvalid)
	}
	fields := strings.Split(string(raw), "|")
	if len(fields) != 3 {
		return Value{}, "", "", fmt.Errorf("%w: payload has %d fields, want username|ikey|expiry", ErrInvalid, len(fields))
	}
	if fields[0] == "" {
		// The SDKs never sign an empty username; a value naming nobody must
		// not verify as "" (which a caller might not check).
		return Value{}, "", "", fmt.Errorf("%w: empty username", ErrInvalid)
	}
	exp, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || exp <= 0 {
		return Value{}, "", "", fmt.Errorf("%w: expiry %q is not a Unix time", ErrInvalid, fields[2])
	}
	v = Value{Prefix: prefix, Username: fields[0], IKey: fields[1], Expires: time.Unix(exp, 0)}
	return v, prefix + "|" + b64, sig, nil
}

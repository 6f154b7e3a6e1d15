package duosig

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Credentials are the ikey and signature from an Authorization header.
type Credentials struct {
	IKey      string
	Signature string // lower-case hex, 40 (SHA1) or 128 (SHA512) chars
}

// Authorization returns the header value "Basic base64(ikey:sig)".
func Authorization(ikey, sig string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(ikey+":"+sig))
}

// ParseAuthorization parses an Authorization header leniently, since Duo
// evidently accepts what real clients send (spec §1.8): the scheme "Basic"
// in any case with an optional trailing ':' (PowerShell sends
// "Basic: <b64>"), the credentials as the last whitespace-separated token,
// base64 with or without padding (standard or URL alphabet), ikey and
// signature split at the first ':', and a hex signature in either case.
// Any failure is ErrMissingCredentials, Duo's answer to a bad header.
func ParseAuthorization(h string) (Credentials, error) {
	first, last, several := firstAndLastField(h)
	var tok string
	switch {
	case first == "":
		return Credentials{}, ErrMissingCredentials
	case !several:
		// "Basic:<b64>" without a space; ':' is not in either base64 alphabet.
		if len(first) < 6 || !strings.EqualFold(first[:6], "basic:") {
			return Credentials{}, ErrMissingCredentials
		}
		tok = first[6:]
	default:
		if !strings.EqualFold(strings.TrimSuffix(first, ":"), "basic") {
			return Credentials{}, ErrMissingCredentials
		}
		tok = last
	}
	raw, ok := decodeBase64(tok)
	if !ok {
		return Credentials{}, ErrMissingCredentials
	}
	ikey, sig, found := strings.Cut(raw, ":")
	if !found || ikey == "" || (len(sig) != 40 && len(sig) != 128) || !isHex(sig) {
		return Credentials{}, ErrMissingCredentials
	}
	return Credentials{IKey: ikey, Signature: strings.ToLower(sig)}, nil
}

// firstAndLastField returns the first and the last of the fields that
// strings.Fields would split s into, and whether there are several,
// without building the list.
func firstAndLastField(s string) (first, last string, several bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, s, false
	}
	j := strings.LastIndexFunc(s, unicode.IsSpace)
	_, size := utf8.DecodeRuneInString(s[j:])
	return s[:i], s[j+size:], true
}

// decodeBase64 decodes s, standard or URL alphabet, padded or not.
func decodeBase64(s string) (string, bool) {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return "", false
	}
	var small [256]byte // an ikey and a SHA-512 signature take 149
	dst := small[:0]
	if n := base64.RawStdEncoding.DecodedLen(len(s)); n > len(small) {
		dst = make([]byte, 0, n)
	}
	for _, enc := range [...]*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.AppendDecode(dst, []byte(s)); err == nil {
			return string(b), true
		}
	}
	return "", false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

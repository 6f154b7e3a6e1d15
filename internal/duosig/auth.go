package duosig

import (
	"encoding/base64"
	"strings"
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
	// The usual header, "Basic <token>", is taken apart without splitting.
	if tok, ok := strings.CutPrefix(h, "Basic "); ok && isToken(tok) {
		return parseCredentials(tok)
	}
	fields := strings.Fields(h)
	var tok string
	switch {
	case len(fields) == 0:
		return Credentials{}, ErrMissingCredentials
	case len(fields) == 1:
		// "Basic:<b64>" without a space; ':' is not in either base64 alphabet.
		f := fields[0]
		if len(f) < 6 || !strings.EqualFold(f[:6], "basic:") {
			return Credentials{}, ErrMissingCredentials
		}
		tok = f[6:]
	default:
		s := strings.TrimSuffix(fields[0], ":")
		if !strings.EqualFold(s, "basic") {
			return Credentials{}, ErrMissingCredentials
		}
		tok = fields[len(fields)-1]
	}
	return parseCredentials(tok)
}

// parseCredentials decodes the base64 token "ikey:signature".
func parseCredentials(tok string) (Credentials, error) {
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

// isToken reports whether s is one non-empty run of printable ASCII
// without spaces, as strings.Fields would leave it.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
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

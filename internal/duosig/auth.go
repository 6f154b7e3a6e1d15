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
	raw, ok := decodeBase64(tok)
	if !ok {
		return Credentials{}, ErrMissingCredentials
	}
	ikey, sig, found := strings.Cut(string(raw), ":")
	if !found || ikey == "" || (len(sig) != 40 && len(sig) != 128) || !isHex(sig) {
		return Credentials{}, ErrMissingCredentials
	}
	return Credentials{IKey: ikey, Signature: strings.ToLower(sig)}, nil
}

func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, false
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
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

package duosig

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	sig1 := "075d37d4c57312e3de480b2e0d7713c72a635bd1"
	sig512 := strings.Repeat("0123456789abcdef", 8)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	raw := func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, header string
		want         Credentials
		ok           bool
	}{
		{"standard sha1", "Basic " + b64(vecIKey+":"+sig1), Credentials{vecIKey, sig1}, true},
		{"standard sha512", "Basic " + b64(vecIKey+":"+sig512), Credentials{vecIKey, sig512}, true},
		{"powershell Basic:", "Basic: " + b64(vecIKey+":"+sig1), Credentials{vecIKey, sig1}, true},
		{"Basic: no space", "Basic:" + b64(vecIKey+":"+sig1), Credentials{vecIKey, sig1}, true},
		{"lower-case scheme", "basic " + b64(vecIKey+":"+sig1), Credentials{vecIKey, sig1}, true},
		{"upper-case scheme, extra spaces", "  BASIC \t " + b64(vecIKey+":"+sig1) + "  ", Credentials{vecIKey, sig1}, true},
		{"missing padding", "Basic " + raw(vecIKey+":"+sig1), Credentials{vecIKey, sig1}, true},
		{"upper-case hex", "Basic " + b64(vecIKey+":"+strings.ToUpper(sig1)), Credentials{vecIKey, sig1}, true},
		{"url alphabet", "Basic " + base64.URLEncoding.EncodeToString([]byte("DI>>>?:"+sig1)), Credentials{"DI>>>?", sig1}, true},
		{"last token wins", "Basic junk " + b64(vecIKey+":"+sig1), Credentials{vecIKey, sig1}, true},

		{"empty", "", Credentials{}, false},
		{"scheme only", "Basic", Credentials{}, false},
		{"bearer", "Bearer " + b64(vecIKey+":"+sig1), Credentials{}, false},
		{"no scheme", b64(vecIKey + ":" + sig1), Credentials{}, false},
		{"not base64", "Basic !!!!", Credentials{}, false},
		{"no colon", "Basic " + b64(vecIKey+sig1), Credentials{}, false},
		{"empty ikey", "Basic " + b64(":"+sig1), Credentials{}, false},
		{"short sig", "Basic " + b64(vecIKey+":"+sig1[:39]), Credentials{}, false},
		{"non-hex sig", "Basic " + b64(vecIKey+":"+strings.Repeat("g", 40)), Credentials{}, false},
		// Split at the first ':' so a ':' can only end up in the signature.
		{"colon in sig", "Basic " + b64(vecIKey+":"+sig1[:39]+":"), Credentials{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAuthorization(tt.header)
			if !tt.ok {
				if !errors.Is(err, ErrMissingCredentials) {
					t.Errorf("err = %v, want ErrMissingCredentials (got %+v)", err, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	var e *Error
	if err := error(ErrBadTimestamp); !errors.As(err, &e) || e.Status != 401 || e.Code != 40105 || e.Message != "Bad request timestamp" {
		t.Errorf("errors.As: %+v", e)
	}
	if !errors.Is(&Error{Status: 401, Code: 40103}, ErrBadSignature) || errors.Is(ErrBadSignature, ErrBadTimestamp) {
		t.Error("errors.Is by code broken")
	}
	for _, c := range []struct {
		err  *Error
		code int
	}{{ErrMissingCredentials, 40101}, {ErrUnknownIKey, 40102}, {ErrBadSignature, 40103}, {ErrBadTimestamp, 40105}} {
		if c.err.Code != c.code || c.err.Status != 401 || c.err.Message == "" {
			t.Errorf("%v", c.err)
		}
	}
}

package otp

import (
	"bytes"
	"strings"
	"testing"
)

func TestKeyURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{"defaults", Key{Issuer: "Assent", Account: "alice", Secret: secret},
			"otpauth://totp/Assent:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Assent&algorithm=SHA1&digits=6&period=30"},
		{"escaped", Key{Issuer: "ACME Co: VPN", Account: "jo doe@example.com", Secret: secret, Algorithm: SHA256, Digits: 8, Period: 60},
			"otpauth://totp/ACME%20Co%3A%20VPN:jo%20doe%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co%3A%20VPN&algorithm=SHA256&digits=8&period=60"},
		{"hotp without issuer", Key{Type: TypeHOTP, Account: "bob", Secret: secret, Counter: 5},
			"otpauth://hotp/bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&counter=5"},
	}
	for _, tt := range tests {
		got := tt.key.URI()
		if got != tt.want {
			t.Errorf("%s: URI()\n got %s\nwant %s", tt.name, got, tt.want)
			continue
		}
		back, err := ParseURI(got)
		if err != nil {
			t.Errorf("%s: ParseURI(URI()): %v", tt.name, err)
			continue
		}
		if want := tt.key.withDefaults(); !sameKey(back, want) {
			t.Errorf("%s: round trip = %+v, want %+v", tt.name, back, want)
		}
	}
}

func sameKey(a, b Key) bool {
	return a.Type == b.Type && a.Issuer == b.Issuer && a.Account == b.Account && bytes.Equal(a.Secret, b.Secret) &&
		a.Algorithm == b.Algorithm && a.Digits == b.Digits && a.Period == b.Period && a.Counter == b.Counter
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		name    string
		uri     string
		want    Key
		wantErr []string // substrings of the error; nil: success
	}{
		{"Google's example", "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
			Key{Type: "totp", Issuer: "Example", Account: "alice@google.com", Secret: []byte("Hello!\xde\xad\xbe\xef"),
				Algorithm: SHA1, Digits: 6, Period: 30}, nil},
		{"lower-case padded secret, issuer parameter only", "otpauth://totp/bob?secret=jbswy3dpehpk3pxp%3D%3D%3D%3D&issuer=X&digits=8&algorithm=sha512&period=60",
			Key{Type: "totp", Issuer: "X", Account: "bob", Secret: []byte("Hello!\xde\xad\xbe\xef"),
				Algorithm: SHA512, Digits: 8, Period: 60}, nil},
		{"hotp", "otpauth://HOTP/i:a?secret=JBSWY3DPEHPK3PXP&counter=42",
			Key{Type: "hotp", Issuer: "i", Account: "a", Secret: []byte("Hello!\xde\xad\xbe\xef"),
				Algorithm: SHA1, Digits: 6, Counter: 42}, nil},
		{"every problem at once", "http://push/x?secret=1&digits=7&algorithm=md5&period=0", Key{},
			[]string{"scheme", "type", "base32", "digits", "algorithm"}},
		{"no secret", "otpauth://totp/x?issuer=a", Key{}, []string{"secret is required"}},
		{"issuers disagree", "otpauth://totp/A:x?secret=JBSWY3DPEHPK3PXP&issuer=B", Key{}, []string{"does not match"}},
		{"bad period", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=99999", Key{}, []string{"period"}},
		{"bad counter", "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=-1", Key{}, []string{"counter"}},
	}
	for _, tt := range tests {
		got, err := ParseURI(tt.uri)
		if tt.wantErr != nil {
			if err == nil {
				t.Errorf("%s: ParseURI succeeded", tt.name)
				continue
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !sameKey(got, tt.want) {
			t.Errorf("%s: ParseURI = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeBase32(t *testing.T) {
	for _, in := range []string{"JBSWY3DPEHPK3PXP", "jbsw y3dp ehpk 3pxp", "JBSW-Y3DP-EHPK-3PXP", "JBSWY3DPEHPK3PXP===="} {
		b, err := DecodeBase32(in)
		if err != nil || string(b) != "Hello!\xde\xad\xbe\xef" {
			t.Errorf("DecodeBase32(%q) = %q, %v", in, b, err)
		}
	}
	if _, err := DecodeBase32("JBSWY3DPEHPK3PX1"); err == nil {
		t.Error("DecodeBase32 accepted '1'")
	}
}

// FuzzParseURI: a URI from a user or a file never panics, and what parses
// writes back to a URI that parses to the same key.
func FuzzParseURI(f *testing.F) {
	f.Add("otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example")
	f.Add("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=5&digits=8&algorithm=SHA256")
	f.Add("otpauth://totp/ACME%20Co%3A%20VPN:jo%20doe%40example.com?secret=GEZDGNBVGY3TQOJQ&period=60")
	f.Add("otpauth://totp/%zz?secret=")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseURI(s)
		if err != nil {
			return
		}
		if !k.Algorithm.Valid() || !ValidDigits(k.Digits) || len(k.Secret) == 0 {
			t.Fatalf("ParseURI(%q) accepted %+v", s, k)
		}
		back, err := ParseURI(k.URI())
		if err != nil {
			t.Fatalf("ParseURI(%q).URI() = %q does not parse: %v", s, k.URI(), err)
		}
		if !sameKey(back, k) {
			t.Fatalf("round trip of %q: %+v, want %+v", s, back, k)
		}
	})
}

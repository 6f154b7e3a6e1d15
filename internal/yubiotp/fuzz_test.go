package yubiotp

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		sampleOTP, sampleOTP[8:], "DTEFFUJE" + sampleOTP[8:], "", "123456",
		"c" + sampleOTP, sampleOTP + sampleOTP, "dvgtiblfkbgturecfllberrvkinnctnn",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pub, ct, err := Parse(s)
		if err != nil {
			if pub != "" || ct != nil {
				t.Fatalf("error %v with results %q %x", err, pub, ct)
			}
			return
		}
		if len(ct) != CiphertextLen || len(pub) > 2*MaxPublicIDLen || len(pub)%2 != 0 {
			t.Fatalf("Parse(%q) = %q, %x: bad sizes", s, pub, ct)
		}
		// What parses re-encodes to the same OTP, in lower case.
		if _, err := ModhexDecode(pub); err != nil {
			t.Fatalf("public id %q is not modhex: %v", pub, err)
		}
		pub2, ct2, err := Parse(pub + ModhexEncode(ct))
		if err != nil || pub2 != pub || !bytes.Equal(ct2, ct) {
			t.Fatalf("re-parse of %q: %q %x %v", s, pub2, ct2, err)
		}
	})
}

func FuzzDecrypt(f *testing.F) {
	key := []byte{0xec, 0xde, 0x18, 0xdb, 0xe7, 0x6f, 0xbd, 0x0c, 0x33, 0x33, 0x0f, 0x1c, 0x35, 0x48, 0x71, 0xdb}
	_, ct, err := Parse(sampleOTP)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key, ct)
	f.Add(key, ct[:15])
	f.Add(make([]byte, 16), make([]byte, 16))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, key, ct []byte) {
		tok, err := Decrypt(key, ct)
		if err != nil {
			if !errors.Is(err, ErrCRC) && !errors.Is(err, ErrKey) && !errors.Is(err, ErrFormat) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if tok.UseCounter > MaxUseCounter || tok.Timestamp > MaxTimestamp {
			t.Fatalf("out of range fields %+v", tok)
		}
		// Whatever decrypts re-encrypts to the same block.
		again, err := Encrypt(key, tok)
		if err != nil || !bytes.Equal(again, ct) {
			t.Fatalf("re-encrypt: %x %v, want %x", again, err, ct)
		}
	})
}

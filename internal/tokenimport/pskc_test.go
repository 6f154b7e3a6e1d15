package tokenimport

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const rfcSecret = "3132333435363738393031323334353637383930" // "12345678901234567890"

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tokenString shows a token with its secrets in hex, for comparisons.
func tokenString(tk Token) string {
	return strings.Join([]string{
		tk.Type, tk.Serial, hex.EncodeToString(tk.Secret),
		"c=" + itoa(tk.Counter), "s=" + itoa(uint64(tk.Step)),
		tk.PublicID, hex.EncodeToString(tk.PrivateID), hex.EncodeToString(tk.AESKey),
	}, " ")
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestPSKCRFC6030(t *testing.T) {
	t.Parallel()
	psk := unhex(t, "12345678901234567890123456789012")
	tests := []struct {
		file string
		key  []byte
		want []string // tokenString of each token
		errs []string // substrings of the problems, in order
	}{
		{file: "rfc6030-figure2.xml", errs: []string{`line 6: key "12345678" (serial "12345678"): secret of 4 bytes is too short`}},
		{file: "rfc6030-figure3.xml", want: []string{"h8 987654321 " + rfcSecret + " c=0 s=0   "}},
		{file: "rfc6030-figure4.xml", errs: []string{`line 7: key "12345678" (serial "987654321"): no secret: keys derived from a master key (KeyReference) are not supported`}},
		{file: "rfc6030-figure5.xml", want: []string{"h8 987654321 " + rfcSecret + " c=0 s=0   "}},
		{file: "rfc6030-figure6.xml", key: psk, want: []string{"h8 987654321 " + rfcSecret + " c=0 s=0   "}},
		{file: "rfc6030-figure6.xml", errs: []string{`line 10: the file is encrypted with a pre-shared key (named "Pre-shared-key" in the file): give it`}},
		{file: "rfc6030-figure6.xml", key: unhex(t, "12345678901234567890123456789013"), errs: []string{"line 13: MAC key: bad padding after decryption (wrong pre-shared key?)", "line 24: ", "secret: bad padding"}},
		{file: "rfc6030-figure6.xml", key: psk[:8], errs: []string{"MAC key: the pre-shared key has 8 bytes, aes128-cbc needs 16", "secret: the pre-shared key has 8 bytes"}},
		{file: "rfc6030-figure7.xml", key: unhex(t, "651e63cd57008476af1ff6422cd02e41"), want: []string{"h8 987654321 " + rfcSecret + " c=0 s=0   "}},
		{file: "rfc6030-figure7.xml", errs: []string{"derived from a password (PBKDF2): give the derived key"}},
		{file: "rfc6030-figure10.xml", errs: []string{`line 87: key "4" (serial "9999999"): serial "9999999" (h8) already used by the key package on line 60`}},
		{file: "totp.xml", want: []string{"t6 TOTP0001 " + rfcSecret + " c=0 s=30   ", "t8 TOTP0002 " + rfcSecret + " c=0 s=60   "}},
	}
	for _, tc := range tests {
		toks, err := ParsePSKC(strings.NewReader(readTestdata(t, tc.file)), tc.key)
		name := tc.file
		if tc.key != nil {
			name += " with key " + hex.EncodeToString(tc.key)
		}
		if tc.errs != nil {
			checkProblems(t, name, toks, err, tc.errs)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got []string
		for _, tk := range toks {
			got = append(got, tokenString(tk))
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", name, got, tc.want)
		}
	}
}

// checkProblems checks that err is an *Error whose problems contain each
// of want, in order, and that no token came with it.
func checkProblems(t *testing.T, name string, toks []Token, err error, want []string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error %v, want *Error with %q", name, err, want)
		return
	}
	if toks != nil {
		t.Errorf("%s: tokens returned with an error", name)
	}
	text := err.Error()
	at := 0
	for _, w := range want {
		i := strings.Index(text[at:], w)
		if i < 0 {
			t.Errorf("%s: error lacks %q (in order):\n%s", name, w, text)
			return
		}
		at += i + len(w)
	}
	for _, s := range []string{rfcSecret, "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA", "AAECAwQFBgcICQoLDA0OD"} {
		if strings.Contains(text, s) {
			t.Errorf("%s: error shows a secret: %s", name, text)
		}
	}
}

func TestPSKCProblems(t *testing.T) {
	t.Parallel()
	const head = `<?xml version="1.0"?>` + "\n" + `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">` + "\n"
	pkg := func(serial, alg, inner string) string {
		return "<KeyPackage><DeviceInfo><SerialNo>" + serial + "</SerialNo></DeviceInfo><Key Id=\"id-" + serial + "\" Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc:" + alg + "\">" + inner + "</Key></KeyPackage>\n"
	}
	const secret = "<Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data>"
	deep := head + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + "</KeyContainer>"
	tests := []struct {
		name, doc string
		errs      []string
	}{
		{"not xml", "hello", []string{"not a PSKC file"}},
		{"truncated", head + "<KeyPackage>", []string{"not well-formed XML"}},
		{"wrong root", `<Foo xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>`, []string{"root element is <Foo>"}},
		{"wrong namespace", `<KeyContainer Version="1.0" xmlns="urn:example"/>`, []string{`namespace is "urn:example"`}},
		{"wrong version", `<KeyContainer Version="2.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>`, []string{`Version "2.0"`}},
		{"too deep", deep, []string{"nested deeper than 32"}},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>` + head + "</KeyContainer>", []string{"DOCTYPE"}},
		{"empty", head + "</KeyContainer>", []string{"no HOTP or TOTP key"}},
		{"every problem", head +
			pkg("A1", "ocra", secret) +
			pkg("A2", "hotp", "<AlgorithmParameters><ResponseFormat Length=\"7\"/></AlgorithmParameters>"+secret) +
			pkg("A3", "hotp", "<AlgorithmParameters><ResponseFormat Length=\"6\" Encoding=\"HEXADECIMAL\"/></AlgorithmParameters>"+secret) +
			pkg("A4", "hotp", "<Data><Secret><PlainValue>!!!</PlainValue></Secret></Data>") +
			pkg("A5", "hotp", "<Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><Counter><PlainValue>x</PlainValue></Counter></Data>") +
			pkg("A6", "totp", "<Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><TimeInterval><PlainValue>0</PlainValue></TimeInterval></Data>") +
			pkg("A7", "totp", "<Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><Time><PlainValue>1000</PlainValue></Time></Data>") +
			pkg("A8", "hotp", "<AlgorithmParameters><Suite>HMAC-SHA256</Suite></AlgorithmParameters>"+secret) +
			pkg("A9", "hotp", "<Data><Secret><EncryptedValue><EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/><CipherData><CipherValue>AAAA</CipherValue></CipherData></EncryptedValue></Secret></Data>") +
			"<KeyPackage></KeyPackage>\n" +
			pkg("", "hotp", secret) +
			"</KeyContainer>",
			[]string{
				`line 3: key "id-A1" (serial "A1"): algorithm "urn:ietf:params:xml:ns:keyprov:pskc:ocra" is not supported`,
				`line 4: key "id-A2" (serial "A2"): ResponseFormat Length "7"`,
				`line 5: key "id-A3" (serial "A3"): ResponseFormat Encoding "HEXADECIMAL"`,
				`line 6: key "id-A4" (serial "A4"): secret: is not base64`,
				`line 7: key "id-A5" (serial "A5"): counter: "x" is not a whole number`,
				`line 8: key "id-A6" (serial "A6"): time interval 0 out of range`,
				`line 9: key "id-A7" (serial "A7"): time origin (Time) 1000`,
				`line 10: key "id-A8" (serial "A8"): suite "HMAC-SHA256"`,
				`line 11: key "id-A9" (serial "A9"): secret: the value is encrypted`,
				`line 12: KeyPackage without a Key`,
			}},
	}
	for _, tc := range tests {
		toks, err := ParsePSKC(strings.NewReader(tc.doc), nil)
		checkProblems(t, tc.name, toks, err, tc.errs)
	}
}

func TestPSKCTooLarge(t *testing.T) {
	t.Parallel()
	big := strings.NewReader(`<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc">` + strings.Repeat(" ", MaxFileSize))
	toks, err := ParsePSKC(big, nil)
	checkProblems(t, "too large", toks, err, []string{"file larger than"})
}

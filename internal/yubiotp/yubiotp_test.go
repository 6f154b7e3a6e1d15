package yubiotp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Yubico's yubico-c test-vectors.txt: the sample OTP, its AES key, and the
// decoded plaintext structure.
const (
	sampleOTP = "dteffujehknhfjbrjnlnldnhcujvddbikngjrtgh"
	sampleKey = "ecde18dbe76fbd0c33330f1c354871db"
)

func TestModhexVectors(t *testing.T) {
	t.Parallel()
	// test-vectors.txt, "Modhex" (the second "test" vector there is in
	// fact the encoding of "foobar", as decoding it shows).
	tests := []struct{ modhex, hex string }{
		{"dteffuje", "2d344e83"},
		{"hknhfjbrjnlnldnhcujvddbikngjrtgh", "69b6481c8baba2b60e8f22179b58cd56"},
		{"urtubjtnuihvntcreeeecvbregfjibtn", "ecde18dbe76fbd0c33330f1c354871db"},
		{"ifhgieif", hex.EncodeToString([]byte("test"))},
		{"hhhvhvhdhbid", hex.EncodeToString([]byte("foobar"))},
		{"cbdefghijklnrtuv", "0123456789abcdef"},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := ModhexDecode(tc.modhex)
		if err != nil || hex.EncodeToString(got) != tc.hex {
			t.Errorf("ModhexDecode(%q) = %x, %v; want %s", tc.modhex, got, err, tc.hex)
		}
		up, err := ModhexDecode(strings.ToUpper(tc.modhex))
		if err != nil || !bytes.Equal(up, got) {
			t.Errorf("ModhexDecode(upper %q) = %x, %v", tc.modhex, up, err)
		}
		if enc := ModhexEncode(unhex(t, tc.hex)); enc != tc.modhex {
			t.Errorf("ModhexEncode(%s) = %q, want %q", tc.hex, enc, tc.modhex)
		}
	}
}

func TestModhexErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"c", "odd length 1"},
		{"cbd", "odd length 3"},
		{"ca", "character 2"},
		{"0c", "character 1"},
		{"cccccccz", "character 8"},
		{"cc\x00c", "character 3"},
		{"c\xff", "character 2"},
	}
	for _, tc := range tests {
		_, err := ModhexDecode(tc.in)
		if !errors.Is(err, ErrModhex) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ModhexDecode(%q) = %v; want ErrModhex mentioning %q", tc.in, err, tc.want)
		}
		if IsModhex(tc.in) {
			t.Errorf("IsModhex(%q) = true", tc.in)
		}
	}
	if !IsModhex("cbdefghijklnrtuv") || !IsModhex("CBDE") || IsModhex("") {
		t.Error("IsModhex misjudges the alphabet or the empty string")
	}
}

func TestCRC16Vectors(t *testing.T) {
	t.Parallel()
	// yubico-c tests/selftest.c, crc_test1..4, and the residue of the
	// sample plaintext in test-vectors.txt.
	tests := []struct {
		in   []byte
		want uint16
	}{
		{[]byte{0, 1, 2, 3, 4}, 62919},
		{[]byte{0xfe}, 4470},
		{[]byte{0x55, 0xaa, 0, 0xff}, 52149},
		{[]byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x30, 0x75, 0x00, 0x09, 0x3d, 0xfa, 0x60, 0xea}, 35339},
		{unhex(t, "8792ebfe26cc130030c20011c89f23c8"), 0xf0b8},
	}
	for _, tc := range tests {
		if got := crc16(tc.in); got != tc.want {
			t.Errorf("crc16(%x) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSampleOTP(t *testing.T) {
	t.Parallel()
	pub, ct, err := Parse(sampleOTP)
	if err != nil {
		t.Fatal(err)
	}
	if pub != "dteffuje" || hex.EncodeToString(ct) != "69b6481c8baba2b60e8f22179b58cd56" {
		t.Fatalf("Parse = %q, %x", pub, ct)
	}
	tok, err := Decrypt(unhex(t, sampleKey), ct)
	if err != nil {
		t.Fatal(err)
	}
	// uid 87 92 eb fe 26 cc, counter 19, timestamp low 49712, high 0,
	// session use 17, random 40904.
	want := Token{
		PrivateID:      [6]byte{0x87, 0x92, 0xeb, 0xfe, 0x26, 0xcc},
		UseCounter:     19,
		Timestamp:      49712,
		SessionCounter: 17,
		Random:         40904,
	}
	if tok != want {
		t.Fatalf("Decrypt = %+v, want %+v", tok, want)
	}
	// Re-encrypting gives the published ciphertext back.
	again, err := Generate(pub, unhex(t, sampleKey), tok)
	if err != nil || again != sampleOTP {
		t.Fatalf("Generate = %q, %v; want %q", again, err, sampleOTP)
	}
	if _, _, err := Verify(strings.ToUpper(sampleOTP), unhex(t, sampleKey), unhex(t, "8792ebfe26cc")); err != nil {
		t.Fatalf("Verify(upper case) = %v", err)
	}
}

// TestSelftestVectors uses the OTP vectors of yubico-c tests/selftest.c
// (otp_testvectors): each OTP decrypts to its fields and each set of fields
// encrypts to its OTP.
func TestSelftestVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, otp, uid string
		rawCtr        uint16
		tstpl         uint16
		tstph, use    uint8
		rnd           uint16
	}{
		{"000102030405060708090a0b0c0d0e0f", "dvgtiblfkbgturecfllberrvkinnctnn", "010203040506", 1, 1, 1, 1, 0},
		{"000102030405060708090a0b0c0d0e0f", "rnibcnfhdninbrdebccrndfhjgnhftee", "010203040506", 1, 1, 1, 2, 0},
		{"000102030405060708090a0b0c0d0e0f", "iikkijbdknrrdhfdrjltvgrbkkjblcbh", "010203040506", 0xfff, 1, 1, 1, 0},
		{"88888888888888888888888888888888", "dcihgvrhjeucvrinhdfddbjhfjftjdei", "888888888888", 0x8888, 0x8888, 0x88, 0x88, 0x8888},
		{"00000000000000000000000000000000", "kkkncjnvcnenkjvjgncjihljiibgbhbh", "000000000000", 0, 0, 0, 0, 0},
		{"c4422890653076cde73d449b191b416a", "iucvrkjiegbhidrcicvlgrcgkgurhjnj", "33c69e7f249e", 1, 0x13a7, 0x24, 0, 0xc63c},
	}
	for _, tc := range tests {
		var want Token
		copy(want.PrivateID[:], unhex(t, tc.uid))
		want.UseCounter = tc.rawCtr & 0x7fff
		want.CapsLock = tc.rawCtr&0x8000 != 0
		want.Timestamp = uint32(tc.tstph)<<16 | uint32(tc.tstpl)
		want.SessionCounter = tc.use
		want.Random = tc.rnd
		key := unhex(t, tc.key)

		pub, tok, err := Verify(tc.otp, key, unhex(t, tc.uid))
		if err != nil || pub != "" || tok != want {
			t.Errorf("Verify(%s) = %q, %+v, %v; want %+v", tc.otp, pub, tok, err, want)
		}
		otp, err := Generate("", key, want)
		if err != nil || otp != tc.otp {
			t.Errorf("Generate(%+v) = %q, %v; want %q", want, otp, err, tc.otp)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("c", 32) + sampleOTP[8:]
	tests := []struct {
		name, otp, want string
	}{
		{"empty", "", "0 characters"},
		{"short", sampleOTP[9:], "31 characters"},
		{"too long", "cc" + long, "at most 64"},
		{"odd public id", "c" + sampleOTP, "odd length"},
		{"not modhex in public id", "dteffujA" + sampleOTP[8:], "public identity"},
		{"digits", "12345678" + sampleOTP[8:], "public identity"},
		{"not modhex in ciphertext", sampleOTP[:39] + "x", "encrypted part"},
		{"passcode", "123456", "6 characters"},
	}
	for _, tc := range tests {
		_, _, err := Parse(tc.otp)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse(%q) = %v; want ErrFormat mentioning %q", tc.name, tc.otp, err, tc.want)
		}
	}
	// The longest public identity (16 bytes) and none at all both parse.
	for _, ok := range []string{long, sampleOTP[8:], "  " + sampleOTP + "\n"} {
		if _, _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q) = %v", ok, err)
		}
	}
}

func TestDecryptRefuses(t *testing.T) {
	t.Parallel()
	_, ct, err := Parse(sampleOTP)
	if err != nil {
		t.Fatal(err)
	}
	key := unhex(t, sampleKey)
	wrong := bytes.Clone(key)
	wrong[0] ^= 1
	if _, err := Decrypt(wrong, ct); !errors.Is(err, ErrCRC) {
		t.Errorf("wrong key: %v, want ErrCRC", err)
	}
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x10
		if _, err := Decrypt(key, bad); !errors.Is(err, ErrCRC) {
			t.Errorf("byte %d flipped: %v, want ErrCRC", i, err)
		}
	}
	if _, err := Decrypt(key[:15], ct); !errors.Is(err, ErrKey) {
		t.Errorf("short key: %v, want ErrKey", err)
	}
	if _, err := Decrypt(key, ct[:15]); !errors.Is(err, ErrFormat) {
		t.Errorf("short ciphertext: %v, want ErrFormat", err)
	}
	if _, _, err := Verify(sampleOTP, key, unhex(t, "8792ebfe26cd")); !errors.Is(err, ErrPrivateID) {
		t.Errorf("other private id: %v, want ErrPrivateID", err)
	}
	if _, _, err := Verify(sampleOTP, key, []byte{1}); !errors.Is(err, ErrKey) {
		t.Errorf("short private id: %v, want ErrKey", err)
	}
}

func TestNewer(t *testing.T) {
	t.Parallel()
	tok := func(use uint16, session uint8) Token { return Token{UseCounter: use, SessionCounter: session} }
	tests := []struct {
		name      string
		prev, cur Token
		want      bool
	}{
		{"next in session", tok(5, 1), tok(5, 2), true},
		{"new session", tok(5, 200), tok(6, 0), true},
		{"replay", tok(5, 2), tok(5, 2), false},
		{"older in session", tok(5, 3), tok(5, 2), false},
		{"older session", tok(6, 0), tok(5, 255), false},
		{"first ever", Token{}, tok(0, 1), true},
		{"zero after nothing", Token{}, tok(0, 0), false},
		{"max", tok(MaxUseCounter, 254), tok(MaxUseCounter, 255), true},
	}
	for _, tc := range tests {
		if got := Newer(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: Newer(%+v, %+v) = %v, want %v", tc.name, tc.prev, tc.cur, got, tc.want)
		}
		// One integer counter orders tokens as Newer does.
		if got := tc.cur.Counter() > tc.prev.Counter(); got != tc.want {
			t.Errorf("%s: Counter %d > %d = %v, want %v", tc.name, tc.cur.Counter(), tc.prev.Counter(), got, tc.want)
		}
	}
	// The caps-lock flag does not count: the same press with and without
	// it is the same OTP position.
	a, b := tok(7, 3), tok(7, 3)
	b.CapsLock = true
	if Newer(a, b) || Newer(b, a) {
		t.Error("caps lock changed the order")
	}
}

func TestGenerateRoundTrip(t *testing.T) {
	t.Parallel()
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	want := Token{PrivateID: [6]byte{1, 2, 3, 4, 5, 6}, UseCounter: 42, CapsLock: true, Timestamp: 0xabcdef, SessionCounter: 9, Random: 0x1234}
	otp, err := Generate("VVCCCCCCCCCB", key, want)
	if err != nil {
		t.Fatal(err)
	}
	pub, got, err := Verify(otp, key, want.PrivateID[:])
	if err != nil || pub != "vvcccccccccb" || got != want {
		t.Fatalf("round trip: %q %+v %v", pub, got, err)
	}
	for _, bad := range []Token{{UseCounter: 0x8000}, {Timestamp: 1 << 24}} {
		if _, err := Generate("", key, bad); err == nil {
			t.Errorf("Generate(%+v) accepted out-of-range fields", bad)
		}
	}
	if _, err := Generate("xyz", key, want); err == nil {
		t.Error("Generate accepted a non-modhex public id")
	}
	if _, err := Generate(strings.Repeat("c", 34), key, want); err == nil {
		t.Error("Generate accepted a 17-byte public id")
	}
	if _, err := Encrypt(key[:8], want); !errors.Is(err, ErrKey) {
		t.Errorf("Encrypt with a short key: %v", err)
	}
}

func TestCodec(t *testing.T) {
	t.Parallel()
	var c Codec
	pub, ct, err := c.Parse(sampleOTP)
	if err != nil || pub != "dteffuje" {
		t.Fatalf("Parse = %q, %v", pub, err)
	}
	priv, counter, err := c.Decrypt(unhex(t, sampleKey), ct)
	if err != nil || hex.EncodeToString(priv) != "8792ebfe26cc" || counter != 19<<8|17 {
		t.Fatalf("Decrypt = %x, %d, %v", priv, counter, err)
	}
	if _, _, err := c.Decrypt(unhex(t, "000102030405060708090a0b0c0d0e0f"), ct); !errors.Is(err, ErrCRC) {
		t.Fatalf("Decrypt with the wrong key: %v", err)
	}
}

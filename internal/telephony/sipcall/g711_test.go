package sipcall

import "testing"

// Reference values: the decoder tables of ITU-T G.711 (Tables 2a/2b), scaled to
// 16-bit PCM as in the G.191 Software Tool Library and the widely copied Sun
// Microsystems g711.c tables (μ-law 0x00 → -32124, 0x01 → -31100, …).
func TestULawReference(t *testing.T) {
	decode := []struct {
		code byte
		want int16
	}{
		{0xff, 0}, {0x7f, 0}, {0x80, 32124}, {0x00, -32124}, {0x01, -31100}, {0x81, 31100},
		{0xfe, 8}, {0x7e, -8}, {0xf0, 120}, {0xef, 132}, {0xe0, 372},
		{0xdf, 396}, {0x8f, 16764}, {0x9f, 8316}, {0x0f, -16764},
	}
	for _, tc := range decode {
		if got := ULawDecode(tc.code); got != tc.want {
			t.Errorf("ULawDecode(%#02x) = %d, want %d", tc.code, got, tc.want)
		}
	}
	encode := []struct {
		in   int16
		want byte
	}{
		{0, 0xff}, {-1, 0x7f}, {32767, 0x80}, {-32768, 0x00},
		{8, 0xfe}, {-8, 0x7e}, {132, 0xef}, {8316, 0x9f}, {1000, 0xce},
	}
	for _, tc := range encode {
		if got := ULawEncode(tc.in); got != tc.want {
			t.Errorf("ULawEncode(%d) = %#02x, want %#02x", tc.in, got, tc.want)
		}
	}
}

func TestALawReference(t *testing.T) {
	decode := []struct {
		code byte
		want int16
	}{
		{0xd5, 8}, {0x55, -8}, {0xaa, 32256}, {0x2a, -32256}, {0x00, -5504}, {0x01, -5248}, {0x02, -6016}, {0x03, -5760}, {0x80, 5504},
		{0xd4, 24}, {0xc5, 264}, {0xf5, 528},
	}
	for _, tc := range decode {
		if got := ALawDecode(tc.code); got != tc.want {
			t.Errorf("ALawDecode(%#02x) = %d, want %d", tc.code, got, tc.want)
		}
	}
	encode := []struct {
		in   int16
		want byte
	}{
		{0, 0xd5}, {-1, 0x55}, {32767, 0xaa}, {-32768, 0x2a}, {8, 0xd5}, {24, 0xd4}, {264, 0xc5},
	}
	for _, tc := range encode {
		if got := ALawEncode(tc.in); got != tc.want {
			t.Errorf("ALawEncode(%d) = %#02x, want %#02x", tc.in, got, tc.want)
		}
	}
}

// Every code word decodes to the centre of its interval, so encoding a decoded
// value gives the code word back (G.711 §4: the decoder output is the interval
// midpoint). μ-law 0x7f (negative zero) encodes back as 0xff (positive zero).
func TestG711RoundTrip(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if got := ULawEncode(ULawDecode(b)); got != b && !(b == 0x7f && got == 0xff) {
			t.Errorf("μ-law %#02x → %d → %#02x", b, ULawDecode(b), got)
		}
		if got := ALawEncode(ALawDecode(b)); got != b {
			t.Errorf("A-law %#02x → %d → %#02x", b, ALawDecode(b), got)
		}
	}
	// Monotonic: a larger input never encodes to a smaller decoded value.
	prevU, prevA := ULawDecode(ULawEncode(-32768)), ALawDecode(ALawEncode(-32768))
	for s := -32768; s <= 32767; s += 7 {
		u, a := ULawDecode(ULawEncode(int16(s))), ALawDecode(ALawEncode(int16(s)))
		if u < prevU || a < prevA {
			t.Fatalf("not monotonic at %d", s)
		}
		prevU, prevA = u, a
	}
}

package username

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // "" with wantErr set: refused
		wantErr  string // part of the reason
	}{
		{"ascii", "alice", "alice", ""},
		{"ascii case", "ALiCe", "alice", ""},
		{"fullwidth", "ＫＡＲＬ", "karl", ""},
		{"halfwidth katakana", "ｱｲｳ", "アイウ", ""},
		{"kelvin sign", "\u212Aarl", "", "U+212A"},
		{"ohm sign", "\u2126mega", "", "U+2126"},
		{"angstrom sign", "\u212Bngstrom", "", "U+212B"},
		{"ligature fi", "\uFB01le", "", "U+FB01"},
		{"superscript", "x\u00B2", "", "U+00B2"},
		{"roman numeral", "\u216B", "", "U+216B"},
		{"titlecase digraph", "\u01C5", "", "U+01C5"},
		{"no-break space", "a\u00A0b", "", "U+00A0"},
		{"precomposed", "Jos\u00E9", "jos\u00E9", ""},
		{"combining sequence", "Jose\u0301", "jos\u00E9", ""},
		{"domain backslash", "EXAMPLE\\alice", "example\\alice", ""},
		{"email", "User@Example.com", "user@example.com", ""},
		{"apostrophe", "O'Brien", "o'brien", ""},
		{"sharp s kept", "Stra\u00DFe", "stra\u00DFe", ""},
		{"greek", "\u03A3\u0391\u03A3", "\u03C3\u03B1\u03C3", ""},
		{"katakana middle dot", "ジョン・スミス", "ジョン・スミス", ""},
		{"arabic", "\u0627\u0644\u0639\u0631\u0628\u064A\u0629", "\u0627\u0644\u0639\u0631\u0628\u064A\u0629", ""},
		{"space separated parts", "John Smith", "john smith", ""},
		{"ideographic space", "John\u3000Smith", "john smith", ""},
		{"leading space", " john", "", "start or end with a space"},
		{"trailing space", "john ", "", "start or end with a space"},
		{"double space", "john  smith", "", "two spaces in a row"},
		{"only a space", " ", "", "start or end with a space"},
		{"tab", "john\tsmith", "", "control characters"},
		{"newline", "john\n", "", "control characters"},
		{"nul", "jo\x00hn", "", "control characters"},
		{"c1 control", "jo\u0085hn", "", "control characters"},
		{"delete", "jo\x7fhn", "", "control characters"},
		{"zero width joiner", "a\u200Db", "", "U+200D"},
		{"symbol", "coffee\u2615", "", "U+2615"},
		{"mixed direction", "\u05D0\u05D1c", "", "right-to-left"},
		{"empty", "", "", "must not be empty"},
		{"invalid utf-8", "a\xffb", "", "UTF-8"},
		{"longest", strings.Repeat("a", MaxLength), strings.Repeat("a", MaxLength), ""},
		{"too long", strings.Repeat("a", MaxLength+1), "", "longer than 128"},
		{"too long in bytes", strings.Repeat("a", 100_000), "", "longer than 128"},
		{"long only before normalising", strings.Repeat("e\u0301", MaxLength), strings.Repeat("\u00E9", MaxLength), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if tc.wantErr != "" {
				var ue *Error
				if !errors.As(err, &ue) {
					t.Fatalf("Normalize(%+q) = %+q, %v; want an *Error containing %q", tc.in, got, err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Normalize(%+q) error %q, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Normalize(%+q) = %+q, %v; want %+q", tc.in, got, err, tc.want)
			}
			again, err := Normalize(got)
			if err != nil || again != got {
				t.Errorf("Normalize is not idempotent: Normalize(%+q) = %+q, %v", got, again, err)
			}
		})
	}
}

// TestNormalizedHasNoUpperCaseASCII is the invariant stores rely on to give
// a row a key no input can produce (an upper-case user ID).
func TestNormalizedHasNoUpperCaseASCII(t *testing.T) {
	for _, in := range []string{"DU94SWSN4ADHHJHF2HXT", "ALICE", "ＡＬＩＣＥ", "Mixed Case Name"} {
		got, err := Normalize(in)
		if err != nil {
			t.Fatalf("Normalize(%q): %v", in, err)
		}
		if strings.IndexFunc(got, func(r rune) bool { return r < unicode.MaxASCII && unicode.IsUpper(r) }) >= 0 {
			t.Errorf("Normalize(%q) = %q has upper-case ASCII", in, got)
		}
	}
}

// TestNormalizeASCII: the ASCII fast path gives exactly what the general
// path gives, for every name it takes: every one- and two-character name
// of ASCII, and random longer ones around the length limit.
func TestNormalizeASCII(t *testing.T) {
	var names []string
	for a := range 0x80 {
		names = append(names, string(rune(a)))
		for b := range 0x80 {
			names = append(names, string([]byte{byte(a), byte(b)}))
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ 09._-@!~\x7f\t"
	for range 20000 {
		b := make([]byte, 1+rnd.IntN(MaxLength+2))
		for i := range b {
			if rnd.IntN(4) == 0 {
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			} else {
				b[i] = byte(0x20 + rnd.IntN(0x5f))
			}
		}
		names = append(names, string(b))
	}
	fast := 0
	for _, in := range names {
		checkFastPath(t, in)
		if _, ok := normalizeASCII(in); ok {
			fast++
		}
	}
	if fast < len(names)/4 { // the rest have spaces, control characters or length the fast path leaves alone
		t.Errorf("the fast path took only %d of %d names", fast, len(names))
	}
}

// checkFastPath fails t if normalizeASCII takes in and disagrees with the
// general path.
func checkFastPath(t *testing.T, in string) {
	t.Helper()
	got, ok := normalizeASCII(in)
	if !ok {
		return
	}
	want, err := normalize(in)
	if err != nil || got != want {
		t.Fatalf("normalizeASCII(%+q) = %+q; the general path: %+q, %v", in, got, want, err)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"alice", "\u212Aarl", "ＫＡＲＬ", "John Smith", "e\u0301", "\u05D0\u05D1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) <= maxInputBytes {
			checkFastPath(t, s)
		}
		got, err := Normalize(s)
		if err != nil {
			var ue *Error
			if !errors.As(err, &ue) {
				t.Fatalf("Normalize(%+q): error %v is not an *Error", s, err)
			}
			return
		}
		again, err := Normalize(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: Normalize(%+q) = %+q; Normalize of that = %+q, %v", s, got, again, err)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"ascii", "alice"},
		{"two parts", "John Smith"},
		{"fullwidth", "ＪＯＨＮ"},
		{"longest accented", strings.Repeat("é", MaxLength)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Normalize(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

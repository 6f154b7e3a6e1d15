package ids

import (
	"regexp"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	shape := regexp.MustCompile(`^DU[A-Z0-9]{18}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := New(User)
		if !shape.MatchString(id) {
			t.Fatalf("New(User) = %q, want DU + 18 of [A-Z0-9]", id)
		}
		if seen[id] {
			t.Fatalf("New(User) repeated %q", id)
		}
		seen[id] = true
	}
}

// TestRandomUniform draws many characters and checks that each of the
// alphabet's appears about equally often. Mapping a random byte onto 36
// characters by remainder alone would make the first 4 characters 14 %
// more likely (256 = 7×36 + 4); the tolerance here is 3 %, more than ten
// standard deviations, so the test does not flake.
func TestRandomUniform(t *testing.T) {
	for _, alpha := range []string{alphabet, "0123456789", "ab", "x"} {
		const per = 100_000
		s := Random(per*len(alpha), alpha)
		if len(s) != per*len(alpha) {
			t.Fatalf("Random(%d, %q) returned %d characters", per*len(alpha), alpha, len(s))
		}
		counts := map[rune]int{}
		for _, r := range s {
			if !strings.ContainsRune(alpha, r) {
				t.Fatalf("Random(…, %q) returned %q", alpha, r)
			}
			counts[r]++
		}
		for _, r := range alpha {
			if n := counts[r]; n < per*97/100 || n > per*103/100 {
				t.Errorf("alphabet %q: %q drawn %d times, want %d ± 3 %%", alpha, r, n, per)
			}
		}
	}
}

func TestRandomLengths(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, n := range []int{0, 1, 9, 63, 64, 65, 1000} {
		if got := Random(n, alphabet); len(got) != n {
			t.Errorf("Random(%d) has %d characters", n, len(got))
		}
		if got := Random(n, string(all)); len(got) != n {
			t.Errorf("Random(%d, 256 bytes) has %d bytes", n, len(got))
		}
	}
}

func TestRandomBadAlphabet(t *testing.T) {
	for _, alpha := range []string{"", strings.Repeat("a", 257)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Random with a %d-byte alphabet did not panic", len(alpha))
				}
			}()
			Random(1, alpha)
		}()
	}
}

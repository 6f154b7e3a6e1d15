package username

import (
	"strings"
	"testing"
)

func TestPolicyApply(t *testing.T) {
	for _, tc := range []struct {
		policy   Policy
		in, want string
	}{
		{PolicySimple, `EXAMPLE\alice`, "alice"},
		{PolicySimple, "alice@example.com", "alice"},
		{PolicySimple, "ALICE", "ALICE"}, // case is Normalize's business
		{PolicySimple, `example.com\ALICE@example.com`, "ALICE"},
		{PolicySimple, "alice", "alice"},
		{PolicySimple, "John Smith@example.com", "John Smith"},
		{PolicySimple, `a\b\c`, "c"},
		{PolicySimple, "a@b@c", "a"},
		{PolicySimple, `x\y@z\`, "y"},
		{PolicySimple, "@example.com", "@example.com"}, // nothing left: unchanged
		{PolicySimple, `EXAMPLE\`, `EXAMPLE\`},
		{PolicySimple, "", ""},
		{PolicyNone, `EXAMPLE\alice`, `EXAMPLE\alice`},
		{PolicyNone, "alice@example.com", "alice@example.com"},
		{Policy(""), `EXAMPLE\alice`, `EXAMPLE\alice`},
	} {
		if got := tc.policy.Apply(tc.in); got != tc.want {
			t.Errorf("%q.Apply(%q) = %q, want %q", tc.policy, tc.in, got, tc.want)
		}
	}
}

// TestPolicySameUser: every spelling Duo's simple policy accepts compares
// equal to the username after Normalize; under none they stay distinct.
func TestPolicySameUser(t *testing.T) {
	want, _ := Normalize("alice")
	for _, in := range []string{`EXAMPLE\alice`, "alice@example.com", "ALICE", `example\ALICE`, "Alice@Example.COM", "ａｌｉｃｅ@example.com"} {
		got, err := Normalize(PolicySimple.Apply(in))
		if err != nil || got != want {
			t.Errorf("simple: %q → %q, %v; want %q", in, got, err, want)
		}
		if in == "ALICE" {
			continue
		}
		if got, err := Normalize(PolicyNone.Apply(in)); err == nil && got == want {
			t.Errorf("none: %q compares equal to alice", in)
		}
	}
}

func TestPolicyValid(t *testing.T) {
	for p, want := range map[Policy]bool{PolicyNone: true, PolicySimple: true, "": false, "Simple": false, "strict": false} {
		if p.Valid() != want {
			t.Errorf("%q.Valid() = %v", p, !want)
		}
	}
}

func FuzzSimple(f *testing.F) {
	for _, s := range []string{`EXAMPLE\alice`, "alice@example.com", "ALICE", `x\y@z\`, "@", `\`, "a@b@c", `a\b\c`, "ａｌｉｃｅ@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Simple(s)
		if !strings.Contains(s, got) {
			t.Fatalf("Simple(%+q) = %+q: not a substring", s, got)
		}
		if s != "" && got == "" {
			t.Fatalf("Simple(%+q) is empty", s)
		}
		if again := Simple(got); again != got {
			t.Fatalf("not idempotent: Simple(%+q) = %+q; Simple of that = %+q", s, got, again)
		}
		if got != s && (strings.Contains(got, `\`) && !strings.HasSuffix(got, `\`)) {
			t.Fatalf("Simple(%+q) = %+q still has a domain prefix", s, got)
		}
		if i := strings.IndexByte(got, '@'); i > 0 {
			t.Fatalf("Simple(%+q) = %+q still has an @domain suffix", s, got)
		}
		if PolicyNone.Apply(s) != s {
			t.Fatalf("none changed %+q", s)
		}
	})
}

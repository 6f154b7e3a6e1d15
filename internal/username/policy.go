package username

import "strings"

// Policy is Duo's username normalization policy of an integration
// (username_normalization_policy): how the username an application sends
// is turned into the name that is looked up, before Normalize compares it.
type Policy string

const (
	// PolicyNone looks the username up as typed ("EXAMPLE\alice" is not
	// "alice"). Duo's Admin API default, and the behaviour of integrations
	// made before Assent had the setting.
	PolicyNone Policy = "none"
	// PolicySimple strips a Windows domain prefix ("EXAMPLE\alice") and an
	// e-mail or UPN domain suffix ("alice@example.com") first, so all three
	// spellings (and their case variants) reach the user "alice".
	PolicySimple Policy = "simple"
)

// Valid reports whether p is a known policy.
func (p Policy) Valid() bool { return p == PolicyNone || p == PolicySimple }

// Apply returns the name to look up for s under p (PolicyNone and unknown
// policies: s itself).
func (p Policy) Apply(s string) string {
	if p == PolicySimple {
		return Simple(s)
	}
	return s
}

// Simple is Duo's "simple" username normalization: it drops a DOMAIN\
// prefix (everything up to the last backslash) and an @domain suffix
// (everything from the first '@'), again until nothing changes, so
// Simple(Simple(s)) == Simple(s). A cut that would leave nothing is not
// made ("@example.com" and "EXAMPLE\" stay as they are), so the caller's
// validation refuses or matches such a name as typed rather than looking
// up "". The result is a substring of s. Case is left alone: Normalize
// folds it.
func Simple(s string) string {
	for {
		out := s
		if i := strings.LastIndexByte(out, '\\'); i >= 0 && i+1 < len(out) {
			out = out[i+1:]
		}
		if i := strings.IndexByte(out, '@'); i > 0 {
			out = out[:i]
		}
		if out == s {
			return s
		}
		s = out // each round shortens s: the loop ends
	}
}

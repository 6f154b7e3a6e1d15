package httpapi

import (
	"net/http"
	"strings"
)

// Redacted stands in logs for a value that may be a secret.
const Redacted = "[redacted]"

// LogPath is the request's path as logs may show it. Paths can carry bearer
// secrets (enrollment-portal tokens in /portal/enroll/{token...}, activation
// codes in /push/v2/activation/{code...}), so a request that a ServeMux
// routed to a pattern with wildcards is logged as that pattern with every
// wildcard replaced by [redacted]: one rule for every route, present and
// future. Routes whose path carries a secret end in a {name...} wildcard, so
// near misses (a trailing slash or extra segment) are redacted too. Other
// requests, whose paths are fixed or matched by no route, show their path
// as sent. Query strings are never logged: they hold codes, JWTs and
// passcodes.
//
// ServeMux records the matched pattern in r.Pattern of the request it is
// handed, so call LogPath with that request after (or while) it is served.
func LogPath(r *http.Request) string {
	if p := redactPattern(r.Pattern); p != "" {
		return p
	}
	return r.URL.EscapedPath()
}

// redactPattern turns a ServeMux pattern ("[METHOD ][HOST]/PATH") into its
// path with wildcards redacted, or "" when the pattern has no wildcards.
func redactPattern(pattern string) string {
	if !strings.Contains(pattern, "{") {
		return ""
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	i := strings.IndexByte(pattern, '/')
	if i < 0 {
		return ""
	}
	segs := strings.Split(pattern[i:], "/")
	for j, s := range segs {
		switch {
		case s == "{$}":
			segs[j] = ""
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs[j] = Redacted
		}
	}
	return strings.Join(segs, "/")
}

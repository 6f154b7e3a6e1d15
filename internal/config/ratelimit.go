package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
)

// RateLimit is a token-bucket limit written "N/duration": N attempts at
// once, then N more spread over duration ("20/1m" allows 20 at once and one
// more every 3 s). "off" disables the limit. The zero value is "off".
type RateLimit struct {
	N      int
	Period time.Duration
}

// Off reports whether r limits nothing.
func (r RateLimit) Off() bool { return r.N <= 0 || r.Period <= 0 }

// Limit converts r for internal/ratelimit: a bucket of N tokens refilled one
// every Period/N. An off RateLimit gives the zero (disabled) Limit.
func (r RateLimit) Limit() ratelimit.Limit {
	if r.Off() {
		return ratelimit.Limit{}
	}
	return ratelimit.Limit{Every: r.Period / time.Duration(r.N), Burst: r.N}
}

// UnmarshalText parses "N/duration" (N a whole number ≥ 1, duration in Go
// syntax such as 1m or 30s, at least 1s) or "off".
func (r *RateLimit) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.EqualFold(s, "off") {
		*r = RateLimit{}
		return nil
	}
	bad := fmt.Errorf("%q is not a rate limit like 20/1m (attempts/period) or off", s)
	ns, ps, ok := strings.Cut(s, "/")
	if !ok {
		return bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil || n < 1 {
		return bad
	}
	p, err := time.ParseDuration(strings.TrimSpace(ps))
	if err != nil || p < time.Second {
		return bad
	}
	if p/time.Duration(n) <= 0 {
		return bad
	}
	*r = RateLimit{N: n, Period: p}
	return nil
}

// MarshalText writes r back as "N/duration" or "off".
func (r RateLimit) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r RateLimit) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.N) + "/" + r.Period.String()
}

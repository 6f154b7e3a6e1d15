package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
)

// RateLimit is a rate limit written "N/duration": a burst of N attempts,
// refilled at N per duration (one every duration/N), e.g. "5/5m"; or "off".
// The zero RateLimit is off.
type RateLimit struct {
	N   int
	Per time.Duration
}

// Bounds keep every limit meaningful: at least one attempt, a refill time
// of at least a millisecond, and a period a person can reason about.
const (
	maxRateLimitN   = 1_000_000
	maxRateLimitPer = 7 * 24 * time.Hour
)

// UnmarshalText parses "N/duration" or "off".
func (r *RateLimit) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "off" {
		*r = RateLimit{}
		return nil
	}
	bad := fmt.Errorf("%q is not a rate limit like 5/5m (a burst of N, refilled at N per duration) or off", s)
	ns, ds, ok := strings.Cut(s, "/")
	if !ok {
		return bad
	}
	n, err := strconv.Atoi(ns)
	if err != nil || strconv.Itoa(n) != ns {
		return bad
	}
	per, err := time.ParseDuration(ds)
	if err != nil {
		return bad
	}
	switch {
	case n < 1 || n > maxRateLimitN:
		return fmt.Errorf("%q: N must be between 1 and %d (use off to disable the limit)", s, maxRateLimitN)
	case per <= 0 || per > maxRateLimitPer:
		return fmt.Errorf("%q: the duration must be positive and at most %s", s, maxRateLimitPer)
	case per/time.Duration(n) < time.Millisecond:
		return fmt.Errorf("%q: more than one attempt per millisecond is no limit", s)
	}
	*r = RateLimit{N: n, Per: per}
	return nil
}

// MarshalText writes the limit as UnmarshalText reads it.
func (r RateLimit) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// String is "N/duration" or "off".
func (r RateLimit) String() string {
	if !r.Enabled() {
		return "off"
	}
	return strconv.Itoa(r.N) + "/" + shortDuration(r.Per)
}

// Enabled reports whether r limits anything.
func (r RateLimit) Enabled() bool { return r.N > 0 && r.Per > 0 }

// Limit is r as a token bucket: a burst of N, one token every Per/N; the
// zero Limit (no limit) when r is off.
func (r RateLimit) Limit() ratelimit.Limit {
	if !r.Enabled() {
		return ratelimit.Limit{}
	}
	return ratelimit.Limit{Every: r.Per / time.Duration(r.N), Burst: r.N}
}

// shortDuration drops the zero units time.Duration.String keeps ("5m0s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

package config

import (
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

// UnmarshalText parses "N/duration" or "off".
func (r *RateLimit) UnmarshalText(b []byte) error {
	n, per, err := ratelimit.ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = RateLimit{N: n, Per: per}
	return nil
}

// MarshalText writes the limit as UnmarshalText reads it.
func (r RateLimit) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// String is "N/duration" or "off".
func (r RateLimit) String() string {
	return ratelimit.FormatRate(r.N, r.Per)
}

// Enabled reports whether r limits anything.
func (r RateLimit) Enabled() bool { return r.N > 0 && r.Per > 0 }

// Limit is r as a token bucket: a burst of N, one token every Per/N; the
// zero Limit (no limit) when r is off.
func (r RateLimit) Limit() ratelimit.Limit {
	return ratelimit.RateOf(r.N, r.Per)
}

// Package ratelimit keeps token buckets keyed by a string (a client IP, a
// user ID, an integration key) in bounded memory. The edges use it for
// guessable inputs (signatures, activation codes, portal links) and the core
// for per-user limits (pushes, failed passcodes).
//
// A bucket holds Burst tokens and refills one token every Every. Two ways of
// spending fit the two kinds of limit:
//   - Allow takes a token for every attempt (pushes per user);
//   - Blocked asks, without spending, whether the key is out of tokens, and
//     Fail spends one only when an attempt failed (failed passcodes), so
//     people who type their code right are never slowed down.
//
// Buckets live in one process: every node of a cluster keeps its own, so a
// cluster of N nodes allows up to N times the configured rate.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is one kind of limit: Burst attempts at once, then one more every
// Every. The zero Limit (or a negative Burst) disables limiting.
type Limit struct {
	Every time.Duration
	Burst int
}

// Enabled reports whether l limits anything.
func (l Limit) Enabled() bool { return l.Every > 0 && l.Burst > 0 }

// DefaultMaxKeys bounds the number of buckets a Limiter keeps.
const DefaultMaxKeys = 100_000

// Limiter is a set of token buckets, one per key, all with the same Limit.
// It is safe for concurrent use. The zero value is not usable; use New.
type Limiter struct {
	limit   Limit
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// Options tune a Limiter. Zero values take the defaults.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxKeys bounds memory (default DefaultMaxKeys). When it is reached,
	// buckets that have refilled completely (which behave exactly as new
	// ones) are dropped; if none has, the whole set is dropped, which
	// forgives every key once rather than growing without bound.
	MaxKeys int
}

// New returns a Limiter applying l to every key. A disabled l gives a
// Limiter that allows everything.
func New(l Limit, o Options) *Limiter {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	return &Limiter{limit: l, now: o.Now, maxKeys: o.MaxKeys, buckets: map[string]*rate.Limiter{}}
}

// Limit is the limit every bucket applies.
func (l *Limiter) Limit() Limit {
	if l == nil {
		return Limit{}
	}
	return l.limit
}

// Allow spends a token of key's bucket and reports whether there was one.
// When there was not, retry says how long until there will be.
func (l *Limiter) Allow(key string) (ok bool, retry time.Duration) {
	if l == nil || !l.limit.Enabled() {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Blocked reports whether key's bucket is empty, without spending a token;
// retry says how long until it holds one again.
func (l *Limiter) Blocked(key string) (blocked bool, retry time.Duration) {
	if l == nil || !l.limit.Enabled() {
		return false, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok || b.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, l.wait(b, now)
}

// Fail spends a token of key's bucket (it may go empty, never below).
func (l *Limiter) Fail(key string) {
	if l == nil || !l.limit.Enabled() {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key, now).AllowN(now, 1)
}

// Len is the number of buckets kept (for tests and metrics).
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// bucket returns key's bucket, making room and creating it when needed.
// l.mu is held.
func (l *Limiter) bucket(key string, now time.Time) *rate.Limiter {
	if b, ok := l.buckets[key]; ok {
		return b
	}
	if len(l.buckets) >= l.maxKeys {
		full := float64(l.limit.Burst)
		for k, b := range l.buckets {
			if b.TokensAt(now) >= full {
				delete(l.buckets, k)
			}
		}
		if len(l.buckets) >= l.maxKeys {
			clear(l.buckets)
		}
	}
	b := rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst)
	// A new bucket starts full at now (rate.Limiter's own zero time would
	// be the real clock's, not an injected one).
	b.SetBurstAt(now, l.limit.Burst)
	l.buckets[key] = b
	return b
}

// wait is how long until b holds a whole token. l.mu is held.
func (l *Limiter) wait(b *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - b.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	d := time.Duration(missing * float64(l.limit.Every))
	return max(d, time.Second).Round(time.Second)
}

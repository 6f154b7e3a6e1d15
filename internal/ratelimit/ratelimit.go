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
// A third way, Begin and End, is Blocked and Fail made safe for concurrent
// attempts at the same key: attempts in flight count against the bucket,
// so a thousand parallel guesses cannot all pass a bucket holding one token.
//
// Buckets live in one process: every node of a cluster keeps its own, so a
// cluster of N nodes allows up to N times the configured rate.
package ratelimit

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	limit   Limit // SetLimit changes it
	buckets map[string]*rate.Limiter
	// inflight counts attempts between Begin and End, by key; an entry
	// lives only while an attempt is in flight, so it stays small.
	inflight map[string]int
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
	return &Limiter{limit: l, now: o.Now, maxKeys: o.MaxKeys, buckets: map[string]*rate.Limiter{}, inflight: map[string]int{}}
}

// Limit is the limit every bucket applies.
func (l *Limiter) Limit() Limit {
	if l == nil {
		return Limit{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// SetLimit changes the limit (a configuration reload). Buckets already
// kept take the new rate and burst, keeping the tokens they hold up to the
// new burst: nobody is forgiven or punished by a reload itself.
func (l *Limiter) SetLimit(nl Limit) {
	if l == nil {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if nl == l.limit {
		return
	}
	l.limit = nl
	if !nl.Enabled() {
		clear(l.buckets)
		return
	}
	for _, b := range l.buckets {
		b.SetLimitAt(now, rate.Every(nl.Every))
		b.SetBurstAt(now, nl.Burst) // tokens above the new burst are dropped at the next use
	}
}

// Allow spends a token of key's bucket and reports whether there was one.
// When there was not, retry says how long until there will be.
func (l *Limiter) Allow(key string) (ok bool, retry time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.limit.Enabled() {
		return true, 0
	}
	b := l.bucket(key, now)
	if b.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Blocked reports whether key's bucket is empty, without spending a token;
// retry says how long until it holds one again.
func (l *Limiter) Blocked(key string) (blocked bool, retry time.Duration) {
	if l == nil {
		return false, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.limit.Enabled() {
		return false, 0
	}
	b, ok := l.buckets[key]
	if !ok || b.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, l.wait(b, now)
}

// Fail spends a token of key's bucket (it may go empty, never below).
func (l *Limiter) Fail(key string) {
	if l == nil {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.limit.Enabled() {
		return
	}
	l.bucket(key, now).AllowN(now, 1)
}

// Begin starts an attempt whose cost is known only once it is over (a
// passcode check: only a failure costs a token). It refuses, like Blocked,
// when key's bucket less the attempts already in flight holds no whole
// token; otherwise the attempt is in flight until End. Every admitted
// attempt must be ended exactly once.
func (l *Limiter) Begin(key string) (ok bool, retry time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.limit.Enabled() {
		return true, 0
	}
	tokens := float64(l.limit.Burst)
	if b, ok := l.buckets[key]; ok {
		tokens = b.TokensAt(now)
	}
	n := l.inflight[key]
	if need := float64(n+1) - tokens; need > 0 {
		return false, max(time.Duration(need*float64(l.limit.Every)), time.Second).Round(time.Second)
	}
	l.inflight[key] = n + 1
	return true, 0
}

// End ends an attempt Begin admitted; a failed one spends a token (as Fail).
func (l *Limiter) End(key string, failed bool) {
	if l == nil {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// In-flight attempts are forgotten even when the limit was turned off
	// meanwhile (SetLimit), so that none is left counting.
	if n := l.inflight[key]; n > 1 {
		l.inflight[key] = n - 1
	} else {
		delete(l.inflight, key)
	}
	if failed && l.limit.Enabled() {
		l.bucket(key, now).AllowN(now, 1)
	}
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

// AddrKey is the key of a client address for per-address limits: an IPv4
// address as it is, an IPv6 address as its /64 network (one subscriber
// usually holds a whole /64, so single addresses would be free to rotate).
// s may carry a port ("192.0.2.1:443", "[2001:db8::1]:443"). It is "" when s
// is not an IP address.
func AddrKey(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return ""
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ""
	}
	return p.String()
}

// Named is a Limiter with the name of the setting that configures it. Its
// Warn counts every refusal (for metrics) and logs it at warning level, at
// most once per key per refill period (Every × Burst), so a flood leaves one
// line per key, not one per request.
type Named struct {
	*Limiter
	Name    string
	warned  *Limiter
	refused atomic.Uint64
}

// NewNamed returns a Named limiter applying l (disabled l: allows all).
func NewNamed(name string, l Limit, o Options) *Named {
	period := l.Every * time.Duration(max(l.Burst, 1))
	return &Named{Limiter: New(l, o), Name: name, warned: New(Limit{Every: period, Burst: 1}, o)}
}

// The Limiter's methods again, so that a nil *Named is no limit, as a nil
// *Limiter is (the promoted methods would dereference the nil pointer).

func (n *Named) limiter() *Limiter {
	if n == nil {
		return nil
	}
	return n.Limiter
}

// SetLimit changes the limit applied (see Limiter.SetLimit).
func (n *Named) SetLimit(l Limit) {
	if n == nil {
		return
	}
	n.Limiter.SetLimit(l)
	n.warned.SetLimit(Limit{Every: l.Every * time.Duration(max(l.Burst, 1)), Burst: 1})
}

// Limit is the limit applied (see Limiter.Limit).
func (n *Named) Limit() Limit { return n.limiter().Limit() }

// Allow spends a token of key (see Limiter.Allow).
func (n *Named) Allow(key string) (bool, time.Duration) { return n.limiter().Allow(key) }

// Blocked reports whether key has no token left (see Limiter.Blocked).
func (n *Named) Blocked(key string) (bool, time.Duration) { return n.limiter().Blocked(key) }

// Fail spends a token of key for a failure (see Limiter.Fail).
func (n *Named) Fail(key string) { n.limiter().Fail(key) }

// Begin starts an attempt of key (see Limiter.Begin).
func (n *Named) Begin(key string) (bool, time.Duration) { return n.limiter().Begin(key) }

// End ends an attempt of key (see Limiter.End).
func (n *Named) End(key string, failed bool) { n.limiter().End(key, failed) }

// Len is how many keys have a bucket (see Limiter.Len).
func (n *Named) Len() int { return n.limiter().Len() }

// Warn records that key was refused by this limit until retry: it counts
// the refusal and logs it, unless that key was already logged within the
// period. The key must not be a secret (a user ID, an address, an
// integration key).
func (n *Named) Warn(log *slog.Logger, key string, retry time.Duration) {
	if n == nil {
		return
	}
	n.refused.Add(1)
	if log == nil {
		return
	}
	if ok, _ := n.warned.Allow(key); ok {
		log.Warn("rate limit reached", "limit", n.Name, "key", key, "retry_after", retry.String())
	}
}

// Refused is how many attempts this limit has refused (each Warn).
func (n *Named) Refused() uint64 {
	if n == nil {
		return 0
	}
	return n.refused.Load()
}

// Bounds of a rate written "N/duration": at least one attempt, a refill
// time of at least a millisecond, and a period a person can reason about.
const (
	maxRateN   = 1_000_000
	maxRatePer = 7 * 24 * time.Hour
)

// ParseRate reads a rate limit written "N/duration" (a burst of N attempts,
// refilled at N per duration, e.g. "5/5m"), or "off" (n = 0).
func ParseRate(s string) (n int, per time.Duration, err error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return 0, 0, nil
	}
	bad := fmt.Errorf("%q is not a rate limit like 5/5m (a burst of N, refilled at N per duration) or off", s)
	ns, ds, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, bad
	}
	if n, err = strconv.Atoi(ns); err != nil || strconv.Itoa(n) != ns {
		return 0, 0, bad
	}
	if per, err = time.ParseDuration(ds); err != nil {
		return 0, 0, bad
	}
	switch {
	case n < 1 || n > maxRateN:
		return 0, 0, fmt.Errorf("%q: N must be between 1 and %d (use off to disable the limit)", s, maxRateN)
	case per <= 0 || per > maxRatePer:
		return 0, 0, fmt.Errorf("%q: the duration must be positive and at most %s", s, maxRatePer)
	case per/time.Duration(n) < time.Millisecond:
		return 0, 0, fmt.Errorf("%q: more than one attempt per millisecond is no limit", s)
	}
	return n, per, nil
}

// RateOf is the Limit of a rate ParseRate read: a burst of n, one token
// every per/n; the zero Limit (no limit) for n = 0.
func RateOf(n int, per time.Duration) Limit {
	if n <= 0 || per <= 0 {
		return Limit{}
	}
	return Limit{Every: per / time.Duration(n), Burst: n}
}

// FormatRate writes a rate as ParseRate reads it: "N/duration" or "off".
func FormatRate(n int, per time.Duration) string {
	if n <= 0 || per <= 0 {
		return "off"
	}
	return strconv.Itoa(n) + "/" + shortDuration(per)
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

package ratelimit

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// newClock is a clock the tests move.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

func TestAllowBurstThenRefill(t *testing.T) {
	c := newClock()
	l := New(Limit{Every: 10 * time.Second, Burst: 3}, Options{Now: c.Now})
	for i := range 3 {
		if ok, _ := l.Allow("u"); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, retry := l.Allow("u")
	if ok {
		t.Fatal("fourth attempt allowed")
	}
	if retry != 10*time.Second {
		t.Fatalf("retry = %v, want 10s", retry)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("another key is limited too")
	}
	c.Advance(9 * time.Second)
	if ok, retry := l.Allow("u"); ok || retry != time.Second {
		t.Fatalf("after 9s: ok=%v retry=%v, want refused with 1s", ok, retry)
	}
	c.Advance(time.Second)
	if ok, _ := l.Allow("u"); !ok {
		t.Fatal("refused after a token refilled")
	}
	if ok, _ := l.Allow("u"); ok {
		t.Fatal("two tokens after one refill")
	}
}

func TestBlockedAndFail(t *testing.T) {
	c := newClock()
	l := New(Limit{Every: time.Minute, Burst: 2}, Options{Now: c.Now})
	if b, _ := l.Blocked("ip"); b {
		t.Fatal("unknown key blocked")
	}
	if l.Len() != 0 {
		t.Fatal("Blocked created a bucket")
	}
	l.Fail("ip")
	if b, _ := l.Blocked("ip"); b {
		t.Fatal("blocked after one failure of two")
	}
	l.Fail("ip")
	b, retry := l.Blocked("ip")
	if !b || retry != time.Minute {
		t.Fatalf("after two failures: blocked=%v retry=%v, want true 1m", b, retry)
	}
	l.Fail("ip") // never below empty: one refill unblocks
	c.Advance(time.Minute)
	if b, _ := l.Blocked("ip"); b {
		t.Fatal("still blocked after a refill")
	}
}

func TestDisabledAndNil(t *testing.T) {
	var nilL *Limiter
	for _, l := range []*Limiter{nilL, New(Limit{}, Options{})} {
		for range 100 {
			if ok, _ := l.Allow("k"); !ok {
				t.Fatal("disabled limiter refused")
			}
			l.Fail("k")
			if ok, _ := l.Begin("k"); !ok {
				t.Fatal("disabled limiter refused an attempt")
			}
			l.End("k", true)
		}
		if b, _ := l.Blocked("k"); b {
			t.Fatal("disabled limiter blocked")
		}
	}
}

// A nil *Named is no limit, as a nil *Limiter is: the signer's and the
// device API's Failures are nil when no limit is configured.
func TestNilNamed(t *testing.T) {
	var n *Named
	for range 100 {
		if ok, _ := n.Allow("k"); !ok {
			t.Fatal("nil Named refused")
		}
		n.Fail("k")
		if ok, _ := n.Begin("k"); !ok {
			t.Fatal("nil Named refused an attempt")
		}
		n.End("k", true)
		n.Warn(nil, "k", time.Second)
	}
	if b, _ := n.Blocked("k"); b {
		t.Fatal("nil Named blocked")
	}
	if n.Limit().Enabled() || n.Len() != 0 || n.Refused() != 0 {
		t.Fatalf("nil Named: limit %+v, %d keys, %d refused", n.Limit(), n.Len(), n.Refused())
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	c := newClock()
	l := New(Limit{Every: time.Second, Burst: 1}, Options{Now: c.Now, MaxKeys: 100})
	for i := range 1000 {
		l.Fail(fmt.Sprint("k", i))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d buckets kept, max 100", n)
		}
	}
	// Refilled buckets are dropped first; a still-empty one is kept.
	l = New(Limit{Every: time.Minute, Burst: 2}, Options{Now: c.Now, MaxKeys: 100})
	l.Fail("hot")
	l.Fail("hot")
	for i := range 99 {
		l.Allow(fmt.Sprint("new", i)) // one token of two left
	}
	c.Advance(time.Minute) // the new ones are full again, "hot" holds one token
	l.Fail("hot")
	l.Allow("one-more") // full set: the refilled ones go, "hot" stays
	if b, _ := l.Blocked("hot"); !b {
		t.Fatal("an empty bucket was dropped while refilled ones were kept")
	}
	if n := l.Len(); n != 2 {
		t.Fatalf("%d buckets kept, want 2 (hot and one-more)", n)
	}
}

func TestConcurrent(t *testing.T) {
	l := New(Limit{Every: time.Hour, Burst: 50}, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("allowed %d, want exactly the burst of 50", allowed)
	}
}

func TestBeginEnd(t *testing.T) {
	c := newClock()
	l := New(Limit{Every: time.Minute, Burst: 2}, Options{Now: c.Now})
	// Successes cost nothing.
	for range 10 {
		ok, _ := l.Begin("u")
		if !ok {
			t.Fatal("refused although no attempt failed")
		}
		l.End("u", false)
	}
	// Two attempts in flight hold the two tokens: a third must wait,
	// whatever their outcome will be.
	for range 2 {
		if ok, _ := l.Begin("u"); !ok {
			t.Fatal("refused within the burst")
		}
	}
	if ok, retry := l.Begin("u"); ok || retry != time.Minute {
		t.Fatalf("third attempt in flight: ok=%v retry=%v, want refused with 1m", ok, retry)
	}
	l.End("u", false)
	if ok, _ := l.Begin("u"); !ok {
		t.Fatal("refused after an attempt in flight ended well")
	}
	l.End("u", true)
	l.End("u", true)
	if ok, retry := l.Begin("u"); ok || retry != time.Minute {
		t.Fatalf("after two failures: ok=%v retry=%v, want refused with 1m", ok, retry)
	}
	if b, _ := l.Blocked("u"); !b {
		t.Fatal("Blocked disagrees with Begin")
	}
	c.Advance(time.Minute)
	if ok, _ := l.Begin("u"); !ok {
		t.Fatal("refused after a refill")
	}
	l.End("u", false)
	if n := len(l.inflight); n != 0 {
		t.Fatalf("%d in-flight entries left after every attempt ended", n)
	}
}

func TestBeginConcurrent(t *testing.T) {
	l := New(Limit{Every: time.Hour, Burst: 5}, Options{})
	// Every attempt is begun before any ends, as when a flood of guesses
	// is checked in parallel.
	var begun, wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	begun.Add(20)
	for range 20 {
		wg.Go(func() {
			ok, _ := l.Begin("shared")
			begun.Done()
			begun.Wait()
			if ok {
				mu.Lock()
				admitted++
				mu.Unlock()
				l.End("shared", true)
			}
		})
	}
	wg.Wait()
	if admitted != 5 {
		t.Fatalf("admitted %d attempts in flight at once, want exactly the burst of 5", admitted)
	}
	if ok, _ := l.Begin("shared"); ok {
		t.Fatal("admitted after the burst failed")
	}
}

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"192.0.2.7:51234", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"", ""},
		{"not-an-ip", ""},
		{"example.com:443", ""},
	} {
		if got := AddrKey(tc.in); got != tc.want {
			t.Errorf("AddrKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNamedWarnsOncePerPeriod(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	n := NewNamed("rate_limit_things", Limit{Every: time.Minute, Burst: 2}, Options{Now: c.Now})
	for range 5 {
		n.Warn(log, "alice", time.Minute)
	}
	n.Warn(log, "bob", time.Minute)
	c.Advance(2 * time.Minute) // one period (Every × Burst)
	n.Warn(log, "alice", time.Minute)
	got := buf.String()
	if c := strings.Count(got, "key=alice"); c != 2 {
		t.Errorf("alice logged %d times, want 2 (once per period):\n%s", c, got)
	}
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "limit=rate_limit_things") || !strings.Contains(got, "key=bob") {
		t.Errorf("warning lacks the level, the limit's name or a key:\n%s", got)
	}
}

// SetLimit (a configuration reload) applies at once to keys already kept
// and to new ones; turning a limit off and on again leaves no attempt in
// flight behind.
func TestSetLimit(t *testing.T) {
	c := newClock()
	l := NewNamed("rate_limit_x", Limit{Every: time.Minute, Burst: 2}, Options{Now: c.Now})
	for range 2 {
		if ok, _ := l.Allow("u"); !ok {
			t.Fatal("refused within the burst")
		}
	}
	if ok, _ := l.Allow("u"); ok {
		t.Fatal("third attempt allowed")
	}
	// Faster refill: the empty bucket refills at the new rate.
	l.SetLimit(Limit{Every: time.Second, Burst: 5})
	if got := l.Limit(); got != (Limit{Every: time.Second, Burst: 5}) {
		t.Fatalf("Limit() = %+v after SetLimit", got)
	}
	if ok, retry := l.Allow("u"); ok || retry != time.Second {
		t.Fatalf("right after the change: ok=%v retry=%v, want refused for 1s (tokens are not given away)", ok, retry)
	}
	c.Advance(5 * time.Second)
	for i := range 5 {
		if ok, _ := l.Allow("u"); !ok {
			t.Fatalf("attempt %d refused within the new burst of 5", i+1)
		}
	}
	if ok, _ := l.Allow("u"); ok {
		t.Fatal("sixth attempt allowed with a burst of 5")
	}
	// Off: everything passes; Begin/End across the switch leave nothing.
	if ok, _ := l.Begin("v"); !ok {
		t.Fatal("Begin refused")
	}
	l.SetLimit(Limit{})
	if ok, _ := l.Allow("u"); !ok {
		t.Fatal("refused with the limit off")
	}
	l.End("v", true)
	l.SetLimit(Limit{Every: time.Minute, Burst: 1})
	if ok, _ := l.Begin("v"); !ok {
		t.Fatal("an attempt ended while the limit was off still counts as in flight")
	}
	l.End("v", false)
}

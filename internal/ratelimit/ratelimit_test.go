package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

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
	c.Add(9 * time.Second)
	if ok, retry := l.Allow("u"); ok || retry != time.Second {
		t.Fatalf("after 9s: ok=%v retry=%v, want refused with 1s", ok, retry)
	}
	c.Add(time.Second)
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
	c.Add(time.Minute)
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
		}
		if b, _ := l.Blocked("k"); b {
			t.Fatal("disabled limiter blocked")
		}
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
	c.Add(time.Minute) // the new ones are full again, "hot" holds one token
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

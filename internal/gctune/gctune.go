// Package gctune keeps the Go garbage collector from running after every
// few megabytes of allocation while the live heap is small.
//
// At Go's default GOGC=100 the next collection is due when the heap has
// grown by as much as is live. A server whose live heap is a few
// megabytes (assent serve between bursts) but which allocates some 25 KB
// per request then collects every couple of hundred requests: dozens of
// cycles a second at full load, each with two stop-the-world pauses and
// mark assists that land on request latency. A fixed higher GOGC would
// fix that but let a large heap (10,000 held pushes) grow by several
// times itself. So the tuner sets, after every collection, the GOGC that gives at
// least Headroom bytes of growth over the live heap, and never less than
// Go's default: once the live heap exceeds Headroom the collector behaves
// exactly as at GOGC=100. A soft memory limit (memory_limit, GOMEMLIMIT)
// still applies on top. An explicit GOGC in the environment wins: the
// tuner then does nothing.
package gctune

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

const (
	// DefaultHeadroom is the growth allowed over a small live heap.
	DefaultHeadroom = 8 << 20
	// maxPercent bounds GOGC however small the live heap is.
	maxPercent = 1600
)

// Percent is the GOGC that lets a heap with live bytes grow by at least
// headroom before the next collection, between 100 (Go's default) and
// maxPercent.
func Percent(live, headroom uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := (headroom*100 + live - 1) / live
	return int(min(max(p, 100), maxPercent))
}

// Tuner adjusts GOGC to the live heap.
type Tuner struct {
	Headroom uint64
	live     func() uint64
	set      func(int) int
	last     int
}

// New is a tuner of this process's collector with headroom bytes (0:
// DefaultHeadroom).
func New(headroom uint64) *Tuner {
	if headroom == 0 {
		headroom = DefaultHeadroom
	}
	return &Tuner{Headroom: headroom, live: liveHeap, set: debug.SetGCPercent}
}

// Step sets GOGC for the live heap now and returns it. It only calls the
// runtime when the value changes by more than a tenth, since each change
// recomputes the collector's pacing.
func (t *Tuner) Step() int {
	p := Percent(t.live(), t.Headroom)
	if t.last == 0 || p*10 < t.last*9 || p*10 > t.last*11 {
		t.set(p)
		t.last = p
	}
	return t.last
}

// Run steps the tuner after every collection until ctx ends, unless the
// environment sets GOGC, and restores Go's default when it returns.
// Stepping right after each cycle, when the live heap has just been
// measured, corrects the next cycle's goal at once: a heap that grew
// quickly (thousands of held requests) is not given a small heap's GOGC
// for long.
func (t *Tuner) Run(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	var stopped atomic.Bool
	steps := make(chan struct{}, 1)
	t.Step()
	arm(&stopped, steps)
	for {
		select {
		case <-ctx.Done():
			stopped.Store(true)
			t.set(100)
			return
		case <-steps:
			t.Step()
		}
	}
}

// arm registers a cleanup that runs after the next collection finds a
// fresh object unreachable: it signals steps and arms the next one.
func arm(stopped *atomic.Bool, steps chan<- struct{}) {
	sentinel := new([16]byte) // not tiny-allocated: freed by the next cycle
	runtime.AddCleanup(sentinel, func(struct{}) {
		if stopped.Load() {
			return
		}
		select {
		case steps <- struct{}{}:
		default: // a step is already due
		}
		arm(stopped, steps)
	}, struct{}{})
}

// liveHeap is the heap marked live by the last collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

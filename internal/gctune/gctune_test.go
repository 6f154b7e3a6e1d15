package gctune

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 16 * mb, maxPercent},         // nothing live yet
		{1 * mb, 16 * mb, maxPercent},    // 1600 % exactly
		{512 << 10, 16 * mb, maxPercent}, // capped
		{2 * mb, 16 * mb, 800},           // 16 MB of growth over 2 MB
		{3 * mb, 16 * mb, 534},           // rounded up: at least the headroom
		{16 * mb, 16 * mb, 100},          // as Go's default from here on
		{150 * mb, 16 * mb, 100},         // 10,000 held pushes: never below the default
		{10 * mb, 0, 100},                // no headroom asked
	} {
		if got := Percent(tc.live, tc.headroom); got != tc.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tc.live, tc.headroom, got, tc.want)
		}
		if got := Percent(tc.live, tc.headroom); tc.live > 0 && tc.headroom > 0 && got < maxPercent &&
			tc.live*uint64(got)/100 < tc.headroom && got > 100 {
			t.Errorf("Percent(%d, %d) = %d gives less than the headroom", tc.live, tc.headroom, got)
		}
	}
}

func TestStep(t *testing.T) {
	const mb = 1 << 20
	live := uint64(2 * mb)
	var calls []int
	tu := &Tuner{Headroom: 16 * mb, live: func() uint64 { return live }, set: func(p int) int { calls = append(calls, p); return 100 }}
	steps := []struct {
		live uint64
		want int
	}{
		{2 * mb, 800},
		{2*mb + mb/10, 800}, // 762: within a tenth, left alone
		{4 * mb, 400},       // changed
		{200 * mb, 100},     // a large heap: Go's default
		{200 * mb, 100},
	}
	for i, s := range steps {
		live = s.live
		if got := tu.Step(); got != s.want {
			t.Errorf("step %d (live %d): GOGC %d, want %d", i, s.live, got, s.want)
		}
	}
	if want := []int{800, 400, 100}; len(calls) != len(want) || calls[0] != want[0] || calls[1] != want[1] || calls[2] != want[2] {
		t.Errorf("SetGCPercent calls %v, want %v", calls, want)
	}
}

func TestRunRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "50")
	called := false
	tu := &Tuner{Headroom: DefaultHeadroom, live: func() uint64 { return 1 }, set: func(int) int { called = true; return 100 }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tu.Run(ctx)
	if called {
		t.Error("Run changed GOGC although the environment sets it")
	}
}

func TestRunSetsAndRestores(t *testing.T) {
	// The real collector: Run raises GOGC for this small test heap, steps
	// again after each collection, and puts back Go's default when it
	// stops.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tu := New(0)
	var steps atomic.Int64
	set := tu.set
	tu.set = func(p int) int { steps.Add(1); return set(p) }
	tu.live = func() uint64 {
		// Alternate between a small and a large heap so that every step
		// changes GOGC and is counted.
		if steps.Load()%2 == 0 {
			return 1 << 20
		}
		return 1 << 30
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tu.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for steps.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d steps after 10 s of collections, want 4", steps.Load())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if cur := gogc(); cur != 100 {
		t.Errorf("GOGC %d after Run returned, want 100", cur)
	}
}

// gogc is the collector's GOGC now.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

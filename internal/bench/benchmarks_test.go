package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Run with: go test -run '^$' -bench . -benchtime 3s ./internal/bench
//
// The servers run in the benchmark's process, on 127.0.0.1, and share the
// CPUs with the client. BenchmarkHello is the ceiling BenchmarkPasscodeAuth
// is compared with; compare them from the same run.

var conns = flag.Int("conns", 64, "concurrent connections for the throughput benchmarks")

var (
	sharedOnce   sync.Once
	shared       *Assent
	sharedErr    error
	sharedClosed bool
)

// sharedAssent is one in-process server (with a device) for the benchmarks
// that do not need a fresh one; TestMain closes it.
func sharedAssent(b *testing.B) *Assent {
	b.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, sharedErr = StartAssent(ctx, AssentOptions{Device: true})
	})
	if sharedErr != nil {
		b.Fatal(sharedErr)
	}
	return shared
}

// processCPU is the user and system CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil && !sharedClosed {
		if err := shared.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the in-process server:", err)
		}
	}
	os.Exit(code)
}

// parallel runs do from *conns goroutines over one client with *conns
// connections and reports requests/s and latency percentiles.
func parallel(b *testing.B, do func(ctx context.Context) (bool, error)) {
	b.Helper()
	ctx := context.Background()
	n := *conns
	// Open the connections and warm up before timing.
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range 5 {
				_, _ = do(ctx)
			}
		})
	}
	wg.Wait()

	var (
		mu               sync.Mutex
		all              Histogram
		errs, notAllowed atomic.Int64
		firstErr         atomic.Pointer[string]
	)
	b.SetParallelism((n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var h Histogram
		for pb.Next() {
			t0 := time.Now()
			ok, err := do(ctx)
			if err != nil {
				errs.Add(1)
				msg := err.Error()
				firstErr.CompareAndSwap(nil, &msg)
				continue
			}
			h.Record(time.Since(t0))
			if !ok {
				notAllowed.Add(1)
			}
		}
		mu.Lock()
		all.Merge(&h)
		mu.Unlock()
	})
	b.StopTimer()
	// CPU time per request (client and server, this process) does not
	// depend on what else the machine runs, unlike req/s: compare
	// scenarios by it on a busy machine.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(ms(all.Quantile(0.50)), "p50-ms")
	b.ReportMetric(ms(all.Quantile(0.99)), "p99-ms")
	if e := errs.Load(); e > 0 {
		b.Errorf("%d of %d requests failed, e.g. %s", e, b.N, *firstErr.Load())
	}
	if na := notAllowed.Load(); na > 0 {
		b.Errorf("%d of %d answers were not allow", na, b.N)
	}
}

// BenchmarkHello is the ceiling: a bare Go TLS handler with Assent's TLS
// settings.
func BenchmarkHello(b *testing.B) {
	h, err := StartHello()
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	c := NewClient(*conns, h.TLSConfig(), 30*time.Second)
	defer CloseClient(c)
	sc := HelloScenario(c, h.URL)
	parallel(b, sc.Steps[0].Do)
}

// BenchmarkPasscodeAuth is a signed /auth/v2/auth factor=passcode with an
// unlimited-use bypass code: signature check, user and code look-ups, the
// user update and the auth-log row committed.
func BenchmarkPasscodeAuth(b *testing.B) {
	a := sharedAssent(b)
	tlsCfg, err := a.TLSConfig()
	if err != nil {
		b.Fatal(err)
	}
	c := NewClient(*conns, tlsCfg, 30*time.Second)
	defer CloseClient(c)
	d := a.Duo(c)
	parallel(b, func(ctx context.Context) (bool, error) {
		r, err := d.Passcode(ctx, a.Username, a.Passcode)
		return r == "allow", err
	})
}

// BenchmarkPreauth is a signed /auth/v2/preauth (reads only).
func BenchmarkPreauth(b *testing.B) {
	a := sharedAssent(b)
	tlsCfg, err := a.TLSConfig()
	if err != nil {
		b.Fatal(err)
	}
	c := NewClient(*conns, tlsCfg, 30*time.Second)
	defer CloseClient(c)
	d := a.Duo(c)
	parallel(b, func(ctx context.Context) (bool, error) {
		r, err := d.Preauth(ctx, a.Username)
		return r == "auth", err
	})
}

// BenchmarkApprove measures one cycle: a synchronous push auth, the device
// approving it, the auth answering; the approve→answer latency is reported
// as p50-ms/p99-ms. "device" approves through the device API over HTTPS
// like a phone (internal/device), "core" calls the core's Answer directly.
func BenchmarkApprove(b *testing.B) {
	b.Run("device", func(b *testing.B) {
		benchApprove(b, func(a *Assent) Approver { return &DeviceApprover{Client: a.Device} })
	})
	b.Run("core", func(b *testing.B) {
		benchApprove(b, func(a *Assent) Approver { return &CoreApprover{Core: a.App.Core, Device: a.DeviceID} })
	})
}

func benchApprove(b *testing.B, approver func(*Assent) Approver) {
	a := sharedAssent(b)
	tlsCfg, err := a.TLSConfig()
	if err != nil {
		b.Fatal(err)
	}
	c := NewClient(2, tlsCfg, 30*time.Second)
	defer CloseClient(c)
	d := a.Duo(c)
	ap := approver(a)
	ctx := context.Background()
	if _, err := MeasureApprove(ctx, d, a.Username, ap, 3); err != nil { // warm up
		b.Fatal(err)
	}
	b.ResetTimer()
	left := b.N
	for left > 0 {
		n := min(left, MaxApproveSamples)
		left -= n
		rep, err := MeasureApprove(ctx, d, a.Username, ap, n)
		if err != nil || rep.Errors > 0 || rep.NonAllow > 0 {
			b.Fatalf("%+v, %v", rep, err)
		}
		b.ReportMetric(ms(rep.Latency.P50), "p50-ms")
		b.ReportMetric(ms(rep.Latency.P99), "p99-ms")
		b.ReportMetric(ms(rep.Latency.Max), "max-ms")
		b.ReportMetric(ms(rep.Answer.P50), "answer-p50-ms")
	}
}

// BenchmarkPendingPushes opens pushes against a fresh in-process server
// and reports how much the process grew with them pending. Client and
// server share the process, so sync figures include the client's side of
// the connections; scripts/bench.sh measures a separate server process.
func BenchmarkPendingPushes(b *testing.B) {
	for _, tc := range []struct {
		name  string
		count int
		sync  bool
	}{{"async-10000", 10000, false}, {"sync-5000", 5000, true}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				a, err := StartAssent(ctx, AssentOptions{Device: true, PushTimeout: 5 * time.Minute})
				if err != nil {
					cancel()
					b.Fatal(err)
				}
				tlsCfg, err := a.TLSConfig()
				if err != nil {
					b.Fatal(err)
				}
				c := NewClient(tc.count, tlsCfg, 0)
				runtime.GC()
				b.StartTimer()
				rep, err := OpenPushes(ctx, a.Duo(c), a.Username, PushOptions{
					Count: tc.count, Sync: tc.sync, Parallel: 64, PID: os.Getpid(), Pending: a.PendingCount,
				})
				b.StopTimer()
				if err != nil || rep.Errors > 0 || rep.Opened != tc.count {
					b.Errorf("%+v, %v", rep, err)
				}
				b.ReportMetric(rep.Rate, "pushes/s")
				b.ReportMetric(float64(rep.After.RSS)/(1<<20), "rss-MB")
				b.ReportMetric(rep.PerPush/1024, "rss-KB/push")
				CloseClient(c)
				if err := a.Close(); err != nil {
					b.Error(err)
				}
				cancel()
			}
		})
	}
}

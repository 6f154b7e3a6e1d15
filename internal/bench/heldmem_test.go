package bench

import (
	"context"
	"fmt"
	"io"
	"net/http/httptrace"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// heldClientEnv, set in this test binary's environment, makes
// TestHeldPushMemory the client holding the pushes (in its own process, so
// that the server's process holds only the server).
const heldClientEnv = "ASSENT_TEST_HELD_CLIENT"

// TestHeldPushMemory holds synchronous pushes against an in-process server
// and bounds what each costs the server: live heap (after a collection)
// plus goroutine stacks, from runtime.MemStats, per held request. Before
// held requests were detached from net/http this was about 48 KB (24 KB of
// heap: net/http's buffers and request, TLS; 24 KB of stacks: the serving
// goroutine and the background reader); now about 10 KB, two thirds of it
// crypto/tls's per-connection state. docs/benchmarks.md has the breakdown.
func TestHeldPushMemory(t *testing.T) {
	if spec := os.Getenv(heldClientEnv); spec != "" {
		holdPushes(t, spec)
		return
	}
	n := 1000
	if testutil.RaceEnabled {
		n = 300 // handshakes are slow under the race detector
	}
	n = min(n, raiseFileLimit()/2-100)
	if n < 100 {
		t.Skipf("the open-files limit allows only %d held requests", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := StartAssent(ctx, AssentOptions{Device: true, PushTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	heapBefore, stackBefore, gBefore := liveMemory()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestHeldPushMemory$")
	cmd.Env = append(os.Environ(), heldClientEnv+"="+strings.Join([]string{a.Host, a.CAFile, a.IKey, a.SKey, a.Username, strconv.Itoa(n)}, "|"))
	var clientOut strings.Builder
	cmd.Stdout, cmd.Stderr = &clientOut, &clientOut
	stop, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = stop.Close() // the client cancels its requests and exits
		if err := <-exited; err != nil {
			t.Errorf("client: %v\n%s", err, clientOut.String())
		}
	}()
	for a.App.Core.HeldRequests().Open < n {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the client exited (%v) with %d of %d requests held", err, a.App.Core.HeldRequests().Open, n)
		case <-ctx.Done():
			t.Fatalf("%d of %d requests held", a.App.Core.HeldRequests().Open, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Let the last handlers return.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > gBefore+n/10 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	heap, stack, g := liveMemory()
	perHeap := float64(int64(heap)-int64(heapBefore)) / float64(n)
	perStack := float64(int64(stack)-int64(stackBefore)) / float64(n)
	t.Logf("%d held synchronous pushes: %.0f B live heap + %.0f B stacks per held request; goroutines %d → %d",
		n, perHeap, perStack, gBefore, g)
	// About 9 KiB now (mostly crypto/tls's buffers); 17 KiB when anything
	// the waiting core keeps (the request's context) still reaches
	// net/http's response and its connection's bufio buffers, 48 KiB with
	// a goroutine per held request.
	// Stacks are bounded apart: with few requests held (-race) the core's
	// and the watcher's own goroutines weigh on the average.
	if perHeap > 13<<10 {
		t.Errorf("a held request costs %.0f B of live heap, want at most 13 KiB", perHeap)
	}
	if per := perHeap + perStack; per > 24<<10 {
		t.Errorf("a held request costs %.0f B of live heap and stacks, want at most 24 KiB", per)
	}
	if g-gBefore > n/10 {
		t.Errorf("%d more goroutines with %d requests held: a goroutine per held request?", g-gBefore, n)
	}
}

// liveMemory collects garbage and reports the live heap, the goroutine
// stacks and the number of goroutines.
func liveMemory() (heap, stacks uint64, goroutines int) {
	runtime.GC()
	runtime.GC() // the second also frees what the first's finalizers released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse, runtime.NumGoroutine()
}

// raiseFileLimit raises this process's open-files limit (inherited by the
// client it starts) to the hard limit and returns it.
func raiseFileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return int(min(lim.Cur, 1<<20))
}

// holdPushes is the client: it sends the pushes, each on its own
// connection, at most 32 unsent at a time, and holds them until its
// standard input closes.
func holdPushes(t *testing.T, spec string) {
	f := strings.Split(spec, "|")
	if len(f) != 6 {
		t.Fatalf("bad %s", heldClientEnv)
	}
	n, _ := strconv.Atoi(f[5])
	tlsCfg, err := TLSConfig(f[1], false)
	if err != nil {
		t.Fatal(err)
	}
	d := &Duo{Host: f[0], IKey: f[2], SKey: f[3], Client: NewClient(n, tlsCfg, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	slots := make(chan struct{}, 32)
	for range n {
		slots <- struct{}{}
		wg.Go(func() {
			var once sync.Once
			free := func() { once.Do(func() { <-slots }) }
			defer free()
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { free() }}
			_, _, err := d.PushSync(httptrace.WithClientTrace(ctx, trace), f[4], "")
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "a held push ended early: %v\n", err)
			}
		})
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	wg.Wait()
}

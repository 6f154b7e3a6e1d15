package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http/httptrace"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-auth/assent/internal/netlimit"
)

// MaxPushes bounds one pushes run.
const MaxPushes = 20_000

// Mem is a process's memory as /proc/PID/status reports it.
type Mem struct {
	RSS uint64 `json:"vm_rss_bytes"` // resident now (VmRSS)
	HWM uint64 `json:"vm_hwm_bytes"` // peak resident (VmHWM)
}

// ReadMem reads VmRSS and VmHWM of process pid (Linux only).
func ReadMem(pid int) (Mem, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Mem{}, err
	}
	var m Mem
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		var dst *uint64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &m.RSS
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &m.HWM
		default:
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
		}
		*dst = kb << 10
		found++
	}
	if found < 2 {
		return Mem{}, fmt.Errorf("/proc/%d/status: no VmRSS/VmHWM", pid)
	}
	return m, nil
}

// PushOptions shape a pushes run.
type PushOptions struct {
	Count int
	// Device is the device ID to push to; empty means the user's first.
	Device string
	// Sync holds Count synchronous auth requests open (each on its own
	// connection, waiting for the device); otherwise Count async pushes are
	// created and left pending.
	Sync bool
	// Parallel is how many async requests are in flight, or how many sync
	// requests are being connected and sent, at once. Default 64.
	Parallel int
	// PID is the server process whose memory is read; 0 reads none.
	PID int
	// Pending counts the pushes pending on the server, where that is
	// possible (in-process servers); it is used to know when all arrived.
	Pending func(ctx context.Context) (int, error)
	// Settle bounds the wait, after every sync request was sent, for the
	// server to have taken them all in (default 10 s).
	Settle time.Duration
}

// PushReport is the outcome of a pushes run.
type PushReport struct {
	Scenario   string  `json:"scenario"` // "pushes"
	Mode       string  `json:"mode"`     // "sync" or "async"
	Target     string  `json:"target"`
	Requested  int     `json:"requested"`
	Opened     int     `json:"opened"` // async: txids received; sync: requests sent and still waiting when measured
	Errors     int     `json:"errors"`
	Early      int     `json:"answered_early,omitempty"` // sync: answered (e.g. timed out) before the measurement
	FirstError string  `json:"first_error,omitempty"`
	OpenS      float64 `json:"open_s"`         // time to open them all
	Rate       float64 `json:"pushes_per_s"`   // Opened / OpenS
	Pending    int     `json:"server_pending"` // as counted by the server (in-process runs); -1 unknown
	PendingWas int     `json:"server_pending_before"`
	PID        int     `json:"pid,omitempty"`      // the server process measured
	Before     *Mem    `json:"before,omitempty"`   // server memory before opening the pushes
	After      *Mem    `json:"after,omitempty"`    // with the pushes pending
	PerPush    float64 `json:"rss_per_push_bytes"` // (After.RSS − Before.RSS) / Opened
}

// OpenPushes opens o.Count pushes for username against d, measures the
// server's memory with them pending, and (for sync pushes) closes the
// requests before returning. For sync pushes d.Client must allow Count
// connections to the host (NewClient(Count, …)) and have no timeout.
func OpenPushes(ctx context.Context, d *Duo, username string, o PushOptions) (PushReport, error) {
	if o.Count < 1 || o.Count > MaxPushes {
		return PushReport{}, fmt.Errorf("the push count must be between 1 and %d", MaxPushes)
	}
	if o.Parallel <= 0 {
		o.Parallel = 64
	}
	o.Parallel = min(o.Parallel, MaxConcurrency, o.Count)
	if o.Settle <= 0 {
		o.Settle = 10 * time.Second
	}
	rep := PushReport{Scenario: "pushes", Mode: "async", Target: "https://" + d.Host, Requested: o.Count, Pending: -1, PendingWas: -1, PID: o.PID}
	if o.Sync {
		rep.Mode = "sync"
		if err := checkFiles(o.Count); err != nil {
			return rep, err
		}
	}
	if o.PID > 0 {
		m, err := ReadMem(o.PID)
		if err != nil {
			return rep, err
		}
		rep.Before = &m
	}
	if o.Pending != nil {
		n, err := o.Pending(ctx)
		if err != nil {
			return rep, err
		}
		rep.PendingWas = n
	}
	var err error
	if o.Sync {
		err = openSync(ctx, d, username, o, &rep)
	} else {
		err = openAsync(ctx, d, username, o, &rep)
	}
	if rep.OpenS > 0 {
		rep.Rate = float64(rep.Opened) / rep.OpenS
	}
	return rep, err
}

// checkFiles makes sure the process may open n connections.
func checkFiles(n int) error {
	limit, err := netlimit.FileLimit()
	if err != nil || limit == 0 {
		return nil //nolint:nilerr // not knowable here; let dialling fail
	}
	if uint64(n)+64 > limit {
		return fmt.Errorf("holding %d connections needs more open files than the limit (%d); lower --count or raise ulimit -n", n, limit)
	}
	return nil
}

// measure reads the server's memory and pending count into rep.
func measure(ctx context.Context, o PushOptions, rep *PushReport) error {
	if o.Pending != nil {
		n, err := o.Pending(ctx)
		if err != nil {
			return err
		}
		rep.Pending = n
	}
	if o.PID > 0 {
		m, err := ReadMem(o.PID)
		if err != nil {
			return err
		}
		rep.After = &m
		if rep.Opened > 0 && rep.Before != nil {
			rep.PerPush = (float64(m.RSS) - float64(rep.Before.RSS)) / float64(rep.Opened)
		}
	}
	return nil
}

func openAsync(ctx context.Context, d *Duo, username string, o PushOptions, rep *PushReport) error {
	var (
		next, opened, failed atomic.Int64
		firstErr             atomic.Pointer[string]
		wg                   sync.WaitGroup
	)
	start := time.Now()
	for range o.Parallel {
		wg.Go(func() {
			for next.Add(1) <= int64(o.Count) && ctx.Err() == nil {
				if _, err := d.PushAsync(ctx, username, o.Device); err != nil {
					failed.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				opened.Add(1)
			}
		})
	}
	wg.Wait()
	rep.OpenS = time.Since(start).Seconds()
	rep.Opened, rep.Errors = int(opened.Load()), int(failed.Load())
	if p := firstErr.Load(); p != nil {
		rep.FirstError = *p
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return measure(ctx, o, rep)
}

func openSync(ctx context.Context, d *Duo, username string, o PushOptions, rep *PushReport) error {
	hold, release := context.WithCancel(ctx)
	defer release()
	var (
		waiting    atomic.Int64 // sent and not answered
		progressed atomic.Int64 // sent, or finished without being sent
		answered   atomic.Int64 // a decision came back before we closed them
		failed     atomic.Int64
		firstErr   atomic.Pointer[string]
		wg         sync.WaitGroup
		slots      = make(chan struct{}, o.Parallel)
		launched   int64
	)
	start := time.Now()
launch:
	for range o.Count {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break launch
		}
		launched++
		wg.Go(func() {
			var (
				once  sync.Once
				state atomic.Int32 // 0 connecting, 1 sent, 2 finished
			)
			free := func() { once.Do(func() { <-slots; progressed.Add(1) }) }
			defer free()
			trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil && state.CompareAndSwap(0, 1) {
					waiting.Add(1)
				}
				free()
			}}
			_, status, err := d.PushSync(httptrace.WithClientTrace(hold, trace), username, o.Device)
			if state.Swap(2) == 1 {
				waiting.Add(-1)
			}
			if hold.Err() != nil {
				return // closed by us after measuring
			}
			if err == nil {
				answered.Add(1)
				err = fmt.Errorf("answered before the measurement (status %s)", status)
			} else {
				failed.Add(1)
			}
			msg := err.Error()
			firstErr.CompareAndSwap(nil, &msg)
		})
	}
	// Wait until every request was sent or has finished.
	for ctx.Err() == nil && progressed.Load() < launched {
		time.Sleep(5 * time.Millisecond)
	}
	sentAll := time.Now()
	rep.OpenS = sentAll.Sub(start).Seconds()

	// Let the server take them in: until it counts them all pending, or
	// its memory stops growing, within o.Settle.
	deadline := sentAll.Add(o.Settle)
	var lastRSS uint64
	stableSince := sentAll
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if o.Pending != nil {
			if n, err := o.Pending(ctx); err == nil && int64(n-rep.PendingWas) >= waiting.Load() {
				break
			}
		} else if o.PID > 0 {
			m, err := ReadMem(o.PID)
			if err != nil {
				break
			}
			if m.RSS > lastRSS+lastRSS/200 { // grew by more than 0.5 %
				lastRSS, stableSince = m.RSS, time.Now()
			} else if time.Since(stableSince) >= time.Second {
				break
			}
		} else if time.Since(sentAll) >= time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep.Opened = int(waiting.Load())
	err := measure(ctx, o, rep)
	release()
	wg.Wait()
	rep.Errors, rep.Early = int(failed.Load()), int(answered.Load())
	if p := firstErr.Load(); p != nil {
		rep.FirstError = *p
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Limits keep a benchmark run bounded whatever its flags say.
const (
	MaxConcurrency = 1024
	MaxDuration    = 5 * time.Minute
	MaxWarmup      = time.Minute
	MaxRequests    = 100_000_000
	MaxRate        = 1_000_000
)

// Options shape a load run.
type Options struct {
	// Concurrency is the number of workers; each sends one request at a
	// time, so with a client from NewClient(Concurrency, …) each keeps its
	// own keep-alive connection.
	Concurrency int
	// Duration is the measured time, after Warmup.
	Duration time.Duration
	// Warmup runs the workers without recording, so connections are open
	// and caches warm when measuring starts.
	Warmup time.Duration
	// MaxRequests stops the run after this many measured requests; 0 means
	// the duration alone decides.
	MaxRequests int64
	// Rate paces the workers to this many requests per second in all (an
	// open-loop load, to measure latency below saturation); 0 means each
	// worker sends its next request as soon as the last is answered. When
	// paced, latency counts from when a request was due, so a server that
	// falls behind is charged for the wait (no coordinated omission).
	Rate float64
}

// Validate checks o against the limits.
func (o Options) Validate() error {
	switch {
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency must be between 1 and %d", MaxConcurrency)
	case o.Duration <= 0 || o.Duration > MaxDuration:
		return fmt.Errorf("duration must be positive and at most %v", MaxDuration)
	case o.Warmup < 0 || o.Warmup > MaxWarmup:
		return fmt.Errorf("warm-up must be between 0 and %v", MaxWarmup)
	case o.MaxRequests < 0 || o.MaxRequests > MaxRequests:
		return fmt.Errorf("the request count must be between 0 (no limit) and %d", MaxRequests)
	case o.Rate < 0 || o.Rate > MaxRate:
		return fmt.Errorf("the rate must be between 0 (unpaced) and %d requests/s", MaxRate)
	}
	return nil
}

// Step is one request of a scenario. Do sends it and says whether the
// answer was the expected positive one (allow; for preauth, auth or
// allow). An error means no usable answer: a transport failure, an HTTP
// error status or a Duo "FAIL" envelope.
type Step struct {
	Name string
	Do   func(ctx context.Context) (allowed bool, err error)
}

// Scenario is what each worker repeats: its steps, in order.
type Scenario struct {
	Name   string
	Target string // what it runs against, for the report
	Steps  []Step
}

// Result sums up the measured requests of one endpoint, or of all.
// Latencies are of requests that got an answer (allowed or not); errors
// are counted but not timed.
type Result struct {
	Name     string
	Requests int64 // measured requests, including errors and non-allow answers
	Errors   int64
	NonAllow int64 // answered, but not allow (preauth: not auth or allow)
	Duration time.Duration
	RPS      float64
	Mean     time.Duration
	P50      time.Duration
	P90      time.Duration
	P99      time.Duration
	Max      time.Duration
}

type resultJSON struct {
	Name      string  `json:"name"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	NonAllow  int64   `json:"non_allow"`
	DurationS float64 `json:"duration_s"`
	RPS       float64 `json:"rps"`
	MeanMS    float64 `json:"mean_ms"`
	P50MS     float64 `json:"p50_ms"`
	P90MS     float64 `json:"p90_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
}

func ms(d time.Duration) float64     { return float64(d) / float64(time.Millisecond) }
func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// MarshalJSON writes durations as milliseconds (and the run time in seconds).
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{
		Name: r.Name, Requests: r.Requests, Errors: r.Errors, NonAllow: r.NonAllow,
		DurationS: r.Duration.Seconds(), RPS: r.RPS,
		MeanMS: ms(r.Mean), P50MS: ms(r.P50), P90MS: ms(r.P90), P99MS: ms(r.P99), MaxMS: ms(r.Max),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{
		Name: j.Name, Requests: j.Requests, Errors: j.Errors, NonAllow: j.NonAllow,
		Duration: time.Duration(j.DurationS * float64(time.Second)), RPS: j.RPS,
		Mean: fromMS(j.MeanMS), P50: fromMS(j.P50MS), P90: fromMS(j.P90MS), P99: fromMS(j.P99MS), Max: fromMS(j.MaxMS),
	}
	return nil
}

// Report is the outcome of a load run.
type Report struct {
	Scenario    string    `json:"scenario"`
	Target      string    `json:"target"`
	Concurrency int       `json:"concurrency"`
	Rate        float64   `json:"rate,omitempty"` // offered requests/s; 0: unpaced
	WarmupS     float64   `json:"warmup_s"`
	Total       Result    `json:"total"`     // every request of every step
	Endpoints   []Result  `json:"endpoints"` // one per step, in order
	Started     time.Time `json:"started"`
	// FirstError is an example of what failed, if anything did.
	FirstError string `json:"first_error,omitempty"`
	// Scale runs (scripts/bench-scale.sh): the users picked among, the
	// servers spread over, labels given with --label, and the CPU time
	// used by the generator and the servers (RunWithCPU).
	Users  int               `json:"users,omitempty"`
	Nodes  int               `json:"nodes,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	CPU    *CPUReport        `json:"cpu,omitempty"`
}

// stepStats is one worker's record of one step.
type stepStats struct {
	hist                     Histogram
	requests, errors, denied int64
}

// Run drives sc with o.Concurrency workers for o.Warmup + o.Duration and
// reports the requests started after the warm-up. Requests still running
// at the end finish (they are bounded by the client's timeout) and count.
// Cancelling ctx stops the run early; what was measured is reported.
func Run(ctx context.Context, sc Scenario, o Options) (Report, error) {
	if err := o.Validate(); err != nil {
		return Report{}, err
	}
	if len(sc.Steps) == 0 {
		return Report{}, errors.New("bench: scenario without steps")
	}
	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)

	var (
		tickets  atomic.Int64
		measured atomic.Int64
		firstErr atomic.Pointer[string]
		wg       sync.WaitGroup
		stats    = make([][]stepStats, o.Concurrency)
		lastDone = make([]time.Time, o.Concurrency)
	)
	for w := range o.Concurrency {
		stats[w] = make([]stepStats, len(sc.Steps))
		wg.Go(func() {
			my := stats[w]
			for {
				for i, st := range sc.Steps {
					var due time.Time
					if o.Rate > 0 {
						n := tickets.Add(1) - 1
						due = start.Add(time.Duration(float64(n) / o.Rate * float64(time.Second)))
						if !due.Before(end) {
							return
						}
						if sleep(ctx, time.Until(due)) != nil {
							return
						}
					}
					t0 := time.Now()
					if !t0.Before(end) || ctx.Err() != nil {
						return
					}
					if !due.IsZero() && due.Before(t0) {
						t0 = due // charge the server for a late start
					}
					rec := !t0.Before(measureFrom)
					if rec && o.MaxRequests > 0 && measured.Add(1) > o.MaxRequests {
						return
					}
					allowed, err := st.Do(ctx)
					t1 := time.Now()
					if !rec {
						continue
					}
					s := &my[i]
					s.requests++
					lastDone[w] = t1
					switch {
					case err != nil:
						if ctx.Err() != nil {
							s.requests-- // cut off by cancellation, not the server's fault
							continue
						}
						s.errors++
						msg := st.Name + ": " + err.Error()
						firstErr.CompareAndSwap(nil, &msg)
					case !allowed:
						s.denied++
						s.hist.Record(t1.Sub(t0))
					default:
						s.hist.Record(t1.Sub(t0))
					}
				}
			}
		})
	}
	wg.Wait()

	var last time.Time
	for _, t := range lastDone {
		if t.After(last) {
			last = t
		}
	}
	elapsed := last.Sub(measureFrom)
	if elapsed <= 0 {
		elapsed = max(time.Since(measureFrom), time.Nanosecond)
	}
	rep := Report{
		Scenario: sc.Name, Target: sc.Target, Concurrency: o.Concurrency, Rate: o.Rate,
		WarmupS: o.Warmup.Seconds(), Started: measureFrom,
	}
	var all Histogram
	var total stepStats
	for i, st := range sc.Steps {
		var sum stepStats
		for w := range stats {
			s := &stats[w][i]
			sum.hist.Merge(&s.hist)
			sum.requests += s.requests
			sum.errors += s.errors
			sum.denied += s.denied
		}
		all.Merge(&sum.hist)
		total.requests += sum.requests
		total.errors += sum.errors
		total.denied += sum.denied
		rep.Endpoints = append(rep.Endpoints, summarize(st.Name, &sum, &sum.hist, elapsed))
	}
	rep.Total = summarize("total", &total, &all, elapsed)
	if p := firstErr.Load(); p != nil {
		rep.FirstError = *p
	}
	return rep, ctx.Err()
}

func summarize(name string, s *stepStats, h *Histogram, elapsed time.Duration) Result {
	return Result{
		Name: name, Requests: s.requests, Errors: s.errors, NonAllow: s.denied,
		Duration: elapsed, RPS: float64(s.requests) / elapsed.Seconds(),
		Mean: h.Mean(), P50: h.Quantile(0.50), P90: h.Quantile(0.90), P99: h.Quantile(0.99), Max: h.Max(),
	}
}

package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	var vals []time.Duration
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		v := time.Duration(r.ExpFloat64() * float64(2*time.Millisecond))
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if diff := float64(got-exact) / float64(exact); diff < -0.01 || diff > 0.01 {
			t.Errorf("q%.3f = %v, exact %v (%.2f%% off)", q, got, exact, 100*diff)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] || h.Count() != uint64(len(vals)) {
		t.Errorf("max %v min %v count %d", h.Max(), h.Min(), h.Count())
	}
	// Bucket bounds are contiguous and every value lands in its own bucket.
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		if v > bucketHigh(i) || (i > 0 && v <= bucketHigh(i-1)) {
			t.Errorf("value %d in bucket %d [%d, %d]", v, i, bucketHigh(i-1)+1, bucketHigh(i))
		}
	}
	var a, b Histogram
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	a.Merge(&b)
	if a.Count() != 2 || a.Max() != 3*time.Millisecond || a.Min() != time.Millisecond || a.Mean() != 2*time.Millisecond {
		t.Errorf("merged: count %d max %v min %v mean %v", a.Count(), a.Max(), a.Min(), a.Mean())
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram")
	}
}

func TestRunCountsOutcomes(t *testing.T) {
	var n atomic.Int64
	sc := Scenario{Name: "fake", Steps: []Step{
		{Name: "ok", Do: func(context.Context) (bool, error) { time.Sleep(100 * time.Microsecond); return true, nil }},
		{Name: "half", Do: func(context.Context) (bool, error) { return n.Add(1)%2 == 0, nil }},
		{Name: "broken", Do: func(context.Context) (bool, error) { return false, errors.New("boom") }},
	}}
	rep, err := Run(context.Background(), sc, Options{Concurrency: 4, Duration: 150 * time.Millisecond, Warmup: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) != 3 {
		t.Fatalf("endpoints %+v", rep.Endpoints)
	}
	ok, half, broken := rep.Endpoints[0], rep.Endpoints[1], rep.Endpoints[2]
	if ok.Requests == 0 || ok.Errors != 0 || ok.NonAllow != 0 {
		t.Errorf("ok: %+v", ok)
	}
	if half.NonAllow == 0 || half.NonAllow == half.Requests || half.Errors != 0 {
		t.Errorf("half: %+v", half)
	}
	if broken.Errors != broken.Requests || broken.Requests == 0 || broken.P99 != 0 {
		t.Errorf("broken: %+v", broken)
	}
	if rep.Total.Requests != ok.Requests+half.Requests+broken.Requests || rep.Total.Errors != broken.Errors {
		t.Errorf("total %+v", rep.Total)
	}
	if rep.FirstError != "broken: boom" {
		t.Errorf("first error %q", rep.FirstError)
	}
	if !(ok.P50 <= ok.P90 && ok.P90 <= ok.P99 && ok.P99 <= ok.Max && ok.P50 >= 100*time.Microsecond) {
		t.Errorf("ok latencies %v %v %v %v", ok.P50, ok.P90, ok.P99, ok.Max)
	}
	if rep.Total.Duration < 140*time.Millisecond || rep.Total.Duration > time.Second || rep.Total.RPS <= 0 {
		t.Errorf("duration %v rps %v", rep.Total.Duration, rep.Total.RPS)
	}

	capped, err := Run(context.Background(), Scenario{Name: "capped", Steps: sc.Steps[:1]},
		Options{Concurrency: 3, Duration: 10 * time.Second, MaxRequests: 50})
	if err != nil || capped.Total.Requests != 50 {
		t.Errorf("MaxRequests 50: %d requests, %v", capped.Total.Requests, err)
	}
}

func TestRunPaced(t *testing.T) {
	var n atomic.Int64
	sc := Scenario{Name: "paced", Steps: []Step{{Name: "x", Do: func(context.Context) (bool, error) { n.Add(1); return true, nil }}}}
	rep, err := Run(context.Background(), sc, Options{Concurrency: 4, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond, Rate: 500})
	if err != nil {
		t.Fatal(err)
	}
	// 500/s for 200 ms is 100 requests; allow for timer slack.
	if got := rep.Total.Requests; got < 80 || got > 110 {
		t.Errorf("%d measured requests at 500/s over 200 ms, want about 100", got)
	}
	if got := n.Load(); got < 105 || got > 135 {
		t.Errorf("%d requests in all (with 50 ms warm-up), want about 125", got)
	}
}

func TestOptionsBounded(t *testing.T) {
	for _, o := range []Options{
		{Concurrency: 0, Duration: time.Second},
		{Concurrency: MaxConcurrency + 1, Duration: time.Second},
		{Concurrency: 1, Duration: MaxDuration + 1},
		{Concurrency: 1, Duration: time.Second, Warmup: -1},
		{Concurrency: 1, Duration: time.Second, MaxRequests: MaxRequests + 1},
		{Concurrency: 1, Duration: time.Second, Rate: -1},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	in := Result{Name: "auth", Requests: 10, Errors: 1, NonAllow: 2, Duration: 1500 * time.Millisecond, RPS: 6.5,
		Mean: 2 * time.Millisecond, P50: time.Millisecond, P90: 3 * time.Millisecond, P99: 4500 * time.Microsecond, Max: 9 * time.Millisecond}
	b, err := in.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var out Result
	if err := out.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip:\n%+v\n%+v", in, out)
	}
}

func TestHelloScenario(t *testing.T) {
	h, err := StartHello()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := NewClient(4, h.TLSConfig(), 5*time.Second)
	defer CloseClient(c)
	rep, err := Run(context.Background(), HelloScenario(c, h.URL), Options{Concurrency: 4, Duration: 150 * time.Millisecond, Warmup: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests == 0 || rep.Total.Errors != 0 || rep.Total.NonAllow != 0 {
		t.Errorf("%+v (first error %q)", rep.Total, rep.FirstError)
	}
}

func TestReadMem(t *testing.T) {
	m, err := ReadMem(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if m.RSS == 0 || m.HWM < m.RSS {
		t.Errorf("%+v", m)
	}
	if _, err := ReadMem(-1); err == nil {
		t.Error("pid -1: no error")
	}
}

// TestInProcess drives every scenario briefly against an in-process server.
func TestInProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := StartAssent(ctx, AssentOptions{Device: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	}()
	tlsCfg, err := a.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(8, tlsCfg, 10*time.Second)
	defer CloseClient(c)
	d := a.Duo(c)

	// A count, not a duration, ends the run: on a loaded machine (or under
	// -race) a short duration may see no request of one endpoint.
	rep, err := Run(ctx, AuthScenario(d, a.Username, a.Passcode), Options{Concurrency: 4, Duration: 20 * time.Second,
		Warmup: 20 * time.Millisecond, MaxRequests: 16})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests < 2 || rep.Total.Errors != 0 || rep.Total.NonAllow != 0 || len(rep.Endpoints) != 2 {
		t.Errorf("auth: %+v %+v (first error %q)", rep.Total, rep.Endpoints, rep.FirstError)
	}
	if rep.Endpoints[0].Requests == 0 || rep.Endpoints[1].Requests == 0 {
		t.Errorf("per endpoint: %+v", rep.Endpoints)
	}

	for _, ar := range []Approver{&DeviceApprover{Client: a.Device}, &CoreApprover{Core: a.App.Core, Device: a.DeviceID}} {
		ap, err := MeasureApprove(ctx, d, a.Username, ar, 2)
		if err != nil || ap.Samples != 2 || ap.Errors != 0 || ap.NonAllow != 0 || ap.Latency.Max <= 0 {
			t.Errorf("approve (%s): %+v, %v", ar.Method(), ap, err)
		}
	}

	// A small flood of each kind, from another loopback address: answered
	// with the expected refusals, legitimate requests all answered (the
	// default limit on failed signatures makes most device answers 429s;
	// from the legitimate client's address it would refuse that client too).
	web, _, err := a.App.Core.CreateIntegration(ctx, auth.NewIntegration{Name: "web", Type: store.TypeWebSDK})
	if err != nil {
		t.Fatal(err)
	}
	for kind, key := range map[FloodKind]string{FloodDevice: a.DeviceID, FloodWebSDK: web.IKey} {
		// The attack comes from another loopback address, so the limit on
		// failed signatures (per address) refuses it, not the legitimate
		// requests: first with 429s, then (once its budget is spent, as in
		// the second flood) by closing its connections as they arrive.
		fr, err := RunFlood(ctx, FloodOptions{Kind: kind, Host: a.Host, TLS: tlsCfg, Key: key, Conns: 4, BodyBytes: 300 << 10, SourceIP: "127.0.0.2",
			Duration: 1500 * time.Millisecond, PID: os.Getpid(), Legit: LegitSteps(d, a.Username, a.Device)})
		if err != nil || fr.Attacks+fr.AttackErrors == 0 || fr.Legit.Requests == 0 || fr.Legit.Errors != 0 || fr.Peak == nil {
			t.Errorf("%s flood: %s, %v (%s)", kind, fr.FloodSummary(), err, fr.LegitFirstError)
		}
		for status := range fr.Statuses {
			if !strings.Contains(" 401 403 413 429 ", " "+status+" ") {
				t.Errorf("%s flood: attacks answered %s: %v", kind, status, fr.Statuses)
			}
		}
	}
	if _, err := RunFlood(ctx, FloodOptions{Kind: "other", Host: a.Host, Key: "x", Legit: LegitSteps(d, a.Username, nil)}); err == nil {
		t.Error("RunFlood accepted an unknown kind")
	}

	for _, sync := range []bool{false, true} {
		pr, err := OpenPushes(ctx, d, a.Username, PushOptions{Count: 6, Sync: sync, Parallel: 3, PID: os.Getpid(), Pending: a.PendingCount})
		if err != nil || pr.Opened != 6 || pr.Errors != 0 || pr.After == nil {
			t.Errorf("pushes (sync %v): %+v, %v", sync, pr, err)
		}
		if !sync && pr.Pending != 6 {
			t.Errorf("async: server counts %d pending, want 6", pr.Pending)
		}
		if sync && pr.Pending != 12 { // the async ones are still pending too
			t.Errorf("sync: server counts %d pending, want 12", pr.Pending)
		}
	}
}

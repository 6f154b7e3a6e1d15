package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-auth/assent/internal/authapi"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/duosig"
)

// FloodKind names an unauthenticated flood: requests that know only
// something public and carry garbage signatures.
type FloodKind string

const (
	// FloodDevice answers pushes on the device API with a known device ID
	// (preauth hands device IDs out) and garbage RSA signatures.
	FloodDevice FloodKind = "device"
	// FloodWebSDK calls /auth/v2/auth with a Web SDK integration key (the
	// browser sees it in every prompt URL) and garbage HMAC signatures.
	FloodWebSDK FloodKind = "websdk"
)

// Flood defaults.
const (
	DefaultFloodConns    = 128
	DefaultFloodBody     = 256 << 10 // what the server once read before checking anything
	DefaultFloodDuration = 3 * time.Second
	MaxFloodBody         = 4 << 20
)

// FloodOptions shape a flood run.
type FloodOptions struct {
	Kind FloodKind
	// Name labels the run in reports (default: the kind).
	Name string
	Host string // API host[:port], dialled and named in the requests
	TLS  *tls.Config
	// Key is the device ID (device flood) or the Web SDK integration key
	// (websdk flood) the attacker knows.
	Key string
	// Conns attacking connections (default 128), each sending one request
	// after another.
	Conns int
	// BodyBytes is the body of every other attacking request (default
	// 256 KiB, more than any route accepts); the others carry the largest
	// body the route accepts, so they go through every check.
	BodyBytes int
	Duration  time.Duration // default 3 s
	// SourceIP is the local address the attack comes from (e.g. 127.0.0.2
	// when the server listens on 127.0.0.1), so a per-address limit on the
	// server does not also hit the legitimate requests; "" lets the system
	// choose.
	SourceIP string
	// PID is the server process, whose memory is read (0: not read).
	PID int
	// Legit are legitimate signed requests, sent one after another in turn
	// and each timed while the attack runs.
	Legit []Step
}

// FloodReport is the outcome of a flood run.
type FloodReport struct {
	Scenario  string  `json:"scenario"` // "flood"
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Target    string  `json:"target"`
	Conns     int     `json:"connections"`
	BodyBytes []int   `json:"body_bytes"` // the two attacking body sizes
	DurationS float64 `json:"duration_s"`
	// Attacks were answered by the server; AttackErrors got no answer
	// (mostly connections the server closed on an oversized body).
	Attacks      int64            `json:"attacks"`
	AttackErrors int64            `json:"attack_errors"`
	Statuses     map[string]int64 `json:"statuses"` // HTTP status of the answered attacks
	// Legit is the latency of the legitimate requests sent meanwhile.
	Legit           Result `json:"legit"`
	LegitFirstError string `json:"legit_first_error,omitempty"`
	PID             int    `json:"pid,omitempty"`
	Before          *Mem   `json:"before,omitempty"` // server memory before the flood
	// Peak is the server's peak during the flood: the largest VmRSS sampled
	// and VmHWM (the process's peak since it started) at the end.
	Peak *Mem `json:"peak,omitempty"`
}

// Validate checks o and fills in defaults.
func (o *FloodOptions) Validate() error {
	if o.Conns == 0 {
		o.Conns = DefaultFloodConns
	}
	if o.BodyBytes == 0 {
		o.BodyBytes = DefaultFloodBody
	}
	if o.Duration == 0 {
		o.Duration = DefaultFloodDuration
	}
	if o.Name == "" {
		o.Name = string(o.Kind)
	}
	switch {
	case o.Kind != FloodDevice && o.Kind != FloodWebSDK:
		return fmt.Errorf("flood kind %q: must be device or websdk", o.Kind)
	case o.Host == "" || o.Key == "":
		return errors.New("a flood needs the host and the key (device ID or Web SDK integration key)")
	case o.Conns < 1 || o.Conns > MaxConcurrency:
		return fmt.Errorf("connections must be between 1 and %d", MaxConcurrency)
	case o.BodyBytes < 1 || o.BodyBytes > MaxFloodBody:
		return fmt.Errorf("the body must be between 1 and %d bytes", MaxFloodBody)
	case o.Duration < 0 || o.Duration > MaxDuration:
		return fmt.Errorf("the duration must be positive and at most %v", MaxDuration)
	case len(o.Legit) == 0:
		return errors.New("a flood needs a legitimate request to time")
	}
	if o.SourceIP != "" && net.ParseIP(o.SourceIP) == nil {
		return fmt.Errorf("source address %q is not an IP address", o.SourceIP)
	}
	return nil
}

// attack is one kind of attacking request.
type attack struct {
	path   string
	header http.Header
	bodies [2][]byte // the route's largest accepted body, and BodyBytes
}

func newAttack(o FloodOptions) attack {
	a := attack{header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
	garbage := make([]byte, 256)
	_, _ = rand.Read(garbage)
	accepted := device.MaxBody
	switch o.Kind {
	case FloodDevice:
		a.path = "/push/v2/device/transactions/00000000-0000-4000-8000-000000000000"
		a.header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
			[]byte(o.Key+":"+base64.StdEncoding.EncodeToString(garbage))))
	case FloodWebSDK:
		a.path = "/auth/v2/auth"
		accepted = authapi.MaxAuthBody
		a.header.Set("Authorization", duosig.Authorization(o.Key, hex.EncodeToString(garbage[:64])))
	}
	for i, n := range []int{accepted, o.BodyBytes} {
		// Parameters that every encoding writes differently, so the
		// device API tries all its canonical forms.
		body := []byte("answer=approve&username=alice&factor=push&x=")
		pad := []byte("a b!*'()~")
		for len(body) < n {
			body = append(body, pad...)
		}
		a.bodies[i] = body[:n]
	}
	return a
}

// RunFlood attacks o.Host as o.Kind says with o.Conns connections for
// o.Duration, sends o.Legit back to back meanwhile, and reports what the
// attack got, how long the legitimate requests took, and the server's
// memory. The attack never sends a valid signature.
func RunFlood(ctx context.Context, o FloodOptions) (FloodReport, error) {
	if err := o.Validate(); err != nil {
		return FloodReport{}, err
	}
	a := newAttack(o)
	rep := FloodReport{Scenario: "flood", Name: o.Name, Kind: string(o.Kind), Target: o.Host, Conns: o.Conns,
		BodyBytes: []int{len(a.bodies[0]), len(a.bodies[1])}, Statuses: map[string]int64{}, PID: o.PID}
	if o.PID != 0 {
		m, err := ReadMem(o.PID)
		if err != nil {
			return rep, err
		}
		rep.Before = &m
	}

	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if o.SourceIP != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.SourceIP)}
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     o.TLS,
		TLSHandshakeTimeout: 30 * time.Second,
		MaxConnsPerHost:     o.Conns,
		MaxIdleConnsPerHost: o.Conns,
		MaxIdleConns:        o.Conns,
		DisableCompression:  true,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer tr.CloseIdleConnections()
	attacker := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	floodCtx, stop := context.WithTimeout(ctx, o.Duration)
	defer stop()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		answered atomic.Int64
		failed   atomic.Int64
	)
	for w := range o.Conns {
		wg.Go(func() {
			for i := w; floodCtx.Err() == nil; i++ {
				req, err := http.NewRequestWithContext(floodCtx, http.MethodPost, "https://"+o.Host+a.path, bytes.NewReader(a.bodies[i%2]))
				if err != nil {
					failed.Add(1)
					return
				}
				req.Header = a.header.Clone()
				// A date within the window, so the request gets past the
				// date check to the body and the signature.
				req.Header.Set("X-Duo-Date", time.Now().UTC().Format(duosig.DateFormat))
				resp, err := attacker.Do(req)
				if err != nil {
					if floodCtx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				answered.Add(1)
				mu.Lock()
				rep.Statuses[strconv.Itoa(resp.StatusCode)]++
				mu.Unlock()
			}
		})
	}

	// The server's resident memory, sampled while the flood runs.
	var peakRSS atomic.Uint64
	if o.PID != 0 {
		wg.Go(func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				if m, err := ReadMem(o.PID); err == nil && m.RSS > peakRSS.Load() {
					peakRSS.Store(m.RSS)
				}
				select {
				case <-floodCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}

	// Legitimate requests, one after another, while the attack runs.
	legitCtx, cancelLegit := context.WithTimeout(ctx, o.Duration+30*time.Second)
	defer cancelLegit()
	var (
		hist       Histogram
		stats      stepStats
		legitFirst string
		legitStart = time.Now()
	)
	time.Sleep(min(o.Duration/10, 300*time.Millisecond)) // let the attack get going
	for i := 0; floodCtx.Err() == nil; i++ {
		step := o.Legit[i%len(o.Legit)]
		start := time.Now()
		_, err := step.Do(legitCtx)
		stats.requests++
		if err != nil {
			stats.errors++
			if legitFirst == "" {
				legitFirst = step.Name + ": " + err.Error()
			}
			continue
		}
		hist.Record(time.Since(start))
	}
	elapsed := time.Since(legitStart)
	wg.Wait()
	rep.DurationS = o.Duration.Seconds()
	rep.Attacks, rep.AttackErrors = answered.Load(), failed.Load()
	rep.Legit = summarize("legit", &stats, &hist, elapsed)
	rep.LegitFirstError = legitFirst
	if o.PID != 0 {
		m, err := ReadMem(o.PID)
		if err != nil {
			return rep, err
		}
		m.RSS = max(m.RSS, peakRSS.Load())
		rep.Peak = &m
	}
	return rep, ctx.Err()
}

// LegitSteps are the legitimate requests timed during a flood: a signed
// preauth of username and, with a phone, the device's transaction list.
func LegitSteps(d *Duo, username string, phone *device.Client) []Step {
	steps := []Step{{Name: "preauth", Do: func(ctx context.Context) (bool, error) {
		_, err := d.Preauth(ctx, username)
		return err == nil, err
	}}}
	if phone != nil {
		steps = append(steps, Step{Name: "device transactions", Do: func(ctx context.Context) (bool, error) {
			_, err := phone.Pending(ctx)
			return err == nil, err
		}})
	}
	return steps
}

// FloodSummary is one line about a flood report, for logs.
func (r FloodReport) FloodSummary() string {
	var st []string
	for k, v := range r.Statuses {
		st = append(st, k+"×"+strconv.FormatInt(v, 10))
	}
	slices.Sort(st)
	s := fmt.Sprintf("%s flood, %d connections, bodies %v bytes, %.1f s: %d attacks answered (%s), %d without answer; "+
		"legit: %d requests, %d errors, p50 %v p99 %v max %v",
		r.Kind, r.Conns, r.BodyBytes, r.DurationS, r.Attacks, strings.Join(st, " "), r.AttackErrors,
		r.Legit.Requests, r.Legit.Errors, r.Legit.P50, r.Legit.P99, r.Legit.Max)
	if r.Peak != nil {
		s += fmt.Sprintf("; server RSS before %.1f MB, peak %.1f MB (VmHWM)", float64(r.Before.RSS)/(1<<20), float64(r.Peak.HWM)/(1<<20))
	}
	return s
}

package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Run with: go test -run '^$' -bench . -benchmem ./internal/httpapi
//
// The per-layer benchmarks of a signed passcode auth (docs/benchmarks.md,
// "Request path profile"): each serves the same request, as `assent bench`
// signs it, through one more layer. Allocations and bytes per request are
// the stable figures; ns/op depends on the machine's load.

// benchParams are the parameters of a passcode auth as the bench client
// sends them, with the end user's address as most integrations add it.
var benchParams = url.Values{"username": {"alice"}, "factor": {"passcode"}, "passcode": {"123456789"}, "ipaddr": {"192.0.2.10"}}

// benchRequest is a signed request as the server receives it; next re-arms
// its body for another round.
type benchRequest struct {
	r    *http.Request
	body []byte
	rd   bytes.Reader
}

func newBenchRequest(b *testing.B, version int, params url.Values) *benchRequest {
	b.Helper()
	s := duosig.Signer{IKey: authIKey, SKey: testSKey, Host: signedHost, Version: version, Digest: duosig.SHA512,
		Now: func() time.Time { return signedNow }}
	cr, err := s.NewRequest(context.Background(), http.MethodPost, "/auth/v2/auth", params)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(cr.Body)
	r, err := http.NewRequest(http.MethodPost, "/auth/v2/auth", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.RequestURI, r.Host, r.RemoteAddr = "/auth/v2/auth", signedHost, "192.0.2.1:40000"
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = cr.Header.Clone()
	r.ContentLength = int64(len(body))
	return &benchRequest{r: r, body: body}
}

func (br *benchRequest) next() *http.Request {
	br.rd.Reset(br.body)
	br.r.Body = io.NopCloser(&br.rd)
	return br.r
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body; its header map is reused (net/http allocates one per answer).
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: http.Header{}} }

// benchAnswer has the shape of authapi's passcode answer.
type benchAnswer struct {
	Result    string `json:"result"`
	Status    string `json:"status"`
	StatusMsg string `json:"status_msg"`
}

var benchOK = benchAnswer{Result: "allow", Status: "bypass", StatusMsg: "Allowing unknown user"}

func BenchmarkReadParams(b *testing.B) {
	for _, tc := range []struct {
		name    string
		version int
	}{{"form", 2}, {"json", 5}} {
		b.Run(tc.name, func(b *testing.B) {
			br := newBenchRequest(b, tc.version, benchParams)
			w := newDiscardWriter()
			b.ReportAllocs()
			for b.Loop() {
				p, err := ReadParamsLimit(w, br.next(), 64<<10)
				if err != nil || p.Get("passcode") != "123456789" {
					b.Fatal(p, err)
				}
			}
		})
	}
}

func BenchmarkWriteOK(b *testing.B) {
	w := newDiscardWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		WriteOK(w, benchOK)
	}
	if w.status != http.StatusOK || w.n == 0 {
		b.Fatal(w.status, w.n)
	}
}

// BenchmarkMiddleware is the request ID, the request-scoped logger and the
// access-log line (text, discarded) around a handler that only answers 200.
func BenchmarkMiddleware(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	br := newBenchRequest(b, 2, benchParams)
	w := newDiscardWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, br.next())
	}
}

// BenchmarkSigned is a signed passcode auth through Signer.Require (an
// integration look-up that costs nothing, the date, the parameters, the
// signature) to a handler that answers like authapi's.
func BenchmarkSigned(b *testing.B) {
	for _, tc := range []struct {
		name    string
		version int
	}{{"v2-form", 2}, {"v5-json", 5}} {
		b.Run(tc.name, func(b *testing.B) {
			s := &Signer{
				Lookup:   &lookup{},
				Verifier: duosig.Verifier{Hosts: []string{signedHost}, Now: func() time.Time { return signedNow }, MACs: &duosig.MACPool{}},
				Failures: ratelimit.NewNamed("rate_limit_bad_signatures", ratelimit.Limit{Every: time.Minute, Burst: 20}, ratelimit.Options{}),
			}
			h := s.Require(Route{Types: []store.IntegrationType{store.TypeAuthAPI}, MaxBody: 64 << 10},
				func(w http.ResponseWriter, r *http.Request, c *Call) error {
					if c.Params.Get("passcode") != "123456789" {
						return ErrNotFound
					}
					WriteOK(w, benchOK)
					return nil
				})
			br := newBenchRequest(b, tc.version, benchParams)
			w := newDiscardWriter()
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, br.next())
				if w.status != http.StatusOK {
					b.Fatal(w.status)
				}
			}
		})
	}
}

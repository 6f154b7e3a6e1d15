package events

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the proxy's Prometheus metrics. They live on their own
// registry (never the global one), so several proxies can run in one
// process — as the tests do — without clashing.
type Metrics struct {
	reg *prometheus.Registry

	requests   *prometheus.CounterVec
	stage      *prometheus.HistogramVec
	duplicates *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	failOpens  *prometheus.CounterVec
	pending    prometheus.Gauge
	statuses   *prometheus.CounterVec
	inFlight   atomic.Pointer[func() int]
}

// latencyBuckets span a cached LDAP bind (a millisecond) to a push the
// user answers late (a minute and more).
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// NewMetrics creates the metrics on a fresh registry, with the Go runtime
// and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent_authproxy", Name: "requests_total",
			Help: "RADIUS requests answered, by server section and result (accept, reject, challenge).",
		}, []string{"section", "result"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "assent_authproxy", Name: "stage_duration_seconds",
			Help:    "Time spent per authentication stage (primary, preauth, auth), by server section.",
			Buckets: latencyBuckets,
		}, []string{"section", "stage"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent_authproxy", Name: "duplicate_requests_total",
			Help: "Retransmitted requests: ignored while the original is in progress (in_flight) or answered from the cache (resent).",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent_authproxy", Name: "dropped_packets_total",
			Help: "Packets dropped without an answer, by reason.",
		}, []string{"reason"}),
		failOpens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent_authproxy", Name: "fail_open_total",
			Help: "Logins let in without a second factor because the Auth API failed (failmode=safe), by server section.",
		}, []string{"section"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "assent_authproxy", Name: "pending_challenges",
			Help: "Access-Challenges sent and not yet answered or expired.",
		}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent_authproxy", Name: "status_server_total",
			Help: "Status-Server packets (RFC 5997) answered, by server section of the client.",
		}, []string{"section"}),
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "assent_authproxy", Name: "requests_in_flight",
		Help: "RADIUS requests being answered, on all sockets; at max_requests_in_flight on a socket, new ones are dropped (dropped_packets_total{reason=\"overloaded\"}).",
	}, func() float64 {
		if f := m.inFlight.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	m.reg.MustRegister(
		m.requests, m.stage, m.duplicates, m.dropped, m.failOpens, m.pending, m.statuses, inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the registry the metrics are on (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request counts one answered request.
func (m *Metrics) Request(section, result string) {
	m.requests.WithLabelValues(section, result).Inc()
}

// Stage records how long one stage took.
func (m *Metrics) Stage(section, stage string, d time.Duration) {
	m.stage.WithLabelValues(section, stage).Observe(d.Seconds())
}

// Duplicate counts one retransmitted request of the given kind
// ("in_flight" or "resent").
func (m *Metrics) Duplicate(kind string) { m.duplicates.WithLabelValues(kind).Inc() }

// Dropped counts one packet dropped for reason.
func (m *Metrics) Dropped(reason string) { m.dropped.WithLabelValues(reason).Inc() }

// FailOpen counts one login let in because the Auth API failed.
func (m *Metrics) FailOpen(section string) { m.failOpens.WithLabelValues(section).Inc() }

// StatusServer counts one Status-Server answered for a client of section.
func (m *Metrics) StatusServer(section string) { m.statuses.WithLabelValues(section).Inc() }

// SetInFlightFunc sets how requests_in_flight is read when scraped.
func (m *Metrics) SetInFlightFunc(f func() int) { m.inFlight.Store(&f) }

// SetPendingChallenges sets the number of outstanding Access-Challenges.
func (m *Metrics) SetPendingChallenges(n int) { m.pending.Set(float64(n)) }

package server

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/netlimit"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/webpush"
)

// Metrics are the server's Prometheus metrics, served on metrics_listen.
// They live on a registry of their own (never the global one), so several
// servers can run in one process, as the tests do.
type Metrics struct {
	reg *prometheus.Registry

	accepted     prometheus.Counter
	open         prometheus.Gauge
	refused      *prometheus.CounterVec
	acceptErrors prometheus.Counter
	limits       *prometheus.GaugeVec
	requests     *prometheus.CounterVec
	endpoints    *endpointMetrics
}

// statusClasses label HTTP answers; each is exported from the start, at 0.
var statusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// NewMetrics registers the server's metrics, with the Go runtime and
// process collectors (open file descriptors among them), on reg. held
// reports the requests the core holds (auth.Service.HeldRequests).
func NewMetrics(reg *prometheus.Registry, held func() auth.HeldStats) *Metrics {
	m := &Metrics{
		reg: reg,
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "assent", Name: "connections_accepted_total",
			Help: "Client connections accepted on the HTTPS listener and handed to the server.",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "assent", Name: "connections_open",
			Help: "Client connections open now.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent", Name: "connections_refused_total",
			Help: "Client connections closed at once because a limit was reached: global (max_connections), per_ip (max_connections_per_ip) or blocked (the address is over rate_limit_bad_signatures).",
		}, []string{"reason"}),
		acceptErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "assent", Name: "accept_errors_total",
			Help: "Errors accepting connections (EMFILE, ENFILE, ENOBUFS …); the server retries after a pause.",
		}),
		limits: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "assent", Name: "connections_limit",
			Help: "The connection limits in force: global (max_connections) and per_ip (max_connections_per_ip, 0: none).",
		}, []string{"limit"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent", Name: "http_requests_total",
			Help: "HTTP requests answered, by status class (2xx, 4xx …).",
		}, []string{"class"}),
	}
	for _, r := range []netlimit.Reason{netlimit.Global, netlimit.PerIP, netlimit.Blocked} {
		m.refused.WithLabelValues(string(r))
	}
	for _, c := range statusClasses {
		m.requests.WithLabelValues(c)
	}
	m.endpoints = newEndpointMetrics(reg)
	reg.MustRegister(
		m.accepted, m.open, m.refused, m.acceptErrors, m.limits, m.requests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "assent", Name: "held_requests",
			Help: "Requests held open now while they wait for a device (synchronous pushes, auth_status long polls).",
		}, func() float64 { return float64(held().Open) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "assent", Name: "held_requests_limit",
			Help: "The most requests held at once (max_held_requests).",
		}, func() float64 { return float64(held().Max) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "held_requests_refused_total",
			Help: "Requests answered 429/42901 instead of being held, because max_held_requests were waiting.",
		}, func() float64 { return float64(held().Refused) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// WatchRateLimits exports how many attempts each rate limit refused, as
// assent_rate_limit_refusals_total{limit="<setting>"}.
func (m *Metrics) WatchRateLimits(limits ...*ratelimit.Named) {
	for _, l := range limits {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "rate_limit_refusals_total",
			Help:        "Attempts answered 429/42901 by a rate limit, by the setting that configures it.",
			ConstLabels: prometheus.Labels{"limit": l.Name},
		}, func() float64 { return float64(l.Refused()) }))
	}
}

// WatchWebPush exports the Web Push deliveries to the Assent
// Authenticator, as assent_webpush_messages_total{result="sent|failed|dropped"}.
func (m *Metrics) WatchWebPush(st *webpush.Stats) {
	for result, c := range map[string]*atomic.Uint64{"sent": &st.Sent, "failed": &st.Failed, "dropped": &st.Dropped} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "webpush_messages_total",
			Help:        "Web Push messages to devices: sent (accepted by the push service), failed, dropped (404/410: the subscription was removed).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(c.Load()) }))
	}
}

// Registry is the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument counts every answer of next by status class.
func (m *Metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, m: m}
		defer func() {
			if !rec.detached { // else counted when answered, see Detached
				m.requests.WithLabelValues(statusClass(rec.code)).Inc()
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status an answer started with.
type statusRecorder struct {
	http.ResponseWriter
	code     int
	m        *Metrics
	detached bool
}

// Detached counts a detached request when it is answered.
func (w *statusRecorder) Detached() func(status int) {
	w.detached = true
	m := w.m // not w, which holds the connection's ResponseWriter
	return func(status int) { m.requests.WithLabelValues(statusClass(status)).Inc() }
}

func (w *statusRecorder) WriteHeader(code int) {
	// 1xx answers (103 Early Hints) are not the final status.
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// statusClass is the class label of a status; 0 (nothing written) is
// net/http's empty 200.
func statusClass(code int) string {
	switch c := code; {
	case c == 0:
		// Nothing written: net/http answers 200 with an empty body.
		return "2xx"
	case c >= 100 && c < 600:
		return statusClasses[c/100-1]
	}
	return "5xx"
}

// Flush lets long-polling handlers send bytes early.
func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

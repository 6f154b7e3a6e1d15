package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assent-auth/assent/internal/auth"
)

// latencyBuckets span a passcode check (milliseconds) to a synchronous
// push held until push_timeout (a minute or more).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// endpointMetrics count requests by endpoint (the route's pattern) and
// status class, with a latency histogram per endpoint. The series of an
// endpoint are looked up once and kept, so a request costs a map read and
// atomic additions, not a label hash.
type endpointMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	series   sync.Map // pattern → *endpointSeries
}

// endpointSeries are one endpoint's series.
type endpointSeries struct {
	byClass [5]prometheus.Counter // by statusClasses
	latency prometheus.Observer
}

func newEndpointMetrics(reg *prometheus.Registry) *endpointMetrics {
	e := &endpointMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "assent", Name: "requests_total",
			Help: "Requests answered, by endpoint (the route, wildcards in braces; \"none\": no route) and result (status class: 2xx, 4xx, 5xx …).",
		}, []string{"endpoint", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "assent", Name: "request_duration_seconds",
			Help:    "Time to answer a request, by endpoint; held requests (synchronous pushes, auth_status) count until answered.",
			Buckets: latencyBuckets,
		}, []string{"endpoint"}),
	}
	reg.MustRegister(e.requests, e.latency)
	return e
}

// ObserveRequest implements httpapi.RequestObserver.
func (e *endpointMetrics) ObserveRequest(pattern string, status int, d time.Duration) {
	s, ok := e.series.Load(pattern)
	if !ok {
		s = e.newSeries(pattern)
	}
	es := s.(*endpointSeries)
	es.byClass[classIndex(status)].Inc()
	es.latency.Observe(d.Seconds())
}

func (e *endpointMetrics) newSeries(pattern string) *endpointSeries {
	ep := endpointLabel(pattern)
	s := &endpointSeries{latency: e.latency.WithLabelValues(ep)}
	for i, c := range statusClasses {
		s.byClass[i] = e.requests.WithLabelValues(ep, c)
	}
	got, _ := e.series.LoadOrStore(pattern, s)
	return got.(*endpointSeries)
}

// endpointLabel is a pattern without its method ("POST /auth/v2/auth" →
// "/auth/v2/auth"); the patterns are the server's routes, so the label
// has as many values as there are routes.
func endpointLabel(pattern string) string {
	if pattern == "" {
		return "none"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

func classIndex(code int) int {
	switch {
	case code == 0:
		return 1 // nothing written: net/http's empty 200
	case code >= 100 && code < 600:
		return code/100 - 1
	}
	return 4
}

// WatchCore exports the core's counters: authentication results by factor,
// pushes by outcome, lockouts, and the pushes this node waits on.
func (m *Metrics) WatchCore(st *auth.Stats, pending func() int) {
	for f, factor := range auth.AuthFactors {
		for r, result := range auth.AuthResults {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: "assent", Name: "auth_results_total",
				Help:        "Authentication decisions written to the auth log, by factor (none: decided before any factor, as preauth's denials) and result.",
				ConstLabels: prometheus.Labels{"factor": factor, "result": result},
			}, func() float64 { return float64(st.Results(f, r)) }))
		}
	}
	for o, outcome := range auth.PushOutcomes {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "pushes_total",
			Help:        "Pushes by outcome: sent (to a device, by this node), approved, denied, fraud (\"this wasn't me\"), timeout (unanswered within push_timeout); an answer counts on the node the device reached.",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(st.Pushes(o)) }))
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "lockouts_total",
			Help: "Users locked out: lockout_threshold failed attempts in a row, or a push marked as fraud with fraud_lockout.",
		}, func() float64 { return float64(st.Lockouts()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "assent", Name: "pushes_pending",
			Help: "Pushes requests on this node wait on now (synchronous pushes, auth_status long polls, the prompt's status poll).",
		}, func() float64 { return float64(pending()) }),
	)
}

// WatchErrors exports the database's and the push broker's error counts;
// a nil function exports 0 (SQLite has no broker: pushes are woken in
// process).
func (m *Metrics) WatchErrors(database, broker func() uint64) {
	zero := func() uint64 { return 0 }
	if database == nil {
		database = zero
	}
	if broker == nil {
		broker = zero
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "database_errors_total",
			Help: "Database statements, transactions and pings that failed (not constraint violations, not canceled requests).",
		}, func() float64 { return float64(database()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "broker_errors_total",
			Help: "Push broker errors (PostgreSQL LISTEN/NOTIFY): failed NOTIFYs, lost and failed LISTEN connections.",
		}, func() float64 { return float64(broker()) }),
	)
}

// AuthEventCounts are what an auth-event sink counts (authevents.Sink).
type AuthEventCounts interface {
	Written() uint64
	Failed() uint64
	Dropped() uint64
}

// WatchAuthEvents exports the auth events written to auth_events_file and
// auth_events_syslog.
func (m *Metrics) WatchAuthEvents(c AuthEventCounts) {
	for result, f := range map[string]func() uint64{"written": c.Written, "failed": c.Failed, "dropped": c.Dropped} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "auth_events_total",
			Help:        "Auth events for auth_events_file / auth_events_syslog: written, failed (a target refused it), dropped (the queue was full).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(f()) }))
	}
}

// readyTimeout bounds /readyz's database ping; readyCache is how long its
// answer is reused, so that many load balancers probing cost the database
// one ping a second.
const (
	readyTimeout = 2 * time.Second
	readyCache   = time.Second
)

// health answers /healthz (the process serves) and /readyz (the database
// answers and its schema has this program's migrations: sqlstore's
// Ready). Both are unauthenticated, never logged, and outside every rate
// limit.
type health struct {
	ping func(ctx context.Context) error
	now  func() time.Time
	log  *slog.Logger

	mu      sync.Mutex
	checked time.Time
	err     error
}

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/healthz" {
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	if err := h.ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: the database is unreachable or not migrated\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// ready pings the database, at most once per readyCache.
func (h *health) ready(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if !h.checked.IsZero() && now.Sub(h.checked) < readyCache && now.After(h.checked) {
		return h.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	err := h.ping(ctx)
	switch {
	case err != nil && (h.err == nil || h.checked.IsZero()):
		h.log.Warn("not ready: the database does not answer or lacks migrations; /readyz answers 503", "err", err)
	case err == nil && h.err != nil:
		h.log.Info("ready again: the database answers")
	}
	h.err, h.checked = err, h.now()
	return h.err
}

// withHealth serves /healthz and /readyz with h before next, which logs
// and limits everything else.
func withHealth(h http.Handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/healthz" || p == "/readyz" {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

package server

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assent-auth/assent/internal/testutil"
)

// fetch fetches url (TLS without verification for the HTTPS listener).
func fetch(t *testing.T, method, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /healthz and /readyz answer on the public port and on metrics_listen,
// are neither logged nor counted per endpoint; /readyz turns 503 once the
// database is unreachable (here: its store closed), /healthz stays 200.
func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	ts := start(t, nil, nil)
	bases := []string{"https://" + ts.addr, "http://" + ts.metrics}
	for _, base := range bases {
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := fetch(t, http.MethodGet, base+path); code != 200 || body != "ok\n" {
				t.Errorf("GET %s%s = %d %q, want 200 ok", base, path, code, body)
			}
		}
	}
	if code, _ := fetch(t, http.MethodPost, "https://"+ts.addr+"/readyz"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405", code)
	}
	if strings.Contains(ts.logs.String(), "path=/healthz") || strings.Contains(ts.logs.String(), "path=/readyz") {
		t.Errorf("health checks were logged:\n%s", ts.logs.String())
	}
	m := testutil.Scrape(t, ts.metrics)
	if _, ok := m.Value("assent_requests_total", "endpoint", "/healthz"); ok {
		t.Error("/healthz is counted as an endpoint")
	}

	if err := ts.s.app.Store.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(readyCache + 100*time.Millisecond) // past the cached answer
	for _, base := range bases {
		if code, body := fetch(t, http.MethodGet, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "database") {
			t.Errorf("GET %s/readyz with the database closed = %d %q, want 503", base, code, body)
		}
		if code, _ := fetch(t, http.MethodGet, base+"/healthz"); code != 200 {
			t.Errorf("GET %s/healthz with the database closed = %d, want 200", base, code)
		}
	}
	if !strings.Contains(ts.logs.String(), "not ready: the database does not answer") || !strings.Contains(ts.logs.String(), "database is closed") {
		t.Error("no warning when the database stopped answering")
	}
	if v, _ := testutil.Scrape(t, ts.metrics).Value("assent_database_errors_total"); v < 1 {
		t.Errorf("database errors = %v after failed pings, want ≥ 1", v)
	}
}

// Requests are counted by endpoint (the route's pattern, not the path
// with its IDs) and result, with a latency histogram; the exposition
// parses with the Prometheus text parser and carries every family the
// dashboard uses.
func TestEndpointMetrics(t *testing.T) {
	t.Parallel()
	ts := start(t, nil, nil)
	for range 3 {
		if err := ts.ping(t); err != nil {
			t.Fatal(err)
		}
	}
	if code, _ := fetch(t, http.MethodGet, "https://"+ts.addr+"/auth/v2/auth_status"); code != 401 && code != 400 {
		t.Errorf("unsigned auth_status = %d", code)
	}
	if code, _ := fetch(t, http.MethodGet, "https://"+ts.addr+"/no/such/page"); code != 404 {
		t.Errorf("unknown page = %d", code)
	}
	m := testutil.Scrape(t, ts.metrics)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"assent_requests_total", []string{"endpoint", "/auth/v2/ping", "result", "2xx"}, 3},
		{"assent_requests_total", []string{"endpoint", "/auth/v2/ping", "result", "5xx"}, 0},
		{"assent_request_duration_seconds", []string{"endpoint", "/auth/v2/ping"}, 3},
		{"assent_requests_total", []string{"endpoint", "/auth/v2/auth_status", "result", "4xx"}, 1},
		{"assent_requests_total", []string{"endpoint", "/", "result", "4xx"}, 1},
		{"assent_auth_results_total", []string{"factor", "passcode", "result", "allow"}, 0},
		{"assent_pushes_total", []string{"outcome", "timeout"}, 0},
		{"assent_pushes_pending", nil, 0},
		{"assent_lockouts_total", nil, 0},
		{"assent_database_errors_total", nil, 0},
		{"assent_broker_errors_total", nil, 0},
	} {
		if got, ok := m.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := m["assent_auth_events_total"]; ok {
		t.Error("auth event counts exported with no auth_events_file or auth_events_syslog")
	}
}

func TestEndpointLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                          "none",
		"POST /auth/v2/auth":        "/auth/v2/auth",
		"/push/v2/device/{pkey}":    "/push/v2/device/{pkey}",
		"GET  /frame/web/v1/auth":   "/frame/web/v1/auth",
		"GET example.com/x/{id...}": "example.com/x/{id...}",
	} {
		if got := endpointLabel(in); got != want {
			t.Errorf("endpointLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every metric docs/grafana-dashboard.json and docs/monitoring.md name is
// one the server exports (with auth events on, so that theirs exist too).
func TestDocumentedMetricsExist(t *testing.T) {
	t.Parallel()
	ts := start(t, map[string]string{"auth_events_file": filepath.Join(t.TempDir(), "events.jsonl")}, nil)
	if err := ts.ping(t); err != nil {
		t.Fatal(err)
	}
	m := testutil.Scrape(t, ts.metrics)
	name := regexp.MustCompile(`\b((?:assent|go|process)_[a-z0-9_]*[a-z0-9])\b`)
	for _, doc := range []string{"docs/grafana-dashboard.json", "docs/monitoring.md"} {
		b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), doc))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(doc, ".json") && !json.Valid(b) {
			t.Fatalf("%s is not JSON", doc)
		}
		found := 0
		for _, match := range name.FindAllStringSubmatch(string(b), -1) {
			n := strings.TrimSuffix(match[1], "_bucket")
			if n == "assent_connections" { // "assent_connections_*" in prose
				continue
			}
			if m[n] == nil && m[strings.TrimSuffix(n, "_count")] == nil && m[strings.TrimSuffix(n, "_sum")] == nil {
				t.Errorf("%s names %s, which the server does not export", doc, n)
			}
			found++
		}
		if found < 10 {
			t.Errorf("%s names only %d metrics", doc, found)
		}
	}
}

// The per-request cost of the endpoint metrics: a map read and atomic
// additions, no allocation.
func BenchmarkObserveRequest(b *testing.B) {
	e := newEndpointMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.ObserveRequest("/auth/v2/auth", 200, 3*time.Millisecond)
		}
	})
}

func TestObserveRequestAllocates0(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	e := newEndpointMetrics(prometheus.NewRegistry())
	e.ObserveRequest("/auth/v2/auth", 200, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { e.ObserveRequest("/auth/v2/auth", 200, time.Millisecond) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

package testutil

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Metric reads one sample, "name" or `name{labels}` exactly as exposed,
// from the Prometheus endpoint http://addr/metrics; ok is false when the
// series is not there.
func Metric(t testing.TB, addr, series string) (value string, ok bool) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), series+" "); found {
			return v, true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return "", false
}

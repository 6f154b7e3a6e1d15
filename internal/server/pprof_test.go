package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/testutil"
)

// run starts the server with Run, as `assent serve` does, and returns the
// addresses it logged, by listener ("assent", "metrics", "pprof").
func run(t *testing.T, flags map[string]string) map[string]string {
	t.Helper()
	all := map[string]string{"data_dir": t.TempDir(), "listen": "127.0.0.1:0", "public_hostname": "localhost", "metrics_listen": "127.0.0.1:0"}
	for k, v := range flags {
		all[k] = v
	}
	cfg, err := config.Load(config.Sources{Flags: all})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)), app.Create())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	s, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	listening := regexp.MustCompile(`msg="(\w+) listening" addr=(\S+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		addrs := map[string]string{}
		for _, m := range listening.FindAllStringSubmatch(logs.String(), -1) {
			addrs[m[1]] = m[2]
		}
		if addrs["assent"] != "" && addrs["metrics"] != "" {
			return addrs
		}
	}
	t.Fatalf("server did not start:\n%s", logs.String())
	return nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// TestPprofListener: pprof_listen serves the runtime profiles on a
// listener of its own and nowhere else: not on the public HTTPS port, not
// on the metrics port, and not at all unless set.
func TestPprofListener(t *testing.T) {
	t.Parallel()
	addrs := run(t, map[string]string{"pprof_listen": "127.0.0.1:0"})
	pp := addrs["pprof"]
	if pp == "" {
		t.Fatalf("no pprof listener logged: %v", addrs)
	}
	for _, c := range []struct {
		url    string
		status int
		want   string
	}{
		{"http://" + pp + "/debug/pprof/", 200, "goroutine"},
		{"http://" + pp + "/debug/pprof/heap?debug=1", 200, "heap profile"},
		{"http://" + pp + "/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{"http://" + pp + "/debug/pprof/cmdline", 404, ""}, // settings can be on the command line
		{"https://" + addrs["assent"] + "/debug/pprof/", 404, `"stat":"FAIL"`},
		{"https://" + addrs["assent"] + "/debug/pprof/heap?debug=1", 404, `"stat":"FAIL"`},
		{"http://" + addrs["metrics"] + "/debug/pprof/", 404, ""},
		{"http://" + addrs["metrics"] + "/debug/pprof/heap", 404, ""},
	} {
		status, body := get(t, c.url)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %.200q, want %d with %q", c.url, status, body, c.status, c.want)
		}
	}

	off := run(t, nil)
	if _, ok := off["pprof"]; ok {
		t.Errorf("pprof listening without pprof_listen: %v", off)
	}
	if status, _ := get(t, "https://"+off["assent"]+"/debug/pprof/"); status != 404 {
		t.Errorf("public /debug/pprof/ without pprof_listen: %d, want 404", status)
	}
}

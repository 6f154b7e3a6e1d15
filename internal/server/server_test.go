package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/testutil"
)

// testServer serves on 127.0.0.1 (HTTPS) with metrics on another port.
type testServer struct {
	s       *Server
	addr    string // HTTPS host:port
	metrics string // metrics host:port
	logs    *testutil.SyncBuffer
	// stop shuts the server down and returns what serve returned; a test
	// that calls it sets stopped.
	stop    func() error
	stopped bool
}

func start(t *testing.T, flags map[string]string, tune func(*Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"data_dir": t.TempDir(), "listen": ln.Addr().String()}
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
	if tune != nil {
		tune(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln, mln) }()
	ts := &testServer{s: s, addr: ln.Addr().String(), metrics: mln.Addr().String(), logs: logs}
	ts.stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		if !ts.stopped {
			if err := ts.stop(); err != nil {
				t.Errorf("serve: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts
}

// dial opens a TCP connection to the server from a loopback address.
func (ts *testServer) dial(t *testing.T, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// refused reports whether a connection from the address is refused: reset
// while connecting (the server's reset can beat connect's return on
// loopback) or closed by the server before the guard deadline.
func (ts *testServer) refused(t *testing.T, from string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", ts.addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	defer c.Close()
	return closedByServer(c, 10*time.Second)
}

// closedByServer reports whether the server closes c (a read ends with
// EOF or a reset) before the guard deadline.
func closedByServer(c net.Conn, guard time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(guard))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// ping sends GET /auth/v2/ping over a new TLS connection from 127.0.0.1.
func (ts *testServer) ping(t *testing.T) error {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives: true,
	}}
	resp, err := c.Get("https://" + ts.addr + "/auth/v2/ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping: %s", resp.Status)
	}
	return nil
}

// metric reads one sample from the metrics listener ("" if absent).
func (ts *testServer) metric(t *testing.T, series string) string {
	t.Helper()
	v, _ := testutil.Metric(t, ts.metrics, series)
	return v
}

// Connections over the per-address cap are closed at once, other
// addresses are still served, and the refusal is counted and logged at
// WARN (once for a burst).
func TestPerIPLimit(t *testing.T) {
	t.Parallel()
	ts := start(t, map[string]string{"max_connections_per_ip": "2", "max_connections": "50"}, nil)
	ts.dial(t, "127.0.0.2")
	ts.dial(t, "127.0.0.2")
	for range 3 {
		if !ts.refused(t, "127.0.0.2") {
			t.Fatal("a connection over max_connections_per_ip was not closed")
		}
	}
	if err := ts.ping(t); err != nil {
		t.Fatalf("a client from another address: %v", err)
	}
	for series, want := range map[string]string{
		`assent_connections_refused_total{reason="per_ip"}`: "3",
		`assent_connections_refused_total{reason="global"}`: "0",
		`assent_connections_limit{limit="per_ip"}`:          "2",
		`assent_connections_limit{limit="global"}`:          "50",
		`assent_http_requests_total{class="2xx"}`:           "1",
		`assent_connections_open`:                           "2",
		`assent_accept_errors_total`:                        "0",
		`assent_held_requests`:                              "0",
		`assent_held_requests_limit`:                        "10000",
	} {
		if got := ts.metric(t, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	warn := regexp.MustCompile(`level=WARN msg="connections refused: too many from one client address" reason=per_ip max_connections_per_ip=2 last_client=127.0.0.2 count=1`)
	if n := len(warn.FindAllString(ts.logs.String(), -1)); n != 1 {
		t.Errorf("%d warnings for three refusals in a burst, want 1", n)
	}
}

func TestGlobalLimit(t *testing.T) {
	t.Parallel()
	ts := start(t, map[string]string{"max_connections": "3"}, nil)
	for i := range 3 {
		ts.dial(t, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	if !ts.refused(t, "127.0.0.9") {
		t.Fatal("a connection over max_connections was not closed")
	}
	if got := ts.metric(t, `assent_connections_refused_total{reason="global"}`); got != "1" {
		t.Errorf("refused global = %q, want 1", got)
	}
	if !strings.Contains(ts.logs.String(), `level=WARN msg="connections refused: the server is at max_connections" reason=global max_connections=3`) {
		t.Error("no warning for the global limit")
	}
}

// A connection that never completes its TLS handshake, and a keep-alive
// connection left idle, are closed by the server.
func TestSilentAndIdleConnectionsClosed(t *testing.T) {
	t.Parallel()
	ts := start(t, map[string]string{"idle_timeout": "1s"}, func(s *Server) { s.headerTimeout = 300 * time.Millisecond })
	// Guards well below readTimeout (30 s), the next bound that would apply.
	if !closedByServer(ts.dial(t, "127.0.0.1"), 15*time.Second) {
		t.Error("a connection that sends nothing was not closed")
	}
	tc := tls.Client(ts.dial(t, "127.0.0.1"), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if _, err := fmt.Fprintf(tc, "GET /auth/v2/ping HTTP/1.1\r\nHost: %s\r\n\r\n", ts.addr); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("ping: %d close=%v, want a kept-alive 200", resp.StatusCode, resp.Close)
	}
	_ = tc.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle keep-alive connection: read %v, want EOF (closed after idle_timeout)", err)
	}
	// The client sees EOF as the socket closes, a moment before the
	// listener's accounting counts the close.
	for deadline := time.Now().Add(10 * time.Second); ts.metric(t, "assent_connections_open") != "0" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := ts.metric(t, "assent_connections_open"); got != "0" {
		t.Errorf("connections open after both were closed: %s", got)
	}
	if n, _ := strconv.Atoi(ts.metric(t, "assent_connections_accepted_total")); n < 2 {
		t.Errorf("connections accepted: %d, want 2 or more", n)
	}
}

// Rate-limit refusals are counted per limit: repeated bad signatures from
// one address end in 429s, each one counted under rate_limit_bad_signatures,
// and every configured limit is exported (at 0 until it refuses).
func TestRateLimitMetrics(t *testing.T) {
	t.Parallel()
	ts := start(t, map[string]string{"rate_limit_bad_signatures": "2/1h"}, nil)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	statuses := map[int]int{}
	for range 5 {
		req, err := http.NewRequest(http.MethodGet, "https://"+ts.addr+"/auth/v2/check", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("DIXXXXXXXXXXXXXXXXXX", strings.Repeat("0", 40))
		req.Header.Set("Date", time.Now().UTC().Format(time.RFC1123Z))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
		_ = resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusUnauthorized] != 2 || statuses[http.StatusTooManyRequests] != 3 {
		t.Fatalf("answers %v, want 2×401 then 3×429", statuses)
	}
	if got := ts.metric(t, `assent_rate_limit_refusals_total{limit="rate_limit_bad_signatures"}`); got != "3" {
		t.Errorf("bad-signature refusals metric = %q, want 3", got)
	}
	// A new connection from the blocked address is refused before its TLS
	// handshake; another address still connects.
	if !ts.refused(t, "127.0.0.1") {
		t.Error("a new connection from an address over rate_limit_bad_signatures was served")
	}
	if got := ts.metric(t, `assent_connections_refused_total{reason="blocked"}`); got != "1" {
		t.Errorf("blocked connections metric = %q, want 1", got)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 10 * time.Second}
	if c, err := tls.DialWithDialer(d, "tcp", ts.addr, &tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Errorf("a TLS connection from another address: %v", err)
	} else {
		_ = c.Close()
	}
	for _, l := range []string{"rate_limit_pushes_per_user", "rate_limit_passcode_failures_per_user", "rate_limit_passcode_failures_per_ip",
		"rate_limit_enrollments_per_integration", "rate_limit_activation_failures_per_ip"} {
		if got := ts.metric(t, `assent_rate_limit_refusals_total{limit="`+l+`"}`); got != "0" {
			t.Errorf("%s refusals metric = %q, want 0", l, got)
		}
	}
}

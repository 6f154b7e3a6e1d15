// Package connflood reproduces the idle-connection flood against the real
// assent binary: 25,000 idle connections, from several addresses, against
// a server whose open-files limit is 4,096. Without connection limits the
// flood exhausted the server's file descriptors, legitimate requests timed
// out (behind failmode=safe a VPN then let users in without a second
// factor) and nothing was logged at the default level.
//
// The test binary re-executes itself as connection holders (TestMain,
// holder_test.go): one process cannot hold 25,000 connections under the
// CI machine's hard limit of 20,000 files.
package connflood

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	duoapi "github.com/duosecurity/duo_api_golang"
	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/testutil"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(holderEnv); spec != "" {
		os.Exit(runHolder(spec))
	}
	os.Exit(m.Run())
}

const (
	// fileLimit is the server's open-files limit (prlimit).
	fileLimit = 4096
	// maxConns is what the server derives from it: 4096 − 256.
	maxConns = 3840
	// perIP is well below maxConns/attackers, so the attack from
	// attackers addresses leaves room for everyone else (and few TLS
	// handshakes to pay for).
	perIP     = 32
	attackers = 8
	// Per attacking address: tlsPerIP TLS keep-alive connections (more
	// than maxConns in all: without the per-IP cap they alone would take
	// every place for the whole idle_timeout), then bare connections, to
	// 25,000 in all.
	tlsPerIP  = 500
	barePerIP = 25000/attackers - tlsPerIP
)

func TestIdleConnectionFlood(t *testing.T) {
	t.Parallel()
	prlimit, err := exec.LookPath("prlimit")
	testutil.Require(t, "prlimit (util-linux)", err == nil)
	begin := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(begin).Seconds(), what) }
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	phase("built")
	data := t.TempDir()
	port, mport := testutil.FreePort(t), testutil.FreePort(t)
	target := fmt.Sprintf("127.0.0.1:%d", port)
	host := fmt.Sprintf("localhost:%d", port)

	// An installation, and an integration for the signed probe, made with
	// the CLI.
	initCmd := exec.Command(bin, "init", "--data-dir", data, "--public-hostname", host)
	initCmd.Env = testutil.HermeticEnv()
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("assent init: %v\n%s", err, out)
	}
	cli := exec.Command(bin, "integration", "create", "--type", "authapi", "--name", "probe", "--json", "--data-dir", data)
	cli.Env = testutil.HermeticEnv()
	out, err := cli.Output()
	if err != nil {
		t.Fatalf("integration create: %v", err)
	}
	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	if err := json.Unmarshal(out, &in); err != nil || in.IKey == "" {
		t.Fatalf("integration create --json: %v\n%s", err, out)
	}

	srv := startServer(t, prlimit, bin, data, port, mport)
	probe := newProber(t, host, target, filepath.Join(data, "tls", "ca.pem"), in.IKey, in.SKey)
	waitFor(t, "the server to answer", 30*time.Second, func() bool { return probe.ping() == nil })
	if want := fmt.Sprintf("max_connections=%d max_connections_per_ip=%d", maxConns, perIP); !strings.Contains(srv.Output(), want) ||
		!strings.Contains(srv.Output(), fmt.Sprintf("open_files_limit=%d", fileLimit)) {
		t.Fatalf("the start line does not show %s derived from open_files_limit=%d:\n%s", want, fileLimit, srv.Output())
	}

	phase("server ready")

	// Phase 1: 25,000 connections from 127.0.0.2–9, three holders.
	var from []string
	for i := range attackers {
		from = append(from, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	var (
		reached int64
		holders []*holder
	)
	for _, group := range [][]string{from[:3], from[3:6], from[6:]} {
		holders = append(holders, startHolder(t, holderSpec{Target: target, Host: host, From: group, TLS: tlsPerIP, Bare: barePerIP, Parallel: 32}))
	}
	for _, h := range holders {
		rep := h.wait(t)
		if rep.TLSHeld > int64(perIP*len(h.spec.From)) {
			t.Errorf("holder %v keeps %d TLS connections, over %d per address", h.spec.From, rep.TLSHeld, perIP)
		}
		reached += rep.reached()
	}
	if reached < 24000 {
		t.Fatalf("only %d of 25,000 connections reached the server", reached)
	}
	srv.waitSettled(t, reached)
	phase("flood taken")
	// Nearly all of the flood is refused for its addresses (a TLS client
	// that gave up frees its place for another, so not exactly all).
	if n := srv.metric(t, `assent_connections_refused_total{reason="per_ip"}`); n < 22000 {
		t.Errorf("refused per_ip = %d, want nearly all of the %d", n, reached)
	}
	// Legitimate requests from another address are answered meanwhile.
	for i := range 3 {
		if err := probe.ping(); err != nil {
			t.Fatalf("ping %d while 25,000 connections are held: %v", i+1, err)
		}
		if err := probe.check(); err != nil {
			t.Fatalf("signed check %d while 25,000 connections are held: %v", i+1, err)
		}
	}
	srv.checkFiles(t)
	srv.checkWarnings(t, "per_ip", 1)
	phase("probes answered")

	// Phase 2: more addresses than max_connections/perIP: the global cap
	// refuses the rest, and the process never runs out of files.
	var more []string
	for i := range maxConns/perIP + attackers { // perIP more connections than the room left
		more = append(more, fmt.Sprintf("127.0.1.%d", 1+i))
	}
	h := startHolder(t, holderSpec{Target: target, Host: host, From: more, Bare: perIP, Parallel: 4})
	srv.waitSettled(t, reached+h.wait(t).reached())
	if n := srv.metric(t, `assent_connections_refused_total{reason="global"}`); n == 0 {
		t.Error("no connection refused for max_connections")
	}
	if open := srv.metric(t, "assent_connections_open"); open > maxConns {
		t.Errorf("connections open %d, over max_connections %d", open, maxConns)
	}
	srv.checkFiles(t)
	srv.checkWarnings(t, "global", 1)
	phase("second flood taken")

	// Once that flood goes, the server serves again.
	h.release()
	waitFor(t, "the server to answer after the second flood", 30*time.Second, func() bool { return probe.ping() == nil })
	if err := probe.check(); err != nil {
		t.Errorf("signed check after the second flood: %v", err)
	}
	if n := srv.metric(t, "assent_accept_errors_total"); n != 0 {
		t.Errorf("accept errors: %d, want 0 (the server never ran out of files)", n)
	}
	if n := srv.metric(t, `assent_http_requests_total{class="2xx"}`); n < 8 {
		t.Errorf("2xx answers counted: %d, want the probes' and more", n)
	}
	// One line per kind per interval, not one per connection.
	if n := strings.Count(srv.Output(), `msg="connections refused`); n > 20 {
		t.Errorf("%d warning lines for the floods, want a few", n)
	}
}

// server is `assent serve` under prlimit.
type server struct {
	*testutil.Serve
	metrics string
}

func startServer(t *testing.T, prlimit, bin, data string, port, mport int) *server {
	t.Helper()
	s := &server{metrics: fmt.Sprintf("127.0.0.1:%d", mport)}
	s.Serve = testutil.StartServe(t, bin, testutil.ServeOptions{
		DataDir: data, Port: port,
		Wrap: []string{prlimit, fmt.Sprintf("--nofile=%d:%d", fileLimit, fileLimit), "--"},
		Env: []string{
			"ASSENT_METRICS_LISTEN=" + s.metrics,
			"ASSENT_MAX_CONNECTIONS_PER_IP=" + strconv.Itoa(perIP),
		},
		// prlimit execs the server: the same process, killed if the test dies.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	return s
}

// metric reads one sample ("name" or `name{labels}`) from /metrics.
func (s *server) metric(t *testing.T, series string) int64 {
	t.Helper()
	v, ok := testutil.Metric(t, s.metrics, series)
	if !ok {
		t.Fatalf("%s not in /metrics", series)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("%s: %q", series, v)
	}
	return int64(f)
}

// waitSettled waits until the server has accepted or refused every
// connection that reached it.
func (s *server) waitSettled(t *testing.T, reached int64) {
	t.Helper()
	var seen int64
	waitFor(t, "the server to take every connection", 60*time.Second, func() bool {
		seen = s.metric(t, "assent_connections_accepted_total") +
			s.metric(t, `assent_connections_refused_total{reason="per_ip"}`) +
			s.metric(t, `assent_connections_refused_total{reason="global"}`)
		return seen >= reached
	})
}

// checkFiles checks the server's open descriptors against its limit.
func (s *server) checkFiles(t *testing.T) {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.Pid()))
	if err != nil {
		t.Fatalf("server descriptors: %v", err)
	}
	if len(fds) >= fileLimit {
		t.Errorf("the server has %d files open, at its limit of %d", len(fds), fileLimit)
	}
	t.Logf("server: %d files open (limit %d)", len(fds), fileLimit)
}

// checkWarnings checks that refusals for reason were logged at WARN, in
// at least min lines.
func (s *server) checkWarnings(t *testing.T, reason string, min int) {
	t.Helper()
	re := regexp.MustCompile(`level=WARN msg="connections refused[^"]*" reason=` + reason + ` .*count=\d+`)
	if n := len(re.FindAllString(s.Output(), -1)); n < min {
		t.Errorf("no WARN line for connections refused with reason=%s", reason)
	}
}

// holder is a running holder process.
type holder struct {
	spec    holderSpec
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *testutil.SyncBuffer
	done    chan error // the report was read (or not)
	report  holderReport
	once    sync.Once
	started time.Time
}

// startHolder starts a holder process.
func startHolder(t *testing.T, spec holderSpec) *holder {
	t.Helper()
	b, _ := json.Marshal(spec)
	h := &holder{spec: spec, cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	h.cmd.Env = append(os.Environ(), holderEnv+"="+string(b))
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	h.cmd.Stderr = h.stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	h.started = time.Now()
	t.Cleanup(h.release)
	go func() { h.done <- json.NewDecoder(stdout).Decode(&h.report) }()
	return h
}

// wait waits until the holder has connected everything, and returns its
// report.
func (h *holder) wait(t *testing.T) holderReport {
	t.Helper()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("holder %v: no report: %v\n%s", h.spec.From, err, h.stderr.String())
		}
	case <-time.After(120 * time.Second):
		t.Fatalf("holder %v did not finish connecting within 120s", h.spec.From)
	}
	t.Logf("%s: holder %s…: %+v", time.Since(h.started).Round(time.Millisecond), h.spec.From[0], h.report)
	return h.report
}

// release lets the holder close its connections and exit (once).
func (h *holder) release() {
	h.once.Do(func() {
		_ = h.stdin.Close()
		exited := make(chan struct{})
		go func() { _ = h.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = h.cmd.Process.Kill()
			<-exited
		}
	})
}

// prober sends legitimate requests from 127.0.0.1, each on a new
// connection, with Duo's Go client.
type prober struct{ api *authapi.AuthApi }

func newProber(t *testing.T, host, target, caFile, ikey, skey string) *prober {
	t.Helper()
	var pool = func() *tls.Config {
		waitFor(t, "the local CA", 30*time.Second, func() bool { _, err := os.Stat(caFile); return err == nil })
		return &tls.Config{RootCAs: testutil.CAPool(t, caFile)}
	}()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, Timeout: 10 * time.Second}
	api := duoapi.NewDuoApi(ikey, skey, host, "assent-connflood",
		duoapi.SetTimeout(10*time.Second),
		duoapi.SetTransport(func(tr *http.Transport) {
			tr.Proxy = nil
			tr.TLSClientConfig = pool
			tr.DisableKeepAlives = true
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", target) }
		}))
	return &prober{api: authapi.NewAuthApi(*api)}
}

func (p *prober) ping() error {
	res, err := p.api.Ping()
	if err != nil {
		return err
	}
	if res.Stat != "OK" {
		return fmt.Errorf("ping: stat %s", res.Stat)
	}
	return nil
}

func (p *prober) check() error {
	res, err := p.api.Check()
	if err != nil {
		return err
	}
	if res.Stat != "OK" {
		msg := ""
		if res.Message != nil {
			msg = *res.Message
		}
		return errors.New("check: " + res.Stat + " " + msg)
	}
	return nil
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

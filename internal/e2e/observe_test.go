package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// httpGet answers a GET with the client given (nil: plain HTTP).
func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// delta is after − before of one series (0 when absent).
func delta(before, after testutil.Metrics, name string, labels ...string) float64 {
	a, _ := after.Value(name, labels...)
	b, _ := before.Value(name, labels...)
	return a - b
}

// sumDelta is the change of every series of name with the labels given.
func sumDelta(before, after testutil.Metrics, name string, labels ...string) float64 {
	sum := func(m testutil.Metrics) float64 {
		total := 0.0
		f := m[name]
		if f == nil {
			return 0
		}
	next:
		for _, s := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				ok := false
				for _, l := range s.GetLabel() {
					ok = ok || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !ok {
					continue next
				}
			}
			total += s.GetCounter().GetValue()
		}
		return total
	}
	return sum(after) - sum(before)
}

// The real binary: metrics on metrics_listen parsed with the Prometheus
// text parser move as logins happen (requests by endpoint, latency,
// results by factor, lockouts); /healthz and /readyz answer on both
// ports; every decision reaches the auth-events file as a JSON line.
func testBinaryObservability(t *testing.T, bin string) {
	maddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	events := filepath.Join(t.TempDir(), "auth-events.jsonl")
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{Env: []string{
		"ASSENT_METRICS_LISTEN=" + maddr, "ASSENT_LOCKOUT_THRESHOLD=3", "ASSENT_AUTH_EVENTS_FILE=" + events}})
	for _, u := range []string{"https://" + srv.Host, "http://" + maddr} {
		c := srv.Client
		if strings.HasPrefix(u, "http:") {
			c = nil
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, body := httpGet(t, c, u+p); code != 200 || body != "ok\n" {
				t.Errorf("GET %s%s = %d %q", u, p, code, body)
			}
		}
	}

	dd := []string{"--data-dir", srv.DataDir}
	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "metrics", "--json"}, dd...)...).stdout), &in); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, bin, append([]string{"user", "create", "mia"}, dd...)...)
	var bc struct {
		Codes []string `json:"codes"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, append([]string{"user", "bypass-codes", "mia", "--count", "2", "--json"}, dd...)...).stdout), &bc); err != nil {
		t.Fatal(err)
	}
	auth := func(passcode, want string) {
		t.Helper()
		r := runCLI(t, bin, "api", "--host", srv.Host, "--ca", srv.CAFile, "--ikey", in.IKey, "--skey", in.SKey,
			"POST", "/auth/v2/auth", "username=mia", "factor=passcode", "passcode="+passcode)
		if !strings.Contains(r.stdout, `"result": "`+want+`"`) {
			t.Fatalf("auth with passcode: want %s\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
		}
	}

	before := testutil.Scrape(t, maddr)
	auth(bc.Codes[0], "allow")
	// With a bypass code left mia is enrolled: lockout_threshold wrong
	// passcodes lock her out.
	for range 3 {
		auth("111111111", "deny")
	}
	auth("222222222", "deny") // locked out
	after := testutil.Scrape(t, maddr)

	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"requests /auth/v2/auth 2xx", delta(before, after, "assent_requests_total", "endpoint", "/auth/v2/auth", "result", "2xx"), 5},
		{"latency samples /auth/v2/auth", delta(before, after, "assent_request_duration_seconds", "endpoint", "/auth/v2/auth"), 5},
		{"bypass-code allows", delta(before, after, "assent_auth_results_total", "factor", "bypass_code", "result", "allow"), 1},
		{"denials (any factor)", sumDelta(before, after, "assent_auth_results_total", "result", "deny"), 4},
		{"allows (any factor)", sumDelta(before, after, "assent_auth_results_total", "result", "allow"), 1},
		{"lockouts", delta(before, after, "assent_lockouts_total"), 1},
		{"database errors", delta(before, after, "assent_database_errors_total"), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: moved by %v, want %v", c.what, c.got, c.want)
		}
	}
	if v, ok := after.Value("assent_auth_events_total", "result", "dropped"); !ok || v != 0 {
		t.Errorf("auth events dropped = %v (exported %v), want 0", v, ok)
	}

	// The events are written in the background: wait for the five.
	var lines []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = nil
		b, _ := os.ReadFile(events)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var e map[string]any
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("auth events line is not JSON: %v: %q", err, sc.Text())
			}
			lines = append(lines, e)
		}
		if len(lines) >= 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(lines) != 5 {
		t.Fatalf("%d auth events, want 5: %v", len(lines), lines)
	}
	if lines[0]["result"] != "allow" || lines[0]["factor"] != "bypass_code" || lines[0]["username"] != "mia" || lines[0]["ikey"] != in.IKey {
		t.Errorf("first event: %v", lines[0])
	}
	if lines[4]["result"] != "deny" || lines[4]["reason"] != "locked_out" {
		t.Errorf("last event: %v", lines[4])
	}
}

// /readyz follows PostgreSQL: 503 while a private server is stopped, 200
// again once it is back; /healthz stays 200 throughout.
func testBinaryReadyzPostgres(t *testing.T, bin string) {
	pg := startPrivatePostgres(t)
	maddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{Args: []string{"--database-url", pg.dsn},
		Env: []string{"ASSENT_METRICS_LISTEN=" + maddr}})
	ready := func() int { code, _ := httpGet(t, nil, "http://"+maddr+"/readyz"); return code }
	if code := ready(); code != 200 {
		t.Fatalf("readyz = %d with PostgreSQL up", code)
	}
	pg.ctl(t, "stop", "-m", "immediate")
	waitCode(t, ready, 503)
	if code, _ := httpGet(t, srv.Client, "https://"+srv.Host+"/readyz"); code != 503 {
		t.Errorf("public /readyz = %d with PostgreSQL stopped, want 503", code)
	}
	if code, _ := httpGet(t, srv.Client, "https://"+srv.Host+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d with PostgreSQL stopped, want 200", code)
	}
	if v, _ := testutil.Scrape(t, maddr).Value("assent_database_errors_total"); v < 1 {
		t.Errorf("database errors = %v with PostgreSQL stopped", v)
	}
	pg.start(t)
	waitCode(t, ready, 200)
}

func waitCode(t *testing.T, get func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code := get()
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz = %d, want %d", code, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// privatePostgres is a PostgreSQL server of the test's own, which it may
// stop and start (the shared one of scripts/test.sh must stay up).
type privatePostgres struct {
	bin, dir string
	port     int
	dsn      string
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	testutil.Require(t, "PostgreSQL server programs (/usr/lib/postgresql/*/bin)", len(matches) > 0)
	dir, err := os.MkdirTemp("", "assent-pg-ready-")
	if err != nil {
		t.Fatal(err)
	}
	p := &privatePostgres{bin: filepath.Dir(matches[len(matches)-1]), dir: dir, port: testutil.FreePort(t)}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	t.Cleanup(func() {
		_ = p.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	if err := p.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	p.start(t)
	p.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	return p
}

func (p *privatePostgres) start(t *testing.T) {
	t.Helper()
	p.ctl(t, "start", "-w", "-t", "60", "-l", filepath.Join(p.dir, "postgres.log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir))
}

func (p *privatePostgres) ctl(t *testing.T, args ...string) {
	t.Helper()
	if err := p.run("pg_ctl", append([]string{"-D", filepath.Join(p.dir, "data")}, args...)...); err != nil {
		t.Fatal(err)
	}
}

// run runs a PostgreSQL program, as the postgres user when root.
func (p *privatePostgres) run(prog string, args ...string) error {
	argv := append([]string{filepath.Join(p.bin, prog)}, args...)
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

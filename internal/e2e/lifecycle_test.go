package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/tlsutil"
)

// TestBinaryLifecycle runs the real binary through its signals and its
// refusals: SIGHUP reloads the certificate and settings while a push is
// held, a bad configuration on SIGHUP changes nothing, SIGTERM drains and
// answers held pushes with their auth-log rows written, and commands on a
// missing installation fail naming it.
func TestBinaryLifecycle(t *testing.T) {
	t.Parallel()
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	t.Run("SIGHUP", func(t *testing.T) { t.Parallel(); testSIGHUP(t, bin) })
	t.Run("SIGTERM", func(t *testing.T) { t.Parallel(); testSIGTERM(t, bin) })
	t.Run("NoInstallation", func(t *testing.T) { t.Parallel(); testNoInstallation(t, bin) })
	t.Run("SIGTERMCluster", func(t *testing.T) { t.Parallel(); testSIGTERMCluster(t, bin) })
}

// testSIGTERMCluster: two nodes on one PostgreSQL database. Node A holds a
// synchronous push and gets SIGTERM; during its drain the phone approves
// through node B, and node A answers its held request "allow" before it
// exits; a second push left unanswered times out at the end of the drain.
func testSIGTERMCluster(t *testing.T, bin string) {
	dsn := createPostgresDB(t) // skips without PostgreSQL (fails in CI)
	var key [32]byte
	_, _ = rand.Read(key[:])
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--database-url", dsn, "--master-key-file", keyFile}
	opts := testutil.ServeOptions{Args: common, Env: []string{"ASSENT_SHUTDOWN_TIMEOUT=8s"}}
	nodeA := testutil.StartServe(t, bin, opts)
	nodeB := testutil.StartServe(t, bin, opts)
	// Both nodes record their hostname in the shared database: name node
	// A's, so the activation code sends the phone there.
	f := newLifecycleFixture(t, bin, nodeA, append(common, "--public-hostname", nodeA.Host)...)
	viaB := &device.Client{Host: nodeB.Host, PKey: f.phone.PKey, AKey: f.phone.AKey, HOTPSecret: f.phone.HOTPSecret,
		CustomerName: f.phone.CustomerName, Key: f.phone.Key, CAFile: nodeB.CAFile}

	approved := f.push(t, 1)
	p, err := viaB.Pending(testCtx(t))
	if err != nil || len(p) != 1 {
		t.Fatalf("pending on node B: %v %v", p, err)
	}
	first := p[0].TxID
	unanswered := f.push(t, 2)
	start := time.Now()
	if err := syscall.Kill(nodeA.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog(t, nodeA, "shutting down: draining", 1)
	if err := viaB.Answer(testCtx(t), first, true); err != nil {
		t.Fatalf("approve through node B: %v", err)
	}
	o := outcome(t, approved, 10*time.Second)
	if o.err != nil || o.res.Response.Result != "allow" {
		t.Fatalf("held push approved during node A's drain: %+v %v, want allow", o.res, o.err)
	}
	if d := time.Since(start); d > 7*time.Second {
		t.Errorf("the approved push was answered %v after SIGTERM, want at once (before shutdown_timeout, 8s)", d)
	}
	o = outcome(t, unanswered, 40*time.Second)
	if o.err != nil || o.res.Response.Result != "deny" || o.res.Response.Status != "timeout" {
		t.Errorf("held push never answered: %+v %v, want deny/timeout at the end of the drain", o.res, o.err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for nodeA.Running() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if nodeA.Running() || nodeA.ExitErr() != nil {
		t.Fatalf("node A after SIGTERM: running %v, exit %v; want a clean exit", nodeA.Running(), nodeA.ExitErr())
	}
	// Node B serves on; the auth log has both decisions.
	r := mustCLI(t, bin, append([]string{"log", "auth", "--json", "--user", "lena"}, f.dd...)...)
	if !strings.Contains(r.stdout, "user_approved") || !strings.Contains(r.stdout, "no_response") {
		t.Errorf("auth log after node A's drain lacks the approval or the timeout:\n%s", r.stdout)
	}
	nodeB.Stop()
}

// lifecycleFixture is a server with an Auth API integration and a user
// whose phone is activated.
type lifecycleFixture struct {
	srv        *testutil.Serve
	dd         []string
	ikey, skey string
	phone      *device.Client
	ts         *testServer
}

func newLifecycleFixture(t *testing.T, bin string, srv *testutil.Serve, args ...string) *lifecycleFixture {
	t.Helper()
	f := &lifecycleFixture{srv: srv, dd: append([]string{"--data-dir", srv.DataDir}, args...)}
	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	mustJSON(t, mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "VPN", "--json"}, f.dd...)...), &in)
	f.ikey, f.skey = in.IKey, in.SKey
	var en struct {
		ActivationCode string `json:"activation_code"`
	}
	mustJSON(t, mustCLI(t, bin, append([]string{"user", "enroll", "lena", "--json"}, f.dd...)...), &en)
	phone, err := device.Activate(testCtx(t), en.ActivationCode, device.ActivateOptions{CAFile: srv.CAFile, Name: "lena's phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	f.phone = phone
	f.ts = &testServer{Server: &assenttest.Server{Host: srv.Host, CAFile: srv.CAFile, Client: &http.Client{
		Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, srv.CAFile)}}}}}
	return f
}

type pushOutcome struct {
	res *authapi.AuthResult
	err error
}

// push starts a synchronous push for lena with duo_api_golang, on a
// client (and connection) of its own, and waits until the phone sees it.
func (f *lifecycleFixture) push(t *testing.T, seen int) <-chan pushOutcome {
	t.Helper()
	api := goClient(t, f.ts, f.ikey, f.skey, f.srv.Host)
	ch := make(chan pushOutcome, 1)
	go func() {
		res, err := api.Auth("push", authapi.AuthUsername("lena"), authapi.AuthDevice("auto"))
		ch <- pushOutcome{res, err}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := f.phone.Pending(testCtx(t))
		if err == nil && len(p) >= seen {
			return ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("the phone never saw push %d: %v %v", seen, p, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func outcome(t *testing.T, ch <-chan pushOutcome, within time.Duration) pushOutcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(within):
		t.Fatalf("the held push was not answered within %v", within)
		return pushOutcome{}
	}
}

// waitLog waits until the server's output holds n lines containing s.
func waitLog(t *testing.T, srv *testutil.Serve, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(srv.Output(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server never logged %q (%d times)", s, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedSerial is the serial number of the certificate a new TLS
// connection gets.
func servedSerial(t *testing.T, srv *testutil.Serve) string {
	t.Helper()
	conn, err := tls.Dial("tcp", srv.Host, &tls.Config{RootCAs: testutil.CAPool(t, srv.CAFile), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS connection: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

func testSIGHUP(t *testing.T, bin string) {
	// The certificate comes from tls_cert/tls_key, issued by a CA kept in
	// <data_dir>/tls so that the harness trusts it.
	dataDir := t.TempDir()
	tlsDir := filepath.Join(dataDir, "tls")
	port := testutil.FreePort(t)
	host := "localhost"
	if _, err := tlsutil.EnsureLocalCA(tlsDir, []string{host}, time.Now()); err != nil {
		t.Fatal(err)
	}
	ca, err := tlsutil.LoadCA(tlsDir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := tlsutil.NamesFor([]string{host})
	if err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	first, err := ca.Issue(certDir, names, time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	files := tlsutil.FilesIn(certDir)
	cfgFile := filepath.Join(t.TempDir(), "assent.toml")
	writeCfg := func(body string) {
		t.Helper()
		base := "tls_cert = \"" + files.Cert + "\"\ntls_key = \"" + files.Key + "\"\n"
		if err := os.WriteFile(cfgFile, []byte(base+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("log_level = \"info\"\n")
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{DataDir: dataDir, Port: port, Args: []string{"--config", cfgFile}})
	f := newLifecycleFixture(t, bin, srv)
	hup := func() {
		t.Helper()
		if err := syscall.Kill(srv.Pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	if got := servedSerial(t, srv); got != first.SerialNumber.Text(16) {
		t.Fatalf("served serial %s, want the first certificate's %s", got, first.SerialNumber.Text(16))
	}

	// A synchronous push is held; meanwhile a renewed certificate lands
	// at the same paths and a setting changes; SIGHUP.
	held := f.push(t, 1)
	second, err := ca.Issue(certDir, names, time.Now(), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	writeCfg("log_level = \"debug\"\nrate_limit_pushes_per_user = \"50/5m\"\nmax_connections = 100\n")
	hup()
	waitLog(t, srv, "configuration reloaded", 1)
	if got := servedSerial(t, srv); got != second.SerialNumber.Text(16) {
		t.Errorf("after SIGHUP a new connection got serial %s, want the new certificate's %s", got, second.SerialNumber.Text(16))
	}
	out := srv.Output()
	for _, want := range []string{"tls certificate loaded", "log_level=\"info -> debug\"", "rate_limit_pushes_per_user=\"5/5m -> 50/5m\"",
		"level=WARN msg=\"setting changed but needs a restart", "key=max_connections"} {
		if !strings.Contains(out, want) {
			t.Errorf("the reload log lacks %q:\n%s", want, out)
		}
	}
	// The push held across the reload completes when the phone approves.
	p, err := f.phone.Pending(testCtx(t))
	if err != nil || len(p) != 1 {
		t.Fatalf("pending after SIGHUP: %v %v", p, err)
	}
	if err := f.phone.Answer(testCtx(t), p[0].TxID, true); err != nil {
		t.Fatal(err)
	}
	o := outcome(t, held, 20*time.Second)
	if o.err != nil || o.res.Response.Result != "allow" {
		t.Fatalf("the push held across SIGHUP: %+v %v, want allow", o.res, o.err)
	}

	// A bad configuration: every problem logged, nothing changes, the
	// server keeps serving with the certificate it had.
	writeCfg("log_level = \"loud\"\npush_timeout = \"forever\"\n")
	hup()
	waitLog(t, srv, "configuration reload failed", 1)
	out = srv.Output()
	for _, want := range []string{"log_level", "loud", "push_timeout", "forever"} {
		if !strings.Contains(out[strings.LastIndex(out, "SIGHUP"):], want) {
			t.Errorf("the failed reload does not name %q:\n%s", want, out)
		}
	}
	if !srv.Running() {
		t.Fatal("the server exited on a bad configuration")
	}
	if got := servedSerial(t, srv); got != second.SerialNumber.Text(16) {
		t.Errorf("after a failed reload serial %s, want %s still", got, second.SerialNumber.Text(16))
	}
	// A certificate file that does not load: refused, the old one stays.
	if err := os.WriteFile(files.Cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeCfg("log_level = \"debug\"\n")
	hup()
	waitLog(t, srv, "configuration reload failed", 2)
	if got := servedSerial(t, srv); got != second.SerialNumber.Text(16) {
		t.Errorf("after a broken certificate file serial %s, want %s still", got, second.SerialNumber.Text(16))
	}
	if _, err := f.phone.Pending(testCtx(t)); err != nil {
		t.Errorf("the server does not answer after the failed reloads: %v", err)
	}
	srv.Stop()
}

func testSIGTERM(t *testing.T, bin string) {
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{Env: []string{"ASSENT_SHUTDOWN_TIMEOUT=3s"}})
	f := newLifecycleFixture(t, bin, srv)
	first := f.push(t, 1)
	second := f.push(t, 2)
	start := time.Now()
	if err := syscall.Kill(srv.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused while the held pushes drain.
	waitLog(t, srv, "shutting down: draining", 1)
	if c, err := tls.Dial("tcp", srv.Host, &tls.Config{RootCAs: testutil.CAPool(t, srv.CAFile)}); err == nil {
		c.Close()
		t.Error("a new connection was accepted during the drain")
	}
	for i, ch := range []<-chan pushOutcome{first, second} {
		o := outcome(t, ch, 20*time.Second)
		if o.err != nil || o.res.Response.Result != "deny" || o.res.Response.Status != "timeout" {
			t.Errorf("held push %d after SIGTERM: %+v %v, want deny/timeout", i+1, o.res, o.err)
		}
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("held pushes answered after %v, before shutdown_timeout (3s)", d)
	}
	deadline := time.Now().Add(30 * time.Second)
	for srv.Running() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if srv.Running() || srv.ExitErr() != nil {
		t.Fatalf("after SIGTERM: running %v, exit %v; want a clean exit", srv.Running(), srv.ExitErr())
	}
	// Both pushes are in the auth log, as timed out.
	r := mustCLI(t, bin, append([]string{"log", "auth", "--json", "--user", "lena"}, f.dd...)...)
	var n int
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("log auth --json: %v\n%s", err, r.stdout)
		}
		if strings.Contains(line, "no_response") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("auth log after SIGTERM has %d timed-out pushes, want 2:\n%s", n, r.stdout)
	}
}

func testNoInstallation(t *testing.T, bin string) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, args := range [][]string{{"user", "list"}, {"integration", "create", "--type", "authapi", "--name", "x"}, {"log", "auth"}} {
		r := runCLI(t, bin, append(args, "--data-dir", missing)...)
		if r.code == 0 || !strings.Contains(r.stderr, missing) || !strings.Contains(r.stderr, "assent init") {
			t.Errorf("assent %s on a missing data directory: exit %d, stderr %q; want an error naming %s and assent init",
				strings.Join(args, " "), r.code, r.stderr, missing)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a command created %s", missing)
	}
	r := mustCLI(t, bin, "init", "--data-dir", missing)
	if !strings.Contains(r.stdout, "Created a new installation") {
		t.Errorf("init: %s", r.stdout)
	}
	mustCLI(t, bin, "user", "list", "--data-dir", missing)

	// A database migrated by a newer assent: refused by every command and
	// by serve, naming both schema versions, and left as it is.
	known, err := sqlstore.SchemaVersion(sqlstore.DialectSQLite)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(missing, "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	future := known + 1
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		future, fmt.Sprintf("%04d_from_a_newer_assent.sql", future), time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, args := range [][]string{{"user", "list"}, {"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}} {
		r := runCLI(t, bin, append(args, "--data-dir", missing)...)
		for _, want := range []string{fmt.Sprintf("schema version %d", future), fmt.Sprintf("binary's %d", known), "newer assent"} {
			if r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("assent %s on a newer database: exit %d, stderr %q; want %q", strings.Join(args, " "), r.code, r.stderr, want)
			}
		}
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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

// pebbleVersion is the Let's Encrypt test CA the ACME test runs.
const pebbleVersion = "v2.10.3"

// buildPebble builds Pebble's command outside this module (go install
// module@version), so it is no dependency of Assent; it returns the binary
// and the directory of Pebble's sources (for its test certificates).
func buildPebble(t *testing.T) (bin, src string) {
	t.Helper()
	gobin := t.TempDir()
	mod := "github.com/letsencrypt/pebble/v2"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", mod+"/cmd/pebble@"+pebbleVersion)
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	testutil.Require(t, "pebble (go install "+mod+"/cmd/pebble@"+pebbleVersion+": "+strings.TrimSpace(string(out))+")", err == nil)
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(gobin, "pebble"), filepath.Join(strings.TrimSpace(string(modcache)), mod+"@"+pebbleVersion)
}

// TestACMEPebble runs `assent serve` with acme_directory pointing at
// Pebble on loopback (challenges always valid, 20-second certificates):
// the server obtains a certificate, serves it (a client trusting Pebble's
// root and nothing else completes the handshake and gets answers), keeps
// it sealed in the data directory, and renews it before it expires.
func TestACMEPebble(t *testing.T) {
	t.Parallel()
	pebble, src := buildPebble(t)
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	dir := t.TempDir()
	acmePort, mgmtPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":             filepath.Join(src, "test/certs/localhost/cert.pem"),
		"privateKey":              filepath.Join(src, "test/certs/localhost/key.pem"),
		"httpPort":                testutil.FreePort(t),
		"tlsPort":                 testutil.FreePort(t),
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"profiles":                map[string]any{"default": map[string]any{"description": "short", "validityPeriod": 20}},
	}}
	b, _ := json.Marshal(conf)
	confPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pc := exec.CommandContext(ctx, pebble, "-config", confPath)
	pc.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	var pout testutil.SyncBuffer
	pc.Stdout, pc.Stderr = &pout, &pout
	pc.WaitDelay = 5 * time.Second
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = pc.Wait()
		if t.Failed() {
			t.Logf("pebble output:\n%s", pout.String())
		}
	})

	// Pebble's API is served with its test certificate (minica); the
	// certificates it issues chain to a root it makes at start.
	minica := filepath.Join(src, "test/certs/pebble.minica.pem")
	mgmt := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, minica)}}}
	var root []byte
	if !eventually(30*time.Second, func() bool {
		resp, err := mgmt.Get(fmt.Sprintf("https://localhost:%d/roots/0", mgmtPort))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		root, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == 200 && bytes.Contains(root, []byte("BEGIN CERTIFICATE"))
	}) {
		t.Fatal("pebble did not come up")
	}
	// autocert certifies dotted names only: the server is
	// assent.localhost, reached on 127.0.0.1.
	dataDir := t.TempDir()
	port := testutil.FreePort(t)
	const hostname = "assent.localhost"
	sc := exec.CommandContext(ctx, bin, "serve", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	sc.Env = append(testutil.HermeticEnv(),
		fmt.Sprintf("ASSENT_PUBLIC_HOSTNAME=%s:%d", hostname, port),
		fmt.Sprintf("ASSENT_ACME_DIRECTORY=https://localhost:%d/dir", acmePort),
		"ASSENT_ACME_CA_ROOT="+minica,
		"ASSENT_ACME_EMAIL=admin@example.com")
	var sout testutil.SyncBuffer
	sc.Stdout, sc.Stderr = &sout, &sout
	sc.WaitDelay = 5 * time.Second
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sc.Process.Kill()
		_ = sc.Wait()
		if t.Failed() {
			t.Logf("assent serve output:\n%s", sout.String())
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)
	tlsConf := &tls.Config{RootCAs: pool, ServerName: hostname}
	dial := func() (*x509.Certificate, error) {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), tlsConf)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}
	var first *x509.Certificate
	if !eventually(60*time.Second, func() bool {
		var err error
		first, err = dial()
		return err == nil
	}) {
		t.Fatal("no TLS handshake trusting only Pebble's root within 60 s")
	}
	leaf := func() *x509.Certificate {
		c, err := dial()
		if err != nil {
			t.Fatalf("TLS handshake trusting only Pebble's root: %v", err)
		}
		return c
	}
	if !strings.Contains(strings.Join(first.DNSNames, " "), hostname) {
		t.Errorf("served certificate names %v", first.DNSNames)
	}
	if d := first.NotAfter.Sub(first.NotBefore); d > time.Minute {
		t.Errorf("the certificate is valid for %v; Pebble was told 20 s", d)
	}
	if log := sout.String(); strings.Contains(log, "ca_file=") {
		t.Errorf("the server used its local CA:\n%s", log)
	}

	// The cache: account key and certificate, sealed, 0600.
	entries, err := os.ReadDir(filepath.Join(dataDir, "acme"))
	if err != nil || len(entries) < 2 {
		t.Fatalf("acme cache: %v %v", entries, err)
	}
	for _, e := range entries {
		info, _ := e.Info()
		b, _ := os.ReadFile(filepath.Join(dataDir, "acme", e.Name()))
		if info.Mode().Perm() != 0o600 || bytes.Contains(b, []byte("PRIVATE KEY")) || bytes.Contains(b, []byte("BEGIN")) {
			t.Errorf("acme cache entry %s: mode %v, %d bytes, want sealed and 0600", e.Name(), info.Mode().Perm(), len(b))
		}
	}

	// Renewal: a new certificate before the first one expires.
	var renewed *x509.Certificate
	if !eventually(60*time.Second, func() bool {
		renewed = leaf()
		return renewed.SerialNumber.Cmp(first.SerialNumber) != 0
	}) {
		t.Fatalf("the certificate (expiring %v) was not renewed", first.NotAfter)
	}
	if !renewed.NotAfter.After(first.NotAfter) || time.Now().After(first.NotAfter) && renewed.NotBefore.After(first.NotAfter) {
		t.Errorf("renewed certificate %v–%v, first %v–%v", renewed.NotBefore, renewed.NotAfter, first.NotBefore, first.NotAfter)
	}
	// And clients still get answers.
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}).
		Get(fmt.Sprintf("https://127.0.0.1:%d/auth/v2/ping", port))
	if err != nil {
		t.Fatalf("ping over the renewed certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"stat":"OK"`)) {
		t.Errorf("ping: HTTP %d %s", resp.StatusCode, body)
	}
}

// eventually polls cond every 100 ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

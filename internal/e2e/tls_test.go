package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// tlsServe is `assent serve` running as a subprocess.
type tlsServe struct {
	out    *lockedBuffer
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// startTLSServe starts `assent serve` on 127.0.0.1:port and waits until it
// answers ping over TLS trusting caFile, or until it exits (ok false).
func startTLSServe(t *testing.T, bin, dataDir string, port int, extra ...string) (*tlsServe, bool) {
	t.Helper()
	s := &tlsServe{out: &lockedBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, extra...)...)
	s.cmd.Env = testutil.HermeticEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start assent serve: %v", err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(t) })
	caFile := filepath.Join(dataDir, "tls", "ca.pem")
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			return s, false
		default:
		}
		if _, err := os.Stat(caFile); err == nil {
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, caFile)}}}
			resp, err := client.Get(fmt.Sprintf("https://localhost:%d/auth/v2/ping", port))
			client.CloseIdleConnections()
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return s, true
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("assent serve did not answer ping within 30s\n%s", s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the process.
func (s *tlsServe) stop(t *testing.T) {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("assent serve did not stop within 20s of SIGTERM")
	}
}

// opensslSClient runs openssl s_client against the server and reports whether
// the handshake completed with a verified certificate.
func opensslSClient(t *testing.T, port int, caFile string, args ...string) (string, bool) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	testutil.Require(t, "openssl", err == nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, append([]string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port),
		"-servername", "localhost", "-verify_hostname", "localhost", "-verify_return_error", "-CAfile", caFile}, args...)...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	s := string(out)
	return s, err == nil && strings.Contains(s, "Verify return code: 0 (ok)") && !strings.Contains(s, "Cipher is (NONE)")
}

// TestBinaryTLS runs the real binary: modern TLS suites only (openssl
// s_client), a start refused for a name outside the CA's constraints, and
// serving with the CA key taken off the server by `assent ca export
// --remove-key` and certificates from `assent ca issue`.
func TestBinaryTLS(t *testing.T) {
	t.Parallel()
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	dataDir := filepath.Join(t.TempDir(), "data")
	tlsDir := filepath.Join(dataDir, "tls")
	caFile := filepath.Join(tlsDir, "ca.pem")
	port := testutil.FreePort(t)
	cli := func(args ...string) cliResult {
		t.Helper()
		return mustCLI(t, bin, append(args, "--data-dir", dataDir)...)
	}

	srv, ok := startTLSServe(t, bin, dataDir, port)
	if !ok {
		t.Fatalf("assent serve exited: %v\n%s", srv.err, srv.out.String())
	}
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}, false},
		{[]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA"}, false},
		{[]string{"-tls1_2"}, true},
		{[]string{"-tls1_3"}, true},
	} {
		if out, got := opensslSClient(t, port, caFile, tc.args...); got != tc.ok {
			t.Errorf("openssl s_client %s: connected %v, want %v\n%s", strings.Join(tc.args, " "), got, tc.ok, out)
		}
	}
	srv.stop(t)

	// A configured name outside the CA's constraints, key online.
	srv, ok = startTLSServe(t, bin, dataDir, port, "--public-hostname", "mfa.example.com")
	if ok || srv.err == nil {
		t.Fatalf("assent serve started for a name outside its CA's constraints\n%s", srv.out.String())
	}
	for _, want := range []string{"mfa.example.com", "assent ca create --force"} {
		if !strings.Contains(srv.out.String(), want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, srv.out.String())
		}
	}

	// The key off the server: it still starts, with the certificate it has.
	offline := filepath.Join(t.TempDir(), "ca")
	cli("ca", "export", "--out", offline, "--remove-key")
	srv, ok = startTLSServe(t, bin, dataDir, port)
	if !ok {
		t.Fatalf("assent serve with the CA key offline exited: %v\n%s", srv.err, srv.out.String())
	}
	if out := srv.out.String(); strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") {
		t.Errorf("warnings with a fresh certificate:\n%s", out)
	}
	srv.stop(t)
	if _, err := os.Stat(filepath.Join(tlsDir, "ca-key.pem")); err == nil {
		t.Fatal("the server re-created a CA key")
	}

	// A short certificate from the offline CA: served, with a warning.
	cli("ca", "issue", "--ca-dir", offline, "--days", "5")
	srv, ok = startTLSServe(t, bin, dataDir, port)
	if !ok {
		t.Fatalf("assent serve exited: %v\n%s", srv.err, srv.out.String())
	}
	if out := srv.out.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "assent ca issue") {
		t.Errorf("no warning about the certificate expiring within 10 days:\n%s", out)
	}
	if out, ok := opensslSClient(t, port, caFile, "-tls1_3"); !ok {
		t.Errorf("openssl s_client with the issued certificate:\n%s", out)
	}
	srv.stop(t)

	// No usable certificate and no key: refuse to start, saying what to run.
	if err := os.Remove(filepath.Join(tlsDir, "server.pem")); err != nil {
		t.Fatal(err)
	}
	srv, ok = startTLSServe(t, bin, dataDir, port)
	if ok || srv.err == nil {
		t.Fatalf("assent serve started without a certificate or CA key\n%s", srv.out.String())
	}
	if out := srv.out.String(); !strings.Contains(out, "assent ca issue --ca-dir") || strings.Contains(out, "goroutine ") {
		t.Errorf("the refusal does not say what to run:\n%s", out)
	}
}

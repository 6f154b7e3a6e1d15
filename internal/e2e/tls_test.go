package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

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

	// serve starts `assent serve` on the same data and port each time.
	serve := func(extra ...string) (*testutil.Serve, error) {
		t.Helper()
		s := testutil.NewServe(t, bin, testutil.ServeOptions{DataDir: dataDir, Port: port, Args: extra})
		return s, s.Start()
	}
	srv, err := serve()
	if err != nil {
		t.Fatalf("%v\n%s", err, srv.Output())
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
	srv.Stop()

	// A configured name outside the CA's constraints, key online.
	srv, err = serve("--public-hostname", "mfa.example.com")
	if err == nil || srv.ExitErr() == nil {
		t.Fatalf("assent serve started for a name outside its CA's constraints\n%s", srv.Output())
	}
	for _, want := range []string{"mfa.example.com", "assent ca create --force"} {
		if !strings.Contains(srv.Output(), want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, srv.Output())
		}
	}

	// The key off the server: it still starts, with the certificate it has.
	offline := filepath.Join(t.TempDir(), "ca")
	cli("ca", "export", "--out", offline, "--remove-key")
	srv, err = serve()
	if err != nil {
		t.Fatalf("assent serve with the CA key offline: %v\n%s", err, srv.Output())
	}
	if out := srv.Output(); strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") {
		t.Errorf("warnings with a fresh certificate:\n%s", out)
	}
	srv.Stop()
	if _, err := os.Stat(filepath.Join(tlsDir, "ca-key.pem")); err == nil {
		t.Fatal("the server re-created a CA key")
	}

	// A short certificate from the offline CA: served, with a warning.
	cli("ca", "issue", "--ca-dir", offline, "--days", "5")
	srv, err = serve()
	if err != nil {
		t.Fatalf("%v\n%s", err, srv.Output())
	}
	if out := srv.Output(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "assent ca issue") {
		t.Errorf("no warning about the certificate expiring within 10 days:\n%s", out)
	}
	if out, ok := opensslSClient(t, port, caFile, "-tls1_3"); !ok {
		t.Errorf("openssl s_client with the issued certificate:\n%s", out)
	}
	srv.Stop()

	// No usable certificate and no key: refuse to start, saying what to run.
	if err := os.Remove(filepath.Join(tlsDir, "server.pem")); err != nil {
		t.Fatal(err)
	}
	srv, err = serve()
	if err == nil || srv.ExitErr() == nil {
		t.Fatalf("assent serve started without a certificate or CA key\n%s", srv.Output())
	}
	if out := srv.Output(); !strings.Contains(out, "assent ca issue --ca-dir") || strings.Contains(out, "goroutine ") {
		t.Errorf("the refusal does not say what to run:\n%s", out)
	}
}

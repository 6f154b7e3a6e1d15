package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// binServer is `assent serve` from the real binary, in its own process.
type binServer struct {
	Host    string // localhost:PORT
	DataDir string
	CAFile  string
	// Client trusts CAFile and does not follow redirects.
	Client *http.Client

	cmd     *exec.Cmd
	out     *lockedBuffer // stdout and stderr
	exited  chan struct{}
	waitErr error
}

// startBinServer runs `assent serve` on a free loopback port with a fresh
// data directory (unless args name another with --data-dir later on the
// command line) and waits until it answers ping. It is killed when the test
// ends if Stop was not called.
func startBinServer(t *testing.T, bin string, args ...string) *binServer {
	t.Helper()
	port := testutil.FreePort(t)
	s := &binServer{Host: fmt.Sprintf("localhost:%d", port), DataDir: t.TempDir(), out: &lockedBuffer{}, exited: make(chan struct{})}
	all := append([]string{"serve", "--data-dir", s.DataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	for i := 0; i+1 < len(all); i++ {
		if all[i] == "--data-dir" {
			s.DataDir = all[i+1]
		}
	}
	s.CAFile = filepath.Join(s.DataDir, "tls", "ca.pem")
	s.cmd = exec.Command(bin, all...)
	s.cmd.Env = testutil.HermeticEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start assent serve: %v", err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("assent serve (%s) output:\n%s", s.Host, s.out.String())
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("assent serve exited early: %v\n%s", s.waitErr, s.out.String())
		default:
		}
		if s.Client == nil {
			if _, err := os.Stat(s.CAFile); err == nil {
				s.Client = &http.Client{
					Timeout:       30 * time.Second,
					Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, s.CAFile)}},
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				}
			}
		}
		if s.Client != nil {
			resp, err := s.Client.Get("https://" + s.Host + "/auth/v2/ping")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return s
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("assent serve did not answer ping within 60s\n%s", s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Output is what the server has written to stdout and stderr so far.
func (s *binServer) Output() string { return s.out.String() }

// Stop sends SIGTERM and waits for a clean exit, so every log line is out.
func (s *binServer) Stop(t *testing.T) {
	t.Helper()
	s.Client.CloseIdleConnections()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("assent serve after SIGTERM: %v (want exit 0)", s.waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("assent serve did not exit within 30s of SIGTERM")
	}
}

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

// procServer is `assent serve` run as a subprocess on a fixed data
// directory and port, so that it can be killed and started again on the
// same data.
type procServer struct {
	t       *testing.T
	bin     string
	dataDir string
	dbURL   string   // PostgreSQL URL; empty for SQLite in dataDir
	env     []string // extra ASSENT_* settings for serve
	port    int
	host    string // localhost:port, the host clients sign
	caFile  string
	out     *lockedBuffer // the output of every run, in order

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

func newProcServer(t *testing.T, bin, dbURL string, env ...string) *procServer {
	t.Helper()
	dataDir := t.TempDir()
	port := testutil.FreePort(t)
	s := &procServer{
		t: t, bin: bin, dataDir: dataDir, dbURL: dbURL, env: env, port: port,
		host:   fmt.Sprintf("localhost:%d", port),
		caFile: filepath.Join(dataDir, "tls", "ca.pem"),
		out:    &lockedBuffer{},
	}
	t.Cleanup(func() {
		if s.running() {
			s.signal(syscall.SIGKILL)
			<-s.exited
		}
		if t.Failed() {
			t.Logf("assent serve output (last 8 KiB):\n%s", tail(s.out.String(), 8<<10))
		}
	})
	return s
}

// dataArgs select the installation, for serve and for the CLI.
func (s *procServer) dataArgs() []string {
	a := []string{"--data-dir", s.dataDir}
	if s.dbURL != "" {
		a = append(a, "--database-url", s.dbURL)
	}
	return a
}

func (s *procServer) running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// start runs the server and waits until it answers ping.
func (s *procServer) start() {
	t := s.t
	t.Helper()
	if s.running() {
		t.Fatal("procServer.start: already running")
	}
	fmt.Fprintf(s.out, "---- start ----\n")
	args := append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", s.port)}, s.dataArgs()...)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(testutil.HermeticEnv(), s.env...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start assent serve: %v", err)
	}
	s.cmd, s.exited, s.waitErr = cmd, make(chan struct{}), nil
	exited := s.exited
	go func() { s.waitErr = cmd.Wait(); close(exited) }()

	var client *http.Client
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("assent serve exited early: %v\n%s", s.waitErr, tail(s.out.String(), 8<<10))
		default:
		}
		if client == nil {
			if _, err := os.Stat(s.caFile); err == nil {
				client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, s.caFile)}}}
			}
		}
		if client != nil {
			if resp, err := client.Get("https://" + s.host + "/auth/v2/ping"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					client.CloseIdleConnections()
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("assent serve did not answer ping within 60s\n%s", tail(s.out.String(), 8<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *procServer) signal(sig syscall.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v to assent serve: %v", sig, err)
	}
}

// kill sends SIGKILL (no cleanup of any kind in the server) and waits for
// the process to be gone.
func (s *procServer) kill() {
	s.t.Helper()
	fmt.Fprintf(s.out, "---- SIGKILL ----\n")
	s.signal(syscall.SIGKILL)
	<-s.exited
}

// stop sends SIGTERM and requires a clean exit.
func (s *procServer) stop() {
	t := s.t
	t.Helper()
	s.signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("assent serve after SIGTERM: %v (want exit 0)", s.waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("assent serve did not exit within 30s of SIGTERM")
	}
}

// cli runs an assent command on the server's installation; it must succeed.
func (s *procServer) cli(args ...string) cliResult {
	s.t.Helper()
	return mustCLI(s.t, s.bin, append(args, s.dataArgs()...)...)
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

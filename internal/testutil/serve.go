package testutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SyncBuffer is an io.Writer whose content can be read while it is
// written to (a server's log, a subprocess's output).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CAPool reads a PEM CA certificate file into a pool.
func CAPool(t testing.TB, caFile string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return pool
}

// ServeOptions configure an `assent serve` process (see NewServe).
type ServeOptions struct {
	// DataDir is the data directory; empty: a fresh temporary one.
	DataDir string
	// Port is the port on 127.0.0.1 to listen on; 0: a free one.
	Port int
	// Args are more `assent serve` arguments (--database-url, --log-level …).
	Args []string
	// Env are more environment settings (ASSENT_…=…), added to HermeticEnv.
	Env []string
	// Wrap is a command line that runs the server, as in
	// {"prlimit", "--nofile=4096:4096", "--"}; it must exec the server, so
	// that signals and Pid reach it.
	Wrap []string
	// SysProcAttr is given to the process (e.g. Pdeathsig).
	SysProcAttr *syscall.SysProcAttr
}

// readyTimeout bounds how long a start may take: a -race binary creating
// its CA and database on a busy machine.
const readyTimeout = 60 * time.Second

// Serve is `assent serve` from the real binary, in a process of its own on
// 127.0.0.1. It can be stopped, killed and started again on the same data
// directory and port. A process still running when the test ends is killed.
type Serve struct {
	Bin     string
	DataDir string
	Port    int
	Host    string // localhost:PORT, the public hostname clients sign
	CAFile  string // the local CA: <DataDir>/tls/ca.pem
	// TLS trusts CAFile, and Client uses it (without following
	// redirects); both are set once the server has answered.
	TLS    *tls.Config
	Client *http.Client

	t    testing.TB
	opts ServeOptions
	log  SyncBuffer // every run's output, with a line at each start and kill
	run  *serveRun  // the latest run; nil before the first
}

// serveRun is one process of a Serve.
type serveRun struct {
	cmd    *exec.Cmd
	out    SyncBuffer
	exited chan struct{} // closed when the process has exited; err is then set
	err    error
}

// NewServe prepares an `assent serve` process without starting it.
func NewServe(t testing.TB, bin string, opts ServeOptions) *Serve {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Port == 0 {
		opts.Port = FreePort(t)
	}
	s := &Serve{
		Bin: bin, DataDir: opts.DataDir, Port: opts.Port,
		Host:   fmt.Sprintf("localhost:%d", opts.Port),
		CAFile: filepath.Join(opts.DataDir, "tls", "ca.pem"),
		t:      t, opts: opts,
	}
	t.Cleanup(func() {
		if s.Running() {
			_ = s.run.cmd.Process.Kill()
			<-s.run.exited
		}
		if s.Client != nil {
			s.Client.CloseIdleConnections()
		}
		if t.Failed() {
			t.Logf("assent serve (%s) output:\n%s", s.Host, tail(s.log.String(), 64<<10))
		}
	})
	return s
}

// StartServe starts `assent serve` and waits until it answers (see Start).
func StartServe(t testing.TB, bin string, opts ServeOptions) *Serve {
	t.Helper()
	s := NewServe(t, bin, opts)
	s.MustStart()
	return s
}

// Start runs the server and waits until it answers /auth/v2/ping over TLS
// trusting its CA. It returns an error if the process exits first (Output
// then says why) or does not answer in time.
func (s *Serve) Start() error {
	s.t.Helper()
	if s.Running() {
		return errors.New("assent serve is already running")
	}
	args := append([]string{"serve", "--data-dir", s.DataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", s.Port)}, s.opts.Args...)
	argv := append(append(append([]string{}, s.opts.Wrap...), s.Bin), args...)
	r := &serveRun{exited: make(chan struct{})}
	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Env = append(HermeticEnv(), s.opts.Env...)
	r.cmd.SysProcAttr = s.opts.SysProcAttr
	w := io.MultiWriter(&r.out, &s.log)
	r.cmd.Stdout, r.cmd.Stderr = w, w
	fmt.Fprintf(&s.log, "---- start ----\n")
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start assent serve: %w", err)
	}
	s.run = r
	go func() { r.err = r.cmd.Wait(); close(r.exited) }()

	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("assent serve exited before answering: %v", r.err)
		default:
		}
		if s.ping() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("assent serve did not answer ping within %v", readyTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping reports whether the server answers ping, once its CA exists.
func (s *Serve) ping() bool {
	if s.Client == nil {
		if _, err := os.Stat(s.CAFile); err != nil {
			return false
		}
		s.TLS = &tls.Config{RootCAs: CAPool(s.t, s.CAFile)}
		s.Client = &http.Client{
			Timeout:       30 * time.Second,
			Transport:     &http.Transport{TLSClientConfig: s.TLS},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: s.TLS}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + s.Host + "/auth/v2/ping")
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// MustStart is Start, failing the test on an error.
func (s *Serve) MustStart() {
	s.t.Helper()
	if err := s.Start(); err != nil {
		s.t.Fatalf("%v\n%s", err, tail(s.Output(), 16<<10))
	}
}

// Running reports whether the latest run's process is still there.
func (s *Serve) Running() bool {
	if s.run == nil {
		return false
	}
	select {
	case <-s.run.exited:
		return false
	default:
		return true
	}
}

// ExitErr is how the latest run ended (as exec.Cmd.Wait says: nil for exit
// status 0); nil while it runs.
func (s *Serve) ExitErr() error {
	if s.run == nil || s.Running() {
		return nil
	}
	return s.run.err
}

// Pid is the latest run's process ID.
func (s *Serve) Pid() int { return s.run.cmd.Process.Pid }

// Output is what the latest run has written to stdout and stderr so far.
func (s *Serve) Output() string {
	if s.run == nil {
		return ""
	}
	return s.run.out.String()
}

// Stop sends SIGTERM and requires a clean exit within 30 s (the default
// shutdown_timeout is 15 s), so that every log line is out.
func (s *Serve) Stop() {
	s.t.Helper()
	if s.Client != nil {
		s.Client.CloseIdleConnections()
	}
	if err := s.run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM to assent serve: %v", err)
	}
	select {
	case <-s.run.exited:
		if s.run.err != nil {
			s.t.Errorf("assent serve after SIGTERM: %v (want exit 0)", s.run.err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("assent serve did not exit within 30s of SIGTERM")
	}
}

// Kill sends SIGKILL (no cleanup of any kind in the server) and waits for
// the process to be gone.
func (s *Serve) Kill() {
	s.t.Helper()
	fmt.Fprintf(&s.log, "---- SIGKILL ----\n")
	if err := s.run.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("SIGKILL to assent serve: %v", err)
	}
	<-s.run.exited
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

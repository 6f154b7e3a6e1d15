// Package mailpittest runs Mailpit (github.com/axllent/mailpit), a real
// SMTP server with an HTTP API to read what it received, for tests: on
// random loopback ports, with STARTTLS or implicit TLS using a certificate
// from the test's own CA, and SMTP AUTH. Mailpit is built with `go install
// module@version` outside Assent's module (it is no dependency of the
// binary), once per machine (the binary is kept in the temporary
// directory, named by its version). The server stops when the test ends.
package mailpittest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// Version is the Mailpit release the tests run.
const Version = "v1.33.1"

// Module is Mailpit's Go module.
const Module = "github.com/axllent/mailpit"

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// Binary builds Mailpit (or finds the one built before) and returns its
// path; the test is skipped when it cannot be built, unless CI is set.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "assent-mailpit-"+Version)
		bin := filepath.Join(dir, "mailpit")
		if _, err := os.Stat(bin); err == nil {
			buildBin = bin
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
			return
		}
		buildBin = bin
	})
	testutil.Require(t, fmt.Sprintf("mailpit (go install %s@%s: %v)", Module, Version, buildErr), buildErr == nil)
	return buildBin
}

// TLS modes of the SMTP listener.
const (
	StartTLS = "starttls" // STARTTLS offered and required
	TLS      = "tls"      // implicit TLS (SMTPS)
	Plain    = "none"     // no TLS
)

// Options configure a server.
type Options struct {
	// TLS is StartTLS (default), TLS or Plain.
	TLS string
	// Username and Password are the only credentials SMTP AUTH accepts;
	// empty: no authentication.
	Username, Password string
}

// Server is a running Mailpit.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	args []string
	env  []string
	// SMTPAddr is host:port of the SMTP listener; APIURL the base of
	// the HTTP API; CAFile the PEM of the CA that signed the SMTP
	// certificate (for 127.0.0.1 and localhost).
	SMTPAddr string
	APIURL   string
	CAFile   string

	mu  sync.Mutex
	cmd *exec.Cmd
	out testutil.SyncBuffer
}

// Start builds and starts Mailpit.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := New(t, o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// New prepares a server without starting it (to test a server that is
// down first).
func New(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	s := &Server{t: t, bin: bin, dir: dir,
		SMTPAddr: "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t)),
		APIURL:   "http://127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))}
	cert, key := writeCert(t, dir)
	s.CAFile = filepath.Join(dir, "ca.pem")
	s.args = []string{"--smtp", s.SMTPAddr, "--listen", strings.TrimPrefix(s.APIURL, "http://"),
		"--database", filepath.Join(dir, "mailpit.db"), "--smtp-disable-rdns", "--disable-version-check",
		"--smtp-tls-cert", cert, "--smtp-tls-key", key}
	switch o.TLS {
	case TLS:
		s.args = append(s.args, "--smtp-require-tls")
	case Plain:
		s.args = []string{"--smtp", s.SMTPAddr, "--listen", strings.TrimPrefix(s.APIURL, "http://"),
			"--database", filepath.Join(dir, "mailpit.db"), "--smtp-disable-rdns", "--disable-version-check"}
	default:
		s.args = append(s.args, "--smtp-require-starttls")
	}
	if o.Username != "" {
		// MP_SMTP_AUTH holds space-separated "user:password" pairs (so a
		// password has no space), kept out of argv.
		s.env = append(s.env, "MP_SMTP_AUTH="+o.Username+":"+o.Password)
		if o.TLS == Plain {
			s.args = append(s.args, "--smtp-auth-allow-insecure")
		}
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts (or restarts) Mailpit and waits until its API answers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = append(append(os.Environ(), s.env...), "MP_DISABLE_VERSION_CHECK=true")
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mailpit: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second)
		if err == nil {
			_ = c.Close()
			if r, err := http.Get(s.APIURL + "/api/v1/info"); err == nil {
				_ = r.Body.Close()
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("mailpit did not start within 30 s:\n%s", s.out.String())
}

// Stop stops Mailpit (it can be started again, with what it received).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Output is what Mailpit logged.
func (s *Server) Output() string { return s.out.String() }

// Address is a recipient or sender as the API reports it.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Message is a received message as the API reports it.
type Message struct {
	ID      string    `json:"ID"`
	From    Address   `json:"From"`
	To      []Address `json:"To"`
	Subject string    `json:"Subject"`
	Text    string    `json:"Text"`
	HTML    string    `json:"HTML"`
}

// Messages lists the received messages, newest first, with their bodies.
func (s *Server) Messages(t testing.TB) []Message {
	t.Helper()
	var list struct {
		Messages []Message `json:"messages"`
	}
	s.get(t, "/api/v1/messages?limit=100", &list)
	out := make([]Message, 0, len(list.Messages))
	for _, m := range list.Messages {
		var full Message
		s.get(t, "/api/v1/message/"+m.ID, &full)
		out = append(out, full)
	}
	return out
}

// Wait waits until n messages were received (or fails the test after
// timeout) and returns them, newest first.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var list struct {
			Total int `json:"total"`
		}
		s.get(t, "/api/v1/messages?limit=1", &list)
		if list.Total >= n {
			return s.Messages(t)
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit received %d messages within %s, want %d; its log:\n%s", list.Total, timeout, n, s.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) get(t testing.TB, path string, v any) {
	t.Helper()
	r, err := http.Get(s.APIURL + path)
	if err != nil {
		t.Fatalf("mailpit API %s: %v", path, err)
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("mailpit API %s: %s", path, r.Status)
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		t.Fatalf("mailpit API %s: %v", path, err)
	}
}

// writeCert makes a CA and a certificate for 127.0.0.1 and localhost
// signed by it; it returns the certificate's and key's files.
func writeCert(t testing.TB, dir string) (cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailpittest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("ca.pem", "CERTIFICATE", caDER)
	return write("smtp.pem", "CERTIFICATE", leafDER), write("smtp.key", "EC PRIVATE KEY", keyDER)
}

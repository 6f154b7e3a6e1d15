// Package assenttest starts a real Assent server inside a test process —
// the app, the HTTPS server on a random loopback port and its local CA —
// and creates fixtures through the core: integrations, users, bypass
// codes and devices activated through the device API, with a goroutine
// that plays the user answering pushes.
//
// Tests of clients that talk to Assent over the wire (the authentication
// proxy's end-to-end tests, for one) use it instead of an imitation of the
// server. Each call of Start gets its own data directory (SQLite), so tests
// run in parallel.
package assenttest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/server"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// Options tune Start.
type Options struct {
	// Flags are extra configuration keys (config.Sources.Flags), e.g.
	// "push_timeout": "5s". data_dir, listen, public_hostname and
	// alt_hostnames are set by Start unless given here.
	Flags map[string]string
	// Now is the server's clock (e.g. a testutil.Clock, to refill rate
	// limits without sleeping); nil is time.Now.
	Now func() time.Time
}

// Server is an Assent server running in the test process.
type Server struct {
	App  *app.App
	Port int
	Host string // "localhost:PORT": the public hostname, matching the certificate
	// IPHost is "127.0.0.1:PORT", configured as an alt_hostname: clients
	// may sign it as well as Host.
	IPHost string
	CAFile string // the local CA clients must trust
	// Client trusts CAFile and has a bounded timeout.
	Client *http.Client

	logs     *testutil.SyncBuffer
	stopOnce sync.Once
	stop     func() error
}

// Start starts a server on 127.0.0.1 with a random port and a fresh data
// directory, waits until it answers, and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	flags := map[string]string{
		"data_dir":        t.TempDir(),
		"listen":          fmt.Sprintf("127.0.0.1:%d", port),
		"public_hostname": fmt.Sprintf("localhost:%d", port),
		"alt_hostnames":   fmt.Sprintf("127.0.0.1:%d", port),
	}
	for k, v := range opts.Flags {
		flags[k] = v
	}
	cfg, err := config.Load(config.Sources{Flags: flags})
	if err != nil {
		_ = ln.Close()
		t.Fatalf("config: %v", err)
	}

	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	appOpts := []app.Option{app.Create()}
	if opts.Now != nil {
		appOpts = append(appOpts, app.WithClock(opts.Now))
	}
	a, err := app.Open(ctx, cfg, logger, appOpts...)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("app.Open: %v", err)
	}
	srv, err := server.New(a)
	if err != nil {
		_ = ln.Close()
		_ = a.Close()
		t.Fatalf("server.New: %v", err)
	}
	if srv.CAFile == "" {
		_ = ln.Close()
		_ = a.Close()
		t.Fatal("server.New did not create a local CA")
	}

	serveCtx, cancelServe := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()

	s := &Server{
		App:    a,
		Port:   port,
		Host:   cfg.PublicHostname,
		IPHost: fmt.Sprintf("127.0.0.1:%d", port),
		CAFile: srv.CAFile,
		logs:   logs,
	}
	s.stop = func() error {
		cancelServe()
		select {
		case err := <-done:
			return err
		case <-time.After(cfg.ShutdownTimeout.Duration + 5*time.Second):
			return errors.New("server.Serve did not return within the shutdown timeout")
		}
	}
	t.Cleanup(func() {
		if s.Client != nil {
			s.Client.CloseIdleConnections()
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("closing the app: %v", err)
		}
		log := logs.String()
		if strings.Contains(log, "panic") {
			t.Errorf("the server log mentions a panic:\n%s", log)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", log)
		}
	})
	s.Client = &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, s.CAFile)}},
	}
	s.waitReady(t)
	return s
}

// Stop stops serving HTTPS (the app stays open for inspection, and is
// closed when the test ends). Later calls return nil.
func (s *Server) Stop() error {
	var err error
	s.stopOnce.Do(func() { err = s.stop() })
	return err
}

// Logs is what the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// waitReady waits until the server answers /auth/v2/ping.
func (s *Server) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.Client.Get("https://" + s.Host + "/auth/v2/ping")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Ctx is a context for fixture calls, ended after 30 s or with the test.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// AuthAPI creates an Auth API integration named name with a new-user
// policy ("" is enroll) and returns its keys.
func (s *Server) AuthAPI(t testing.TB, name string, policy store.NewUserPolicy) (ikey, skey string) {
	t.Helper()
	in, skey, err := s.App.Core.CreateIntegration(Ctx(t), auth.NewIntegration{Name: name, Type: store.TypeAuthAPI, NewUserPolicy: policy})
	if err != nil {
		t.Fatalf("create integration %q: %v", name, err)
	}
	return in.IKey, skey
}

// User creates an active user.
func (s *Server) User(t testing.TB, name string) {
	t.Helper()
	if _, err := s.App.Core.CreateUser(Ctx(t), name); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
}

// BypassCodes issues count bypass codes of uses uses each (0: unlimited).
func (s *Server) BypassCodes(t testing.TB, name string, count, uses int) []string {
	t.Helper()
	out, err := s.App.Core.IssueBypassCodes(Ctx(t), name, auth.NewBypassCodes{Count: count, Uses: uses})
	if err != nil {
		t.Fatalf("bypass codes for %s: %v", name, err)
	}
	return out.Codes
}

// ActivatePhone enrolls username through the core and activates a device
// with the activation code through the device API, as Duo Mobile does.
func (s *Server) ActivatePhone(t testing.TB, username string) *device.Client {
	t.Helper()
	ctx := Ctx(t)
	en, err := s.App.Core.Enroll(ctx, auth.EnrollRequest{Username: username})
	if err != nil {
		t.Fatalf("enroll %s: %v", username, err)
	}
	phone, err := device.Activate(ctx, en.ActivationCode, device.ActivateOptions{CAFile: s.CAFile, Name: username + "'s phone"})
	if err != nil {
		t.Fatalf("activate a device for %s: %v", username, err)
	}
	return phone
}

// AuthLog lists the auth-log rows of an integration, oldest first.
func (s *Server) AuthLog(t testing.TB, ikey string) []store.AuthLog {
	t.Helper()
	rows, err := s.App.Store.ListAuthLog(Ctx(t), store.AuthLogFilter{IKey: ikey})
	if err != nil {
		t.Fatalf("ListAuthLog: %v", err)
	}
	return rows
}

// PushAnswer is what the simulated user did.
type PushAnswer struct {
	Tx  device.Transaction // the push as the phone listed it
	At  time.Time          // when the server acknowledged the answer
	Err error
}

// WaitPush polls the phone until a push is pending and returns the oldest.
func WaitPush(ctx context.Context, phone *device.Client) (device.Transaction, error) {
	for {
		list, err := phone.Pending(ctx)
		if err != nil {
			return device.Transaction{}, err
		}
		if len(list) > 0 {
			return list[0], nil
		}
		select {
		case <-ctx.Done():
			return device.Transaction{}, fmt.Errorf("no push arrived: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// AnswerNext plays the user in a goroutine: it waits for the next push on
// the phone, waits delay more, and approves or denies it.
func AnswerNext(ctx context.Context, phone *device.Client, approve bool, delay time.Duration) <-chan PushAnswer {
	out := make(chan PushAnswer, 1)
	go func() {
		tx, err := WaitPush(ctx, phone)
		if err != nil {
			out <- PushAnswer{Err: err}
			return
		}
		if delay > 0 {
			select {
			case <-ctx.Done():
				out <- PushAnswer{Tx: tx, Err: ctx.Err()}
				return
			case <-time.After(delay):
			}
		}
		err = phone.Answer(ctx, tx.TxID, approve)
		out <- PushAnswer{Tx: tx, At: time.Now(), Err: err}
	}()
	return out
}

// Received waits (bounded) for the simulated user's answer.
func Received(t testing.TB, ch <-chan PushAnswer) PushAnswer {
	t.Helper()
	select {
	case a := <-ch:
		if a.Err != nil {
			t.Fatalf("the phone could not answer: %v", a.Err)
		}
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("the phone did not answer within 20 s")
	}
	return PushAnswer{}
}

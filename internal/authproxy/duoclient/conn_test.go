package duoclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
)

// countingAPI is a TLS Auth API that counts TLS handshakes (every
// ClientHello, resumed or not), connections and calls, and keeps the
// server side of every connection so a test can close them.
type countingAPI struct {
	srv        *httptest.Server
	ca         string
	handshakes atomic.Int64
	calls      atomic.Int64
	mu         sync.Mutex
	conns      map[net.Conn]http.ConnState
}

func newCountingAPI(t *testing.T, handler http.HandlerFunc) *countingAPI {
	t.Helper()
	a := &countingAPI{conns: map[net.Conn]http.ConnState{}}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		handler(w, r)
	}))
	a.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if s == http.StateClosed || s == http.StateHijacked {
			delete(a.conns, c)
			return
		}
		a.conns[c] = s
	}
	a.srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		a.handshakes.Add(1)
		return nil, nil
	}}
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	a.ca = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(a.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *countingAPI) client(t *testing.T, maxConns int) *Client {
	t.Helper()
	c, err := New(Config{IKey: "DIXXXXXXXXXXXXXXXXXX", SKey: strings.Repeat("s", 40),
		APIHost: a.srv.Listener.Addr().String(), CAFile: a.ca, MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// closeIdle closes the server side of every idle connection, as a server
// does at its idle timeout or when it restarts.
func (a *countingAPI) closeIdle() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for c, s := range a.conns {
		if s == http.StateIdle {
			c.Close()
			n++
		}
	}
	return n
}

func loginHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/auth/v2/preauth":
		fmt.Fprint(w, `{"stat":"OK","response":{"result":"auth","status_msg":"Account is active"}}`)
	case "/auth/v2/auth":
		fmt.Fprint(w, `{"stat":"OK","response":{"result":"allow","status":"allow","status_msg":"Success. Logging you in..."}}`)
	default:
		fmt.Fprint(w, `{"stat":"OK","response":{"time":1}}`)
	}
}

func login(ctx context.Context, c *Client) error {
	if _, err := c.Preauth(ctx, PreauthRequest{Username: "alice", Failmode: "safe"}); err != nil {
		return err
	}
	r, err := c.Auth(ctx, AuthRequest{Username: "alice", Choice: "123456"})
	if err == nil && r.Result != "allow" {
		err = fmt.Errorf("auth result %q", r.Result)
	}
	return err
}

// TestNoHandshakePerRequest: logins from many goroutines at once reuse
// keep-alive connections: at most one TLS handshake per concurrent
// caller, however many calls each makes.
func TestNoHandshakePerRequest(t *testing.T) {
	t.Parallel()
	const workers, logins = 8, 25
	a := newCountingAPI(t, loginHandler)
	c := a.client(t, 0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range logins {
				if err := login(context.Background(), c); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := a.calls.Load(); got != 2*workers*logins {
		t.Errorf("%d calls for %d logins, want 2 per login", got, workers*logins)
	}
	if got := a.handshakes.Load(); got > workers {
		t.Errorf("%d TLS handshakes for %d calls from %d goroutines, want at most %d", got, a.calls.Load(), workers, workers)
	}
}

// TestMaxConns: never more connections than MaxConns; callers beyond it
// wait for one and all succeed; a caller whose context ends while waiting
// gives up without taking a connection from the others.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var pushes atomic.Int64
	a := newCountingAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/v2/auth" {
			pushes.Add(1)
			<-release // a pending push
		}
		loginHandler(w, r)
	})
	c := a.client(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if err := login(context.Background(), c); err != nil {
				errs <- err
			}
		})
	}
	// Wait until both connections hold a push and the six other logins
	// wait for a connection, then one more caller whose context ends while
	// it waits.
	for deadline := time.Now().Add(10 * time.Second); pushes.Load() < 2 || c.pool.waiting() < 6; {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("%d pushes held, %d callers waiting; want 2 and 6 (at most 2 connections)", pushes.Load(), c.pool.waiting())
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Preauth(ctx, PreauthRequest{Username: "bob"}); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("a caller cancelled while waiting: %v", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := a.handshakes.Load(); got != 2 {
		t.Errorf("%d connections with MaxConns 2, want 2", got)
	}
	if got := a.calls.Load(); got != 16 {
		t.Errorf("%d calls, want 16", got)
	}
}

func (p *connPool) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}

// TestServerClosedIdleConnection: when the server closes idle connections
// (its idle timeout, a restart), the next calls open a new connection
// instead of failing on the dead one — a failed preauth may fail open, a
// failed auth denies the login.
func TestServerClosedIdleConnection(t *testing.T) {
	t.Parallel()
	a := newCountingAPI(t, loginHandler)
	c := a.client(t, 0)
	ctx := context.Background()
	for range 2 {
		if err := login(ctx, c); err != nil {
			t.Fatal(err)
		}
		// The server marks the connection idle just after it answers.
		for deadline := time.Now().Add(5 * time.Second); a.closeIdle() != 1; {
			if time.Now().After(deadline) {
				t.Fatal("no idle connection on the server")
			}
			time.Sleep(time.Millisecond)
		}
		// Until the client's socket has seen the server's close.
		c.pool.mu.Lock()
		pc := c.pool.idle[0]
		c.pool.mu.Unlock()
		for deadline := time.Now().Add(5 * time.Second); pc.alive(); {
			if time.Now().After(deadline) {
				t.Fatal("the client never saw the server close the connection")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := login(ctx, c); err != nil {
		t.Fatalf("login after the server closed the idle connection: %v", err)
	}
	if got := a.handshakes.Load(); got != 3 {
		t.Errorf("%d handshakes, want 3 (one per server-side close)", got)
	}
}

// TestConnectionNotReused: a connection is not used again after a
// timeout, an answer the server closes, or bytes after the answer.
func TestConnectionNotReused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration // api_timeout; the answer comes after it when set
	}{
		{"Connection: close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, `{"stat":"OK","response":{"time":1}}`)
		}, 0},
		{"bytes after the answer", func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			body := `{"stat":"OK","response":{"time":1}}`
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%sHTTP/1.1 200 OK\r\n", len(body), body)
			buf.Flush()
			_, _ = io.Copy(io.Discard, conn) // until the client closes
		}, 0},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, 200 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newCountingAPI(t, tc.handler)
			c, err := New(Config{IKey: "DI", SKey: "s", APIHost: a.srv.Listener.Addr().String(), CAFile: a.ca, Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 2 {
				_, err := c.Ping(context.Background())
				if (err != nil) != (tc.timeout > 0) {
					t.Fatalf("Ping: %v", err)
				}
			}
			if got := a.handshakes.Load(); got != 2 {
				t.Errorf("%d connections for 2 calls, want 2 (none reused)", got)
			}
		})
	}
}

// TestSignerMatchesDuosig: the requests the client writes carry exactly
// the Date, Authorization and body duosig.Signer makes.
func TestSignerMatchesDuosig(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	const ikey, skey, host = "DIXXXXXXXXXXXXXXXXXX", "0123456789012345678901234567890123456789", "api.example.com:8443"
	s := newSigner(ikey, skey, host, "ua/1", now)
	ref := duosig.Signer{IKey: ikey, SKey: skey, Host: host, Version: 2, Digest: duosig.SHA512, Now: now}
	for _, tc := range []struct {
		method, path string
		params       url.Values
	}{
		{http.MethodPost, "/auth/v2/preauth", url.Values{"username": {"alice b"}, "ipaddr": {"10.1.2.3"}, "text_prompt": {"1"}}},
		{http.MethodPost, "/auth/v2/auth", url.Values{"username": {"ålice"}, "factor": {"prompt"}, "prompt": {"12 34~*"}}},
		{http.MethodGet, "/auth/v2/check", url.Values{}},
		{http.MethodGet, "/auth/v2/ping", url.Values{"a": {"b"}}},
	} {
		for range 2 { // the cloned key state is not spent by a call
			b, err := s.appendRequest(nil, tc.method, tc.path, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
			if err != nil {
				t.Fatalf("%s %s: unparsable request %q: %v", tc.method, tc.path, b, err)
			}
			want, err := ref.NewRequest(context.Background(), tc.method, tc.path, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			gotBody, _ := io.ReadAll(got.Body)
			var wantBody []byte
			if want.Body != nil {
				wantBody, _ = io.ReadAll(want.Body)
			}
			if got.Header.Get("Authorization") != want.Header.Get("Authorization") || got.Header.Get("Date") != want.Header.Get("Date") ||
				string(gotBody) != string(wantBody) || got.URL.RequestURI() != want.URL.RequestURI() || got.Host != host ||
				got.Header.Get("Content-Type") != want.Header.Get("Content-Type") || got.Header.Get("User-Agent") != "ua/1" {
				t.Errorf("%s %s:\n got %q\nwant %v %v %q", tc.method, tc.path, b, want.URL, want.Header, wantBody)
			}
		}
	}
}

// TestHeaderInjection: configured values that would break the request
// line or headers are refused.
func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{IKey: "DI", SKey: "s", APIHost: "api.example.com\r\nX-Evil: 1"},
		{IKey: "DI\n", SKey: "s", APIHost: "api.example.com"},
		{IKey: "DI", SKey: "s", APIHost: "api.example.com", UserAgent: "ua\r\nX-Evil: 1"},
		{IKey: "DI", SKey: "s", APIHost: "api.example.com", HTTPProxy: "https://proxy.example.com:3128"},
		{IKey: "DI", SKey: "s", APIHost: "api.example.com", HTTPProxy: "http://user:pw@proxy.example.com:3128"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

// TestCancelledWaiterPassesOn: a caller whose context ends just as a
// connection is handed to it passes it on to the next caller in line,
// which would otherwise wait forever. (Which of the two wakes first is up
// to the scheduler, so the race is run many times.)
func TestCancelledWaiterPassesOn(t *testing.T) {
	t.Parallel()
	a := newCountingAPI(t, loginHandler)
	p := a.client(t, 1).pool
	held, _, err := p.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		pc  *pconn
		err error
	}
	waitFor := func(n int) {
		for deadline := time.Now().Add(5 * time.Second); p.waiting() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("%d callers waiting, want %d", p.waiting(), n)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	for range 30 {
		ctxA, cancelA := context.WithCancel(context.Background())
		ctxB, cancelB := context.WithCancel(context.Background())
		ra, rb := make(chan got, 1), make(chan got, 1)
		go func() { pc, _, err := p.get(ctxA); ra <- got{pc, err} }()
		waitFor(1)
		go func() { pc, _, err := p.get(ctxB); rb <- got{pc, err} }()
		waitFor(2)
		// The connection comes back to A as A's context ends.
		p.mu.Lock()
		cancelA()
		held.since = p.now()
		p.idle = append(p.idle, held)
		p.signalLocked()
		p.mu.Unlock()
		r := <-ra
		if r.err == nil {
			held = r.pc // A took it after all; B gives up
			cancelB()
			if r := <-rb; r.err == nil {
				t.Fatal("both callers got the one connection")
			}
			continue
		}
		select {
		case r := <-rb:
			if r.err != nil {
				t.Fatal(r.err)
			}
			held = r.pc
		case <-time.After(5 * time.Second):
			t.Fatal("the connection A gave up never reached B")
		}
		cancelB()
	}
	p.put(held)
}

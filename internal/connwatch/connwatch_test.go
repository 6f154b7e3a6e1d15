package connwatch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// testTLS is a server configuration with a fresh self-signed certificate
// for "localhost" and the pool trusting it.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, roots
}

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// signal returns a hangup function and a channel closed when it runs; it
// fails the test if it runs twice.
func signal(t *testing.T) (func(), <-chan struct{}) {
	ch := make(chan struct{})
	var n atomic.Int32
	return func() {
		if n.Add(1) > 1 {
			t.Error("hangup called twice")
			return
		}
		close(ch)
	}, ch
}

func called(ch <-chan struct{}, within time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(within):
		return false
	}
}

func newWatcher(t *testing.T) *Watcher {
	t.Helper()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// The peer closing (FIN) or resetting is a hangup; the peer sending data
// is not; a stopped watch reports nothing; a peer that hung up before the
// watch started is reported at once.
func TestHangups(t *testing.T) {
	t.Parallel()
	w := newWatcher(t)
	for _, tc := range []struct {
		name   string
		before func(client net.Conn) // before Watch
		after  func(client net.Conn) // after Watch
		stop   bool                  // stop before the peer acts
		want   bool
	}{
		{name: "close", after: func(c net.Conn) { c.Close() }, want: true},
		{name: "half close", after: func(c net.Conn) { c.(*net.TCPConn).CloseWrite() }, want: true},
		{name: "reset", after: func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }, want: true},
		{name: "closed before the watch", before: func(c net.Conn) { c.Close() }, want: true},
		{name: "data is not a hangup", after: func(c net.Conn) { c.Write([]byte("GET / HTTP/1.1\r\n")) }, want: false},
		{name: "stopped", after: func(c net.Conn) { c.Close() }, stop: true, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := pair(t)
			if tc.before != nil {
				tc.before(client)
				time.Sleep(20 * time.Millisecond) // let the FIN arrive
			}
			hangup, ch := signal(t)
			stop, err := w.Watch(server, hangup)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if tc.stop {
				stop()
			}
			if tc.after != nil {
				tc.after(client)
			}
			wait := 10 * time.Second // generous: only a failure waits this long
			if !tc.want {
				wait = 200 * time.Millisecond // a wrong hangup would come within this
			}
			if got := called(ch, wait); got != tc.want {
				t.Errorf("hangup reported: %v, want %v", got, tc.want)
			}
		})
	}
}

// A TLS connection is watched on its socket, found through NetConn, with
// no goroutine of its own; the client's close (close_notify, then FIN) is
// its hangup.
func TestTLSConnUsesTheSocket(t *testing.T) {
	t.Parallel()
	w := newWatcher(t)
	server, client := pair(t)
	cfg, roots := testTLS(t)
	ts := tls.Server(server, cfg)
	tc := tls.Client(client, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	errc := make(chan error, 1)
	go func() { errc <- tc.Handshake() }()
	if err := ts.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, ok := socket(ts); !ok {
		t.Fatal("no socket found under the tls.Conn")
	}
	hangup, ch := signal(t)
	stop, err := w.Watch(ts, hangup)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tc.Close()
	if !called(ch, 10*time.Second) {
		t.Error("the TLS client's close was not reported")
	}
}

// Without a socket (net.Pipe), a reading goroutine watches.
func TestWithoutSocket(t *testing.T) {
	t.Parallel()
	w := newWatcher(t)
	for _, stopFirst := range []bool{false, true} {
		server, client := net.Pipe()
		hangup, ch := signal(t)
		stop, err := w.Watch(server, hangup)
		if err != nil {
			t.Fatal(err)
		}
		if stopFirst {
			stop()
		}
		client.Close()
		wait := 10 * time.Second
		if stopFirst {
			wait = 200 * time.Millisecond
		}
		if got := called(ch, wait); got == stopFirst {
			t.Errorf("stopped first %v: hangup reported %v", stopFirst, got)
		}
		stop()
		server.Close()
	}
}

// Many watches share the watcher's single goroutine; each hangup reaches
// its own watch.
func TestManyWatchesOneGoroutine(t *testing.T) {
	w := newWatcher(t)
	const n = 200
	servers, clients := make([]net.Conn, n), make([]net.Conn, n)
	chans := make([]<-chan struct{}, n)
	before := runtime.NumGoroutine()
	for i := range n {
		servers[i], clients[i] = pair(t)
		hangup, ch := signal(t)
		chans[i] = ch
		stop, err := w.Watch(servers[i], hangup)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	if g := runtime.NumGoroutine(); g > before+n/10 {
		t.Errorf("%d goroutines for %d watches (from %d): a goroutine per watch?", g, n, before)
	}
	for i := n - 1; i >= 0; i -= 2 { // every other one, from the end
		clients[i].Close()
	}
	for i := range n {
		want := i%2 == 1
		wait := 10 * time.Second
		if !want {
			wait = time.Millisecond
		}
		if got := called(chans[i], wait); got != want {
			t.Errorf("watch %d: hangup %v, want %v", i, got, want)
		}
	}
}

// After Close, Watch fails and nothing more is reported.
func TestClose(t *testing.T) {
	t.Parallel()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	server, client := pair(t)
	hangup, ch := signal(t)
	if _, err := w.Watch(server, hangup); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	client.Close()
	if called(ch, 200*time.Millisecond) {
		t.Error("a hangup was reported after Close")
	}
	if _, err := w.Watch(server, func() {}); err != ErrClosed {
		t.Errorf("Watch after Close: %v, want ErrClosed", err)
	}
}

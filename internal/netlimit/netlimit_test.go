package netlimit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeListener hands out one end of a pipe per connect, with the remote
// address the test chooses (IPv6 included), so the accounting is tested
// without depending on the host's addresses.
type fakeListener struct {
	conns  chan net.Conn
	errs   chan error
	closed chan struct{}
	once   sync.Once
}

func newFake() *fakeListener {
	return &fakeListener{conns: make(chan net.Conn), errs: make(chan error, 1), closed: make(chan struct{})}
}

func (f *fakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-f.conns:
		return c, nil
	case err := <-f.errs:
		return nil, err
	case <-f.closed:
		return nil, net.ErrClosed
	}
}

func (f *fakeListener) Close() error   { f.once.Do(func() { close(f.closed) }); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443} }

// remoteConn is a pipe end reporting a chosen remote address and whether
// it was closed.
type remoteConn struct {
	net.Conn
	remote net.Addr
	closes atomic.Int32
}

func (c *remoteConn) RemoteAddr() net.Addr { return c.remote }
func (c *remoteConn) Close() error         { c.closes.Add(1); return c.Conn.Close() }

type counts struct {
	accepted, closed atomic.Int64
	mu               sync.Mutex
	refused          map[Reason]int
	keys             []netip.Prefix
	errs             []error
}

func (c *counts) Accepted() { c.accepted.Add(1) }
func (c *counts) Closed()   { c.closed.Add(1) }
func (c *counts) Refused(k netip.Prefix, r Reason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refused == nil {
		c.refused = map[Reason]int{}
	}
	c.refused[r]++
	c.keys = append(c.keys, k)
}
func (c *counts) AcceptError(err error) { c.mu.Lock(); c.errs = append(c.errs, err); c.mu.Unlock() }
func (c *counts) refusedBy(r Reason) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[r]
}

// harness runs Accept in a goroutine; connect offers one connection and
// reports what Accept made of it.
type harness struct {
	t    *testing.T
	fake *fakeListener
	l    *Listener
	obs  *counts
	ev   chan bool // per connection offered: true handed out, false refused
	out  chan net.Conn
}

// eventObserver tells the harness the outcome of each connection.
type eventObserver struct {
	*counts
	ev chan bool
}

func (e eventObserver) Accepted() { e.counts.Accepted(); e.ev <- true }
func (e eventObserver) Refused(k netip.Prefix, r Reason) {
	e.counts.Refused(k, r)
	e.ev <- false
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t, fake: newFake(), obs: &counts{}, ev: make(chan bool, 1), out: make(chan net.Conn, 1)}
	o.Observer = eventObserver{h.obs, h.ev}
	l, err := Listen(h.fake, o)
	if err != nil {
		t.Fatal(err)
	}
	h.l = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.out <- c
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return h
}

// connect offers a connection from addr and returns what Accept made of it
// (nil: refused, and then it must have been closed).
func (h *harness) connect(addr string) net.Conn {
	h.t.Helper()
	server, client := net.Pipe()
	h.t.Cleanup(func() { _ = client.Close() })
	rc := &remoteConn{Conn: server, remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
	h.fake.conns <- rc
	if <-h.ev {
		return <-h.out
	}
	if rc.closes.Load() == 0 {
		h.t.Fatalf("connection from %s refused but not closed", addr)
	}
	return nil
}

func TestPerIPCapReleasedOnCloseExactlyOnce(t *testing.T) {
	h := newHarness(t, Options{Max: 100, PerIP: 2})
	a := h.connect("203.0.113.7:1000")
	b := h.connect("203.0.113.7:1001")
	if a == nil || b == nil {
		t.Fatal("connections within the per-IP cap refused")
	}
	if c := h.connect("203.0.113.7:1002"); c != nil {
		t.Fatal("third connection from one address accepted with PerIP=2")
	}
	if c := h.connect("203.0.113.8:1000"); c == nil {
		t.Fatal("another address refused")
	}
	// Closing twice must free one place, not two.
	_ = a.Close()
	_ = a.Close()
	if got := h.l.OpenFrom(netip.MustParsePrefix("203.0.113.7/32")); got != 1 {
		t.Fatalf("after closing one connection twice, %d open from the address, want 1", got)
	}
	if c := h.connect("203.0.113.7:1003"); c == nil {
		t.Fatal("a place freed by Close was not reused")
	}
	if c := h.connect("203.0.113.7:1004"); c != nil {
		t.Fatal("a double Close freed two places")
	}
	if got := h.obs.refusedBy(PerIP); got != 2 {
		t.Errorf("refused per_ip = %d, want 2", got)
	}
	if got := h.obs.refusedBy(Global); got != 0 {
		t.Errorf("refused global = %d, want 0", got)
	}
	if got := h.obs.closed.Load(); got != 1 {
		t.Errorf("Observer.Closed called %d times, want 1", got)
	}
	want := netip.MustParsePrefix("203.0.113.7/32")
	for _, k := range h.obs.keys {
		if k != want {
			t.Errorf("refusal reported for %v, want %v", k, want)
		}
	}
}

func TestGlobalCap(t *testing.T) {
	h := newHarness(t, Options{Max: 3})
	var open []net.Conn
	for i := range 3 {
		c := h.connect(fmt.Sprintf("198.51.100.%d:5000", i+1))
		if c == nil {
			t.Fatalf("connection %d refused below the global cap", i+1)
		}
		open = append(open, c)
	}
	if c := h.connect("198.51.100.9:5000"); c != nil {
		t.Fatal("fourth connection accepted with Max=3")
	}
	if got := h.obs.refusedBy(Global); got != 1 {
		t.Fatalf("refused global = %d, want 1", got)
	}
	_ = open[1].Close()
	if c := h.connect("198.51.100.9:5001"); c == nil {
		t.Fatal("a place freed below the global cap was not reused")
	}
	if got, acc := h.l.Open(), h.obs.accepted.Load(); got != 3 || acc != 4 {
		t.Errorf("open %d accepted %d, want 3 and 4", got, acc)
	}
}

// An address over its own cap is refused for that even when the global cap
// is reached too, and PerIP=0 means no per-address cap.
func TestReasonsAndNoPerIPCap(t *testing.T) {
	h := newHarness(t, Options{Max: 2, PerIP: 1})
	h.connect("192.0.2.1:1")
	h.connect("192.0.2.2:1")
	h.connect("192.0.2.1:2") // over both caps
	h.connect("192.0.2.3:1") // over the global cap only
	if p, g := h.obs.refusedBy(PerIP), h.obs.refusedBy(Global); p != 1 || g != 1 {
		t.Errorf("refused per_ip=%d global=%d, want 1 and 1", p, g)
	}

	h = newHarness(t, Options{Max: 5})
	for i := range 5 {
		if h.connect(fmt.Sprintf("192.0.2.1:%d", i+1)) == nil {
			t.Fatalf("PerIP=0: connection %d from one address refused", i+1)
		}
	}
}

// IPv6 clients are counted by /64: one subscriber's addresses share a cap.
// IPv4-mapped addresses count as the IPv4 address.
func TestIPv6(t *testing.T) {
	h := newHarness(t, Options{Max: 100, PerIP: 2})
	if h.connect("[2001:db8:1:2::1]:1") == nil || h.connect("[2001:db8:1:2:ffff::9]:1") == nil {
		t.Fatal("IPv6 connections within the cap refused")
	}
	if h.connect("[2001:db8:1:2:abcd::1]:1") != nil {
		t.Fatal("a third address of the same /64 accepted with PerIP=2")
	}
	if h.connect("[2001:db8:1:3::1]:1") == nil {
		t.Fatal("another /64 refused")
	}
	if h.connect("[::ffff:192.0.2.5]:1") == nil || h.connect("192.0.2.5:2") == nil {
		t.Fatal("IPv4 connections refused")
	}
	if h.connect("[::ffff:192.0.2.5]:3") != nil {
		t.Fatal("an IPv4-mapped address is not counted with its IPv4 address")
	}
	for in, want := range map[string]string{
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:443":         "fe80::/64",
		"[::ffff:10.1.2.3]:443":      "10.1.2.3/32",
		"10.1.2.3:443":               "10.1.2.3/32",
	} {
		got := Key(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(in)))
		if got.String() != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
	if got := Key(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}); got.IsValid() {
		t.Errorf("Key(unix address) = %v, want the zero Prefix", got)
	}
}

func TestAcceptErrorsReported(t *testing.T) {
	fake := newFake()
	obs := &counts{}
	l, err := Listen(fake, Options{Max: 1, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	fake.errs <- &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	if _, err := l.Accept(); !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("Accept = %v, want EMFILE passed on (net/http retries it)", err)
	}
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v", err)
	}
	if len(obs.errs) != 1 {
		t.Errorf("AcceptError called %d times, want 1 (not for the closed listener)", len(obs.errs))
	}
}

func TestListenValidates(t *testing.T) {
	for _, o := range []Options{{Max: 0}, {Max: 10, PerIP: -1}} {
		if _, err := Listen(newFake(), o); err == nil {
			t.Errorf("Listen(%+v) accepted", o)
		}
	}
}

func TestDefaultMax(t *testing.T) {
	for limit, want := range map[uint64]int{
		4096:       3840,
		1024:       768,
		256:        192,
		20000:      16384,
		1 << 62:    16384,
		MaxDefault: MaxDefault - FileReserve,
		1:          1,
		0:          768, // unknown: as 1024
	} {
		if got := DefaultMax(limit); got != want {
			t.Errorf("DefaultMax(%d) = %d, want %d", limit, got, want)
		}
	}
	if n, err := FileLimit(); err != nil || n == 0 {
		t.Errorf("FileLimit() = %d, %v", n, err)
	}
}

// Real TCP from several loopback addresses, many goroutines connecting and
// closing at once (run with -race): the caps are never exceeded and every
// place is given back.
func TestConcurrentTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	obs := &counts{}
	const perIP, maxConns = 4, 10
	l, err := Listen(ln, Options{Max: maxConns, PerIP: perIP, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu                sync.Mutex
		peakAll           int
		peakIP            = map[netip.Prefix]int{}
		serverWG, clients sync.WaitGroup
	)
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			k := Key(c.RemoteAddr())
			peakAll = max(peakAll, l.Open())
			peakIP[k] = max(peakIP[k], l.OpenFrom(k))
			mu.Unlock()
			serverWG.Go(func() {
				// Echo one byte, then close (twice, as servers sometimes do).
				var b [1]byte
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, b[:]); err == nil {
					_, _ = c.Write(b[:])
				}
				_ = c.Close()
				_ = c.Close()
			})
		}
	}()
	var ok, refused atomic.Int64
	// 8 clients per address against a cap of 4, 3 addresses against a
	// global cap of 10: both caps refuse some.
	for i := range 24 {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%3))}
		clients.Go(func() {
			d := net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}
			for range 20 {
				c, err := d.Dial("tcp", ln.Addr().String())
				if err != nil {
					refused.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				var b [1]byte
				if _, err := c.Write([]byte{'x'}); err == nil {
					_, err = io.ReadFull(c, b[:])
					if err == nil {
						ok.Add(1)
					} else {
						refused.Add(1)
					}
				} else {
					refused.Add(1)
				}
				_ = c.Close()
			}
		})
	}
	clients.Wait()
	serverWG.Wait()
	_ = l.Close()
	<-served
	if ok.Load() == 0 {
		t.Fatal("no connection was served")
	}
	if peakAll > maxConns {
		t.Errorf("peak open %d over Max %d", peakAll, maxConns)
	}
	for k, n := range peakIP {
		if n > perIP {
			t.Errorf("peak open from %v: %d over PerIP %d", k, n, perIP)
		}
	}
	if l.Open() != 0 || l.Addresses() != 0 {
		t.Errorf("after every connection closed: open %d, addresses %d, want 0 and 0", l.Open(), l.Addresses())
	}
	if a, c := obs.accepted.Load(), obs.closed.Load(); a != c || a < ok.Load() {
		t.Errorf("accepted %d, closed %d: want equal and at least the %d served", a, c, ok.Load())
	}
	t.Logf("served %d, refused %d (per_ip %d, global %d)", ok.Load(), refused.Load(), obs.refusedBy(PerIP), obs.refusedBy(Global))
}

package duoclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// The client speaks HTTP/1.1 itself over a pool of keep-alive TLS
// connections, one call per connection at a time, as Duo's clients do.
// net/http's Transport would hand every call to two goroutines per
// connection (a reader and a writer) and back; here the calling goroutine
// writes the request in one TLS record and reads the answer, which costs
// the proxy about a quarter less CPU per login (docs/benchmarks.md).

// Pool defaults.
const (
	dialTimeout      = 30 * time.Second
	handshakeTimeout = 15 * time.Second
	// idleTimeout is below the usual server idle timeouts (Assent's
	// idle_timeout is 60 s, load balancers' often 60 s), so the client
	// drops a connection before the server closes it under a request.
	idleTimeout = 45 * time.Second
	// maxHeader bounds the header of an answer (besides maxBody).
	maxHeader = 64 << 10
)

// errPoolClosed is returned by calls made after Close.
var errPoolClosed = errors.New("duoclient: client closed")

// pconn is one keep-alive connection to the API.
type pconn struct {
	conn  *tls.Conn
	lr    io.LimitedReader // bounds what one answer may read
	br    *bufio.Reader    // over lr
	since time.Time        // idle since (in the pool)
}

// connPool holds up to max connections, busy or idle. A call that finds
// none idle and max open waits for one (bounded by its context): the
// server refuses connections beyond its per-address cap, and a refused
// preauth would fail open.
type connPool struct {
	dial func(ctx context.Context) (*tls.Conn, error)
	max  int
	now  func() time.Time

	mu      sync.Mutex
	idle    []*pconn        // least recently used first
	open    int             // connections open or being dialled
	waiters []chan struct{} // calls waiting for a connection, in order
	sweep   *time.Timer     // closes connections idle too long
	closed  bool
}

// get returns an idle connection that is still open (reused true) or a new
// one.
func (p *connPool) get(ctx context.Context) (pc *pconn, reused bool, err error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, errPoolClosed
		}
		if n := len(p.idle); n > 0 {
			pc = p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			if pc.alive() {
				return pc, true, nil
			}
			p.discard(pc) // the server closed it while it was idle
			continue
		}
		if p.open < p.max {
			p.open++
			p.mu.Unlock()
			conn, err := p.dial(ctx)
			if err != nil {
				p.release()
				return nil, false, err
			}
			pc = &pconn{conn: conn}
			pc.lr.R = conn
			pc.br = bufio.NewReaderSize(&pc.lr, 4<<10)
			return pc, false, nil
		}
		w := make(chan struct{}, 1)
		p.waiters = append(p.waiters, w)
		p.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			p.mu.Lock()
			if !p.removeWaiterLocked(w) {
				p.signalLocked() // woken meanwhile: pass it on
			}
			p.mu.Unlock()
			return nil, false, ctx.Err()
		}
	}
}

// put returns a connection whose answer was read completely.
func (p *connPool) put(pc *pconn) {
	p.mu.Lock()
	if p.closed {
		p.open--
		p.mu.Unlock()
		_ = pc.conn.Close()
		return
	}
	pc.since = p.now()
	p.idle = append(p.idle, pc)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(idleTimeout, p.closeIdle)
	}
	p.signalLocked()
	p.mu.Unlock()
}

// discard closes a connection that cannot be reused.
func (p *connPool) discard(pc *pconn) {
	_ = pc.conn.Close()
	p.release()
}

// release gives back the place of a connection that is closed or was
// never opened.
func (p *connPool) release() {
	p.mu.Lock()
	p.open--
	p.signalLocked()
	p.mu.Unlock()
}

func (p *connPool) signalLocked() {
	if len(p.waiters) > 0 {
		p.waiters[0] <- struct{}{}
		p.waiters = p.waiters[1:]
	}
}

func (p *connPool) removeWaiterLocked(w chan struct{}) bool {
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// closeIdle closes the connections idle for idleTimeout; it runs on a
// timer while any connection is idle.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	cutoff := p.now().Add(-idleTimeout)
	n := 0
	for n < len(p.idle) && !p.idle[n].since.After(cutoff) {
		n++
	}
	old := make([]*pconn, n)
	copy(old, p.idle[:n])
	p.idle = append(p.idle[:0], p.idle[n:]...)
	p.open -= n
	p.sweep = nil
	if len(p.idle) > 0 && !p.closed {
		// The next one to expire.
		p.sweep = time.AfterFunc(p.idle[0].since.Add(idleTimeout).Sub(p.now()), p.closeIdle)
	}
	for range n {
		p.signalLocked()
	}
	p.mu.Unlock()
	for _, pc := range old {
		_ = pc.conn.Close()
	}
}

// close closes the idle connections; busy ones close when they are put
// back, and later calls fail.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	for len(p.waiters) > 0 {
		p.signalLocked()
	}
	p.mu.Unlock()
	for _, pc := range idle {
		_ = pc.conn.Close()
	}
}

// roundTrip sends one request (complete, in req) on pc and reads the
// answer's status and header; the body is read by the caller from the
// returned response before pc is put back or discarded. The context
// interrupts both by expiring the connection's deadline.
func (pc *pconn) roundTrip(ctx context.Context, req []byte) (*http.Response, func() bool, error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(time.Unix(1, 0)) })
	if _, err := pc.conn.Write(req); err != nil {
		stop()
		return nil, nil, ctxErr(ctx, err)
	}
	pc.lr.N = maxHeader + maxBody + 1
	resp, err := http.ReadResponse(pc.br, nil)
	if err != nil {
		stop()
		return nil, nil, ctxErr(ctx, err)
	}
	return resp, stop, nil
}

// ctxErr prefers the context's error to the deadline error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// reusable reports whether pc may carry another call after resp, whose
// body was read to the end: the server keeps it open, nothing more was
// sent, and the context did not expire its deadline (stopped is what the
// AfterFunc's stop returned).
func (pc *pconn) reusable(resp *http.Response, stopped bool) bool {
	return stopped && !resp.Close && pc.br.Buffered() == 0
}

// dialer opens TLS connections to addr (host:port), through an HTTP proxy
// (CONNECT) when proxy is set.
type dialer struct {
	addr  string
	tls   *tls.Config // ServerName set
	proxy *url.URL
	net   net.Dialer
}

func (d *dialer) dial(ctx context.Context) (*tls.Conn, error) {
	target := d.addr
	if d.proxy != nil {
		target = d.proxy.Host
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	raw, err := d.net.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	if d.proxy != nil {
		if err := d.connect(ctx, raw); err != nil {
			_ = raw.Close()
			return nil, err
		}
	}
	hctx, hcancel := context.WithTimeout(ctx, handshakeTimeout)
	defer hcancel()
	conn := tls.Client(raw, d.tls)
	if err := conn.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return conn, nil
}

// connect asks the HTTP proxy on raw for a tunnel to d.addr.
func (d *dialer) connect(ctx context.Context, raw net.Conn) error {
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(raw, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", d.addr, d.addr); err != nil {
		return fmt.Errorf("HTTP proxy %s: %w", d.proxy.Host, ctxErr(ctx, err))
	}
	// One byte at a time up to the end of the header, so nothing of the
	// TLS stream that follows is read into a buffer here.
	br := bufio.NewReaderSize(&io.LimitedReader{R: oneByteReader{raw}, N: maxHeader}, 16)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return fmt.Errorf("HTTP proxy %s: %w", d.proxy.Host, ctxErr(ctx, err))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP proxy %s refused CONNECT %s: %s", d.proxy.Host, d.addr, resp.Status)
	}
	if br.Buffered() > 0 {
		return fmt.Errorf("HTTP proxy %s sent data before the TLS handshake", d.proxy.Host)
	}
	return nil
}

// oneByteReader reads at most one byte per call.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

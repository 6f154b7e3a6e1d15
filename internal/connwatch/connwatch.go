// Package connwatch tells when the peer of a connection that nobody reads
// hangs up. A server that keeps many connections open while it works out
// their answers (held synchronous pushes) would otherwise need a goroutine
// blocked in Read on each, only to notice a client that went away. On
// Linux one goroutine waits on an epoll set for the peer's FIN
// (EPOLLRDHUP), a reset or an error, for every watched connection; for a
// connection without a socket (net.Pipe) or on another system, a goroutine
// per connection reads until the connection ends.
package connwatch

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is returned by Watch after Close.
var ErrClosed = errors.New("connwatch: watcher closed")

// Watch calls hangup once when the peer of c closes its side of the
// connection, resets it, or the connection fails; sending data is not
// hanging up. hangup runs on the watcher's goroutine and must not block
// for long (closing the connection is fine). stop ends the watch: once it
// has returned, hangup is not called unless it was already running. It may
// be called more than once, also from within hangup.
//
// Nobody else may read c while it is watched (where no socket can be
// found, the watch reads it). c keeps its own lifetime: closing it ends
// nothing here, so call stop too.
func (w *Watcher) Watch(c net.Conn, hangup func()) (stop func(), err error) {
	if w.isClosed() {
		return nil, ErrClosed
	}
	if sc, ok := socket(c); ok {
		stop, err := w.watchSocket(sc, hangup)
		if !errors.Is(err, errors.ErrUnsupported) {
			return stop, err
		}
	}
	return watchByReading(c, hangup), nil
}

// socket finds the socket under c, unwrapping connections that expose
// the one they wrap (crypto/tls.Conn and others with NetConn).
func socket(c net.Conn) (syscall.Conn, bool) {
	for range 8 {
		if sc, ok := c.(syscall.Conn); ok {
			return sc, true
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil, false
		}
		c = u.NetConn()
	}
	return nil, false
}

// watchByReading watches c with a goroutine blocked in c.Read; stop
// unblocks it with a read deadline in the past.
func watchByReading(c net.Conn, hangup func()) (stop func()) {
	var (
		mu    sync.Mutex
		ended bool // stopped, or the peer hung up
	)
	end := func() bool {
		mu.Lock()
		defer mu.Unlock()
		was := ended
		ended = true
		return !was
	}
	go func() {
		var b [64]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				break
			}
		}
		if end() {
			hangup()
		}
	}()
	return func() {
		if end() {
			_ = c.SetReadDeadline(time.Unix(1, 0))
		}
	}
}

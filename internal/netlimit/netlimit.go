// Package netlimit caps the connections a listener hands to a server: at
// most Max open at once and at most PerIP from one client address. A
// connection over either cap is closed as soon as it is accepted, so one
// client cannot exhaust the process's file descriptors and a flood never
// waits in line ahead of other clients.
//
// golang.org/x/net/netutil.LimitListener blocks Accept at its cap instead:
// the kernel's backlog then fills with the flood, connections over the
// per-IP cap would queue behind the global one, and nothing could count or
// report the refusals. Refusing at once keeps the backlog draining; the
// reserve of descriptors below the process's limit (see DefaultMax) covers
// the moment between accepting a connection and closing it.
package netlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
)

// Reason says which cap refused a connection.
type Reason string

const (
	// Global is the cap on all open connections (Options.Max).
	Global Reason = "global"
	// PerIP is the cap on connections from one address (Options.PerIP).
	PerIP Reason = "per_ip"
	// Blocked is an address Options.Blocked refuses (a rate limit).
	Blocked Reason = "blocked"
)

// Observer hears what a Listener does (metrics, logs). Its methods are
// called from Accept and from Close, so they must be quick and safe for
// concurrent use.
type Observer interface {
	// Accepted is a connection handed to the server.
	Accepted()
	// Closed is an accepted connection closed (once per connection).
	Closed()
	// Refused is a connection closed at once because of a cap; key is the
	// client's address as counted (see Key).
	Refused(key netip.Prefix, r Reason)
	// AcceptError is an error from the underlying Accept (EMFILE, ENFILE,
	// ENOBUFS …); the server retries after a pause.
	AcceptError(err error)
}

// Options are a Listener's caps.
type Options struct {
	// Max is the most connections open at once; it must be positive.
	Max int
	// PerIP is the most open connections from one client address (an IPv4
	// address or an IPv6 /64); 0 means no per-address cap (behind a load
	// balancer every connection comes from its address).
	PerIP int
	// Blocked, if not nil, refuses new connections from the addresses it
	// names (an address out of its failed-signature budget): refusing a
	// connection costs far less than its TLS handshake and a request that
	// would be refused anyway.
	Blocked func(key netip.Prefix) bool
	// Observer, if not nil, hears accepts, closes, refusals and errors.
	Observer Observer
}

// Listener is a net.Listener with connection caps. It is safe for
// concurrent use.
type Listener struct {
	net.Listener
	o Options

	mu    sync.Mutex
	open  int
	perIP map[netip.Prefix]int // only addresses with open connections
}

// Listen wraps ln with the caps in o.
func Listen(ln net.Listener, o Options) (*Listener, error) {
	if o.Max <= 0 {
		return nil, errors.New("netlimit: Max must be positive")
	}
	if o.PerIP < 0 {
		return nil, errors.New("netlimit: PerIP must be 0 (no cap) or positive")
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return &Listener{Listener: ln, o: o, perIP: map[netip.Prefix]int{}}, nil
}

// Accept returns the next connection within the caps, closing those over
// them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.o.Observer.AcceptError(err)
			}
			return nil, err
		}
		key := Key(c.RemoteAddr())
		if l.o.Blocked != nil && l.o.Blocked(key) {
			refuse(c)
			l.o.Observer.Refused(key, Blocked)
			continue
		}
		if r, ok := l.admit(key); !ok {
			refuse(c)
			l.o.Observer.Refused(key, r)
			continue
		}
		l.o.Observer.Accepted()
		return &conn{Conn: c, l: l, key: key}, nil
	}
}

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// OpenFrom is the number of connections open now from key.
func (l *Listener) OpenFrom(key netip.Prefix) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perIP[key]
}

// Addresses is the number of client addresses with open connections.
func (l *Listener) Addresses() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.perIP)
}

func (l *Listener) admit(key netip.Prefix) (Reason, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.perIP[key]
	// The per-address cap first: a client over its own share is refused
	// for that, whatever the global count.
	if l.o.PerIP > 0 && n >= l.o.PerIP {
		return PerIP, false
	}
	if l.open >= l.o.Max {
		return Global, false
	}
	l.open++
	l.perIP[key] = n + 1
	return "", true
}

func (l *Listener) release(key netip.Prefix) {
	l.mu.Lock()
	l.open--
	if n := l.perIP[key] - 1; n > 0 {
		l.perIP[key] = n
	} else {
		delete(l.perIP, key)
	}
	l.mu.Unlock()
	l.o.Observer.Closed()
}

// refuse closes c with a reset rather than a FIN: the client learns at
// once, and the server keeps no TIME_WAIT state for a flood.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// Key is the address a connection is counted under: the IPv4 address, or
// the /64 of an IPv6 address (one subscriber usually holds a whole /64).
// IPv4-mapped IPv6 addresses count as IPv4. Addresses that are not IP
// (Unix sockets, pipes in tests) all share the zero Prefix.
func Key(a net.Addr) netip.Prefix {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	case *net.UDPAddr:
		ip = a.AddrPort().Addr()
	default:
		if a == nil {
			return netip.Prefix{}
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Prefix{}
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// conn releases its place in the accounting when closed, exactly once
// however often Close is called.
type conn struct {
	net.Conn
	l    *Listener
	key  netip.Prefix
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

// NetConn is the accepted connection, for code that needs its socket
// (internal/connwatch); closing it directly would skip the accounting.
func (c *conn) NetConn() net.Conn { return c.Conn }

type nopObserver struct{}

func (nopObserver) Accepted()                    {}
func (nopObserver) Closed()                      {}
func (nopObserver) Refused(netip.Prefix, Reason) {}
func (nopObserver) AcceptError(error)            {}

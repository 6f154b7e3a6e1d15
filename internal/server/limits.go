package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/assent-auth/assent/internal/logthrottle"
	"github.com/assent-auth/assent/internal/netlimit"
)

// Timeouts that are not configurable.
const (
	// headerTimeout bounds reading a request's headers and, since net/http
	// gives a TLS handshake the smallest of ReadHeaderTimeout, ReadTimeout
	// and WriteTimeout, the handshake too: a connection that never sends
	// anything is closed after this.
	headerTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request.
	readTimeout = 30 * time.Second
	// writeTimeout is long enough for a synchronous push wait plus margin;
	// handlers bound their own waits.
	writeTimeout = 150 * time.Second
	// endGrace is how long, after shutdown_timeout, the requests the core
	// was told to end (see auth.Service.EndHeld) have to be answered
	// before their connections are closed.
	endGrace = 10 * time.Second
	// limitWarnEvery paces the warnings about refused connections and
	// accept errors: a flood gives one line per kind per interval.
	limitWarnEvery = 10 * time.Second
)

// connLimits are the connection caps in force and where the global one
// came from.
type connLimits struct {
	max, perIP int
	fileLimit  uint64 // the open-files limit; 0 if it could not be read
	derived    bool   // max came from the open-files limit
}

// limits resolves max_connections (0: derived from the open-files limit)
// and warns when a configured value leaves the process short of files.
func (s *Server) limits() connLimits {
	cfg := s.app.Config
	l := connLimits{max: cfg.MaxConnections, perIP: cfg.MaxConnectionsPerIP}
	fl, err := netlimit.FileLimit()
	if err != nil {
		s.log.Warn("cannot read the open-files limit", "err", err)
	} else {
		l.fileLimit = fl
	}
	if l.max == 0 {
		l.max, l.derived = netlimit.DefaultMax(l.fileLimit), true
	} else if l.fileLimit > 0 && l.max > netlimit.DefaultMax(l.fileLimit) {
		s.log.Warn("max_connections leaves too few files for the database and logs; raise the open-files limit (LimitNOFILE=) or lower max_connections",
			"max_connections", l.max, "open_files_limit", l.fileLimit)
	}
	return l
}

// limitListener wraps ln with the connection caps; refusals and accept
// errors go to the metrics and to throttled warnings.
func (s *Server) limitListener(ln net.Listener, l connLimits, warn *logthrottle.Logger) (net.Listener, error) {
	s.metrics.limits.WithLabelValues(string(netlimit.Global)).Set(float64(l.max))
	s.metrics.limits.WithLabelValues(string(netlimit.PerIP)).Set(float64(l.perIP))
	lim, err := netlimit.Listen(ln, netlimit.Options{Max: l.max, PerIP: l.perIP,
		Blocked:  s.blockedAddress,
		Observer: &connEvents{m: s.metrics, warn: warn, limits: l}})
	if err != nil {
		return nil, fmt.Errorf("connection limits: %w", err)
	}
	return lim, nil
}

// blockedAddress reports whether key is out of its failed-signature budget
// (rate_limit_bad_signatures): its new connections are refused at once,
// before their TLS handshake, until a token is back. Its requests on
// connections already open are answered 429/42901 as before.
func (s *Server) blockedAddress(key netip.Prefix) bool {
	if s.badSignatures == nil || !key.IsValid() {
		return false
	}
	k := key.String() // an IPv6 /64, as ratelimit.AddrKey writes it
	if key.Addr().Is4() {
		k = key.Addr().String()
	}
	blocked, _ := s.badSignatures.Blocked(k)
	return blocked
}

// connEvents feeds what the connection limiter does into the metrics and
// into warnings throttled to one line per kind per interval, with counts.
type connEvents struct {
	m      *Metrics
	warn   *logthrottle.Logger
	limits connLimits
}

func (e *connEvents) Accepted() { e.m.accepted.Inc(); e.m.open.Inc() }
func (e *connEvents) Closed()   { e.m.open.Dec() }

func (e *connEvents) Refused(key netip.Prefix, r netlimit.Reason) {
	e.m.refused.WithLabelValues(string(r)).Inc()
	client := slog.String("last_client", key.String())
	if key.IsSingleIP() {
		client = slog.String("last_client", key.Addr().String())
	}
	switch r {
	case netlimit.Blocked:
		e.warn.Warn(string(r), "connections refused: the client address is over rate_limit_bad_signatures",
			slog.String("reason", string(r)), client)
	case netlimit.PerIP:
		e.warn.Warn(string(r), "connections refused: too many from one client address",
			slog.String("reason", string(r)), slog.Int("max_connections_per_ip", e.limits.perIP), client)
	default:
		e.warn.Warn(string(r), "connections refused: the server is at max_connections",
			slog.String("reason", string(r)), slog.Int("max_connections", e.limits.max), client)
	}
}

func (e *connEvents) AcceptError(err error) {
	e.m.acceptErrors.Inc()
	e.warn.Warn("accept", "accepting connections failed; retrying (out of file descriptors?)",
		slog.String("err", err.Error()), slog.Uint64("open_files_limit", e.limits.fileLimit))
}

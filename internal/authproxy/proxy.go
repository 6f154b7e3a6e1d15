// Package authproxy runs the authentication proxy: it turns a validated
// authproxy.cfg (package cfg) into Auth API clients (duoclient), primary
// authenticators (primary) and RADIUS servers (radiusd), one UDP socket per
// (port, interface), wires their events into the auth-events log and
// Prometheus metrics (events), and runs them until its context ends.
//
// The command line (`assent authproxy`) is a thin layer over Load, New,
// Listen, Serve and Check.
package authproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/authproxy/duoclient"
	"github.com/assent-auth/assent/internal/authproxy/events"
	"github.com/assent-auth/assent/internal/authproxy/radiusd"
)

// Load reads and validates an authproxy.cfg. Every problem in the file is
// in the returned error (a *cfg.Errors); warnings do not stop the proxy.
func Load(path string) (*cfg.Config, []cfg.Warning, error) {
	return cfg.Load(path)
}

// Options tune New.
type Options struct {
	// Stderr receives the log when log_stdout is on or no other sink is
	// (default os.Stderr).
	Stderr io.Writer
	// Logger, when set, replaces the log sinks of [main] (tests). The
	// auth-events file is still written when log_auth_events is on.
	Logger *slog.Logger
	// PacketConns are sockets opened by the caller, by listen address as
	// cfg.Socket.Addr spells it; Listen opens the others. Serve does not
	// close them.
	PacketConns map[string]net.PacketConn
	// Hostname is reported in auth events (default os.Hostname()).
	Hostname string
	// Version goes into the Auth API User-Agent.
	Version string
	// ShutdownGrace is how long requests in progress may finish after the
	// context ends (default 5 s).
	ShutdownGrace time.Duration
	// State and cache lifetimes, for tests; zero takes the defaults
	// (300 s and 30 s).
	StateTTL, CacheTTL time.Duration
}

// Proxy is a configured authentication proxy.
type Proxy struct {
	cfg     *cfg.Config
	opts    Options
	log     *slog.Logger
	logging *Logging // nil when opts.Logger was given and no auth events
	metrics *events.Metrics

	duos    []*duoclient.Client
	closers []io.Closer
	sockets []*socket

	metricsLn  net.Listener
	listenOnce sync.Once
	listenErr  error
}

// socket is one UDP listener and the RADIUS server for its sections.
type socket struct {
	addr   string
	server *radiusd.Server
	conn   net.PacketConn
	owned  bool // opened by Listen, closed by Serve
}

// New builds the proxy from c: log sinks, Auth API clients, primary
// authenticators and a RADIUS server per socket. It opens no socket; an
// error here means the configuration cannot run, and nothing is left open.
func New(c *cfg.Config, opts Options) (*Proxy, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	p := &Proxy{cfg: c, opts: opts, metrics: events.NewMetrics()}
	var authLog *events.AuthLog
	if opts.Logger != nil {
		p.log = opts.Logger
		if c.Main.LogAuthEvents {
			// Only the auth-events file; the process log is the caller's.
			m := c.Main
			m.LogFile, m.LogStdout = false, false
			l, err := OpenLogging(m, io.Discard)
			if err != nil {
				return nil, err
			}
			p.logging, authLog = l, l.AuthEvents
		}
	} else {
		l, err := OpenLogging(c.Main, opts.Stderr)
		if err != nil {
			return nil, err
		}
		p.logging, p.log, authLog = l, l.Logger, l.AuthEvents
	}
	obs := &observer{log: p.log, authLog: authLog, metrics: p.metrics}
	if err := p.build(obs); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// Validate builds everything New builds — Auth API clients, primaries,
// RADIUS servers — without opening any file or socket, and reports what
// cannot be built (an unreadable CA file, an unknown attribute name…).
func Validate(c *cfg.Config) error {
	p := &Proxy{cfg: c, log: slog.New(slog.DiscardHandler), metrics: events.NewMetrics()}
	defer p.Close()
	return p.build(&observer{log: p.log, metrics: p.metrics})
}

// build creates the clients and one radiusd.Server per socket.
func (p *Proxy) build(obs radiusd.Observer) error {
	ua := "assent-authproxy/" + p.opts.Version
	duos := map[duoclient.Config]*duoclient.Client{}
	prims := map[string]radiusd.Primary{}
	var errs []error
	for _, sk := range p.cfg.Sockets() {
		var sections []*radiusd.Section
		for _, s := range sk.Servers {
			dcfg := duoConfig(s, ua, p.cfg.Main.MaxRequestsInFlight)
			dc, ok := duos[dcfg]
			if !ok {
				var err error
				if dc, err = duoclient.New(dcfg); err != nil {
					errs = append(errs, fmt.Errorf("[%s]: %w", s.Name, err))
					continue
				}
				// Sections with the same Auth API and keys share one
				// client, and so one keep-alive connection pool.
				duos[dcfg] = dc
				p.duos = append(p.duos, dc)
			}
			var prim radiusd.Primary
			if s.ClientKind != cfg.ClientNone {
				prim, ok = prims[s.Client]
				if !ok {
					var err error
					if prim, err = p.primary(s); err != nil {
						errs = append(errs, fmt.Errorf("[%s]: %w", s.Client, err))
						continue
					}
					prims[s.Client] = prim
				}
			}
			sec, err := section(s, prim, dc)
			if err != nil {
				errs = append(errs, fmt.Errorf("[%s]: %w", s.Name, err))
				continue
			}
			sections = append(sections, sec)
		}
		if len(sections) != len(sk.Servers) {
			continue
		}
		srv, err := radiusd.NewServer(sections, radiusd.Options{
			Logger:        p.log,
			Observer:      obs,
			Hostname:      p.opts.Hostname,
			StateTTL:      p.opts.StateTTL,
			CacheTTL:      p.opts.CacheTTL,
			ShutdownGrace: p.opts.ShutdownGrace,
			MaxInFlight:   p.cfg.Main.MaxRequestsInFlight,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("udp %s: %w", sk.Addr, err))
			continue
		}
		p.sockets = append(p.sockets, &socket{addr: sk.Addr, server: srv})
	}
	p.metrics.SetInFlightFunc(func() int {
		n := 0
		for _, s := range p.sockets {
			n += s.server.InFlight()
		}
		return n
	})
	return errors.Join(errs...)
}

// duoConfig is the Auth API client of a server section; it may open as
// many connections as requests may be in progress on a socket.
func duoConfig(s *cfg.Server, ua string, maxConns int) duoclient.Config {
	dc := duoclient.Config{
		MaxConns:  maxConns,
		IKey:      s.IKey,
		SKey:      s.SKey.Reveal(),
		APIHost:   s.APIHost,
		APIPort:   s.APIPort,
		Timeout:   s.APITimeout,
		CAFile:    s.HTTPCACertsFile,
		UserAgent: ua,
	}
	if s.HTTPProxyHost != "" {
		dc.HTTPProxy = "http://" + net.JoinHostPort(s.HTTPProxyHost, fmt.Sprint(s.HTTPProxyPort))
	}
	return dc
}

// Listen opens every UDP socket not given in Options.PacketConns, and the
// metrics listener when metrics_listen is set. Nothing is left open on
// error.
func (p *Proxy) Listen() error {
	p.listenOnce.Do(func() { p.listenErr = p.listen() })
	return p.listenErr
}

func (p *Proxy) listen() error {
	var errs []error
	for _, s := range p.sockets {
		if c, ok := p.opts.PacketConns[s.addr]; ok {
			s.conn = c
			continue
		}
		c, err := net.ListenPacket("udp", s.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen udp %s: %w", s.addr, err))
			continue
		}
		s.conn, s.owned = c, true
	}
	if addr := p.cfg.Main.MetricsListen; addr != "" && len(errs) == 0 {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("metrics_listen %s: %w", addr, err))
		} else {
			p.metricsLn = ln
		}
	}
	if len(errs) > 0 {
		p.closeSockets()
		if p.metricsLn != nil {
			_ = p.metricsLn.Close()
			p.metricsLn = nil
		}
		return errors.Join(errs...)
	}
	return nil
}

// Addrs are the bound RADIUS addresses, in socket order (after Listen).
func (p *Proxy) Addrs() []net.Addr {
	var out []net.Addr
	for _, s := range p.sockets {
		if s.conn != nil {
			out = append(out, s.conn.LocalAddr())
		}
	}
	return out
}

// MetricsAddr is the metrics listener's address, or nil.
func (p *Proxy) MetricsAddr() net.Addr {
	if p.metricsLn == nil {
		return nil
	}
	return p.metricsLn.Addr()
}

// Metrics are the proxy's metrics (also served on metrics_listen).
func (p *Proxy) Metrics() *events.Metrics { return p.metrics }

// Logger is the proxy's process logger.
func (p *Proxy) Logger() *slog.Logger { return p.log }

// Serve answers RADIUS on every socket (calling Listen first if needed)
// until ctx ends, then lets requests in progress finish (ShutdownGrace)
// and returns. It returns early with an error if a socket fails.
func (p *Proxy) Serve(ctx context.Context) error {
	if err := p.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(p.sockets)+1)
	for _, s := range p.sockets {
		wg.Go(func() {
			if err := s.server.Serve(ctx, s.conn); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	var hs *http.Server
	if p.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", p.metrics.Handler())
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		ln := p.metricsLn
		wg.Go(func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
				cancel()
			}
		})
		p.log.Info("authproxy: metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	}
	p.log.Info("authproxy: started", "config", p.cfg.File, "sockets", len(p.sockets), "log", p.logSinks())
	<-ctx.Done()
	if hs != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = hs.Shutdown(sctx)
		scancel()
	}
	wg.Wait()
	p.closeSockets()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	p.log.Info("authproxy: stopped")
	return errors.Join(errs...)
}

func (p *Proxy) logSinks() []string {
	if p.logging == nil || p.opts.Logger != nil {
		return []string{"caller's logger"}
	}
	return p.logging.Sinks
}

func (p *Proxy) closeSockets() {
	for _, s := range p.sockets {
		if s.owned && s.conn != nil {
			_ = s.conn.Close()
		}
		if s.owned {
			s.conn = nil
		}
	}
}

// Close releases the clients and log files. Serve must have returned.
func (p *Proxy) Close() error {
	p.closeSockets()
	for _, dc := range p.duos {
		dc.Close()
	}
	var errs []error
	for _, c := range p.closers {
		errs = append(errs, c.Close())
	}
	if p.logging != nil {
		errs = append(errs, p.logging.Close())
	}
	return errors.Join(errs...)
}

// gcPercent is the proxy process's GOGC unless the environment sets one.
// The proxy allocates about 10 KB per login and keeps little, so at Go's
// default of 100 its small heap is collected every few hundred logins,
// some 8 % of its CPU (docs/benchmarks.md); at 400 the heap stays a few
// tens of MB even with max_requests_in_flight requests in progress.
const gcPercent = 400

// tuneGC sets gcPercent for this process, unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

// Run is New, Listen and Serve: it runs the proxy until ctx ends. When
// [main] test_connectivity_on_startup is on, the connectivity checks run
// first and are logged; the proxy starts whatever they find.
func Run(ctx context.Context, c *cfg.Config, opts Options) error {
	tuneGC()
	p, err := New(c, opts)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Listen(); err != nil {
		return err
	}
	if c.Main.TestConnectivityOnStartup {
		for _, r := range Check(ctx, c, CheckOptions{SkipListen: true}) {
			level := slog.LevelInfo
			if !r.OK {
				level = slog.LevelWarn
			}
			p.log.Log(ctx, level, "authproxy: connectivity", "check", r.Check, "section", r.Section,
				"target", r.Target, "ok", r.OK, "detail", r.Detail)
		}
	}
	return p.Serve(ctx)
}

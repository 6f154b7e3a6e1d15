// Package server runs Assent's HTTPS server: it wires the protocol edges to
// the core, serves TLS with a real certificate or one from Assent's local
// CA, and shuts down gracefully.
package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assent-auth/assent/internal/acmecert"
	"github.com/assent-auth/assent/internal/adminapi"
	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/authapi"
	"github.com/assent-auth/assent/internal/authenticatorapp"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/console"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/directory"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/frame"
	"github.com/assent-auth/assent/internal/gctune"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/logthrottle"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/tlsutil"
	"github.com/assent-auth/assent/internal/universal"
)

//go:embed logo.png
var defaultLogo []byte

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// Server is a configured, not yet listening, Assent server.
type Server struct {
	app     *app.App
	log     *slog.Logger
	handler http.Handler
	tls     *tls.Config
	// local is the local CA's certificate source; nil with tls_cert or ACME.
	local *tlsutil.Local
	// keyPair serves tls_cert and tls_key; nil with the local CA or ACME.
	keyPair *tlsutil.KeyPair
	// reload is what SIGHUP may change; see Reload.
	reload reloadState
	// acme obtains and renews the certificate (acme_directory); nil otherwise.
	acme    *acmecert.Manager
	metrics *Metrics
	// health answers /healthz and /readyz, on listen and metrics_listen.
	health *health
	// badSignatures is the failed-signature budget per client address,
	// shared by the Auth API, the device API and the listener.
	badSignatures *ratelimit.Named
	// CAFile is the local CA clients must trust; empty with a real certificate.
	CAFile string

	// detacher holds synchronous pushes without their serving goroutines;
	// serve closes it.
	detacher *httpapi.Detacher
	// dirs syncs the directories (scheduled, and from the console).
	dirs    *directory.Runner
	dirsErr error

	// memoryLimit is the Go runtime's soft memory limit Run left in force
	// (0: none), for the start-up log.
	memoryLimit int64

	// headerTimeout overrides the constant of the same name (tests).
	headerTimeout time.Duration
}

// applyMemoryLimit makes limit (memory_limit) the Go runtime's soft memory
// limit, so that the garbage collector works harder as the process nears
// it (many held requests, a flood) instead of letting the heap double. 0
// keeps what the runtime has: GOMEMLIMIT from the environment, or no
// limit. It returns the limit in force, 0 for none.
func applyMemoryLimit(limit config.ByteSize) int64 {
	if limit > 0 {
		debug.SetMemoryLimit(int64(limit))
	}
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
		return cur
	}
	return 0
}

// New prepares the routes and the TLS certificate.
func New(a *app.App) (*Server, error) {
	s := &Server{app: a, log: a.Logger, metrics: NewMetrics(prometheus.NewRegistry(), a.Core.HeldRequests),
		detacher: httpapi.NewDetacher(a.Logger)}
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	s.tls = tlsCfg
	logo, err := loadLogo(a.Config.LogoFile)
	if err != nil {
		return nil, err
	}

	// Signed requests must name one of the server's own names; failed
	// signatures, on the Auth API and the device API alike, spend one
	// budget per client address.
	hosts := a.Config.Hostnames()
	badSignatures := ratelimit.NewNamed("rate_limit_bad_signatures", a.Config.RateLimitBadSignatures.Limit(), ratelimit.Options{Now: a.Now})
	s.badSignatures = badSignatures
	signer := &httpapi.Signer{
		Lookup: a.Core,
		Verifier: duosig.Verifier{
			Hosts:  hosts,
			Window: a.Config.ClockSkew.Duration,
			Now:    a.Now,
			MACs:   &duosig.MACPool{},
		},
		Failures: badSignatures,
	}
	// Wrong activation codes and portal links share one budget per address:
	// both are guesses at an enrollment credential.
	activations := ratelimit.NewNamed("rate_limit_activation_failures_per_ip",
		a.Config.RateLimitActivationFailuresPerIP.Limit(), ratelimit.Options{Now: a.Now})
	s.metrics.WatchRateLimits(append(a.Core.RateLimits(), badSignatures, activations)...)
	s.reload.activations = activations
	mux := http.NewServeMux()
	(&authapi.API{Core: a.Core, Logo: logo, LogoFrom: a.Core.Logo, Now: a.Now, APIHostname: a.Config.PublicHostname,
		Detacher: s.detacher}).Register(mux, signer)
	// The Admin API (/admin/v1, v2, v3): adminapi integrations, by grant.
	(&adminapi.API{Core: a.Core, Now: a.Now, APIHostname: a.Config.PublicHostname}).Register(mux, signer)
	// Web Push: the VAPID key pair is made at first start.
	if err := a.WebPush.Init(context.Background()); err != nil {
		return nil, err
	}
	s.metrics.WatchWebPush(&a.WebPush.Stats)
	(&device.API{Core: a.Core, Logo: logo, LogoFrom: a.Core.Logo, Hosts: hosts, Window: a.Config.ClockSkew.Duration, Now: a.Now,
		ActivationLimit: activations, Failures: badSignatures, WebPush: a.WebPush}).Register(mux)
	mux.Handle("/frame/qr", httpapi.Handle(frame.QR))
	authenticatorapp.New(a.WebPush).Register(mux)
	// The hosted prompt (Web SDK v2 frame, Universal Prompt, enrollment
	// portal); each entry registers its Finisher by session kind.
	websdk := &frame.WebSDK{Core: a.Core, Now: a.Now}
	pr := &prompt.Prompt{Core: a.Core, Box: a.Box, Host: a.Config.PublicHostname, Now: a.Now,
		Finishers: map[string]prompt.Finisher{prompt.KindWebSDK: websdk}, ActivationLimit: activations}
	websdk.Prompt = pr
	pr.Register(mux)
	websdk.Register(mux)
	// The Universal Prompt (/oauth/v1/*): codes in the single-use token table.
	uni := &universal.API{Core: a.Core, Tokens: a.Store, Hasher: a.Box, Prompt: pr,
		Hosts: []string{a.Config.PublicHostname}, Now: a.Now,
		ClockSkew: a.Config.ClockSkew.Duration, MaxJWTLifetime: a.Config.UniversalJWTMaxLifetime.Duration}
	pr.Finishers[prompt.KindUniversal] = uni
	uni.Register(mux)
	// The administrators' console (/admin/): its catch-all must not answer
	// unknown Admin API paths, which keep Duo's JSON 404.
	consoleFailures := ratelimit.NewNamed("rate_limit_console_failures", a.Config.RateLimitConsoleFailures.Limit(), ratelimit.Options{Now: a.Now})
	s.metrics.WatchRateLimits(consoleFailures)
	s.dirs, s.dirsErr = a.NewDirectoryRunner() // shared by the console and the scheduled syncs
	(&console.Console{Core: a.Core, CSRFKey: a.Box.Pepper("console csrf"), Host: a.Config.PublicHostname,
		SignIns: consoleFailures, Logger: a.Logger, Box: a.Box, Now: a.Now, Directories: s.dirs}).Register(mux)
	notFound := httpapi.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.ErrNotFound
	})
	for _, p := range []string{"/", "/admin/v1/", "/admin/v2/", "/admin/v3/"} {
		mux.Handle(p, notFound)
	}
	s.reload.running = a.Config
	// sqlstore's Ready also checks the schema's migrations.
	ready := a.Store.Ping
	if r, ok := a.Store.(interface{ Ready(context.Context) error }); ok {
		ready = r.Ready
	}
	s.health = &health{ping: ready, now: a.Now, log: a.Logger}
	s.reload.inner = withHealth(securityHeaders(s.health),
		httpapi.MiddlewareObserved(a.Logger, s.metrics.endpoints, securityHeaders(mux)))
	if err := s.setTrustedProxies(a.Config.TrustedProxies); err != nil {
		return nil, err
	}
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.reload.front.Load()).ServeHTTP(w, r)
	})
	s.watch()
	return s, nil
}

// watch exports the counters of the core, the store, the push broker and
// the auth-event sink.
func (s *Server) watch() {
	a := s.app
	pending := func() int { return 0 }
	if w, ok := a.Broker.(interface{ Waiting() int }); ok {
		pending = w.Waiting
	}
	s.metrics.WatchCore(a.Core.Stats(), pending)
	var dbErrs, brokerErrs func() uint64
	if e, ok := a.Store.(interface{ Errors() uint64 }); ok {
		dbErrs = e.Errors
	}
	if e, ok := a.Broker.(interface{ Errors() uint64 }); ok {
		brokerErrs = e.Errors
	}
	s.metrics.WatchErrors(dbErrs, brokerErrs)
	if a.AuthEvents != nil {
		s.metrics.WatchAuthEvents(a.AuthEvents)
	}
	if a.MailQueue != nil {
		s.metrics.WatchMail(a.MailQueue)
	}
}

// Handler is the complete HTTP handler (for tests that bring their own
// listener).
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig is the server's TLS configuration.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Metrics are the server's metrics (served on metrics_listen).
func (s *Server) Metrics() *Metrics { return s.metrics }

// tlsConfig serves the configured certificate (tls_cert, tls_key) or one
// from the local CA in <data_dir>/tls, named for every configured host.
func (s *Server) tlsConfig() (*tls.Config, error) {
	cfg := s.app.Config
	if cfg.TLSCert != "" {
		kp, err := tlsutil.LoadKeyPairFiles(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, err
		}
		s.keyPair = kp
		return kp.TLSConfig(), nil
	}
	if cfg.ACMEDirectory != "" {
		m, err := acmecert.New(acmecert.Options{
			Directory: cfg.ACMEDirectory, Email: cfg.ACMEEmail, Challenge: cfg.ACMEChallenge, CARoot: cfg.ACMECARoot,
			Hosts: cfg.Hostnames(), Dir: cfg.ACMEDir(), Box: s.app.Box, Log: s.log,
		})
		if err != nil {
			return nil, err
		}
		s.acme = m
		return m.TLSConfig(tlsutil.ServerConfig(tls.Certificate{})), nil
	}
	local, err := tlsutil.OpenLocal(tlsutil.LocalOptions{
		Dir: cfg.TLSDir(), Hosts: cfg.Hostnames(), Now: s.app.Now, Log: s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	s.local, s.CAFile = local, local.CAFile()
	return local.TLSConfig(), nil
}

// startACME, with acme_directory, serves HTTP-01 challenges on
// acme_http_listen (acme_challenge = http-01) and obtains the certificate
// in the background, so that a misconfiguration shows in the log at
// start-up; autocert renews it before it expires. The returned function
// stops the challenge listener.
func (s *Server) startACME(ctx context.Context) (stop func(), err error) {
	if s.acme == nil {
		return func() {}, nil
	}
	cfg := s.app.Config
	var hs *http.Server
	if s.acme.Challenge() == acmecert.ChallengeHTTP {
		ln, err := net.Listen("tcp", cfg.ACMEHTTPListen)
		if err != nil {
			return nil, fmt.Errorf("acme_http_listen %s: %w", cfg.ACMEHTTPListen, err)
		}
		hs = &http.Server{Handler: s.acme.HTTPHandler(), ReadHeaderTimeout: headerTimeout, ReadTimeout: readTimeout,
			WriteTimeout: readTimeout, IdleTimeout: cfg.IdleTimeout.Duration, ErrorLog: log.New(handshakeLog{s.log}, "", 0)}
		s.log.Info("acme http-01 challenges listening", "addr", ln.Addr().String())
		go func() { _ = hs.Serve(ln) }()
	}
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := s.acme.Warm(wctx); err != nil {
			s.log.Error("acme: could not obtain the certificate; clients get none until it is", "directory", cfg.ACMEDirectory, "err", err)
			return
		}
		s.log.Info("acme certificate ready", "directory", cfg.ACMEDirectory, "hosts", strings.Join(cfg.Hostnames(), " "))
	}()
	return func() {
		if hs != nil {
			_ = hs.Close()
		}
	}, nil
}

// renewCertificates checks the local CA's server certificate every
// tlsutil.CheckEvery while ctx lasts, renewing it without a restart; the
// returned function stops the check and waits for it.
func (s *Server) renewCertificates(ctx context.Context) (stop func()) {
	if s.local == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	ticker := time.NewTicker(tlsutil.CheckEvery)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.local.Run(ctx, ticker.C)
	}()
	return func() {
		cancel()
		ticker.Stop()
		<-done
	}
}

func loadLogo(path string) ([]byte, error) {
	if path == "" {
		return defaultLogo, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("logo_file: %w", err)
	}
	if !bytes.HasPrefix(b, pngMagic) {
		return nil, fmt.Errorf("logo_file: %s is not a PNG image", path)
	}
	return b, nil
}

// securityHeaders adds headers every answer should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// Run listens on the configured address (and on metrics_listen and
// pprof_listen when set) and serves until ctx ends, then shuts down
// gracefully within the configured timeout. It applies memory_limit to the
// process and keeps the collector from running every few megabytes while
// the live heap is small (internal/gctune; GOGC in the environment wins).
func (s *Server) Run(ctx context.Context) error {
	s.memoryLimit = applyMemoryLimit(s.app.Config.MemoryLimit)
	tuneCtx, stopTuning := context.WithCancel(ctx)
	defer stopTuning()
	go gctune.New(0).Run(tuneCtx)
	ln, err := net.Listen("tcp", s.app.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.app.Config.Listen, err)
	}
	var mln net.Listener
	if addr := s.app.Config.MetricsListen; addr != "" {
		if mln, err = net.Listen("tcp", addr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("metrics_listen %s: %w", addr, err)
		}
	}
	stopPprof, err := s.startPprof()
	if err != nil {
		_ = ln.Close()
		if mln != nil {
			_ = mln.Close()
		}
		return err
	}
	defer stopPprof()
	return s.serve(ctx, ln, mln)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, nil)
}

// serve serves HTTPS on ln, with the connection limits, and metrics on mln
// when it is not nil, until ctx ends.
func (s *Server) serve(ctx context.Context, ln, mln net.Listener) error {
	closeAll := func() {
		_ = ln.Close()
		if mln != nil {
			_ = mln.Close()
		}
	}
	if err := s.app.RecordAPIHostname(ctx); err != nil {
		closeAll()
		return fmt.Errorf("record api hostname: %w", err)
	}
	if err := s.app.StartTelephony(ctx); err != nil {
		closeAll()
		return err
	}
	// Calls under way end once everything else did (App.Close then
	// closes the SIP socket): their outcomes are written.
	defer s.app.Core.EndCalls()
	limits := s.limits()
	warn := logthrottle.New(s.log, limitWarnEvery)
	limited, err := s.limitListener(ln, limits, warn)
	if err != nil {
		closeAll()
		return err
	}
	cfg := s.app.Config
	hs := &http.Server{
		Handler:           s.metrics.instrument(s.handler),
		TLSConfig:         s.tls,
		ReadHeaderTimeout: cmp.Or(s.headerTimeout, headerTimeout),
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       cfg.IdleTimeout.Duration,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(handshakeLog{s.log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	attrs := []any{"addr", ln.Addr().String(), "api_hostname", cfg.PublicHostname,
		"max_connections", limits.max, "max_connections_per_ip", limits.perIP,
		"idle_timeout", cfg.IdleTimeout.Duration, "max_held_requests", cfg.MaxHeldRequests}
	if limits.derived {
		attrs = append(attrs, "open_files_limit", limits.fileLimit)
	}
	if s.memoryLimit > 0 {
		attrs = append(attrs, "memory_limit", config.ByteSize(s.memoryLimit).String())
	}
	if s.CAFile != "" {
		attrs = append(attrs, "ca_file", s.CAFile)
	}
	s.log.Info("assent listening", attrs...)
	stopRenewal := s.renewCertificates(ctx)
	defer stopRenewal()
	stopACME, err := s.startACME(ctx)
	if err != nil {
		closeAll()
		return err
	}
	defer stopACME()

	// Retention: old transactions, activations, tokens (and, if set, auth
	// log rows) are purged in the background while the server runs.
	purgeCtx, stopPurge := context.WithCancel(ctx)
	purged := make(chan struct{})
	go func() { defer close(purged); s.app.Core.RunPurger(purgeCtx) }()
	defer func() { stopPurge(); <-purged }()
	// Directory sync (LDAP, Active Directory) every directory_sync_interval.
	dirs, err := s.dirs, s.dirsErr
	if err != nil {
		closeAll()
		return err
	}
	dirCtx, stopDir := context.WithCancel(ctx)
	dirDone := make(chan struct{})
	go func() { defer close(dirDone); dirs.Run(dirCtx) }()
	defer func() { stopDir(); <-dirDone }()

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(tls.NewListener(limited, s.tls)) }()
	servers := 1
	var ms *http.Server
	if mln != nil {
		servers++
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metrics.Handler())
		mux.Handle("/healthz", s.health)
		mux.Handle("/readyz", s.health)
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: headerTimeout, ReadTimeout: readTimeout,
			WriteTimeout: readTimeout, IdleTimeout: cfg.IdleTimeout.Duration, ErrorLog: log.New(handshakeLog{s.log}, "", 0)}
		s.log.Info("metrics listening", "addr", mln.Addr().String(), "paths", "/metrics /healthz /readyz")
		go func() { errc <- ms.Serve(mln) }()
	}
	defer warn.Flush() // counts not yet written, on every path
	select {
	case err := <-errc:
		_ = hs.Close()
		_ = s.detacher.Close()
		if ms != nil {
			_ = ms.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Drain: stop accepting, let requests in flight and requests held for
	// a device (synchronous pushes, long polls) finish for up to
	// shutdown_timeout, then have the core answer those still held (a
	// synchronous push as timed out, with its auth-log row; a long poll
	// with its push's current state) and give that endGrace more.
	drain := cfg.ShutdownTimeout.Duration
	s.log.Info("shutting down: draining", "shutdown_timeout", drain,
		"held_requests", s.app.Core.HeldRequests().Open)
	sctx, cancel := context.WithTimeout(context.Background(), drain+endGrace)
	defer cancel()
	end := time.AfterFunc(drain, func() {
		if n := s.app.Core.HeldRequests().Open; n > 0 {
			s.log.Info("shutdown_timeout reached: answering the requests still held", "held_requests", n)
		}
		s.app.Core.EndHeld()
	})
	defer end.Stop()
	if ms != nil {
		_ = ms.Close() // a scrape can be retried
	}
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		_ = s.detacher.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	// Held synchronous pushes left net/http (see httpapi.Detacher): they
	// get the same time to be answered, then their connections close.
	if err := s.detacher.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown of held requests: %w", err)
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	warn.Flush()
	s.log.Info("stopped")
	return nil
}

// handshakeLog sends net/http's own error log (mostly TLS handshake noise
// from scanners and clients that do not trust the CA) to slog at debug level.
type handshakeLog struct{ l *slog.Logger }

func (h handshakeLog) Write(p []byte) (int, error) {
	h.l.Debug("http server", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

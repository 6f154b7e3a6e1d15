// Package server runs Assent's HTTPS server: it wires the protocol edges to
// the core, serves TLS with a real certificate or one from Assent's local
// CA, and shuts down gracefully.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/authapi"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/frame"
	"github.com/assent-auth/assent/internal/httpapi"
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
	// CAFile is the local CA clients must trust; empty with a real certificate.
	CAFile string
}

// New prepares the routes and the TLS certificate.
func New(a *app.App) (*Server, error) {
	s := &Server{app: a, log: a.Logger}
	cert, err := s.certificate()
	if err != nil {
		return nil, err
	}
	s.tls = tlsutil.ServerConfig(cert)
	logo, err := loadLogo(a.Config.LogoFile)
	if err != nil {
		return nil, err
	}

	// Signed requests must name one of the server's own names; failed
	// signatures, on the Auth API and the device API alike, spend one
	// budget per client address.
	hosts := a.Config.Hostnames()
	badSignatures := ratelimit.New(a.Config.RateLimitBadSignatures.Limit(), ratelimit.Options{Now: a.Now})
	signer := &httpapi.Signer{
		Lookup: a.Core,
		Verifier: duosig.Verifier{
			Hosts:  hosts,
			Window: a.Config.ClockSkew.Duration,
			Now:    a.Now,
		},
		Failures: badSignatures,
	}
	mux := http.NewServeMux()
	(&authapi.API{Core: a.Core, Logo: logo, Now: a.Now, APIHostname: a.Config.PublicHostname}).Register(mux, signer)
	(&device.API{Core: a.Core, Logo: logo, Hosts: hosts,
		Window: a.Config.ClockSkew.Duration, Now: a.Now, Failures: badSignatures}).Register(mux)
	mux.Handle("/frame/qr", httpapi.Handle(frame.QR))
	// The hosted prompt (Web SDK v2 frame, Universal Prompt, enrollment
	// portal); each entry registers its Finisher by session kind.
	websdk := &frame.WebSDK{Core: a.Core, Now: a.Now}
	pr := &prompt.Prompt{Core: a.Core, Box: a.Box, Host: a.Config.PublicHostname, Now: a.Now,
		Finishers: map[string]prompt.Finisher{prompt.KindWebSDK: websdk}}
	websdk.Prompt = pr
	pr.Register(mux)
	websdk.Register(mux)
	// The Universal Prompt (/oauth/v1/*): codes in the single-use token table.
	uni := &universal.API{Core: a.Core, Tokens: a.Store, Hasher: a.Box, Prompt: pr,
		Hosts: []string{a.Config.PublicHostname}, Now: a.Now}
	pr.Finishers[prompt.KindUniversal] = uni
	uni.Register(mux)
	mux.Handle("/", httpapi.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.ErrNotFound
	}))
	s.handler = httpapi.Middleware(a.Logger, securityHeaders(mux))
	return s, nil
}

// Handler is the complete HTTP handler (for tests that bring their own
// listener).
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig is the server's TLS configuration.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

func (s *Server) certificate() (tls.Certificate, error) {
	cfg := s.app.Config
	if cfg.TLSCert != "" {
		return tlsutil.LoadKeyPair(cfg.TLSCert, cfg.TLSKey)
	}
	files, err := tlsutil.EnsureLocalCA(cfg.TLSDir(), []string{cfg.PublicHostname}, s.app.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("local CA: %w", err)
	}
	s.CAFile = files.CACert
	return tlsutil.LoadKeyPair(files.Cert, files.Key)
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

// Run listens on the configured address and serves until ctx ends, then
// shuts down gracefully within the configured timeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.app.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.app.Config.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.app.RecordAPIHostname(ctx); err != nil {
		_ = ln.Close()
		return fmt.Errorf("record api hostname: %w", err)
	}
	hs := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for a synchronous push wait plus margin; handlers bound
		// their own waits.
		WriteTimeout:   150 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(handshakeLog{s.log}, "", 0),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	attrs := []any{"addr", ln.Addr().String(), "api_hostname", s.app.Config.PublicHostname}
	if s.CAFile != "" {
		attrs = append(attrs, "ca_file", s.CAFile)
	}
	s.log.Info("assent listening", attrs...)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(tls.NewListener(ln, s.tls)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.app.Config.ShutdownTimeout.Duration)
	sctx, cancel := context.WithTimeout(context.Background(), s.app.Config.ShutdownTimeout.Duration)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
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

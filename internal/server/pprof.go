package server

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
)

// startPprof serves Go's runtime profiles on pprof_listen, when it is set,
// until the returned function is called. The configuration admits only a
// loopback address of its own for it (config.checkPprofListen); the public
// listener and the metrics listener have no /debug/pprof route, and
// nothing serves http.DefaultServeMux, where importing net/http/pprof
// registers the handlers too.
func (s *Server) startPprof() (stop func(), err error) {
	addr := s.app.Config.PprofListen
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof_listen %s: %w", addr, err)
	}
	return s.servePprof(ln), nil
}

// servePprof serves the profiles on ln until the returned function is
// called.
func (s *Server) servePprof(ln net.Listener) (stop func()) {
	// No WriteTimeout: a CPU profile or an execution trace streams for as
	// long as asked (?seconds=N).
	srv := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: headerTimeout, ReadTimeout: readTimeout,
		IdleTimeout: s.app.Config.IdleTimeout.Duration, ErrorLog: log.New(handshakeLog{s.log}, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ends with Close
	}()
	s.log.Info("pprof listening", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	return func() {
		_ = srv.Close()
		<-done
	}
}

// pprofHandler serves net/http/pprof's pages: the index and the named
// profiles (heap, allocs, goroutine, block, mutex, threadcreate), a CPU
// profile, an execution trace and symbol look-ups. Not the command line
// (/debug/pprof/cmdline), which can carry settings.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}

package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/assent-auth/assent/internal/auth"
)

// Middleware gives every request an ID, a request-scoped logger, panic
// recovery with a Duo 500 answer, and one access-log line. It logs no query
// strings or bodies (they hold passcodes, codes and JWTs) and paths only as
// LogPath redacts them (they hold enrollment tokens and activation codes).
func Middleware(base *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		log := base.With("request_id", id)
		attrs := &logAttrs{}
		ctx := context.WithValue(r.Context(), keyLogger, log)
		ctx = context.WithValue(ctx, keyAttrs, attrs)
		// The core's warnings (rate limits) carry the request ID too.
		ctx = auth.WithLogger(ctx, log)
		// The mux records the matched pattern in req (see LogPath).
		req := r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w, log: log, req: req, attrs: attrs, start: start}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "panic", v, "stack", string(debug.Stack()))
				if !sw.wrote && !sw.detached {
					WriteError(sw, ErrInternal)
				}
			}
			if sw.detached {
				return // logged when answered, see statusWriter.Detached
			}
			accessLog(ctx, log, r.Method, LogPath(req), sw.status(), time.Since(start), r.RemoteAddr, attrs.ikey)
		}()
		next.ServeHTTP(sw, req)
	})
}

// accessLog writes a request's access-log line.
func accessLog(ctx context.Context, log *slog.Logger, method, path string, status int, d time.Duration, remote, ikey string) {
	log.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("remote", remote),
		slog.String("ikey", ikey),
	)
}

// requestID keeps a caller's sane X-Request-Id (for tracing across
// proxies) and makes one otherwise.
func requestID(given string) string {
	if n := len(given); n >= 8 && n <= 64 {
		ok := true
		for _, c := range given {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				ok = false
				break
			}
		}
		if ok {
			return given
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool

	// For the access log of a detached request.
	log      *slog.Logger
	req      *http.Request
	attrs    *logAttrs
	start    time.Time
	detached bool
}

// Detached defers the access-log line to the detached request's answer,
// keeping only the line's fields (not the request).
func (w *statusWriter) Detached() func(status int) {
	w.detached = true
	log, start, method, path, remote, ikey := w.log, w.start, w.req.Method, LogPath(w.req), w.req.RemoteAddr, w.attrs.ikey
	return func(status int) {
		accessLog(context.Background(), log, method, path, status, time.Since(start), remote, ikey)
	}
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// Flush lets long-polling handlers push bytes early.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

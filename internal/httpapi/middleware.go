package httpapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
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
	return MiddlewareObserved(base, nil, next)
}

// RequestObserver is told of every request Middleware answers: the
// ServeMux pattern that matched ("" when none did), the status and how
// long the answer took (a detached request's when it is answered). It runs
// on the request's goroutine and must be cheap (the metrics' counters).
type RequestObserver interface {
	ObserveRequest(pattern string, status int, d time.Duration)
}

// MiddlewareObserved is Middleware telling obs (when not nil) of every
// request.
func MiddlewareObserved(base *slog.Logger, obs RequestObserver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		// One allocation holds what the request's handlers share.
		st := &requestState{
			statusWriter: statusWriter{ResponseWriter: w},
			handler:      requestHandler{Handler: base.Handler(), id: id},
		}
		st.log = slog.New(&st.handler)
		log, sw := st.log, &st.statusWriter
		ctx := context.WithValue(r.Context(), keyState, st)
		// The core's warnings (rate limits) carry the request ID too.
		ctx = auth.WithLogger(ctx, log)
		// The mux records the matched pattern in req (see LogPath).
		req := r.WithContext(ctx)
		sw.st, sw.req, sw.start, sw.obs = st, req, start, obs
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
				// Logged when answered (statusWriter.Detached). The request's
				// context, which the waiting core keeps, leads here: let go
				// of net/http's response (its connection's buffers).
				sw.ResponseWriter, sw.req = nil, nil
				return
			}
			d := time.Since(start)
			accessLog(ctx, base, id, r.Method, LogPath(req), sw.status(), d, r.RemoteAddr, st.ikey)
			if obs != nil {
				obs.ObserveRequest(req.Pattern, sw.status(), d)
			}
		}()
		next.ServeHTTP(sw, req)
	})
}

// requestState is what Middleware keeps per request: the status writer,
// the request-scoped logger and what handlers add to the access log.
type requestState struct {
	statusWriter
	handler requestHandler
	log     *slog.Logger // with handler
	ikey    string       // the integration that signed the request (SetIKey)
}

// requestHandler adds request_id to every record of the request's logger,
// where base.With("request_id", id) would put it, without formatting the
// attribute ahead for a request that logs only its access-log line.
type requestHandler struct {
	slog.Handler
	id string
}

func (h *requestHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.String("request_id", h.id))
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h *requestHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.Handler.WithAttrs(append([]slog.Attr{slog.String("request_id", h.id)}, as...))
}

func (h *requestHandler) WithGroup(name string) slog.Handler {
	return h.Handler.WithAttrs([]slog.Attr{slog.String("request_id", h.id)}).WithGroup(name)
}

// accessLog writes a request's access-log line, as the request's logger
// would (request_id first), without copying the record.
func accessLog(ctx context.Context, base *slog.Logger, id, method, path string, status int, d time.Duration, remote, ikey string) {
	base.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("request_id", id),
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("remote", remote),
		slog.String("ikey", ikey),
	)
}

// requestID keeps a caller's sane X-Request-Id (for tracing across
// proxies) and makes one otherwise: 64 random bits, which need to be
// unique, not secret (math/rand/v2's generator is seeded per thread from
// the system's and costs no system call).
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
	binary.BigEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool

	// For the access log of a detached request (see Detached).
	st       *requestState
	req      *http.Request
	start    time.Time
	detached bool
	obs      RequestObserver
}

// Detached defers the access-log line to the detached request's answer,
// keeping only the line's fields (not the request).
func (w *statusWriter) Detached() func(status int) {
	w.detached = true
	base, id := slog.New(w.st.handler.Handler), w.st.handler.id
	start, method, path, remote, ikey := w.start, w.req.Method, LogPath(w.req), w.req.RemoteAddr, w.st.ikey
	obs, pattern := w.obs, w.req.Pattern
	return func(status int) {
		d := time.Since(start)
		accessLog(context.Background(), base, id, method, path, status, d, remote, ikey)
		if obs != nil {
			obs.ObserveRequest(pattern, status, d)
		}
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

package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/connwatch"
)

// A held synchronous push waits seconds to a minute for its device, and a
// server may hold ten thousand of them. Kept the usual way, each costs its
// serving goroutine's stack (grown by the work done before the wait),
// net/http's connection reader and writer (8 KiB), a second goroutine
// reading in the background to notice the client leaving, and the parsed
// request. A Detacher takes such a request's connection from net/http
// (Hijack) once the request is read and verified: the handler returns, and
// all of that is released while the answer is worked out. What stays is
// the TLS connection, a small Detached record and a registration with a
// connwatch.Watcher, which reports a client that hangs up without any
// goroutine per connection. The answer is written later, from whichever
// goroutine has it, as a complete HTTP/1.1 response with
// "Connection: close": the connection is not reused. Duo's clients open
// another for their next request; a held request lasts seconds anyway.

// ErrNotDetachable is returned by Detach when the request cannot be
// detached (HTTP/2, a connection that cannot be hijacked, a server
// shutting down); the handler then answers in place.
var ErrNotDetachable = errors.New("httpapi: request cannot be detached")

// answerWriteTimeout bounds writing a detached answer (a few hundred bytes,
// which fit in the socket's buffer unless the client stopped reading).
const answerWriteTimeout = 10 * time.Second

// StatusClientClosedRequest is logged for a detached request whose client
// hung up (or whose server closed it) before the answer: nothing was sent.
const StatusClientClosedRequest = 499

// DetachAware is implemented by ResponseWriter wrappers with work to do
// once their request is answered (an access-log line, a metric). Detach
// calls Detached on each wrapper it finds through Unwrap; the wrapper then
// skips that work when the handler returns, and does it in finish, called
// once with the final status when the answer was written (or given up).
type DetachAware interface {
	Detached() (finish func(status int))
}

// Detacher detaches requests and keeps track of them until they are
// answered. The zero value is not usable; see NewDetacher.
type Detacher struct {
	log *slog.Logger

	watchOnce sync.Once
	watch     *connwatch.Watcher
	watchErr  error

	mu     sync.Mutex
	open   map[*Detached]struct{}
	closed bool
}

// NewDetacher returns a Detacher; its watcher starts with the first
// detached request. Close (or Shutdown) stops it.
func NewDetacher(log *slog.Logger) *Detacher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Detacher{log: log, open: map[*Detached]struct{}{}}
}

// Detached is a request whose answer is written after its handler
// returned.
type Detached struct {
	d      *Detacher
	conn   net.Conn
	header []string // key, value, …: set before detaching (request ID, security headers)
	method string
	log    *slog.Logger // the request's
	finish []func(status int)

	mu        sync.Mutex
	state     detachedState
	stopWatch func()
	onHangup  func()
}

type detachedState uint8

const (
	detachedOpen     detachedState = iota
	detachedAnswered               // Answer ran
	detachedAborted                // the client hung up or the server closed it
)

// Detach takes r's connection from net/http. r must have been read
// entirely (its body too) and nothing written yet. After a nil error the
// handler must return without writing, and the answer is given with
// Answer; anything the client sent after r is dropped with the connection.
func (d *Detacher) Detach(w http.ResponseWriter, r *http.Request) (*Detached, error) {
	if r.ProtoMajor != 1 {
		return nil, ErrNotDetachable
	}
	watch, err := d.watcher()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotDetachable, err)
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, ErrNotDetachable
	}
	var header []string
	for k, vs := range w.Header() {
		for _, v := range vs {
			header = append(header, k, v)
		}
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotDetachable, err)
	}
	x := &Detached{d: d, conn: conn, header: header, method: r.Method, log: detachedLogger(r.Context())}
	for u := w; u != nil; {
		if a, ok := u.(DetachAware); ok {
			x.finish = append(x.finish, a.Detached())
		}
		uw, ok := u.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		u = uw.Unwrap()
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		x.abort()
		return x, nil // the handler registers OnHangup, which runs at once
	}
	d.open[x] = struct{}{}
	d.mu.Unlock()
	stop, err := watch.Watch(conn, x.abort)
	if err != nil {
		d.log.Warn("cannot watch a held connection; closing it", "err", err)
		x.abort()
		return x, nil
	}
	x.mu.Lock()
	ended := x.state != detachedOpen // the client already hung up
	x.stopWatch = stop
	x.mu.Unlock()
	if ended {
		stop()
	}
	return x, nil
}

func (d *Detacher) watcher() (*connwatch.Watcher, error) {
	d.watchOnce.Do(func() { d.watch, d.watchErr = connwatch.New() })
	if d.watch == nil && d.watchErr == nil {
		return nil, connwatch.ErrClosed // closed before any request was detached
	}
	return d.watch, d.watchErr
}

// OnHangup registers f to run once if the connection ends before the
// answer: the client hung up, or the server closed it (Close). If that
// already happened, f runs now. f must not block for long.
func (x *Detached) OnHangup(f func()) {
	x.mu.Lock()
	if x.state == detachedAborted {
		x.mu.Unlock()
		f()
		return
	}
	x.onHangup = f
	x.mu.Unlock()
}

// Answer writes the answer write renders, closes the connection, and
// finishes the request (access log, metrics). write gets a ResponseWriter
// that collects the answer, and a request standing for the original one:
// it carries the method and the request's logger in its context, nothing
// else (the original was released). Only the first Answer counts, and
// none after a hangup.
func (x *Detached) Answer(write func(http.ResponseWriter, *http.Request)) {
	x.mu.Lock()
	if x.state != detachedOpen {
		x.mu.Unlock()
		return
	}
	x.state = detachedAnswered
	stop := x.stopWatch
	x.mu.Unlock()
	if stop != nil {
		stop()
	}
	rec := x.render(write)
	if err := x.write(rec); err != nil {
		x.log.Debug("writing a held answer failed", "err", err)
	}
	_ = x.conn.Close()
	x.done(rec.status())
}

// render runs write, answering 500 if it panics (the panic would
// otherwise end the process: this is not the request's goroutine).
func (x *Detached) render(write func(http.ResponseWriter, *http.Request)) (rec *answerRecorder) {
	rec = x.recorder()
	defer func() {
		if v := recover(); v != nil {
			x.log.Error("panic answering a held request", "panic", v)
			rec = x.recorder()
			WriteError(rec, ErrInternal)
		}
	}()
	// Only the method and the logger of the request were kept.
	ctx := context.WithValue(context.Background(), keyState, &requestState{log: x.log})
	write(rec, (&http.Request{Method: x.method}).WithContext(ctx))
	return rec
}

// recorder is an empty answer with the headers set before detaching.
func (x *Detached) recorder() *answerRecorder {
	rec := &answerRecorder{header: make(http.Header, len(x.header)/2+4)}
	for i := 0; i+1 < len(x.header); i += 2 {
		rec.header.Add(x.header[i], x.header[i+1])
	}
	return rec
}

// write sends rec as an HTTP/1.1 response that closes the connection.
func (x *Detached) write(rec *answerRecorder) error {
	status := rec.status()
	h := rec.header
	h.Set("Connection", "close")
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	h.Set("Content-Length", strconv.Itoa(len(rec.body)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %03d %s\r\n", status, http.StatusText(status))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	if x.method != http.MethodHead {
		b.Write(rec.body)
	}
	if err := x.conn.SetWriteDeadline(time.Now().Add(answerWriteTimeout)); err != nil {
		return err
	}
	_, err := x.conn.Write(b.Bytes())
	return err
}

// abort ends the request without an answer: the client hung up (the
// watcher calls it) or the server closes it.
func (x *Detached) abort() {
	x.mu.Lock()
	if x.state != detachedOpen {
		x.mu.Unlock()
		return
	}
	x.state = detachedAborted
	f, stop := x.onHangup, x.stopWatch
	x.mu.Unlock()
	if stop != nil {
		stop() // before Close, while the socket is still valid
	}
	_ = x.conn.Close()
	x.done(StatusClientClosedRequest)
	if f != nil {
		f()
	}
}

// done runs the wrappers' finish functions and forgets x.
func (x *Detached) done(status int) {
	for _, f := range x.finish {
		f(status)
	}
	x.d.mu.Lock()
	delete(x.d.open, x)
	x.d.mu.Unlock()
}

// Open is how many detached requests wait for their answers.
func (d *Detacher) Open() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.open)
}

// Shutdown refuses new detachments and waits until every detached request
// is answered or ctx ends; then it closes the rest (see Close).
func (d *Detacher) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for d.Open() > 0 {
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), d.Close())
		case <-tick.C:
		}
	}
	return d.Close()
}

// Close refuses new detachments, closes the connections of the detached
// requests still waiting (their OnHangup functions run) and stops the
// watcher.
func (d *Detacher) Close() error {
	d.mu.Lock()
	d.closed = true
	open := make([]*Detached, 0, len(d.open))
	for x := range d.open {
		open = append(open, x)
	}
	d.mu.Unlock()
	for _, x := range open {
		x.abort()
	}
	d.watchOnce.Do(func() {}) // no watcher starts after this
	if d.watch != nil {
		return d.watch.Close()
	}
	return nil
}

// answerRecorder collects a detached answer.
type answerRecorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *answerRecorder) Header() http.Header { return r.header }

func (r *answerRecorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
}

func (r *answerRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

func (r *answerRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

package httpapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// detachServer serves, over TLS with net/http, a handler that detaches
// each request and hands it to the test, behind Middleware (access log)
// and a wrapper that sets a header and counts answers by status.
type detachServer struct {
	srv      *httptest.Server
	det      *Detacher
	logs     *lockedBuffer
	detached chan *Detached
	counted  *statusCounter
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// statusCounter is an outer wrapper like the server's metrics.
type statusCounter struct {
	mu  sync.Mutex
	got []int
}

type countingWriter struct {
	http.ResponseWriter
	c        *statusCounter
	code     int
	detached bool
}

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
func (w *countingWriter) Detached() func(int) {
	w.detached = true
	c := w.c
	return func(status int) { c.add(status) }
}

func (c *statusCounter) add(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, status)
}

func (c *statusCounter) statuses() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.got...)
}

func newDetachServer(t *testing.T, http2 bool) *detachServer {
	t.Helper()
	ds := &detachServer{logs: &lockedBuffer{}, detached: make(chan *Detached, 1000), counted: &statusCounter{}}
	ds.det = NewDetacher(nil)
	mw := Middleware(slog.New(slog.NewTextHandler(ds.logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Error(err)
		}
		x, err := ds.det.Detach(w, r)
		if err != nil {
			w.Header().Set("X-Detach", "no")
			WriteOK(w, "answered in place")
			return
		}
		ds.detached <- x
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		cw := &countingWriter{ResponseWriter: w, c: ds.counted}
		mw.ServeHTTP(cw, r)
		if !cw.detached {
			ds.counted.add(cw.code)
		}
	})
	ds.srv = httptest.NewUnstartedServer(outer)
	ds.srv.EnableHTTP2 = http2
	ds.srv.StartTLS()
	t.Cleanup(func() {
		ds.srv.Close()
		_ = ds.det.Close()
	})
	return ds
}

func (ds *detachServer) next(t *testing.T) *Detached {
	t.Helper()
	select {
	case x := <-ds.detached:
		return x
	case <-time.After(10 * time.Second):
		t.Fatal("no request was detached")
		return nil
	}
}

// dial opens a raw TLS connection and sends one request.
func (ds *detachServer) send(t *testing.T) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", ds.srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "POST /auth/v2/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\na=1"); err != nil {
		t.Fatal(err)
	}
	return c
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A detached request is answered later, from another goroutine, with the
// headers set before it was detached, a Content-Length and Connection:
// close; the access log and the outer wrapper see the final status once,
// when it is answered.
func TestDetachedAnswer(t *testing.T) {
	t.Parallel()
	ds := newDetachServer(t, false)
	c := ds.send(t)
	x := ds.next(t)
	if ds.det.Open() != 1 {
		t.Errorf("open: %d, want 1", ds.det.Open())
	}
	if strings.Contains(ds.logs.String(), `msg=request`) || len(ds.counted.statuses()) != 0 {
		t.Errorf("finished before the answer: log %q, counted %v", ds.logs.String(), ds.counted.statuses())
	}
	hungUp := false
	x.OnHangup(func() { hungUp = true })
	go x.Answer(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || Logger(r.Context()) == slog.Default() {
			t.Errorf("stand-in request: method %q, request logger %v", r.Method, Logger(r.Context()) != slog.Default())
		}
		WriteError(w, TooManyRequests("slow down", 3*time.Second))
	})
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || !resp.Close || resp.Header.Get("Retry-After") != "3" ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Request-Id") == "" ||
		resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Date") == "" ||
		!strings.Contains(string(body), `"code":42901`) {
		t.Errorf("answer %d close=%v %v %q", resp.StatusCode, resp.Close, resp.Header, body)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("after the answer: %v, want EOF (closed)", err)
	}
	eventually(t, "the request is finished", func() bool { return ds.det.Open() == 0 })
	if got := ds.counted.statuses(); len(got) != 1 || got[0] != http.StatusTooManyRequests {
		t.Errorf("counted %v, want [429]", got)
	}
	if n := strings.Count(ds.logs.String(), "msg=request"); n != 1 || !strings.Contains(ds.logs.String(), "status=429") {
		t.Errorf("%d access-log lines, want one with status=429:\n%s", n, ds.logs.String())
	}
	x.Answer(func(w http.ResponseWriter, r *http.Request) { t.Error("a second Answer ran") })
	if hungUp {
		t.Error("OnHangup ran for an answered request")
	}
}

// A client that hangs up while its request is detached is noticed: the
// hangup function runs, the connection is closed and forgotten, the log
// says 499, and a late answer writes nothing.
func TestDetachedHangup(t *testing.T) {
	t.Parallel()
	ds := newDetachServer(t, false)
	c := ds.send(t)
	x := ds.next(t)
	hung := make(chan struct{})
	x.OnHangup(func() { close(hung) })
	c.Close()
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("the client's hangup was not noticed")
	}
	eventually(t, "the request is forgotten", func() bool { return ds.det.Open() == 0 })
	if got := ds.counted.statuses(); len(got) != 1 || got[0] != StatusClientClosedRequest {
		t.Errorf("counted %v, want [499]", got)
	}
	if !strings.Contains(ds.logs.String(), "status=499") {
		t.Errorf("no access-log line with 499:\n%s", ds.logs.String())
	}
	x.Answer(func(w http.ResponseWriter, r *http.Request) { t.Error("Answer ran after the hangup") })
	// OnHangup after the fact runs at once.
	late := false
	x.OnHangup(func() { late = true })
	if !late {
		t.Error("OnHangup registered after the hangup did not run")
	}
}

// HTTP/2 requests cannot be detached; the handler answers in place.
func TestDetachHTTP2(t *testing.T) {
	t.Parallel()
	ds := newDetachServer(t, true)
	c := ds.srv.Client()
	resp, err := c.Post(ds.srv.URL+"/auth/v2/auth", "application/x-www-form-urlencoded", strings.NewReader("a=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("X-Detach") != "no" || resp.StatusCode != http.StatusOK {
		t.Errorf("HTTP/%d %d X-Detach=%q, want HTTP/2 answered in place", resp.ProtoMajor, resp.StatusCode, resp.Header.Get("X-Detach"))
	}
}

// A panic while rendering a detached answer answers 500 instead of ending
// the process.
func TestDetachedAnswerPanics(t *testing.T) {
	t.Parallel()
	ds := newDetachServer(t, false)
	c := ds.send(t)
	x := ds.next(t)
	go x.Answer(func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
}

// Shutdown waits for detached requests to be answered until its context
// ends, then closes the rest (their hangup functions run); afterwards
// nothing more is detached.
func TestDetacherShutdown(t *testing.T) {
	t.Parallel()
	ds := newDetachServer(t, false)
	ca, cb := ds.send(t), ds.send(t)
	xa, xb := ds.next(t), ds.next(t)
	var hangups atomic.Int32
	xa.OnHangup(func() { hangups.Add(1) })
	xb.OnHangup(func() { hangups.Add(1) })
	go func() {
		time.Sleep(50 * time.Millisecond)
		xa.Answer(func(w http.ResponseWriter, r *http.Request) { WriteOK(w, "late but in time") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := ds.det.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline (one request was never answered)", err)
	}
	if hangups.Load() != 1 || ds.det.Open() != 0 {
		t.Errorf("hangups %d, open %d; want 1 and 0", hangups.Load(), ds.det.Open())
	}
	// The answered one got its answer (one of the two connections was
	// answered, but which is which depends on arrival order).
	answered := 0
	for _, c := range []*tls.Conn{ca, cb} {
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode == http.StatusOK {
			answered++
		}
	}
	if answered != 1 {
		t.Errorf("%d connections answered, want 1", answered)
	}
	// After Shutdown, requests are answered in place.
	resp, err := http.ReadResponse(bufio.NewReader(ds.send(t)), nil)
	if err != nil || resp.Header.Get("X-Detach") != "no" {
		t.Errorf("after Shutdown: %v %v, want answered in place", resp, err)
	}
}

// Detached requests keep no goroutine each.
func TestDetachedWithoutGoroutines(t *testing.T) {
	ds := newDetachServer(t, false)
	const n = 100
	conns := make([]*tls.Conn, n)
	xs := make([]*Detached, n)
	before := runtime.NumGoroutine()
	for i := range n {
		conns[i] = ds.send(t)
		xs[i] = ds.next(t)
	}
	eventually(t, "serving goroutines end", func() bool { return runtime.NumGoroutine() < before+20 })
	for _, x := range xs {
		go x.Answer(func(w http.ResponseWriter, r *http.Request) { WriteOK(w, "ok") })
	}
	for i, c := range conns {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("conn %d: %v %v", i, resp, err)
		}
	}
}

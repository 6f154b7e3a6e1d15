// Package logthrottle writes warnings about repeated events (connections
// refused, accept errors, requests over a limit) at most once per interval
// per kind, each line with the number of events it stands for. A flood then
// gives a few lines with counts instead of one line per event, which would
// hide everything else and could fill the disk.
package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger throttles warnings by key. It is safe for concurrent use.
type Logger struct {
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex
	windows map[string]*window // keys with a line written less than every ago
}

// window is one key's interval after a line: events are counted and the
// latest message and attributes kept for the next line.
type window struct {
	msg   string
	attrs []slog.Attr
	count int
	timer *time.Timer
}

// New returns a Logger writing to log at most one line per key every
// interval.
func New(log *slog.Logger, every time.Duration) *Logger {
	return &Logger{log: log, every: every, windows: map[string]*window{}}
}

// Warn records one event of kind key. The first event of a quiet key is
// written at once (count=1); later ones within the interval are counted and
// written together when it ends (count=N, with the latest msg and attrs).
// Callers use a fixed, small set of keys.
func (l *Logger) Warn(key, msg string, attrs ...slog.Attr) {
	l.mu.Lock()
	w, ok := l.windows[key]
	if ok {
		w.msg, w.attrs = msg, attrs
		w.count++
		l.mu.Unlock()
		return
	}
	// Timers, not the injected clock: they only pace log lines.
	l.windows[key] = &window{timer: time.AfterFunc(l.every, func() { l.tick(key) })}
	l.mu.Unlock()
	l.emit(msg, 1, attrs)
}

// tick ends key's interval: it writes the events counted, and starts a new
// interval, or forgets the key when there were none.
func (l *Logger) tick(key string) {
	l.mu.Lock()
	w, ok := l.windows[key]
	if !ok {
		l.mu.Unlock()
		return
	}
	if w.count == 0 {
		delete(l.windows, key)
		l.mu.Unlock()
		return
	}
	msg, attrs, n := w.msg, w.attrs, w.count
	w.count = 0
	w.timer.Reset(l.every)
	l.mu.Unlock()
	l.emit(msg, n, attrs)
}

// Flush writes the events counted so far without waiting for their
// intervals to end (at shutdown, and in tests).
func (l *Logger) Flush() {
	type line struct {
		msg   string
		attrs []slog.Attr
		n     int
	}
	var lines []line
	l.mu.Lock()
	for _, w := range l.windows {
		if w.count > 0 {
			lines = append(lines, line{w.msg, w.attrs, w.count})
			w.count = 0
		}
	}
	l.mu.Unlock()
	for _, ln := range lines {
		l.emit(ln.msg, ln.n, ln.attrs)
	}
}

func (l *Logger) emit(msg string, n int, attrs []slog.Attr) {
	all := make([]slog.Attr, 0, len(attrs)+1)
	all = append(all, attrs...)
	all = append(all, slog.Int("count", n))
	l.log.LogAttrs(context.Background(), slog.LevelWarn, msg, all...)
}

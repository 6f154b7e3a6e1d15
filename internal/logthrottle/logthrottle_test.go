package logthrottle

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func newLogger(every time.Duration) (*Logger, *buffer) {
	buf := &buffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	return New(log, every), buf
}

// A flood of events gives one line at once and one line with the count of
// the rest, per key, at warning level.
func TestFloodGivesCountedLines(t *testing.T) {
	l, buf := newLogger(time.Hour)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 125 {
				l.Warn("per_ip", "connections refused", slog.String("reason", "per_ip"), slog.Int("n", i*1000+j))
			}
		})
	}
	wg.Wait()
	l.Warn("global", "connections refused", slog.String("reason", "global"))
	got := buf.lines()
	if len(got) != 2 {
		t.Fatalf("after 1001 events of two kinds, %d lines, want 2:\n%s", len(got), strings.Join(got, "\n"))
	}
	for _, ln := range got {
		if !strings.HasPrefix(ln, "level=WARN") || !strings.HasSuffix(ln, "count=1") {
			t.Errorf("line %q: want a WARN line with count=1", ln)
		}
	}
	l.Flush()
	got = buf.lines()
	if len(got) != 3 || !strings.Contains(got[2], "reason=per_ip") || !strings.HasSuffix(got[2], "count=999") {
		t.Fatalf("after Flush: want a third line for per_ip with count=999:\n%s", strings.Join(got, "\n"))
	}
	l.Flush()
	if n := len(buf.lines()); n != 3 {
		t.Errorf("a second Flush with nothing new wrote %d more lines", n-3)
	}
	// Still within the interval: counted, not written.
	l.Warn("per_ip", "connections refused", slog.String("reason", "per_ip"))
	if n := len(buf.lines()); n != 3 {
		t.Errorf("an event within the interval was written at once")
	}
}

// When an interval ends the counted events are written; after a quiet
// interval the key is forgotten, so the next event is written at once.
func TestIntervalEnds(t *testing.T) {
	l, buf := newLogger(10 * time.Millisecond)
	l.Warn("k", "accept failed", slog.String("err", "a"))
	l.Warn("k", "accept failed", slog.String("err", "b"))
	l.Warn("k", "accept failed", slog.String("err", "c"))
	waitFor(t, func() bool { return len(buf.lines()) == 2 })
	if got := buf.lines()[1]; !strings.Contains(got, "err=c") || !strings.HasSuffix(got, "count=2") {
		t.Errorf("second line %q: want the latest attrs and count=2", got)
	}
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.windows) == 0 })
	l.Warn("k", "accept failed", slog.String("err", "d"))
	if got := buf.lines(); len(got) != 3 || !strings.HasSuffix(got[2], "count=1") {
		t.Errorf("after a quiet interval the event was not written at once:\n%s", strings.Join(got, "\n"))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

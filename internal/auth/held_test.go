package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Requests the core would hold (a synchronous push, an auth_status long
// poll) are refused with KindRateLimited once MaxHeldRequests wait; a
// refused synchronous push sends nothing to the device.
func TestMaxHeldRequests(t *testing.T) {
	t.Parallel()
	logs := &syncBuf{}
	f := newFixture(t, auth.Options{MaxHeldRequests: 2, Now: time.Now, PushTimeout: 15 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := context.Background()
	a := f.device(t, "alice")
	tx1, err := f.svc.Auth(ctx, f.pushReq("alice", true))
	if err != nil {
		t.Fatal(err)
	}
	tx2, err := f.svc.Auth(ctx, f.pushReq("alice", true))
	if err != nil {
		t.Fatal(err)
	}

	// Two held: an auth_status long poll and a synchronous push.
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	polled := make(chan error, 1)
	go func() { _, err := f.svc.AuthStatus(pollCtx, f.in, tx1.TxID); polled <- err }()
	waitHeld(t, f.svc, 1)
	synced := make(chan auth.AuthResult, 1)
	go func() {
		res, err := f.svc.Auth(ctx, f.pushReq("alice", false))
		if err != nil {
			t.Error(err)
		}
		synced <- res
	}()
	waitHeld(t, f.svc, 2)
	pending, err := f.svc.Pending(ctx, a.Device.ID)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending pushes: %d, %v; want 3", len(pending), err)
	}

	// A third of either kind is refused at once, with a retry time.
	for what, call := range map[string]func() error{
		"auth_status": func() error { _, err := f.svc.AuthStatus(ctx, f.in, tx2.TxID); return err },
		"sync push":   func() error { _, err := f.svc.Auth(ctx, f.pushReq("alice", false)); return err },
	} {
		err := call()
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Kind != auth.KindRateLimited || ae.RetryAfter <= 0 {
			t.Errorf("%s over the cap: %v, want KindRateLimited with RetryAfter", what, err)
		}
	}
	if p, _ := f.svc.Pending(ctx, a.Device.ID); len(p) != 3 {
		t.Errorf("a refused synchronous push reached the device: %d pending, want 3", len(p))
	}
	// Requests that hold nothing are not refused.
	if _, err := f.svc.Auth(ctx, f.pushReq("alice", true)); err != nil {
		t.Errorf("an async push over the cap: %v", err)
	}
	if st := f.svc.HeldRequests(); st.Open != 2 || st.Max != 2 || st.Refused != 2 {
		t.Errorf("HeldRequests() = %+v, want 2 open of 2, 2 refused", st)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"held requests at their limit"); n != 1 {
		t.Errorf("%d warnings for two refusals, want 1 (throttled):\n%s", n, logs.String())
	}

	// Places come back when held requests end.
	stopPoll()
	if err := <-polled; err == nil {
		t.Error("cancelled auth_status returned no error")
	}
	waitHeld(t, f.svc, 1)
	shortCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := f.svc.AuthStatus(shortCtx, f.in, tx2.TxID); auth.IsKind(err, auth.KindRateLimited) {
		t.Errorf("auth_status refused after a place was freed: %v", err)
	}
	p, _ := f.svc.Pending(ctx, a.Device.ID)
	for _, tx := range p {
		if tx.ID != tx1.TxID && tx.ID != tx2.TxID {
			_ = f.svc.Answer(ctx, a.Device.ID, tx.ID, true)
		}
	}
	if res := <-synced; res.Result != "allow" {
		t.Errorf("held synchronous push: %+v, want allow", res)
	}
	waitHeld(t, f.svc, 0)
}

func waitHeld(t *testing.T, svc *auth.Service, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for svc.HeldRequests().Open != n {
		if time.Now().After(deadline) {
			t.Fatalf("held requests: %d, want %d", svc.HeldRequests().Open, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

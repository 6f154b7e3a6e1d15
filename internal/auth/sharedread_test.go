package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedReadFresh: whatever the interleaving, no caller gets a value
// older than the one stored when it called.
func TestSharedReadFresh(t *testing.T) {
	var r sharedRead[int64]
	var stored, reads atomic.Int64
	read := func(context.Context) (int64, error) {
		reads.Add(1)
		v := stored.Load()
		time.Sleep(50 * time.Microsecond)
		return v, nil
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	const callers, calls = 32, 200
	for range callers {
		wg.Go(func() {
			for range calls {
				before := stored.Add(1) // a change made before the call
				got, err := r.do(ctx, read)
				if err != nil {
					t.Error(err)
					return
				}
				if got < before {
					t.Errorf("got version %d, older than %d stored before the call", got, before)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d reads for %d calls", reads.Load(), callers*calls)
}

// TestSharedReadShares: the callers arriving during a read share one read
// after it, and get its value.
func TestSharedReadShares(t *testing.T) {
	var r sharedRead[int]
	release := make(chan struct{})
	var reads atomic.Int32
	read := func(context.Context) (int, error) {
		n := int(reads.Add(1))
		if n == 1 {
			<-release
		}
		return n, nil
	}
	ctx := t.Context()
	first := make(chan int)
	go func() {
		v, _ := r.do(ctx, read)
		first <- v
	}()
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const waiters = 20
	var wg sync.WaitGroup
	got := make([]int, waiters)
	for i := range waiters {
		wg.Go(func() {
			v, err := r.do(ctx, read)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	// Let every waiter reach do before the first read ends.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		n := r.next
		r.mu.Unlock()
		if n != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	if v := <-first; v != 1 {
		t.Errorf("first caller got %d, want 1", v)
	}
	wg.Wait()
	for i, v := range got {
		if v != 2 {
			t.Errorf("waiter %d got read #%d, want the shared read #2", i, v)
		}
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}

// TestSharedReadLeaderCanceled: when the caller running a shared read has
// its context canceled, the others read for themselves instead of failing.
func TestSharedReadLeaderCanceled(t *testing.T) {
	var r sharedRead[int]
	block := make(chan struct{})
	read := func(ctx context.Context) (int, error) {
		if err := ctx.Err(); err != nil { // as the store's point reads do
			return 0, err
		}
		select {
		case <-block:
			return 7, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	// Hold a first read so that the next two callers share the second.
	holdCtx := t.Context()
	held := make(chan struct{})
	go func() {
		defer close(held)
		if _, err := r.do(holdCtx, func(context.Context) (int, error) { <-block; return 1, nil }); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.cur != nil })
	leaderCtx, cancel := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() { _, err := r.do(leaderCtx, read); leaderErr <- err }()
	waitFor(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.next != nil })
	follower := make(chan int, 1)
	go func() {
		v, err := r.do(t.Context(), read)
		if err != nil {
			t.Error(err)
		}
		follower <- v
	}()
	time.Sleep(20 * time.Millisecond) // the follower joins next
	cancel()
	close(block)
	<-held
	if err := <-leaderErr; err == nil {
		t.Error("leader: no error, want its context's")
	}
	if v := <-follower; v != 7 {
		t.Errorf("follower got %d, want 7 from a read of its own", v)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

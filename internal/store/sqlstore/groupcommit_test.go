package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// TestGroupCommit queues many transactions behind one that holds the
// writer, so they run as one batch, and checks that each caller gets the
// outcome of its own transaction: successes committed, a failing or
// panicking fn rolled back alone (and the panic re-raised in its caller),
// a canceled caller not run at all.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	s := openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	ctx := t.Context()
	const n = 60
	errWant := errors.New("fn failed")

	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // registered after openSQLite's Close, so it runs first
	started := make(chan struct{})
	var holder sync.WaitGroup
	holder.Go(func() {
		err := s.InTx(ctx, func(q store.Queries) error {
			close(started)
			<-release
			return q.PutSetting(ctx, "holder", "1")
		})
		if err != nil {
			t.Errorf("holder: %v", err)
		}
	})
	<-started // the holder's transaction holds the writer
	before := s.writes.Load()

	type outcome struct {
		err      error
		panicVal any
	}
	outcomes := make([]outcome, n)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() { outcomes[i].panicVal = recover() }()
			c := ctx
			if i%11 == 3 {
				c = canceled
			}
			outcomes[i].err = s.InTx(c, func(q store.Queries) error {
				if err := q.PutSetting(ctx, fmt.Sprint("k", i), fmt.Sprint(i)); err != nil {
					return err
				}
				switch {
				case i%5 == 1:
					return errWant
				case i%7 == 2:
					panic(fmt.Sprint("boom ", i))
				}
				return nil
			})
		})
	}
	// Wait until every live caller is queued behind the holder.
	deadline := time.Now().Add(10 * time.Second)
	for len(s.wreqs) < n-countCanceled(n) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d transactions queued", len(s.wreqs), n)
		}
		time.Sleep(time.Millisecond)
	}
	unblock()
	holder.Wait()
	wg.Wait()

	for i, o := range outcomes {
		_, err := s.GetSetting(ctx, fmt.Sprint("k", i))
		stored := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("k%d: %v", i, err)
		}
		switch {
		case i%11 == 3:
			if !errors.Is(o.err, context.Canceled) || stored {
				t.Errorf("canceled caller %d: err %v, stored %v", i, o.err, stored)
			}
		case i%5 == 1:
			if !errors.Is(o.err, errWant) || stored {
				t.Errorf("failing caller %d: err %v, stored %v", i, o.err, stored)
			}
		case i%7 == 2:
			if o.panicVal != fmt.Sprint("boom ", i) || stored {
				t.Errorf("panicking caller %d: panic %v, stored %v", i, o.panicVal, stored)
			}
		default:
			if o.err != nil || o.panicVal != nil || !stored {
				t.Errorf("caller %d: err %v, panic %v, stored %v", i, o.err, o.panicVal, stored)
			}
		}
	}
	// The holder's commit, then one for all the queued callers.
	if got := s.writes.Load() - before; got != 2 {
		t.Errorf("%d commits, want 2 (the holder, then one batch)", got)
	}
}

func countCanceled(n int) int {
	c := 0
	for i := range n {
		if i%11 == 3 {
			c++
		}
	}
	return c
}

// TestGroupCommitClosed: a transaction after Close fails cleanly.
func TestGroupCommitClosed(t *testing.T) {
	t.Parallel()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err = s.InTx(t.Context(), func(q store.Queries) error { return nil })
	if !errors.Is(err, errClosed) {
		t.Fatalf("InTx after Close: %v, want errClosed", err)
	}
}

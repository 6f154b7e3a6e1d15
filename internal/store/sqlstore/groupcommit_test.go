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

// TestGroupCommitAuthLogStamp: in one batch, auth-log rows are stamped
// with the clock as the transaction sees it at their INSERT. A seal undone
// with its caller's savepoint does not raise the rows after it; a seal
// committed earlier in the batch does. The IDs and stamps the callers get
// are the ones stored.
func TestGroupCommitAuthLogStamp(t *testing.T) {
	t.Parallel()
	s := openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	errUndo := errors.New("undo the seal")

	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := s.InTx(ctx, func(q store.Queries) error {
			close(started)
			<-release
			return nil
		})
		if err != nil {
			t.Errorf("holder: %v", err)
		}
	})
	<-started

	// Queued one after another, so that they run in this order.
	rows := make([]store.AuthLog, 4)
	steps := []func(q store.Queries) error{
		func(q store.Queries) error { // an earlier row, then a seal undone
			if err := q.AppendAuthLog(ctx, &rows[0]); err != nil {
				return err
			}
			if _, err := q.SealLogs(ctx, store.LogAuth, now.Add(time.Hour)); err != nil {
				return err
			}
			return errUndo
		},
		func(q store.Queries) error { return q.AppendAuthLog(ctx, &rows[1]) },
		func(q store.Queries) error {
			_, err := q.SealLogs(ctx, store.LogAuth, now.Add(2*time.Hour))
			return err
		},
		func(q store.Queries) error { return q.AppendAuthLog(ctx, &rows[2]) },
	}
	for i := range rows {
		rows[i] = store.AuthLog{TxID: fmt.Sprint("tx", i), Time: now, Result: "allow"}
	}
	errs := make([]error, len(steps))
	for i, step := range steps {
		wg.Go(func() { errs[i] = s.InTx(ctx, step) })
		deadline := time.Now().Add(10 * time.Second)
		for len(s.wreqs) < i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("step %d not queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	unblock()
	wg.Wait()
	if !errors.Is(errs[0], errUndo) {
		t.Errorf("step 0: %v, want %v", errs[0], errUndo)
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("step %d: %v", i+1, err)
		}
	}
	if !rows[1].Time.Equal(now) {
		t.Errorf("row after an undone seal stamped %v, want its own time %v", rows[1].Time, now)
	}
	if want := now.Add(2 * time.Hour); !rows[2].Time.Equal(want) {
		t.Errorf("row after a seal stamped %v, want the seal %v", rows[2].Time, want)
	}
	if rows[2].ID <= rows[1].ID || rows[1].ID <= 0 {
		t.Errorf("IDs %d then %d: want positive and growing", rows[1].ID, rows[2].ID)
	}
	stored, err := s.ListAuthLog(ctx, store.AuthLogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.AuthLog{}
	for _, l := range stored {
		got[l.TxID] = l
	}
	if _, ok := got["tx0"]; ok || len(stored) != 2 {
		t.Errorf("stored %d rows (%v), want tx1 and tx2 only", len(stored), got)
	}
	for _, want := range rows[1:3] {
		if g := got[want.TxID]; g.ID != want.ID || !g.Time.Equal(want.Time) {
			t.Errorf("%s stored as ID %d at %v, caller was told ID %d at %v", want.TxID, g.ID, g.Time, want.ID, want.Time)
		}
	}
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
)

// Group commit (SQLite). SQLite has one writer, so every write transaction
// waits for the previous one's COMMIT, and the commit (WAL frames for the
// users page, the auth_log table and index pages) is most of the work. One
// writer goroutine therefore takes every transaction waiting in line, runs
// them one after another inside a single BEGIN IMMEDIATE … COMMIT, each in
// its own SAVEPOINT, and answers each caller only after the COMMIT. A caller
// whose fn fails is rolled back to its savepoint alone; the others still
// commit. Callers see exactly the semantics of a transaction of their own
// run in arrival order; only the shared pages are written once per batch.
// It also keeps SQLite's deep stacks on one goroutine instead of on every
// waiting handler.

// maxBatch bounds the transactions committed together (and the queue).
const maxBatch = 128

type writeReq struct {
	ctx  context.Context
	fn   func(q *queries) error
	done chan writeRes
}

type writeRes struct {
	err      error
	panicked bool
	panicVal any
}

var errClosed = errors.New("sqlstore: store is closed")

// inBatch hands fn to the writer goroutine and waits for the outcome of the
// batch it joins. A panic in fn is re-raised here, on the caller's goroutine.
func (s *Store) inBatch(ctx context.Context, fn func(q *queries) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeRes, 1)}
	select {
	case <-s.stop:
		return errClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	select {
	case s.wreqs <- req:
	case <-ctx.Done():
		return fmt.Errorf("sqlstore: begin: %w", ctx.Err())
	case <-s.stop:
		return errClosed
	}
	// Once queued, wait for the answer even if ctx ends: fn may already be
	// running, and the caller must learn whether it was committed.
	var res writeRes
	select {
	case res = <-req.done:
	case <-s.wdone:
		// The writer has stopped; it may have answered just before.
		select {
		case res = <-req.done:
		default:
			return errClosed
		}
	}
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

// writer runs the batches until Close.
func (s *Store) writer() {
	defer close(s.wdone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case <-s.stop:
			s.failQueued()
			return
		case r := <-s.wreqs:
			batch = append(batch[:0], r)
		}
		if len(s.wreqs) == 0 {
			// Alone in line: let the goroutines that are about to join it
			// (handlers that just finished their reads) run first. The
			// commit costs about the same for one transaction as for many,
			// and with nothing else runnable this returns at once.
			runtime.Gosched()
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.wreqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.runBatch(batch)
		// Statements first used by this batch are prepared now that the
		// write connection is free.
		s.wst.prepareWanted(context.Background())
		clear(batch)
	}
}

// failQueued answers requests still queued when the store closes.
func (s *Store) failQueued() {
	for {
		select {
		case r := <-s.wreqs:
			r.done <- writeRes{err: errClosed}
		default:
			return
		}
	}
}

// runBatch commits batch in one transaction and answers every request.
func (s *Store) runBatch(batch []*writeReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- writeRes{err: fmt.Errorf("sqlstore: begin: %w", err)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The transaction belongs to the whole batch: no caller's context may
	// cancel it.
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		s.countErr(err)
		for _, r := range live {
			r.done <- writeRes{err: fmt.Errorf("sqlstore: begin: %w", err)}
		}
		return
	}
	// noCancel: a caller's context ending must not interrupt a statement,
	// since SQLite then rolls back the whole transaction, every caller's.
	q := &queries{db: tx, d: s.d, tx: true, stmts: s.wst, sqlTx: tx, noCancel: true, txStmts: make(map[string]*sql.Stmt), errs: &s.errs}
	savepoints := len(live) > 1
	results := make([]writeRes, len(live))
	var fatal error // the batch transaction itself is broken
	for i, r := range live {
		if savepoints {
			if _, err := q.exec(ctx, "SAVEPOINT b"); err != nil {
				fatal = fmt.Errorf("sqlstore: savepoint: %w", err)
				break
			}
		}
		results[i] = runOne(r, q)
		if !savepoints {
			break
		}
		if results[i].err != nil || results[i].panicked {
			if _, err := q.exec(ctx, "ROLLBACK TO b"); err != nil {
				fatal = fmt.Errorf("sqlstore: rollback to savepoint: %w", err)
				break
			}
			q.authClockKnown = false // a seal of fn's may have been undone
		}
		if _, err := q.exec(ctx, "RELEASE b"); err != nil {
			fatal = fmt.Errorf("sqlstore: release savepoint: %w", err)
			break
		}
	}
	failedAlone := !savepoints && (results[0].err != nil || results[0].panicked)
	if fatal != nil || failedAlone {
		if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) && fatal != nil {
			fatal = errors.Join(fatal, fmt.Errorf("sqlstore: rollback: %w", err))
		}
	} else if err := tx.Commit(); err != nil {
		s.countErr(err)
		fatal = fmt.Errorf("sqlstore: commit: %w", err)
	} else {
		s.writes.Add(1)
	}
	for i, r := range live {
		res := results[i]
		if fatal != nil && !res.panicked {
			// Nothing of this batch was committed, whatever fn returned.
			res.err = errors.Join(res.err, fatal)
		}
		r.done <- res
	}
}

// runOne runs one request's fn, catching a panic so that it can be
// re-raised on the caller's goroutine.
func runOne(r *writeReq, q *queries) (res writeRes) {
	defer func() {
		if v := recover(); v != nil {
			res = writeRes{panicked: true, panicVal: v}
		}
	}()
	return writeRes{err: r.fn(q)}
}

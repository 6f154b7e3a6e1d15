package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Waiting for a push's answer costs no goroutine: a watch is a small record
// woken by the broker (an answer on any node) or by one timer (the push's
// expiry, a periodic recheck, the end of the wait), and its checks run on
// the few goroutines of a checkQueue. A request that waits in its handler
// (Auth, AuthStatus) blocks on a channel; an edge that can hold the request
// without its goroutine (the Auth API hands the connection over, see
// internal/httpapi's Detacher) uses StartAuth and Held.Watch instead.

// Auth authenticates a user (see startAuth); a synchronous push waits here
// for the device's answer, the push's expiry or the end of ctx.
func (s *Service) Auth(ctx context.Context, req AuthRequest) (AuthResult, error) {
	return s.startAuth(ctx, req, nil)
}

// StartAuth is Auth without the wait: a synchronous push returns, once it
// was sent, a Held and no result. The caller must then call exactly one of
// Held.Wait or Held.Watch; until the Held ends it keeps its place among
// Options.MaxHeldRequests. Every other request returns its result (and a
// nil Held) as Auth does.
func (s *Service) StartAuth(ctx context.Context, req AuthRequest) (AuthResult, *Held, error) {
	var h *Held // allocated only for a push to hold
	res, err := s.startAuth(ctx, req, &h)
	if err != nil {
		return res, nil, err
	}
	return res, h, nil
}

// awaitPush waits for the synchronous push txid, holding place; with held
// it returns the Held there at once, for StartAuth's caller to wait.
func (s *Service) awaitPush(ctx context.Context, in store.Integration, t store.Transaction, place *heldPlace, held **Held) (AuthResult, error) {
	h := &Held{place: place.take(), in: in, maxWait: max(t.Expires.Sub(s.now()), 0) + time.Second}
	h.s, h.txid, h.ctx, h.timeOutAtEnd = s, t.ID, s.waitContext(ctx), true
	if held != nil {
		*held = h
		return AuthResult{}, nil
	}
	return h.Wait(ctx)
}

// Held is a synchronous push that was sent and waits for its device's
// answer (see StartAuth).
type Held struct {
	watch
	place *heldPlace
	in    store.Integration // whose policy may remember the device
	// maxWait bounds the wait: the push's or call's expiry, and a second.
	maxWait time.Duration
}

// TxID is the push's transaction.
func (h *Held) TxID() string { return h.txid }

// Wait waits for the push's decision, as Auth does.
func (h *Held) Wait(ctx context.Context) (AuthResult, error) {
	type answer struct {
		res AuthResult
		err error
	}
	ch := make(chan answer, 1)
	h.Watch(func(res AuthResult, err error) { ch <- answer{res, err} })
	select {
	case a := <-ch:
		return a.res, a.err
	case <-ctx.Done():
		h.Cancel()
		return AuthResult{}, wrap("wait for push", ctx.Err())
	}
}

// Watch starts waiting and returns at once. done runs once, on a goroutine
// of the core, with the decision (allow, deny, or the timeout's deny) or
// with the error that ended the wait; it must not block for long. It does
// not run once Cancel has returned, unless it had already started.
func (h *Held) Watch(done func(AuthResult, error)) {
	h.start(h.s, h.maxWait, func(t store.Transaction, err error) {
		h.place.release()
		if err != nil {
			done(AuthResult{}, wrap("wait for push", err))
			return
		}
		if t.State == store.TxFailed {
			done(AuthResult{}, fmt.Errorf("phone call %s: %w", t.ID, ErrCallFailed))
			return
		}
		st := h.s.txStatus(t)
		res := AuthResult{Result: st.Result, Status: st.Status, StatusMsg: st.StatusMsg, TxID: t.ID}
		if t.State == store.TxAllow && h.in.IKey == t.IKey {
			res.TrustedDeviceToken, _ = h.s.RememberToken(h.in, t.UserID, txGroupIDs(t))
		}
		done(res, nil)
	})
}

// Cancel ends the wait (the client went away) and gives its place back.
// The push itself stays pending until its device answers or it expires.
func (h *Held) Cancel() {
	h.cancel()
	h.place.release()
}

// waitTx waits until the transaction t leaves TxPushed, times out, or
// maxWait passes, and returns its latest state; a call's wait also ends
// when its progress changes (auth_status reports each stage).
func (s *Service) waitTx(ctx context.Context, t store.Transaction, maxWait time.Duration) (store.Transaction, error) {
	txid := t.ID
	type answer struct {
		t   store.Transaction
		err error
	}
	ch := make(chan answer, 1)
	w := &watch{txid: txid, ctx: s.waitContext(ctx), untilProgress: t.Factor == FactorPhone, progress: t.Progress}
	w.start(s, maxWait, func(t store.Transaction, err error) { ch <- answer{t, err} })
	select {
	case a := <-ch:
		return a.t, a.err
	case <-ctx.Done():
		w.cancel()
		return store.Transaction{}, ctx.Err()
	}
}

// waitContext is what a wait's store calls run with: never canceled (a
// watch ends through cancel, and a check under way is not cut short), and
// keeping only the request's logger, not the request.
func (s *Service) waitContext(ctx context.Context) context.Context {
	return WithLogger(context.Background(), s.log(ctx))
}

// watchPhase is where a watch stands.
type watchPhase uint8

const (
	watchIdle     watchPhase = iota // waiting for a wake-up or its timer
	watchChecking                   // a check is queued or running
	watchRecheck                    // woken during a check: check again
	watchDone                       // ended: decided, given up or canceled
)

// watch waits for a transaction to leave TxPushed. It subscribes before it
// first reads the transaction, so an answer committed in between still
// wakes it.
type watch struct {
	s        *Service
	txid     string
	ctx      context.Context // see waitContext
	deadline time.Time       // when the wait gives up (real time)
	done     func(store.Transaction, error)
	// timeOutAtEnd: when EndHeld ends the wait, the push is recorded as
	// timed out (a synchronous push, whose request is answered now);
	// otherwise it stays pending (auth_status: the client asks again).
	timeOutAtEnd bool
	// untilProgress: the wait also ends when the call's progress is no
	// longer progress (auth_status of a phone call).
	untilProgress bool
	progress      string

	mu    sync.Mutex
	phase watchPhase
	timer *time.Timer // wakes it at the deadline, the expiry or to recheck
	stop  func()      // ends the broker subscription
}

// start subscribes and queues the first check; done runs once when the
// watch ends other than by cancel.
func (w *watch) start(s *Service, maxWait time.Duration, done func(store.Transaction, error)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil || w.phase == watchDone {
		return // started or canceled before
	}
	w.s, w.done, w.deadline = s, done, time.Now().Add(maxWait)
	w.phase = watchChecking
	w.stop = s.opts.Broker.Subscribe(w.txid, w.kick)
	s.watches.Store(w, struct{}{})
	s.checks.run(w.check)
}

// kick asks for a check: the broker published the transaction, or the
// timer fired.
func (w *watch) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.phase {
	case watchIdle:
		w.phase = watchChecking
		w.s.checks.run(w.check)
	case watchChecking:
		w.phase = watchRecheck
	}
}

// check reads the transaction (recording its timeout once it expired), and
// either ends the watch or sets its timer.
func (w *watch) check() {
	for {
		ending := w.s.ending.Load()
		t, err := w.s.settle(w.ctx, w.txid, ending && w.timeOutAtEnd)
		w.mu.Lock()
		if w.phase == watchDone {
			w.mu.Unlock()
			return // canceled meanwhile
		}
		left := time.Until(w.deadline)
		if err != nil || t.State != store.TxPushed || left <= 0 || ending || (w.untilProgress && t.Progress != w.progress) {
			w.phase = watchDone
			w.stopTimer()
			w.mu.Unlock()
			w.stop()
			w.s.watches.Delete(w)
			w.done(t, err)
			return
		}
		if w.phase == watchRecheck {
			w.phase = watchChecking
			w.mu.Unlock()
			continue
		}
		// Wake at the deadline, at expiry (to record the timeout), or to
		// recheck, whichever comes first.
		wait := min(left, max(t.Expires.Sub(w.s.opts.Now()), 0)+10*time.Millisecond, recheckEvery)
		w.phase = watchIdle
		if w.timer == nil {
			w.timer = time.AfterFunc(wait, w.kick)
		} else {
			w.timer.Reset(wait)
		}
		w.mu.Unlock()
		return
	}
}

// cancel ends the watch without calling done (unless it already runs).
func (w *watch) cancel() {
	w.mu.Lock()
	if w.phase == watchDone {
		w.mu.Unlock()
		return
	}
	started := w.done != nil
	w.phase = watchDone
	w.stopTimer()
	w.mu.Unlock()
	if started {
		w.stop()
		w.s.watches.Delete(w)
	}
}

// EndHeld ends every wait for a device's answer, now and from now on: the
// server stops (SIGTERM) and its drain time is over. A synchronous push
// still waiting is recorded as timed out, with its auth-log row, and its
// request is answered as a timeout; an auth_status long poll is answered
// with the push's current state (still waiting: the client asks again,
// after the restart or on another node), and its push stays pending.
func (s *Service) EndHeld() {
	s.ending.Store(true)
	s.watches.Range(func(k, _ any) bool {
		k.(*watch).kick()
		return true
	})
}

func (w *watch) stopTimer() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// maxCheckers bounds the goroutines checking watched transactions.
const maxCheckers = 8

// checkQueue runs checks on at most maxCheckers goroutines, started when
// there is work and ended when there is none. A burst (every waiter woken
// after the notification connection was lost, pushes sent together and
// expiring together) is worked through at a bounded pace and with bounded
// memory, rather than by thousands of goroutines at once.
type checkQueue struct {
	mu      sync.Mutex
	queue   []func()
	workers int
}

func (q *checkQueue) run(f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queue = append(q.queue, f)
	if q.workers < maxCheckers {
		q.workers++
		go q.work()
	}
}

func (q *checkQueue) work() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.workers--
			q.queue = nil // let a burst's backing array go
			q.mu.Unlock()
			return
		}
		f := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		f()
	}
}

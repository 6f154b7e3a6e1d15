// Package push wakes requests that wait for an out-of-band answer (a push
// approved or denied on a device). A waiter subscribes to a transaction ID
// before it reads the transaction's state; whoever changes that state
// publishes the ID after committing. Local works inside one process;
// Postgres adds LISTEN/NOTIFY so an answer received by one Assent node wakes
// the request waiting on another.
//
// A subscription is a function, not a channel: a waiter needs no goroutine
// of its own while it waits (see internal/auth's watch), so ten thousand
// held requests cost ten thousand small records here, not ten thousand
// goroutine stacks.
package push

import (
	"context"
	"slices"
	"sync"
)

// Local is an in-process broker.
type Local struct {
	mu   sync.Mutex
	subs map[string][]*sub // txid → its subscribers, usually one
}

// sub is one subscription; its address identifies it for stop.
type sub struct{ wake func() }

// NewLocal returns an empty in-process broker.
func NewLocal() *Local {
	return &Local{subs: map[string][]*sub{}}
}

// Subscribe calls wake after every Publish of txid (and after WakeAll)
// until stop is called. wake runs on the publisher's goroutine, after the
// broker's lock is released: it must return quickly (hand the work over,
// as the core's watch does) and may call stop.
func (l *Local) Subscribe(txid string, wake func()) (stop func()) {
	s := &sub{wake: wake}
	l.mu.Lock()
	l.subs[txid] = append(l.subs[txid], s)
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		list := l.subs[txid]
		i := slices.Index(list, s)
		if i < 0 {
			return // stopped before
		}
		if len(list) == 1 {
			delete(l.subs, txid)
			return
		}
		l.subs[txid] = slices.Delete(list, i, i+1)
	}
}

// Publish wakes the subscribers of txid in this process.
func (l *Local) Publish(_ context.Context, txid string) error {
	l.wake(txid)
	return nil
}

func (l *Local) wake(txid string) {
	l.mu.Lock()
	list := slices.Clone(l.subs[txid])
	l.mu.Unlock()
	for _, s := range list {
		s.wake()
	}
}

// WakeAll wakes every subscriber, so each re-reads its state; used after a
// lost connection may have dropped notifications.
func (l *Local) WakeAll() {
	l.mu.Lock()
	var all []*sub
	for _, list := range l.subs {
		all = append(all, list...)
	}
	l.mu.Unlock()
	for _, s := range all {
		s.wake()
	}
}

// Waiting reports how many subscriptions are open (for metrics and tests).
func (l *Local) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, list := range l.subs {
		n += len(list)
	}
	return n
}

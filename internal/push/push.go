// Package push wakes requests that wait for an out-of-band answer (a push
// approved or denied on a device). A waiter subscribes to a transaction ID
// before it reads the transaction's state; whoever changes that state
// publishes the ID after committing. Local works inside one process;
// Postgres adds LISTEN/NOTIFY so an answer received by one Assent node wakes
// the request waiting on another.
package push

import (
	"context"
	"sync"
)

// Local is an in-process broker.
type Local struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// NewLocal returns an empty in-process broker.
func NewLocal() *Local {
	return &Local{subs: map[string]map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value after the next Publish
// of txid (and after WakeAll), and a function that ends the subscription.
// The channel holds one pending wake-up, so none is lost between checks.
func (l *Local) Subscribe(txid string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	set := l.subs[txid]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		l.subs[txid] = set
	}
	set[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if set := l.subs[txid]; set != nil {
			delete(set, ch)
			if len(set) == 0 {
				delete(l.subs, txid)
			}
		}
	}
}

// Publish wakes the subscribers of txid in this process.
func (l *Local) Publish(_ context.Context, txid string) error {
	l.wake(txid)
	return nil
}

func (l *Local) wake(txid string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs[txid] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// WakeAll wakes every subscriber, so each re-reads its state; used after a
// lost connection may have dropped notifications.
func (l *Local) WakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, set := range l.subs {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Waiting reports how many subscriptions are open (for metrics and tests).
func (l *Local) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, set := range l.subs {
		n += len(set)
	}
	return n
}

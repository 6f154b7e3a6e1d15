package push

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// subscribe turns a subscription into a channel holding one pending wake-up.
func subscribe(b interface {
	Subscribe(string, func()) func()
}, txid string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	stop := b.Subscribe(txid, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	return ch, stop
}

func woken(ch <-chan struct{}, within time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(within):
		return false
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	a, cancelA := subscribe(l, "tx1")
	b, cancelB := subscribe(l, "tx1")
	other, cancelOther := subscribe(l, "tx2")
	defer cancelOther()
	if l.Waiting() != 3 {
		t.Fatalf("waiting = %d", l.Waiting())
	}
	_ = l.Publish(context.Background(), "tx1")
	if !woken(a, time.Second) || !woken(b, time.Second) {
		t.Fatal("subscribers of tx1 not woken")
	}
	if woken(other, 10*time.Millisecond) {
		t.Error("tx2 woken by tx1")
	}
	cancelA()
	cancelA() // stopping twice is harmless
	_ = l.Publish(context.Background(), "tx1")
	if woken(a, 10*time.Millisecond) {
		t.Error("a stopped subscription was woken")
	}
	if !woken(b, time.Second) {
		t.Error("stopping one subscription stopped another of the same txid")
	}
	cancelB()
	if l.Waiting() != 1 {
		t.Errorf("after unsubscribe waiting = %d", l.Waiting())
	}
	l.WakeAll()
	if !woken(other, time.Second) {
		t.Error("WakeAll missed a subscriber")
	}
}

// A publish on one node wakes a waiter on another node sharing PostgreSQL.
func TestPostgresAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("ASSENT_TEST_POSTGRES_DSN")
	testutil.Require(t, "PostgreSQL (ASSENT_TEST_POSTGRES_DSN)", dsn != "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	nodeA, err := NewPostgres(ctx, dsn, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nodeA.Close()
	nodeB, err := NewPostgres(ctx, dsn, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nodeB.Close()
	ch, unsub := subscribe(nodeA, "11111111-2222-4333-8444-555555555555")
	defer unsub()
	if err := nodeB.Publish(ctx, "11111111-2222-4333-8444-555555555555"); err != nil {
		t.Fatal(err)
	}
	if !woken(ch, 10*time.Second) {
		t.Fatal("node A was not woken by node B's publish")
	}
	local, unsubB := subscribe(nodeB, "tx-b")
	defer unsubB()
	if err := nodeB.Publish(ctx, "tx-b"); err != nil {
		t.Fatal(err)
	}
	if !woken(local, time.Second) {
		t.Fatal("a node's own subscriber was not woken")
	}
}

// A wake function may end its own subscription (the core's watch does, once
// the transaction is decided): the broker calls it without its lock held.
func TestWakeMayStop(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	woke := make(chan struct{}, 2)
	var stop func()
	stop = l.Subscribe("tx", func() {
		stop()
		woke <- struct{}{}
	})
	done := make(chan struct{})
	go func() { _ = l.Publish(context.Background(), "tx"); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish deadlocked on a wake function that stops its subscription")
	}
	if len(woke) != 1 || l.Waiting() != 0 {
		t.Errorf("woken %d times, %d subscriptions left; want 1 and 0", len(woke), l.Waiting())
	}
	_ = l.Publish(context.Background(), "tx")
	l.WakeAll()
	if len(woke) != 1 {
		t.Error("a stopped subscription was woken again")
	}
}

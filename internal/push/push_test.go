package push

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

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
	a, cancelA := l.Subscribe("tx1")
	b, cancelB := l.Subscribe("tx1")
	other, cancelOther := l.Subscribe("tx2")
	defer cancelOther()
	if l.Waiting() != 3 {
		t.Fatalf("waiting = %d", l.Waiting())
	}
	_ = l.Publish(context.Background(), "tx1")
	_ = l.Publish(context.Background(), "tx1") // coalesces: one pending wake-up
	if !woken(a, time.Second) || !woken(b, time.Second) {
		t.Fatal("subscribers of tx1 not woken")
	}
	if woken(a, 10*time.Millisecond) {
		t.Error("a second wake-up was queued")
	}
	if woken(other, 10*time.Millisecond) {
		t.Error("tx2 woken by tx1")
	}
	cancelA()
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
	ch, unsub := nodeA.Subscribe("11111111-2222-4333-8444-555555555555")
	defer unsub()
	if err := nodeB.Publish(ctx, "11111111-2222-4333-8444-555555555555"); err != nil {
		t.Fatal(err)
	}
	if !woken(ch, 10*time.Second) {
		t.Fatal("node A was not woken by node B's publish")
	}
	local, unsubB := nodeB.Subscribe("tx-b")
	defer unsubB()
	if err := nodeB.Publish(ctx, "tx-b"); err != nil {
		t.Fatal(err)
	}
	if !woken(local, time.Second) {
		t.Fatal("a node's own subscriber was not woken")
	}
}

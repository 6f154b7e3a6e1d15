package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestPurgeRetention drives real flows, then moves the clock: each kind of
// row goes only once its retention has passed, and an answered request's
// auth-log row stays as long as retention_auth_log says.
func TestPurgeRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{RetainAuthLog: 48 * time.Hour})
	purge := func(what string) auth.Purged {
		t.Helper()
		p, err := f.svc.Purge(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return p
	}
	logRows := func() int {
		t.Helper()
		rows, err := f.st.ListAuthLog(ctx, store.AuthLogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}

	// A push answered, a bypass code used, an unused activation code, a
	// portal link.
	dev := f.device(t, "alice")
	res, err := f.svc.Auth(ctx, f.pushReq("alice", true))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Answer(ctx, dev.Device.ID, res.TxID, true); err != nil {
		t.Fatal(err)
	}
	f.user(t, "bob", store.StatusActive)
	if r := f.passcode(t, "bob", f.codes(t, "bob", auth.NewBypassCodes{Count: 1, Uses: 1})[0]); r.Result != "allow" {
		t.Fatalf("bypass code: %+v", r)
	}
	if _, err := f.svc.Enroll(ctx, auth.EnrollRequest{Username: "carol"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.EnrollLinkToken(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	answered := logRows()
	if answered < 2 {
		t.Fatalf("%d auth-log rows after two decisions", answered)
	}

	if p := purge("at once"); p.Total() != 0 {
		t.Errorf("a purge right away deleted %+v", p)
	}
	f.clock.Advance(25 * time.Hour) // codes and links (24 h) have expired
	if p := purge("after 25 h"); p != (auth.Purged{OnetimeTokens: 2}) {
		t.Errorf("after 25 h: purged %+v, want only the expired portal link (and its per-user index)", p)
	}
	if st, err := f.svc.AuthStatus(ctx, f.in, res.TxID); err != nil || st.Result != "allow" {
		t.Errorf("auth_status after 25 h: %+v, %v", st, err)
	}
	if n := logRows(); n != answered {
		t.Errorf("after 25 h: %d auth-log rows, want %d (retention 48 h)", n, answered)
	}

	// Past the auth-log retention: the old rows go, a decision made now keeps its row.
	f.clock.Advance(24 * time.Hour)
	f.passcode(t, "bob", "000000000")
	if p := purge("after 49 h"); p.AuthLog != answered || p.Transactions != 0 || p.Activations != 0 {
		t.Errorf("after 49 h: purged %+v, want the %d old auth-log rows only", p, answered)
	}
	if n := logRows(); n != 1 {
		t.Errorf("after 49 h: %d auth-log rows, want the fresh one", n)
	}

	// Past the transactions' retention (7 days after they expired); the
	// row of 49 h is now older than 48 h too.
	f.clock.Advance(6 * 24 * time.Hour)
	p := purge("after 7 days")
	if p.Transactions < 1 || p.Activations != 2 || p.AuthLog != 1 {
		t.Errorf("after 7 days: purged %+v, want the push, both activation codes and one auth-log row", p)
	}
	if _, err := f.st.GetTransaction(ctx, res.TxID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the push transaction is still there: %v", err)
	}
	if p := purge("again"); p.Total() != 0 {
		t.Errorf("a second purge deleted %+v", p)
	}
}

// TestPurgeDefaultsAndBatches: by default auth-log rows are kept forever;
// a negative transaction retention keeps transactions; thousands of rows
// go in batches.
func TestPurgeDefaultsAndBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		opts    auth.Options
		want    auth.Purged
		logLeft int
	}{
		{"defaults", auth.Options{}, auth.Purged{Transactions: 1200}, 1200},
		{"auth log 30 days", auth.Options{RetainAuthLog: 30 * 24 * time.Hour}, auth.Purged{Transactions: 1200, AuthLog: 1200}, 0},
		{"transactions forever", auth.Options{RetainTransactions: -1}, auth.Purged{}, 1200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.opts)
			old := f.clock.Now().Add(-365 * 24 * time.Hour)
			err := f.st.InTx(ctx, func(q store.Queries) error {
				for i := range 1200 {
					id := strings.Repeat("0", 8) + "-0000-4000-8000-" + strings.Repeat("0", 8) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
					if err := q.CreateTransaction(ctx, store.Transaction{ID: id, IKey: f.in.IKey, Factor: "push", State: store.TxTimeout,
						Created: old, Expires: old, Answered: old}); err != nil {
						return err
					}
					if err := q.AppendAuthLog(ctx, &store.AuthLog{TxID: id, Time: old, IKey: f.in.IKey, Result: "deny"}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.svc.Purge(ctx)
			if err != nil || p != tc.want {
				t.Fatalf("Purge = %+v, %v; want %+v", p, err, tc.want)
			}
			rows, err := f.st.ListAuthLog(ctx, store.AuthLogFilter{})
			if err != nil || len(rows) != tc.logLeft {
				t.Errorf("%d auth-log rows left (%v), want %d", len(rows), err, tc.logLeft)
			}
		})
	}
}

// TestRunPurger: the loop purges soon after it starts and again every
// interval, logs what went, and returns when its context ends.
func TestRunPurger(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	f := newFixture(t, auth.Options{PurgeInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.svc.RunPurger(ctx) }()

	for round := range 2 { // the first purge, then one at the interval
		if _, _, err := f.svc.EnrollLinkToken(context.Background(), "user"+string(rune('a'+round))); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(25 * time.Hour) // the link expires
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(logs.String(), "onetime_tokens=2") <= round { // a link and its per-user index
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no purge logged:\n%s", round, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("RunPurger did not return after its context ended")
	}
	if !strings.Contains(logs.String(), `msg="purged expired rows" transactions=0 activations=0 onetime_tokens=2 auth_log=0`) {
		t.Errorf("log lines:\n%s", logs.String())
	}
}

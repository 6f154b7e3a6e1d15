package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Conformance tests for store.PurgeQueries: retention.

// purgeAll repeats purge with limit until a call deletes fewer rows, as
// the core does, and returns the total.
func purgeAll(t *testing.T, what string, limit int, purge func(limit int) (int, error)) int {
	t.Helper()
	total := 0
	for range 100 {
		n, err := purge(limit)
		must(t, what, err)
		if n < 0 || n > limit {
			t.Fatalf("%s deleted %d rows with limit %d", what, n, limit)
		}
		total += n
		if n < limit {
			return total
		}
	}
	t.Fatalf("%s never finished", what)
	return total
}

func testPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	d := mkDevice(1, alice.ID, at(0))
	createDevices(t, s, d)
	cutoff := at(time.Minute)

	// Transactions: expired long ago (answered, and never settled), expiring
	// exactly at the cutoff, and still pending.
	answered := mkTx(1, alice.ID, d.ID, at(-time.Hour), at(-59*time.Minute))
	answered.State, answered.Answered = store.TxAllow, at(-59*time.Minute)
	stale := mkTx(2, alice.ID, d.ID, at(-2*time.Hour), at(-time.Hour))
	stale.UserID, stale.DeviceID = "", "" // an unknown user's decision
	atCutoff := mkTx(3, alice.ID, d.ID, at(0), cutoff)
	pending := mkTx(4, alice.ID, d.ID, at(time.Minute), at(2*time.Minute))
	for _, tx := range []store.Transaction{answered, stale, atCutoff, pending} {
		must(t, "CreateTransaction "+tx.ID, s.CreateTransaction(ctx, tx))
	}
	// Activations: expired (unused and used), at the cutoff, later, never.
	acts := map[string]store.Activation{
		"expired unused": {CodeHash: []byte("old-unused"), UserID: alice.ID, Expires: at(0), Created: at(-time.Hour)},
		"expired used":   {CodeHash: []byte("old-used"), UserID: alice.ID, Expires: at(0), DeviceID: d.ID, Created: at(-time.Hour)},
		"at the cutoff":  {CodeHash: []byte("at-cutoff"), UserID: alice.ID, Expires: cutoff, Created: at(0)},
		"later":          {CodeHash: []byte("later"), UserID: alice.ID, Expires: at(time.Hour), Created: at(0)},
		"never":          {CodeHash: []byte("never"), UserID: alice.ID, Created: at(0)},
	}
	for name, a := range acts {
		must(t, "CreateActivation "+name, s.CreateActivation(ctx, a))
	}
	// One-time tokens, created in the past so PutOnetime purges nothing.
	for i, exp := range []time.Duration{0, time.Minute, time.Hour} {
		must(t, "PutOnetime", s.PutOnetime(ctx, mkOnetime(byte(i), "oauth_code", at(-2*time.Hour), at(exp))))
	}
	// Auth log: older than the cutoff, at it, after it.
	for i, tm := range []time.Time{at(-time.Hour), at(-time.Second), cutoff, at(time.Hour)} {
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &store.AuthLog{TxID: fmt.Sprint("tx-", i), Time: tm, Result: "allow"}))
	}

	t.Run("Limit", func(t *testing.T) {
		_, err := s.PurgeTransactions(ctx, cutoff, 0)
		if err == nil {
			t.Error("PurgeTransactions with limit 0 succeeded")
		}
	})

	t.Run("Transactions", func(t *testing.T) {
		n, err := s.PurgeTransactions(ctx, cutoff, 1)
		must(t, "PurgeTransactions", err)
		if n != 1 {
			t.Errorf("PurgeTransactions with limit 1 = %d, want 1", n)
		}
		if n := purgeAll(t, "PurgeTransactions", 1, func(l int) (int, error) { return s.PurgeTransactions(ctx, cutoff, l) }); n != 1 {
			t.Errorf("PurgeTransactions then deleted %d more, want 1", n)
		}
		for _, tx := range []store.Transaction{answered, stale} {
			_, err := s.GetTransaction(ctx, tx.ID)
			wantErr(t, "GetTransaction of a purged transaction", err, store.ErrNotFound)
		}
		for _, tx := range []store.Transaction{atCutoff, pending} {
			got, err := s.GetTransaction(ctx, tx.ID)
			must(t, "GetTransaction of a kept transaction", err)
			check(t, "kept transaction", got, tx, normTx)
		}
	})

	t.Run("Activations", func(t *testing.T) {
		if n := purgeAll(t, "PurgeActivations", 10, func(l int) (int, error) { return s.PurgeActivations(ctx, cutoff, l) }); n != 2 {
			t.Errorf("PurgeActivations = %d, want 2", n)
		}
		for name, a := range acts {
			_, err := s.GetActivation(ctx, a.CodeHash)
			if gone := errors.Is(err, store.ErrNotFound); gone != (name == "expired unused" || name == "expired used") {
				t.Errorf("activation %s: GetActivation error %v after the purge", name, err)
			}
		}
	})

	t.Run("Onetime", func(t *testing.T) {
		if n := purgeAll(t, "PurgeOnetime", 10, func(l int) (int, error) { return s.PurgeOnetime(ctx, cutoff, l) }); n != 2 {
			t.Errorf("PurgeOnetime = %d, want 2 (expired by now, inclusive)", n)
		}
		if _, err := s.GetOnetime(ctx, "oauth_code", mkOnetime(2, "", time.Time{}, time.Time{}).Hash, cutoff); err != nil {
			t.Errorf("the unexpired token is gone: %v", err)
		}
	})

	t.Run("AuthLog", func(t *testing.T) {
		if n := purgeAll(t, "PurgeAuthLog", 1, func(l int) (int, error) { return s.PurgeAuthLog(ctx, cutoff, l) }); n != 2 {
			t.Errorf("PurgeAuthLog = %d, want 2", n)
		}
		rows, err := s.ListAuthLog(ctx, store.AuthLogFilter{})
		must(t, "ListAuthLog", err)
		if len(rows) != 2 || !sec(rows[0].Time).Equal(sec(at(time.Hour))) || !sec(rows[1].Time).Equal(sec(cutoff)) {
			t.Errorf("auth log after the purge: %+v, want the rows at the cutoff and after", rows)
		}
	})

	t.Run("InTxRollback", func(t *testing.T) {
		boom := errors.New("boom")
		err := s.InTx(ctx, func(q store.Queries) error {
			if n, err := q.PurgeTransactions(ctx, at(time.Hour), 10); err != nil || n != 2 {
				return fmt.Errorf("PurgeTransactions in InTx = %d, %v; want 2", n, err)
			}
			return boom
		})
		wantErr(t, "InTx", err, boom)
		for _, tx := range []store.Transaction{atCutoff, pending} {
			_, err := s.GetTransaction(ctx, tx.ID)
			must(t, "GetTransaction after a rolled-back purge", err)
		}
	})
}

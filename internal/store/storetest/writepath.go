package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Conformance tests for store.GuardedQueries: the writes of a decision taken
// from reads made before the write transaction.

func mkCode(n int, userID string, uses int) store.BypassCode {
	return store.BypassCode{ID: codeID(n), UserID: userID, Hash: []byte{byte(n), 'h'}, RemainingUses: uses, Created: at(0)}
}

// remaining returns the stored uses of a code, or -1 if it is gone.
func remaining(t *testing.T, s store.Store, c store.BypassCode) int {
	t.Helper()
	got, err := s.FindBypassCode(t.Context(), c.UserID, c.Hash)
	if errors.Is(err, store.ErrNotFound) {
		return -1
	}
	must(t, "FindBypassCode", err)
	return got.RemainingUses
}

func testGuardedWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)

	t.Run("UseBypassCode", func(t *testing.T) {
		three, one, unlimited := mkCode(1, alice.ID, 3), mkCode(2, alice.ID, 1), mkCode(3, alice.ID, 0)
		must(t, "CreateBypassCodes", s.CreateBypassCodes(ctx, []store.BypassCode{three, one, unlimited}))
		for _, st := range []struct {
			name string
			code store.BypassCode // as the caller read it
			want error
			left int // the stored uses of that code afterwards; -1: gone
		}{
			{"three uses", three, nil, 2},
			{"three uses, read before the last use", three, store.ErrConflict, 2},
			{"two uses", func() store.BypassCode { c := three; c.RemainingUses = 2; return c }(), nil, 1},
			{"unlimited read as limited", func() store.BypassCode { c := unlimited; c.RemainingUses = 1; return c }(), store.ErrConflict, 0},
			{"limited read as unlimited", func() store.BypassCode { c := one; c.RemainingUses = 0; return c }(), store.ErrConflict, 1},
			{"last use", one, nil, -1},
			{"last use again", one, store.ErrConflict, -1},
			{"unlimited", unlimited, nil, 0},
			{"unlimited again", unlimited, nil, 0},
		} {
			err := s.UseBypassCode(ctx, st.code)
			if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
				t.Errorf("%s: got %v, want %v", st.name, err, st.want)
			}
			if got := remaining(t, s, st.code); got != st.left {
				t.Errorf("%s: %d uses left, want %d", st.name, got, st.left)
			}
		}
		must(t, "DeleteBypassCode", s.DeleteBypassCode(ctx, unlimited.ID))
		wantErr(t, "unlimited code deleted", s.UseBypassCode(ctx, unlimited), store.ErrConflict)
	})

	t.Run("AdvanceHOTPCounter", func(t *testing.T) {
		d := mkDevice(1, alice.ID, at(0))
		d.HOTPCounter = 5
		createDevices(t, s, d)
		for _, st := range []struct {
			name    string
			next    int64
			want    error
			counter int64
		}{
			{"code 5", 6, nil, 6},
			{"code 5 again", 6, store.ErrConflict, 6},
			{"code 4", 5, store.ErrConflict, 6},
			{"code 9", 10, nil, 10},
			{"code 7, below a used one", 8, store.ErrConflict, 10},
			{"code 10", 11, nil, 11},
		} {
			err := s.AdvanceHOTPCounter(ctx, d.ID, st.next)
			if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
				t.Errorf("%s: got %v, want %v", st.name, err, st.want)
			}
			got, err := s.GetDevice(ctx, d.ID)
			must(t, "GetDevice", err)
			if got.HOTPCounter != st.counter {
				t.Errorf("%s: counter %d, want %d", st.name, got.HOTPCounter, st.counter)
			}
		}
		wantErr(t, "unknown device", s.AdvanceHOTPCounter(ctx, deviceID(99), 1), store.ErrConflict)
	})

	t.Run("Users", func(t *testing.T) {
		bob := mkUser(2, "bob")
		bob.FailedAttempts, bob.LastLogin = 3, at(time.Hour)
		createUsers(t, s, bob)
		user := func(what string, wantFailed int, wantStatus store.UserStatus, wantLast time.Time) store.User {
			t.Helper()
			got, err := s.GetUser(ctx, bob.ID)
			must(t, "GetUser", err)
			if got.FailedAttempts != wantFailed || got.Status != wantStatus || !sec(got.LastLogin).Equal(sec(wantLast)) {
				t.Errorf("%s: user %+v, want %d failed attempts, status %q, last login %v", what, got, wantFailed, wantStatus, sec(wantLast))
			}
			return got
		}
		must(t, "RecordSuccess", s.RecordSuccess(ctx, bob.ID, at(2*time.Hour)))
		user("after a success", 0, store.StatusActive, at(2*time.Hour))
		must(t, "RecordSuccess", s.RecordSuccess(ctx, bob.ID, at(time.Hour)))
		user("after a success stamped earlier", 0, store.StatusActive, at(2*time.Hour))
		for want := 1; want <= 3; want++ {
			n, err := s.RecordFailure(ctx, bob.ID)
			if err != nil || n != want {
				t.Errorf("RecordFailure: %d, %v; want %d", n, err, want)
			}
		}
		must(t, "LockOut", s.LockOut(ctx, bob.ID, "3 consecutive failed authentication attempts", at(5)))
		got := user("locked out", 3, store.StatusLockedOut, at(2*time.Hour))
		if got.LockoutReason != "3 consecutive failed authentication attempts" {
			t.Errorf("lockout reason %q", got.LockoutReason)
		}
		// None of them changes a user who is no longer active.
		wantErr(t, "LockOut of a locked-out user", s.LockOut(ctx, bob.ID, "again", at(6)), store.ErrConflict)
		_, err := s.RecordFailure(ctx, bob.ID)
		wantErr(t, "RecordFailure of a locked-out user", err, store.ErrConflict)
		wantErr(t, "RecordSuccess of a locked-out user", s.RecordSuccess(ctx, bob.ID, at(3*time.Hour)), store.ErrConflict)
		got = user("after writes refused", 3, store.StatusLockedOut, at(2*time.Hour))
		for _, status := range []store.UserStatus{store.StatusDisabled, store.StatusBypass} {
			got.Status = status
			must(t, "UpdateUser", s.UpdateUser(ctx, got))
			_, err = s.RecordFailure(ctx, bob.ID)
			wantErr(t, "RecordFailure of a user in status "+string(status), err, store.ErrConflict)
			wantErr(t, "RecordSuccess of a user in status "+string(status), s.RecordSuccess(ctx, bob.ID, at(3*time.Hour)), store.ErrConflict)
		}
		_, err = s.RecordFailure(ctx, userID(99))
		wantErr(t, "RecordFailure of an unknown user", err, store.ErrConflict)
		wantErr(t, "RecordSuccess of an unknown user", s.RecordSuccess(ctx, userID(99), at(0)), store.ErrConflict)
		wantErr(t, "LockOut of an unknown user", s.LockOut(ctx, userID(99), "x", at(6)), store.ErrConflict)
	})

	t.Run("ConflictKeepsTxUsable", func(t *testing.T) {
		carol := mkUser(3, "carol")
		createUsers(t, s, carol)
		gone := mkCode(10, carol.ID, 1)
		err := s.InTx(ctx, func(q store.Queries) error {
			wantErr(t, "UseBypassCode of a code that does not exist", q.UseBypassCode(ctx, gone), store.ErrConflict)
			wantErr(t, "AdvanceHOTPCounter of an unknown device", q.AdvanceHOTPCounter(ctx, deviceID(98), 1), store.ErrConflict)
			if _, err := q.RecordFailure(ctx, carol.ID); err != nil {
				return err
			}
			l := store.AuthLog{TxID: "t", Time: at(0), UserID: carol.ID, Result: "deny", Reason: "invalid_passcode"}
			return q.AppendAuthLog(ctx, &l)
		})
		must(t, "InTx after conflicts", err)
		got, err := s.GetUser(ctx, carol.ID)
		must(t, "GetUser", err)
		if got.FailedAttempts != 1 {
			t.Errorf("failed attempts %d after the transaction committed, want 1", got.FailedAttempts)
		}
		logs, err := s.ListAuthLog(ctx, store.AuthLogFilter{UserID: carol.ID})
		must(t, "ListAuthLog", err)
		if len(logs) != 1 {
			t.Errorf("%d auth-log rows, want 1", len(logs))
		}
	})
}

// raceGuarded runs fn in n concurrent transactions started together, each
// after its caller's read, and returns how many committed; the others must
// have failed with store.ErrConflict.
func raceGuarded(t *testing.T, s store.Store, n int, fn func(i int, q store.Queries) error) (committed []int) {
	t.Helper()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := s.InTx(t.Context(), func(q store.Queries) error { return fn(i, q) })
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				committed = append(committed, i)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("InTx %d: %v, want nil or ErrConflict", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(committed)
	return committed
}

// Concurrent transactions acting on the same read: exactly the ones the
// guards allow commit; the rest find the row changed.
func testConcurrentGuardedWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	const n = 10

	for round := range raceRounds {
		for _, uses := range []int{1, 3} {
			c := mkCode(round*10+uses, alice.ID, uses)
			must(t, "CreateBypassCodes", s.CreateBypassCodes(ctx, []store.BypassCode{c}))
			won := raceGuarded(t, s, n, func(i int, q store.Queries) error {
				if err := q.UseBypassCode(ctx, c); err != nil {
					return err
				}
				l := store.AuthLog{TxID: "t", Time: at(0), UserID: alice.ID, Factor: "bypass_code", Result: "allow"}
				return q.AppendAuthLog(ctx, &l)
			})
			if len(won) != 1 {
				t.Errorf("round %d: a code with %d uses, read once, was used by %d of %d concurrent transactions, want 1", round, uses, len(won), n)
			}
			if got := remaining(t, s, c); got != uses-1 && !(uses == 1 && got == -1) {
				t.Errorf("round %d: %d uses left of %d, want %d", round, got, uses, uses-1)
			}
		}

		d := mkDevice(round+1, alice.ID, at(0))
		createDevices(t, s, d)
		won := raceGuarded(t, s, n, func(i int, q store.Queries) error {
			// Everyone read counter 0; half matched code 0, half code 1.
			return q.AdvanceHOTPCounter(ctx, d.ID, int64(1+i%2))
		})
		got, err := s.GetDevice(ctx, d.ID)
		must(t, "GetDevice", err)
		// Code 1 commits once, code 0 at most once and only before it:
		// after code 1 the counter is 2 and code 0 is spent.
		odd := 0
		for _, i := range won {
			odd += i % 2
		}
		if odd != 1 || len(won) > 2 || got.HOTPCounter != 2 {
			t.Errorf("round %d: HOTP advances committed by %v, counter %d", round, won, got.HOTPCounter)
		}
	}

	// Failures toward a lockout at 5: the count is exact and the user is
	// locked out by the fifth; later failures find the user no longer active.
	const threshold = 5
	for round := range raceRounds {
		u := mkUser(10+round, "user"+string(rune('a'+round)))
		createUsers(t, s, u)
		var (
			mu     sync.Mutex
			counts []int
		)
		won := raceGuarded(t, s, 2*n, func(i int, q store.Queries) error {
			c, err := q.RecordFailure(ctx, u.ID)
			if err != nil {
				return err
			}
			if c >= threshold {
				if err := q.LockOut(ctx, u.ID, "locked", at(7)); err != nil {
					return err
				}
			}
			mu.Lock()
			counts = append(counts, c)
			mu.Unlock()
			return nil
		})
		slices.Sort(counts)
		got, err := s.GetUser(ctx, u.ID)
		must(t, "GetUser", err)
		if len(won) != threshold || !slices.Equal(counts, []int{1, 2, 3, 4, 5}) || got.FailedAttempts != threshold || got.Status != store.StatusLockedOut {
			t.Errorf("round %d: %d transactions committed, counts %v, user %+v; want %d, 1…%d, locked out with %d",
				round, len(won), counts, got, threshold, threshold, threshold)
		}
	}
}

// Read-modify-writes of one device in concurrent transactions (last seen,
// push token) lose nothing, and so never write back a HOTP counter that
// another transaction advanced in between.
func testConcurrentDeviceUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	d := mkDevice(1, alice.ID, at(0))
	createDevices(t, s, d)
	const n = 10
	won := race(t, s, n, func(i int, q store.Queries) (bool, error) {
		got, err := q.GetDevice(ctx, d.ID)
		if err != nil {
			return false, err
		}
		time.Sleep(raceWindow)
		got.HOTPCounter++
		return true, q.UpdateDevice(ctx, got)
	})
	got, err := s.GetDevice(ctx, d.ID)
	must(t, "GetDevice", err)
	if won != n || got.HOTPCounter != n {
		t.Errorf("HOTP counter %d after %d of %d concurrent read-modify-writes committed, want %d", got.HOTPCounter, won, n, n)
	}
}

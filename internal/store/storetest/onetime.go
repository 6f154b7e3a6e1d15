package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

func normOnetime(o store.Onetime) store.Onetime {
	o.Expires = sec(o.Expires)
	o.Created = sec(o.Created)
	if o.Payload == nil {
		o.Payload = []byte{}
	}
	return o
}

func mkOnetime(n byte, kind string, created, expires time.Time) store.Onetime {
	return store.Onetime{Hash: []byte{0xff, n, 0, n}, Kind: kind, Payload: []byte{n, 0, 0xfe},
		Expires: expires, Created: created}
}

func testOnetime(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkOnetime(1, "enroll_link", at(0), at(time.Hour))
	b := mkOnetime(2, "oauth_code", at(0), at(time.Minute))
	b.Payload = nil
	must(t, "PutOnetime a", s.PutOnetime(ctx, a))
	must(t, "PutOnetime b", s.PutOnetime(ctx, b))

	t.Run("Get", func(t *testing.T) {
		got, err := s.GetOnetime(ctx, a.Kind, a.Hash, at(0))
		must(t, "GetOnetime", err)
		check(t, "GetOnetime", got, a, normOnetime)
		got, err = s.GetOnetime(ctx, b.Kind, b.Hash, at(59*time.Second))
		must(t, "GetOnetime with an empty payload", err)
		check(t, "GetOnetime with an empty payload", got, b, normOnetime)
		// Getting does not use it up.
		_, err = s.GetOnetime(ctx, a.Kind, a.Hash, at(time.Second))
		must(t, "GetOnetime again", err)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.GetOnetime(ctx, "oauth_code", a.Hash, at(0))
		wantErr(t, "GetOnetime of another kind", err, store.ErrNotFound)
		_, err = s.TakeOnetime(ctx, "oauth_code", a.Hash, at(0))
		wantErr(t, "TakeOnetime of another kind", err, store.ErrNotFound)
		_, err = s.GetOnetime(ctx, a.Kind, []byte("nope"), at(0))
		wantErr(t, "GetOnetime of an unknown hash", err, store.ErrNotFound)
		// Expired at exactly Expires (whole seconds).
		_, err = s.GetOnetime(ctx, b.Kind, b.Hash, at(time.Minute))
		wantErr(t, "GetOnetime at its expiry", err, store.ErrNotFound)
		_, err = s.TakeOnetime(ctx, b.Kind, b.Hash, at(time.Minute+time.Second))
		wantErr(t, "TakeOnetime after its expiry", err, store.ErrNotFound)
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup := a
		dup.Payload = []byte("other")
		wantErr(t, "PutOnetime with a live hash", s.PutOnetime(ctx, dup), store.ErrAlreadyExists)
		got, err := s.GetOnetime(ctx, a.Kind, a.Hash, at(0))
		must(t, "GetOnetime", err)
		check(t, "token after a failed duplicate put", got, a, normOnetime)
	})

	t.Run("Take", func(t *testing.T) {
		got, err := s.TakeOnetime(ctx, a.Kind, a.Hash, at(time.Minute))
		must(t, "TakeOnetime", err)
		check(t, "TakeOnetime", got, a, normOnetime)
		_, err = s.TakeOnetime(ctx, a.Kind, a.Hash, at(time.Minute))
		wantErr(t, "TakeOnetime again", err, store.ErrNotFound)
		_, err = s.GetOnetime(ctx, a.Kind, a.Hash, at(time.Minute))
		wantErr(t, "GetOnetime after take", err, store.ErrNotFound)
		// The hash is free again.
		must(t, "PutOnetime after take", s.PutOnetime(ctx, a))
	})

	t.Run("ReplaceExpiredAndPurge", func(t *testing.T) {
		// b expired at +1m; putting anything later purges it, and a token
		// with b's hash may be stored again.
		c := mkOnetime(3, "enroll_link", at(2*time.Minute), at(3*time.Minute))
		must(t, "PutOnetime after b expired", s.PutOnetime(ctx, c))
		// Even asked with a clock from before its expiry, b is gone.
		_, err := s.GetOnetime(ctx, b.Kind, b.Hash, at(0))
		wantErr(t, "GetOnetime of a purged token", err, store.ErrNotFound)
		again := b
		again.Created, again.Expires = at(2*time.Minute), at(4*time.Minute)
		must(t, "PutOnetime reusing an expired hash", s.PutOnetime(ctx, again))
		got, err := s.GetOnetime(ctx, b.Kind, b.Hash, at(3*time.Minute))
		must(t, "GetOnetime", err)
		check(t, "token stored over an expired one", got, again, normOnetime)
		// A live token is not purged.
		_, err = s.GetOnetime(ctx, a.Kind, a.Hash, at(2*time.Minute))
		must(t, "GetOnetime of a live token after a purge", err)
	})
}

// Tokens taken inside a rolled-back transaction are still there.
func testOnetimeInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkOnetime(1, "enroll_link", at(0), at(time.Hour))
	must(t, "PutOnetime", s.PutOnetime(ctx, a))
	errRollback := errors.New("roll back")
	err := s.InTx(ctx, func(q store.Queries) error {
		if _, err := q.TakeOnetime(ctx, a.Kind, a.Hash, at(0)); err != nil {
			return err
		}
		if err := q.PutOnetime(ctx, mkOnetime(2, "enroll_link", at(0), at(time.Hour))); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx = %v, want the rollback error", err)
	}
	_, err = s.GetOnetime(ctx, a.Kind, a.Hash, at(0))
	must(t, "GetOnetime after a rolled-back take", err)
	_, err = s.GetOnetime(ctx, "enroll_link", mkOnetime(2, "", at(0), at(0)).Hash, at(0))
	wantErr(t, "GetOnetime of a rolled-back put", err, store.ErrNotFound)

	// Committed: a take and a put in one transaction (replacing a token).
	must(t, "InTx", s.InTx(ctx, func(q store.Queries) error {
		if _, err := q.TakeOnetime(ctx, a.Kind, a.Hash, at(0)); err != nil {
			return err
		}
		return q.PutOnetime(ctx, mkOnetime(2, "enroll_link", at(0), at(time.Hour)))
	}))
	_, err = s.GetOnetime(ctx, a.Kind, a.Hash, at(0))
	wantErr(t, "GetOnetime after a committed take", err, store.ErrNotFound)
	_, err = s.GetOnetime(ctx, "enroll_link", mkOnetime(2, "", at(0), at(0)).Hash, at(0))
	must(t, "GetOnetime after a committed put", err)
}

// Taking one token from many goroutines at once: exactly one gets it, with
// and without a surrounding transaction.
func testConcurrentOnetimeTake(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 10
	for round := range raceRounds {
		o := mkOnetime(byte(round+1), "oauth_code", at(0), at(time.Hour))
		must(t, "PutOnetime", s.PutOnetime(ctx, o))
		var (
			wg      sync.WaitGroup
			winners atomic.Int32
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				var err error
				if i%2 == 0 {
					_, err = s.TakeOnetime(ctx, o.Kind, o.Hash, at(0))
				} else {
					err = s.InTx(ctx, func(q store.Queries) error {
						_, err := q.TakeOnetime(ctx, o.Kind, o.Hash, at(0))
						return err
					})
				}
				switch {
				case err == nil:
					winners.Add(1)
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("TakeOnetime: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if w := winners.Load(); w != 1 {
			t.Errorf("round %d: %d of %d concurrent takers got the token, want exactly 1", round, w, n)
		}
	}
}

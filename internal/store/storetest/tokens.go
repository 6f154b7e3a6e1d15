package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Conformance tests for store.TokenQueries and AdvanceTokenCounter.

func tokenID(n int) string { return fmt.Sprintf("DH%018d", n) }

func normToken(tk store.Token) store.Token {
	tk.Created = sec(tk.Created)
	tk.LastUsed = sec(tk.LastUsed)
	for _, b := range []*[]byte{&tk.SecretEnc, &tk.PrivateIDEnc, &tk.AESKeyEnc} {
		if *b == nil {
			*b = []byte{}
		}
	}
	return tk
}

// mkToken makes a hardware token of kind (serial "S<n>") for userID ("":
// unassigned), or an app when kind is TokenTOTPApp.
func mkToken(n int, kind store.TokenKind, userID string, created time.Time) store.Token {
	tk := store.Token{
		ID: tokenID(n), UserID: userID, Kind: kind, SecretEnc: []byte{byte(n), 1, 2},
		Algorithm: "SHA1", Digits: 6, Created: created,
	}
	switch kind {
	case store.TokenTOTPApp:
		tk.Name, tk.Period = fmt.Sprintf("app %d", n), 30
	case store.TokenT6, store.TokenT8:
		tk.Serial, tk.Period = fmt.Sprintf("S%d", n), 60
	case store.TokenYubiKey:
		tk.Serial, tk.PublicID, tk.SecretEnc = fmt.Sprintf("S%d", n), fmt.Sprintf("cccccccccc%02d", n), nil
		tk.PrivateIDEnc, tk.AESKeyEnc = []byte{byte(n), 'p'}, []byte{byte(n), 'k'}
	default:
		tk.Serial = fmt.Sprintf("S%d", n)
	}
	if kind == store.TokenH8 || kind == store.TokenT8 {
		tk.Digits = 8
	}
	return tk
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	app := mkToken(1, store.TokenTOTPApp, alice.ID, at(0))
	app.Algorithm, app.Drift = "SHA256", -1
	h6 := mkToken(2, store.TokenH6, "", at(time.Second))
	h6.Counter = 17
	t8 := mkToken(3, store.TokenT8, alice.ID, at(2*time.Second))
	t8.Confirmed, t8.LastUsed = true, at(time.Hour)
	yk := mkToken(4, store.TokenYubiKey, bob.ID, at(3*time.Second))
	app2 := mkToken(5, store.TokenTOTPApp, bob.ID, at(0)) // apps have no serial: no clash with app
	for _, tk := range []store.Token{app, h6, t8, yk, app2} {
		must(t, "CreateToken "+tk.ID, s.CreateToken(ctx, tk))
	}

	t.Run("Get", func(t *testing.T) {
		for _, want := range []store.Token{app, h6, t8, yk} {
			got, err := s.GetToken(ctx, want.ID)
			must(t, "GetToken", err)
			check(t, "GetToken "+want.ID, got, want, normToken)
		}
		got, err := s.GetTokenBySerial(ctx, "S4")
		must(t, "GetTokenBySerial", err)
		check(t, "GetTokenBySerial", got, yk, normToken)
		_, err = s.GetToken(ctx, tokenID(99))
		wantErr(t, "GetToken unknown", err, store.ErrNotFound)
		_, err = s.GetTokenBySerial(ctx, "")
		wantErr(t, "GetTokenBySerial of an app's empty serial", err, store.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		list, err := s.ListTokens(ctx, alice.ID)
		must(t, "ListTokens", err)
		checkList(t, "ListTokens alice", list, []store.Token{app, t8}, normToken)
		hw, err := s.ListHardwareTokens(ctx)
		must(t, "ListHardwareTokens", err)
		checkList(t, "ListHardwareTokens", hw, []store.Token{h6, t8, yk}, normToken)
	})

	t.Run("Duplicates", func(t *testing.T) {
		dupID := mkToken(6, store.TokenH6, "", at(0))
		dupID.ID = h6.ID
		dupSerial := mkToken(7, store.TokenH8, "", at(0))
		dupSerial.Serial = h6.Serial
		dupPublic := mkToken(8, store.TokenYubiKey, "", at(0))
		dupPublic.PublicID = yk.PublicID
		for name, tk := range map[string]store.Token{"ID": dupID, "serial": dupSerial, "public ID": dupPublic} {
			wantErr(t, "CreateToken with a taken "+name, s.CreateToken(ctx, tk), store.ErrAlreadyExists)
		}
		wantErr(t, "CreateToken for an unknown user", s.CreateToken(ctx, mkToken(9, store.TokenH6, userID(99), at(0))), store.ErrNotFound)
		// The transaction stays usable after a duplicate.
		err := s.InTx(ctx, func(q store.Queries) error {
			if err := q.CreateToken(ctx, dupSerial); !errors.Is(err, store.ErrAlreadyExists) {
				return fmt.Errorf("duplicate serial in a transaction: %v", err)
			}
			return q.CreateToken(ctx, mkToken(10, store.TokenH6, "", at(0)))
		})
		must(t, "InTx after a duplicate", err)
		must(t, "DeleteToken", s.DeleteToken(ctx, tokenID(10)))
	})

	t.Run("Update", func(t *testing.T) {
		got := h6
		got.UserID, got.Name, got.Confirmed = bob.ID, "fob", true
		got.Counter, got.SecretEnc = 99, []byte("not written")
		must(t, "UpdateToken", s.UpdateToken(ctx, got))
		want := h6
		want.UserID, want.Name, want.Confirmed = bob.ID, "fob", true
		read, err := s.GetToken(ctx, h6.ID)
		must(t, "GetToken", err)
		check(t, "after UpdateToken", read, want, normToken)
		want.UserID = ""
		must(t, "UpdateToken unassign", s.UpdateToken(ctx, want))
		read, _ = s.GetToken(ctx, h6.ID)
		check(t, "after unassigning", read, want, normToken)
		missing := mkToken(99, store.TokenH6, "", at(0))
		wantErr(t, "UpdateToken unknown", s.UpdateToken(ctx, missing), store.ErrNotFound)
		want.UserID = userID(99)
		wantErr(t, "UpdateToken to an unknown user", s.UpdateToken(ctx, want), store.ErrNotFound)
	})

	t.Run("DeleteUser", func(t *testing.T) {
		// bob's app goes with him; his YubiKey stays, unassigned.
		must(t, "DeleteUser", s.DeleteUser(ctx, bob.ID))
		_, err := s.GetToken(ctx, app2.ID)
		wantErr(t, "app of a deleted user", err, store.ErrNotFound)
		got, err := s.GetToken(ctx, yk.ID)
		must(t, "GetToken", err)
		if got.UserID != "" {
			t.Errorf("token of a deleted user still assigned to %q", got.UserID)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		must(t, "DeleteToken", s.DeleteToken(ctx, yk.ID))
		wantErr(t, "DeleteToken again", s.DeleteToken(ctx, yk.ID), store.ErrNotFound)
	})
}

func testAdvanceTokenCounter(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	tk := mkToken(1, store.TokenTOTPApp, alice.ID, at(0))
	tk.Counter = 100
	must(t, "CreateToken", s.CreateToken(ctx, tk))
	for _, st := range []struct {
		name      string
		use       store.TokenUse
		want      error
		counter   int64
		drift     int
		confirmed bool
	}{
		{"step 100", store.TokenUse{Next: 101, Drift: 1, At: at(time.Minute)}, nil, 101, 1, false},
		{"step 100 again", store.TokenUse{Next: 101, Drift: 0, At: at(2 * time.Minute)}, store.ErrConflict, 101, 1, false},
		{"step 99", store.TokenUse{Next: 100}, store.ErrConflict, 101, 1, false},
		{"step 104, confirming", store.TokenUse{Next: 105, Drift: -1, At: at(3 * time.Minute), Confirm: true}, nil, 105, -1, true},
		{"step 102, below a used one", store.TokenUse{Next: 103, Confirm: true}, store.ErrConflict, 105, -1, true},
	} {
		st.use.ID = tk.ID
		err := s.AdvanceTokenCounter(ctx, st.use)
		if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Errorf("%s: got %v, want %v", st.name, err, st.want)
		}
		got, err := s.GetToken(ctx, tk.ID)
		must(t, "GetToken", err)
		if got.Counter != st.counter || got.Drift != st.drift || got.Confirmed != st.confirmed {
			t.Errorf("%s: counter %d, drift %d, confirmed %v; want %d, %d, %v", st.name,
				got.Counter, got.Drift, got.Confirmed, st.counter, st.drift, st.confirmed)
		}
		if st.want == nil && !sec(got.LastUsed).Equal(sec(st.use.At)) {
			t.Errorf("%s: last used %v, want %v", st.name, got.LastUsed, st.use.At)
		}
	}
	wantErr(t, "unknown token", s.AdvanceTokenCounter(ctx, store.TokenUse{ID: tokenID(99), Next: 1}), store.ErrConflict)

	// Concurrent transactions that all read counter 105 and matched the
	// same code: exactly one commits.
	for round := range raceRounds {
		next := int64(106 + round)
		won := raceGuarded(t, s, 10, func(i int, q store.Queries) error {
			if err := q.AdvanceTokenCounter(ctx, store.TokenUse{ID: tk.ID, Next: next, At: at(0)}); err != nil {
				return err
			}
			l := store.AuthLog{TxID: "t", Time: at(0), UserID: alice.ID, Factor: "totp_app", Device: tk.ID, Result: "allow"}
			return q.AppendAuthLog(ctx, &l)
		})
		if len(won) != 1 {
			t.Errorf("round %d: one TOTP code was accepted by %d of 10 concurrent transactions, want 1", round, len(won))
		}
	}
}

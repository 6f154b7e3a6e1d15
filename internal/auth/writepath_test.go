package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/testutil"
)

// The write path: decisions are taken from reads made before the write
// transaction, which holds only guarded writes and is retried when a
// concurrent request changed a row in between. These tests race requests
// about one user on both engines and check the invariants: a code is
// accepted once, the failure count and the lockout are exact, and every
// answer has its auth-log row, in an order that agrees with the state.

// engine opens a fresh, empty store closed when t ends.
type engine struct {
	name string
	open func(t *testing.T) store.Store
}

// engines are SQLite and PostgreSQL (through ASSENT_TEST_POSTGRES_DSN,
// which scripts/test.sh provides; skipped without it, failed in CI).
var engines = []engine{
	{"sqlite", func(t *testing.T) store.Store {
		st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "assent.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", openPostgres},
}

func openPostgres(t *testing.T) store.Store {
	t.Helper()
	dsn := os.Getenv("ASSENT_TEST_POSTGRES_DSN")
	testutil.Require(t, "PostgreSQL (ASSENT_TEST_POSTGRES_DSN)", dsn != "")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "assent_auth_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	st, err := sqlstore.OpenPostgres(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// answer is one raced request's outcome.
type answer struct {
	code string
	res  auth.AuthResult
}

// raceAuth sends every code at once, one goroutine each, and returns the
// answers. Every request must be answered.
func (f *fixture) raceAuth(t *testing.T, name string, codes []string) []answer {
	t.Helper()
	out := make([]answer, len(codes))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range codes {
		wg.Go(func() {
			<-start
			res, err := f.svc.Auth(context.Background(), auth.AuthRequest{
				Request: auth.Request{Integration: f.in, Username: name}, Factor: auth.FactorPasscode, Passcode: c})
			if err != nil {
				t.Errorf("auth with %s: %v", c, err)
			}
			out[i] = answer{code: c, res: res}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// allowed counts the allows per code.
func allowed(answers []answer) map[string]int {
	n := map[string]int{}
	for _, a := range answers {
		if a.res.Result == auth.ResultAllow {
			n[a.code]++
		}
	}
	return n
}

// checkLog checks that the auth log has a row for every answer, with the
// same result, and that the user's failure count and lockout are what the
// log, replayed in order, says: the failures since the last success, locked
// out at threshold, and nothing but locked_out refusals after the lockout.
func (f *fixture) checkLog(t *testing.T, name string, answers []answer, threshold int) []store.AuthLog {
	t.Helper()
	u, err := f.svc.User(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	logs := f.logs(t, u.ID)
	slices.SortFunc(logs, func(a, b store.AuthLog) int { return int(a.ID - b.ID) })
	byTx := map[string]store.AuthLog{}
	for _, l := range logs {
		byTx[l.TxID] = l
	}
	for _, a := range answers {
		if l, ok := byTx[a.res.TxID]; !ok || l.Result != a.res.Result {
			t.Errorf("answer %+v to %s: auth-log row %+v (found %v)", a.res, a.code, l, ok)
		}
	}
	failures, locked := 0, false
	for _, l := range logs {
		switch {
		case locked && l.Reason != auth.ReasonLockedOut:
			t.Errorf("auth-log row after the lockout: %+v", l)
		case l.Result == auth.ResultAllow:
			failures = 0
		case l.Reason == auth.ReasonInvalidPasscode:
			failures++
			locked = threshold > 0 && failures >= threshold
		}
	}
	if u.FailedAttempts != failures || (u.Status == store.StatusLockedOut) != locked {
		t.Errorf("user %+v, but the log shows %d failures since the last success (lockout at %d)", u, failures, threshold)
	}
	return logs
}

func TestConcurrentPasscodes(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			const threshold = 1000 // out of the way; see TestConcurrentLockout
			f := newFixtureWith(t, e.open(t), auth.Options{LockoutThreshold: threshold})

			t.Run("SingleUseBypassCode", func(t *testing.T) {
				f.user(t, "alice", store.StatusActive)
				codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 1})
				answers := f.raceAuth(t, "alice", slices.Repeat(codes[:1], 16))
				if n := allowed(answers)[codes[0]]; n != 1 {
					t.Errorf("a single-use code sent 16 times at once was accepted %d times, want 1", n)
				}
				f.checkLog(t, "alice", answers, threshold)
			})
			t.Run("ThreeUseBypassCode", func(t *testing.T) {
				f.user(t, "bob", store.StatusActive)
				codes := f.codes(t, "bob", auth.NewBypassCodes{Count: 2, Uses: 3})
				answers := f.raceAuth(t, "bob", slices.Repeat(codes[:1], 16))
				if n := allowed(answers)[codes[0]]; n != 3 {
					t.Errorf("a three-use code sent 16 times at once was accepted %d times, want 3", n)
				}
				f.checkLog(t, "bob", answers, threshold)
				got, err := f.svc.User(context.Background(), "bob")
				if err != nil || got.FailedAttempts != 13 {
					t.Errorf("user %+v %v, want 13 failed attempts", got, err)
				}
			})
			t.Run("HOTP", func(t *testing.T) {
				a := f.device(t, "carol")
				// Codes for counters 0…3, each sent by four clients at once.
				var sent []string
				counterOf := map[string]int64{}
				for c := range int64(4) {
					hc := code(t, a.HOTPSecret, uint64(c))
					counterOf[hc] = c
					sent = append(sent, slices.Repeat([]string{hc}, 4)...)
				}
				answers := f.raceAuth(t, "carol", sent)
				maxAccepted := int64(-1)
				for hc, n := range allowed(answers) {
					if n > 1 {
						t.Errorf("HOTP code of counter %d accepted %d times", counterOf[hc], n)
					}
					maxAccepted = max(maxAccepted, counterOf[hc])
				}
				// In log order, no code at or below an accepted one is accepted.
				last := int64(-1)
				for _, l := range f.checkLog(t, "carol", answers, threshold) {
					if l.Result != auth.ResultAllow {
						continue
					}
					var c int64 = -1
					for _, an := range answers {
						if an.res.TxID == l.TxID {
							c = counterOf[an.code]
						}
					}
					if c <= last {
						t.Errorf("HOTP counter %d accepted after counter %d", c, last)
					}
					last = c
				}
				d, err := f.st.GetDevice(context.Background(), a.Device.ID)
				if err != nil || maxAccepted < 0 || d.HOTPCounter != maxAccepted+1 {
					t.Errorf("stored counter %d (%v), highest accepted code %d", d.HOTPCounter, err, maxAccepted)
				}
			})
			t.Run("TOTPApp", func(t *testing.T) {
				f.user(t, "dave", store.StatusActive)
				enr, err := f.svc.AddTOTPApp(context.Background(), "dave", auth.NewTOTPApp{Confirmed: true})
				if err != nil {
					t.Fatal(err)
				}
				// The current code and the next step's, each sent by eight
				// clients at once: at most one of each, and never the
				// current one after the next one.
				now := f.clock.Now()
				cur, next := otp.TOTP(enr.Secret, now, 30, 6, otp.SHA1), otp.TOTP(enr.Secret, now.Add(30*time.Second), 30, 6, otp.SHA1)
				answers := f.raceAuth(t, "dave", append(slices.Repeat([]string{cur}, 8), slices.Repeat([]string{next}, 8)...))
				n := allowed(answers)
				if n[cur] > 1 || n[next] != 1 {
					t.Errorf("allowed %d times the current code and %d times the next one, want at most 1 and 1", n[cur], n[next])
				}
				var order []string
				for _, l := range f.checkLog(t, "dave", answers, threshold) {
					if l.Result == auth.ResultAllow {
						for _, an := range answers {
							if an.res.TxID == l.TxID {
								order = append(order, an.code)
							}
						}
					}
				}
				if len(order) == 2 && order[0] == next {
					t.Errorf("the current step's code was accepted after the next step's")
				}
			})
		})
	}
}

// Wrong codes raced with right ones toward the lockout threshold: the count
// is exact, the lockout happens at the threshold, and afterwards every
// request, right codes too, is refused as locked out.
func TestConcurrentLockout(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			const threshold = 6
			f := newFixtureWith(t, e.open(t), auth.Options{LockoutThreshold: threshold})
			f.user(t, "dave", store.StatusActive)
			good := f.codes(t, "dave", auth.NewBypassCodes{Count: 1, Uses: 0})[0]
			// 4 right codes among 36: they split the 32 wrong ones into at
			// most 5 runs, so one run has at least 7 > threshold-1 wrong
			// codes in a row, whatever the interleaving. (With 9 right
			// codes, as before, 10 runs of at most 5 could hold all 27
			// wrong ones, and the test failed on some interleavings.)
			var sent []string
			for i := range 36 {
				if i%9 == 0 {
					sent = append(sent, good)
				} else {
					sent = append(sent, "000000001")
				}
			}
			answers := f.raceAuth(t, "dave", sent)
			logs := f.checkLog(t, "dave", answers, threshold)
			got, err := f.svc.User(context.Background(), "dave")
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[string]int{}
			for _, l := range logs {
				reasons[l.Reason]++
			}
			// 32 wrong codes: whatever the interleaving, the user ends
			// locked out (at most 4 successes can reset the count) …
			if got.Status != store.StatusLockedOut || got.FailedAttempts != threshold {
				t.Errorf("user after the race %+v, reasons %v; want locked out with %d failed attempts", got, reasons, threshold)
			}
			// … and only refusals came after.
			if r := f.passcode(t, "dave", good); r.Status != "locked_out" {
				t.Errorf("right code after the lockout: %+v", r)
			}
		})
	}
}

// Failures on one user counted without a lockout are exact: no increment is
// lost to a concurrent one.
func TestConcurrentFailuresCounted(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			f := newFixtureWith(t, e.open(t), auth.Options{LockoutThreshold: -1})
			f.user(t, "erin", store.StatusActive)
			f.codes(t, "erin", auth.NewBypassCodes{Count: 1})
			answers := f.raceAuth(t, "erin", slices.Repeat([]string{"123456789"}, 40))
			f.checkLog(t, "erin", answers, -1)
			if got, err := f.svc.User(context.Background(), "erin"); err != nil || got.FailedAttempts != 40 {
				t.Errorf("user %+v %v after 40 concurrent failures", got, err)
			}
		})
	}
}

// conflictingStore is a store whose write transactions always find their
// rows changed.
type conflictingStore struct {
	store.Store
	mu    sync.Mutex
	tries int
}

func (c *conflictingStore) InTx(context.Context, func(store.Queries) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries++
	return store.ErrConflict
}

// A decision whose rows keep changing is retried a bounded number of times
// and then refused with an error, never answered.
func TestDecisionRetriesBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	f.user(t, "frank", store.StatusActive)
	codes := f.codes(t, "frank", auth.NewBypassCodes{Count: 1, Uses: 1})
	cs := &conflictingStore{Store: f.st}
	svc := auth.New(cs, testBox(t), auth.Options{})
	res, err := svc.Auth(context.Background(), auth.AuthRequest{
		Request: auth.Request{Integration: f.in, Username: "frank"}, Factor: auth.FactorPasscode, Passcode: codes[0]})
	if err == nil || !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "kept changing") {
		t.Errorf("Auth = %+v, %v; want an error saying the records kept changing", res, err)
	}
	if cs.tries < 2 || cs.tries > 10 {
		t.Errorf("%d tries, want a few and a bound", cs.tries)
	}
}

// Preauth of an enrolled user writes nothing: no auth-log row, no other
// change to the database (SQLite's data_version, seen from another
// connection, does not move).
func TestPreauthWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := newFixtureWith(t, st, auth.Options{})
	f.device(t, "grace")
	f.user(t, "heidi", store.StatusActive)
	f.codes(t, "heidi", auth.NewBypassCodes{Count: 1})

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "assent.db")+"?_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	version := func() int64 {
		var v int64
		if err := conn.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()
	for range 5 {
		for _, name := range []string{"grace", "heidi"} {
			res, err := f.svc.Preauth(context.Background(), auth.PreauthRequest{
				Request: auth.Request{Integration: f.in, Username: name}, TextPrompt: true})
			if err != nil || res.Result != auth.ResultAuth {
				t.Fatalf("preauth %s: %+v %v", name, res, err)
			}
		}
	}
	if after := version(); after != before {
		t.Errorf("data_version %d → %d: preauth wrote to the database", before, after)
	}
	// The check sees writes: a decision made at preauth is logged.
	f.user(t, "ivan", store.StatusBypass)
	before = version()
	if res, err := f.svc.Preauth(context.Background(), auth.PreauthRequest{
		Request: auth.Request{Integration: f.in, Username: "ivan"}}); err != nil || res.Result != auth.ResultAllow {
		t.Fatalf("preauth of a bypass user: %+v %v", res, err)
	}
	if after := version(); after == before {
		t.Errorf("data_version did not move after a logged preauth decision")
	}
}

// testBox is the fixture's master key.
func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

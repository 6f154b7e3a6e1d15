package auth_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// events records what Options.Events is told.
type events struct {
	mu   sync.Mutex
	rows []store.AuthLog
}

func (e *events) AuthEvent(l store.AuthLog) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rows = append(e.rows, l)
}

func (e *events) reasons() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.rows {
		out = append(out, r.Reason)
	}
	return out
}

func index(list []string, v string) int { return slices.Index(list, v) }

// Every committed auth-log row reaches Options.Events once, in order, the
// same row the auth log holds; the counters move with them: results by
// factor, lockouts, pushes by outcome.
func TestStatsAndEvents(t *testing.T) {
	t.Parallel()
	ev := &events{}
	f := newFixture(t, auth.Options{Events: ev, LockoutThreshold: 2, PushTimeout: time.Minute, Now: time.Now})
	ctx := context.Background()
	st := f.svc.Stats()
	result := func(factor, res string) uint64 {
		return st.Results(index(auth.AuthFactors[:], factor), index(auth.AuthResults[:], res))
	}

	u := f.user(t, "alice", store.StatusActive)
	codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 2})
	if r := f.passcode(t, "alice", codes[0]); r.Result != "allow" {
		t.Fatalf("bypass code: %+v", r)
	}
	f.passcode(t, "alice", "123456789") // wrong
	f.passcode(t, "alice", "123456780") // wrong: locked out at 2
	f.passcode(t, "alice", codes[1])    // locked out
	if got := result("bypass_code", "allow"); got != 1 {
		t.Errorf("bypass_code allow = %d", got)
	}
	if got := result("none", "deny") + result("passcode", "deny") + result("bypass_code", "deny"); got != 3 {
		t.Errorf("denials = %d, want 3", got)
	}
	if st.Lockouts() != 1 {
		t.Errorf("lockouts = %d, want 1", st.Lockouts())
	}
	want := []string{"valid_passcode", "invalid_passcode", "invalid_passcode", "locked_out"}
	if got := ev.reasons(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	logged := f.logs(t, u.ID)
	slices.Reverse(logged) // newest first
	for i, l := range logged {
		ev.mu.Lock()
		e := ev.rows[i]
		ev.mu.Unlock()
		if e.TxID != l.TxID || e.Reason != l.Reason || e.Factor != l.Factor || e.Username != "alice" {
			t.Errorf("event %d %+v, auth log %+v", i, e, l)
		}
	}

	// Pushes: one approved, one left to time out.
	f.user(t, "bob", store.StatusActive)
	a := f.device(t, "bob")
	// Async, so that the answer does not race the push's timeout.
	res, err := f.svc.Auth(ctx, f.pushReq("bob", true))
	if err != nil || res.TxID == "" {
		t.Fatalf("async push: %+v %v", res, err)
	}
	if err := f.svc.Answer(ctx, a.Device.ID, res.TxID, true); err != nil {
		t.Fatal(err)
	}
	// A short timeout only for the push left unanswered, so that a slow
	// machine cannot time out the first one before its answer.
	f.svc.SetPushTimeout(time.Second)
	if r, err := f.svc.Auth(ctx, f.pushReq("bob", false)); err != nil || r.Result != "deny" {
		t.Fatalf("unanswered push: %+v %v", r, err)
	}
	for outcome, want := range map[string]uint64{"sent": 2, "approved": 1, "timeout": 1, "denied": 0, "fraud": 0} {
		if got := st.Pushes(index(auth.PushOutcomes[:], outcome)); got != want {
			t.Errorf("pushes %s = %d, want %d", outcome, got, want)
		}
	}
	if got := result("duo_push", "allow"); got != 1 {
		t.Errorf("duo_push allow = %d", got)
	}
	if got := result("duo_push", "deny"); got != 1 {
		t.Errorf("duo_push deny = %d", got)
	}
	if got := ev.reasons()[len(ev.reasons())-2:]; !slices.Equal(got, []string{"user_approved", "no_response"}) {
		t.Errorf("push events %q", got)
	}
}

package auth_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/push"
)

type outcome struct {
	res auth.AuthResult
	err error
}

// watched starts Watch on h and returns where its outcome arrives; it
// fails the test if done runs twice.
func watched(t *testing.T, h *auth.Held) <-chan outcome {
	t.Helper()
	ch := make(chan outcome, 1)
	var calls atomic.Int32
	h.Watch(func(res auth.AuthResult, err error) {
		if calls.Add(1) > 1 {
			t.Error("done called twice")
			return
		}
		ch <- outcome{res, err}
	})
	return ch
}

func receive(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second): // only a failure waits this long
		t.Fatal("the held push was never decided")
		return outcome{}
	}
}

// StartAuth returns a Held for a synchronous push only, holding its place
// until the push is decided; Watch reports the device's answer.
func TestHeldWatchAnswered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		approve      bool
		result, msg  string
		reason, logd string
	}{
		{true, "allow", "Success. Logging you in...", "user_approved", "allow"},
		{false, "deny", "Login request denied.", "user_denied", "deny"},
	} {
		f := newFixture(t, auth.Options{})
		ctx := context.Background()
		a := f.device(t, "alice")
		res, h, err := f.svc.StartAuth(ctx, f.pushReq("alice", false))
		if err != nil || h == nil || res != (auth.AuthResult{}) {
			t.Fatalf("StartAuth: %+v, held %v, %v", res, h, err)
		}
		if st := f.svc.HeldRequests(); st.Open != 1 {
			t.Errorf("held before Watch: %d, want 1", st.Open)
		}
		out := watched(t, h)
		if err := f.svc.Answer(ctx, a.Device.ID, h.TxID(), tc.approve); err != nil {
			t.Fatal(err)
		}
		o := receive(t, out)
		if o.err != nil || o.res.Result != tc.result || o.res.Status != tc.result || o.res.StatusMsg != tc.msg || o.res.TxID != h.TxID() {
			t.Errorf("approve=%v: %+v %v", tc.approve, o.res, o.err)
		}
		waitHeld(t, f.svc, 0)
		if l := f.logs(t, a.Device.UserID); len(l) != 1 || l[0].Result != tc.logd || l[0].Reason != tc.reason || l[0].TxID != h.TxID() {
			t.Errorf("auth log %+v", l)
		}
	}
}

// Requests decided at once have no Held: passcodes, async pushes.
func TestStartAuthDecidedAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	f.device(t, "alice")
	code := f.codes(t, "alice", auth.NewBypassCodes{Count: 1})[0]
	res, h, err := f.svc.StartAuth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "passcode", Passcode: code})
	if err != nil || h != nil || res.Result != "allow" {
		t.Errorf("passcode: %+v, held %v, %v", res, h, err)
	}
	res, h, err = f.svc.StartAuth(ctx, f.pushReq("alice", true))
	if err != nil || h != nil || res.TxID == "" {
		t.Errorf("async push: %+v, held %v, %v", res, h, err)
	}
	if st := f.svc.HeldRequests(); st.Open != 0 {
		t.Errorf("held: %d, want 0", st.Open)
	}
}

// A watched push that expires is decided as a timeout with its auth-log
// row, on the watch's own recheck: here the broker wakes it after the
// clock passed the expiry.
func TestHeldWatchTimeout(t *testing.T) {
	t.Parallel()
	broker := push.NewLocal()
	f := newFixture(t, auth.Options{Broker: broker})
	ctx := context.Background()
	a := f.device(t, "alice")
	_, h, err := f.svc.StartAuth(ctx, f.pushReq("alice", false))
	if err != nil || h == nil {
		t.Fatalf("StartAuth: %v %v", h, err)
	}
	out := watched(t, h)
	waitSubscribed(t, broker, 1)
	f.clock.Advance(auth.DefaultPushTimeout + time.Second)
	_ = broker.Publish(ctx, h.TxID())
	o := receive(t, out)
	if o.err != nil || o.res.Result != "deny" || o.res.Status != "timeout" || o.res.StatusMsg != "Login timed out." {
		t.Errorf("timeout: %+v %v", o.res, o.err)
	}
	if l := f.logs(t, a.Device.UserID); len(l) != 1 || l[0].Result != "deny" || l[0].Reason != "no_response" {
		t.Errorf("auth log %+v", l)
	}
	waitHeld(t, f.svc, 0)
	waitSubscribed(t, broker, 0)
}

// Cancel (the client went away) ends the wait at once: the place and the
// subscription are given back, done is not called, and the push stays
// pending for its device.
func TestHeldCancel(t *testing.T) {
	t.Parallel()
	broker := push.NewLocal()
	f := newFixture(t, auth.Options{Broker: broker})
	ctx := context.Background()
	a := f.device(t, "alice")
	_, h, err := f.svc.StartAuth(ctx, f.pushReq("alice", false))
	if err != nil || h == nil {
		t.Fatalf("StartAuth: %v %v", h, err)
	}
	out := watched(t, h)
	waitSubscribed(t, broker, 1)
	h.Cancel()
	h.Cancel() // twice is harmless
	if st := f.svc.HeldRequests(); st.Open != 0 {
		t.Errorf("held after Cancel: %d, want 0", st.Open)
	}
	waitSubscribed(t, broker, 0)
	if p, _ := f.svc.Pending(ctx, a.Device.ID); len(p) != 1 || p[0].ID != h.TxID() {
		t.Errorf("pending after Cancel: %+v", p)
	}
	if err := f.svc.Answer(ctx, a.Device.ID, h.TxID(), true); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-out:
		t.Errorf("done called after Cancel: %+v", o)
	case <-time.After(100 * time.Millisecond):
	}
}

// Many held pushes wait without a goroutine each, and each answer reaches
// its own waiter exactly once.
func TestManyHeldWithoutGoroutines(t *testing.T) {
	t.Parallel()
	broker := push.NewLocal()
	f := newFixture(t, auth.Options{Broker: broker})
	ctx := context.Background()
	a := f.device(t, "alice")
	const n = 200
	before := runtime.NumGoroutine()
	helds := make([]*auth.Held, n)
	outs := make([]<-chan outcome, n)
	for i := range n {
		_, h, err := f.svc.StartAuth(ctx, f.pushReq("alice", false))
		if err != nil || h == nil {
			t.Fatalf("StartAuth %d: %v %v", i, h, err)
		}
		helds[i], outs[i] = h, watched(t, h)
	}
	waitSubscribed(t, broker, n)
	// The first checks have run: what is left is the waiting itself.
	if g := runtime.NumGoroutine(); g > before+20 {
		t.Errorf("%d goroutines with %d held pushes (from %d): a goroutine per waiter?", g, n, before)
	}
	if st := f.svc.HeldRequests(); st.Open != n {
		t.Errorf("held: %d, want %d", st.Open, n)
	}
	for i, h := range helds {
		if err := f.svc.Answer(ctx, a.Device.ID, h.TxID(), i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range helds {
		o := receive(t, outs[i])
		want := map[bool]string{true: "allow", false: "deny"}[i%2 == 0]
		if o.err != nil || o.res.Result != want || o.res.TxID != h.TxID() {
			t.Errorf("held %d: %+v %v, want %s", i, o.res, o.err, want)
		}
	}
	waitHeld(t, f.svc, 0)
	waitSubscribed(t, broker, 0)
}

func waitSubscribed(t *testing.T, b *push.Local, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Waiting() != n {
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions: %d, want %d", b.Waiting(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// EndHeld (the server's drain time is over) answers a held synchronous push
// at once as timed out, with its auth-log row, and a long poll with the
// push still waiting, whose push stays pending; waits started afterwards
// end at once too.
func TestEndHeld(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{PushTimeout: time.Minute})
	ctx := context.Background()
	a := f.device(t, "alice")
	_, h, err := f.svc.StartAuth(ctx, f.pushReq("alice", false))
	if err != nil || h == nil {
		t.Fatalf("StartAuth: held %v, %v", h, err)
	}
	out := watched(t, h)
	async, err := f.svc.Auth(ctx, f.pushReq("alice", true))
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan auth.Status, 1)
	go func() {
		st, err := f.svc.AuthStatus(ctx, f.in, async.TxID)
		if err != nil {
			t.Error(err)
		}
		polled <- st
	}()
	waitHeld(t, f.svc, 2)
	f.svc.EndHeld()
	o := receive(t, out)
	if o.err != nil || o.res.Result != "deny" || o.res.Status != "timeout" {
		t.Errorf("held push after EndHeld: %+v %v, want deny/timeout", o.res, o.err)
	}
	select {
	case st := <-polled:
		if st.Result != "waiting" {
			t.Errorf("long poll after EndHeld: %+v, want waiting", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll was not answered")
	}
	waitHeld(t, f.svc, 0)
	if l := f.logs(t, a.Device.UserID); len(l) != 1 || l[0].TxID != h.TxID() || l[0].Result != "deny" || l[0].Reason != "no_response" {
		t.Errorf("auth log %+v, want the held push's timeout only", l)
	}
	// The async push is still pending: the device can answer it.
	if err := f.svc.Answer(ctx, a.Device.ID, async.TxID, true); err != nil {
		t.Errorf("answer the async push after EndHeld: %v", err)
	}
	start := time.Now()
	if st, err := f.svc.AuthStatus(ctx, f.in, async.TxID); err != nil || st.Result != "allow" {
		t.Errorf("auth_status after the answer: %+v %v", st, err)
	}
	_, h2, err := f.svc.StartAuth(ctx, f.pushReq("alice", false))
	if err != nil || h2 == nil {
		t.Fatalf("StartAuth after EndHeld: %v", err)
	}
	if o := receive(t, watched(t, h2)); o.res.Status != "timeout" || time.Since(start) > 5*time.Second {
		t.Errorf("a push held after EndHeld: %+v, want timed out at once", o.res)
	}
}

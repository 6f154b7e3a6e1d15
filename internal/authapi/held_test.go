package authapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
)

// v2 sends a request signed as Duo's v2 clients sign, on its own
// connection, and returns the answer's status, envelope and whether the
// server closed the connection.
func (f *fixture) v2(ctx context.Context, path string, params url.Values) (int, map[string]any, bool, error) {
	s := duosig.Signer{IKey: f.ikey, SKey: f.skey, Host: apiHost, Version: 2, Digest: duosig.SHA512}
	req, err := s.NewRequest(ctx, http.MethodPost, path, params)
	if err != nil {
		return 0, nil, false, err
	}
	target, _ := url.Parse(f.srv.URL)
	req.URL.Scheme, req.URL.Host, req.Host = "http", target.Host, apiHost
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, false, err
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		return 0, nil, false, err
	}
	return resp.StatusCode, env, resp.Close, nil
}

type v2Answer struct {
	status int
	env    map[string]any
	closed bool
	err    error
}

// goV2 sends the request from a goroutine.
func (f *fixture) goV2(ctx context.Context, params url.Values) <-chan v2Answer {
	ch := make(chan v2Answer, 1)
	go func() {
		st, env, closed, err := f.v2(ctx, "/auth/v2/auth", params)
		ch <- v2Answer{st, env, closed, err}
	}()
	return ch
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pushParams(username string) url.Values {
	return url.Values{"username": {username}, "factor": {"push"}, "device": {"auto"}}
}

// A synchronous v2 push is held detached from net/http, answered when the
// device answers, and its connection closed after the answer.
func TestHeldPushAnswered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	if _, err := f.svc.CreateUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	device := f.phone(t, "alice")
	for _, approve := range []bool{true, false} {
		answer := f.goV2(context.Background(), pushParams("alice"))
		waitFor(t, "the push is held detached", func() bool { return f.det.Open() == 1 && f.svc.HeldRequests().Open == 1 })
		if err := <-f.answerPush(t, device, approve); err != nil {
			t.Fatal(err)
		}
		a := <-answer
		want := map[bool]string{true: "allow", false: "deny"}[approve]
		resp, _ := a.env["response"].(map[string]any)
		if a.err != nil || a.status != http.StatusOK || a.env["stat"] != "OK" || resp["result"] != want || !a.closed {
			t.Errorf("approve=%v: %d %v closed=%v %v", approve, a.status, a.env, a.closed, a.err)
		}
		waitFor(t, "the held place is given back", func() bool { return f.det.Open() == 0 && f.svc.HeldRequests().Open == 0 })
	}
}

// A client that goes away while its synchronous push waits ends the wait:
// its max_held_requests place comes back at once, and the push stays
// pending for the device.
func TestHeldPushClientGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	if _, err := f.svc.CreateUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	device := f.phone(t, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	answer := f.goV2(ctx, pushParams("alice"))
	waitFor(t, "the push is held detached", func() bool { return f.det.Open() == 1 && f.svc.HeldRequests().Open == 1 })
	cancel() // the client closes its connection
	if a := <-answer; !errors.Is(a.err, context.Canceled) {
		t.Errorf("client: %+v, want canceled", a)
	}
	waitFor(t, "the hangup ends the wait", func() bool { return f.det.Open() == 0 && f.svc.HeldRequests().Open == 0 })
	if p, err := f.svc.Pending(context.Background(), device); err != nil || len(p) != 1 {
		t.Errorf("pending after the client left: %d %v, want 1", len(p), err)
	}
}

// max_held_requests caps detached requests too: one more synchronous push
// is refused with 429 (and not sent); an async push is not held.
func TestHeldPushCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{MaxHeldRequests: 1})
	if _, err := f.svc.CreateUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	device := f.phone(t, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	answer := f.goV2(ctx, pushParams("alice"))
	waitFor(t, "the push is held detached", func() bool { return f.det.Open() == 1 })
	st, env, _, err := f.v2(context.Background(), "/auth/v2/auth", pushParams("alice"))
	if err != nil || st != http.StatusTooManyRequests || env["code"] != float64(42901) {
		t.Errorf("a second held push: %d %v %v, want 429/42901", st, env, err)
	}
	async := pushParams("alice")
	async.Set("async", "1")
	if st, env, _, err := f.v2(context.Background(), "/auth/v2/auth", async); err != nil || st != http.StatusOK {
		t.Errorf("an async push at the cap: %d %v %v", st, env, err)
	}
	if p, _ := f.svc.Pending(context.Background(), device); len(p) != 2 {
		t.Errorf("%d pushes pending, want 2 (the refused one was not sent)", len(p))
	}
	cancel()
	<-answer
}

// A held push that nobody answers times out: the answer is Duo's timeout
// deny, written to the detached connection.
func TestHeldPushTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{PushTimeout: time.Second, Now: time.Now})
	if _, err := f.svc.CreateUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	f.phone(t, "alice")
	a := <-f.goV2(context.Background(), pushParams("alice"))
	resp, _ := a.env["response"].(map[string]any)
	if a.err != nil || a.status != http.StatusOK || resp["result"] != "deny" || resp["status"] != "timeout" {
		t.Errorf("timeout: %d %v %v", a.status, a.env, a.err)
	}
	if f.svc.HeldRequests().Open != 0 {
		t.Errorf("held after the timeout: %d", f.svc.HeldRequests().Open)
	}
}

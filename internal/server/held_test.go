package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/store"
)

// heldFixture is a served installation with an Auth API integration and a
// user with an activated device.
type heldFixture struct {
	ts         *testServer
	ikey, skey string
	device     string
}

func newHeldFixture(t *testing.T, flags map[string]string) *heldFixture {
	t.Helper()
	ts := start(t, flags, nil)
	ctx := context.Background()
	core := ts.s.app.Core
	in, skey, err := core.CreateIntegration(ctx, auth.NewIntegration{Name: "held", Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	e, err := core.Enroll(ctx, auth.EnrollRequest{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	a, err := core.Activate(ctx, auth.ActivateRequest{Code: e.Code, PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	if err != nil {
		t.Fatal(err)
	}
	return &heldFixture{ts: ts, ikey: in.IKey, skey: skey, device: a.Device.ID}
}

type pushAnswer struct {
	result string
	err    error
}

// push sends a synchronous push for alice on its own connection.
func (f *heldFixture) push(t *testing.T) <-chan pushAnswer {
	t.Helper()
	s := duosig.Signer{IKey: f.ikey, SKey: f.skey, Host: f.ts.s.app.Config.PublicHostname, Version: 2, Digest: duosig.SHA512}
	req, err := s.NewRequest(context.Background(), http.MethodPost, "/auth/v2/auth",
		url.Values{"username": {"alice"}, "factor": {"push"}, "device": {"auto"}})
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Host = f.ts.addr
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	ch := make(chan pushAnswer, 1)
	go func() {
		defer c.CloseIdleConnections()
		resp, err := c.Do(req)
		if err != nil {
			ch <- pushAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var env struct {
			Response struct {
				Result string `json:"result"`
			} `json:"response"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			ch <- pushAnswer{err: err}
			return
		}
		ch <- pushAnswer{result: env.Response.Result}
	}()
	return ch
}

func (f *heldFixture) waitHeld(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.ts.s.detacher.Open() != n || f.ts.s.app.Core.HeldRequests().Open != n {
		if time.Now().After(deadline) {
			t.Fatalf("detached %d, held %d; want %d", f.ts.s.detacher.Open(), f.ts.s.app.Core.HeldRequests().Open, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The server holds synchronous pushes detached, counts each once in the
// request metrics when it is answered, and on shutdown gives them the
// shutdown timeout to be answered before it closes the rest.
func TestHeldPushesAndShutdown(t *testing.T) {
	t.Parallel()
	f := newHeldFixture(t, map[string]string{"shutdown_timeout": "2s"})
	ctx := context.Background()
	core := f.ts.s.app.Core

	answered := f.push(t)
	f.waitHeld(t, 1)
	pending, err := core.Pending(ctx, f.device)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending: %v %v", pending, err)
	}
	before := f.ts.metric(t, `assent_http_requests_total{class="2xx"}`)
	if err := core.Answer(ctx, f.device, pending[0].ID, true); err != nil {
		t.Fatal(err)
	}
	if a := <-answered; a.err != nil || a.result != "allow" {
		t.Fatalf("held push: %+v", a)
	}
	f.waitHeld(t, 0)
	if after := f.ts.metric(t, `assent_http_requests_total{class="2xx"}`); after == before {
		t.Errorf("the answered held push was not counted (2xx %s before and after)", after)
	}

	// Shutdown with two held: one answered in time, one never.
	inTime, never := f.push(t), f.push(t)
	f.waitHeld(t, 2)
	stopped := make(chan error, 1)
	f.ts.stopped = true
	go func() { stopped <- f.ts.stop() }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.ts.logs.String(), "shutting down") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	pending, err = core.Pending(ctx, f.device)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending: %v %v", pending, err)
	}
	if err := core.Answer(ctx, f.device, pending[0].ID, false); err != nil {
		t.Fatal(err)
	}
	first, second := <-inTime, <-never
	if first.result == "deny" && second.result == "deny" { // both deny: which was answered?
		first, second = second, first
	}
	if first.err != nil || first.result != "deny" {
		t.Errorf("held push answered during shutdown: %+v, want deny", first)
	}
	if second.err != nil || second.result != "deny" {
		t.Errorf("held push never answered: %+v, want deny (timed out at the end of the drain)", second)
	}
	if err := <-stopped; err != nil {
		t.Errorf("serve: %v, want a clean stop (the unanswered push was answered as timed out)", err)
	}
	// Both pushes have their auth-log rows: the denial and the timeout.
	rows, err := f.ts.s.app.Store.ListAuthLog(ctx, store.AuthLogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, r := range rows {
		reasons[r.Reason]++
	}
	if reasons["user_denied"] != 1 || reasons["no_response"] != 1 {
		t.Errorf("auth-log reasons after shutdown: %v, want one user_denied and one no_response", reasons)
	}
	if n := core.HeldRequests().Open; n != 0 {
		t.Errorf("held after shutdown: %d", n)
	}
}

// memory_limit becomes the runtime's soft memory limit; 0 keeps the one in
// force (GOMEMLIMIT), and reports none when there is none.
func TestApplyMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	if got := applyMemoryLimit(512 << 20); got != 512<<20 || debug.SetMemoryLimit(-1) != 512<<20 {
		t.Errorf("memory_limit 512MiB: %d in force %d", got, debug.SetMemoryLimit(-1))
	}
	if got := applyMemoryLimit(0); got != 512<<20 {
		t.Errorf("memory_limit 0 over an existing limit: %d, want it kept", got)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if got := applyMemoryLimit(0); got != 0 {
		t.Errorf("no limit anywhere: %d, want 0", got)
	}
}

package authapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authapi"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// benchCore answers every passcode auth with allow, at no cost, so that
// BenchmarkAuthEdge measures the Auth API edge alone.
type benchCore struct{ authapi.Core }

func (benchCore) Auth(_ context.Context, req auth.AuthRequest) (auth.AuthResult, error) {
	if req.Passcode != "123456789" || req.Username != "alice" {
		return auth.AuthResult{Result: auth.ResultDeny, Status: "deny", StatusMsg: "Incorrect passcode. Please try again."}, nil
	}
	return auth.AuthResult{Result: auth.ResultAllow, Status: "allow", StatusMsg: "Success. Logging you in..."}, nil
}

// StartAuth is what the auth handler calls: a passcode is never held.
func (c benchCore) StartAuth(ctx context.Context, req auth.AuthRequest) (auth.AuthResult, *auth.Held, error) {
	res, err := c.Auth(ctx, req)
	return res, nil, err
}

func (benchCore) Preauth(_ context.Context, req auth.PreauthRequest) (auth.PreauthResult, error) {
	return auth.PreauthResult{Result: auth.ResultAuth, StatusMsg: "Account is active", Devices: []auth.Device{{
		ID: "DPXXXXXXXXXXXXXXXXXX", Type: "phone", Number: "XXX-XXX-1234", Name: "iPhone", DisplayName: "iOS (XXX-XXX-1234)",
		Capabilities: []string{"auto", "push", "mobile_otp"}}}}, nil
}

// benchLookup finds one integration, as the core does after its store read.
type benchLookup struct{ skey string }

func (l benchLookup) Integration(_ context.Context, ikey string) (store.Integration, string, error) {
	return store.Integration{IKey: ikey, Type: store.TypeAuthAPI}, l.skey, nil
}

// discardWriter keeps the status and drops the body; its header map is
// reused (net/http allocates one per answer).
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

// BenchmarkAuthEdge is a signed passcode auth (and a preauth), signed as
// `assent bench` signs them (v2, HMAC-SHA512, form body), through
// everything the server runs between net/http and the core: the
// middleware (request ID, logger, access-log line formatted as text and
// discarded), the mux, the signer, the handler and the JSON answer. The
// core and the integration look-up are stubs that cost nothing. See
// docs/benchmarks.md, "Request path profile".
func BenchmarkAuthEdge(b *testing.B) {
	for _, tc := range []struct {
		name, path string
		params     url.Values
	}{
		{"auth", "/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"passcode"}, "passcode": {"123456789"}, "ipaddr": {"192.0.2.10"}}},
		{"preauth", "/auth/v2/preauth", url.Values{"username": {"alice"}, "ipaddr": {"192.0.2.10"}}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchEdge(b, tc.path, tc.params) })
	}
}

func benchEdge(b *testing.B, path string, params url.Values) {
	const skey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	mux := http.NewServeMux()
	signer := &httpapi.Signer{Lookup: benchLookup{skey}, Verifier: duosig.Verifier{Hosts: []string{apiHost}, Now: func() time.Time { return now }, MACs: &duosig.MACPool{}}}
	(&authapi.API{Core: benchCore{}, Now: time.Now, APIHostname: apiHost}).Register(mux, signer)
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := httpapi.Middleware(log, mux)

	s := duosig.Signer{IKey: "DIBENCHXXXXXXXXXXXXX", SKey: skey, Host: apiHost, Version: 2, Digest: duosig.SHA512,
		Now: func() time.Time { return now }}
	cr, err := s.NewRequest(context.Background(), http.MethodPost, path, params)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(cr.Body)
	r, err := http.NewRequest(http.MethodPost, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	r.RequestURI, r.Host, r.RemoteAddr = path, apiHost, "127.0.0.1:40000"
	r.Header, r.ContentLength = cr.Header.Clone(), int64(len(body))
	var rd bytes.Reader
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		rd.Reset(body)
		r.Body = io.NopCloser(&rd)
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatal(w.status)
		}
	}
}

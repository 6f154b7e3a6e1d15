package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

const (
	signedHost = "mfa.example.com:8443" // the configured name
	authIKey   = "DIAUTHXXXXXXXXXXXXXX"
	legacyIKey = "DILEGACYXXXXXXXXXXXX"
	webIKey    = "DIWEBSDKXXXXXXXXXXXX"
	testSKey   = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
)

var signedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// lookup is an IntegrationLookup over three integrations that counts its
// calls, so tests see which requests got as far as a lookup.
type lookup struct{ calls atomic.Int64 }

func (l *lookup) Integration(_ context.Context, ikey string) (store.Integration, string, error) {
	l.calls.Add(1)
	switch ikey {
	case authIKey:
		return store.Integration{IKey: ikey, Type: store.TypeAuthAPI}, testSKey, nil
	case legacyIKey:
		return store.Integration{IKey: ikey, Type: store.TypeAuthAPI, LegacySignatures: true}, testSKey, nil
	case webIKey:
		return store.Integration{IKey: ikey, Type: store.TypeWebSDK}, testSKey, nil
	}
	return store.Integration{}, "", &auth.Error{Kind: auth.KindNotFound, Detail: "no integration"}
}

type signedFixture struct {
	lookup  *lookup
	handler http.Handler
}

// newSignedFixture serves two routes: /auth/v2/auth (DatedOnly, 4 KiB) and
// /rest/v1/auth (WithUndatedV1), with a failure budget of burst per client.
func newSignedFixture(burst int) *signedFixture {
	f := &signedFixture{lookup: &lookup{}}
	s := &Signer{
		Lookup:   f.lookup,
		Verifier: duosig.Verifier{Hosts: []string{signedHost}, Now: func() time.Time { return signedNow }},
		Failures: ratelimit.NewNamed("rate_limit_bad_signatures", ratelimit.Limit{Every: time.Minute, Burst: burst}, ratelimit.Options{Now: func() time.Time { return signedNow }}),
	}
	ok := func(w http.ResponseWriter, r *http.Request, c *Call) error {
		WriteOK(w, map[string]string{"ikey": c.Integration.IKey, "username": c.Params.Get("username")})
		return nil
	}
	types := []store.IntegrationType{store.TypeAuthAPI}
	mux := http.NewServeMux()
	mux.Handle("/auth/v2/auth", s.Require(Route{Types: types, MaxBody: 4 << 10}, ok))
	mux.Handle("/rest/v1/auth", s.Require(Route{Types: types, MaxBody: 4 << 10, Versions: duosig.WithUndatedV1}, ok))
	f.handler = mux
	return f
}

// req describes one request: how it is signed and what is sent.
type req struct {
	ikey, skey string
	version    int
	digest     duosig.Digest
	host       string // signed host; default signedHost
	hostHeader string // default the signed host
	path       string // default /auth/v2/auth
	params     url.Values
	noDate     bool
	noAuth     bool      // send no Authorization header
	date       time.Time // default signedNow
	ctype      string    // replaces the Content-Type
	body       string    // replaces the body (the signature then covers the params only)
	remote     string    // client address; default 192.0.2.1:40000
}

// do sends r straight to the handler and returns the status, the Duo
// code, the Retry-After header and how many body bytes the server read.
func (f *signedFixture) do(t *testing.T, r req) (status, code int, retryAfter string, read int64) {
	t.Helper()
	if r.ikey == "" {
		r.ikey = authIKey
	}
	if r.skey == "" {
		r.skey = testSKey
	}
	if r.host == "" {
		r.host = signedHost
	}
	if r.path == "" {
		r.path = "/auth/v2/auth"
	}
	if r.params == nil {
		r.params = url.Values{"username": {"alice"}, "factor": {"push"}}
	}
	if r.date.IsZero() {
		r.date = signedNow
	}
	s := duosig.Signer{IKey: r.ikey, SKey: r.skey, Host: r.host, Version: r.version, Digest: r.digest,
		Now: func() time.Time { return r.date }}
	hr, err := s.NewRequest(context.Background(), http.MethodPost, r.path, r.params)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hr.Body)
	if r.body != "" {
		body = []byte(r.body)
	}
	var counter atomic.Int64
	sr := httptest.NewRequest(http.MethodPost, r.path, nil)
	sr.Body = testutil.CountingBody{R: strings.NewReader(string(body)), N: &counter}
	sr.ContentLength = int64(len(body))
	sr.Header = hr.Header
	if r.ctype != "" {
		sr.Header.Set("Content-Type", r.ctype)
	}
	if r.noDate {
		sr.Header.Del("Date")
	}
	if r.noAuth {
		sr.Header.Del("Authorization")
	}
	sr.Host = r.host
	if r.hostHeader != "" {
		sr.Host = r.hostHeader
	}
	sr.RemoteAddr = "192.0.2.1:40000"
	if r.remote != "" {
		sr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, sr)
	var env struct {
		Code int    `json:"code"`
		Stat string `json:"stat"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("not a Duo envelope: %d %s", w.Code, w.Body)
	}
	return w.Code, env.Code, w.Header().Get("Retry-After"), counter.Load()
}

// TestSignerRejects: each way a request fails, with Duo's code, and how
// far it got: rejections before the body is read read none of it.
func TestSignerRejects(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 64<<10)
	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   int
		// bodyRead: whether the server may read the body at all.
		bodyRead bool
	}{
		{name: "v2 signed", r: req{version: 2}, status: 200, bodyRead: true},
		{name: "v5 JSON signed", r: req{version: 5}, status: 200, bodyRead: true},
		{name: "signed without the port", r: req{version: 2, host: "mfa.example.com", hostHeader: signedHost}, status: 200, bodyRead: true},
		{name: "upper-case host signed", r: req{version: 2, host: "MFA.example.com:8443"}, status: 200, bodyRead: true},
		// The Host header is the client's: a request signed for another
		// server is refused even when the Host header names that server.
		{name: "signed for another host, Host header names it", r: req{version: 2, host: "other.example.com", hostHeader: "other.example.com"},
			status: 401, code: 40103, bodyRead: true},
		{name: "missing date", r: req{version: 2, noDate: true, body: big}, status: 401, code: 40104},
		{name: "stale date", r: req{version: 2, date: signedNow.Add(-time.Hour), body: big}, status: 401, code: 40105},
		{name: "unknown integration key", r: req{ikey: "DIUNKNOWNXXXXXXXXXXX", body: big}, status: 401, code: 40102},
		// A Web SDK key is seen by browsers: refused before the body.
		{name: "Web SDK key on the Auth API", r: req{ikey: webIKey, version: 2, body: big}, status: 403, code: 40301},
		{name: "no Authorization", r: req{noAuth: true, body: big}, status: 401, code: 40101},
		{name: "text/xml", r: req{version: 2, ctype: "text/xml", body: "<a/>"}, status: 401, code: 40106},
		{name: "body over the route's limit", r: req{version: 2, body: big}, status: 413, code: 41301},
		{name: "wrong key", r: req{version: 2, skey: strings.Repeat("k", 40)}, status: 401, code: 40103, bodyRead: true},

		// Replay: version 1 signs no date.
		{name: "v1 without date on a dated route", r: req{version: 1, digest: duosig.SHA1, noDate: true}, status: 401, code: 40104},
		{name: "v1 with a fresh unsigned date on a dated route", r: req{version: 1, digest: duosig.SHA1}, status: 401, code: 40103, bodyRead: true},
		{name: "v1 without date on the legacy route", r: req{version: 1, digest: duosig.SHA1, noDate: true, path: "/rest/v1/auth"},
			status: 200, bodyRead: true},
		{name: "v1 SHA512 captured a day ago, legacy route", r: req{version: 1, noDate: true, path: "/rest/v1/auth", date: signedNow.Add(-24 * time.Hour)},
			status: 200, bodyRead: true},
		{name: "v1 without date, legacy integration", r: req{ikey: legacyIKey, version: 1, digest: duosig.SHA1, noDate: true},
			status: 200, bodyRead: true},
		{name: "v2 still dated on the legacy route", r: req{version: 2, path: "/rest/v1/auth", date: signedNow.Add(-time.Hour)},
			status: 401, code: 40105},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newSignedFixture(100)
			status, code, _, read := f.do(t, tc.r)
			if status != tc.status || code != tc.code {
				t.Errorf("HTTP %d code %d, want %d %d", status, code, tc.status, tc.code)
			}
			if !tc.bodyRead && read > 0 {
				t.Errorf("the server read %d body bytes before refusing", read)
			}
		})
	}
}

// TestSignerFailureLimit: failed signatures from one address use up its
// budget; then it is answered 429/42901 with Retry-After before anything
// is looked up, even when correctly signed, while other addresses go on.
// Successes cost nothing.
func TestSignerFailureLimit(t *testing.T) {
	t.Parallel()
	const burst = 5
	f := newSignedFixture(burst)
	attacker, other := "192.0.2.66:1234", "198.51.100.7:5555"
	good := req{version: 2}

	// Successes never count.
	for range 3 * burst {
		good.remote = attacker
		if status, _, _, _ := f.do(t, good); status != 200 {
			t.Fatalf("good request: HTTP %d", status)
		}
	}
	// Every kind of failure counts: wrong key, unknown ikey, bad and missing dates.
	failures := []req{
		{version: 2, skey: strings.Repeat("k", 40)},
		{ikey: "DIUNKNOWNXXXXXXXXXXX"},
		{version: 2, date: signedNow.Add(time.Hour)},
		{version: 2, noDate: true},
		{version: 2, skey: strings.Repeat("k", 40)},
	}
	for i, r := range failures {
		r.remote = attacker
		if status, code, _, _ := f.do(t, r); status != 401 {
			t.Fatalf("failure %d: HTTP %d code %d, want 401", i, status, code)
		}
	}
	before := f.lookup.calls.Load()
	for _, r := range []req{{version: 2, skey: strings.Repeat("k", 40)}, good} {
		r.remote = attacker
		status, code, retry, read := f.do(t, r)
		if status != 429 || code != 42901 || retry == "" || read != 0 {
			t.Errorf("blocked client: HTTP %d code %d Retry-After %q, %d bytes read; want 429 42901 with Retry-After", status, code, retry, read)
		}
	}
	if n := f.lookup.calls.Load() - before; n != 0 {
		t.Errorf("a blocked client caused %d integration lookups", n)
	}
	// Another address, and the same key, still work.
	good.remote = other
	if status, code, _, _ := f.do(t, good); status != 200 {
		t.Errorf("another address: HTTP %d code %d", status, code)
	}
	// IPv6 clients are keyed by their /64.
	for i := range burst {
		if status, _, _, _ := f.do(t, req{version: 2, noDate: true, remote: "[2001:db8:1:2::" + string(rune('a'+i)) + "]:443"}); status != 401 {
			t.Fatalf("IPv6 failure %d: HTTP %d", i, status)
		}
	}
	if status, _, _, _ := f.do(t, req{version: 2, remote: "[2001:db8:1:2:ffff::1]:443"}); status != 429 {
		t.Errorf("same /64: HTTP %d, want 429", status)
	}
	if status, _, _, _ := f.do(t, req{version: 2, remote: "[2001:db8:1:3::1]:443"}); status != 200 {
		t.Errorf("other /64: HTTP %d, want 200", status)
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"192.0.2.1:443":             "192.0.2.1",
		"[::ffff:192.0.2.1]:443":    "192.0.2.1",
		"[2001:db8::1]:443":         "2001:db8::/64",
		"[fe80::1%eth0]:443":        "fe80::/64",
		"[2001:db8:0:0:1::]:1":      "2001:db8::/64",
		"not an address":            "not an address",
		"unix-socket-peer:whatever": "unix-socket-peer",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		if got := ClientKey(r); got != want {
			t.Errorf("%q: %q, want %q", remote, got, want)
		}
	}
}

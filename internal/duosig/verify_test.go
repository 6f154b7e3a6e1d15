package duosig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testIKey = "DIWJ8X6AEYOR5OMC6TQ1"
	testSKey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	cfgHost  = "api-test.example.com:8443" // as configured
	bareHost = "api-test.example.com"
)

var testNow = time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)

func testVerifier() Verifier {
	return Verifier{Hosts: []string{cfgHost}, Now: func() time.Time { return testNow }}
}

func fmtDate(t time.Time, zone *time.Location) string {
	return t.In(zone).Format(DateFormat)
}

var (
	minus4  = time.FixedZone("", -4*3600)
	plus530 = time.FixedZone("", 5*3600+1800)
)

// clientReq describes a request as a particular client signs and sends it.
type clientReq struct {
	version    int
	digest     Digest
	signedHost string
	dateHeader string // "Date", "X-Duo-Date" or "" for none
	date       string
	method     string
	path       string
	query      url.Values
	form       url.Values
	body       []byte // JSON body (v4/v5); for forms the body is derived
	xduo       http.Header
	signedXDuo http.Header // x-duo headers hashed into v5 line 7
	skey       string      // signing key, defaults to testSKey
	auth       func(ikey, sig string) string
}

// build signs r and returns what the server would see.
func (r clientReq) build(t testing.TB) (Incoming, string) {
	t.Helper()
	if r.skey == "" {
		r.skey = testSKey
	}
	signed := Request{Method: r.method, Host: r.signedHost, Path: r.path, Date: r.date, Body: r.body, XDuoHeaders: r.signedXDuo}
	if r.version <= 2 {
		signed.Params = url.Values{}
		for _, p := range []url.Values{r.query, r.form} {
			for k, vs := range p {
				signed.Params[k] = append(signed.Params[k], vs...)
			}
		}
	} else {
		signed.Params = r.query
	}
	canon, err := Canonicalize(r.version, signed)
	if err != nil {
		t.Fatal(err)
	}
	auth := Authorization
	if r.auth != nil {
		auth = r.auth
	}
	h := http.Header{}
	for k, vs := range r.xduo {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	if r.dateHeader != "" {
		h.Set(r.dateHeader, r.date)
	}
	in := Incoming{Method: r.method, Path: r.path, Query: r.query, Header: h}
	switch {
	case r.body != nil:
		in.Body, in.JSONBody = r.body, true
	case r.form != nil:
		in.Form = r.form
		in.Body = []byte(strings.ReplaceAll(CanonParams(r.form), "%20", "+"))
	}
	return in, auth(testIKey, Sign(r.digest, r.skey, canon))
}

func TestVerifyClients(t *testing.T) {
	t.Parallel()
	now := testNow.Add(-42 * time.Second) // some client clock skew
	utc := fmtDate(now, time.UTC)
	minus0 := strings.Replace(utc, "+0000", "-0000", 1)
	gmt := now.UTC().Format(http.TimeFormat)
	authForm := url.Values{"username": {"alice"}, "factor": {"push"}, "device": {"auto"}, "display_username": {"Alice Example"}}
	jsonBody := []byte(`{"device":"auto","factor":"push","username":"alice"}`)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	// Cases with this prefix run WithUndatedV1 (a legacy route or
	// integration); the others DatedOnly.
	const legacy = "legacy: "
	tests := []struct {
		name string
		req  clientReq
		want error
	}{
		{legacy + "duo_unix <=2.0.0: v1 SHA1, no date, form", clientReq{version: 1, digest: SHA1, signedHost: bareHost,
			method: "POST", path: "/rest/v1/auth.bson", form: url.Values{"user": {"alice"}, "factor": {"push"}, "ipaddr": {"10.0.0.1"}}}, nil},
		{legacy + "duo_unix 2.0.1: v1 SHA512, no date", clientReq{version: 1, digest: SHA512, signedHost: bareHost,
			method: "POST", path: "/rest/v1/preauth", form: url.Values{"user": {"alice"}}}, nil},
		{legacy + "Java v1 SHA512, no date, GET", clientReq{version: 1, digest: SHA512, signedHost: bareHost,
			method: "GET", path: "/auth/v2/check"}, nil},
		{legacy + "python sig_version=1: v1 with a Date header", clientReq{version: 1, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "POST", path: "/auth/v2/preauth", form: url.Values{"username": {"alice"}}}, nil},
		{legacy + "v2 still works", clientReq{version: 2, digest: SHA512, signedHost: cfgHost,
			dateHeader: "Date", date: utc, method: "POST", path: "/auth/v2/auth", form: authForm}, nil},
		{"duo_unix 2.0.4: v2 SHA512, X-Duo-Date local offset", clientReq{version: 2, digest: SHA512, signedHost: bareHost,
			dateHeader: "X-Duo-Date", date: fmtDate(now, minus4), method: "POST", path: "/auth/v2/preauth", form: url.Values{"username": {"alice"}}}, nil},
		{"v2 SHA1, X-Duo-Date +0530", clientReq{version: 2, digest: SHA1, signedHost: bareHost,
			dateHeader: "X-Duo-Date", date: fmtDate(now, plus530), method: "GET", path: "/auth/v2/ping"}, nil},
		{"duo_unix HEAD: v2 SHA512, X-Duo-Date +0000", clientReq{version: 2, digest: SHA512, signedHost: bareHost,
			dateHeader: "X-Duo-Date", date: utc, method: "POST", path: "/auth/v2/auth", form: authForm}, nil},
		{"duo_api_golang: v2 SHA512, Date +0000, host:port signed", clientReq{version: 2, digest: SHA512, signedHost: cfgHost,
			dateHeader: "Date", date: utc, method: "POST", path: "/auth/v2/auth", form: authForm}, nil},
		{"python 4.5: v2 SHA1, Date -0000, host without port", clientReq{version: 2, digest: SHA1, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "POST", path: "/auth/v2/preauth", form: url.Values{"username": {"alice"}}}, nil},
		{"node: v2 SHA512, Date GMT", clientReq{version: 2, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: gmt, method: "GET", path: "/auth/v2/auth_status", query: url.Values{"txid": {"0b1c2d3e"}}}, nil},
		{"Net::Duo: v2 SHA1, host:port, GMT", clientReq{version: 2, digest: SHA1, signedHost: cfgHost,
			dateHeader: "Date", date: gmt, method: "POST", path: "/auth/v2/auth", form: authForm}, nil},
		{"C#: v2 SHA512, repeated keys, upper-case host", clientReq{version: 2, digest: SHA512, signedHost: "API-TEST.example.com",
			dateHeader: "X-Duo-Date", date: fmtDate(now, minus4), method: "GET", path: "/admin/v2/logs/authentication",
			query: url.Values{"next_offset": {"1600000000000", "af0ba235-0b33-23c8-bc23-a31aa0231de8"}, "limit": {"100"}}}, nil},
		{"POST with query params and empty body", clientReq{version: 2, digest: SHA1, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "POST", path: "/auth/v2/auth", query: authForm}, nil},
		{"POST with params split over query and form", clientReq{version: 2, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "POST", path: "/auth/v2/auth", query: url.Values{"username": {"alice"}},
			form: url.Values{"factor": {"push"}, "device": {"auto"}}}, nil},
		{"python path id escaped", clientReq{version: 2, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "GET", path: "/admin/v1/users/DU%2BABC%40x"}, nil},
		{"python 5: v5 JSON POST", clientReq{version: 5, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "POST", path: "/auth/v2/auth", body: jsonBody}, nil},
		{"python 5: v5 GET query", clientReq{version: 5, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "GET", path: "/admin/v1/users", query: url.Values{"username": {"alice"}, "limit": {"10"}}}, nil},
		{"go JSONSignedCall: v5 host:port", clientReq{version: 5, digest: SHA512, signedHost: cfgHost,
			dateHeader: "Date", date: utc, method: "PUT", path: "/admin/v1/settings", body: []byte(`{"lockout_threshold":"10"}`)}, nil},
		{"v5 JSON with query params", clientReq{version: 5, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "POST", path: "/admin/v1/x", query: url.Values{"a": {"b c"}}, body: []byte(`{"n":1,"b":true}`)}, nil},
		{"v4 JSON", clientReq{version: 4, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "POST", path: "/auth/v2/auth", body: jsonBody}, nil},
		{"v5 all x-duo headers signed", clientReq{version: 5, digest: SHA512, signedHost: bareHost,
			dateHeader: "X-Duo-Date", date: minus0, method: "POST", path: "/auth/v2/auth", body: jsonBody,
			xduo:       http.Header{"X-Duo-Header-1": {"header_value_1"}},
			signedXDuo: http.Header{"X-Duo-Header-1": {"header_value_1"}, "X-Duo-Date": {minus0}}}, nil},
		{"v5 x-duo headers signed except x-duo-date", clientReq{version: 5, digest: SHA512, signedHost: bareHost,
			dateHeader: "X-Duo-Date", date: minus0, method: "POST", path: "/auth/v2/auth", body: jsonBody,
			xduo: http.Header{"x-duo-a": {"1"}, "X-Duo-B": {"2"}}, signedXDuo: http.Header{"x-duo-a": {"1"}, "X-Duo-B": {"2"}}}, nil},
		{"v5 unsigned x-duo header sent", clientReq{version: 5, digest: SHA512, signedHost: bareHost,
			dateHeader: "Date", date: minus0, method: "GET", path: "/auth/v2/check", xduo: http.Header{"X-Duo-Trace": {"x"}}}, nil},
		{"powershell: Basic:, X-Duo-Date -0000, SHA1", clientReq{version: 2, digest: SHA1, signedHost: bareHost,
			dateHeader: "X-Duo-Date", date: minus0, method: "GET", path: "/admin/v1/users", query: url.Values{"limit": {"300"}, "offset": {"0"}},
			auth: func(ikey, sig string) string { return "Basic: " + b64(ikey+":"+sig) }}, nil},
		{"missing base64 padding", clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date", date: minus0,
			method: "GET", path: "/auth/v2/check",
			auth: func(ikey, sig string) string {
				return "Basic " + base64.RawStdEncoding.EncodeToString([]byte(ikey+":"+sig))
			}}, nil},
		{"upper-case hex signature", clientReq{version: 2, digest: SHA1, signedHost: bareHost, dateHeader: "Date", date: minus0,
			method: "GET", path: "/auth/v2/check",
			auth: func(ikey, sig string) string { return Authorization(ikey, strings.ToUpper(sig)) }}, nil},
		{"lower-case method sent and signed", clientReq{version: 2, digest: SHA1, signedHost: bareHost, dateHeader: "Date", date: minus0,
			method: "get", path: "/auth/v2/check"}, nil},

		// Failures.
		{"stale date", clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date",
			date: fmtDate(testNow.Add(-301*time.Second), time.UTC), method: "GET", path: "/auth/v2/check"}, ErrBadTimestamp},
		{"future date", clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date",
			date: fmtDate(testNow.Add(10*time.Minute), time.UTC), method: "GET", path: "/auth/v2/check"}, ErrBadTimestamp},
		{"local time labelled UTC", clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "X-Duo-Date",
			date: strings.Replace(fmtDate(now, minus4), "-0400", "+0000", 1), method: "GET", path: "/auth/v2/check"}, ErrBadTimestamp},
		{"unparseable date", clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date",
			date: "yesterday", method: "GET", path: "/auth/v2/check"}, ErrBadTimestamp},
		{"v2 without date header", clientReq{version: 2, digest: SHA512, signedHost: bareHost, date: utc,
			method: "GET", path: "/auth/v2/check"}, ErrMissingTimestamp},
		{legacy + "v2 without date header", clientReq{version: 2, digest: SHA512, signedHost: bareHost, date: utc,
			method: "GET", path: "/auth/v2/check"}, ErrBadSignature},
		{legacy + "v1 no date, wrong key", clientReq{version: 1, digest: SHA1, signedHost: bareHost, skey: strings.Repeat("x", 40),
			method: "GET", path: "/auth/v2/check"}, ErrBadSignature},
		{legacy + "v1 stale date", clientReq{version: 1, digest: SHA1, signedHost: bareHost, dateHeader: "Date",
			date: fmtDate(testNow.Add(-time.Hour), time.UTC), method: "GET", path: "/auth/v2/check"}, ErrBadTimestamp},
		// Replay: version 1 signs no date, so a captured request is refused
		// where only dated versions are admitted, with or without a fresh
		// (unsigned) date header added.
		{"v1 captured, no date", clientReq{version: 1, digest: SHA1, signedHost: bareHost,
			method: "POST", path: "/auth/v2/auth", form: authForm}, ErrMissingTimestamp},
		{"v1 captured, fresh date added", clientReq{version: 1, digest: SHA1, signedHost: bareHost, dateHeader: "Date", date: utc,
			method: "POST", path: "/auth/v2/auth", form: authForm}, ErrBadSignature},
		{"v1 SHA512 captured, fresh date added", clientReq{version: 1, digest: SHA512, signedHost: cfgHost, dateHeader: "X-Duo-Date", date: utc,
			method: "GET", path: "/auth/v2/check"}, ErrBadSignature},
		{"wrong skey", clientReq{version: 2, digest: SHA512, signedHost: bareHost, skey: strings.Repeat("x", 40),
			dateHeader: "Date", date: utc, method: "GET", path: "/auth/v2/check"}, ErrBadSignature},
		{"wrong skey v5", clientReq{version: 5, digest: SHA512, signedHost: bareHost, skey: strings.Repeat("x", 40),
			dateHeader: "Date", date: utc, method: "POST", path: "/auth/v2/auth", body: jsonBody}, ErrBadSignature},
		{"unknown host signed", clientReq{version: 2, digest: SHA512, signedHost: "evil.example.com",
			dateHeader: "Date", date: utc, method: "GET", path: "/auth/v2/check"}, ErrBadSignature},
		{"v5 with SHA1", clientReq{version: 5, digest: SHA1, signedHost: bareHost,
			dateHeader: "Date", date: utc, method: "POST", path: "/auth/v2/auth", body: jsonBody}, ErrBadSignature},
		{"signed different date than sent", clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date",
			date: utc, method: "GET", path: "/auth/v2/check",
			auth: func(ikey, sig string) string { return Authorization(ikey, strings.Repeat("0", 128)) }}, ErrBadSignature},
	}
	pooled := testVerifier()
	pooled.MACs = &MACPool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, auth := tt.req.build(t)
			cred, err := ParseAuthorization(auth)
			if err != nil {
				t.Fatalf("ParseAuthorization(%q): %v", auth, err)
			}
			if cred.IKey != testIKey {
				t.Fatalf("ikey %q", cred.IKey)
			}
			vers := DatedOnly
			if strings.HasPrefix(tt.name, legacy) {
				vers = WithUndatedV1
			}
			// Twice with a fresh HMAC, then with the pooled ones that every
			// case shares (the server's way): the answers must not differ.
			for round, v := range []Verifier{testVerifier(), testVerifier(), pooled, pooled} {
				err = v.Verify(in, cred, testSKey, vers)
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("round %d: Verify = %v, want %v", round, err, tt.want)
				}
			}
		})
	}
}

// TestMACPool: pooled HMACs are found by key and digest, so a request is
// never checked with an HMAC keyed for another integration, however the
// requests interleave; and the pool keeps at most maxPooledKeys keys.
func TestMACPool(t *testing.T) {
	t.Parallel()
	date := fmtDate(testNow, time.UTC)
	form := url.Values{"username": {"alice"}, "factor": {"push"}}
	keys := []string{testSKey, strings.Repeat("k", 40), strings.Repeat("q", 40)}
	v := testVerifier()
	v.MACs = &MACPool{}
	var wg sync.WaitGroup
	for i, key := range keys {
		for _, d := range []Digest{SHA1, SHA512} {
			in, auth := clientReq{version: 2, digest: d, signedHost: cfgHost, dateHeader: "Date", date: date,
				method: "POST", path: "/auth/v2/auth", form: form, skey: key}.build(t)
			cred, err := ParseAuthorization(auth)
			if err != nil {
				t.Fatal(err)
			}
			other := keys[(i+1)%len(keys)]
			wg.Go(func() {
				for range 200 {
					if err := v.Verify(in, cred, key, DatedOnly); err != nil {
						t.Errorf("%v with its own key: %v", d, err)
						return
					}
					if err := v.Verify(in, cred, other, DatedOnly); !errors.Is(err, ErrBadSignature) {
						t.Errorf("%v with another key: %v, want ErrBadSignature", d, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()

	var p MACPool
	for i := range maxPooledKeys + 10 {
		p.put(SHA512, strconv.Itoa(i), p.get(SHA512, strconv.Itoa(i)))
	}
	if n := len(p.pools); n > maxPooledKeys {
		t.Errorf("%d keys pooled, want at most %d", n, maxPooledKeys)
	}
}

// TestVerifyTampered signs a valid request and changes one thing the
// signature must cover.
func TestVerifyTampered(t *testing.T) {
	t.Parallel()
	date := fmtDate(testNow, time.UTC)
	base := clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date", date: date,
		method: "POST", path: "/auth/v2/auth", form: url.Values{"username": {"alice"}, "factor": {"push"}}}
	v5 := clientReq{version: 5, digest: SHA512, signedHost: bareHost, dateHeader: "Date", date: date,
		method: "POST", path: "/auth/v2/auth", body: []byte(`{"username":"alice"}`)}
	tests := []struct {
		name   string
		req    clientReq
		mutate func(*Incoming)
	}{
		{"param value", base, func(in *Incoming) { in.Form = url.Values{"username": {"mallory"}, "factor": {"push"}} }},
		{"param added", base, func(in *Incoming) { in.Query = url.Values{"async": {"1"}} }},
		{"param removed", base, func(in *Incoming) { in.Form = url.Values{"username": {"alice"}} }},
		{"method", base, func(in *Incoming) { in.Method = "PUT" }},
		{"path", base, func(in *Incoming) { in.Path = "/auth/v2/preauth" }},
		{"date", base, func(in *Incoming) { in.Header.Set("Date", fmtDate(testNow.Add(time.Second), time.UTC)) }},
		{"date moved to X-Duo-Date with other value", base, func(in *Incoming) {
			in.Header.Set("X-Duo-Date", fmtDate(testNow.Add(time.Second), time.UTC))
		}},
		{"json body", v5, func(in *Incoming) { in.Body = []byte(`{"username":"mallory"}`) }},
		{"json body whitespace", v5, func(in *Incoming) { in.Body = []byte(`{"username": "alice"}`) }},
		{"json query added", v5, func(in *Incoming) { in.Query = url.Values{"x": {"1"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, auth := tt.req.build(t)
			cred, _ := ParseAuthorization(auth)
			if err := testVerifier().Verify(in, cred, testSKey, WithUndatedV1); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			in, _ = tt.req.build(t)
			tt.mutate(&in)
			if err := testVerifier().Verify(in, cred, testSKey, WithUndatedV1); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestVerifyEdgeCases(t *testing.T) {
	t.Parallel()
	in, auth := clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date",
		date: fmtDate(testNow, time.UTC), method: "GET", path: "/auth/v2/check"}.build(t)
	cred, _ := ParseAuthorization(auth)
	v := testVerifier()
	if err := v.Verify(in, cred, "", DatedOnly); !errors.Is(err, ErrBadSignature) {
		t.Errorf("empty skey: %v", err)
	}
	if err := v.Verify(in, Credentials{IKey: testIKey, Signature: "abc"}, testSKey, DatedOnly); !errors.Is(err, ErrBadSignature) {
		t.Errorf("short signature: %v", err)
	}
	if err := v.Verify(in, Credentials{IKey: testIKey, Signature: strings.Repeat("z", 40)}, testSKey, DatedOnly); !errors.Is(err, ErrBadSignature) {
		t.Errorf("non-hex signature: %v", err)
	}
	// The zero Verifier uses the real clock and accepts no host.
	if err := (Verifier{}).Verify(in, cred, testSKey, DatedOnly); !errors.Is(err, ErrBadTimestamp) {
		t.Errorf("zero verifier with 2024 date: %v", err)
	}
	wide := Verifier{Window: 100 * 24 * 365 * time.Hour}
	if err := wide.Verify(in, cred, testSKey, DatedOnly); !errors.Is(err, ErrBadSignature) {
		t.Errorf("verifier without hosts: %v, want ErrBadSignature", err)
	}
	wide.Hosts = []string{bareHost}
	if err := wide.Verify(in, cred, testSKey, DatedOnly); err != nil {
		t.Errorf("wide verifier: %v", err)
	}
	// The rendered errors carry Duo's codes.
	var e *Error
	err := v.Verify(in, cred, strings.Repeat("y", 40), DatedOnly)
	if !errors.As(err, &e) || e.Code != 40103 || e.Status != 401 {
		t.Errorf("errors.As: %v", err)
	}
	in.Header.Del("Date")
	err = v.Verify(in, cred, testSKey, DatedOnly)
	if !errors.As(err, &e) || e.Code != 40104 || e.Status != 401 || e.Message != "Missing request timestamp" {
		t.Errorf("missing date: %v, want 401 40104 Missing request timestamp", err)
	}
}

// TestCheckDate: the cheap date check the HTTP layer runs before reading
// a body.
func TestCheckDate(t *testing.T) {
	t.Parallel()
	v := testVerifier()
	ok := fmtDate(testNow.Add(-time.Minute), minus4)
	for _, tc := range []struct {
		name      string
		h         http.Header
		vers      Versions
		wantDate  string
		wantError error
	}{
		{"Date", http.Header{"Date": {ok}}, DatedOnly, ok, nil},
		{"X-Duo-Date before Date", http.Header{"Date": {"garbage"}, "X-Duo-Date": {ok}}, DatedOnly, ok, nil},
		{"none", http.Header{}, DatedOnly, "", ErrMissingTimestamp},
		{"none, legacy", http.Header{}, WithUndatedV1, "", nil},
		{"empty", http.Header{"Date": {""}}, DatedOnly, "", ErrMissingTimestamp},
		{"garbage", http.Header{"Date": {"garbage"}}, WithUndatedV1, "", ErrBadTimestamp},
		{"stale", http.Header{"Date": {fmtDate(testNow.Add(-time.Hour), time.UTC)}}, WithUndatedV1, "", ErrBadTimestamp},
	} {
		got, err := v.CheckDate(tc.h, tc.vers)
		if got != tc.wantDate || !errors.Is(err, tc.wantError) || (err == nil) != (tc.wantError == nil) {
			t.Errorf("%s: %q, %v; want %q, %v", tc.name, got, err, tc.wantDate, tc.wantError)
		}
	}
}

// TestCandidatesBounded: however many names are configured, one request
// costs at most MaxCandidates HMACs.
func TestCandidatesBounded(t *testing.T) {
	t.Parallel()
	var hosts []string
	for i := range 3 * MaxHosts {
		hosts = append(hosts, fmt.Sprintf("h%d.example:%d", i, 8000+i))
	}
	v := Verifier{Hosts: hosts, Now: func() time.Time { return testNow }}
	if got := len(v.candidateHosts(nil)); got != MaxHosts {
		t.Errorf("%d candidate hosts, want MaxHosts = %d", got, MaxHosts)
	}
	in, auth := clientReq{version: 5, digest: SHA512, signedHost: "elsewhere.example", dateHeader: "X-Duo-Date",
		date: fmtDate(testNow, time.UTC), method: "POST", path: "/auth/v2/auth", body: []byte(`{"a":"b"}`),
		xduo: http.Header{"X-Duo-A": {"1"}}}.build(t)
	cred, _ := ParseAuthorization(auth)
	if err := v.Verify(in, cred, testSKey, WithUndatedV1); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify = %v", err)
	}
	// The first MaxHosts host strings are the first names with and without
	// their ports; a name beyond them is not tried.
	late := clientReq{version: 2, digest: SHA512, signedHost: hosts[MaxHosts/2], dateHeader: "Date",
		date: fmtDate(testNow, time.UTC), method: "GET", path: "/auth/v2/check"}
	in, auth = late.build(t)
	cred, _ = ParseAuthorization(auth)
	if err := v.Verify(in, cred, testSKey, DatedOnly); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a name beyond MaxHosts host strings: %v, want ErrBadSignature", err)
	}
	late.signedHost = hosts[MaxHosts/2-1]
	in, auth = late.build(t)
	cred, _ = ParseAuthorization(auth)
	if err := v.Verify(in, cred, testSKey, DatedOnly); err != nil {
		t.Errorf("the last name within MaxHosts host strings: %v", err)
	}
}

func TestCandidateHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hosts []string
		want  string
	}{
		{[]string{"API.example.com:8443"}, "api.example.com:8443 api.example.com"},
		{[]string{"api.example.com", "localhost:8443"}, "api.example.com localhost:8443 localhost"},
		{[]string{"[::1]:8443"}, "[::1]:8443 [::1]"},
		{[]string{"::1"}, "::1"},
		{[]string{"a:b"}, "a:b"},
		{[]string{"x.example:1", "X.example"}, "x.example:1 x.example"},
		{nil, ""},
	}
	for _, tt := range tests {
		got := strings.Join(Verifier{Hosts: tt.hosts}.candidateHosts(nil), " ")
		if got != tt.want {
			t.Errorf("hosts %q: got %q want %q", tt.hosts, got, tt.want)
		}
	}
}

// TestNewIncoming feeds raw requests shaped like real clients' through
// NewIncoming, including '+' for space in forms and a trailing '?'.
func TestNewIncoming(t *testing.T) {
	t.Parallel()
	date := strings.Replace(fmtDate(testNow, time.UTC), "+0000", "-0000", 1)
	tests := []struct {
		name, method, target, ctype, body string
		version                           int
		signed                            url.Values
		jsonBody                          bool
	}{
		{"python form, + for space", "POST", "/auth/v2/preauth", "application/x-www-form-urlencoded",
			"realname=First+Last&username=root", 2, url.Values{"realname": {"First Last"}, "username": {"root"}}, false},
		{"duo_unix form, %20", "POST", "/auth/v2/preauth", "application/x-www-form-urlencoded; charset=utf-8",
			"realname=First%20Last&username=root", 2, url.Values{"realname": {"First Last"}, "username": {"root"}}, false},
		{"form without content type", "POST", "/auth/v2/preauth", "", "username=root", 2, url.Values{"username": {"root"}}, false},
		{"ping with trailing ?", "GET", "/auth/v2/ping?", "", "", 2, nil, false},
		{"query with +", "GET", "/admin/v1/users?username=a+b&limit=1", "", "", 2, url.Values{"username": {"a b"}, "limit": {"1"}}, false},
		{"escaped path", "GET", "/admin/v1/users/DU%2Bx", "", "", 2, nil, false},
		{"json", "POST", "/auth/v2/auth", "application/json", `{"username":"root"}`, 5, nil, true},
		{"json without content type", "POST", "/auth/v2/auth", "", `{"username":"root"}`, 5, nil, true},
		{"json with query", "POST", "/admin/v1/x?a=b+c", "application/json", `{"u":1}`, 5, url.Values{"a": {"b c"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, "https://"+cfgHost+tt.target, strings.NewReader(tt.body))
			path, _, _ := strings.Cut(tt.target, "?")
			canon, err := Canonicalize(tt.version, Request{Method: tt.method, Host: bareHost, Path: path,
				Params: tt.signed, Body: []byte(tt.body), Date: date})
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			r.Header.Set("Date", date)
			r.Header.Set("Authorization", Authorization(testIKey, Sign(SHA512, testSKey, canon)))
			in := NewIncoming(r, []byte(tt.body))
			if in.JSONBody != tt.jsonBody || in.Path != path {
				t.Errorf("JSONBody=%v Path=%q", in.JSONBody, in.Path)
			}
			cred, err := ParseAuthorization(r.Header.Get("Authorization"))
			if err != nil {
				t.Fatal(err)
			}
			if err := testVerifier().Verify(in, cred, testSKey, DatedOnly); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

package device

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

const cryptoSHA512 = crypto.SHA512

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	sig := []byte{1, 2, 3, 250, 251}
	inner := "DPABC:" + base64.StdEncoding.EncodeToString(sig)
	std := base64.StdEncoding.EncodeToString([]byte(inner))
	for _, tc := range []struct {
		name, h string
		ok      bool
	}{
		{"standard", "Basic " + std, true},
		{"lower-case scheme", "basic " + std, true},
		{"PowerShell colon", "Basic: " + std, true},
		{"no space", "Basic:" + std, true},
		{"unpadded", "Basic " + strings.TrimRight(std, "="), true},
		{"url alphabet inner", "Basic " + base64.StdEncoding.EncodeToString([]byte("DPABC:"+base64.RawURLEncoding.EncodeToString(sig))), true},
		{"empty", "", false},
		{"other scheme", "Bearer " + std, false},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("DPABC")), false},
		{"empty pkey", "Basic " + base64.StdEncoding.EncodeToString([]byte(":AAAA")), false},
		{"empty signature", "Basic " + base64.StdEncoding.EncodeToString([]byte("DPABC:")), false},
		{"signature not base64", "Basic " + base64.StdEncoding.EncodeToString([]byte("DPABC:%%%")), false},
		{"huge signature", "Basic " + base64.StdEncoding.EncodeToString([]byte("DPABC:"+base64.StdEncoding.EncodeToString(make([]byte, 2000)))), false},
		{"long pkey", "Basic " + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("D", 65)+":AAAA")), false},
	} {
		pkey, got, err := parseAuthorization(tc.h)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		if tc.ok && (pkey != "DPABC" || string(got) != string(sig)) {
			t.Errorf("%s: %q %v", tc.name, pkey, got)
		}
	}
}

func TestCandidateHosts(t *testing.T) {
	t.Parallel()
	many := make([]string, 2*duosig.MaxHosts)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.example:%d", i, 8000+i)
	}
	for _, tc := range []struct {
		configured []string
		want       []string
	}{
		{[]string{"Assent.Example:8443"}, []string{"assent.example:8443", "assent.example"}},
		{[]string{"localhost:8443", "127.0.0.1:8443"}, []string{"localhost:8443", "localhost", "127.0.0.1:8443", "127.0.0.1"}},
		{[]string{"[::1]:8443"}, []string{"[::1]:8443", "[::1]"}},
		{[]string{"::1"}, []string{"::1"}},
		{[]string{"a.example", "A.example"}, []string{"a.example"}},
		{[]string{"h:"}, []string{"h:"}},
		{[]string{"h:x1"}, []string{"h:x1"}},
		{nil, nil},
		{many, []string{"h0.example:8000", "h0.example", "h1.example:8001", "h1.example", "h2.example:8002", "h2.example",
			"h3.example:8003", "h3.example", "h4.example:8004", "h4.example", "h5.example:8005", "h5.example",
			"h6.example:8006", "h6.example", "h7.example:8007", "h7.example"}},
	} {
		if got := candidateHosts(tc.configured); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.configured, got, tc.want)
		}
	}
}

// TestCandidateDigestsBounded: the number of canonical strings tried
// depends on the configuration, never on the request: at most six per host
// whatever the parameters, two for plain ones (the encodings agree).
func TestCandidateDigestsBounded(t *testing.T) {
	t.Parallel()
	hosts := candidateHosts([]string{"assent.example:8443", "10.0.0.5:8443"})
	odd := url.Values{"note": {"a b!*'()~é/"}, "token": {"GCM:x y"}}
	plain := url.Values{"akey": {"DAXXXXXXXXXXXXXXXXXX"}, "pkpush": {"rsa-sha512"}}
	big := url.Values{}
	for i := range 500 {
		big.Add(fmt.Sprintf("k%d", i), "v w!*~")
	}
	for _, tc := range []struct {
		name string
		r    signedRequest
		want int
	}{
		{"plain query", signedRequest{Query: plain, RawQuery: plain.Encode()}, 2 * len(hosts)},
		{"odd form, sent unsorted", signedRequest{Form: odd, RawForm: "token=GCM%3Ax+y&note=a+b%21%2A%27%28%29%7E%C3%A9%2F"}, 6 * len(hosts)},
		{"many params", signedRequest{Form: big, RawForm: "x"}, 6 * len(hosts)},
	} {
		tc.r.Date, tc.r.Method, tc.r.Path, tc.r.Hosts = "D", "POST", "/p", hosts
		if got := len(candidateDigests(tc.r)); got != tc.want {
			t.Errorf("%s: %d candidates, want %d", tc.name, got, tc.want)
		}
	}
	all := candidateHosts(strings.Split("a:1 b:1 c:1 d:1 e:1 f:1 g:1 h:1 i:1", " "))
	r := signedRequest{Date: "D", Method: "POST", Path: "/p", Hosts: all, Form: odd, RawForm: "token=x"}
	if got := len(candidateDigests(r)); got > maxCandidates || len(all) != duosig.MaxHosts {
		t.Errorf("%d hosts, %d candidates; want %d hosts and at most %d candidates", len(all), got, duosig.MaxHosts, maxCandidates)
	}
}

func TestEncodings(t *testing.T) {
	t.Parallel()
	v := url.Values{"b": {"x y", "~!*'()"}, "a": {"é/+"}}
	pairs := mergedPairs(v, url.Values{"a": {"2"}})
	for _, tc := range []struct {
		st   encodeStyle
		want string
	}{
		{pythonStyle, "a=%C3%A9%2F%2B&a=2&b=x+y&b=~%21%2A%27%28%29"},
		{uriComponentStyle, "a=%C3%A9%2F%2B&a=2&b=x%20y&b=~!*'()"},
		{searchParamsStyle, "a=%C3%A9%2F%2B&a=2&b=x+y&b=%7E%21*%27%28%29"},
	} {
		if got := encodePairs(pairs, tc.st); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.st, got, tc.want)
		}
	}
	// Python's urlencode is Go's Encode, which duosig.CanonDevice uses.
	if got, want := encodePairs(mergedPairs(v, nil), pythonStyle), v.Encode(); got != want {
		t.Errorf("python style %s, Encode %s", got, want)
	}
	canon := duosig.CanonDevice(duosig.Request{Date: "D", Method: "get", Host: "H", Path: "/p", Params: v})
	if !slices.Contains(candidateDigests(signedRequest{Date: "D", Method: "GET", Path: "/p", Hosts: []string{"h"}, Query: v}), sha512.Sum512([]byte(canon))) {
		t.Errorf("duosig.CanonDevice %q is not a candidate", canon)
	}
}

// stubCore is a core with one device and nothing else, for tests of the
// authentication layer alone.
type stubCore struct {
	key *rsa.PublicKey
}

func (s stubCore) Activate(context.Context, auth.ActivateRequest) (auth.Activation, error) {
	return auth.Activation{}, auth.ErrUnknownActivation
}

func (s stubCore) DeviceKey(_ context.Context, id string) (store.Device, *rsa.PublicKey, error) {
	if id != "DPSTUB" {
		return store.Device{}, nil, &auth.Error{Kind: auth.KindNotFound, Detail: "unknown device"}
	}
	return store.Device{ID: id, Name: "stub"}, s.key, nil
}

func (s stubCore) Pending(context.Context, string) ([]auth.PendingPush, error) { return nil, nil }
func (s stubCore) AnswerPush(context.Context, string, string, auth.PushAnswer) (string, error) {
	return store.TxDeny, nil
}
func (s stubCore) RegisterPushToken(context.Context, string, string) error { return nil }
func (s stubCore) DeviceSeen(context.Context, store.Device)                {}

// stubHandler serves the device API on a stub core at a fixed time.
func stubHandler(key *rsa.PublicKey, now time.Time) http.Handler {
	mux := http.NewServeMux()
	(&API{Core: stubCore{key: key}, Hosts: []string{"assent.example"}, Now: func() time.Time { return now }}).Register(mux)
	mux.Handle("/", httpapi.Handle(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }))
	return httpapi.Middleware(slogDiscard, mux)
}

// TestClientMatchesServer: whatever the client signs, the server accepts,
// including parameters that need escaping; anything added is rejected.
func TestClientMatchesServer(t *testing.T) {
	t.Parallel()
	key := testKeys()[0]
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	h := stubHandler(&key.PublicKey, now)
	c := &Client{Host: "Assent.Example", PKey: "DPSTUB", Key: key, Now: func() time.Time { return now }}
	odd := url.Values{"x": {"a b&c=d/é~*"}, "A": {"1"}, "token": {"GCM:a b"}}
	for _, tc := range []struct {
		method, path string
		params       url.Values
		addQuery     string
		status       int
	}{
		{"GET", "/push/v2/device/info", nil, "", 200},
		{"GET", "/push/v2/device/info", odd, "", 200},
		{"POST", "/push/v2/device/registration", odd, "", 200},
		{"GET", "/push/v2/device/info", odd, "y=1", 401},
		{"POST", "/push/v2/device/registration", odd, "token=other", 401},
	} {
		req, err := c.NewRequest(context.Background(), tc.method, tc.path, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		if tc.addQuery != "" {
			if req.URL.RawQuery != "" {
				req.URL.RawQuery += "&"
			}
			req.URL.RawQuery += tc.addQuery
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.status {
			t.Errorf("%s %s %v +%q: %d %s", tc.method, tc.path, tc.params, tc.addQuery, w.Code, w.Body)
		}
	}
}

func TestCheckDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		date string
		ok   bool
	}{
		{"Mon, 23 Nov 2026 12:00:00 -0000", true},
		{"Mon, 23 Nov 2026 12:05:00 GMT", true},
		{"Mon, 23 Nov 2026 11:55:00 +0000", true},
		{"Mon, 23 Nov 2026 07:00:00 -0500", true},
		{"Mon, 23 Nov 2026 12:05:01 GMT", false},
		{"Mon, 23 Nov 2026 11:54:59 GMT", false},
		{"", false},
		{"now", false},
	} {
		err := checkDate(tc.date, now, duosig.DefaultWindow)
		want := duosig.ErrBadTimestamp
		if tc.date == "" {
			want = duosig.ErrMissingTimestamp
		}
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, want)) {
			t.Errorf("%q: %v", tc.date, err)
		}
	}
}

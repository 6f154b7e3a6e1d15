package authapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authapi"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// apiHost is the public hostname the fixture's verifier expects.
const apiHost = "localhost:8443"

// fixture is an Auth API (v1 and v2) over a real SQLite-backed core.
type fixture struct {
	svc        *auth.Service
	srv        *httptest.Server
	det        *httpapi.Detacher
	in         store.Integration
	ikey, skey string
}

func newFixture(t testing.TB, opts auth.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if opts.EnrollPortalURL == nil {
		opts.EnrollPortalURL = func(_ context.Context, u string) (string, error) {
			return "https://" + apiHost + "/portal/enroll?username=" + u, nil
		}
	}
	svc := auth.New(st, box, opts)
	in, skey, err := svc.CreateIntegration(ctx, auth.NewIntegration{Name: "test", Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	signer := &httpapi.Signer{Lookup: svc, Verifier: duosig.Verifier{Hosts: []string{apiHost}}}
	// Synchronous pushes are held as the server holds them: detached.
	det := httpapi.NewDetacher(nil)
	(&authapi.API{Core: svc, Logo: []byte("\x89PNG\r\n\x1a\nlogo"), Now: time.Now, APIHostname: apiHost, Detacher: det}).Register(mux, signer)
	srv := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), mux))
	t.Cleanup(func() { srv.Close(); _ = det.Close() })
	return &fixture{svc: svc, srv: srv, det: det, in: in, ikey: in.IKey, skey: skey}
}

// request builds a request signed as duo_unix 1.11 signs: signature v1,
// HMAC-SHA1, no date header, the host without its port in the signature
// but with it in the Host header. An empty skey sends no Authorization.
func (f *fixture) request(t testing.TB, ikey, skey, method, path string, params url.Values) *http.Request {
	t.Helper()
	if params == nil {
		params = url.Values{}
	}
	s := duosig.Signer{IKey: ikey, SKey: skey, Host: "localhost", Version: 1, Digest: duosig.SHA1}
	if skey == "" {
		s.SKey = "unused"
	}
	req, err := s.NewRequest(context.Background(), method, path, params)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Del("Date") // v1 signs no date, and duo_unix 1.11 sends none
	if skey == "" {
		req.Header.Del("Authorization")
	}
	target, _ := url.Parse(f.srv.URL)
	req.URL.Scheme, req.URL.Host = "http", target.Host
	req.Host = apiHost
	return req
}

// v2Request builds a request signed as the current clients sign: signature
// v2, HMAC-SHA1, with a date, for the API hostname, sent to the fixture's
// server.
func (f *fixture) v2Request(t testing.TB, method, path string, params url.Values) *http.Request {
	t.Helper()
	s := duosig.Signer{IKey: f.ikey, SKey: f.skey, Host: apiHost}
	req, err := s.NewRequest(context.Background(), method, path, params)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(f.srv.URL)
	req.URL.Scheme, req.URL.Host, req.Host = "http", target.Host, apiHost
	return req
}

// answer is a decoded v1 answer, from JSON or BSON.
type answer struct {
	status      int
	contentType string
	Stat        string
	Code        int
	Message     string
	Detail      string
	raw         []byte
	response    func(v any) error
}

// v1Response holds every field a v1 response object can have; pointers
// tell absent from empty.
type v1Response struct {
	Result  *string           `json:"result" bson:"result"`
	Status  *string           `json:"status" bson:"status"`
	Prompt  *string           `json:"prompt" bson:"prompt"`
	Factors map[string]string `json:"factors" bson:"factors"`
	TxID    string            `json:"txid" bson:"txid"`
}

func (a answer) obj(t *testing.T) v1Response {
	t.Helper()
	if a.Stat != "OK" {
		t.Fatalf("stat %q (HTTP %d, %d %s %s), want OK", a.Stat, a.status, a.Code, a.Message, a.Detail)
	}
	var r v1Response
	if err := a.response(&r); err != nil {
		t.Fatalf("response is not an object: %v", err)
	}
	return r
}

// do sends req and decodes the answer as BSON if asBSON, else as JSON.
func do(t testing.TB, req *http.Request, asBSON bool) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), raw: body}
	if asBSON {
		if a.contentType != "application/bson" {
			t.Fatalf("Content-Type %q, want application/bson (body %q)", a.contentType, body)
		}
		var env struct {
			Stat     string        `bson:"stat"`
			Code     int32         `bson:"code"`
			Message  string        `bson:"message"`
			Detail   string        `bson:"message_detail"`
			Response bson.RawValue `bson:"response"`
		}
		if err := bson.Unmarshal(body, &env); err != nil {
			t.Fatalf("answer is not a BSON document: %v: %q", err, body)
		}
		if env.Stat == "FAIL" {
			// duo_unix reads code only as a BSON int32.
			if typ := bson.Raw(body).Lookup("code").Type; typ != bson.TypeInt32 {
				t.Errorf("code has BSON type %v, want int32", typ)
			}
		}
		a.Stat, a.Code, a.Message, a.Detail = env.Stat, int(env.Code), env.Message, env.Detail
		a.response = env.Response.Unmarshal
		return a
	}
	if !strings.HasPrefix(a.contentType, "application/json") {
		t.Fatalf("Content-Type %q, want application/json (body %q)", a.contentType, body)
	}
	var env struct {
		Stat     string          `json:"stat"`
		Code     int             `json:"code"`
		Message  string          `json:"message"`
		Detail   string          `json:"message_detail"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, body)
	}
	a.Stat, a.Code, a.Message, a.Detail = env.Stat, env.Code, env.Message, env.Detail
	a.response = func(v any) error { return json.Unmarshal(env.Response, v) }
	return a
}

// call signs and sends a v1 request like duo_unix.
func (f *fixture) call(t *testing.T, method, path string, params url.Values) answer {
	t.Helper()
	return do(t, f.request(t, f.ikey, f.skey, method, path, params), strings.HasSuffix(path, ".bson"))
}

// suffixes are the three spellings of every v1 route.
var suffixes = []string{"", ".json", ".bson"}

var (
	keyOnce sync.Once
	keyPEM  string
)

// devicePEM is a 2048-bit RSA public key, made once: generation is slow.
func devicePEM(t *testing.T) string {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			panic(err)
		}
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	})
	return keyPEM
}

// phone activates a device for username and returns its ID.
func (f *fixture) phone(t *testing.T, username string) string {
	t.Helper()
	ctx := context.Background()
	e, err := f.svc.Enroll(ctx, auth.EnrollRequest{Username: username})
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: e.Code, PublicKey: devicePEM(t), Name: "test phone"})
	if err != nil {
		t.Fatal(err)
	}
	return a.Device.ID
}

func (f *fixture) bypassCodes(t *testing.T, username string, n int) []string {
	t.Helper()
	out, err := f.svc.IssueBypassCodes(context.Background(), username, auth.NewBypassCodes{Count: n, Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	return out.Codes
}

// answerPush approves or denies the next push to device, from a goroutine.
func (f *fixture) answerPush(t *testing.T, device string, approve bool) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			list, err := f.svc.Pending(ctx, device)
			if err != nil {
				done <- err
				return
			}
			if len(list) > 0 {
				done <- f.svc.Answer(ctx, device, list[0].ID, approve)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		done <- ctx.Err()
	}()
	return done
}

func str(p *string) string {
	if p == nil {
		return "<absent>"
	}
	return *p
}

func TestV1PingCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	for _, sfx := range suffixes {
		for _, tc := range []struct {
			name, want string
			signed     bool
		}{
			{"ping", "pong", false},
			{"ping", "pong", true}, // Python's AuthV1 signs ping
			{"check", "valid", true},
		} {
			path := "/rest/v1/" + tc.name + sfx
			t.Run(path, func(t *testing.T) {
				skey := ""
				if tc.signed {
					skey = f.skey
				}
				a := do(t, f.request(t, f.ikey, skey, http.MethodGet, path, nil), sfx == ".bson")
				var got string
				if a.Stat != "OK" || a.response(&got) != nil || got != tc.want {
					t.Errorf("%s answered %d %q (response %q), want OK %q", path, a.status, a.Stat, got, tc.want)
				}
			})
		}
	}
}

func TestV1Logo(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	for _, sfx := range suffixes {
		resp, err := http.DefaultClient.Do(f.request(t, f.ikey, f.skey, http.MethodGet, "/rest/v1/logo"+sfx, nil))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
			t.Errorf("logo%s: %d %s %q", sfx, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestV1Errors checks that errors come in the route's encoding, with the
// same statuses and codes as v2.
func TestV1Errors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	web, webSKey, err := f.svc.CreateIntegration(context.Background(), auth.NewIntegration{Name: "web", Type: store.TypeWebSDK})
	if err != nil {
		t.Fatal(err)
	}
	for _, sfx := range suffixes {
		for _, tc := range []struct {
			name         string
			req          func() *http.Request
			status, code int
		}{
			{"unsigned", func() *http.Request {
				return f.request(t, f.ikey, "", http.MethodGet, "/rest/v1/check"+sfx, nil)
			}, 401, httpapi.CodeMissingCreds},
			{"unknown ikey", func() *http.Request {
				return f.request(t, "DIXXXXXXXXXXXXXXXXXX", f.skey, http.MethodGet, "/rest/v1/check"+sfx, nil)
			}, 401, httpapi.CodeBadIKey},
			// Without a date only v1 is tried: a wrong dateless
			// signature is a bad signature.
			{"wrong skey, no date", func() *http.Request {
				return f.request(t, f.ikey, strings.Repeat("x", 40), http.MethodPost, "/rest/v1/preauth"+sfx, url.Values{"user": {"alice"}})
			}, 401, httpapi.CodeBadSignature},
			{"wrong skey, dated", func() *http.Request {
				s := duosig.Signer{IKey: f.ikey, SKey: strings.Repeat("x", 40), Host: "localhost", Digest: duosig.SHA1}
				req, err := s.NewRequest(context.Background(), http.MethodPost, "/rest/v1/preauth"+sfx, url.Values{"user": {"alice"}})
				if err != nil {
					t.Fatal(err)
				}
				target, _ := url.Parse(f.srv.URL)
				req.URL.Scheme, req.URL.Host, req.Host = "http", target.Host, apiHost
				return req
			}, 401, httpapi.CodeBadSignature},
			{"wrong integration type", func() *http.Request {
				return f.request(t, web.IKey, webSKey, http.MethodGet, "/rest/v1/check"+sfx, nil)
			}, 403, httpapi.CodeForbidden},
			{"method", func() *http.Request {
				return f.request(t, f.ikey, f.skey, http.MethodPost, "/rest/v1/status"+sfx, url.Values{"txid": {"x"}})
			}, 405, httpapi.CodeMethodNotAllowed},
			{"no user", func() *http.Request {
				return f.request(t, f.ikey, f.skey, http.MethodPost, "/rest/v1/preauth"+sfx, url.Values{"username": {"alice"}})
			}, 400, httpapi.CodeInvalidParams},
			{"unknown txid", func() *http.Request {
				return f.request(t, f.ikey, f.skey, http.MethodGet, "/rest/v1/status"+sfx, url.Values{"txid": {"0c5d4a8e-8a4f-4d5e-9a55-7a1f9a0e1b2c"}})
			}, 400, httpapi.CodeInvalidParams},
			{"unknown route", func() *http.Request {
				return f.request(t, f.ikey, f.skey, http.MethodGet, "/rest/v1/nope"+sfx, nil)
			}, 404, httpapi.CodeNotFound},
		} {
			t.Run(tc.name+sfx, func(t *testing.T) {
				a := do(t, tc.req(), sfx == ".bson")
				if a.status != tc.status || a.Stat != "FAIL" || a.Code != tc.code || a.Message == "" {
					t.Errorf("got HTTP %d %s %d %q, want %d FAIL %d; body %q", a.status, a.Stat, a.Code, a.Message, tc.status, tc.code, a.raw)
				}
			})
		}
	}
}

func TestV1Preauth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	for _, u := range []string{"alice", "bypassed", "disabled", "codesonly"} {
		if _, err := f.svc.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	f.phone(t, "alice")
	f.phone(t, "alice")
	f.bypassCodes(t, "codesonly", 1)
	if _, err := f.svc.SetUserStatus(ctx, "bypassed", store.StatusBypass); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetUserStatus(ctx, "disabled", store.StatusDisabled); err != nil {
		t.Fatal(err)
	}

	for _, sfx := range suffixes {
		for _, tc := range []struct {
			user, result string
			status       string // substring; "" means status absent
			factors      map[string]string
			prompt       []string // substrings of the menu
		}{
			{
				user: "alice", result: "auth",
				factors: map[string]string{"default": "push1", "1": "push1", "2": "push2"},
				prompt:  []string{"1. Duo Push to test phone", "2. Duo Push to test phone", "Passcode or option (1-2): "},
			},
			{user: "codesonly", result: "auth", factors: map[string]string{}, prompt: []string{"passcode"}},
			{user: "nobody", result: "enroll", status: "Enroll an authentication device to proceed: https://" + apiHost + "/portal/enroll?username=nobody"},
			{user: "bypassed", result: "allow", status: "Allowing bypass user"},
			{user: "disabled", result: "deny", status: "Your account is disabled"},
		} {
			t.Run(tc.user+sfx, func(t *testing.T) {
				// What duo_unix 1.11.3 sends.
				r := f.call(t, http.MethodPost, "/rest/v1/preauth"+sfx, url.Values{
					"user": {tc.user}, "hostname": {"vm"}, "failmode": {"closed"}, "ipaddr": {"192.0.2.9"},
				}).obj(t)
				if str(r.Result) != tc.result {
					t.Errorf("result %s, want %s", str(r.Result), tc.result)
				}
				if tc.status == "" && r.Status != nil {
					t.Errorf("status %q, want none", *r.Status)
				}
				if tc.status != "" && !strings.Contains(str(r.Status), tc.status) {
					t.Errorf("status %q, want it to contain %q", str(r.Status), tc.status)
				}
				if tc.result != "auth" {
					if r.Prompt != nil || r.Factors != nil {
						t.Errorf("prompt/factors in a %s answer: %+v", tc.result, r)
					}
					return
				}
				if r.Factors == nil || len(r.Factors) != len(tc.factors) {
					t.Errorf("factors %v, want %v", r.Factors, tc.factors)
				}
				for k, v := range tc.factors {
					if r.Factors[k] != v {
						t.Errorf("factors[%q] = %q, want %q", k, r.Factors[k], v)
					}
				}
				for _, s := range tc.prompt {
					if !strings.Contains(str(r.Prompt), s) {
						t.Errorf("prompt %q lacks %q", str(r.Prompt), s)
					}
				}
			})
		}
	}
}

func TestV1AuthPasscode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	if _, err := f.svc.CreateUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	f.phone(t, "alice")
	codes := f.bypassCodes(t, "alice", 10)

	for i, sfx := range suffixes {
		code := codes[3*i]
		for _, tc := range []struct {
			name   string
			params url.Values
			result string
			status string
		}{
			// duo_unix: the typed passcode travels in auto.
			{"auto with passcode", url.Values{"factor": {"auto"}, "auto": {code}}, "allow", "Success. Logging you in..."},
			{"spent code", url.Values{"factor": {"auto"}, "auto": {code}}, "deny", "Incorrect passcode. Please try again."},
			{"factor passcode", url.Values{"factor": {"passcode"}, "code": {codes[3*i+1]}}, "allow", "Success. Logging you in..."},
			{"wrong passcode", url.Values{"factor": {"passcode"}, "code": {"1234567"}}, "deny", "Incorrect passcode. Please try again."},
		} {
			t.Run(tc.name+sfx, func(t *testing.T) {
				p := url.Values{"user": {"alice"}, "hostname": {"vm"}, "async": {"0"},
					"pushinfo": {"Server+IP=192.0.2.2&Command="}}
				for k, v := range tc.params {
					p[k] = v
				}
				r := f.call(t, http.MethodPost, "/rest/v1/auth"+sfx, p).obj(t)
				if str(r.Result) != tc.result || str(r.Status) != tc.status {
					t.Errorf("got %s/%q, want %s/%q", str(r.Result), str(r.Status), tc.result, tc.status)
				}
			})
		}
		// pam_duo sends passcodes asynchronously too: the txid's status is
		// final at once.
		t.Run("async passcode"+sfx, func(t *testing.T) {
			r := f.call(t, http.MethodPost, "/rest/v1/auth"+sfx, url.Values{
				"user": {"alice"}, "factor": {"auto"}, "auto": {codes[3*i+2]}, "async": {"1"},
			}).obj(t)
			if r.TxID == "" || r.Result != nil {
				t.Fatalf("async auth answered %+v, want only a txid", r)
			}
			st := f.call(t, http.MethodGet, "/rest/v1/status"+sfx, url.Values{"txid": {r.TxID}}).obj(t)
			if str(st.Result) != "allow" || str(st.Status) != "Success. Logging you in..." {
				t.Errorf("status: %s/%q, want allow", str(st.Result), str(st.Status))
			}
		})
	}
}

func TestV1AuthPush(t *testing.T) {
	t.Parallel()
	// A short status wait keeps the "still waiting" poll quick.
	f := newFixture(t, auth.Options{StatusWait: 200 * time.Millisecond, PushTimeout: 10 * time.Second})
	if _, err := f.svc.CreateUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	device := f.phone(t, "alice")
	base := url.Values{"user": {"alice"}, "hostname": {"vm"}, "ipaddr": {"192.0.2.9"}}
	with := func(kv ...string) url.Values {
		p := url.Values{}
		for k, v := range base {
			p[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			p.Set(kv[i], kv[i+1])
		}
		return p
	}

	for _, sfx := range suffixes {
		t.Run("async menu choice"+sfx, func(t *testing.T) {
			// duo_unix on a terminal: factor=auto&auto=push1&async=1, then
			// status polls.
			r := f.call(t, http.MethodPost, "/rest/v1/auth"+sfx, with("factor", "auto", "auto", "push1", "async", "1")).obj(t)
			if r.TxID == "" {
				t.Fatalf("no txid: %+v", r)
			}
			// Unanswered: status carries the message and no result.
			st := f.call(t, http.MethodGet, "/rest/v1/status"+sfx, url.Values{"txid": {r.TxID}}).obj(t)
			if st.Result != nil || str(st.Status) != "Pushed a login request to your device..." {
				t.Errorf("waiting status: result %s, status %q; want no result", str(st.Result), str(st.Status))
			}
			// Poll as duo_unix does (20 times at most) while the phone
			// approves; every answer before the last has no result.
			answered := f.answerPush(t, device, true)
			for range 20 {
				st = f.call(t, http.MethodGet, "/rest/v1/status"+sfx, url.Values{"txid": {r.TxID}}).obj(t)
				if st.Result != nil {
					break
				}
				if st.Status == nil {
					t.Fatalf("waiting status without a status message")
				}
			}
			if err := <-answered; err != nil {
				t.Fatal(err)
			}
			if str(st.Result) != "allow" || str(st.Status) != "Success. Logging you in..." {
				t.Errorf("final status: %s/%q, want allow", str(st.Result), str(st.Status))
			}
		})
		for _, tc := range []struct {
			name    string
			params  url.Values
			approve bool
			result  string
			status  string
		}{
			{"sync default push", with("factor", "auto", "async", "0"), true, "allow", "Success. Logging you in..."},
			{"sync push phone1 denied", with("factor", "push", "phone", "phone1"), false, "deny", "Login request denied."},
			{"sync push without phone", with("factor", "push"), true, "allow", "Success. Logging you in..."},
		} {
			t.Run(tc.name+sfx, func(t *testing.T) {
				answered := f.answerPush(t, device, tc.approve)
				r := f.call(t, http.MethodPost, "/rest/v1/auth"+sfx, tc.params).obj(t)
				if err := <-answered; err != nil {
					t.Fatal(err)
				}
				if str(r.Result) != tc.result || str(r.Status) != tc.status {
					t.Errorf("got %s/%q, want %s/%q", str(r.Result), str(r.Status), tc.result, tc.status)
				}
			})
		}
		for _, tc := range []struct {
			name   string
			params url.Values
			detail string
		}{
			{"second phone missing", with("factor", "push", "phone", "phone2"), "no capable device"},
			{"bad phone", with("factor", "push", "phone", "mobile"), "phone"},
			{"voice", with("factor", "phone", "phone", "phone1"), "no capable device"},
			{"sms", with("factor", "sms"), "no capable device"},
			{"no factor", base, "factor"},
			{"unknown factor", with("factor", "yubikey"), "factor"},
			{"passcode without code", with("factor", "passcode"), "code"},
		} {
			t.Run(tc.name+sfx, func(t *testing.T) {
				a := f.call(t, http.MethodPost, "/rest/v1/auth"+sfx, tc.params)
				if a.status != 400 || a.Code != httpapi.CodeInvalidParams || !strings.Contains(a.Detail, tc.detail) {
					t.Errorf("got %d %d %q %q, want 400 40002 with %q", a.status, a.Code, a.Message, a.Detail, tc.detail)
				}
			})
		}
	}
}

// TestV1SignatureVariants checks the other ways v1 clients sign: the
// Python AuthV1 class (v2 with a date) and duo_unix 2.0.1–2.0.3 (v1 with
// HMAC-SHA512).
func TestV1SignatureVariants(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	for _, tc := range []struct {
		name    string
		version int
		digest  duosig.Digest
		host    string
	}{
		{"v2 SHA1 with date", 2, duosig.SHA1, "localhost"},
		{"v2 SHA512 with port", 2, duosig.SHA512, apiHost},
		{"v1 SHA512", 1, duosig.SHA512, "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := duosig.Signer{IKey: f.ikey, SKey: f.skey, Host: tc.host, Version: tc.version, Digest: tc.digest}
			req, err := s.NewRequest(context.Background(), http.MethodPost, "/rest/v1/preauth.json", url.Values{"user": {"alice"}})
			if err != nil {
				t.Fatal(err)
			}
			target, _ := url.Parse(f.srv.URL)
			req.URL.Scheme, req.URL.Host, req.Host = "http", target.Host, apiHost
			r := do(t, req, false).obj(t)
			if str(r.Result) != "enroll" {
				t.Errorf("result %s, want enroll", str(r.Result))
			}
		})
	}
}

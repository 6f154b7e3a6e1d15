package duoclient

import (
	"cmp"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI is an httptest TLS server answering every call with handler;
// its certificate goes into a CA file the client trusts.
func fakeAPI(t *testing.T, handler http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	der := srv.Certificate().Raw
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func newClient(t *testing.T, host, ca string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(Config{IKey: "DIXXXXXXXXXXXXXXXXXX", SKey: strings.Repeat("s", 40), APIHost: host, CAFile: ca, Timeout: timeout})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

const okPreauth = `{"stat":"OK","response":{"result":"auth","status_msg":"Account is active",
 "devices":[{"device":"DPXXX","type":"phone","name":"p","display_name":"XXX-1234","capabilities":["auto","push","sms"]}],
 "prompt":{"text":"Duo two-factor login for alice\n\n 1. Duo Push\n","factors":{"default":"push1","1":"push1","2":"sms1"}}}}`

// TestFailureClasses checks every failure class of spec §3 for preauth and
// auth, and which of them fail open.
func TestFailureClasses(t *testing.T) {
	t.Parallel()
	type want struct {
		class        Class
		openPreauth  bool
		openAuth     bool
		status, code int
	}
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    want
	}{
		{"5xx FAIL JSON", reply(503, `{"stat":"FAIL","code":50301,"message":"Service unavailable"}`),
			want{ClassServer, true, true, 503, 50301}},
		{"5xx HTML", reply(502, `<html><body>Bad gateway</body></html>`),
			want{ClassServer, true, true, 502, 0}},
		{"401 bad signature", reply(401, `{"stat":"FAIL","code":40103,"message":"Invalid signature in request credentials"}`),
			want{ClassClient, false, false, 401, 40103}},
		{"400 invalid params", reply(400, `{"stat":"FAIL","code":40002,"message":"Invalid request parameters","message_detail":"username"}`),
			want{ClassClient, false, false, 400, 40002}},
		{"429 HTML", reply(429, `slow down`), want{ClassClient, false, false, 429, 0}},
		{"302 redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}, want{ClassClient, false, false, 302, 0}},
		{"200 FAIL", reply(200, `{"stat":"FAIL","code":40002,"message":"Invalid request parameters"}`),
			want{ClassClient, false, false, 200, 40002}},
		{"200 OK empty response", reply(200, `{"stat":"OK","response":{}}`),
			want{ClassMalformed, true, true, 200, 0}},
		{"200 OK null response", reply(200, `{"stat":"OK","response":null}`),
			want{ClassMalformed, true, true, 200, 0}},
		{"200 OK unknown result", reply(200, `{"stat":"OK","response":{"result":"maybe","status_msg":"x"}}`),
			want{ClassMalformed, true, true, 200, 0}},
		{"200 OK wrong types", reply(200, `{"stat":"OK","response":{"result":7,"status_msg":[]}}`),
			want{ClassMalformed, true, true, 200, 0}},
		{"200 unknown stat", reply(200, `{"stat":"MAYBE"}`),
			want{ClassMalformed, true, true, 200, 0}},
		{"200 HTML", reply(200, `<html>captive portal</html>`),
			want{ClassBadBody, false, false, 200, 0}},
		{"200 JSON without stat", reply(200, `{"response":{"result":"allow"}}`),
			want{ClassBadBody, false, false, 200, 0}},
		{"hang past timeout", func(w http.ResponseWriter, r *http.Request) {
			// Read the body so the server notices the client hanging up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, want{ClassTransport, true, false, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, ca := fakeAPI(t, tc.handler)
			c := newClient(t, srv.Listener.Addr().String(), ca, 300*time.Millisecond)
			ctx := context.Background()
			_, err := c.Preauth(ctx, PreauthRequest{Username: "alice", Failmode: "safe"})
			checkErr(t, err, CallPreauth, tc.want.class, tc.want.openPreauth, tc.want.status, tc.want.code)
			_, err = c.Auth(ctx, AuthRequest{Username: "alice", Choice: "push1"})
			checkErr(t, err, CallAuth, tc.want.class, tc.want.openAuth, tc.want.status, tc.want.code)
		})
	}
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func checkErr(t *testing.T, err error, call Call, class Class, open bool, status, code int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: got %v (%T), want *Error", call, err, err)
	}
	if e.Call != call || e.Class != class || e.FailOpen() != open || e.HTTPStatus != status || e.Code != code {
		t.Errorf("%s: got call=%s class=%s open=%v status=%d code=%d (%v); want %s %s %v %d %d",
			call, e.Call, e.Class, e.FailOpen(), e.HTTPStatus, e.Code, e, call, class, open, status, code)
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, addr, "", 0)
	_, err = c.Preauth(context.Background(), PreauthRequest{Username: "alice"})
	checkErr(t, err, CallPreauth, ClassTransport, true, 0, 0)
	_, err = c.Auth(context.Background(), AuthRequest{Username: "alice", Choice: "push"})
	checkErr(t, err, CallAuth, ClassTransport, false, 0, 0)
}

// TestUntrustedCertificate: without the CA file the test server's
// certificate is rejected, which is a transport failure.
func TestUntrustedCertificate(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t, reply(200, okPreauth))
	c := newClient(t, srv.Listener.Addr().String(), "", 0)
	_, err := c.Preauth(context.Background(), PreauthRequest{Username: "alice"})
	checkErr(t, err, CallPreauth, ClassTransport, true, 0, 0)
}

// TestRequests checks what goes on the wire and that the answers are parsed.
func TestRequests(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got []*http.Request
	)
	srv, ca := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		switch r.URL.Path {
		case "/auth/v2/preauth":
			fmt.Fprint(w, okPreauth)
		case "/auth/v2/auth":
			fmt.Fprint(w, `{"stat":"OK","response":{"result":"allow","status":"allow","status_msg":"Success. Logging you in..."}}`)
		case "/auth/v2/ping", "/auth/v2/check":
			fmt.Fprint(w, `{"stat":"OK","response":{"time":1700000000}}`)
		default:
			http.NotFound(w, r)
		}
	})
	c := newClient(t, srv.Listener.Addr().String(), ca, 5*time.Second)
	ctx := context.Background()

	p, err := c.Preauth(ctx, PreauthRequest{Username: "alice", IPAddr: "10.1.2.3", Hostname: "vpn", Failmode: "secure", Menu: true})
	if err != nil {
		t.Fatalf("Preauth: %v", err)
	}
	if p.Result != "auth" || p.Factors["2"] != "sms1" || p.Factors["default"] != "push1" ||
		!strings.HasPrefix(p.Prompt, "Duo two-factor login for alice") ||
		len(p.Devices) != 1 || p.Devices[0].ID != "DPXXX" || len(p.Devices[0].Capabilities) != 3 {
		t.Errorf("Preauth parsed as %+v", p)
	}
	if _, err := c.Preauth(ctx, PreauthRequest{Username: "bob", IPAddr: "not-an-ip", Failmode: "safe"}); err != nil {
		t.Fatalf("Preauth: %v", err)
	}
	a, err := c.Auth(ctx, AuthRequest{Username: "alice", Choice: "push1", IPAddr: "::1"})
	if err != nil {
		t.Fatalf("Auth: %v", err)
	}
	if a != (AuthResult{Result: "allow", Status: "allow", StatusMsg: "Success. Logging you in..."}) {
		t.Errorf("Auth parsed as %+v", a)
	}
	if _, err := c.Auth(ctx, AuthRequest{Username: "alice", Choice: "123456", IPAddr: "0.0.0.0.0"}); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	st, err := c.Ping(ctx)
	if err != nil || st.Unix() != 1700000000 {
		t.Errorf("Ping = %v, %v", st, err)
	}
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}

	want := []struct {
		method, path string
		form         map[string]string // "" = must be absent
	}{
		{"POST", "/auth/v2/preauth", map[string]string{"username": "alice", "ipaddr": "10.1.2.3", "hostname": "vpn", "failmode": "closed", "text_prompt": "1"}},
		{"POST", "/auth/v2/preauth", map[string]string{"username": "bob", "ipaddr": "", "failmode": "open", "text_prompt": ""}},
		{"POST", "/auth/v2/auth", map[string]string{"username": "alice", "factor": "prompt", "prompt": "push1", "async": "0", "ipaddr": "::1"}},
		{"POST", "/auth/v2/auth", map[string]string{"username": "alice", "factor": "prompt", "prompt": "123456", "ipaddr": ""}},
		{"GET", "/auth/v2/ping", nil},
		{"GET", "/auth/v2/check", nil},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.Method != w.method || r.URL.Path != w.path {
			t.Errorf("request %d: %s %s, want %s %s", i, r.Method, r.URL.Path, w.method, w.path)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") || r.Header.Get("Date") == "" {
			t.Errorf("request %d is not signed: %v", i, r.Header)
		}
		if r.Header.Get("User-Agent") != DefaultUserAgent {
			t.Errorf("request %d: User-Agent %q", i, r.Header.Get("User-Agent"))
		}
		for k, v := range w.form {
			if r.PostForm.Get(k) != v {
				t.Errorf("request %d: %s=%q, want %q", i, k, r.PostForm.Get(k), v)
			}
		}
	}
}

// TestKeepAlive: consecutive calls reuse one connection.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(reply(200, `{"stat":"OK","response":{"time":1}}`))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.Listener.Addr().String(), ca, 0)
	for i := 0; i < 5; i++ {
		if _, err := c.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 calls, want 1", n)
	}
}

func TestPreauthValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		menu, ok   bool
	}{
		{"auth", okPreauth, true, true},
		{"auth, empty factors (passcode only)", `{"stat":"OK","response":{"result":"auth","status_msg":"Account is active","prompt":{"text":"Enter a passcode: ","factors":{}}}}`, true, true},
		{"auth without prompt", `{"stat":"OK","response":{"result":"auth","status_msg":"Account is active"}}`, true, false},
		{"auth without prompt, none asked for", `{"stat":"OK","response":{"result":"auth","status_msg":"Account is active","devices":[]}}`, false, true},
		{"auth without factors", `{"stat":"OK","response":{"result":"auth","status_msg":"x","prompt":{"text":"Enter"}}}`, true, false},
		{"auth with empty text", `{"stat":"OK","response":{"result":"auth","status_msg":"x","prompt":{"text":"","factors":{}}}}`, true, false},
		{"auth factor not a string", `{"stat":"OK","response":{"result":"auth","status_msg":"x","prompt":{"text":"t","factors":{"1":1}}}}`, true, false},
		{"auth factor not a string, none asked for: not read", `{"stat":"OK","response":{"result":"auth","status_msg":"x","prompt":{"text":"t","factors":{"1":1}}}}`, false, true},
		{"allow", `{"stat":"OK","response":{"result":"allow","status_msg":"Allowing bypass user"}}`, true, true},
		{"allow without status_msg", `{"stat":"OK","response":{"result":"allow"}}`, true, false},
		{"deny with empty status_msg", `{"stat":"OK","response":{"result":"deny","status_msg":""}}`, false, false},
		{"enroll", `{"stat":"OK","response":{"result":"enroll","status_msg":"Enroll","enroll_portal_url":"https://x/enroll"}}`, true, true},
		{"no result", `{"stat":"OK","response":{"status_msg":"x"}}`, false, false},
		{"response is a list", `{"stat":"OK","response":[1,2]}`, false, false},
		{"devices not a list", `{"stat":"OK","response":{"result":"auth","status_msg":"x","devices":{}}}`, true, false},
		{"devices not a list, no menu: not read", `{"stat":"OK","response":{"result":"auth","status_msg":"x","devices":{}}}`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The one-pass decoding and the generic one agree.
			_, err := decodePreauth(200, []byte(tc.body), tc.menu)
			raw, gerr := classify(CallPreauth, 200, []byte(tc.body))
			if gerr == nil {
				_, gerr = parsePreauth(raw, tc.menu)
			}
			if (err == nil) != (gerr == nil) {
				t.Errorf("one-pass decoding says %v, the generic one %v", err, gerr)
			}
			if tc.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tc.ok {
				var e *Error
				if !errors.As(err, &e) || e.Class != ClassMalformed || !e.FailOpen() {
					t.Fatalf("got %v, want a malformed-response error", err)
				}
			}
		})
	}
}

// TestPreauthGroups: a list of strings in "groups" is read (Duo's proxy
// uses the first as duo_only's Class); any other value is ignored and
// never fails the call.
func TestPreauthGroups(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, groups string
		want         []string
	}{
		{"names", `["VPN Users","Admins"]`, []string{"VPN Users", "Admins"}},
		{"empty", `[]`, nil},
		{"null", `null`, nil},
		{"objects", `[{"name":"VPN"}]`, nil},
		{"a string", `"VPN"`, nil},
	} {
		for _, menu := range []bool{false, true} {
			body := `{"stat":"OK","response":{"result":"allow","status_msg":"Allowing bypass user","groups":` + tc.groups + `}}`
			p, err := decodePreauth(200, []byte(body), menu)
			if err != nil || !slices.Equal(p.Groups, tc.want) {
				t.Errorf("%s (menu %v): %+v %v, want groups %q", tc.name, menu, p.Groups, err, tc.want)
			}
			raw, err := classify(CallPreauth, 200, []byte(body))
			if err == nil {
				p, err = parsePreauth(raw, menu)
			}
			if err != nil || !slices.Equal(p.Groups, tc.want) {
				t.Errorf("%s (menu %v, generic): %+v %v, want groups %q", tc.name, menu, p.Groups, err, tc.want)
			}
		}
	}
}

func TestAuthValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body string
		ok   bool
	}{
		{`{"result":"deny","status":"deny","status_msg":"Login request denied."}`, true},
		{`{"result":"allow","status_msg":"ok"}`, true},
		{`{"result":"allow"}`, false},
		{`{"status_msg":"x"}`, false},
		{`{"result":"waiting","status_msg":"x"}`, false},
		{`"allow"`, false},
	}
	for _, tc := range cases {
		_, err := parseAuth([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.body, err, tc.ok)
		}
		// The same inside a whole answer, decoded in one pass.
		_, err = decodeAuth(200, []byte(`{"stat":"OK","response":`+tc.body+`}`))
		if (err == nil) != tc.ok {
			t.Errorf("%s in an answer: err %v, want ok=%v", tc.body, err, tc.ok)
		}
	}
}

// TestLocalRefusals: overlong values, bad failmode and empty names never
// reach the network and never fail open.
func TestLocalRefusals(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv, ca := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); fmt.Fprint(w, okPreauth) })
	c := newClient(t, srv.Listener.Addr().String(), ca, 0)
	ctx := context.Background()
	long := strings.Repeat("a", maxParamLen+1)
	_, err := c.Preauth(ctx, PreauthRequest{Username: long})
	checkErr(t, err, CallPreauth, ClassClient, false, 0, 0)
	_, err = c.Preauth(ctx, PreauthRequest{Username: "alice", Hostname: long})
	checkErr(t, err, CallPreauth, ClassClient, false, 0, 0)
	_, err = c.Preauth(ctx, PreauthRequest{Username: "alice", Failmode: "maybe"})
	checkErr(t, err, CallPreauth, ClassClient, false, 0, 0)
	_, err = c.Preauth(ctx, PreauthRequest{})
	checkErr(t, err, CallPreauth, ClassClient, false, 0, 0)
	_, err = c.Auth(ctx, AuthRequest{Username: "alice", Choice: long})
	checkErr(t, err, CallAuth, ClassClient, false, 0, 0)
	_, err = c.Auth(ctx, AuthRequest{Username: "alice"})
	checkErr(t, err, CallAuth, ClassClient, false, 0, 0)
	if _, err := c.Preauth(ctx, PreauthRequest{Username: strings.Repeat("a", maxParamLen)}); err != nil {
		t.Errorf("a %d-character name was refused: %v", maxParamLen, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls reached the server, want 1", n)
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	base := Config{IKey: "DI", SKey: "s"}
	cases := []struct {
		host     string
		port     int
		proxy    string
		wantHost string // "" = error
	}{
		{"api-x.duosecurity.com", 0, "", "api-x.duosecurity.com"},
		{"api-x.duosecurity.com", 443, "", "api-x.duosecurity.com"},
		{"localhost", 8443, "", "localhost:8443"},
		{"localhost:8443", 0, "", "localhost:8443"},
		{"localhost:8443", 8443, "", "localhost:8443"},
		{"localhost:8443", 9443, "", ""},
		{"::1", 8443, "", "[::1]:8443"},
		{"https://api.example", 0, "", ""},
		{"", 0, "", ""},
		{"h", 70000, "", ""},
		{"h:0", 0, "", ""},
		{"h", 0, "http://proxy:3128", "h"},
		{"h", 0, "proxy:3128", ""},
	}
	for _, tc := range cases {
		cfg := base
		cfg.APIHost, cfg.APIPort, cfg.HTTPProxy = tc.host, tc.port, tc.proxy
		c, err := New(cfg)
		switch {
		case tc.wantHost == "" && err == nil:
			t.Errorf("%q/%d/%q: accepted as %q", tc.host, tc.port, tc.proxy, c.Host())
		case tc.wantHost != "" && err != nil:
			t.Errorf("%q/%d/%q: %v", tc.host, tc.port, tc.proxy, err)
		case tc.wantHost != "" && c.Host() != tc.wantHost:
			t.Errorf("%q/%d: host %q, want %q", tc.host, tc.port, c.Host(), tc.wantHost)
		}
	}
	if _, err := New(Config{APIHost: "h"}); err == nil {
		t.Error("missing keys accepted")
	}
	if _, err := New(Config{IKey: "DI", SKey: "s", APIHost: "h", CAFile: filepath.Join(t.TempDir(), "none.pem")}); err == nil {
		t.Error("missing CA file accepted")
	}
}

// TestHTTPProxy: with HTTPProxy set the call goes through CONNECT.
func TestHTTPProxy(t *testing.T) {
	t.Parallel()
	srv, ca := fakeAPI(t, reply(200, `{"stat":"OK","response":{"time":42}}`))
	connects := make(chan string, 4)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		connects <- r.Host
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		hj, _ := w.(http.Hijacker)
		down, buf, err := hj.Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() {
			defer up.Close()
			defer down.Close()
			if n := buf.Reader.Buffered(); n > 0 {
				b, _ := buf.Reader.Peek(n)
				_, _ = up.Write(b)
			}
			go func() { _, _ = copyConn(up, down) }()
			_, _ = copyConn(down, up)
		}()
	}))
	t.Cleanup(proxy.Close)
	c, err := New(Config{IKey: "DI", SKey: "s", APIHost: srv.Listener.Addr().String(), CAFile: ca, HTTPProxy: proxy.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Ping(context.Background())
	if err != nil || st.Unix() != 42 {
		t.Fatalf("Ping through the proxy: %v, %v", st, err)
	}
	if h := <-connects; h != srv.Listener.Addr().String() {
		t.Errorf("CONNECT %q", h)
	}
}

func copyConn(dst, src net.Conn) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if err != nil {
			return n, err
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(200, []byte(okPreauth))
	f.Add(200, []byte(`{"stat":"OK","response":{"result":"allow","status_msg":"x"}}`))
	f.Add(503, []byte(`{"stat":"FAIL","code":50301}`))
	f.Add(200, []byte(`{"stat":"FAIL","code":40002,"message":"m"}`))
	f.Add(200, []byte(`<html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, call := range []Call{CallPreauth, CallAuth} {
			raw, err := classify(call, status, body)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Class < ClassTransport || e.Class > ClassBadBody {
					t.Fatalf("unclassified error %v", err)
				}
			} else if status != 200 {
				t.Fatalf("status %d accepted", status)
			}
			if call == CallAuth {
				var a AuthResult
				var perr error
				if err == nil {
					a, perr = parseAuth(raw)
					if perr == nil && a.Result != "allow" && a.Result != "deny" {
						t.Fatalf("auth result %q accepted", a.Result)
					}
					checkMalformed(t, perr)
				}
				// The one-pass decoding answers exactly as the generic one.
				got, gerr := decodeAuth(status, body)
				sameAnswer(t, got, a, gerr, cmp.Or(err, perr))
				continue
			}
			for _, menu := range []bool{true, false} {
				var p Preauth
				var perr error
				if err == nil {
					p, perr = parsePreauth(raw, menu)
					if perr == nil && menu && p.Result == "auth" && (p.Prompt == "" || p.Factors == nil) {
						t.Fatalf("auth preauth without prompt accepted: %+v", p)
					}
					checkMalformed(t, perr)
				}
				got, gerr := decodePreauth(status, body, menu)
				sameAnswer(t, got, p, gerr, cmp.Or(err, perr))
			}
		}
	})
}

func checkMalformed(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Class != ClassMalformed {
			t.Fatalf("parse error not malformed: %v", err)
		}
	}
}

// sameAnswer checks that two decodings of one answer agree: the same
// result, or errors of the same class.
func sameAnswer[T any](t *testing.T, got, want T, gotErr, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("one-pass decoding: %v; generic: %v", gotErr, wantErr)
	}
	if gotErr != nil {
		var g, w *Error
		if !errors.As(gotErr, &g) || !errors.As(wantErr, &w) || g.Class != w.Class || g.Code != w.Code || g.HTTPStatus != w.HTTPStatus {
			t.Fatalf("one-pass decoding: %v; generic: %v", gotErr, wantErr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("one-pass decoding: %+v; generic: %+v", got, want)
	}
}

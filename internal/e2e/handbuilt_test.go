package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/store"
)

// Date formats real clients send (duo-wire-protocol.md §1.3, §1.6).
func pythonDate(t time.Time) string { // email.utils.formatdate, PowerShell
	return t.UTC().Format("Mon, 02 Jan 2006 15:04:05") + " -0000"
}

func localOffsetDate(t time.Time) string { // duo_unix 2.0.4–2.2.3 in a -0400 zone
	return t.In(time.FixedZone("EDT", -4*3600)).Format("Mon, 02 Jan 2006 15:04:05 -0700")
}

// signing says how a hand-built request is signed.
type signing struct {
	ikey, skey string
	version    int // 1, 2, 4, 5; 0 sends no Authorization header
	digest     duosig.Digest
	host       string // the signed host
	dateHeader string // "Date" or "X-Duo-Date"; "" sends no date
	date       string
	// scheme prefixes the base64 credentials; "" means "Basic ".
	scheme string
}

// handRequest is one request built byte by byte.
type handRequest struct {
	method string
	target string // path with optional query, sent verbatim
	body   []byte
	ctype  string
	// params are what v1/v2 sign (query and form merged); v4/v5 sign the
	// query parsed from target and the body hash.
	params url.Values
	sig    signing
	// hostHeader, if set, is sent as the Host header (the connection still
	// goes to the server, with its own name in TLS).
	hostHeader string
}

type handResponse struct {
	status int
	header http.Header
	body   []byte
}

// roundTrip sends req with c and reads the whole answer.
func roundTrip(t *testing.T, c *http.Client, req *http.Request) handResponse {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", req.Method, req.URL.Path, err)
	}
	return handResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

func (ts *testServer) sendHand(t *testing.T, hr handRequest) handResponse {
	t.Helper()
	path, rawQuery, _ := strings.Cut(hr.target, "?")
	var rd io.Reader
	if hr.body != nil {
		rd = bytes.NewReader(hr.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, hr.method, "https://"+ts.Host+hr.target, rd)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if hr.ctype != "" {
		req.Header.Set("Content-Type", hr.ctype)
	}
	if hr.hostHeader != "" {
		req.Host = hr.hostHeader
	}
	s := hr.sig
	if s.dateHeader != "" {
		req.Header.Set(s.dateHeader, s.date)
	}
	if s.version != 0 {
		cr := duosig.Request{Method: hr.method, Host: s.host, Path: path, Date: s.date, Params: hr.params}
		if s.version >= 4 {
			q, err := url.ParseQuery(rawQuery)
			if err != nil {
				t.Fatal(err)
			}
			cr.Params, cr.Body = q, hr.body
		}
		canon, err := duosig.Canonicalize(s.version, cr)
		if err != nil {
			t.Fatalf("canonicalize: %v", err)
		}
		scheme := s.scheme
		if scheme == "" {
			scheme = "Basic "
		}
		sig := duosig.Sign(s.digest, s.skey, canon)
		req.Header.Set("Authorization", scheme+base64.StdEncoding.EncodeToString([]byte(s.ikey+":"+sig)))
	}
	return roundTrip(t, ts.Client, req)
}

// form encodes params the way the wire carries them (Go's Encode: '+' for
// space, sorted), which need not match the signed canonical string.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// TestHandBuiltRequests sends requests in the shapes of clients that are
// not installable here (Python ≥ 5, duo_unix 1.x and 2.x, PowerShell) and
// broken ones, and checks exact answers.
func TestHandBuiltRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.authAPI(t)
	adminIKey, adminSKey := ts.integration(t, store.TypeAdminAPI)
	codes := ts.user(t, "hand", 8)
	now := time.Now()

	withPort := signing{ikey: ikey, skey: skey, host: ts.Host, dateHeader: "Date", date: pythonDate(now)}
	v := func(s signing, version int, digest duosig.Digest) signing {
		s.version, s.digest = version, digest
		return s
	}
	noPort := withPort
	noPort.host = "localhost"

	jsonAuth := func(code string) []byte {
		// Python ≥ 5: json.dumps(sort_keys=True, separators=(',', ':')).
		return []byte(`{"factor":"passcode","passcode":"` + code + `","username":"hand"}`)
	}
	formAuth := func(code string) url.Values {
		return form("username", "hand", "factor", "passcode", "passcode", code)
	}

	type okCase struct {
		name string
		req  handRequest
		// want is the expected "response" object (a subset of keys).
		want map[string]any
	}
	allow := map[string]any{"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}
	preauthAuth := map[string]any{"result": "auth", "status_msg": "Account is active"}
	okCases := []okCase{
		{"v5 JSON preauth (Python 5)", handRequest{
			method: "POST", target: "/auth/v2/preauth", body: []byte(`{"username":"hand"}`), ctype: "application/json",
			sig: v(noPort, 5, duosig.SHA512),
		}, preauthAuth},
		{"v5 JSON auth (Python 5)", handRequest{
			method: "POST", target: "/auth/v2/auth", body: jsonAuth(codes[0]), ctype: "application/json",
			sig: v(noPort, 5, duosig.SHA512),
		}, allow},
		{"v5 JSON auth, host with port", handRequest{
			method: "POST", target: "/auth/v2/auth", body: jsonAuth(codes[1]), ctype: "application/json",
			sig: v(withPort, 5, duosig.SHA512),
		}, allow},
		{"v4 JSON auth", handRequest{
			method: "POST", target: "/auth/v2/auth", body: jsonAuth(codes[2]), ctype: "application/json",
			sig: v(noPort, 4, duosig.SHA512),
		}, allow},
		{"v2 SHA512 with X-Duo-Date in a -0400 zone (duo_unix 2.x)", func() handRequest {
			s := v(noPort, 2, duosig.SHA512)
			s.dateHeader, s.date = "X-Duo-Date", localOffsetDate(now)
			p := formAuth(codes[3])
			return handRequest{method: "POST", target: "/auth/v2/auth", body: []byte(duosig.CanonParams(p)),
				ctype: "application/x-www-form-urlencoded", params: p, sig: s}
		}(), allow},
		{"PowerShell: Basic: scheme, X-Duo-Date -0000, v2 SHA1", func() handRequest {
			s := v(noPort, 2, duosig.SHA1)
			s.dateHeader, s.date = "X-Duo-Date", now.UTC().Format("Mon, 02 Jan 2006 15:04:05")+" -0000"
			s.scheme = "Basic: "
			p := form("device", "auto", "factor", "passcode", "passcode", codes[4], "username", "hand")
			return handRequest{method: "POST", target: "/auth/v2/auth",
				body:  []byte("device=auto&factor=passcode&passcode=" + codes[4] + "&username=hand"),
				ctype: "application/x-www-form-urlencoded", params: p, sig: s}
		}(), allow},
		// Version 1 signs no date: only the legacy routes take it.
		{"v1 SHA1 without a date on /rest/v1 (duo_unix 1.x)", func() handRequest {
			s := v(noPort, 1, duosig.SHA1)
			s.dateHeader, s.date = "", ""
			p := form("user", "hand", "factor", "passcode", "code", codes[5])
			return handRequest{method: "POST", target: "/rest/v1/auth.json", body: []byte(duosig.CanonParams(p)),
				ctype: "application/x-www-form-urlencoded", params: p, sig: s}
		}(), map[string]any{"result": "allow"}},
		{"v2 form body with '+' for spaces, SHA512 (duo_api_golang style)", func() handRequest {
			p := form("username", "hand", "factor", "passcode", "passcode", codes[6], "hostname", "a host name")
			return handRequest{method: "POST", target: "/auth/v2/auth", body: []byte(p.Encode()),
				ctype: "application/x-www-form-urlencoded", params: p, sig: v(withPort, 2, duosig.SHA512)}
		}(), allow},
		{"POST params in the query string", func() handRequest {
			p := formAuth(codes[7])
			return handRequest{method: "POST", target: "/auth/v2/auth?" + p.Encode(), params: p, sig: v(noPort, 2, duosig.SHA1)}
		}(), allow},
		{"GET check with a trailing ? (Python, duo_unix)", handRequest{
			method: "GET", target: "/auth/v2/check?", sig: v(noPort, 2, duosig.SHA1),
		}, map[string]any{}},
		{"GET check, v5", handRequest{
			method: "GET", target: "/auth/v2/check", sig: v(withPort, 5, duosig.SHA512),
		}, map[string]any{}},
		{"GET ping unsigned with a trailing ?", handRequest{method: "GET", target: "/auth/v2/ping?"}, map[string]any{}},
		{"GET ping signed (duo_unix ≥ 2.1)", handRequest{
			method: "GET", target: "/auth/v2/ping", sig: v(noPort, 2, duosig.SHA512),
		}, map[string]any{}},
	}
	// Each auth case spends its own single-use code of the same user.
	for _, c := range okCases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.sendHand(t, c.req)
			if r.status != http.StatusOK {
				t.Fatalf("HTTP %d: %s", r.status, r.body)
			}
			for h, want := range map[string]string{
				"Content-Type":              "application/json",
				"Cache-Control":             "no-store",
				"Strict-Transport-Security": "max-age=31536000",
			} {
				if got := r.header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			env := decodeEnvelope(t, r.body)
			if env.Stat != "OK" {
				t.Fatalf("stat %q: %s", env.Stat, r.body)
			}
			var resp map[string]any
			if err := json.Unmarshal(env.Response, &resp); err != nil {
				t.Fatalf("response: %v: %s", err, env.Response)
			}
			for k, want := range c.want {
				if resp[k] != want {
					t.Errorf("response %s = %v, want %v (%s)", k, resp[k], want, r.body)
				}
			}
			if strings.HasSuffix(strings.TrimSuffix(c.req.target, "?"), "/check") || strings.Contains(c.req.target, "/ping") {
				tm, _ := resp["time"].(float64)
				if d := int64(tm) - time.Now().Unix(); d < -60 || d > 60 {
					t.Errorf("time %v is %ds from now", resp["time"], d)
				}
			}
		})
	}

	t.Run("GET logo", func(t *testing.T) {
		r := ts.sendHand(t, handRequest{method: "GET", target: "/auth/v2/logo?", sig: v(noPort, 2, duosig.SHA1)})
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(r.body, pngMagic) {
			t.Errorf("logo: HTTP %d, Content-Type %q, % x", r.status, r.header.Get("Content-Type"), r.body[:min(len(r.body), 8)])
		}
	})

	type failCase struct {
		name       string
		req        handRequest
		status     int
		code       int
		message    string
		detail     string // checked when not empty
		allowMatch string // for 405: the Allow header
	}
	checkReq := func(s signing) handRequest { return handRequest{method: "GET", target: "/auth/v2/check", sig: s} }
	stale := v(noPort, 2, duosig.SHA512)
	stale.date = pythonDate(now.Add(-10 * time.Minute))
	future := v(noPort, 2, duosig.SHA512)
	future.date = localOffsetDate(now.Add(10 * time.Minute))
	wrongSKey := v(noPort, 2, duosig.SHA512)
	wrongSKey.skey = strings.Repeat("x", 40)
	unknownIKey := v(noPort, 2, duosig.SHA512)
	unknownIKey.ikey = "DIAAAAAAAAAAAAAAAAAA"
	garbageAuth := v(noPort, 2, duosig.SHA1)
	garbageAuth.scheme = "Bearer "
	admin := v(noPort, 2, duosig.SHA512)
	admin.ikey, admin.skey = adminIKey, adminSKey
	wrongHost := v(noPort, 2, duosig.SHA512)
	wrongHost.host = "api-evil.duosecurity.com"
	failCases := []failCase{
		{name: "stale date (10 minutes old)", req: checkReq(stale), status: 401, code: 40105, message: "Bad request timestamp"},
		{name: "date 10 minutes ahead, local offset", req: checkReq(future), status: 401, code: 40105, message: "Bad request timestamp"},
		{name: "v2 signature without a date", req: func() handRequest {
			s := v(noPort, 2, duosig.SHA512)
			s.dateHeader = ""
			return checkReq(s)
		}(), status: 401, code: 40104, message: "Missing request timestamp"},
		{name: "v1 signature without a date on /auth/v2 (replayable)", req: func() handRequest {
			s := v(noPort, 1, duosig.SHA1)
			s.dateHeader, s.date = "", ""
			p := formAuth(codes[5])
			return handRequest{method: "POST", target: "/auth/v2/auth", body: []byte(duosig.CanonParams(p)),
				ctype: "application/x-www-form-urlencoded", params: p, sig: s}
		}(), status: 401, code: 40104, message: "Missing request timestamp"},
		{name: "text/xml body", req: handRequest{method: "POST", target: "/auth/v2/preauth", body: []byte("<username>hand</username>"),
			ctype: "text/xml", sig: v(noPort, 5, duosig.SHA512)}, status: 401, code: 40106, message: "Invalid content type"},
		{name: "wrong skey", req: checkReq(wrongSKey), status: 401, code: 40103, message: "Invalid signature in request credentials"},
		{name: "signed for another host", req: checkReq(wrongHost), status: 401, code: 40103, message: "Invalid signature in request credentials"},
		// The Host header is the client's to choose: naming the other host
		// there does not make its signature valid here.
		{name: "signed for another host, Host header names it", req: handRequest{method: "GET", target: "/auth/v2/check",
			sig: wrongHost, hostHeader: wrongHost.host}, status: 401, code: 40103, message: "Invalid signature in request credentials"},
		{name: "unknown ikey", req: checkReq(unknownIKey), status: 401, code: 40102, message: "Invalid integration key in request credentials"},
		{name: "no Authorization", req: handRequest{method: "GET", target: "/auth/v2/check"}, status: 401, code: 40101, message: "Missing request credentials"},
		{name: "Authorization with another scheme", req: checkReq(garbageAuth), status: 401, code: 40101, message: "Missing request credentials"},
		{name: "adminapi integration on the Auth API", req: checkReq(admin), status: 403, code: 40301,
			message: "Access forbidden", detail: "Wrong integration type for this API."},
		{name: "malformed JSON body", req: handRequest{
			method: "POST", target: "/auth/v2/preauth", body: []byte(`{"username":`), ctype: "application/json",
			sig: v(noPort, 5, duosig.SHA512),
		}, status: 400, code: 40002, message: "Invalid request parameters"},
		{name: "auth without a factor", req: func() handRequest {
			p := form("username", "hand")
			return handRequest{method: "POST", target: "/auth/v2/auth", body: []byte(p.Encode()),
				ctype: "application/x-www-form-urlencoded", params: p, sig: v(noPort, 2, duosig.SHA1)}
		}(), status: 400, code: 40002, message: "Invalid request parameters"},
		{name: "GET on /auth/v2/auth", req: handRequest{method: "GET", target: "/auth/v2/auth", sig: v(noPort, 2, duosig.SHA1)},
			status: 405, code: 40501, message: "Method not allowed", allowMatch: "POST"},
		{name: "POST on /auth/v2/check", req: handRequest{method: "POST", target: "/auth/v2/check", sig: v(noPort, 2, duosig.SHA1)},
			status: 405, code: 40501, message: "Method not allowed", allowMatch: "GET"},
		{name: "unknown path", req: handRequest{method: "GET", target: "/auth/v2/nonexistent", sig: v(noPort, 2, duosig.SHA1)},
			status: 404, code: 40401, message: "Resource not found"},
		{name: "unknown path, unsigned", req: handRequest{method: "GET", target: "/no/such/thing"},
			status: 404, code: 40401, message: "Resource not found"},
	}
	for _, c := range failCases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.sendHand(t, c.req)
			if r.status != c.status {
				t.Errorf("HTTP %d, want %d: %s", r.status, c.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			env := decodeEnvelope(t, r.body)
			if env.Stat != "FAIL" || env.Code != c.code || env.Message != c.message {
				t.Errorf("got stat %q code %d message %q; want FAIL %d %q (%s)", env.Stat, env.Code, env.Message, c.code, c.message, r.body)
			}
			if c.detail != "" && env.MessageDetail != c.detail {
				t.Errorf("message_detail %q, want %q", env.MessageDetail, c.detail)
			}
			if c.allowMatch != "" && r.header.Get("Allow") != c.allowMatch {
				t.Errorf("Allow %q, want %q", r.header.Get("Allow"), c.allowMatch)
			}
		})
	}
}

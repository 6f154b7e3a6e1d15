package device

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

func TestActivate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pub := pubPEM(t, &testKeys()[0].PublicKey)
	for _, tc := range []struct {
		name             string
		query, body      url.Values
		wantName, wantOS string
	}{
		{name: "form body, protocol in query (DuoBreak, duo-ext)",
			query: url.Values{"customer_protocol": {"1"}},
			body: url.Values{"pubkey": {pub}, "pkpush": {"rsa-sha512"}, "platform": {"iOS"}, "device_name": {"iPad"},
				"model": {"arm64"}, "app_id": {"com.duosecurity.DuoMobile"}, "Legion": {"US"}, "App_id": {"x"}},
			wantName: "iPad", wantOS: "iOS"},
		{name: "query only (ruo)",
			query: url.Values{"customer_protocol": {"1"}, "pubkey": {pub}, "pkpush": {"rsa-sha512"}, "platform": {"Android"},
				"model": {"Browser Extension"}, "jailbroken": {"false"}},
			wantName: "Browser Extension", wantOS: "Android"},
		{name: "minimal", body: url.Values{"pubkey": {pub}, "pkpush": {"rsa-sha512"}}, wantName: "Device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, err := ParseCode(f.enroll(t, "alice"))
			if err != nil {
				t.Fatal(err)
			}
			u := f.url("/push/v2/activation/" + code)
			if tc.query != nil {
				u += "?" + tc.query.Encode()
			}
			status, env := f.do(t, formPost(t, u, tc.body.Encode()))
			if status != 200 || env.Stat != "OK" {
				t.Fatalf("HTTP %d %s", status, env.raw)
			}
			var resp map[string]any
			if err := json.Unmarshal(env.Response, &resp); err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^DA[A-Z0-9]{18}$`).MatchString(resp["akey"].(string)) ||
				!regexp.MustCompile(`^DP[A-Z0-9]{18}$`).MatchString(resp["pkey"].(string)) ||
				!regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(resp["hotp_secret"].(string)) {
				t.Errorf("keys not Duo-shaped: %s", env.Response)
			}
			if resp["customer_name"] != "Assent" || resp["customer_logo"] != base64.StdEncoding.EncodeToString(testLogo) ||
				resp["use_totp"] != false || resp["has_backup_restore"] != false {
				t.Errorf("response %s", env.Response)
			}
			devs, err := f.core.Devices(context.Background(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(devs, func(d store.Device) bool { return d.ID == resp["pkey"] })
			if i < 0 {
				t.Fatalf("device %s not stored", resp["pkey"])
			}
			if d := devs[i]; d.Name != tc.wantName || d.Platform != tc.wantOS {
				t.Errorf("device %q %q, want name %q platform %q", d.Name, d.Platform, tc.wantName, tc.wantOS)
			}
		})
	}
}

func TestActivateErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pub := pubPEM(t, &testKeys()[0].PublicKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	freshCode := func() string {
		code, _, err := ParseCode(f.enroll(t, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	used := freshCode()
	if status, env := f.do(t, formPost(t, f.url("/push/v2/activation/"+used), url.Values{"pubkey": {pub}}.Encode())); status != 200 {
		t.Fatalf("first use: %d %s", status, env.raw)
	}
	expired := freshCode()
	f.clock.Advance(auth.DefaultEnrollValid + time.Second)

	for _, tc := range []struct {
		name, code string
		body       url.Values
		method     string
		status     int
		errCode    int
		message    string
	}{
		{name: "unknown code", code: "ABCDEFGHIJ0123456789", body: url.Values{"pubkey": {pub}}, status: 404, errCode: 40403, message: "Unknown activation code"},
		{name: "used code", code: used, body: url.Values{"pubkey": {pub}}, status: 404, errCode: 40403, message: "Unknown activation code"},
		{name: "expired code", code: expired, body: url.Values{"pubkey": {pub}}, status: 404, errCode: 40403, message: "Unknown activation code"},
		{name: "no pubkey", code: freshCode(), body: url.Values{"pkpush": {"rsa-sha512"}}, status: 400, errCode: 40002},
		{name: "garbage pubkey", code: freshCode(), body: url.Values{"pubkey": {"hello"}}, status: 400, errCode: 40002},
		{name: "1024-bit pubkey", code: freshCode(), body: url.Values{"pubkey": {pubPEM(t, &small.PublicKey)}}, status: 400, errCode: 40002},
		{name: "other pkpush", code: freshCode(), body: url.Values{"pubkey": {pub}, "pkpush": {"rsa-sha1"}}, status: 400, errCode: 40002},
		{name: "GET", code: freshCode(), method: http.MethodGet, status: 405, errCode: 40501},
	} {
		req := formPost(t, f.url("/push/v2/activation/"+tc.code), tc.body.Encode())
		if tc.method != "" {
			req.Method = tc.method
		}
		status, env := f.do(t, req)
		if status != tc.status || env.Stat != "FAIL" || env.Code != tc.errCode || (tc.message != "" && env.Message != tc.message) {
			t.Errorf("%s: HTTP %d %s", tc.name, status, env.raw)
		}
	}
	// A failed activation does not use the code up.
	code := freshCode()
	f.do(t, formPost(t, f.url("/push/v2/activation/"+code), url.Values{"pubkey": {"bad"}}.Encode()))
	if status, env := f.do(t, formPost(t, f.url("/push/v2/activation/"+code), url.Values{"pubkey": {pub}}.Encode())); status != 200 {
		t.Errorf("retry after a bad key: %d %s", status, env.raw)
	}
}

// rawSigned builds a device request by hand: the caller chooses what is
// sent (query, form body) and, separately, the parameter string signed.
type rawSigned struct {
	method, path      string
	query, body       string // as sent
	signedParams      string
	signedHost        string // default: the fixture host
	signedPath        string // default: path
	signedMethod      string // default: method
	date              string // default: now as -0000
	dateHeader        string // default X-Duo-Date
	key               *rsa.PrivateKey
	pkey              string
	hostHeader        string
	authHeaderReplace string // send this Authorization header instead
}

func (f *fixture) rawRequest(t *testing.T, c *Client, s rawSigned) *http.Request {
	t.Helper()
	if s.date == "" {
		s.date = f.clock.Now().UTC().Format(dateFormat)
	}
	if s.signedHost == "" {
		s.signedHost = f.host
	}
	if s.signedPath == "" {
		s.signedPath = s.path
	}
	if s.signedMethod == "" {
		s.signedMethod = s.method
	}
	if s.key == nil {
		s.key = c.Key
	}
	if s.pkey == "" {
		s.pkey = c.PKey
	}
	canon := s.date + "\n" + s.signedMethod + "\n" + s.signedHost + "\n" + s.signedPath + "\n" + s.signedParams
	sig := sign(t, s.key, canon)
	u := f.url(s.path)
	if s.query != "" {
		u += "?" + s.query
	}
	var req *http.Request
	if s.body != "" {
		req = formPost(t, u, s.body)
		req.Method = s.method
	} else {
		var err error
		if req, err = http.NewRequest(s.method, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.pkey+":"+base64.StdEncoding.EncodeToString(sig)))
	if s.authHeaderReplace != "" {
		auth = s.authHeaderReplace
	}
	req.Header.Set("Authorization", auth)
	if s.dateHeader == "" {
		s.dateHeader = "X-Duo-Date"
	}
	req.Header.Set(s.dateHeader, s.date)
	if s.hostHeader != "" {
		req.Host = s.hostHeader
	}
	return req
}

func TestDeviceRequestAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	other := testKeys()[1]
	now := f.clock.Now().UTC()
	const info = "/push/v2/device/info"
	const reg = "/push/v2/device/registration"
	std := "akey=" + c.AKey + "&fips_status=1&hsm_status=true&pkpush=rsa-sha512"
	// A value with characters the encodings disagree on.
	odd := url.Values{"akey": {c.AKey}, "note": {"a b!*'()~é/"}, "token": {"GCM:x y"}}
	_, port, _ := strings.Cut(f.host, ":")

	for _, tc := range []struct {
		name   string
		req    rawSigned
		status int
		code   int
	}{
		{name: "python urlencode GET", req: rawSigned{method: "GET", path: info, query: std, signedParams: std}, status: 200},
		{name: "no params (Auto-2FA GET)", req: rawSigned{method: "GET", path: info}, status: 200},
		{name: "python form POST", req: rawSigned{method: "POST", path: reg, body: odd.Encode(), signedParams: odd.Encode()}, status: 200},
		{name: "python signed, JS sent", req: rawSigned{method: "POST", path: reg,
			body:         "akey=" + c.AKey + "&note=a%20b!*'()~%C3%A9%2F&token=GCM%3Ax%20y",
			signedParams: odd.Encode()}, status: 200},
		{name: "encodeURIComponent, bodyless POST (Auto-2FA)", req: rawSigned{method: "POST", path: reg,
			query:        "akey=" + c.AKey + "&note=a%20b!*'()~%C3%A9%2F&token=GCM%3Ax%20y",
			signedParams: "akey=" + c.AKey + "&note=a%20b!*'()~%C3%A9%2F&token=GCM%3Ax%20y"}, status: 200},
		{name: "encodeURIComponent signed, python sent", req: rawSigned{method: "POST", path: reg,
			body:         odd.Encode(),
			signedParams: "akey=" + c.AKey + "&note=a%20b!*'()~%C3%A9%2F&token=GCM%3Ax%20y"}, status: 200},
		{name: "URLSearchParams (duo-ext)", req: rawSigned{method: "POST", path: reg,
			body:         odd.Encode(),
			signedParams: "akey=" + c.AKey + "&note=a+b%21*%27%28%29%7E%C3%A9%2F&token=GCM%3Ax+y"}, status: 200},
		{name: "unsorted, as sent", req: rawSigned{method: "POST", path: reg,
			body: "token=t1&akey=" + c.AKey, signedParams: "token=t1&akey=" + c.AKey}, status: 200},
		{name: "DuoBreak host param", req: rawSigned{method: "GET", path: info, query: std,
			signedParams: std + "&host=" + url.QueryEscape(f.host)}, status: 200},
		{name: "GMT date (Auto-2FA)", req: rawSigned{method: "GET", path: info, query: std, signedParams: std,
			date: now.Format(time.RFC1123)}, status: 200},
		{name: "+0000 date (Python aware datetime)", req: rawSigned{method: "GET", path: info, query: std, signedParams: std,
			date: now.Format(time.RFC1123Z)}, status: 200},
		{name: "Date header", req: rawSigned{method: "GET", path: info, query: std, signedParams: std, dateHeader: "Date"}, status: 200},
		{name: "host without port", req: rawSigned{method: "GET", path: info, query: std, signedParams: std,
			signedHost: "127.0.0.1"}, status: 200},
		// The Host header is the client's choice: a request signed for
		// another server is refused even when the Host header names it.
		{name: "Host header host", req: rawSigned{method: "GET", path: info, query: std, signedParams: std,
			hostHeader: "Assent.Example:" + port, signedHost: "assent.example"}, status: 401, code: 40103},
		{name: "lenient Authorization scheme", req: rawSigned{method: "GET", path: info}, status: 200},

		{name: "stale date", req: rawSigned{method: "GET", path: info, query: std, signedParams: std,
			date: now.Add(-301 * time.Second).Format(dateFormat)}, status: 401, code: 40105},
		{name: "future date", req: rawSigned{method: "GET", path: info, query: std, signedParams: std,
			date: now.Add(301 * time.Second).Format(dateFormat)}, status: 401, code: 40105},
		{name: "garbage date", req: rawSigned{method: "GET", path: info, date: "yesterday"}, status: 401, code: 40105},
		{name: "wrong key", req: rawSigned{method: "GET", path: info, query: std, signedParams: std, key: other}, status: 401, code: 40103},
		{name: "unknown device", req: rawSigned{method: "GET", path: info, pkey: "DPXXXXXXXXXXXXXXXXXX"}, status: 401, code: 40102},
		{name: "tampered param", req: rawSigned{method: "POST", path: reg, body: "akey=" + c.AKey + "&token=t2",
			signedParams: "akey=" + c.AKey + "&token=t1"}, status: 401, code: 40103},
		{name: "other host", req: rawSigned{method: "GET", path: info, signedHost: "evil.example"}, status: 401, code: 40103},
		{name: "other path", req: rawSigned{method: "GET", path: info, signedPath: "/push/v2/device/transactions"}, status: 401, code: 40103},
		{name: "other method", req: rawSigned{method: "GET", path: info, signedMethod: "POST"}, status: 401, code: 40103},
		{name: "no Authorization", req: rawSigned{method: "GET", path: info, authHeaderReplace: " "}, status: 401, code: 40101},
		{name: "HMAC-style Authorization", req: rawSigned{method: "GET", path: info,
			authHeaderReplace: "Basic " + base64.StdEncoding.EncodeToString([]byte(c.PKey+":"+strings.Repeat("ab", 64)))}, status: 401, code: 40103},
		{name: "not base64", req: rawSigned{method: "GET", path: info, authHeaderReplace: "Basic %%%"}, status: 401, code: 40101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := f.rawRequest(t, c, tc.req)
			if tc.name == "lenient Authorization scheme" {
				req.Header.Set("Authorization", "basic: "+strings.TrimPrefix(req.Header.Get("Authorization"), "Basic "))
			}
			if tc.req.authHeaderReplace == " " {
				req.Header.Del("Authorization")
			}
			status, env := f.do(t, req)
			if status != tc.status || (tc.code != 0 && env.Code != tc.code) || (tc.status == 200 && env.Stat != "OK") {
				t.Errorf("HTTP %d %s; want %d %d", status, env.raw, tc.status, tc.code)
			}
		})
	}
	// A missing date has its own code.
	req, err := c.NewRequest(context.Background(), "GET", info, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Del("X-Duo-Date")
	if status, env := f.do(t, req); status != 401 || env.Code != 40104 || env.Message != "Missing request timestamp" {
		t.Errorf("no date: HTTP %d %s", status, env.raw)
	}
}

func TestTransactionsList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	ctx := context.Background()

	var empty json.RawMessage
	if err := c.Do(ctx, "GET", "/push/v2/device/transactions", c.stdParams(), &empty); err != nil {
		t.Fatal(err)
	}
	if string(empty) != `{"transactions":[]}` {
		t.Errorf("empty list %s", empty)
	}

	created := f.clock.Now()
	txid := f.push(t, "from=login%20page&domain=example.com")
	list, err := c.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d transactions", len(list))
	}
	got := list[0]
	want := Transaction{
		TxID: txid, Summary: "Login request for VPN", Type: "Login",
		Time: created.Unix(), Expiration: created.Add(auth.DefaultPushTimeout).Unix(),
		Attributes: [][]string{
			{"Username", "alice"},
			{"Organization", "Assent"},
			{"Application", "VPN"},
			{"Time", created.UTC().Format(time.RFC1123)},
			{"IP Address", "192.0.2.7"},
			{"Hostname", "laptop"},
			{"from", "login page"},
			{"domain", "example.com"},
		},
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("transaction\n got %s\nwant %s", gb, wb)
	}
	// The core refuses pushinfo that does not decode; pushes stored before
	// it did still show, undecodable pieces as they are.
	if got, _ := json.Marshal(pushInfo("from=vpn&bad=%zz")); string(got) != `[["from","vpn"],["bad","%zz"]]` {
		t.Errorf("pushInfo with an undecodable piece: %s", got)
	}
	// Another device does not see this device's push.
	c2 := f.device(t, "bob", 1)
	if l2, err := c2.Pending(ctx); err != nil || len(l2) != 0 {
		t.Errorf("second device sees %v, %v", l2, err)
	}
	// Expired pushes disappear.
	f.clock.Advance(auth.DefaultPushTimeout + time.Second)
	if list, err := c.Pending(ctx); err != nil || len(list) != 0 {
		t.Errorf("after expiry: %v, %v", list, err)
	}
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	ctx := context.Background()
	answerPath := func(txid string) string { return "/push/v2/device/transactions/" + txid }

	for _, tc := range []struct {
		name, answer, want string
		bodyless           bool
	}{
		{name: "approve", answer: "approve", want: auth.ResultAllow},
		{name: "deny", answer: "deny", want: auth.ResultDeny},
		{name: "reject (duo-ext)", answer: "reject", want: auth.ResultDeny},
		{name: "approve in a bodyless POST (Auto-2FA)", answer: "approve", want: auth.ResultAllow, bodyless: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			txid := f.push(t, "")
			params := "answer=" + tc.answer + "&txId=" + txid
			s := rawSigned{method: "POST", path: answerPath(txid), signedParams: params}
			if tc.bodyless {
				s.query = params
			} else {
				s.body = params
			}
			status, env := f.do(t, f.rawRequest(t, c, s))
			wantResult := "approve"
			if tc.want == auth.ResultDeny {
				wantResult = "deny"
			}
			if status != 200 || string(env.Response) != `{"result":"`+wantResult+`"}` {
				t.Fatalf("HTTP %d %s", status, env.raw)
			}
			if st := f.status(t, txid); st.Result != tc.want {
				t.Errorf("auth_status %+v, want %s", st, tc.want)
			}
		})
	}

	t.Run("double answer", func(t *testing.T) {
		txid := f.push(t, "")
		if err := c.Answer(ctx, txid, true); err != nil {
			t.Fatal(err)
		}
		err := c.Answer(ctx, txid, false)
		if ae := apiErr(err); ae == nil || ae.Status != 400 || ae.Code != 40002 || !strings.Contains(ae.Detail, "already answered") {
			t.Errorf("second answer: %v", err)
		}
		if st := f.status(t, txid); st.Result != auth.ResultAllow {
			t.Errorf("the second answer changed the result: %+v", st)
		}
	})
	t.Run("unknown txid", func(t *testing.T) {
		err := c.Answer(ctx, "00000000-0000-4000-8000-000000000000", true)
		if ae := apiErr(err); ae == nil || ae.Status != 404 || ae.Code != 40401 {
			t.Errorf("unknown txid: %v", err)
		}
	})
	t.Run("another device's push", func(t *testing.T) {
		txid := f.push(t, "") // goes to alice's device, c
		c2 := f.device(t, "bob", 1)
		if ae := apiErr(c2.Answer(ctx, txid, true)); ae == nil || ae.Status != 404 {
			t.Errorf("answer by another device: %v", ae)
		}
		if st := f.status(t, txid); st.Result != "waiting" {
			t.Errorf("state %+v", st)
		}
	})
	t.Run("bad answer", func(t *testing.T) {
		txid := f.push(t, "")
		p := c.stdParams()
		p.Set("answer", "maybe")
		err := c.Do(ctx, "POST", answerPath(txid), p, nil)
		if ae := apiErr(err); ae == nil || ae.Status != 400 || ae.Code != 40002 {
			t.Errorf("answer=maybe: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		// Not parallel with the others: it moves the shared clock.
		txid := f.push(t, "")
		f.clock.Advance(auth.DefaultPushTimeout + time.Second)
		c.Now = f.clock.Now
		if ae := apiErr(c.Answer(ctx, txid, true)); ae == nil || ae.Status != 400 || ae.Code != 40002 {
			t.Errorf("late answer: %v", ae)
		}
		if st := f.status(t, txid); st.Status != "timeout" {
			t.Errorf("state %+v", st)
		}
	})
}

func apiErr(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

func TestRegistrationAndInfo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	ctx := context.Background()
	if err := c.RegisterPushToken(ctx, "GCM:abc"); err != nil {
		t.Fatal(err)
	}
	devs, err := f.core.Devices(ctx, "alice")
	if err != nil || len(devs) != 1 || devs[0].PushToken != "GCM:abc" {
		t.Errorf("devices %+v, %v", devs, err)
	}
	if ae := apiErr(c.Do(ctx, "POST", "/push/v2/device/registration", c.stdParams(), nil)); ae == nil || ae.Code != 40002 {
		t.Errorf("no token: %v", ae)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info != (Info{PKey: c.PKey, Name: "test phone", Platform: Platform, CustomerName: "Assent"}) {
		t.Errorf("info %+v", info)
	}
	// Wrong method on a device route.
	if ae := apiErr(c.Do(ctx, "POST", "/push/v2/device/info", nil, nil)); ae == nil || ae.Status != 405 {
		t.Errorf("POST info: %v", ae)
	}
}

// A device removed by an administrator is told so in words, with the
// status and code of unknown credentials that clients already handle; the
// Go client's error carries the words to the user.
func TestRemovedDevice(t *testing.T) {
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	ctx := context.Background()
	if _, err := c.Pending(ctx); err != nil {
		t.Fatalf("before removal: %v", err)
	}
	if err := f.core.RemoveDevice(ctx, c.PKey); err != nil {
		t.Fatal(err)
	}
	req, err := c.NewRequest(ctx, "GET", "/push/v2/device/transactions", nil)
	if err != nil {
		t.Fatal(err)
	}
	status, env := f.do(t, req)
	if status != 401 || env.Code != 40102 || env.Message != "Device is not registered" ||
		!strings.Contains(env.MessageDetail, "no longer registered") || !strings.Contains(env.MessageDetail, "activate it again") {
		t.Errorf("removed device: HTTP %d %s", status, env.raw)
	}
	_, err = c.Pending(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != 40102 || !strings.Contains(err.Error(), "no longer registered") {
		t.Errorf("client error: %v", err)
	}
}

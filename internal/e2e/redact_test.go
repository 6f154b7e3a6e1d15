package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/pkg/duoweb"
)

// secretSet collects every secret a test created or guessed, by name.
type secretSet struct {
	t     *testing.T
	names []string
	vals  []string
}

func (s *secretSet) add(name, v string) string {
	s.t.Helper()
	if len(v) < 6 {
		s.t.Fatalf("secret %s is %q: too short to look for", name, v)
	}
	s.names, s.vals = append(s.names, name), append(s.vals, v)
	return v
}

// guess is a made-up secret of n characters from alphabet, as an attacker
// would try one.
func (s *secretSet) guess(name string, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			s.t.Fatal(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return s.add(name, string(b))
}

const (
	digits   = "0123456789"
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64chars = alnum + "-_"
)

// check fails the test for every secret found in text, as sent or
// URL-encoded. All-digit secrets (passcodes, bypass codes) count only when
// no digit touches them, so durations and counters cannot match by chance.
func (s *secretSet) check(where, text string) {
	s.t.Helper()
	for i, v := range s.vals {
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			var found bool
			if strings.Trim(form, digits) == "" {
				found = regexp.MustCompile(`(^|[^0-9])` + form + `([^0-9]|$)`).MatchString(text)
			} else {
				found = strings.Contains(text, form)
			}
			if found {
				at := strings.Index(text, form)
				lo, hi := max(0, at-120), min(len(text), at+len(form)+40)
				s.t.Errorf("%s contains the secret %s (%d characters), e.g. …%s…", where, s.names[i], len(v),
					strings.ReplaceAll(text[lo:hi], form, "<"+s.names[i]+">"))
				break
			}
		}
	}
}

// testSecretsNeverLogged runs the real binary with debug logs in JSON, drives
// every flow that creates a secret (and wrong guesses of each), and then
// looks for every one of them in the server's output and in the logs and
// error messages of the CLI commands (run from TestBinary).
func testSecretsNeverLogged(t *testing.T, bin string) {
	// Auth events go to a file and to a syslog receiver too: both are
	// checked for secrets like the log.
	eventsFile := filepath.Join(t.TempDir(), "auth-events.jsonl")
	syslogRecv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer syslogRecv.Close()
	var syslogged testutil.SyncBuffer
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := syslogRecv.ReadFrom(buf)
			if err != nil {
				return
			}
			syslogged.Write(append(buf[:n:n], '\n'))
		}
	}()
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{Args: []string{"--log-level", "debug", "--log-format", "json"},
		Env: []string{"ASSENT_AUTH_EVENTS_FILE=" + eventsFile, "ASSENT_AUTH_EVENTS_SYSLOG=udp://" + syslogRecv.LocalAddr().String()}})
	host, ca := srv.Host, srv.CAFile
	b64host := base64.RawStdEncoding.EncodeToString([]byte(host))
	sec := &secretSet{t: t}
	var cliLogs strings.Builder
	// cli runs the CLI with debug logs and keeps its stderr (logs and
	// error messages); stdout is the command's answer.
	cli := func(wantOK bool, args ...string) cliResult {
		t.Helper()
		args = append(args, "--log-level", "debug", "--log-format", "json")
		if args[0] == "integration" || args[0] == "user" {
			args = append(args, "--data-dir", srv.DataDir)
		}
		r := runCLI(t, bin, args...)
		// Labelled with the command only: its arguments are secrets.
		fmt.Fprintf(&cliLogs, "$ assent %s %s …\n%s", args[0], args[1], r.stderr)
		if wantOK && r.code != 0 {
			t.Fatalf("assent %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		if !wantOK && r.code == 0 {
			t.Fatalf("assent %s succeeded, want a failure\nstdout:\n%s", strings.Join(args, " "), r.stdout)
		}
		return r
	}
	decode := func(r cliResult, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
	}
	type keys struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	integration := func(typ string, extra ...string) keys {
		var k keys
		decode(cli(true, append([]string{"integration", "create", "--type", typ, "--name", typ + " app", "--json"}, extra...)...), &k)
		sec.add(typ+" secret key", k.SKey)
		return k
	}
	api := func(k keys, wantOK bool, method, path string, params ...string) map[string]any {
		t.Helper()
		r := cli(wantOK, append([]string{"api", "--host", host, "--ca", ca, "--ikey", k.IKey, "--skey", k.SKey, method, path}, params...)...)
		var env struct {
			Response any `json:"response"`
		}
		decode(r, &env)
		m, _ := env.Response.(map[string]any) // enroll_status answers a string
		return m
	}
	// page fetches a URL the way a browser does (same-origin form posts).
	page := func(method, u string, form url.Values) *prompttest.Page {
		t.Helper()
		if strings.HasPrefix(u, "/") {
			u = "https://" + host + u
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://"+host)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		r := roundTrip(t, srv.Client, req)
		return &prompttest.Page{Status: r.status, Header: r.header, Body: string(r.body)}
	}
	action := func(from *prompttest.Page, path string, kv ...string) *prompttest.Page {
		t.Helper()
		if from.Session() == "" {
			t.Fatalf("no prompt session on the page (status %d):\n%s", from.Status, from.Body)
		}
		sec.add("sealed prompt state", from.Session())
		form := url.Values{"session": {from.Session()}}
		for i := 0; i+1 < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
		return page(http.MethodPost, path, form)
	}

	// Integrations: secret keys.
	authapi := integration("authapi")
	websdk := integration("websdk", "--allowed-origin", "https://app.example")
	universal := integration("universal")

	// Bypass codes.
	cli(true, "user", "create", "alice")
	var bc struct {
		Codes []string `json:"codes"`
	}
	decode(cli(true, "user", "bypass-codes", "alice", "--count", "2", "--json"), &bc)
	for i, c := range bc.Codes {
		sec.add(fmt.Sprintf("bypass code %d", i), c)
	}

	// Enrollment by the CLI: an activation code and its QR-code URL.
	var en struct {
		ActivationCode    string `json:"activation_code"`
		ActivationBarcode string `json:"activation_barcode"`
	}
	decode(cli(true, "user", "enroll", "alice", "--json"), &en)
	code, _, _ := strings.Cut(strings.TrimPrefix(en.ActivationCode, "duo://"), "-")
	sec.add("activation code", code)
	if p := page(http.MethodGet, en.ActivationBarcode, nil); p.Status != http.StatusOK {
		t.Fatalf("QR code %s: %d", en.ActivationBarcode, p.Status)
	}

	// Wrong activation codes: from the CLI, malformed, and straight at the
	// device API (also a near miss of the route).
	dir := t.TempDir()
	cli(false, "device", "activate", "duo://"+sec.guess("guessed activation code", 20, alnum)+"-"+b64host,
		"--ca", ca, "--file", filepath.Join(dir, "wrong.json"))
	cli(false, "device", "activate", sec.guess("malformed activation code", 24, alnum), "--ca", ca, "--file", filepath.Join(dir, "wrong.json"))
	for _, p := range []string{"/push/v2/activation/" + sec.guess("guessed code (device API)", 20, alnum),
		"/push/v2/activation/" + sec.guess("guessed code (near miss)", 20, alnum) + "/x"} {
		if got := page(http.MethodPost, p, url.Values{"pubkey": {"x"}}); got.Status/100 != 4 {
			t.Errorf("POST %s: %d", p, got.Status)
		}
	}

	// Activation with the CLI authenticator: the HOTP secret.
	devFile := filepath.Join(dir, "alice.json")
	cli(true, "device", "activate", en.ActivationCode, "--ca", ca, "--file", devFile)
	var dev struct {
		HOTPSecret string `json:"hotp_secret"`
	}
	if b, err := os.ReadFile(devFile); err != nil || json.Unmarshal(b, &dev) != nil {
		t.Fatalf("device file: %v", err)
	}
	sec.add("HOTP secret", dev.HOTPSecret)
	passcode := func() string {
		t.Helper()
		return sec.add("HOTP passcode", strings.TrimSpace(cli(true, "device", "passcode", "--file", devFile).stdout))
	}

	// Auth API: HOTP passcode, bypass code, and wrong guesses of both.
	authPasscode := func(code, want string) {
		t.Helper()
		res := api(authapi, true, "POST", "/auth/v2/auth", "username=alice", "factor=passcode", "passcode="+code)
		if res["result"] != want {
			t.Fatalf("auth with a passcode: %v, want %s", res, want)
		}
	}
	authPasscode(sec.guess("guessed passcode", 6, digits), "deny")
	authPasscode(passcode(), "allow")
	authPasscode(sec.guess("guessed bypass code", 9, digits), "deny")
	authPasscode(bc.Codes[0], "allow")

	// A transport error of assent api names the URL; not its query.
	closed := fmt.Sprintf("localhost:%d", testutil.FreePort(t))
	cli(false, "api", "--host", closed, "--ca", ca, "--ikey", authapi.IKey, "--skey", authapi.SKey,
		"GET", "/auth/v2/auth_status", "txid="+sec.guess("query of a failed request", 24, alnum))

	// A push, answered by the CLI authenticator.
	res := api(authapi, true, "POST", "/auth/v2/auth", "username=alice", "factor=push", "device=auto", "async=1")
	txid, _ := res["txid"].(string)
	cli(true, "device", "approve", "--file", devFile)
	if st := api(authapi, true, "GET", "/auth/v2/auth_status", "txid="+txid); st["result"] != "allow" {
		t.Errorf("auth_status after approval: %v", st)
	}

	// Enrollment through the Auth API, and enroll_status with the code.
	en2 := api(authapi, true, "POST", "/auth/v2/enroll", "username=dave")
	code2, _ := en2["activation_code"].(string)
	sec.add("activation code (Auth API enroll)", strings.TrimPrefix(strings.Split(code2, "-")[0], "duo://"))
	api(authapi, true, "POST", "/auth/v2/enroll_status", "user_id="+fmt.Sprint(en2["user_id"]), "activation_code="+code2)

	// The enrollment portal: preauth's single-use link, looked at, near
	// misses, a wrong method, guesses, then used.
	pre := api(authapi, true, "POST", "/auth/v2/preauth", "username=carol")
	link, _ := pre["enroll_portal_url"].(string)
	token := strings.TrimPrefix(link, "https://"+host+"/portal/enroll/")
	if token == link || token == "" {
		t.Fatalf("preauth enroll_portal_url %q", link)
	}
	sec.add("enrollment portal token", token)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/portal/enroll/" + token, http.StatusOK},
		{http.MethodGet, "/portal/enroll/" + token + "/", http.StatusNotFound},
		{http.MethodGet, "/portal/enroll/" + token + "/x", http.StatusNotFound},
		{http.MethodPut, "/portal/enroll/" + token, http.StatusMethodNotAllowed},
		{http.MethodGet, "/portal/enroll/" + sec.guess("guessed portal token", 43, b64chars), http.StatusNotFound},
	} {
		if p := page(c.method, c.path, nil); p.Status != c.want {
			t.Errorf("%s portal link (%d characters): %d, want %d", c.method, len(c.path), p.Status, c.want)
		}
	}
	qr := page(http.MethodPost, link, url.Values{})
	portalCode := qr.Text("activation-code")
	if !strings.HasPrefix(portalCode, "duo://") {
		t.Fatalf("portal: no activation code (status %d, state %q)", qr.Status, qr.State())
	}
	sec.add("activation code (portal)", strings.Split(strings.TrimPrefix(portalCode, "duo://"), "-")[0])
	action(qr, "/prompt/enroll_status")

	// The Web SDK v2 frame: a signed request, a wrong and a right passcode,
	// the AUTH answer; and a forged request.
	const akey = "an application secret key of forty or more characters"
	sigRequest, err := duoweb.SignRequest(websdk.IKey, websdk.SKey, akey, "alice")
	if err != nil {
		t.Fatal(err)
	}
	tx, appHalf, _ := strings.Cut(sigRequest, ":")
	sec.add("Web SDK TX half", tx)
	sec.add("Web SDK APP half", appHalf)
	frameURL := func(tx string) string {
		return "/frame/web/v1/auth?" + url.Values{"tx": {tx}, "parent": {"https://app.example/login"}, "v": {"2.9"}}.Encode()
	}
	frame := page(http.MethodGet, frameURL(tx), nil)
	if frame.State() != "choose" {
		t.Fatalf("frame: status %d state %q", frame.Status, frame.State())
	}
	if p := action(frame, "/prompt/passcode", "passcode", sec.guess("guessed frame passcode", 6, digits)); strings.Contains(p.Body, "AUTH|") {
		t.Fatal("a guessed passcode logged in")
	}
	done := action(frame, "/prompt/passcode", "passcode", passcode())
	authMsg := done.Attr("data-parent-message")
	if !strings.HasPrefix(authMsg, "AUTH|") {
		t.Fatalf("frame: no AUTH answer (state %q)", done.State())
	}
	sec.add("Web SDK AUTH answer", authMsg)
	if user, err := duoweb.VerifyResponse(websdk.IKey, websdk.SKey, akey, authMsg+":"+appHalf); err != nil || user != "alice" {
		t.Fatalf("VerifyResponse: %q %v", user, err)
	}
	forged := "TX|" + base64.StdEncoding.EncodeToString([]byte("alice|"+websdk.IKey+"|9999999999")) + "|" + sec.guess("forged TX signature", 40, "0123456789abcdef")
	page(http.MethodGet, frameURL(forged), nil)

	// The Universal Prompt: request JWT and state, the prompt, duo_code,
	// client assertion, id_token and access token; a bad JWT and a guessed code.
	const redirect = "https://app.example/callback"
	state := sec.guess("Universal Prompt state", 36, alnum)
	signJWT := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS512, c).SignedString([]byte(universal.SKey))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	request := sec.add("Universal request JWT", signJWT(jwt.MapClaims{
		"response_type": "code", "scope": "openid", "exp": now.Add(5 * time.Minute).Unix(), "client_id": universal.IKey,
		"redirect_uri": redirect, "state": state, "duo_uname": "alice", "iss": universal.IKey, "aud": "https://" + host,
		"use_duo_code_attribute": true,
	}))
	authorize := func(request string) *prompttest.Page {
		return page(http.MethodGet, "/oauth/v1/authorize?"+url.Values{"response_type": {"code"}, "client_id": {universal.IKey},
			"request": {request}, "redirect_uri": {redirect}, "scope": {"openid"}}.Encode(), nil)
	}
	if p := authorize(sec.guess("forged request JWT", 120, b64chars)); p.Status != http.StatusBadRequest {
		t.Errorf("authorize with a forged request: %d", p.Status)
	}
	prompt := authorize(request)
	if prompt.State() != "choose" {
		t.Fatalf("authorize: status %d state %q", prompt.Status, prompt.State())
	}
	back := action(prompt, "/prompt/passcode", "passcode", passcode())
	loc, err := url.Parse(back.Header.Get("Location"))
	if back.Status != http.StatusFound || err != nil || loc.Query().Get("state") != state {
		t.Fatalf("after the passcode: %d %q", back.Status, back.Header.Get("Location"))
	}
	duoCode := sec.add("duo_code", loc.Query().Get("duo_code"))
	token2 := func(code string) (int, map[string]any) {
		t.Helper()
		assertion := sec.add("client assertion", signJWT(jwt.MapClaims{"iss": universal.IKey, "sub": universal.IKey,
			"aud": "https://" + host + "/oauth/v1/token", "jti": rand.Text(), "iat": time.Now().Unix(),
			"exp": time.Now().Add(5 * time.Minute).Unix()}))
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
			"client_id": {universal.IKey}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion": {assertion}}
		resp, err := srv.Client.PostForm("https://"+host+"/oauth/v1/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if st, _ := token2(sec.guess("guessed duo_code", 43, b64chars)); st != http.StatusBadRequest {
		t.Errorf("token with a guessed code: %d", st)
	}
	st, tok := token2(duoCode)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, tok)
	}
	sec.add("id_token", fmt.Sprint(tok["id_token"]))
	sec.add("access_token", fmt.Sprint(tok["access_token"]))

	srv.Stop()
	out := srv.Output()
	// The flows above did reach the log, through the routes that carry secrets.
	for _, want := range []string{`"path":"/portal/enroll/[redacted]"`, `"path":"/push/v2/activation/[redacted]"`,
		`"path":"/oauth/v1/token"`, `"path":"/prompt/passcode"`, `"msg":"device activated"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the server log lacks %s", want)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Bytes(); !json.Valid(line) {
			t.Errorf("server output line is not JSON: %.200s", line)
		}
	}
	sec.check("the server's output", out)
	sec.check("the CLI's logs and errors", cliLogs.String())
	events, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	// Events of the flows above were written (allowed and denied logins).
	for _, want := range []string{`"result":"allow"`, `"result":"deny"`, `"username":"alice"`} {
		if !bytes.Contains(events, []byte(want)) {
			t.Errorf("the auth events file lacks %s:\n%s", want, events)
		}
	}
	sec.check("the auth events file", string(events))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(syslogged.String(), `"result":"allow"`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(syslogged.String(), ` assent `) || !strings.Contains(syslogged.String(), `"result":"allow"`) {
		t.Errorf("no auth events reached syslog:\n%s", syslogged.String())
	}
	sec.check("the auth events sent to syslog", syslogged.String())
	t.Logf("looked for %d secrets in %d bytes of server log and %d bytes of CLI logs", len(sec.vals), len(out), cliLogs.Len())
}

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// Rate limits (issue 9, defect 4: 1,000 pushes to one user were accepted
// in 0.55 s) against a real server with the default limits: floods are
// answered with Duo's 429/42901 and a Retry-After once the budget is spent.

// testPublicKey is a device key for activation requests (generated once:
// RSA keys are slow under -race).
var testPublicKey = sync.OnceValues(func() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
})

func testPublicKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := testPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedCall sends a request signed like duo_api_golang's (v2, SHA1).
func (ts *testServer) signedCall(t *testing.T, ikey, skey, method, path string, params url.Values) handResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := duosig.Signer{IKey: ikey, SKey: skey, Host: ts.Host}.NewRequest(ctx, method, path, params)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, ts.Client, req)
}

// unsigned sends an unsigned request (device activation, portal pages).
func (ts *testServer) unsigned(t *testing.T, method, path string, form url.Values) handResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, "https://"+ts.Host+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return roundTrip(t, ts.Client, req)
}

// want429 asserts Duo's rate-limit answer: 429/42901 with Retry-After.
func want429(t *testing.T, what string, r handResponse, retryAfter, detail string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("%s: HTTP %d %s, want 429", what, r.status, r.body)
	}
	env := decodeEnvelope(t, r.body)
	if env.Code != 42901 || env.Message != "Too many requests" || !strings.Contains(env.MessageDetail, detail) ||
		r.header.Get("Retry-After") != retryAfter {
		t.Errorf("%s: %s, Retry-After %q; want 42901 %q, Retry-After %s", what, r.body, r.header.Get("Retry-After"), detail, retryAfter)
	}
}

func wantStatus(t *testing.T, what string, r handResponse, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: HTTP %d %s, want %d", what, r.status, r.body, status)
	}
}

// reasonCount counts an integration's auth-log rows with reason.
func (ts *testServer) reasonCount(t *testing.T, ikey, reason string) int {
	t.Helper()
	n := 0
	for _, l := range ts.AuthLog(t, ikey) {
		if l.Reason == reason {
			n++
		}
	}
	return n
}

func TestRateLimitFloods(t *testing.T) {
	t.Parallel()
	// Lockout off, so that the per-user passcode limit is what refuses.
	// The server's clock moves only when the test says: no refill happens
	// while a flood is sent, however slow the machine.
	clock := testutil.NewClock(time.Now())
	ts := startServer(t, serverOptions{engine: SQLite, now: clock.Now, flags: map[string]string{"lockout_threshold": "0"}})
	ikey, skey := ts.authAPI(t)
	call := func(path string, kv ...string) handResponse {
		t.Helper()
		return ts.signedCall(t, ikey, skey, http.MethodPost, path, form(kv...))
	}
	var secrets []string // must not appear in the warnings

	t.Run("PushesPerUser", func(t *testing.T) {
		phone := ts.ActivatePhone(t, "pushy")
		// Default 5/5m: five pushes, then one a minute.
		for i := range 8 {
			r := call("/auth/v2/auth", "username", "pushy", "factor", "push", "device", "auto", "async", "1")
			if i < 5 {
				wantStatus(t, fmt.Sprintf("push %d", i+1), r, 200)
				continue
			}
			want429(t, fmt.Sprintf("push %d", i+1), r, "60", "too many pushes")
		}
		// A synchronous push is refused at once; so is a legacy v1 push.
		want429(t, "sync push", call("/auth/v2/auth", "username", "pushy", "factor", "push", "device", "auto"), "60", "too many pushes")
		want429(t, "v1 push", call("/rest/v1/auth.json", "user", "pushy", "factor", "push", "async", "1"), "60", "too many pushes")
		if list, err := phone.Pending(testCtx(t)); err != nil || len(list) != 5 {
			t.Errorf("the phone has %d pushes (%v), want the 5 allowed", len(list), err)
		}
		if n := ts.reasonCount(t, ikey, auth.ReasonRateLimited); n != 5 {
			t.Errorf("%d refusals in the auth log, want 5", n)
		}
		ts.ActivatePhone(t, "calm")
		wantStatus(t, "push to another user", call("/auth/v2/auth", "username", "calm", "factor", "push", "device", "auto", "async", "1"), 200)
		// One more push a minute.
		clock.Advance(time.Minute)
		wantStatus(t, "push after a minute", call("/auth/v2/auth", "username", "pushy", "factor", "push", "device", "auto", "async", "1"), 200)
		want429(t, "and another", call("/auth/v2/auth", "username", "pushy", "factor", "push", "device", "auto", "async", "1"), "60", "too many pushes")
	})

	t.Run("PasscodeFailuresPerUser", func(t *testing.T) {
		good := ts.user(t, "guessy", 1)[0]
		secrets = append(secrets, good)
		// Default 10/10m.
		for i := range 10 {
			r := call("/auth/v2/auth", "username", "guessy", "factor", "passcode", "passcode", fmt.Sprintf("%09d", i))
			wantStatus(t, fmt.Sprintf("wrong code %d", i+1), r, 200)
		}
		want429(t, "11th wrong code", call("/auth/v2/auth", "username", "guessy", "factor", "passcode", "passcode", "000000099"), "60", "too many failed passcodes for this user")
		// The right code of a blocked user is refused too (and kept).
		want429(t, "right code", call("/auth/v2/auth", "username", "guessy", "factor", "passcode", "passcode", good), "60", "too many failed passcodes for this user")
		if u := ts.userRecord(t, "guessy"); u.FailedAttempts != 10 || u.Status != store.StatusActive {
			t.Errorf("guessy: %d failed attempts, status %s; want 10, active", u.FailedAttempts, u.Status)
		}
	})

	t.Run("PasscodeFailuresPerIP", func(t *testing.T) {
		var codes []string
		for i := range 4 {
			name := fmt.Sprint("office", i)
			ts.user(t, name, 0)
			c, err := ts.App.Core.IssueBypassCodes(testCtx(t), name, auth.NewBypassCodes{Count: 1, Uses: 0})
			if err != nil {
				t.Fatal(err)
			}
			codes = append(codes, c.Codes[0])
		}
		secrets = append(secrets, codes...)
		// Default 30/10m per end-user address, spread over four users
		// (each under its own limit of 10).
		const ip = "203.0.113.50"
		for i := range 30 {
			r := call("/auth/v2/auth", "username", fmt.Sprint("office", i%4), "factor", "passcode", "passcode", fmt.Sprintf("%09d", 500+i), "ipaddr", ip)
			wantStatus(t, fmt.Sprintf("wrong code %d", i+1), r, 200)
		}
		want429(t, "right code from the same address", call("/auth/v2/auth", "username", "office3", "factor", "passcode", "passcode", codes[3], "ipaddr", ip),
			"20", "too many failed passcodes from this address")
		want429(t, "v1 from the same address", call("/rest/v1/auth.json", "user", "office3", "factor", "passcode", "code", codes[3], "ipaddr", ip),
			"20", "too many failed passcodes from this address")
		for _, other := range [][]string{{"ipaddr", "198.51.100.1"}, nil} {
			kv := append([]string{"username", "office3", "factor", "passcode", "passcode", codes[3]}, other...)
			if r := call("/auth/v2/auth", kv...); r.status != 200 || !strings.Contains(string(r.body), `"allow"`) {
				t.Errorf("right code with %v: HTTP %d %s", other, r.status, r.body)
			}
		}
	})

	t.Run("EnrollmentsPerIntegration", func(t *testing.T) {
		// Default 60/1m per integration.
		for i := range 60 {
			wantStatus(t, fmt.Sprintf("enroll %d", i+1), call("/auth/v2/enroll", "username", fmt.Sprint("new", i)), 200)
		}
		want429(t, "61st enroll", call("/auth/v2/enroll", "username", "new60"), "1", "too many enrollments")
		if _, err := ts.App.Core.User(testCtx(t), "new60"); !auth.IsKind(err, auth.KindNotFound) {
			t.Errorf("the refused enroll created its user (%v)", err)
		}
		ikey2, skey2 := ts.authAPI(t)
		wantStatus(t, "another integration", ts.signedCall(t, ikey2, skey2, http.MethodPost, "/auth/v2/enroll", form("username", "new61")), 200)
	})

	t.Run("ActivationAndPortalGuessing", func(t *testing.T) {
		// Default 10/10m per address, shared by activation codes and
		// portal links.
		pub := url.Values{"pubkey": {testPublicKeyPEM(t)}}
		for i := range 5 {
			wantStatus(t, "wrong activation code", ts.unsigned(t, http.MethodPost, fmt.Sprintf("/push/v2/activation/WRONG%015d", i), pub), 404)
			wantStatus(t, "wrong portal link", ts.unsigned(t, http.MethodGet, fmt.Sprintf("/portal/enroll/wrong-link-%d", i), nil), 404)
		}
		en, err := ts.App.Core.Enroll(testCtx(t), auth.EnrollRequest{Username: "late"})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, strings.TrimPrefix(en.ActivationCode, "duo://")[:20])
		want429(t, "right activation code", ts.unsigned(t, http.MethodPost, "/push/v2/activation/"+en.ActivationCode[len("duo://"):len("duo://")+20], pub),
			"60", "too many wrong activation codes")
		page := ts.unsigned(t, http.MethodGet, "/portal/enroll/another-guess", nil)
		if page.status != http.StatusTooManyRequests || page.header.Get("Retry-After") != "60" ||
			!strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), "Too many attempts. Try again in 1 minute.") {
			t.Errorf("portal guess: HTTP %d, Retry-After %q, %q:\n%s", page.status, page.header.Get("Retry-After"), page.header.Get("Content-Type"), page.body)
		}
	})

	// Each limit hit is one warning per key and period, with the request
	// ID and the key, and no secret.
	warnRE := regexp.MustCompile(`level=WARN msg="rate limit reached".*`)
	lines := warnRE.FindAllString(ts.Logs(), -1)
	perKey := map[string]int{}
	keyRE := regexp.MustCompile(`limit=(\S+) key=(\S+)`)
	for _, l := range lines {
		if !strings.Contains(l, "request_id=") {
			t.Errorf("warning without a request ID: %s", l)
		}
		m := keyRE.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("warning without limit and key: %s", l)
			continue
		}
		perKey[m[1]+" "+m[2]]++
		for _, s := range secrets {
			if strings.Contains(l, s) {
				t.Errorf("a warning holds a secret: %s", l)
			}
		}
	}
	for _, limit := range []string{"rate_limit_pushes_per_user", "rate_limit_passcode_failures_per_user", "rate_limit_passcode_failures_per_ip",
		"rate_limit_enrollments_per_integration", "rate_limit_activation_failures_per_ip"} {
		found := false
		for k, n := range perKey {
			if strings.HasPrefix(k, limit+" ") {
				found = true
				if n != 1 {
					t.Errorf("%d warnings for %s, want 1 per key and period", n, k)
				}
			}
		}
		if !found {
			t.Errorf("no warning for %s in:\n%s", limit, strings.Join(lines, "\n"))
		}
	}
}

// With every limit off, the same floods go through.
func TestRateLimitsOff(t *testing.T) {
	t.Parallel()
	flags := map[string]string{"lockout_threshold": "0"}
	for _, k := range []string{"rate_limit_pushes_per_user", "rate_limit_passcode_failures_per_user", "rate_limit_passcode_failures_per_ip",
		"rate_limit_enrollments_per_integration", "rate_limit_activation_failures_per_ip"} {
		flags[k] = "off"
	}
	ts := startServer(t, serverOptions{engine: SQLite, flags: flags})
	ikey, skey := ts.authAPI(t)
	call := func(path string, kv ...string) handResponse {
		t.Helper()
		return ts.signedCall(t, ikey, skey, http.MethodPost, path, form(kv...))
	}
	ts.ActivatePhone(t, "pushy")
	ts.user(t, "guessy", 1)
	pub := url.Values{"pubkey": {testPublicKeyPEM(t)}}
	for i := range 35 {
		wantStatus(t, "push", call("/auth/v2/auth", "username", "pushy", "factor", "push", "device", "auto", "async", "1"), 200)
		wantStatus(t, "wrong code", call("/auth/v2/auth", "username", "guessy", "factor", "passcode", "passcode", fmt.Sprintf("%09d", i), "ipaddr", "203.0.113.50"), 200)
		wantStatus(t, "wrong activation code", ts.unsigned(t, http.MethodPost, fmt.Sprintf("/push/v2/activation/WRONG%015d", i), pub), 404)
	}
	for i := range 65 {
		wantStatus(t, "enroll", call("/auth/v2/enroll", "username", fmt.Sprint("new", i)), 200)
	}
}

package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	duoapi "github.com/duosecurity/duo_api_golang"
	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/store"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// goClient is duo_api_golang's Auth API client pointed at ts through host
// (which it signs verbatim, port included), trusting ts's local CA
// (test-partners.md §2.1).
func goClient(t *testing.T, ts *testServer, ikey, skey, host string) *authapi.AuthApi {
	t.Helper()
	pool := ts.caPool(t)
	api := duoapi.NewDuoApi(ikey, skey, host, "assent-e2e",
		duoapi.SetTimeout(20*time.Second),
		duoapi.SetTransport(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: pool}
			// Synchronous auth calls use a client without a timeout; bound them here.
			tr.ResponseHeaderTimeout = 20 * time.Second
		}))
	return authapi.NewAuthApi(*api)
}

// stat formats a StatResult for failure messages.
func stat(s duoapi.StatResult) string {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	code := "<nil>"
	if s.Code != nil {
		code = fmt.Sprint(*s.Code)
	}
	return fmt.Sprintf("stat=%q code=%s message=%q detail=%q", s.Stat, code, str(s.Message), str(s.Message_Detail))
}

func wantOK(t *testing.T, what string, s duoapi.StatResult, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if s.Stat != "OK" {
		t.Fatalf("%s: %s", what, stat(s))
	}
}

func wantAuth(t *testing.T, what string, res *authapi.AuthResult, err error, result, status, msg string) {
	t.Helper()
	if res == nil {
		t.Fatalf("%s: %v", what, err)
	}
	wantOK(t, what, res.StatResult, err)
	r := res.Response
	if r.Result != result || r.Status != status || r.Status_Msg != msg {
		t.Errorf("%s: got result=%q status=%q status_msg=%q; want %q %q %q", what, r.Result, r.Status, r.Status_Msg, result, status, msg)
	}
}

func wantPreauth(t *testing.T, what string, res *authapi.PreauthResult, err error, result string) {
	t.Helper()
	if res == nil {
		t.Fatalf("%s: %v", what, err)
	}
	wantOK(t, what, res.StatResult, err)
	if res.Response.Result != result {
		t.Errorf("%s: result %q (status_msg %q), want %q", what, res.Response.Result, res.Response.Status_Msg, result)
	}
}

// logoBytes reads LogoResult's unexported PNG (the client keeps it private).
func logoBytes(res *authapi.LogoResult) []byte {
	f := reflect.ValueOf(res).Elem().FieldByName("png")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return nil
	}
	return f.Elem().Bytes()
}

// TestGoClient runs the core Auth API flow with duo_api_golang against a
// server on SQLite and one on PostgreSQL.
func TestGoClient(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, serverOptions{engine: eng})
			goClientFlow(t, ts)
		})
	}
}

func goClientFlow(t *testing.T, ts *testServer) {
	ikey, skey := ts.authAPI(t)
	codes := ts.user(t, "alice", 3)
	api := goClient(t, ts, ikey, skey, ts.Host)
	now := time.Now().Unix()

	check, err := api.Check()
	wantOK(t, "check", check.StatResult, err)
	if d := check.Response.Time - now; d < -60 || d > 60 {
		t.Errorf("check time %d is %ds from now", check.Response.Time, d)
	}
	ping, err := api.Ping()
	wantOK(t, "ping", ping.StatResult, err)
	if d := ping.Response.Time - now; d < -60 || d > 60 {
		t.Errorf("ping time %d is %ds from now", ping.Response.Time, d)
	}
	logo, err := api.Logo()
	wantOK(t, "logo", logo.StatResult, err)
	if b := logoBytes(logo); !bytes.HasPrefix(b, pngMagic) {
		t.Errorf("logo is not a PNG: % x", b[:min(len(b), 16)])
	}

	pre, err := api.Preauth(authapi.PreauthUsername("alice"))
	wantPreauth(t, "preauth alice", pre, err, "auth")
	if pre.Response.Status_Msg != "Account is active" {
		t.Errorf("preauth alice status_msg %q", pre.Response.Status_Msg)
	}
	pre, err = api.Preauth(authapi.PreauthUsername("nobody"))
	wantPreauth(t, "preauth unknown user", pre, err, "enroll")
	if want := "https://" + ts.Host + "/portal/enroll/"; !strings.HasPrefix(pre.Response.Enroll_Portal_Url, want) ||
		len(pre.Response.Enroll_Portal_Url) != len(want)+32 {
		t.Errorf("enroll_portal_url %q, want %q followed by a 32-character token", pre.Response.Enroll_Portal_Url, want)
	}

	res, err := api.Auth("passcode", authapi.AuthUsername("alice"), authapi.AuthPasscode(codes[0]))
	wantAuth(t, "auth with a bypass code", res, err, "allow", "allow", "Success. Logging you in...")
	res, err = api.Auth("passcode", authapi.AuthUsername("alice"), authapi.AuthPasscode(codes[0]))
	wantAuth(t, "the same single-use code again", res, err, "deny", "deny", "Incorrect passcode. Please try again.")

	res, err = api.Auth("push", authapi.AuthUsername("alice"), authapi.AuthDevice("auto"))
	if err != nil {
		t.Fatalf("auth push: %v", err)
	}
	if res.Stat != "FAIL" || res.Code == nil || *res.Code != 40002 || res.Message == nil || *res.Message != "Invalid request parameters" ||
		res.Message_Detail == nil || *res.Message_Detail != "no capable device" {
		t.Errorf("auth push: %s; want FAIL 40002 Invalid request parameters / no capable device", stat(res.StatResult))
	}

	// The IP address works as the host too: Go accepts the IP SAN and signs "127.0.0.1:PORT".
	ipAPI := goClient(t, ts, ikey, skey, ts.IPHost)
	check, err = ipAPI.Check()
	wantOK(t, "check via 127.0.0.1", check.StatResult, err)
	res, err = ipAPI.Auth("passcode", authapi.AuthUsername("alice"), authapi.AuthPasscode(codes[1]))
	wantAuth(t, "auth via 127.0.0.1", res, err, "allow", "allow", "Success. Logging you in...")

	// Bypass status lets any passcode in.
	ts.user(t, "bypassed", 0)
	ts.setStatus(t, "bypassed", store.StatusBypass)
	pre, err = api.Preauth(authapi.PreauthUsername("bypassed"))
	wantPreauth(t, "preauth bypass user", pre, err, "allow")
	res, err = api.Auth("passcode", authapi.AuthUsername("bypassed"), authapi.AuthPasscode("123456"))
	wantAuth(t, "auth bypass user", res, err, "allow", "bypass", "Allowing user in bypass mode")

	// A disabled user is refused even with a valid code.
	disCodes := ts.user(t, "disabled-user", 1)
	ts.setStatus(t, "disabled-user", store.StatusDisabled)
	pre, err = api.Preauth(authapi.PreauthUsername("disabled-user"))
	wantPreauth(t, "preauth disabled user", pre, err, "deny")
	res, err = api.Auth("passcode", authapi.AuthUsername("disabled-user"), authapi.AuthPasscode(disCodes[0]))
	wantAuth(t, "auth disabled user", res, err, "deny", "deny", "Your account is disabled")

	// Lockout after the default threshold of 10 consecutive failures.
	lockCodes := ts.user(t, "locky", 1)
	for i := 1; i <= 10; i++ {
		res, err = api.Auth("passcode", authapi.AuthUsername("locky"), authapi.AuthPasscode("12345"))
		wantAuth(t, fmt.Sprintf("wrong passcode #%d", i), res, err, "deny", "deny", "Incorrect passcode. Please try again.")
		if i == 9 {
			if u := ts.userRecord(t, "locky"); u.Status != store.StatusActive || u.FailedAttempts != 9 {
				t.Errorf("after 9 failures: status %q, failed attempts %d", u.Status, u.FailedAttempts)
			}
		}
	}
	if u := ts.userRecord(t, "locky"); u.Status != store.StatusLockedOut || u.FailedAttempts != 10 || u.LockoutReason == "" {
		t.Errorf("after 10 failures: status %q, failed attempts %d, reason %q; want locked out", u.Status, u.FailedAttempts, u.LockoutReason)
	}
	res, err = api.Auth("passcode", authapi.AuthUsername("locky"), authapi.AuthPasscode(lockCodes[0]))
	if res == nil {
		t.Fatalf("auth locked-out user: %v", err)
	}
	wantOK(t, "auth locked-out user", res.StatResult, err)
	if res.Response.Result != "deny" || res.Response.Status != "locked_out" {
		t.Errorf("locked-out user with a valid code: result %q status %q (%q), want deny locked_out",
			res.Response.Result, res.Response.Status, res.Response.Status_Msg)
	}
	pre, err = api.Preauth(authapi.PreauthUsername("locky"))
	wantPreauth(t, "preauth locked-out user", pre, err, "deny")

	// Every decision is in the auth log.
	rows, err := ts.App.Store.ListAuthLog(testCtx(t), store.AuthLogFilter{IKey: ikey})
	if err != nil {
		t.Fatalf("ListAuthLog: %v", err)
	}
	type key struct{ user, result, reason string }
	got := map[key]int{}
	for _, r := range rows {
		got[key{r.Username, r.Result, r.Reason}]++
		if r.TxID == "" || r.Time.IsZero() || r.IKey != ikey {
			t.Errorf("incomplete auth-log row %+v", r)
		}
	}
	for k, n := range map[key]int{
		{"alice", "allow", "valid_passcode"}:       2,
		{"alice", "deny", "invalid_passcode"}:      1,
		{"nobody", "deny", "user_not_enrolled"}:    1,
		{"bypassed", "allow", "bypass_user"}:       2, // preauth + auth
		{"disabled-user", "deny", "user_disabled"}: 2,
		{"locky", "deny", "invalid_passcode"}:      10,
		{"locky", "deny", "locked_out"}:            2,
	} {
		if got[k] != n {
			t.Errorf("auth log has %d rows %+v, want %d (all rows: %v)", got[k], k, n, got)
		}
	}
	if len(rows) != 20 {
		t.Errorf("auth log has %d rows, want 20: %v", len(rows), got)
	}
}

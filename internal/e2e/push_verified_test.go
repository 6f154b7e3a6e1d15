package e2e

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

var statusCodeRE = regexp.MustCompile(`verification code ([0-9]{3})`)

// TestVerifiedPushBinary runs the assent binary with an integration whose
// Verified Push is on (`assent integration create --verified-push on`):
// duo_api_golang starts asynchronous pushes and reads the code from
// auth_status, and `assent device` answers them as a phone would — the
// right code → allow, a wrong one → deny, "This wasn't me" (--fraud) →
// Duo's fraud status, a warning in the server log and user_marked_fraud
// in the auth log.
func TestVerifiedPushBinary(t *testing.T) {
	t.Parallel()
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{})
	dd := []string{"--data-dir", srv.DataDir}
	var in struct {
		IKey         string `json:"integration_key"`
		SKey         string `json:"secret_key"`
		VerifiedPush int    `json:"verified_push"`
	}
	r := mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "Verified VPN",
		"--verified-push", "on", "--json"}, dd...)...)
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || in.IKey == "" || in.VerifiedPush != 3 {
		t.Fatalf("integration create --json: %v\n%s", err, r.stdout)
	}
	var en struct {
		ActivationCode string `json:"activation_code"`
	}
	r = mustCLI(t, bin, append([]string{"user", "enroll", "vera", "--json"}, dd...)...)
	if err := json.Unmarshal([]byte(r.stdout), &en); err != nil || en.ActivationCode == "" {
		t.Fatalf("user enroll --json: %v\n%s", err, r.stdout)
	}
	ctx := testCtx(t)
	phone, err := device.Activate(ctx, en.ActivationCode, device.ActivateOptions{CAFile: srv.CAFile, Name: "vera's phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	devFile := filepath.Join(t.TempDir(), "vera.device")
	if err := phone.Save(devFile); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: &assenttest.Server{Host: srv.Host, CAFile: srv.CAFile, Client: &http.Client{
		Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testutil.CAPool(t, srv.CAFile)}}}}}
	api := goClient(t, ts, in.IKey, in.SKey, srv.Host)

	wrong := func(c string) string { return string('0'+(c[0]-'0'+1)%10) + c[1:] }
	for _, tc := range []struct {
		name       string
		args       func(code string) []string
		wantExit   int
		wantOut    string
		wantResult string
		wantStatus string
	}{
		{"right code", func(c string) []string { return []string{"approve", "--code", c} }, 0, "Approved", "allow", "allow"},
		{"wrong code", func(c string) []string { return []string{"approve", "--code", wrong(c)} }, 1, "wrong or missing verification code", "deny", "deny"},
		{"no code", func(string) []string { return []string{"approve"} }, 1, "wrong or missing verification code", "deny", "deny"},
		{"fraud", func(string) []string { return []string{"deny", "--fraud"} }, 0, "Reported as fraud", "deny", "fraud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := api.Auth("push", authapi.AuthUsername("vera"), authapi.AuthDevice("auto"), authapi.AuthAsync())
			if res == nil {
				t.Fatalf("async push: %v", err)
			}
			wantOK(t, "async push", res.StatResult, err)
			txid := res.Response.Txid
			// The first auth_status tells the code at once.
			st, err := api.AuthStatus(txid)
			if st == nil {
				t.Fatalf("auth_status: %v", err)
			}
			wantOK(t, "auth_status", st.StatResult, err)
			m := statusCodeRE.FindStringSubmatch(st.Response.Status_Msg)
			if st.Response.Result != "waiting" || m == nil {
				t.Fatalf("first auth_status %+v: want waiting with the code in status_msg", st.Response)
			}
			// The phone is told a code is needed, not the code.
			list, err := assenttest.WaitPush(ctx, phone)
			if err != nil || list.StepUpCodeInfo == nil || list.StepUpCodeInfo.NumDigits != 3 {
				t.Fatalf("pending push %+v %v: want step_up_code_info of 3 digits", list, err)
			}
			out := runCLI(t, bin, append([]string{"device", "--file", devFile}, tc.args(m[1])...)...)
			if out.code != tc.wantExit || !strings.Contains(out.stdout+out.stderr, tc.wantOut) {
				t.Errorf("assent device %v: exit %d\n%s%s", tc.args(m[1]), out.code, out.stdout, out.stderr)
			}
			st, err = api.AuthStatus(txid)
			if st == nil {
				t.Fatalf("auth_status: %v", err)
			}
			if st.Response.Result != tc.wantResult || st.Response.Status != tc.wantStatus {
				t.Errorf("auth_status after the answer: %+v, want %s/%s", st.Response, tc.wantResult, tc.wantStatus)
			}
		})
	}
	// Three denials in a row (push_cooldown_after's default): the next
	// push is refused for the cool-down with Duo's rate-limit error.
	// (duo_api_golang retries 429s, so this one is signed by hand.)
	hr := ts.signedCall(t, in.IKey, in.SKey, http.MethodPost, "/auth/v2/auth",
		url.Values{"username": {"vera"}, "factor": {"push"}, "device": {"auto"}, "async": {"1"}})
	if env := decodeEnvelope(t, hr.body); hr.status != http.StatusTooManyRequests || env.Code != 42901 ||
		!strings.Contains(env.MessageDetail, "push is paused for this user") || hr.header.Get("Retry-After") == "" {
		t.Errorf("push in the cool-down: HTTP %d %s, want 429/42901 with the cool-down", hr.status, hr.body)
	}

	// duo_unix 2.x: preauth announces the Verified Push (txid,
	// verified_push1, the code in the prompt text).
	hr = ts.signedCall(t, in.IKey, in.SKey, http.MethodPost, "/auth/v2/preauth",
		url.Values{"username": {"vera"}, "text_prompt": {"1"}, "client_supports_verified_push": {"1"}})
	var pre struct {
		TxID   string `json:"txid"`
		Prompt struct {
			Text    string            `json:"text"`
			Factors map[string]string `json:"factors"`
		} `json:"prompt"`
	}
	if env := decodeEnvelope(t, hr.body); json.Unmarshal(env.Response, &pre) != nil || !txidRE.MatchString(pre.TxID) ||
		pre.Prompt.Factors["1"] != "verified_push1" || !statusCodeRE.MatchString(pre.Prompt.Text) {
		t.Errorf("preauth with client_supports_verified_push: %s", hr.body)
	}
	// The same from a policy (`assent policy set verified_push=true`) on an
	// integration whose own Verified Push is off.
	var plain struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	r = mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "Plain VPN", "--json"}, dd...)...)
	if err := json.Unmarshal([]byte(r.stdout), &plain); err != nil || plain.IKey == "" {
		t.Fatalf("integration create --json: %v\n%s", err, r.stdout)
	}
	preauthVerified := func() (string, bool) {
		hr := ts.signedCall(t, plain.IKey, plain.SKey, http.MethodPost, "/auth/v2/preauth",
			url.Values{"username": {"vera"}, "text_prompt": {"1"}, "client_supports_verified_push": {"1"}})
		pre.TxID, pre.Prompt.Factors = "", nil
		env := decodeEnvelope(t, hr.body)
		return string(hr.body), json.Unmarshal(env.Response, &pre) == nil && txidRE.MatchString(pre.TxID) &&
			pre.Prompt.Factors["1"] == "verified_push1" && statusCodeRE.MatchString(pre.Prompt.Text)
	}
	if body, verified := preauthVerified(); verified {
		t.Errorf("preauth without the policy announced a Verified Push: %s", body)
	}
	mustCLI(t, bin, append([]string{"policy", "set", "--integration", plain.IKey, "verified_push=true"}, dd...)...)
	// The running server sees the change once it notices the new version.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		body, verified := preauthVerified()
		if verified {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("preauth under a verified_push policy: %s, want txid, verified_push1 and the code", body)
			break
		}
	}
	if log := srv.Output(); !strings.Contains(log, "push reported as fraud by the user") {
		t.Errorf("no warning about the fraud report in the server log:\n%s", log)
	}
	// The auth log, as administrators read it from the database.
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(srv.DataDir, "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.ListAuthLog(ctx, store.AuthLogFilter{IKey: in.IKey})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, l := range rows {
		reasons[l.Result+"/"+l.Reason]++
	}
	want := map[string]int{"allow/" + auth.ReasonUserApproved: 1, "deny/" + auth.ReasonInvalidVerificationCode: 2,
		"deny/" + auth.ReasonUserMarkedFraud: 1}
	for k, n := range want {
		if reasons[k] != n {
			t.Errorf("auth log: %d rows %s, want %d (all: %v)", reasons[k], k, n, reasons)
		}
	}
}

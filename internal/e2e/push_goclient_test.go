package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/assenttest"

	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/duosig"
)

var (
	activationCodeRE = regexp.MustCompile(`^duo://([A-Za-z0-9]{20})-([A-Za-z0-9+/]+)$`)
	userIDRE         = regexp.MustCompile(`^DU[0-9A-Z]{18}$`)
	txidRE           = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// pushTimeout is what the push tests configure (the minimum), so the
// unanswered push costs 5 s.
const pushTimeout = 5 * time.Second

// TestPushGoClient enrolls a user with duo_api_golang, activates a phone
// through the device API and runs pushes (approved, denied, unanswered,
// asynchronous) and HOTP passcodes, on SQLite and on PostgreSQL.
func TestPushGoClient(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			// The flow denies a push and leaves two unanswered in a row,
			// which would start the push cool-down (push_verified_test.go
			// tests it): off here.
			ts := startServer(t, serverOptions{engine: eng, flags: map[string]string{"push_timeout": pushTimeout.String(),
				"push_cooldown_after": "0"}})
			pushGoClientFlow(t, ts)
		})
	}
}

func pushGoClientFlow(t *testing.T, ts *testServer) {
	const appName = "Push e2e VPN"
	ikey, skey := ts.pushIntegration(t, appName)
	api := goClient(t, ts, ikey, skey, ts.Host)
	ctx := testCtx(t)

	// Enroll: activation code, QR code, expiration, user.
	before := time.Now()
	en, err := api.Enroll(authapi.EnrollUsername("carol"))
	if en == nil {
		t.Fatalf("enroll: %v", err)
	}
	wantOK(t, "enroll", en.StatResult, err)
	e := en.Response
	m := activationCodeRE.FindStringSubmatch(e.Activation_Code)
	if m == nil {
		t.Fatalf("activation_code %q is not duo://<20 alphanumerics>-<base64 host>", e.Activation_Code)
	}
	if want := base64.RawStdEncoding.EncodeToString([]byte(ts.Host)); m[2] != want {
		t.Errorf("activation_code host part %q, want %q (base64 of %q without padding)", m[2], want, ts.Host)
	}
	if want := "https://" + ts.Host + "/frame/qr?value=" + url.QueryEscape(e.Activation_Code); e.Activation_Barcode != want {
		t.Errorf("activation_barcode %q, want %q", e.Activation_Barcode, want)
	}
	if lo, hi := before.Add(24*time.Hour).Unix()-2, time.Now().Add(24*time.Hour).Unix()+2; e.Expiration < lo || e.Expiration > hi {
		t.Errorf("expiration %d is not 24 h from now (%d..%d)", e.Expiration, lo, hi)
	}
	if !userIDRE.MatchString(e.User_Id) || e.Username != "carol" {
		t.Errorf("user_id %q username %q, want DU+18 and carol", e.User_Id, e.Username)
	}
	if u := ts.userRecord(t, "carol"); u.ID != e.User_Id {
		t.Errorf("enroll created user %s, answered user_id %s", u.ID, e.User_Id)
	}
	resp, err := ts.Client.Get(e.Activation_Barcode)
	if err != nil {
		t.Fatalf("GET activation_barcode: %v", err)
	}
	png, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(png, pngMagic) {
		t.Errorf("GET activation_barcode: HTTP %d, Content-Type %q, % x (%v); want a PNG",
			resp.StatusCode, resp.Header.Get("Content-Type"), png[:min(len(png), 8)], err)
	}

	st, err := api.EnrollStatus(e.User_Id, e.Activation_Code)
	if st == nil {
		t.Fatalf("enroll_status: %v", err)
	}
	wantOK(t, "enroll_status before activation", st.StatResult, err)
	if st.Response != "waiting" {
		t.Errorf("enroll_status before activation: %q, want waiting", st.Response)
	}

	// The phone scans the code.
	phone, err := device.Activate(ctx, e.Activation_Code, device.ActivateOptions{CAFile: ts.CAFile, Name: "Carol's phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	if phone.Host != ts.Host || len(phone.HOTPSecret) != 32 {
		t.Errorf("activated device: host %q, hotp_secret %q", phone.Host, phone.HOTPSecret)
	}
	st, err = api.EnrollStatus(e.User_Id, e.Activation_Code)
	if st == nil {
		t.Fatalf("enroll_status: %v", err)
	}
	wantOK(t, "enroll_status after activation", st.StatResult, err)
	if st.Response != "success" {
		t.Errorf("enroll_status after activation: %q, want success", st.Response)
	}

	// Preauth lists the phone.
	pre, err := api.Preauth(authapi.PreauthUsername("carol"))
	wantPreauth(t, "preauth carol", pre, err, "auth")
	if d := pre.Response.Devices; len(d) != 1 || d[0].Device != phone.PKey || d[0].Type != "phone" || !slices.Contains(d[0].Capabilities, "push") {
		t.Errorf("preauth devices %+v, want one phone %s capable of push", d, phone.PKey)
	}
	pushTextPrompt(t, ts, ikey, skey)

	// A synchronous push, approved on the phone.
	const pushinfo = "from=e2e%20test&realm=example.com"
	ch := assenttest.AnswerNext(ctx, phone, true, 0)
	res, err := api.Auth("push", authapi.AuthUsername("carol"), authapi.AuthDevice("auto"),
		authapi.AuthType("VPN login"), authapi.AuthPushinfo(pushinfo))
	wantAuth(t, "approved push", res, err, "allow", "allow", "Success. Logging you in...")
	a := assenttest.Received(t, ch)
	tx := a.Tx
	for label, want := range map[string]string{
		"Username": "carol", "Application": appName, "Organization": "Assent",
		"from": "e2e test", "realm": "example.com",
	} {
		if got := tx.Attr(label); got != want {
			t.Errorf("push attribute %q = %q, want %q (attributes %q)", label, got, want, tx.Attributes)
		}
	}
	if tx.Type != "VPN login" || tx.Summary != "VPN login request for "+appName || !txidRE.MatchString(tx.TxID) {
		t.Errorf("push type %q summary %q urgid %q", tx.Type, tx.Summary, tx.TxID)
	}
	if d := tx.Expiration - tx.Time; d != int64(pushTimeout/time.Second) {
		t.Errorf("push expires %d s after it was sent, want %v", d, pushTimeout)
	}
	noPending(t, phone)

	// Denied.
	ch = assenttest.AnswerNext(ctx, phone, false, 0)
	res, err = api.Auth("push", authapi.AuthUsername("carol"), authapi.AuthDevice("auto"))
	wantAuth(t, "denied push", res, err, "deny", "deny", "Login request denied.")
	if a := assenttest.Received(t, ch); a.Tx.Type != "Login" || a.Tx.Attr("Username") != "carol" {
		t.Errorf("default push type %q, username %q", a.Tx.Type, a.Tx.Attr("Username"))
	}
	noPending(t, phone)

	// Unanswered: a synchronous push and, meanwhile, an asynchronous one
	// whose auth_status long-polls until it times out too.
	res, err = api.Auth("push", authapi.AuthUsername("carol"), authapi.AuthAsync())
	if res == nil {
		t.Fatalf("async push: %v", err)
	}
	wantOK(t, "async push", res.StatResult, err)
	lateTx := res.Response.Txid
	type statusDone struct {
		res     *authapi.AuthStatusResult
		err     error
		elapsed time.Duration
	}
	lateCh := make(chan statusDone, 1)
	go func() {
		t0 := time.Now()
		r, err := api.AuthStatus(lateTx)
		lateCh <- statusDone{r, err, time.Since(t0)}
	}()
	t0 := time.Now()
	res, err = api.Auth("push", authapi.AuthUsername("carol"), authapi.AuthDevice("auto"))
	elapsed := time.Since(t0)
	wantAuth(t, "unanswered push", res, err, "deny", "timeout", "Login timed out.")
	if elapsed < pushTimeout-time.Second || elapsed > pushTimeout+4*time.Second {
		t.Errorf("the unanswered push returned after %v, want about %v", elapsed, pushTimeout)
	}
	select {
	case d := <-lateCh:
		if d.res == nil {
			t.Fatalf("auth_status of the unanswered async push: %v", d.err)
		}
		wantOK(t, "auth_status of the unanswered async push", d.res.StatResult, d.err)
		if r := d.res.Response; r.Result != "deny" || r.Status != "timeout" || r.Status_Msg != "Login timed out." {
			t.Errorf("auth_status of the unanswered async push: %+v, want deny timeout", r)
		}
		if d.elapsed < pushTimeout-2*time.Second {
			t.Errorf("auth_status answered after %v, before the push timed out", d.elapsed)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("auth_status of the unanswered async push did not return")
	}
	noPending(t, phone)

	// Asynchronous, answered while auth_status long-polls.
	res, err = api.Auth("push", authapi.AuthUsername("carol"), authapi.AuthDevice("auto"), authapi.AuthAsync())
	if res == nil {
		t.Fatalf("async push: %v", err)
	}
	wantOK(t, "async push", res.StatResult, err)
	txid := res.Response.Txid
	if !txidRE.MatchString(txid) || res.Response.Result != "" {
		t.Fatalf("async push answered %+v, want only a txid", res.Response)
	}
	pending, err := assenttest.WaitPush(ctx, phone)
	if err != nil {
		t.Fatal(err)
	}
	if pending.TxID != txid {
		t.Errorf("the phone shows push %s, auth answered txid %s", pending.TxID, txid)
	}
	ch = assenttest.AnswerNext(ctx, phone, true, 300*time.Millisecond)
	t0 = time.Now()
	sr, err := api.AuthStatus(txid)
	elapsed = time.Since(t0)
	if sr == nil {
		t.Fatalf("auth_status: %v", err)
	}
	wantOK(t, "auth_status while pushed", sr.StatResult, err)
	a = assenttest.Received(t, ch)
	if r := sr.Response; r.Result != "allow" || r.Status != "allow" || r.Status_Msg != "Success. Logging you in..." {
		t.Errorf("auth_status polled before the answer: %+v, want allow (the call long-polls)", r)
	}
	if elapsed < 250*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("auth_status returned after %v; want it held until the answer ~300 ms later", elapsed)
	}
	if lag := time.Since(a.At); lag > 3*time.Second {
		t.Errorf("auth_status returned %v after the answer", lag)
	}
	t0 = time.Now()
	sr, err = api.AuthStatus(txid)
	if sr == nil {
		t.Fatalf("auth_status: %v", err)
	}
	wantOK(t, "auth_status after the answer", sr.StatResult, err)
	if r := sr.Response; r.Result != "allow" || r.Status != "allow" || time.Since(t0) > 3*time.Second {
		t.Errorf("auth_status of a decided push: %+v after %v, want allow at once", r, time.Since(t0))
	}

	// HOTP passcodes from the phone: once only.
	code, err := phone.Passcode()
	if err != nil {
		t.Fatal(err)
	}
	res, err = api.Auth("passcode", authapi.AuthUsername("carol"), authapi.AuthPasscode(code))
	wantAuth(t, "HOTP passcode", res, err, "allow", "allow", "Success. Logging you in...")
	res, err = api.Auth("passcode", authapi.AuthUsername("carol"), authapi.AuthPasscode(code))
	wantAuth(t, "the same HOTP passcode again", res, err, "deny", "deny", "Incorrect passcode. Please try again.")

	// The auth log.
	got, rows := ts.pushLog(t, ikey)
	want := map[pushLogKey]int{
		{"duo_push", "allow", "user_approved"}:             2,
		{"duo_push", "deny", "user_denied"}:                1,
		{"duo_push", "deny", "no_response"}:                2,
		{"duo_mobile_passcode", "allow", "valid_passcode"}: 1,
		{"passcode", "deny", "invalid_passcode"}:           1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("auth log %v, want %v", got, want)
	}
	for _, r := range rows {
		if r.Username != "carol" || r.UserID != e.User_Id || r.TxID == "" || r.Time.IsZero() {
			t.Errorf("auth-log row %+v", r)
		}
		if (r.Factor == "duo_push" || r.Factor == "duo_mobile_passcode") && r.Device != phone.PKey {
			t.Errorf("auth-log row %+v does not name device %s", r, phone.PKey)
		}
	}
}

// pushTextPrompt asks preauth for duo_unix's text prompt, which the Go
// client cannot send, with a hand-built request.
func pushTextPrompt(t *testing.T, ts *testServer, ikey, skey string) {
	t.Helper()
	params := form("text_prompt", "1", "username", "carol")
	r := ts.sendHand(t, handRequest{
		method: http.MethodPost, target: "/auth/v2/preauth", body: []byte(params.Encode()),
		ctype: "application/x-www-form-urlencoded", params: params,
		sig: signing{ikey: ikey, skey: skey, version: 2, digest: duosig.SHA512, host: ts.Host,
			dateHeader: "Date", date: time.Now().UTC().Format(time.RFC1123Z)},
	})
	env := decodeEnvelope(t, r.body)
	if r.status != http.StatusOK || env.Stat != "OK" {
		t.Fatalf("preauth text_prompt: HTTP %d %s", r.status, r.body)
	}
	var pre struct {
		Result string `json:"result"`
		Prompt struct {
			Text    string            `json:"text"`
			Factors map[string]string `json:"factors"`
		} `json:"prompt"`
	}
	if err := json.Unmarshal(env.Response, &pre); err != nil {
		t.Fatalf("preauth text_prompt: %v: %s", err, r.body)
	}
	if want := map[string]string{"1": "push1", "default": "push1"}; pre.Result != "auth" || !maps.Equal(pre.Prompt.Factors, want) {
		t.Errorf("preauth text_prompt: result %q factors %v, want auth %v", pre.Result, pre.Prompt.Factors, want)
	}
	if !strings.Contains(pre.Prompt.Text, "1. Duo Push to Carol's phone") || !strings.HasSuffix(pre.Prompt.Text, "Passcode or option (1-1): ") {
		t.Errorf("preauth prompt text %q", pre.Prompt.Text)
	}
}

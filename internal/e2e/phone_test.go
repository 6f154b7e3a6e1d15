package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/sipptest"
	"github.com/assent-auth/assent/pkg/duoweb"

	"github.com/duosecurity/duo_api_golang/authapi"
)

// TestPhoneCallSIPp places phone-callback calls (factor=phone) through a
// SIP trunk played by SIPp, driven by Debian's python3-duo-client: the
// phone answers and presses 1 (allow), presses 2 (deny), lets it ring
// (the login times out); then async=1 with auth_status reports "calling",
// "answered" and the result. The auth log and the telephony log record
// each call, the number masked.
func TestPhoneCallSIPp(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	phone := sipptest.New(t)
	ts := startServer(t, serverOptions{engine: SQLite, flags: map[string]string{
		"sip_listen": "127.0.0.1:0", "sip_outbound_proxy": phone.Addr(),
		"sip_ring_timeout": "3s", "sip_answer_timeout": "10s", "sip_max_call_duration": "20s",
		"rate_limit_calls_per_user": "10/1h",
	}})
	ikey, skey := ts.authAPI(t)
	ts.user(t, "calluser", 0)
	if _, err := ts.App.Core.AddNumberPhone(testCtx(t), "calluser", "+1 555 555 0142", "", ""); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_phone.py"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DUO_IKEY=" + ikey, "DUO_SKEY=" + skey, "DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port),
		"DUO_CA=" + ts.CAFile, "DUO_USERNAME=calluser"}
	call := func(args ...string) pyCall {
		var c pyCall
		runJSON(t, 90*time.Second, &c, py, append([]string{script}, args...), env, "")
		return c
	}

	var pre struct {
		Result  string `json:"result"`
		Devices []struct {
			Number       string   `json:"number"`
			Capabilities []string `json:"capabilities"`
		} `json:"devices"`
	}
	call("preauth").decode(t, "preauth", &pre)
	if pre.Result != "auth" || len(pre.Devices) != 1 || pre.Devices[0].Number != "XXX-XXX-0142" ||
		strings.Join(pre.Devices[0].Capabilities, ",") != "phone" {
		t.Fatalf("preauth: %+v", pre)
	}

	for _, tc := range []struct {
		name   string
		answer sipptest.Answer
		want   pyAuth
	}{
		{"key 1 approves", sipptest.Answer{Key: "1"}, pyAuth{"allow", "allow", "Success. Logging you in..."}},
		{"key 2 denies", sipptest.Answer{Key: "2"}, pyAuth{"deny", "deny", "Login request denied."}},
		{"no answer times out", sipptest.Answer{}, pyAuth{"deny", "timeout", "Login timed out."}},
	} {
		wait := phone.Expect(t, tc.answer)
		var a pyAuth
		call("phone").decode(t, tc.name, &a)
		if a != tc.want {
			t.Fatalf("%s: %+v, want %+v", tc.name, a, tc.want)
		}
		if dialled := wait().Number; dialled != "+15555550142" {
			t.Fatalf("%s: the trunk was asked for %q", tc.name, dialled)
		}
	}

	// The trunk refuses the call (503): an error, never an allow.
	wait := phone.Expect(t, sipptest.Answer{Refuse: 503})
	if c := call("phone"); c.Error == "" || !strings.Contains(c.Error, "500") {
		t.Fatalf("a refused call: %+v, want a 500 error", c)
	}
	wait()

	// async=1: the first auth_status answers at once ("Dialing"; the phone
	// rings a while), the next when the phone answered (it holds the key
	// a while, the prompt playing), the last with the decision.
	wait = phone.Expect(t, sipptest.Answer{Key: "1", Ring: 1500 * time.Millisecond, Hold: 2 * time.Second})
	type pyStatus struct {
		Waiting   bool   `json:"waiting"`
		Success   bool   `json:"success"`
		Status    string `json:"status"`
		StatusMsg string `json:"status_msg"`
	}
	var statuses []pyStatus
	call("async").decode(t, "async auth_status", &statuses)
	wait()
	want := []pyStatus{
		{true, false, "calling", "Dialing XXX-XXX-0142..."},
		{true, false, "answered", "Answered. Press '1' on your phone to log in."},
		{false, true, "allow", "Success. Logging you in..."},
	}
	if b, _ := json.Marshal(statuses); len(statuses) != len(want) || statuses[0] != want[0] || statuses[1] != want[1] || statuses[2] != want[2] {
		t.Fatalf("auth_status answers: %s", b)
	}

	// Five calls in the auth log and the telephony log; the number is
	// nowhere in full.
	rows, err := ts.App.Core.TelephonyLog(testCtx(t), time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.Type != "phone" || r.Phone != "XXX-XXX-0142" || r.Provider != "sip" || r.Context != "authentication" {
			t.Fatalf("telephony log row %+v", r)
		}
		got = append(got, r.Status)
	}
	slices.Sort(got) // rows of one second come in any order
	if strings.Join(got, ",") != "approved,approved,denied,failed,no_answer" {
		t.Fatalf("telephony log statuses %v", got)
	}
	var reasons []string
	for _, l := range ts.AuthLog(t, ikey) {
		if l.Factor != "phone_call" {
			t.Fatalf("auth log row %+v", l)
		}
		reasons = append(reasons, l.Reason)
	}
	slices.Sort(reasons)
	if strings.Join(reasons, ",") != "call_failed,no_response,user_approved,user_approved,user_denied" {
		t.Fatalf("auth log reasons %v", reasons)
	}
	if strings.Contains(ts.Logs(), "5550142") {
		t.Fatal("the server logged the number in full")
	}
}

// testBinaryPhoneCall runs the assent binary with the sip_* keys in its
// configuration file: the server calls through SIPp for an Auth API
// factor=phone (python3-duo-client), and `assent telephony test-call`,
// run next to the server, places a call of its own; `telephony log`
// shows both, numbers masked.
func testBinaryPhoneCall(t *testing.T, bin string) {
	py := testutil.Python3(t)
	phone := sipptest.New(t)
	dataDir := t.TempDir()
	// An administrator's recording: half a second of 440 Hz, 8 kHz mono
	// 16-bit PCM.
	prompt := filepath.Join(t.TempDir(), "prompt.wav")
	if err := os.WriteFile(prompt, toneWAV(440, 4000), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "assent.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("data_dir = %q\nsip_listen = \"127.0.0.1:0\"\n"+
		"sip_outbound_proxy = %q\nsip_ring_timeout = \"5s\"\nsip_max_call_duration = \"20s\"\nsip_prompt_file = %q\nsip_username = \"assent\"\n",
		dataDir, phone.Addr(), prompt)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Debug logs too: the number must not be in them (sipgo logs request
	// lines at debug level; the SIP logger drops them).
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{DataDir: dataDir, Args: []string{"--config", conf, "--log-level", "debug"}})
	cli := func(args ...string) cliResult { t.Helper(); return mustCLI(t, bin, append(args, "--config", conf)...) }
	var in map[string]any
	if err := json.Unmarshal([]byte(cli("integration", "create", "--type", "authapi", "--name", "calls", "--json").stdout), &in); err != nil {
		t.Fatal(err)
	}
	cli("user", "create", "dora")
	if r := cli("telephony", "add-phone", "dora", "+1 555 555 0166"); !strings.Contains(r.stdout, "XXX-XXX-0166") {
		t.Fatalf("add-phone: %s", r.stdout)
	}

	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_phone.py"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DUO_IKEY=" + in["integration_key"].(string), "DUO_SKEY=" + in["secret_key"].(string),
		"DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(srv.Port), "DUO_CA=" + srv.CAFile, "DUO_USERNAME=dora"}
	wait := phone.Expect(t, sipptest.Answer{Key: "1"})
	var c pyCall
	runJSON(t, 90*time.Second, &c, py, []string{script, "phone"}, env, "")
	var a pyAuth
	c.decode(t, "factor=phone", &a)
	if a != (pyAuth{"allow", "allow", "Success. Logging you in..."}) {
		t.Fatalf("factor=phone: %+v", a)
	}
	if dialled := wait().Number; dialled != "+15555550166" {
		t.Fatalf("the trunk was asked for %q", dialled)
	}

	// The trunk's password stored sealed (no sip_password_file): the
	// trunk challenges test-call's INVITE and checks the digest.
	pw := filepath.Join(t.TempDir(), "sip-password")
	if err := os.WriteFile(pw, []byte("trunk-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli("telephony", "credential", "set", "sip", "--file", pw)
	// The number is behind a PBX: the extension's digits go as SIP INFO
	// (the attendant takes no telephone-event) after the default delays.
	wait = phone.Expect(t, sipptest.Answer{Key: "2", User: "assent", Password: "trunk-s3cret", Extension: "7#"})
	r := cli("telephony", "test-call", "+15555550199", "--extension", "7#")
	if !strings.Contains(r.stdout, "Called XXX-XXX-0199 through sip: denied.") {
		t.Fatalf("test-call: %s", r.stdout)
	}
	if c := wait(); c.Number != "+15555550199" || !c.DigestOK || c.Extension != "7#" {
		t.Fatalf("test-call: the trunk saw %+v", c)
	}
	if out := srv.Output(); strings.Contains(out, "5550166") || !strings.Contains(out, "XXX-XXX-0166") || strings.Contains(out, "trunk-s3cret") {
		t.Fatalf("the server's log has the number in full, or not masked:\n%s", out)
	}
	r = cli("telephony", "log")
	if !strings.Contains(r.stdout, "phone authentication XXX-XXX-0166 sip approved credits=1") ||
		!strings.Contains(r.stdout, "phone administrator test XXX-XXX-0199 sip denied credits=1") || strings.Contains(r.stdout, "55501") {
		t.Fatalf("telephony log:\n%s", r.stdout)
	}
}

// TestBrowserPhoneCall: in the Web SDK v2 frame (headless Chromium), a
// user whose phone has only a number chooses "Call me"; the waiting page
// shows the call's progress while SIPp rings, answers and presses 1, and
// the application logs the user in. Screenshots go to
// test-artifacts/browser/TestBrowserPhoneCall/.
func TestBrowserPhoneCall(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	phone := sipptest.New(t)
	ts := startServer(t, serverOptions{engine: SQLite, flags: map[string]string{
		"sip_listen": "127.0.0.1:0", "sip_outbound_proxy": phone.Addr(),
		"sip_ring_timeout": "10s", "sip_answer_timeout": "10s", "sip_max_call_duration": "30s"}})
	ikey, skey := ts.integration(t, store.TypeWebSDK)
	rp := startRelyingParty(t, node, dir, ts.Host, ikey, skey)
	const user = "caller"
	ts.user(t, user, 0)
	if _, err := ts.App.Core.AddNumberPhone(testCtx(t), user, "+15555550133", "", ""); err != nil {
		t.Fatal(err)
	}
	sig, err := duoweb.SignRequest(ikey, skey, rp.akey, user)
	if err != nil {
		t.Fatal(err)
	}
	page, login := rp.login(user, sig, false)
	// The phone rings and holds a while, so the waiting page is on screen
	// for its screenshots.
	wait := phone.Expect(t, sipptest.Answer{Key: "1", Ring: 1500 * time.Millisecond, Hold: 1500 * time.Millisecond})
	res := runBrowser(t, node, dir, scenario{
		SPKI: append(servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)), rp.SPKI...),
		Steps: append([]step{
			{"do": "goto", "url": page},
			{"do": "waitVisible", "frame": duoFrame, "sel": "[data-testid=call-button]", "shot": "choose"},
			{"do": "read", "frame": duoFrame, "sel": "[data-testid=call-button]", "as": "button"},
			{"do": "click", "frame": duoFrame, "sel": "[data-testid=call-button]"},
			{"do": "waitVisible", "frame": duoFrame, "sel": state("pushed"), "shot": "calling"},
			{"do": "waitText", "frame": duoFrame, "text": "Answered. Press", "shot": "answered"},
			{"do": "read", "frame": duoFrame, "sel": "#status", "as": "answered"},
		}, waitLoggedIn()...),
	}, rp.CAFile, false)
	if got := res.str(t, "button"); got != "Call me at XXX-XXX-0133" {
		t.Errorf("the button says %q", got)
	}
	if got := res.str(t, "answered"); got != "Answered. Press '1' on your phone to log in." {
		t.Errorf("the waiting page says %q once answered", got)
	}
	loggedIn(t, login, res, user)
	if dialled := wait().Number; dialled != "+15555550133" {
		t.Fatalf("the trunk was asked for %q", dialled)
	}
}

// TestPhoneCallAcrossNodes runs two Assent nodes on one PostgreSQL
// database: node A places the call (async=1, duo_api_golang), node B
// answers auth_status from the transaction's stored progress, woken
// through the LISTEN/NOTIFY broker: calling, answered, then allow.
func TestPhoneCallAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := createPostgresDB(t) // skips without PostgreSQL (fails in CI)
	phone := sipptest.New(t)
	var key [32]byte
	_, _ = rand.Read(key[:])
	flags := map[string]string{"database_url": dsn, "master_key": base64.StdEncoding.EncodeToString(key[:]),
		"sip_listen": "127.0.0.1:0", "sip_outbound_proxy": phone.Addr(),
		"sip_ring_timeout": "10s", "sip_answer_timeout": "10s", "sip_max_call_duration": "30s"}
	nodeA := startServer(t, serverOptions{flags: flags})
	nodeB := startServer(t, serverOptions{flags: flags})
	ikey, skey := nodeA.authAPI(t)
	nodeA.user(t, "nina", 0)
	if _, err := nodeA.App.Core.AddNumberPhone(testCtx(t), "nina", "+15555550111", "", ""); err != nil {
		t.Fatal(err)
	}
	apiA := goClient(t, nodeA, ikey, skey, nodeA.Host)
	apiB := goClient(t, nodeB, ikey, skey, nodeB.Host)

	wait := phone.Expect(t, sipptest.Answer{Key: "1", Ring: 1500 * time.Millisecond, Hold: 1500 * time.Millisecond})
	res, err := apiA.Auth("phone", authapi.AuthUsername("nina"), authapi.AuthDevice("auto"), authapi.AuthAsync())
	if err != nil || res.Stat != "OK" || res.Response.Txid == "" {
		t.Fatalf("async factor=phone on node A: %+v, %v", res, err)
	}
	var got []string
	for range 5 {
		st, err := apiB.AuthStatus(res.Response.Txid)
		if err != nil || st.Stat != "OK" {
			t.Fatalf("auth_status on node B: %+v, %v", st, err)
		}
		got = append(got, st.Response.Result+"/"+st.Response.Status+"/"+st.Response.Status_Msg)
		if st.Response.Result != "waiting" {
			break
		}
	}
	want := []string{"waiting/calling/Dialing XXX-XXX-0111...", "waiting/answered/Answered. Press '1' on your phone to log in.",
		"allow/allow/Success. Logging you in..."}
	if !slices.Equal(got, want) {
		t.Fatalf("auth_status on node B: %q, want %q", got, want)
	}
	wait()
}

// toneWAV is a WAV file (RIFF, 8000 Hz mono, 16-bit PCM) of n samples of
// a sine at freq Hz.
func toneWAV(freq float64, n int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(2*n))
	for i := range n {
		_ = binary.Write(&b, le, int16(8000*math.Sin(2*math.Pi*freq*float64(i)/8000)))
	}
	return b.Bytes()
}

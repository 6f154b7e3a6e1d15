package e2e

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// pyCall is one call's outcome as testdata/duo_client_auth.py prints it.
type pyCall struct {
	OK    json.RawMessage `json:"ok"`
	Error string          `json:"error"`
}

type pyAuth struct {
	Result    string `json:"result"`
	Status    string `json:"status"`
	StatusMsg string `json:"status_msg"`
}

type pyPreauth struct {
	Result          string `json:"result"`
	StatusMsg       string `json:"status_msg"`
	EnrollPortalURL string `json:"enroll_portal_url"`
	Devices         []any  `json:"devices"`
}

func (c pyCall) decode(t *testing.T, what string, v any) {
	t.Helper()
	if c.Error != "" || c.OK == nil {
		t.Fatalf("%s: python duo_client raised %q", what, c.Error)
	}
	if err := json.Unmarshal(c.OK, v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, c.OK)
	}
}

// TestPythonDuoClient drives the server with Debian's python3-duo-client:
// sig v2 HMAC-SHA1 (its default), v2 HMAC-SHA512 and v4 JSON bodies, the
// host signed without the port.
func TestPythonDuoClient(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.authAPI(t)
	codes := ts.user(t, "pyuser", 3)

	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_auth.py"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	runJSON(t, 60*time.Second, &out, py, []string{script}, []string{
		"DUO_IKEY=" + ikey,
		"DUO_SKEY=" + skey,
		"DUO_HOST=localhost",
		"DUO_PORT=" + strconv.Itoa(ts.Port),
		"DUO_CA=" + ts.CAFile,
		"DUO_USERNAME=pyuser",
		"DUO_PASSCODES=" + strings.Join(codes, ","),
		"DUO_UNKNOWN_USER=nobody-py",
		"DUO_NEW_USER=py-enrolled",
	}, "")

	for _, variant := range []string{"v2-sha1", "v2-sha512", "v4-json"} {
		t.Run(variant, func(t *testing.T) {
			var calls map[string]pyCall
			if err := json.Unmarshal(out[variant], &calls); err != nil {
				t.Fatalf("variant %s: %v: %s", variant, err, out[variant])
			}
			var check struct {
				Time int64 `json:"time"`
			}
			calls["check"].decode(t, "check", &check)
			if d := check.Time - time.Now().Unix(); d < -60 || d > 60 {
				t.Errorf("check time is %ds from now", d)
			}
			var pre pyPreauth
			calls["preauth"].decode(t, "preauth", &pre)
			if pre.Result != "auth" || pre.StatusMsg != "Account is active" || pre.Devices == nil {
				t.Errorf("preauth: %+v, want auth / Account is active / devices []", pre)
			}
			var a pyAuth
			calls["auth"].decode(t, "auth", &a)
			if a != (pyAuth{"allow", "allow", "Success. Logging you in..."}) {
				t.Errorf("auth with a bypass code: %+v", a)
			}
			if variant != "v2-sha1" {
				return
			}
			var ping struct {
				Time int64 `json:"time"`
			}
			calls["ping"].decode(t, "ping", &ping)
			if ping.Time == 0 {
				t.Error("ping time is 0")
			}
			var logo struct {
				PNG   bool `json:"png"`
				Bytes int  `json:"bytes"`
			}
			calls["logo"].decode(t, "logo", &logo)
			if !logo.PNG || logo.Bytes < 8 {
				t.Errorf("logo: %+v, want a PNG with an image/ Content-Type", logo)
			}
			calls["auth_again"].decode(t, "auth again", &a)
			if a != (pyAuth{"deny", "deny", "Incorrect passcode. Please try again."}) {
				t.Errorf("the same code again: %+v", a)
			}
			calls["preauth_unknown"].decode(t, "preauth unknown", &pre)
			if pre.Result != "enroll" || !strings.HasPrefix(pre.EnrollPortalURL, "https://"+ts.Host+"/portal/enroll/") {
				t.Errorf("preauth unknown user: %+v", pre)
			}
			// enroll(bypass_codes=2): Duo's client documents the codes in
			// the answer; they log the new user in.
			var en struct {
				Username    string   `json:"username"`
				BypassCodes []string `json:"bypass_codes"`
			}
			calls["enroll_bypass_codes"].decode(t, "enroll with bypass_codes", &en)
			if en.Username != "py-enrolled" || len(en.BypassCodes) != 2 {
				t.Errorf("enroll with bypass_codes=2: %+v, want 2 codes", en)
			}
			calls["enroll_bypass_codes_auth"].decode(t, "auth with an enroll bypass code", &a)
			if a.Result != "allow" {
				t.Errorf("auth with the first bypass code from enroll: %+v", a)
			}
		})
	}
}

// telephonyScript runs steps of testdata/duo_client_telephony.py (py from
// testutil.Python3) against the Auth API on localhost:port as user:
// call("preauth"), call("passcode", code)...
func telephonyScript(t *testing.T, py, ikey, skey string, port int, caFile, user string) (call func(args ...string) pyCall) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_telephony.py"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DUO_IKEY=" + ikey, "DUO_SKEY=" + skey, "DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(port),
		"DUO_CA=" + caFile, "DUO_USERNAME=" + user}
	return func(args ...string) pyCall {
		t.Helper()
		var c pyCall
		runJSON(t, 90*time.Second, &c, py, append([]string{script}, args...), env, "")
		return c
	}
}

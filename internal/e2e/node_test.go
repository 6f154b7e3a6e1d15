package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// nodePartners returns node and the tests/partners/node directory, after
// checking that `npm ci` has installed its packages (scripts/test.sh does).
func nodePartners(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	testutil.Require(t, "node (apt nodejs)", err == nil)
	dir = filepath.Join(testutil.RepoRoot(t), "tests", "partners", "node")
	_, err = os.Stat(filepath.Join(dir, "node_modules", "@duosecurity", "duo_api", "package.json"))
	testutil.Require(t, "tests/partners/node/node_modules (npm ci in tests/partners/node)", err == nil)
	return node, dir
}

// TestNodeDuoAPI drives the server with npm @duosecurity/duo_api 1.5.0:
// sig v2 HMAC-SHA512 form bodies and sig v5 JSON bodies, both chunked, with
// a GMT Date header and the host signed without the port.
func TestNodeDuoAPI(t *testing.T) {
	t.Parallel()
	node, dir := nodePartners(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.authAPI(t)
	codes := ts.user(t, "nodeuser", 2)

	var out map[string]duoEnvelope
	runJSON(t, 60*time.Second, &out, node, []string{filepath.Join(dir, "duo_api_call.js")}, []string{
		"DUO_IKEY=" + ikey,
		"DUO_SKEY=" + skey,
		"DUO_HOST=localhost",
		"DUO_PORT=" + strconv.Itoa(ts.Port),
		"DUO_CA=" + ts.CAFile,
		"DUO_USERNAME=nodeuser",
		"DUO_PASSCODES=" + strings.Join(codes, ","),
		"DUO_UNKNOWN_USER=nobody-node",
	}, dir)

	ok := func(name string, v any) {
		t.Helper()
		env, found := out[name]
		if !found {
			t.Fatalf("%s: missing from the script's output", name)
		}
		if env.Stat != "OK" {
			t.Fatalf("%s: stat %q code %d message %q detail %q", name, env.Stat, env.Code, env.Message, env.MessageDetail)
		}
		if err := json.Unmarshal(env.Response, v); err != nil {
			t.Fatalf("%s: %v: %s", name, err, env.Response)
		}
	}
	var check struct {
		Time int64 `json:"time"`
	}
	ok("check", &check)
	if d := check.Time - time.Now().Unix(); d < -60 || d > 60 {
		t.Errorf("check time is %ds from now", d)
	}
	for _, name := range []string{"preauth", "v5_preauth"} {
		var pre pyPreauth
		ok(name, &pre)
		if pre.Result != "auth" || pre.StatusMsg != "Account is active" {
			t.Errorf("%s: %+v", name, pre)
		}
	}
	var pre pyPreauth
	ok("preauth_unknown", &pre)
	if pre.Result != "enroll" || !strings.HasPrefix(pre.EnrollPortalURL, "https://"+ts.Host+"/portal/enroll/") {
		t.Errorf("preauth unknown: %+v", pre)
	}
	for name, want := range map[string]pyAuth{
		"auth":       {"allow", "allow", "Success. Logging you in..."},
		"auth_again": {"deny", "deny", "Incorrect passcode. Please try again."},
		"v5_auth":    {"allow", "allow", "Success. Logging you in..."},
	} {
		var a pyAuth
		ok(name, &a)
		if a != want {
			t.Errorf("%s: %+v, want %+v", name, a, want)
		}
	}
	push := out["auth_push"]
	if push.Stat != "FAIL" || push.Code != 40002 || push.Message != "Invalid request parameters" || push.MessageDetail != "no capable device" {
		t.Errorf("auth push: %+v", push)
	}
}

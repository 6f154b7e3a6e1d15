package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// TestPerlNetDuo drives the server with Debian's libnet-duo-perl as
// docs/perl-net-duo.md says: PERL_LWP_SSL_CA_FILE for Assent's CA, and a
// user agent that pins Assent's name in place of Net::Duo's pin on
// *.duosecurity.com (which, unchanged, refuses Assent's certificate).
func TestPerlNetDuo(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("perl", "-MNet::Duo::Auth", "-MLWP::Protocol::https", "-e", "1").CombinedOutput()
	if err != nil {
		t.Logf("perl -MNet::Duo::Auth -MLWP::Protocol::https: %v: %s", err, out)
	}
	testutil.Require(t, "Perl Net::Duo (libnet-duo-perl, liblwp-protocol-https-perl)", err == nil)

	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.authAPI(t)
	codes := ts.user(t, "perluser", 1)
	script, err := filepath.Abs(filepath.Join("testdata", "net_duo_auth.pl"))
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		OK    json.RawMessage `json:"ok"`
		Error string          `json:"error"`
	}
	var res map[string]call
	runJSON(t, 60*time.Second, &res, "perl", []string{script}, []string{
		"DUO_IKEY=" + ikey,
		"DUO_SKEY=" + skey,
		"DUO_HOST=" + ts.Host,
		"DUO_SUBJECT_HOST=localhost",
		"DUO_USERNAME=perluser",
		"DUO_PASSCODE=" + codes[0],
		"PERL_LWP_SSL_CA_FILE=" + ts.CAFile,
	}, "")

	ok := func(name string, v any) {
		t.Helper()
		c := res[name]
		if c.Error != "" || c.OK == nil {
			t.Fatalf("%s: Net::Duo died: %q", name, c.Error)
		}
		if err := json.Unmarshal(c.OK, v); err != nil {
			t.Fatalf("%s: %v: %s", name, err, c.OK)
		}
	}
	refused := func(name, want string) {
		t.Helper()
		if c := res[name]; !strings.Contains(c.Error, want) {
			t.Errorf("%s: result %s, error %q; want an error containing %q", name, c.OK, c.Error, want)
		}
	}

	t.Logf("unchanged Net::Duo: %s", res["pinned_check"].Error)
	refused("pinned_check", "Bad SSL certificate subject")
	refused("wrong_pin_check", "Bad SSL certificate subject")
	var now int64
	ok("check", &now)
	if d := now - time.Now().Unix(); d < -60 || d > 60 {
		t.Errorf("check: server time %d is %ds from now", now, d)
	}
	var pre struct {
		Result string `json:"result"`
	}
	ok("preauth", &pre)
	if pre.Result != "auth" {
		t.Errorf("preauth: result %q, want auth", pre.Result)
	}
	var a struct {
		Allowed bool   `json:"allowed"`
		Status  string `json:"status"`
	}
	ok("auth", &a)
	if !a.Allowed || a.Status != "allow" {
		t.Errorf("auth with a bypass code: %+v, want allowed", a)
	}
	ok("auth_again", &a)
	if a.Allowed {
		t.Errorf("the same single-use code again: %+v, want denied", a)
	}
}

package e2e

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/sipptest"
)

// TestPhoneCallSIPpTCP: with sip_transport = "tcp" the server places the
// call over TCP (SIPp listens on TCP only, -t t1); the phone answers and
// presses 1, and python3-duo-client's factor=phone is allowed.
func TestPhoneCallSIPpTCP(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	phone := sipptest.NewTCP(t)
	ts := startServer(t, serverOptions{engine: SQLite, flags: map[string]string{
		"sip_listen": "127.0.0.1:0", "sip_transport": "tcp", "sip_outbound_proxy": phone.Addr(),
		"sip_ring_timeout": "3s", "sip_answer_timeout": "10s", "sip_max_call_duration": "20s",
	}})
	ikey, skey := ts.authAPI(t)
	ts.user(t, "tcpcaller", 0)
	if _, err := ts.App.Core.AddNumberPhone(testCtx(t), "tcpcaller", "+1 555 555 0143", "", ""); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_phone.py"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DUO_IKEY=" + ikey, "DUO_SKEY=" + skey, "DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port),
		"DUO_CA=" + ts.CAFile, "DUO_USERNAME=tcpcaller"}
	wait := phone.Expect(t, sipptest.Answer{Key: "1"})
	var c pyCall
	runJSON(t, 60*time.Second, &c, py, []string{script, "phone"}, env, "")
	var a pyAuth
	c.decode(t, "phone over TCP", &a)
	if want := (pyAuth{"allow", "allow", "Success. Logging you in..."}); a != want {
		t.Fatalf("phone over TCP: %+v, want %+v", a, want)
	}
	if dialled := wait().Number; dialled != "+15555550143" {
		t.Fatalf("the trunk was asked for %q", dialled)
	}
}

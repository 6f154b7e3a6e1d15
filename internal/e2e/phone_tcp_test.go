package e2e

import (
	"testing"

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
	call := telephonyScript(t, py, ikey, skey, ts.Port, ts.CAFile, "tcpcaller")
	wait := phone.Expect(t, sipptest.Answer{Key: "1"})
	c := call("phone")
	var a pyAuth
	c.decode(t, "phone over TCP", &a)
	if want := (pyAuth{"allow", "allow", "Success. Logging you in..."}); a != want {
		t.Fatalf("phone over TCP: %+v, want %+v", a, want)
	}
	if dialled := wait().Number; dialled != "+15555550143" {
		t.Fatalf("the trunk was asked for %q", dialled)
	}
}

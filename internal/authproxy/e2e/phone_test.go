package e2e

import (
	"testing"

	"github.com/assent-auth/assent/internal/testutil/sipptest"
)

// TestChallengePhone: in radius_server_challenge, choosing the menu's
// phone option (phone1) makes Assent call the user through its SIP trunk,
// here SIPp: pressing 1 logs in (Access-Accept), pressing 2 does not
// (Access-Reject). Driven by FreeRADIUS's radclient.
func TestChallengePhone(t *testing.T) {
	t.Parallel()
	requireRadclient(t)
	phone := sipptest.New(t)
	const secret = "phone-secret"
	addr := startPhoneChallenge(t, "pat", "+15555550177", secret, map[string]string{
		"sip_listen": "127.0.0.1:0", "sip_outbound_proxy": phone.Addr(),
		"sip_ring_timeout": "5s", "sip_answer_timeout": "10s", "sip_max_call_duration": "20s"})

	for _, tc := range []struct {
		key, want string
	}{
		{"1", "Access-Accept"},
		{"2", "Access-Reject"},
	} {
		ch := radclient(t, pap(addr, secret, "pat", "patpw"))
		wantCode(t, ch, "Access-Challenge")
		wantReply(t, ch, "Phone call to XXX-XXX-0177")
		wait := phone.Expect(t, sipptest.Answer{Key: tc.key})
		r := pap(addr, secret, "pat", "1") // the menu's option 1: phone1
		r.Attrs = append(r.Attrs, "State = "+ch.Get("State"))
		r.Timeout = 40
		wantCode(t, radclient(t, r), tc.want)
		if dialled := wait().Number; dialled != "+15555550177" {
			t.Fatalf("key %s: the trunk was asked for %q", tc.key, dialled)
		}
	}
}

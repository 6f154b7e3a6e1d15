package e2e

import (
	"fmt"
	"net"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/testutil/ldaptest"
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
	ldap := ldaptest.Start(t, ldaptest.Options{Users: []ldaptest.User{{Name: "pat", Password: "patpw", Groups: []string{"vpnusers"}}}})
	as := assenttest.Start(t, assenttest.Options{Flags: map[string]string{
		"sip_listen": "127.0.0.1:0", "sip_outbound_proxy": phone.Addr(),
		"sip_ring_timeout": "5s", "sip_answer_timeout": "10s", "sip_max_call_duration": "20s"}})
	as.User(t, "pat")
	if _, err := as.App.Core.AddNumberPhone(assenttest.Ctx(t), "pat", "+15555550177", "", ""); err != nil {
		t.Fatal(err)
	}
	conn, port := udpSocket(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ikey, skey := as.AuthAPI(t, "radius phone", store.PolicyEnroll)
	const secret = "phone-secret"
	cfg := fmt.Sprintf("[main]\nlog_dir = %s\n\n", absPath(t.TempDir(), "log")) +
		section("ad_client", "host", ldap.Host, "port", fmt.Sprint(ldap.Port), "auth_type", "plain", "bind_dn", ldaptest.ServiceDN,
			"service_account_username", ldaptest.ServiceUsername, "service_account_password", ldaptest.ServicePassword,
			"search_dn", ldaptest.BaseDN, "security_group_dn", ldaptest.GroupDN("vpnusers"), "timeout", "5") +
		section("radius_server_challenge", "ikey", ikey, "skey", skey, "api_host", as.Host, "http_ca_certs_file", as.CAFile,
			"radius_ip_1", "127.0.0.1", "radius_secret_1", secret, "interface", "127.0.0.1", "port", fmt.Sprint(port),
			"client", "ad_client")
	path := absPath(t.TempDir(), "authproxy.cfg")
	writeFile(t, path, cfg)
	startProxy(t, path, map[string]net.PacketConn{addr: conn})

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

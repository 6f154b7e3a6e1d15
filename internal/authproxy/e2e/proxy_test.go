package e2e

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/testutil/ldaptest"
	"github.com/assent-auth/assent/internal/testutil/radiustest"
)

// Users of the directory (all in vpnusers; password = name + "pw") and
// what each test does with them. Each test has its own users, so pushes
// of parallel tests never meet on one phone.
var ldapUsers = []string{
	"ann",  // challenge: option 1, push approved
	"ben",  // challenge: option 1, push denied
	"cat",  // challenge: HOTP passcode from the device
	"dan",  // challenge: bypass code; Message-Authenticator checks
	"eve",  // challenge: not in Assent → enrollment
	"fay",  // challenge: wrong password, no Auth API call
	"gus",  // challenge: retransmits while the push is pending
	"hal",  // auto: password,push and password alone
	"ida",  // auto: password,passcode
	"jo",   // failmode safe/secure
	"otto", // duo_only (not in the directory's way: duo_only has no primary)
	"tia",  // challenge: authenticator app (TOTP) code, then replayed
	"ulf",  // auto: password,TOTP code, then replayed
}

// Sections of the shared proxy, each on its own port.
const (
	secChallenge  = "radius_server_challenge"
	secWrongPW    = "radius_server_challenge2"
	secRetransmit = "radius_server_challenge3"
	secAuto       = "radius_server_auto"
	secUpstream   = "radius_server_auto2"
	secSafe       = "radius_server_auto3"
	secSecure     = "radius_server_auto4"
	secDuoOnly    = "radius_server_duo_only"
)

// fixture is one proxy in front of everything, shared by the subtests of
// TestProxy.
type fixture struct {
	as, down *assenttest.Server // down is stopped by the failmode test
	ldap     *ldaptest.Server
	fr       *radiustest.Server
	proxy    *runningProxy
	dir      string

	addr   map[string]string // section → 127.0.0.1:port
	secret map[string]string // section → RADIUS secret
	ikey   map[string]string // section → integration key
	phones map[string]*device.Client
	codes  map[string][]string // user → bypass codes
	totp   map[string]string   // user → hex secret of an authenticator app
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	requireRadclient(t)
	f := &fixture{
		dir: t.TempDir(), addr: map[string]string{}, secret: map[string]string{}, ikey: map[string]string{},
		phones: map[string]*device.Client{}, codes: map[string][]string{}, totp: map[string]string{},
	}
	var users []ldaptest.User
	for _, u := range ldapUsers {
		users = append(users, ldaptest.User{Name: u, Password: u + "pw", Groups: []string{"vpnusers"}})
	}
	users = append(users, ldaptest.User{Name: "zed", Password: "zedpw"}) // not in vpnusers
	f.ldap = ldaptest.Start(t, ldaptest.Options{Users: users})
	f.fr = radiustest.Start(t, radiustest.Options{Users: []radiustest.User{{Name: "rita", Password: "ritapw", Reply: []string{`Reply-Message := "Hello rita"`}}}})
	f.as = assenttest.Start(t, assenttest.Options{Flags: map[string]string{"push_timeout": "20s"}})
	f.down = assenttest.Start(t, assenttest.Options{})

	for _, u := range []string{"ann", "ben", "cat", "fay", "gus", "hal", "ida"} {
		f.phones[u] = f.as.ActivatePhone(t, u)
	}
	for _, u := range []string{"dan", "otto", "rita"} {
		f.as.User(t, u)
		f.codes[u] = f.as.BypassCodes(t, u, 5, 1)
	}
	for _, u := range []string{"tia", "ulf"} {
		f.as.User(t, u)
		enr, err := f.as.App.Core.AddTOTPApp(assenttest.Ctx(t), u, auth.NewTOTPApp{Confirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		f.totp[u] = hex.EncodeToString(enr.Secret)
	}
	f.down.User(t, "jo")
	f.codes["jo"] = f.down.BypassCodes(t, "jo", 5, 1)

	conns := map[string]net.PacketConn{}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "; written by %s\n[main]\nlog_auth_events = true\nlog_dir = %s\n\n", t.Name(), absPath(f.dir, "log"))
	cfg.WriteString(section("ad_client",
		"host", f.ldap.Host, "port", fmt.Sprint(f.ldap.Port),
		"auth_type", "plain", "bind_dn", ldaptest.ServiceDN,
		"service_account_username", ldaptest.ServiceUsername, "service_account_password", ldaptest.ServicePassword,
		"search_dn", ldaptest.BaseDN, "security_group_dn", ldaptest.GroupDN("vpnusers"), "timeout", "5"))
	frHost, frPort, _ := net.SplitHostPort(f.fr.Addr)
	cfg.WriteString(section("radius_client", "host", frHost, "port", frPort, "secret", f.fr.Secret,
		"retries", "1", "retry_wait", "2"))

	server := func(name string, as *assenttest.Server, policy store.NewUserPolicy, kv ...string) {
		conn, port := udpSocket(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		conns[addr] = conn
		f.addr[name] = addr
		f.secret[name] = "secret-of-" + name
		ikey, skey := as.AuthAPI(t, name, policy)
		f.ikey[name] = ikey
		cfg.WriteString(section(name, append([]string{
			"ikey", ikey, "skey", skey, "api_host", as.Host, "http_ca_certs_file", as.CAFile,
			"radius_ip_1", "127.0.0.1", "radius_secret_1", f.secret[name],
			"interface", "127.0.0.1", "port", fmt.Sprint(port),
		}, kv...)...))
	}
	// secChallenge requires Message-Authenticator by Assent's default;
	// secDuoOnly is an old configuration whose NAS cannot send one.
	server(secChallenge, f.as, store.PolicyEnroll, "client", "ad_client")
	server(secWrongPW, f.as, store.PolicyEnroll, "client", "ad_client")
	server(secRetransmit, f.as, store.PolicyEnroll, "client", "ad_client")
	server(secAuto, f.as, store.PolicyEnroll, "client", "ad_client", "factors", "auto")
	server(secUpstream, f.as, store.PolicyEnroll, "client", "radius_client")
	server(secSafe, f.down, store.PolicyEnroll, "client", "ad_client", "failmode", "safe", "api_timeout", "5")
	server(secSecure, f.down, store.PolicyEnroll, "client", "ad_client", "failmode", "secure", "api_timeout", "5")
	server(secDuoOnly, f.as, store.PolicyEnroll, "require_message_authenticator", "false")

	path := absPath(f.dir, "authproxy.cfg")
	writeFile(t, path, cfg.String())
	f.proxy = startProxy(t, path, conns)
	return f
}

// pap sends a PAP Access-Request (with Message-Authenticator) to a section.
func (f *fixture) pap(t *testing.T, sec, user, password string) radReply {
	t.Helper()
	return radclient(t, pap(f.addr[sec], f.secret[sec], user, password))
}

// reply answers an Access-Challenge with the State it carried.
func (f *fixture) reply(t *testing.T, sec, user, answer string, ch radReply, extra func(*radRequest)) radReply {
	t.Helper()
	state := ch.Get("State")
	if !strings.HasPrefix(state, "0x") {
		t.Fatalf("the challenge carries no State:\n%s", ch.Out)
	}
	r := pap(f.addr[sec], f.secret[sec], user, answer)
	r.Attrs = append(r.Attrs, "State = "+state)
	if extra != nil {
		extra(&r)
	}
	return radclient(t, r)
}

// TestProxy runs every scenario of the "How it is checked"
// against one proxy in the test process.
func TestProxy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	t.Run("scenarios", func(t *testing.T) {
		t.Run("ChallengePushApproved", f.challengePushApproved)
		t.Run("ChallengePushDenied", f.challengePushDenied)
		t.Run("ChallengePasscodes", f.challengePasscodes)
		t.Run("AuthenticatorApp", f.authenticatorApp)
		t.Run("WrongPasswordNoAuthAPICall", f.wrongPassword)
		t.Run("EnrollChallenge", f.enroll)
		t.Run("AutoPasswordPush", f.autoPush)
		t.Run("AutoPasswordPasscode", f.autoPasscode)
		t.Run("DuoOnly", f.duoOnly)
		t.Run("RadiusClientPrimary", f.radiusClientPrimary)
		t.Run("RetransmitOnePush", f.retransmit)
		t.Run("MessageAuthenticator", f.messageAuthenticator)
		t.Run("StatusServer", f.statusServer)
		t.Run("Failmode", f.failmode)
	})
	if t.Failed() {
		return
	}
	t.Run("AuthEventsLog", f.authEvents)
	t.Run("Metrics", f.metrics)
}

func (f *fixture) challengePushApproved(t *testing.T) {
	t.Parallel()
	ch := f.pap(t, secChallenge, "ann", "annpw")
	wantCode(t, ch, "Access-Challenge")
	for _, want := range []string{"Duo two-factor login for ann", "1. Duo Push to", "Passcode or option (1-"} {
		wantReply(t, ch, want)
	}
	if ma := ch.Attrs["Message-Authenticator"]; len(ma) != 1 {
		t.Errorf("the challenge carries %d Message-Authenticators, want 1", len(ma))
	}
	answered := assenttest.AnswerNext(assenttest.Ctx(t), f.phones["ann"], true, 300*time.Millisecond)
	r := f.reply(t, secChallenge, "ann", "1", ch, nil)
	wantCode(t, r, "Access-Accept")
	a := assenttest.Received(t, answered)
	if a.Tx.Attr("Username") != "ann" || a.Tx.Attr("Application") != secChallenge {
		t.Errorf("the push the phone saw: %+v", a.Tx)
	}
	// The State is single-use.
	again := f.reply(t, secChallenge, "ann", "1", ch, nil)
	wantCode(t, again, "Access-Reject")
	wantReply(t, again, "Unknown Challenge")
}

func (f *fixture) challengePushDenied(t *testing.T) {
	t.Parallel()
	ch := f.pap(t, secChallenge, "ben", "benpw")
	wantCode(t, ch, "Access-Challenge")
	answered := assenttest.AnswerNext(assenttest.Ctx(t), f.phones["ben"], false, 0)
	r := f.reply(t, secChallenge, "ben", "1", ch, nil)
	wantCode(t, r, "Access-Reject")
	assenttest.Received(t, answered)
}

func (f *fixture) challengePasscodes(t *testing.T) {
	t.Parallel()
	t.Run("HOTP from the device", func(t *testing.T) {
		ch := f.pap(t, secChallenge, "cat", "catpw")
		wantCode(t, ch, "Access-Challenge")
		code, err := f.phones["cat"].Passcode()
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.reply(t, secChallenge, "cat", code, ch, nil), "Access-Accept")
		// The same code twice is refused (HOTP codes are single-use).
		ch = f.pap(t, secChallenge, "cat", "catpw")
		wantCode(t, ch, "Access-Challenge")
		wantCode(t, f.reply(t, secChallenge, "cat", code, ch, nil), "Access-Reject")
	})
	t.Run("bypass code", func(t *testing.T) {
		ch := f.pap(t, secChallenge, "dan", "danpw")
		wantCode(t, ch, "Access-Challenge")
		wantReply(t, ch, "Duo two-factor login for dan")
		wantCode(t, f.reply(t, secChallenge, "dan", f.codes["dan"][0], ch, nil), "Access-Accept")
	})
}

// authenticatorApp: a current code of an authenticator app, computed by
// Debian's oathtool, passes once, as the challenge's answer and appended
// to the password (auto); the same code again is refused.
func (f *fixture) authenticatorApp(t *testing.T) {
	t.Parallel()
	path, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	code := func(user string) string {
		out, err := exec.Command(path, "--totp", "-s", "30", "-d", "6", f.totp[user]).Output()
		if err != nil {
			t.Fatalf("oathtool: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	t.Run("challenge", func(t *testing.T) {
		c := code("tia")
		for _, want := range []string{"Access-Accept", "Access-Reject"} {
			ch := f.pap(t, secChallenge, "tia", "tiapw")
			wantCode(t, ch, "Access-Challenge")
			wantCode(t, f.reply(t, secChallenge, "tia", c, ch, nil), want)
		}
	})
	t.Run("auto", func(t *testing.T) {
		c := code("ulf")
		wantCode(t, f.pap(t, secAuto, "ulf", "ulfpw,"+c), "Access-Accept")
		wantCode(t, f.pap(t, secAuto, "ulf", "ulfpw,"+c), "Access-Reject")
	})
}

func (f *fixture) wrongPassword(t *testing.T) {
	t.Parallel()
	ikey := f.ikey[secWrongPW]
	r := f.pap(t, secWrongPW, "fay", "not-fays-password")
	wantCode(t, r, "Access-Reject")
	wantReply(t, r, "User Authentication Failed")
	r = f.pap(t, secWrongPW, "zed", "zedpw") // right password, not in the group
	wantCode(t, r, "Access-Reject")
	r = f.pap(t, secWrongPW, "nobody", "x")
	wantCode(t, r, "Access-Reject")
	if n := apiCalls(f.as, ikey, "/auth/v2/preauth") + apiCalls(f.as, ikey, "/auth/v2/auth"); n != 0 {
		t.Errorf("%d Auth API calls after primary rejects, want none", n)
	}
	if rows := f.as.AuthLog(t, ikey); len(rows) != 0 {
		t.Errorf("auth log rows after primary rejects: %+v", rows)
	}
	// The same section does reach the Auth API once the password is right,
	// so the counts above can fail.
	wantCode(t, f.pap(t, secWrongPW, "fay", "faypw"), "Access-Challenge")
	if !eventually(5*time.Second, func() bool { return apiCalls(f.as, ikey, "/auth/v2/preauth") == 1 }) {
		t.Errorf("%d preauth calls after a right password, want 1", apiCalls(f.as, ikey, "/auth/v2/preauth"))
	}
}

func (f *fixture) enroll(t *testing.T) {
	t.Parallel()
	ch := f.pap(t, secChallenge, "eve", "evepw")
	wantCode(t, ch, "Access-Challenge")
	wantReply(t, ch, "https://"+f.as.Host+"/portal/enroll") // the enrollment URL Assent made for eve
	r := f.reply(t, secChallenge, "eve", "1", ch, nil)
	wantCode(t, r, "Access-Reject")
	wantReply(t, r, "Please complete the enrollment process and login again")
}

func (f *fixture) autoPush(t *testing.T) {
	t.Parallel()
	ctx := assenttest.Ctx(t)
	t.Run("password,push with radtest", func(t *testing.T) {
		answered := assenttest.AnswerNext(ctx, f.phones["hal"], true, 0)
		r := radtest(t, f.addr[secAuto], f.secret[secAuto], "hal", "halpw,push")
		wantCode(t, r, "Access-Accept")
		assenttest.Received(t, answered)
	})
	t.Run("password alone: the default factor", func(t *testing.T) {
		answered := assenttest.AnswerNext(ctx, f.phones["hal"], true, 0)
		wantCode(t, f.pap(t, secAuto, "hal", "halpw"), "Access-Accept")
		assenttest.Received(t, answered)
	})
	t.Run("password,push denied", func(t *testing.T) {
		answered := assenttest.AnswerNext(ctx, f.phones["hal"], false, 0)
		wantCode(t, f.pap(t, secAuto, "hal", "halpw,push"), "Access-Reject")
		assenttest.Received(t, answered)
	})
}

func (f *fixture) autoPasscode(t *testing.T) {
	t.Parallel()
	code, err := f.phones["ida"].Passcode()
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.pap(t, secAuto, "ida", "idapw,"+code), "Access-Accept")
	// A wrong password with a good passcode fails at the primary.
	next, _ := f.phones["ida"].Passcode()
	wantCode(t, f.pap(t, secAuto, "ida", "wrong,"+next), "Access-Reject")
	// A wrong passcode fails at the Auth API.
	wantCode(t, f.pap(t, secAuto, "ida", "idapw,000000"), "Access-Reject")
}

func (f *fixture) duoOnly(t *testing.T) {
	t.Parallel()
	// Duo's proxy answers a duo_only Accept with Class "OU=<group>;" when
	// preauth names groups, as Assent's preauth does for a user in one.
	ctx := assenttest.Ctx(t)
	g, err := f.as.App.Core.CreateGroup(ctx, auth.NewGroup{Name: "VPN users", Status: store.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.as.App.Core.AddGroupMember(ctx, g.ID, "otto"); err != nil {
		t.Fatal(err)
	}
	r := f.pap(t, secDuoOnly, "otto", f.codes["otto"][0])
	wantCode(t, r, "Access-Accept")
	// radclient prints Class, an octets attribute, in hex.
	if c, want := r.Get("Class"), "OU=VPN users;"; c != "0x"+hex.EncodeToString([]byte(want)) {
		t.Errorf("Accept carries Class %q, want %q (the user's group)", c, want)
	}
	// The auth log remembers the group.
	if rows := f.as.AuthLog(t, f.ikey[secDuoOnly]); len(rows) == 0 || len(rows[0].Groups) != 1 || rows[0].Groups[0].Name != "VPN users" {
		t.Errorf("auth log rows %+v, want the user's group", rows)
	}
	wantCode(t, f.pap(t, secDuoOnly, "otto", "123456789"), "Access-Reject")
	// No Message-Authenticator: accepted here (require_message_authenticator = false).
	req := pap(f.addr[secDuoOnly], f.secret[secDuoOnly], "otto", f.codes["otto"][1])
	req.MessageAuthenticator = false
	wantCode(t, radclient(t, req), "Access-Accept")
}

func (f *fixture) radiusClientPrimary(t *testing.T) {
	t.Parallel()
	ikey := f.ikey[secUpstream]
	r := f.pap(t, secUpstream, "rita", "wrongpw,"+f.codes["rita"][0])
	wantCode(t, r, "Access-Reject")
	if n := apiCalls(f.as, ikey, "/auth/v2/preauth"); n != 0 {
		t.Errorf("%d preauth calls after an upstream reject, want none", n)
	}
	r = f.pap(t, secUpstream, "rita", "ritapw,"+f.codes["rita"][0])
	wantCode(t, r, "Access-Accept")
}

func (f *fixture) retransmit(t *testing.T) {
	t.Parallel()
	ikey := f.ikey[secRetransmit]
	ch := f.pap(t, secRetransmit, "gus", "guspw")
	wantCode(t, ch, "Access-Challenge")
	// The phone answers after 2.5 s; radclient resends every 0.7 s meanwhile.
	answered := assenttest.AnswerNext(assenttest.Ctx(t), f.phones["gus"], true, 2500*time.Millisecond)
	r := f.reply(t, secRetransmit, "gus", "push", ch, func(r *radRequest) { r.Timeout, r.Retries = 0.7, 10 })
	wantCode(t, r, "Access-Accept")
	assenttest.Received(t, answered)
	if sent := strings.Count(r.Out, "Sent Access-Request"); sent < 3 {
		t.Errorf("radclient sent the answer %d times; the test needs retransmits", sent)
	}
	// The server writes its access-log line once the answer is out, so
	// the proxy may have it first: wait for the line, then count.
	eventually(2*time.Second, func() bool { return apiCalls(f.as, ikey, "/auth/v2/auth") > 0 })
	if n := apiCalls(f.as, ikey, "/auth/v2/auth"); n != 1 {
		t.Errorf("%d Auth API auth calls for one login with retransmits, want 1", n)
	}
	pushes := 0
	for _, row := range f.as.AuthLog(t, ikey) {
		if strings.Contains(row.Factor, "push") { // Duo's auth log says "duo_push"
			pushes++
		}
	}
	if pushes != 1 {
		t.Errorf("%d push rows in the auth log, want 1: %+v", pushes, f.as.AuthLog(t, ikey))
	}
	if n := f.metric(t, "assent_authproxy_duplicate_requests_total", "kind", "in_flight"); n < 2 {
		t.Errorf("%v in-flight duplicates counted, want at least 2", n)
	}
}

func (f *fixture) messageAuthenticator(t *testing.T) {
	t.Parallel()
	addr, secret := f.addr[secChallenge], f.secret[secChallenge]
	t.Run("missing: dropped by default, logged", func(t *testing.T) {
		req := pap(addr, secret, "dan", "danpw")
		req.MessageAuthenticator, req.Timeout = false, 1
		if r := radclient(t, req); r.Code != "" {
			t.Fatalf("a request without Message-Authenticator got %s from a section that requires it by default", r.Code)
		}
		if n := f.metric(t, "assent_authproxy_dropped_packets_total", "reason", "missing_message_authenticator"); n < 1 {
			t.Errorf("dropped_packets_total{reason=missing_message_authenticator} = %v", n)
		}
		want := "require_message_authenticator_1 = false in [" + secChallenge + "]"
		if logs := f.proxy.Logs.String(); !strings.Contains(logs, want) || !strings.Contains(logs, "nas=127.0.0.1:") {
			t.Errorf("no WARN line naming the client and %q:\n%s", want, logs)
		}
	})
	build := func(t *testing.T) *radius.Packet {
		p := radius.New(radius.CodeAccessRequest, []byte(secret))
		if err := rfc2865.UserName_SetString(p, "dan"); err != nil {
			t.Fatal(err)
		}
		if err := rfc2865.UserPassword_SetString(p, "danpw"); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("wrong: dropped", func(t *testing.T) {
		p := build(t)
		raw, err := radiusmsg.EncodeRequest(p)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)-1] ^= 0xff // the last byte of the packet's only Message-Authenticator
		if present, ok := radiusmsg.VerifyRequest(raw, []byte(secret)); !present || ok {
			t.Fatalf("the corrupted packet still verifies (present %v, ok %v)", present, ok)
		}
		if resp := exchange(t, addr, raw, time.Second); resp != nil {
			t.Fatalf("a request with a wrong Message-Authenticator got an answer (%d bytes)", len(resp))
		}
	})
	t.Run("right: answered, signed first", func(t *testing.T) {
		p := build(t)
		raw, err := radiusmsg.EncodeRequest(p)
		if err != nil {
			t.Fatal(err)
		}
		resp := exchange(t, addr, raw, 10*time.Second)
		if resp == nil {
			t.Fatal("no answer to a request with a valid Message-Authenticator")
		}
		if len(resp) < 22 || resp[0] != byte(radius.CodeAccessChallenge) || resp[20] != 80 {
			t.Fatalf("answer code %d, first attribute %d; want Access-Challenge with Message-Authenticator first", resp[0], resp[20])
		}
		var reqAuth [16]byte
		copy(reqAuth[:], raw[4:20])
		if present, ok := radiusmsg.VerifyResponse(resp, reqAuth, []byte(secret)); !present || !ok {
			t.Errorf("the answer's Message-Authenticator: present %v, valid %v", present, ok)
		}
	})
}

// statusServer: radclient's Status-Server (RFC 5997) is answered on each
// section's socket; without Message-Authenticator it is dropped even where
// Access-Requests need none. (That it never reaches the Auth API is checked
// in radiusd, where no parallel test shares the fakes.)
func (f *fixture) statusServer(t *testing.T) {
	t.Parallel()
	for _, sec := range []string{secChallenge, secDuoOnly} {
		r := radclientStatus(t, f.addr[sec], f.secret[sec], true)
		wantCode(t, r, "Access-Accept")
		if n := f.metric(t, "assent_authproxy_status_server_total", "section", sec); n < 1 {
			t.Errorf("status_server_total{section=%s} = %v", sec, n)
		}
	}
	if r := radclientStatus(t, f.addr[secDuoOnly], f.secret[secDuoOnly], false); r.Code != "" {
		t.Errorf("a Status-Server without Message-Authenticator got %s", r.Code)
	}
	if n := f.metric(t, "assent_authproxy_dropped_packets_total", "reason", "status_server_without_message_authenticator"); n != 1 {
		t.Errorf("dropped_packets_total{reason=status_server_without_message_authenticator} = %v, want 1", n)
	}
}

// exchange sends raw over UDP to addr and returns the answer, or nil after
// wait.
func exchange(t *testing.T, addr string, raw []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func (f *fixture) failmode(t *testing.T) {
	t.Parallel()
	// While the Auth API runs, both sections ask it.
	wantCode(t, f.pap(t, secSafe, "jo", "jopw,"+f.codes["jo"][0]), "Access-Accept")
	wantCode(t, f.pap(t, secSecure, "jo", "jopw,"+f.codes["jo"][1]), "Access-Accept")
	if err := f.down.Stop(); err != nil {
		t.Fatal(err)
	}
	r := f.pap(t, secSafe, "jo", "jopw")
	wantCode(t, r, "Access-Accept")
	wantReply(t, r, "Failmode Safe - Allowed Duo login on preauth failure")
	r = f.pap(t, secSecure, "jo", "jopw")
	wantCode(t, r, "Access-Reject")
	wantReply(t, r, "Failmode Secure - Denied Duo login on preauth failure")
	// The primary still decides first: a wrong password is never let in.
	wantCode(t, f.pap(t, secSafe, "jo", "wrong"), "Access-Reject")
	// The fail-open is loud: an ERROR line names the section and the user.
	loud := false
	for _, l := range strings.Split(f.proxy.Logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, "section="+secSafe) && strings.Contains(l, "user=jo") {
			loud = true
		}
	}
	if !loud {
		t.Errorf("no ERROR line about the fail-open of %s in the proxy log", secSafe)
	}
}

// authEvents checks the auth-events file the scenarios wrote.
func (f *fixture) authEvents(t *testing.T) {
	path := absPath(f.dir, "log", "authevents.log")
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	found := map[string]bool{}
	sc := bufio.NewScanner(file)
	n := 0
	for sc.Scan() {
		n++
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", n, err, sc.Text())
		}
		for _, k := range []string{"timestamp", "msg", "username", "auth_stage", "status", "client_ip", "server_section", "server_section_ikey", "factor", "hostname"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q: %s", n, k, sc.Text())
			}
		}
		key := fmt.Sprintf("%v|%v|%v|%v", m["username"], m["server_section"], m["auth_stage"], m["status"])
		found[key] = true
		if m["hostname"] != "e2e-proxy" {
			t.Errorf("line %d: hostname %v", n, m["hostname"])
		}
	}
	for _, want := range []string{
		"ann|" + secChallenge + "|Secondary authentication|Allow",
		"ben|" + secChallenge + "|Secondary authentication|Reject",
		"fay|" + secWrongPW + "|Primary authentication|Reject",
		"otto|" + secDuoOnly + "|Secondary authentication|Allow",
		"jo|" + secSecure + "|Secondary authentication|Error",
	} {
		if !found[want] {
			t.Errorf("no auth event %s in %s; have %v", want, path, found)
		}
	}
}

func (f *fixture) metrics(t *testing.T) {
	for _, c := range []struct {
		labels []string
		min    float64
	}{
		{[]string{"section", secChallenge, "result", "accept"}, 3},
		{[]string{"section", secChallenge, "result", "challenge"}, 5},
		{[]string{"section", secWrongPW, "result", "reject"}, 3},
	} {
		if n := f.metric(t, "assent_authproxy_requests_total", c.labels...); n < c.min {
			t.Errorf("requests_total%v = %v, want at least %v", c.labels, n, c.min)
		}
	}
	if n := f.metric(t, "assent_authproxy_fail_open_total", "section", secSafe); n != 1 {
		t.Errorf("fail_open_total{%s} = %v, want 1", secSafe, n)
	}
	if n := f.metric(t, "assent_authproxy_dropped_packets_total"); n < 2 {
		t.Errorf("dropped_packets_total = %v, want at least 2 (Message-Authenticator tests)", n)
	}
}

// metric sums the proxy's series of a metric whose labels include the
// given name/value pairs.
func (f *fixture) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := f.proxy.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
	series:
		for _, m := range fam.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

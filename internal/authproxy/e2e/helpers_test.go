// Package e2e holds the authentication proxy's end-to-end tests: real
// programs on loopback only. Assent (started in the test process by
// internal/testutil/assenttest) is the Auth API, OpenLDAP slapd
// (ldaptest) the ad_client directory, FreeRADIUS (radiustest) the
// upstream radius_client, a device activated through Assent's device API
// answers pushes, and FreeRADIUS's radclient and radtest play the VPN.
// The proxy runs in the test process (package authproxy) and, once, as
// the assent binary.
//
// The package has only test files.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/authproxy"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

// requireRadclient skips (fails in CI) without FreeRADIUS's client tools.
func requireRadclient(t testing.TB) {
	t.Helper()
	for _, p := range []string{"radclient", "radtest"} {
		_, err := exec.LookPath(p)
		testutil.Require(t, p+" (apt freeradius-utils)", err == nil)
	}
}

// udpSocket binds a UDP socket on a random loopback port for the proxy;
// the test owns it.
func udpSocket(t testing.TB) (net.PacketConn, int) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("bind udp: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).Port
}

// freeUDPPort returns a UDP port that was free a moment ago (for the
// assent binary, which binds its own sockets).
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("bind udp: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// runningProxy is an authproxy.Proxy serving in the test process.
type runningProxy struct {
	*authproxy.Proxy
	Logs *testutil.SyncBuffer
	stop func()
}

// startProxy loads cfgPath and serves it on the given sockets (by listen
// address) until the test ends.
func startProxy(t testing.TB, cfgPath string, conns map[string]net.PacketConn) *runningProxy {
	t.Helper()
	c, warnings, err := authproxy.Load(cfgPath)
	if err != nil {
		t.Fatalf("load %s: %v", cfgPath, err)
	}
	for _, w := range warnings {
		t.Logf("config warning: %s", w)
	}
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := authproxy.New(c, authproxy.Options{
		Logger:        logger,
		PacketConns:   conns,
		Hostname:      "e2e-proxy",
		Version:       "e2e",
		ShutdownGrace: time.Second,
	})
	if err != nil {
		t.Fatalf("authproxy.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	rp := &runningProxy{Proxy: p, Logs: logs}
	var stopped bool
	rp.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return within 10 s of the cancellation")
		}
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(func() {
		rp.stop()
		log := logs.String()
		if strings.Contains(log, "panic") {
			t.Errorf("the proxy log mentions a panic:\n%s", log)
		}
		// ASSENT_E2E_PROXY_LOG=1 shows the log of passing tests too.
		if t.Failed() || os.Getenv("ASSENT_E2E_PROXY_LOG") != "" {
			t.Logf("proxy log:\n%s", log)
		}
	})
	return rp
}

// writeFile writes a test file (mode 0600, like a real authproxy.cfg).
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// radReply is what radclient printed about the answer.
type radReply struct {
	Code  string              // "Access-Accept", "Access-Reject", "Access-Challenge"; "" without an answer
	Attrs map[string][]string // attribute values as radclient printed them, strings unquoted and unescaped
	Out   string              // radclient's whole output, for failure messages
}

// Get returns the first value of attribute name, or "".
func (r radReply) Get(name string) string {
	if v := r.Attrs[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Reply is the Reply-Message.
func (r radReply) Reply() string { return r.Get("Reply-Message") }

// radRequest is one packet for radclient.
type radRequest struct {
	Addr   string // host:port
	Secret string
	// Attrs are radclient input lines ("User-Name = \"alice\"").
	Attrs []string
	// MessageAuthenticator adds Message-Authenticator = 0x00, which makes
	// radclient compute the attribute.
	MessageAuthenticator bool
	Timeout              float64 // seconds before a retransmit (default 20)
	Retries              int     // retransmits after a timeout (default 0: one send)
}

// pap builds a PAP request for user with password.
func pap(addr, secret, user, password string) radRequest {
	return radRequest{Addr: addr, Secret: secret, MessageAuthenticator: true,
		Attrs: []string{"User-Name = " + quote(user), "User-Password = " + quote(password)}}
}

// quote is a FreeRADIUS string literal.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// radclient sends r with FreeRADIUS's radclient and parses the answer.
func radclient(t testing.TB, r radRequest) radReply {
	t.Helper()
	lines := append([]string(nil), r.Attrs...)
	if r.MessageAuthenticator {
		lines = append(lines, "Message-Authenticator = 0x00")
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 20
	}
	args := []string{"-x", "-t", strconv.FormatFloat(timeout, 'f', -1, 64), "-r", strconv.Itoa(r.Retries + 1), r.Addr, "auth", r.Secret}
	return runRad(t, "radclient", args, strings.Join(lines, "\n")+"\n")
}

// radclientStatus sends a Status-Server with radclient (with
// Message-Authenticator when ma) and parses the answer.
func radclientStatus(t testing.TB, addr, secret string, ma bool) radReply {
	t.Helper()
	in := "NAS-Identifier = \"e2e\"\n"
	if ma {
		in += "Message-Authenticator = 0x00\n"
	}
	return runRad(t, "radclient", []string{"-x", "-t", "1", "-r", "1", addr, "status", secret}, in)
}

// radtest runs FreeRADIUS's radtest (PAP): radtest user password addr 0 secret.
func radtest(t testing.TB, addr, secret, user, password string) radReply {
	t.Helper()
	return runRad(t, "radtest", []string{user, password, addr, "0", secret}, "")
}

func runRad(t testing.TB, name string, args []string, stdin string) radReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v\n%s", name, err, out.String())
	}
	return parseRadclient(out.String())
}

// parseRadclient reads the last "Received …" block of radclient -x.
func parseRadclient(out string) radReply {
	r := radReply{Attrs: map[string][]string{}, Out: out}
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "Received ") {
			start = i
		}
	}
	if start < 0 {
		return r
	}
	if f := strings.Fields(lines[start]); len(f) > 1 {
		r.Code = f[1]
	}
	for _, l := range lines[start+1:] {
		if !strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, " ") {
			break
		}
		name, value, ok := strings.Cut(strings.TrimSpace(l), " = ")
		if !ok {
			continue
		}
		r.Attrs[name] = append(r.Attrs[name], unquote(value))
	}
	return r
}

// unquote undoes FreeRADIUS's printing of a string value.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// wantCode fails the test unless the answer has the code.
func wantCode(t testing.TB, r radReply, code string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("answer %q, want %q\nradclient output:\n%s", r.Code, code, r.Out)
	}
}

// wantReply fails unless the Reply-Message contains want.
func wantReply(t testing.TB, r radReply, want string) {
	t.Helper()
	if !strings.Contains(r.Reply(), want) {
		t.Fatalf("Reply-Message %q does not contain %q\nradclient output:\n%s", r.Reply(), want, r.Out)
	}
}

// apiCalls counts the Auth API requests Assent logged for ikey on path.
func apiCalls(as *assenttest.Server, ikey, path string) int {
	n := 0
	for _, l := range strings.Split(as.Logs(), "\n") {
		if strings.Contains(l, "msg=request ") && strings.Contains(l, "path="+path+" ") && strings.Contains(l, "ikey="+ikey) {
			n++
		}
	}
	return n
}

// eventually polls cond for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// section writes one server section of an authproxy.cfg.
func section(name string, kv ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n", name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s = %s\n", kv[i], kv[i+1])
	}
	b.WriteString("\n")
	return b.String()
}

// absPath joins and cleans a path under dir.
func absPath(dir string, elem ...string) string {
	return filepath.Join(append([]string{dir}, elem...)...)
}

// startPhoneChallenge is the setup of the telephony tests: slapd with
// user (password user+"pw", in vpnusers), Assent with flags and the user's
// phone number, and a radius_server_challenge proxy (ad_client first)
// in front of it. It returns the proxy's RADIUS address.
func startPhoneChallenge(t *testing.T, user, number, secret string, flags map[string]string) string {
	t.Helper()
	ldap := ldaptest.Start(t, ldaptest.Options{Users: []ldaptest.User{{Name: user, Password: user + "pw", Groups: []string{"vpnusers"}}}})
	as := assenttest.Start(t, assenttest.Options{Flags: flags})
	as.User(t, user)
	if _, err := as.App.Core.AddNumberPhone(assenttest.Ctx(t), user, number, "", ""); err != nil {
		t.Fatal(err)
	}
	conn, port := udpSocket(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ikey, skey := as.AuthAPI(t, "radius "+user, store.PolicyEnroll)
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
	return addr
}

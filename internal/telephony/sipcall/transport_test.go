package sipcall

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/sipptest"
)

// SIP over TCP, with SIPp as the trunk and the registrar (-t t1). Debian's
// SIPp is built without OpenSSL (-t l1 refuses to start), so TLS is tested
// against sipgo's own server instead (tls_test.go).

// sippTCPRegistrar accepts one REGISTER over TCP after a digest challenge,
// checking that Via and Contact name TCP, then the removal of the binding
// at Close.
var sippTCPRegistrar = sipptest.Registrar("alice", "s3cret", `    <ereg regexp="^ *SIP/2\.0/TCP 127\.0\.0\.1:[0-9]+;" search_in="hdr" header="Via:" check_it="true" assign_to="via"/>
    <ereg regexp="transport=tcp" search_in="hdr" header="Contact:" check_it="true" assign_to="contact"/>
    <ereg regexp="^REGISTER sip:127\.0\.0\.1:[0-9]+;transport=tcp SIP/2\.0" search_in="msg" check_it="true" assign_to="ruri"/>
    <log message="REGISTER via [$via] contact [$contact] ruri [$ruri]"/>`)

// TestRegisterAndCallOverTCPWithSIPp: with sip_transport tcp, Assent
// listens on TCP, registers over TCP (digest challenge answered) and calls
// a number through a trunk over TCP; the callee answers and presses 1
// (RFC 4733 over RTP, which stays UDP), so the call is approved; Close
// removes the binding, over TCP too.
func TestRegisterAndCallOverTCPWithSIPp(t *testing.T) {
	phone := sipptest.NewTCP(t)
	wait := phone.Expect(t, sipptest.Answer{Key: "1", Ring: 100 * time.Millisecond})
	reg := sipptest.StartTCP(t, sippTCPRegistrar)

	c, err := New(Config{ListenAddr: "127.0.0.1:0", Transport: "tcp", Registrar: reg.Addr(),
		OutboundProxy: phone.Addr(), Username: "alice", Password: "s3cret",
		RingTimeout: 5 * time.Second, AnswerTimeout: 5 * time.Second, MaxDuration: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start (REGISTER over TCP): %v", err)
	}
	// Assent listens on TCP at its advertised address.
	conn, err := net.Dial("tcp", c.LocalAddr().String())
	if err != nil {
		t.Errorf("Assent does not listen on TCP %s: %v", c.LocalAddr(), err)
	} else {
		conn.Close()
	}
	got, err := c.Call(t.Context(), "+1 555-0100", DefaultPrompt(), nil)
	if got != Approved || err != nil {
		t.Errorf("Call over TCP = %s, %v; want approved", got, err)
	}
	if n := wait().Number; n != "+15550100" {
		t.Errorf("the trunk was asked for %q", n)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	reg.Wait() // fails the test, with SIPp's logs, unless the scenario completed
}

func TestValidateTransport(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t)
	_, certFile, keyFile := ca.issue(t, "127.0.0.1")
	tests := []struct {
		name string
		cfg  Config
		want []string // every problem named; none: valid
	}{
		{"udp by default", Config{}, nil},
		{"tcp", Config{Transport: "tcp", OutboundProxy: "pbx:5060"}, nil},
		{"tls with system roots", Config{Transport: "tls", OutboundProxy: "pbx:5061"}, nil},
		{"tls with a CA and a certificate", Config{Transport: "tls", Registrar: "pbx:5061", Username: "a", TLSCAFile: ca.file, TLSCertFile: certFile, TLSKeyFile: keyFile}, nil},
		{"unknown transport", Config{Transport: "sctp"}, []string{`transport "sctp"`}},
		{"tls: every problem", Config{Transport: "tls", TLSCAFile: filepath.Join(dir, "missing.pem"), TLSCertFile: certFile},
			[]string{"needs an outbound proxy or registrar", "CA file", "missing.pem", "set both or neither"}},
		{"tls: a CA file without certificates, a key that is not one", Config{Transport: "tls", OutboundProxy: "pbx:5061", TLSCAFile: notPEM, TLSCertFile: certFile, TLSKeyFile: notPEM},
			[]string{"holds no PEM certificate", "sip TLS certificate " + certFile}},
		{"TLS files without tls", Config{Transport: "tcp", TLSCAFile: ca.file}, []string{"the transport is tcp, not tls"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid configuration refused: %v", err)
				}
				if _, err := New(tc.cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, nerr := New(tc.cfg); nerr == nil {
				t.Error("New accepted what Validate refuses")
			}
		})
	}
}

// Package sipptest runs SIPp (Debian sip-tester) as the phone a
// phone-callback call reaches: a trunk on a loopback UDP (or TCP) port that
// answers one call per Expect the way a person would (answer and press a
// key, or let it ring). Used by the end-to-end tests of factor=phone.
package sipptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// pcapDir holds the RFC 4733 key presses sip-tester ships
// (dtmf_2833_N.pcap, payload type 101).
const pcapDir = "/usr/share/sip-tester"

// Phone is a SIPp trunk on 127.0.0.1:Port, over UDP unless TCP.
type Phone struct {
	Port int
	TCP  bool // SIPp's -t t1: one TCP connection for all calls
}

// New reserves a port for the phone; the test is skipped without sipp
// (failed under CI).
func New(t testing.TB) *Phone {
	t.Helper()
	_, err := exec.LookPath("sipp")
	testutil.Require(t, "sipp (Debian sip-tester)", err == nil)
	_, err = os.Stat(filepath.Join(pcapDir, "dtmf_2833_1.pcap"))
	testutil.Require(t, "sip-tester's DTMF pcap files", err == nil)
	return &Phone{Port: freeUDPPort(t)}
}

// NewTCP is New with a trunk listening on TCP (sip_transport = "tcp").
func NewTCP(t testing.TB) *Phone {
	t.Helper()
	p := New(t)
	p.Port, p.TCP = freeTCPPort(t), true
	return p
}

// Addr is the trunk's host:port (sip_outbound_proxy).
func (p *Phone) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Answer is how the phone answers the next call.
type Answer struct {
	// Key is the key pressed once answered (RFC 4733); "" lets the call
	// ring until it is cancelled.
	Key string
	// Ring is how long the phone rings before it answers; Hold how long
	// it waits after answering before the key, while the prompt plays.
	Ring, Hold time.Duration
	// User and Password, when set, make the trunk challenge the INVITE
	// (401, digest) and check the answer: a wrong one gets 403.
	User, Password string
	// Refuse, when set, answers the INVITE with this final status (503:
	// the trunk is down) instead of ringing.
	Refuse int
	// Extension, when set, makes the phone a PBX's attendant that takes
	// no telephone-event: it expects these digits as SIP INFO
	// (application/dtmf-relay) once answered, fails the scenario on any
	// other, and then presses Key as SIP INFO too.
	Extension string
}

// Call is what the trunk saw of a call.
type Call struct {
	Number    string // the user part of the request's To: +15555550123
	DigestOK  bool   // the challenge was answered with the right password
	Extension string // the digits dialled after the answer (Answer.Extension)
}

const head = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="assent-phone">
<recv request="INVITE" crlf="true">
  <action>
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
    <ereg regexp="sip:[^@]*@" search_in="hdr" header="To:" assign_to="dialled"/>
    <log message="INVITE [$dialled] cseq [$invite_cseq]"/>%s
  </action>
</recv>
`

// challenge answers the first INVITE with 401 and checks the second's
// digest (%s: user, password); a wrong one gets 403 and the scenario ends.
const challenge = `<send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="assent.test", nonce="6a1f0d3b9c", algorithm=MD5, qop="auth"
Content-Length: 0

]]></send>
<recv request="ACK"/>
<recv request="INVITE" crlf="true">
  <action>
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq2"/>
    <verifyauth assign_to="authvalid" username="%s" password="%s"/>
    <log message="INVITE again, cseq [$invite_cseq2]"/>
  </action>
</recv>
<nop test="authvalid" next="good"/>
<send><![CDATA[
SIP/2.0 403 Forbidden
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<recv request="ACK"/>
<nop next="end"/>
<label id="good"/>
<nop><action><log message="digest accepted"/></action></nop>
`

const ringing = `<send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
`

const answerAndKey = `<pause milliseconds="%d"/>
<send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15

]]></send>
<recv request="ACK" crlf="true"/>
<pause milliseconds="%d"/>
<nop><action><exec play_pcap_audio="%s"/></action></nop>
<recv request="BYE"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
`

// captureDialog keeps what an in-dialog request from the phone needs: our
// From (its To) and our Contact (its request URI).
const captureDialog = `
    <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
    <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="contact"/>
    <log message="dialog [$remote_from] [$contact]"/>`

// answerNoEvents answers with G.711 only (no telephone-event), so keys go
// as SIP INFO (%d: ring ms).
const answerNoEvents = `<pause milliseconds="%d"/>
<send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
<recv request="ACK" crlf="true"/>
`

// expectDigit receives one extension digit as INFO and fails the scenario
// unless it is %s (a regexp); %d numbers the capture.
const expectDigit = `<recv request="INFO">
  <action>
    <ereg regexp="Signal=%s" search_in="body" check_it="true" assign_to="digit%d"/>
    <log message="extension digit [$digit%d]"/>
  </action>
</recv>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
`

// infoKey presses a key as SIP INFO after a pause (%d ms, %s key), then
// waits for our BYE.
const infoKey = `<pause milliseconds="%d"/>
<send><![CDATA[
INFO [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
To: [$remote_from]
[last_Call-ID:]
CSeq: 2 INFO
Max-Forwards: 70
Contact: <sip:[local_ip]:[local_port]>
Content-Type: application/dtmf-relay
Content-Length: [len]

Signal=%s
Duration=160
]]></send>
<recv response="200"/>
<recv request="BYE"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
`

const tail = `<label id="end"/>
</scenario>
`

// refuse answers the INVITE with a final status (%d %s).
const refuse = `<send><![CDATA[
SIP/2.0 %d %s
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<recv request="ACK"/>
`

const ringUntilCancelled = `<recv request="CANCEL"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [$%s] INVITE
Content-Length: 0

]]></send>
<recv request="ACK"/>
`

// Expect starts SIPp for one call answered as a says, once its port is
// bound. The returned wait blocks until SIPp ran the scenario to its end
// and fails the test otherwise (with SIPp's logs); it returns what the
// trunk saw.
func (p *Phone) Expect(t testing.TB, a Answer) (wait func() Call) {
	t.Helper()
	dir := t.TempDir()
	capture := ""
	if a.Extension != "" {
		capture = captureDialog
	}
	scen := fmt.Sprintf(head, capture)
	cseq := "invite_cseq"
	if a.User != "" {
		scen += fmt.Sprintf(challenge, a.User, a.Password)
		cseq = "invite_cseq2"
	}
	switch {
	case a.Refuse != 0:
		scen += fmt.Sprintf(refuse, a.Refuse, http.StatusText(a.Refuse))
	case a.Extension != "":
		scen += ringing
		scen += fmt.Sprintf(answerNoEvents, max(a.Ring.Milliseconds(), 1))
		for i, d := range a.Extension {
			scen += fmt.Sprintf(expectDigit, regexp.QuoteMeta(string(d)), i, i)
		}
		scen += fmt.Sprintf(infoKey, max(a.Hold.Milliseconds(), 200), a.Key)
	case a.Key == "":
		scen += ringing
		scen += fmt.Sprintf(ringUntilCancelled, cseq)
	default:
		scen += ringing
		scen += fmt.Sprintf(answerAndKey, max(a.Ring.Milliseconds(), 1), max(a.Hold.Milliseconds(), 200), filepath.Join(pcapDir, "dtmf_2833_"+a.Key+".pcap"))
	}
	scen += tail
	file := filepath.Join(dir, "uas.xml")
	if err := os.WriteFile(file, []byte(scen), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	transport := "u1"
	if p.TCP {
		transport = "t1"
	}
	cmd := exec.CommandContext(ctx, "sipp", "-sf", file, "-t", transport, "-i", "127.0.0.1", "-p", fmt.Sprint(p.Port),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(freeUDPPort(t)), "-m", "1", "-nostdin", "-timeout", "50s",
		"-trace_err", "-trace_msg", "-trace_logs", "-message_file", filepath.Join(dir, "messages.log"),
		"-error_file", filepath.Join(dir, "errors.log"), "-log_file", filepath.Join(dir, "log.log"))
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	dump := func() {
		for _, f := range []string{"messages.log", "errors.log", "log.log"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			t.Logf("sipp %s:\n%s", f, b)
		}
		t.Logf("sipp output:\n%s", out.String())
	}
	// SIPp has bound its port once we cannot.
	for deadline := time.Now().Add(20 * time.Second); ; {
		var c io.Closer
		var err error
		if p.TCP {
			c, err = net.Listen("tcp4", p.Addr())
		} else {
			c, err = net.ListenPacket("udp4", p.Addr())
		}
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			cancel()
			dump()
			t.Fatalf("sipp did not bind %s (a scenario error?)", p.Addr())
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			dump()
			t.Fatalf("sipp ended before binding %s: %v", p.Addr(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return func() Call {
		t.Helper()
		select {
		case err := <-done:
			done <- err // for the cleanup
			if err != nil {
				dump()
				t.Fatalf("sipp: %v (the scenario did not complete)", err)
			}
		case <-ctx.Done():
			dump()
			t.Fatal("sipp did not finish")
		}
		b, _ := os.ReadFile(filepath.Join(dir, "log.log"))
		_, after, _ := strings.Cut(string(b), "INVITE sip:")
		number, _, _ := strings.Cut(after, "@")
		var ext strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			if _, d, ok := strings.Cut(line, "extension digit Signal="); ok {
				ext.WriteString(strings.TrimSpace(d))
			}
		}
		return Call{Number: number, DigestOK: strings.Contains(string(b), "digest accepted"), Extension: ext.String()}
	}
}

func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

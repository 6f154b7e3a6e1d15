// Package sipptest runs SIPp (Debian sip-tester) as the other end of a SIP
// test: a Phone is a trunk on a loopback UDP (or TCP) port that answers one call per
// Expect the way a person would (answer and press a key, hang up, or let
// it ring); Start runs any other scenario (a registrar, say). Used by the
// sipcall tests and the end-to-end tests of factor=phone.
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
	requireSIPp(t)
	_, err := os.Stat(filepath.Join(pcapDir, "dtmf_2833_1.pcap"))
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

func requireSIPp(t testing.TB) {
	t.Helper()
	_, err := exec.LookPath("sipp")
	testutil.Require(t, "sipp (Debian sip-tester)", err == nil)
}

// Addr is the trunk's host:port (sip_outbound_proxy).
func (p *Phone) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Then is what the phone does once it has answered.
type Then int

const (
	// PressKey sends Answer.Key as RFC 4733 audio (sip-tester's pcap).
	PressKey Then = iota
	// InfoKey sends Answer.Key in a SIP INFO (application/dtmf-relay).
	InfoKey
	// HangUp sends a BYE.
	HangUp
	// StaySilent presses nothing and waits for the caller's BYE.
	StaySilent
)

// Answer is how the phone answers the next call.
type Answer struct {
	// Key is the key pressed once answered; "" (with PressKey or InfoKey)
	// lets the call ring until it is cancelled.
	Key string
	// Then is what follows the answer; PressKey by default.
	Then Then
	// Ring is how long the phone rings before it answers (50 ms at least:
	// a 180 and a 200 sent back to back can reach the caller's dialog
	// together and the ringing be lost); Hold how long it waits after
	// answering before Then (200 ms at least; none before StaySilent),
	// while the prompt plays.
	Ring, Hold time.Duration
	// NoRinging answers without a 180 first.
	NoRinging bool
	// AudioPort, when set, makes the answer name 127.0.0.1:AudioPort as
	// the phone's audio, so that the test's socket there receives what the
	// callee is sent (SIPp 3.6 records no RTP).
	AudioPort int
	// User and Password, when set, make the trunk challenge the INVITE
	// (401, digest) and check the answer: a wrong one gets 403.
	User, Password string
	// Refuse, when set, answers the INVITE with this final status (503:
	// the trunk is down) instead of ringing.
	Refuse int
	// Extension, when set, makes the phone a PBX's attendant that takes
	// no telephone-event: once answered it expects these digits as SIP
	// INFO (application/dtmf-relay), in order, and fails the scenario on
	// any other; Key then goes as SIP INFO too (PressKey is InfoKey).
	Extension string
}

// Call is what the trunk saw of a call.
type Call struct {
	Number     string // the user part of the request's To: +15555550123
	RequestURI string // the INVITE's: sip:+15555550123@127.0.0.1;user=phone
	DigestOK   bool   // the challenge was answered with the right password
	Extension  string // the digits dialled after the answer (Answer.Extension)
}

// Scenario pieces; SIPp refuses a variable that is assigned and never
// used, so the log uses every capture.
const (
	// Head starts a scenario.
	Head = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="assent">
`
	// Tail ends a scenario; <nop next="end"/> jumps to it.
	Tail = `<label id="end"/>
</scenario>
`
)

const recvInvite = `<recv request="INVITE" crlf="true">
  <action>
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
    <ereg regexp="sip:[^@]*@" search_in="hdr" header="To:" assign_to="dialled"/>
    <ereg regexp="^INVITE [^ ]+" search_in="msg" assign_to="ruri"/>
    <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
    <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="contact"/>
    <log message="dialled [$dialled] request [$ruri] cseq [$invite_cseq] contact [$contact] from [$remote_from]"/>
  </action>
</recv>
`

// challenge answers the first INVITE with 401 and checks the second's
// digest (%s: user, password); a wrong one gets 403 and the scenario ends.
var challenge = respond(`401 Unauthorized`, `WWW-Authenticate: Digest realm="assent.test", nonce="6a1f0d3b9c", algorithm=MD5, qop="auth"`) + `<recv request="ACK"/>
<recv request="INVITE" crlf="true">
  <action>
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq2"/>
    <verifyauth assign_to="authvalid" username="%s" password="%s"/>
    <log message="INVITE again, cseq [$invite_cseq2]"/>
  </action>
</recv>
<nop test="authvalid" next="good"/>
` + respond(`403 Forbidden`) + `<recv request="ACK"/>
<nop next="end"/>
<label id="good"/>
<nop><action><log message="digest accepted"/></action></nop>
`

var ringing = respond(`180 Ringing`, `Contact: <sip:[local_ip]:[local_port];transport=[transport]>`)

// answer is the 200 with an SDP (%s: origin address, %s: media address,
// %s: media port) and its ACK.
const answer = `<send retrans="500"><![CDATA[
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
o=sipp 53655765 2353687637 IN %s
s=-
c=IN %s
t=0 0
m=audio %s RTP/AVP %s

]]></send>
<recv request="ACK" crlf="true"/>
`

// Media formats of the answer: G.711 μ-law with telephone-event, or
// without (an attendant that hears keys only as SIP INFO).
const (
	withEvents = `0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15`
	withoutEvents = `0
a=rtpmap:0 PCMU/8000`
)

// expectDigit receives one extension digit as INFO and fails the scenario
// unless its Signal matches %s (a regexp); %d numbers the capture.
const expectDigit = `<recv request="INFO">
  <action>
    <ereg regexp="Signal=%s" search_in="body" check_it="true" assign_to="digit%d"/>
    <log message="extension digit [$digit%d]"/>
  </action>
</recv>
` + okToLast

const pause = `<pause milliseconds="%d"/>
`

// pressKey plays a key's pcap (%s).
const pressKey = `<nop><action><exec play_pcap_audio="%s"/></action></nop>
`

// infoKey sends a key (%s) in a SIP INFO.
const infoKey = `<send><![CDATA[
INFO [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
To:[$remote_from]
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
`

const hangUp = `<send><![CDATA[
BYE [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
To:[$remote_from]
[last_Call-ID:]
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
`

// okToLast answers the request just received with 200.
const okToLast = `<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
`

const byeFromCaller = `<recv request="BYE"/>
` + okToLast

// refuse answers the INVITE with a final status (%d %s).
var refuse = respond(`%d %s`) + `<recv request="ACK"/>
`

// ringUntilCancelled answers the CANCEL and ends the INVITE (%s: the
// variable holding its CSeq number) with 487.
const ringUntilCancelled = `<recv request="CANCEL"/>
` + okToLast + `<send><![CDATA[
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

// registrar is Registrar's scenario after the first REGISTER (%s: user,
// %s: password).
var registrar = respond(`401 Unauthorized`, `WWW-Authenticate: Digest realm="assent.test", nonce="77aa0d3b9c", algorithm=MD5`) + `<recv request="REGISTER">
  <action><verifyauth assign_to="authvalid" username="%s" password="%s"/></action>
</recv>
<nop test="authvalid" next="good"/>
` + respond(`403 Forbidden`) + `<nop next="end"/>
<label id="good"/>
` + respond(`200 OK`, `[last_Contact:];expires=3600`) + `<recv request="REGISTER">
  <action><ereg regexp="^ *0$" search_in="hdr" header="Expires:" check_it="true" assign_to="unreg"/></action>
</recv>
` + respond(`200 OK`, `X-Unregistered: [$unreg]`)

// Registrar is a registrar's scenario (for Start or StartTCP) for one
// binding: the first REGISTER, which must pass checks (SIPp actions, such
// as ereg with check_it; "" for none), is challenged with a digest; the
// second must answer it for user and password, else it gets 403 and the
// scenario ends; it is bound for an hour, and a last REGISTER with
// Expires 0 removes the binding.
func Registrar(user, password, checks string) string {
	first := `<recv request="REGISTER"/>
`
	if checks != "" {
		first = "<recv request=\"REGISTER\">\n  <action>\n" + checks + "\n  </action>\n</recv>\n"
	}
	return Head + first + fmt.Sprintf(registrar, user, password) + Tail
}

// respond answers the last request with status ("403 Forbidden") and
// headers, in the dialog SIPp's To tag names.
func respond(status string, headers ...string) string {
	var h strings.Builder
	for _, l := range headers {
		h.WriteString(l + "\n")
	}
	return "<send><![CDATA[\nSIP/2.0 " + status + "\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n" +
		"[last_Call-ID:]\n[last_CSeq:]\n" + h.String() + "Content-Length: 0\n\n]]></send>\n"
}

// reasons are the SIP reason phrases that differ from HTTP's.
var reasons = map[int]string{480: "Temporarily Unavailable", 486: "Busy Here", 487: "Request Terminated", 600: "Busy Everywhere", 603: "Decline"}

func reason(status int) string {
	if r, ok := reasons[status]; ok {
		return r
	}
	if r := http.StatusText(status); r != "" {
		return r
	}
	return "Refused"
}

// Scenario is the SIPp scenario of a call answered as a says.
func (a Answer) Scenario() string {
	var b strings.Builder
	b.WriteString(Head + recvInvite)
	cseq := "invite_cseq"
	if a.User != "" {
		fmt.Fprintf(&b, challenge, a.User, a.Password)
		cseq = "invite_cseq2"
	}
	if a.Refuse != 0 {
		fmt.Fprintf(&b, refuse, a.Refuse, reason(a.Refuse))
		return b.String() + Tail
	}
	if a.Key == "" && (a.Then == PressKey || a.Then == InfoKey) {
		fmt.Fprintf(&b, ringing+ringUntilCancelled, cseq)
		return b.String() + Tail
	}
	if !a.NoRinging {
		fmt.Fprintf(&b, ringing+pause, max(a.Ring.Milliseconds(), 50))
	}
	origin, media, port := "IP[local_ip_type] [local_ip]", "IP[media_ip_type] [media_ip]", "[media_port]"
	if a.AudioPort != 0 {
		origin, media, port = "IP4 127.0.0.1", "IP4 127.0.0.1", fmt.Sprint(a.AudioPort)
	}
	formats := withEvents
	if a.Extension != "" {
		formats = withoutEvents
		if a.Then == PressKey {
			a.Then = InfoKey
		}
	}
	fmt.Fprintf(&b, answer, origin, media, port, formats)
	for i, d := range a.Extension {
		fmt.Fprintf(&b, expectDigit, regexp.QuoteMeta(string(d)), i, i)
	}
	if a.Then != StaySilent {
		fmt.Fprintf(&b, pause, max(a.Hold.Milliseconds(), 200))
	}
	switch a.Then {
	case PressKey:
		fmt.Fprintf(&b, pressKey, filepath.Join(pcapDir, "dtmf_2833_"+a.Key+".pcap"))
	case InfoKey:
		fmt.Fprintf(&b, infoKey, a.Key)
	case HangUp:
		return b.String() + hangUp + Tail
	}
	return b.String() + byeFromCaller + Tail
}

// Expect starts SIPp for one call answered as a says, once its port is
// bound. The returned wait blocks until SIPp ran the scenario to its end
// and fails the test otherwise (with SIPp's logs); it returns what the
// trunk saw.
func (p *Phone) Expect(t testing.TB, a Answer) (wait func() Call) {
	t.Helper()
	r := start(t, p.Port, p.TCP, a.Scenario())
	return func() Call {
		t.Helper()
		r.Wait()
		log := r.file("log.log")
		var ext strings.Builder
		for _, line := range strings.Split(log, "\n") {
			if _, d, ok := strings.Cut(line, "extension digit Signal="); ok {
				ext.WriteString(strings.TrimSpace(d))
			}
		}
		return Call{Number: between(log, "dialled sip:", "@"), RequestURI: between(log, "request INVITE ", " "),
			DigestOK: strings.Contains(log, "digest accepted"), Extension: ext.String()}
	}
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}

// Run is one SIPp process running a scenario once (-m 1) on 127.0.0.1:Port.
type Run struct {
	Port int
	TCP  bool
	t    testing.TB
	dir  string
	out  bytes.Buffer
	ctx  context.Context
	done chan error
}

// Start runs SIPp with a scenario (SIPp's XML: Head, the test's own
// messages, Tail) on a free port and returns once SIPp has bound it; the
// test is skipped without sipp (failed under CI).
func Start(t testing.TB, scenario string) *Run {
	t.Helper()
	requireSIPp(t)
	return start(t, freeUDPPort(t), false, scenario)
}

// StartTCP is Start with SIPp on a TCP port (-t t1).
func StartTCP(t testing.TB, scenario string) *Run {
	t.Helper()
	requireSIPp(t)
	return start(t, freeTCPPort(t), true, scenario)
}

func start(t testing.TB, port int, tcp bool, scenario string) *Run {
	t.Helper()
	r := &Run{Port: port, TCP: tcp, t: t, dir: t.TempDir(), done: make(chan error, 1)}
	file := filepath.Join(r.dir, "scenario.xml")
	if err := os.WriteFile(file, []byte(scenario), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	r.ctx = ctx
	transport := "u1"
	if tcp {
		transport = "t1"
	}
	cmd := exec.CommandContext(ctx, "sipp", "-sf", file, "-t", transport, "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(freeUDPPort(t)), "-m", "1", "-nostdin", "-timeout", "50s",
		"-trace_err", "-trace_msg", "-trace_logs", "-message_file", filepath.Join(r.dir, "messages.log"),
		"-error_file", filepath.Join(r.dir, "errors.log"), "-log_file", filepath.Join(r.dir, "log.log"))
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		r.done <- <-r.done // for a later Wait
	})
	// SIPp has bound its port once we cannot.
	for deadline := time.Now().Add(20 * time.Second); ; {
		var c io.Closer
		var err error
		if tcp {
			c, err = net.Listen("tcp4", r.Addr())
		} else {
			c, err = net.ListenPacket("udp4", r.Addr())
		}
		if err != nil {
			return r
		}
		c.Close()
		if time.Now().After(deadline) {
			cancel()
			r.done <- <-r.done // SIPp has ended: its output is complete
			r.dump()
			t.Fatalf("sipp did not bind %s (a scenario error?)", r.Addr())
		}
		select {
		case err := <-r.done:
			r.done <- err // for the cleanup
			r.dump()
			t.Fatalf("sipp ended before binding %s: %v", r.Addr(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr is SIPp's host:port.
func (r *Run) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

// Wait blocks until SIPp ran the scenario to its end and fails the test
// otherwise, with SIPp's logs.
func (r *Run) Wait() {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			r.dump()
			r.t.Fatalf("sipp: %v (the scenario did not complete)", err)
		}
	case <-r.ctx.Done():
		r.dump()
		r.t.Fatal("sipp did not finish")
	}
}

func (r *Run) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, name))
	return string(b)
}

func (r *Run) dump() {
	for _, f := range []string{"messages.log", "errors.log", "log.log"} {
		r.t.Logf("sipp %s:\n%s", f, r.file(f))
	}
	r.t.Logf("sipp output:\n%s", r.out.String())
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

package sipcall

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// These tests use SIPp (Debian sip-tester) as the phone: a UAS scenario per
// behaviour, run once (-m 1). The RFC 4733 key presses are the pcap files
// sip-tester ships (/usr/share/sip-tester/dtmf_2833_N.pcap, payload type 101)
// played by SIPp's play_pcap_audio towards the media address of our offer.

const pcapDir = "/usr/share/sip-tester"

// Scenario pieces. [..] is SIPp's substitution; {{..}} is ours.
const sippHead = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="assent">
`

// SIPp refuses variables that are set and never used, so the captures are
// added only where a later part uses them.
const sippRecvInvite = `<recv request="INVITE" crlf="true">
  <action>
{{- if .UsesFrom}}
    <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>{{end}}
{{- if .UsesCSeq}}
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>{{end}}
    <log message="INVITE received"/>
  </action>
</recv>
`

// sippRinging rings for a moment before what follows, as a phone does: a
// 180 and a 200 sent back to back can reach sipgo's dialog together, and
// then the 180 (only reported as progress "ringing") may not be seen.
const sippRinging = `<send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
<pause milliseconds="50"/>
`

const sippOK = `<send retrans="500"><![CDATA[
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
`

// sippOKSink answers like sippOK but names the test's own UDP socket as the
// media address (c=/m=), so the test hears what the callee is sent (SIPp
// 3.6 records no RTP, and its -rtp_echo would only send the audio back to
// Assent's own socket); then sippListen lets the prompt play for 1.5 s
// before sippHangUp.
const sippOKSink = `<send retrans="500"><![CDATA[
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
o=sipp 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {{.SinkPort}} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15

]]></send>
<recv request="ACK" crlf="true"/>
`

const sippListen = `<pause milliseconds="1500"/>
`

const sippByeFromUs = `<recv request="BYE"/>
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

const sippPcap = `<pause milliseconds="200"/>
<nop><action><exec play_pcap_audio="{{.Pcap}}"/></action></nop>
`

const sippInfo = `<pause milliseconds="200"/>
<send><![CDATA[
INFO {{.Contact}} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
To:[$remote_from]
[last_Call-ID:]
CSeq: 2 INFO
Max-Forwards: 70
Contact: <sip:[local_ip]:[local_port]>
Content-Type: application/dtmf-relay
Content-Length: [len]

Signal={{.Digit}}
Duration=160
]]></send>
<recv response="200"/>
`

const sippHangUp = `<pause milliseconds="300"/>
<send><![CDATA[
BYE {{.Contact}} SIP/2.0
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

const sippCancelled = `<recv request="CANCEL"/>
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
CSeq: [$invite_cseq] INVITE
Content-Length: 0

]]></send>
<recv request="ACK"/>
`

const sippBusy = `<send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<recv request="ACK"/>
`

const sippChallenge = `<send><![CDATA[
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
    <verifyauth assign_to="authvalid" username="alice" password="s3cret"/>
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
`

const sippTail = `<label id="end"/>
</scenario>
`

type sippCase struct {
	name    string
	parts   []string
	pcap    string // dtmf_2833_N.pcap
	digit   string // for INFO
	cfg     func(*Config)
	want    Outcome
	wantErr bool
	states  string // progress reported, joined by ","
	hears   bool   // the media goes to the test (sippOKSink): check the prompt arrives
}

func TestCallWithSIPp(t *testing.T) {
	_, err := exec.LookPath("sipp")
	testutil.Require(t, "sipp (Debian sip-tester)", err == nil)
	_, err = os.Stat(filepath.Join(pcapDir, "dtmf_2833_1.pcap"))
	testutil.Require(t, "sip-tester's DTMF pcap files", err == nil)

	before := runtime.NumGoroutine()
	defer func() {
		if !t.Failed() {
			checkNoLeak(t, before)
		}
	}()
	answered := "calling,ringing,answered"
	cases := []sippCase{
		{name: "rfc4733 key 1 approves", parts: []string{sippRecvInvite, sippRinging, sippOK, sippPcap, sippByeFromUs}, pcap: "dtmf_2833_1.pcap", want: Approved, states: answered},
		{name: "rfc4733 key 2 denies", parts: []string{sippRecvInvite, sippRinging, sippOK, sippPcap, sippByeFromUs}, pcap: "dtmf_2833_2.pcap", want: Denied, states: answered},
		{name: "info key 1 approves", parts: []string{sippRecvInvite, sippRinging, sippOK, sippInfo, sippByeFromUs}, digit: "1", want: Approved, states: answered},
		{name: "info key 2 denies", parts: []string{sippRecvInvite, sippRinging, sippOK, sippInfo, sippByeFromUs}, digit: "2", want: Denied, states: answered},
		{name: "hang up denies", parts: []string{sippRecvInvite, sippRinging, sippOK, sippHangUp}, want: HungUp, states: answered},
		{name: "callee hears the spoken prompt", parts: []string{sippRecvInvite, sippRinging, sippOKSink, sippListen, sippHangUp}, want: HungUp, states: answered, hears: true},
		{name: "answered, no key", parts: []string{sippRecvInvite, sippRinging, sippOK, sippByeFromUs}, want: Timeout, states: answered,
			cfg: func(c *Config) { c.AnswerTimeout = 700 * time.Millisecond }},
		{name: "no answer cancels", parts: []string{sippRecvInvite, sippRinging, sippCancelled}, want: NoAnswer, states: "calling,ringing",
			cfg: func(c *Config) { c.RingTimeout = 700 * time.Millisecond }},
		{name: "busy", parts: []string{sippRecvInvite, sippBusy}, want: Busy, states: "calling"},
		{name: "digest challenge then answer", parts: []string{sippRecvInvite, sippChallenge, sippOK, sippPcap, sippByeFromUs}, pcap: "dtmf_2833_1.pcap", want: Approved, states: "calling,answered",
			cfg: func(c *Config) { c.Username, c.Password = "alice", "s3cret" }},
		{name: "digest with a wrong password fails", parts: []string{sippRecvInvite, sippChallenge, sippOK, sippByeFromUs}, want: Failed, wantErr: true, states: "calling",
			cfg: func(c *Config) { c.Username, c.Password = "alice", "wrong" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runSIPpCase(t, tc)
		})
	}
}

func runSIPpCase(t *testing.T, tc sippCase) {
	cfg := Config{ListenAddr: "127.0.0.1:0", RingTimeout: 5 * time.Second, AnswerTimeout: 5 * time.Second, MaxDuration: 15 * time.Second}
	if tc.cfg != nil {
		tc.cfg(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var sink *net.UDPConn
	sinkPort := 0
	if tc.hears {
		sink = udp(t, "127.0.0.1:0")
		sinkPort = sink.LocalAddr().(*net.UDPAddr).Port
	}

	dir := t.TempDir()
	tmpl := template.Must(template.New("s").Parse(sippHead + strings.Join(tc.parts, "") + sippTail))
	var scen bytes.Buffer
	body := strings.Join(tc.parts[1:], "")
	if err := tmpl.Execute(&scen, map[string]any{
		"Contact":  "sip:assent@" + c.LocalAddr().String(),
		"Pcap":     filepath.Join(pcapDir, tc.pcap),
		"Digit":    tc.digit,
		"SinkPort": sinkPort,
		"UsesFrom": strings.Contains(body, "[$remote_from]") && tc.parts[0] == sippRecvInvite,
		"UsesCSeq": strings.Contains(body, "[$invite_cseq]"),
	}); err != nil {
		t.Fatal(err)
	}
	scenFile := filepath.Join(dir, "uas.xml")
	if err := os.WriteFile(scenFile, scen.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sipPort, mediaPort := freeUDPPort(t), freeUDPPort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sipp", "-sf", scenFile, "-i", "127.0.0.1", "-p", fmt.Sprint(sipPort),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(mediaPort), "-m", "1", "-nostdin", "-timeout", "30s",
		"-trace_err", "-trace_msg", "-message_file", filepath.Join(dir, "messages.log"), "-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sippDone := make(chan error, 1)
	go func() { sippDone <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond) // let SIPp bind its port

	var mu sync.Mutex
	var states []string
	got, err := c.Call(ctx, fmt.Sprintf("sip:phone@127.0.0.1:%d", sipPort), DefaultPrompt(), func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(states) == 0 || states[len(states)-1] != string(p) {
			states = append(states, string(p))
		}
	})
	dump := func() {
		for _, f := range []string{"messages.log", "errors.log"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			t.Logf("%s:\n%s", f, b)
		}
		t.Logf("sipp output:\n%s", out.String())
	}
	if got != tc.want || (err != nil) != tc.wantErr {
		dump()
		t.Fatalf("Call = %s, %v; want %s (error: %v)", got, err, tc.want, tc.wantErr)
	}
	if tc.hears {
		// The packets wait in the socket's buffer: 1 s of audio, which must
		// be the prompt, and speech after its 250 ms of leading silence.
		heard := receiveAudio(t, sink, ptPCMU, 50)
		if !equalSamples(heard, DefaultPrompt().decoded(ptPCMU)[:len(heard)]) {
			t.Error("the callee was sent other audio than the prompt")
		}
		if r := rms(heard[sampleRate/4:]); r < speechFloor {
			t.Errorf("the callee hears RMS %.0f, want speech (at least %d)", r, speechFloor)
		}
	}
	mu.Lock()
	if s := strings.Join(states, ","); s != tc.states {
		t.Errorf("progress %q, want %q", s, tc.states)
	}
	mu.Unlock()
	select {
	case err := <-sippDone:
		if err != nil {
			dump()
			t.Fatalf("sipp: %v (the scenario did not complete)", err)
		}
	case <-ctx.Done():
		dump()
		t.Fatal("sipp did not finish")
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// The registrar scenario: REGISTER is challenged, the digest is checked,
// then the binding is removed on Close (same Call-ID, RFC 3261 §10.2). A
// second SIPp is the trunk: the number is sent to it as sip:NUMBER@trunk.
const sippRegistrar = sippHead + `<recv request="REGISTER"/>
<send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="assent.test", nonce="77aa0d3b9c", algorithm=MD5
Content-Length: 0

]]></send>
<recv request="REGISTER">
  <action><verifyauth assign_to="authvalid" username="alice" password="s3cret"/></action>
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
<nop next="end"/>
<label id="good"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Contact:];expires=3600
Content-Length: 0

]]></send>
<recv request="REGISTER">
  <action><ereg regexp="^ *0$" search_in="hdr" header="Expires:" check_it="true" assign_to="unreg"/></action>
</recv>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
X-Unregistered: [$unreg]
Content-Length: 0

]]></send>
` + sippTail

const sippTrunkNumber = `<recv request="INVITE" crlf="true">
  <action><ereg regexp="^INVITE sip:\+15551234@127\.0\.0\.1;user=phone SIP/2\.0" search_in="msg" check_it="true" assign_to="ruri"/></action>
</recv>
<send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
X-Request-Line: [$ruri]
Content-Length: 0

]]></send>
`

func TestRegisterAndCallNumberWithSIPp(t *testing.T) {
	_, err := exec.LookPath("sipp")
	testutil.Require(t, "sipp (Debian sip-tester)", err == nil)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	dir := t.TempDir()
	start := func(name, scenario string) (int, chan error, *bytes.Buffer) {
		f := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(f, []byte(scenario), 0o600); err != nil {
			t.Fatal(err)
		}
		port := freeUDPPort(t)
		cmd := exec.CommandContext(ctx, "sipp", "-sf", f, "-i", "127.0.0.1", "-p", fmt.Sprint(port),
			"-mi", "127.0.0.1", "-mp", fmt.Sprint(freeUDPPort(t)), "-m", "1", "-nostdin", "-timeout", "30s")
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return port, done, &out
	}
	regPort, regDone, regOut := start("registrar", sippRegistrar)
	trunkScen := strings.ReplaceAll(sippHead+sippTrunkNumber+sippOK+sippPcap+sippByeFromUs+sippTail,
		"{{.Pcap}}", filepath.Join(pcapDir, "dtmf_2833_1.pcap"))
	trunkPort, trunkDone, trunkOut := start("trunk", trunkScen)
	time.Sleep(300 * time.Millisecond)

	c, err := New(Config{ListenAddr: "127.0.0.1:0", Registrar: fmt.Sprintf("127.0.0.1:%d", regPort),
		OutboundProxy: fmt.Sprintf("127.0.0.1:%d", trunkPort), Username: "alice", Password: "s3cret",
		RingTimeout: 5 * time.Second, AnswerTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start (REGISTER): %v\n%s", err, regOut)
	}
	got, err := c.Call(ctx, "+1 555-1234", DefaultPrompt(), nil)
	if got != Approved || err != nil {
		t.Errorf("Call = %s, %v; trunk:\n%s", got, err, trunkOut)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for name, done := range map[string]chan error{"registrar": regDone, "trunk": trunkDone} {
		if err := <-done; err != nil {
			t.Errorf("sipp %s: %v\nregistrar:\n%s\ntrunk:\n%s", name, err, regOut, trunkOut)
		}
	}
}

func TestRegisterWrongPasswordWithSIPp(t *testing.T) {
	_, err := exec.LookPath("sipp")
	testutil.Require(t, "sipp (Debian sip-tester)", err == nil)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	f := filepath.Join(dir, "registrar.xml")
	if err := os.WriteFile(f, []byte(sippRegistrar), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freeUDPPort(t)
	cmd := exec.CommandContext(ctx, "sipp", "-sf", f, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-m", "1", "-nostdin", "-timeout", "20s")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	c, err := New(Config{ListenAddr: "127.0.0.1:0", Registrar: fmt.Sprintf("127.0.0.1:%d", port), Username: "alice", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("Start = %v, want the registrar's 403\n%s", err, out.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, out.String())
	}
	checkNoLeak(t, before) // Start closed what it opened
}

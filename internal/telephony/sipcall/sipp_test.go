package sipcall

import (
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/sipptest"
)

// These tests use SIPp (Debian sip-tester, through sipptest) as the phone:
// a UAS scenario per behaviour, run once.

type sippCase struct {
	name    string
	answer  sipptest.Answer
	cfg     func(*Config)
	want    Outcome
	wantErr bool
	states  string // progress reported, joined by ","
	hears   bool   // the media goes to the test (answer.AudioPort): check the prompt arrives
}

func TestCallWithSIPp(t *testing.T) {
	sipptest.New(t) // skips without sipp

	before := runtime.NumGoroutine()
	defer func() {
		if !t.Failed() {
			checkNoLeak(t, before)
		}
	}()
	answered := "calling,ringing,answered"
	digest := func(password string) func(*Config) {
		return func(c *Config) { c.Username, c.Password = "alice", password }
	}
	cases := []sippCase{
		{name: "rfc4733 key 1 approves", answer: sipptest.Answer{Key: "1"}, want: Approved, states: answered},
		{name: "rfc4733 key 2 denies", answer: sipptest.Answer{Key: "2"}, want: Denied, states: answered},
		{name: "info key 1 approves", answer: sipptest.Answer{Key: "1", Then: sipptest.InfoKey}, want: Approved, states: answered},
		{name: "info key 2 denies", answer: sipptest.Answer{Key: "2", Then: sipptest.InfoKey}, want: Denied, states: answered},
		{name: "hang up denies", answer: sipptest.Answer{Then: sipptest.HangUp, Hold: 300 * time.Millisecond}, want: HungUp, states: answered},
		// The prompt plays for 1.5 s before the hang-up.
		{name: "callee hears the spoken prompt", answer: sipptest.Answer{Then: sipptest.HangUp, Hold: 1800 * time.Millisecond}, want: HungUp, states: answered, hears: true},
		{name: "answered, no key", answer: sipptest.Answer{Then: sipptest.StaySilent}, want: Timeout, states: answered,
			cfg: func(c *Config) { c.AnswerTimeout = 700 * time.Millisecond }},
		{name: "no answer cancels", answer: sipptest.Answer{}, want: NoAnswer, states: "calling,ringing",
			cfg: func(c *Config) { c.RingTimeout = 700 * time.Millisecond }},
		{name: "busy", answer: sipptest.Answer{Refuse: 486}, want: Busy, states: "calling"},
		{name: "digest challenge then answer", answer: sipptest.Answer{Key: "1", NoRinging: true, User: "alice", Password: "s3cret"},
			want: Approved, states: "calling,answered", cfg: digest("s3cret")},
		{name: "digest with a wrong password fails", answer: sipptest.Answer{Key: "1", NoRinging: true, User: "alice", Password: "s3cret"},
			want: Failed, wantErr: true, states: "calling", cfg: digest("wrong")},
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
	if tc.hears {
		sink = udp(t, "127.0.0.1:0")
		tc.answer.AudioPort = sink.LocalAddr().(*net.UDPAddr).Port
	}
	phone := sipptest.New(t)
	wait := phone.Expect(t, tc.answer)

	var mu sync.Mutex
	var states []string
	got, err := c.Call(t.Context(), "sip:phone@"+phone.Addr(), DefaultPrompt(), func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(states) == 0 || states[len(states)-1] != string(p) {
			states = append(states, string(p))
		}
	})
	if got != tc.want || (err != nil) != tc.wantErr {
		t.Errorf("Call = %s, %v; want %s (error: %v)", got, err, tc.want, tc.wantErr)
		wait() // fails the test with SIPp's logs if it did not complete
		t.FailNow()
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
	wait()
}

// The registrar: REGISTER is challenged, the digest is checked, then the
// binding is removed on Close (same Call-ID, RFC 3261 §10.2).
var sippRegistrar = sipptest.Registrar("alice", "s3cret", "")

// A registered engine calls a number: a second SIPp is the trunk, and the
// number is sent to it as sip:NUMBER@trunk.
func TestRegisterAndCallNumberWithSIPp(t *testing.T) {
	reg := sipptest.Start(t, sippRegistrar)
	trunk := sipptest.New(t)
	wait := trunk.Expect(t, sipptest.Answer{Key: "1"})

	c, err := New(Config{ListenAddr: "127.0.0.1:0", Registrar: reg.Addr(),
		OutboundProxy: trunk.Addr(), Username: "alice", Password: "s3cret",
		RingTimeout: 5 * time.Second, AnswerTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start (REGISTER): %v", err)
	}
	got, err := c.Call(t.Context(), "+1 555-1234", DefaultPrompt(), nil)
	if got != Approved || err != nil {
		t.Errorf("Call = %s, %v", got, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	reg.Wait()
	if ruri := wait().RequestURI; ruri != "sip:+15551234@127.0.0.1;user=phone" {
		t.Errorf("the trunk was sent INVITE %s", ruri)
	}
}

func TestRegisterWrongPasswordWithSIPp(t *testing.T) {
	before := runtime.NumGoroutine()
	reg := sipptest.Start(t, sippRegistrar)
	c, err := New(Config{ListenAddr: "127.0.0.1:0", Registrar: reg.Addr(), Username: "alice", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("Start = %v, want the registrar's 403", err)
	}
	reg.Wait()
	checkNoLeak(t, before) // Start closed what it opened (and sipptest's wait for SIPp ended)
}

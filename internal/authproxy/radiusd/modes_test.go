package radiusd

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
)

// step is one packet of a login and what must come back.
type step struct {
	user, pass string
	withState  bool // echo the State of the previous answer
	code       radius.Code
	msg        string // exact Reply-Message
}

const (
	accept    = radius.CodeAccessAccept
	reject    = radius.CodeAccessReject
	challenge = radius.CodeAccessChallenge
)

var shortAlice = "Choose a secondary factor from ('push1', 'phone1', 'sms1') or enter passcode:"

func TestModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      Mode
		tweak     func(*Section)
		steps     []step
		primaries []string // passwords the primary saw, in order
		choices   []string // what went to Duo auth
		preauths  int
	}{
		// radius_server_auto
		{name: "auto push by default", mode: ModeAuto,
			steps:     []step{{user: "alice", pass: "pw", code: accept, msg: stSuccess}},
			primaries: []string{"pw"}, choices: []string{"push1"}, preauths: 1},
		{name: "auto concat passcode", mode: ModeAuto,
			steps:     []step{{user: "alice", pass: "pw," + goodCode, code: accept, msg: stSuccess}},
			primaries: []string{"pw"}, choices: []string{goodCode}, preauths: 1},
		{name: "auto concat factor name", mode: ModeAuto,
			steps:     []step{{user: "alice", pass: "pw,push", code: accept, msg: stSuccess}},
			primaries: []string{"pw"}, choices: []string{"push"}, preauths: 1},
		{name: "auto concat splits at the last delimiter", mode: ModeAuto,
			steps:     []step{{user: "comma", pass: "p,w,push", code: accept, msg: stSuccess}},
			primaries: []string{"p,w"}, choices: []string{"push"}, preauths: 1},
		{name: "auto concat retries the whole password", mode: ModeAuto,
			steps:     []step{{user: "comma", pass: "p,w", code: accept, msg: stSuccess}},
			primaries: []string{"p", "p,w"}, choices: []string{"push1"}, preauths: 1},
		{name: "auto concat wrong password tried twice, no Duo", mode: ModeAuto,
			steps:     []step{{user: "alice", pass: "bad,push", code: reject, msg: "User Authentication Failed"}},
			primaries: []string{"bad", "bad,push"}},
		{name: "auto allow_concat off", mode: ModeAuto, tweak: func(s *Section) { s.AllowConcat = false },
			steps:     []step{{user: "comma", pass: "p,w", code: accept, msg: stSuccess}},
			primaries: []string{"p,w"}, choices: []string{"push1"}, preauths: 1},
		{name: "auto custom delimiter", mode: ModeAuto, tweak: func(s *Section) { s.Delimiter = "|" },
			steps:     []step{{user: "comma", pass: "p,w|" + goodCode, code: accept, msg: stSuccess}},
			primaries: []string{"p,w"}, choices: []string{goodCode}, preauths: 1},
		{name: "auto delimited_password_length", mode: ModeAuto, tweak: func(s *Section) { s.DelimitedPasswordLength = 2 },
			steps:     []step{{user: "alice", pass: "pw," + goodCode, code: accept, msg: stSuccess}},
			primaries: []string{"pw"}, choices: []string{goodCode}, preauths: 1},
		{name: "auto delimited_password_length without separator", mode: ModeAuto, tweak: func(s *Section) { s.DelimitedPasswordLength = 2 },
			steps:     []step{{user: "alice", pass: "pw" + goodCode, code: accept, msg: stSuccess}},
			primaries: []string{"pw"}, choices: []string{goodCode}, preauths: 1},
		{name: "auto wrong password: no Auth API call", mode: ModeAuto,
			steps:     []step{{user: "alice", pass: "nope", code: reject, msg: "User Authentication Failed"}},
			primaries: []string{"nope"}},
		{name: "auto unknown user", mode: ModeAuto,
			steps:     []step{{user: "mallory", pass: "pw", code: reject, msg: "Invalid User"}},
			primaries: []string{"pw"}},
		{name: "auto empty password", mode: ModeAuto,
			steps: []step{{user: "alice", code: reject, msg: msgBadPassword}}},
		{name: "auto no username", mode: ModeAuto,
			steps: []step{{pass: "pw", code: reject, msg: msgNoUsername}}},
		{name: "auto factors passcode", mode: ModeAuto, tweak: func(s *Section) { s.Factors = []string{"passcode"} },
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: msgEnterPasscode},
				{user: "alice", pass: goodCode, withState: true, code: accept, msg: stSuccess},
			},
			primaries: []string{"pw"}, choices: []string{goodCode}, preauths: 1},
		{name: "auto passcode wrong", mode: ModeAuto, tweak: func(s *Section) { s.Factors = []string{"passcode"} },
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: msgEnterPasscode},
				{user: "alice", pass: "999999", withState: true, code: reject, msg: stBadCode},
			},
			primaries: []string{"pw"}, choices: []string{"999999"}, preauths: 1},
		{name: "auto factors phone first", mode: ModeAuto, tweak: func(s *Section) { s.Factors = []string{"phone", "push"} },
			steps:     []step{{user: "alice", pass: "pw", code: reject, msg: stTimeout}},
			primaries: []string{"pw"}, choices: []string{"phone"}, preauths: 1},
		{name: "auto factors push skipped without push device", mode: ModeAuto, tweak: func(s *Section) { s.Factors = []string{"push", "phone"} },
			steps:     []step{{user: "phoneonly", pass: "pw", code: reject, msg: stTimeout}},
			primaries: []string{"pw"}, choices: []string{"phone"}, preauths: 1},
		{name: "auto no usable factor", mode: ModeAuto, tweak: func(s *Section) { s.Factors = []string{"push"} },
			steps:     []step{{user: "nodev", pass: "pw", code: reject, msg: msgNoFactors}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "auto no device falls back to passcode", mode: ModeAuto, tweak: func(s *Section) { s.Factors = []string{"auto", "push", "passcode"} },
			steps: []step{
				{user: "nodev", pass: "pw", code: challenge, msg: msgEnterPasscode},
				{user: "nodev", pass: goodCode, withState: true, code: accept, msg: stSuccess},
			},
			primaries: []string{"pw"}, choices: []string{goodCode}, preauths: 1},
		{name: "auto preauth allow", mode: ModeAuto,
			steps:     []step{{user: "bypass", pass: "pw", code: accept, msg: stBypass}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "auto preauth deny", mode: ModeAuto,
			steps:     []step{{user: "denied", pass: "pw", code: reject, msg: stDisabled}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "auto preauth enroll rejects", mode: ModeAuto,
			steps:     []step{{user: "enrollee", pass: "pw", code: reject, msg: stEnroll + " " + enrollURL}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "auto exempt user skips Duo", mode: ModeAuto,
			steps:     []step{{user: "exempt", pass: "pw", code: accept, msg: msgExempt}},
			primaries: []string{"pw"}},
		{name: "auto State never issued", mode: ModeAuto,
			steps: []step{{user: "alice", pass: goodCode, withState: true, code: reject, msg: msgUnknownChallenge}}},

		// radius_server_challenge
		{name: "challenge option 1 is push1", mode: ModeChallenge,
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: alicePrompt},
				{user: "alice", pass: "1", withState: true, code: accept, msg: stSuccess},
			},
			primaries: []string{"pw"}, choices: []string{"push1"}, preauths: 1},
		{name: "challenge passcode", mode: ModeChallenge,
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: alicePrompt},
				{user: "alice", pass: goodCode, withState: true, code: accept, msg: stSuccess},
			},
			primaries: []string{"pw"}, choices: []string{goodCode}, preauths: 1},
		{name: "challenge factor names typed directly", mode: ModeChallenge,
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: alicePrompt},
				{user: "alice", pass: "push2", withState: true, code: reject, msg: stBadCode},
			},
			primaries: []string{"pw"}, choices: []string{"push2"}, preauths: 1},
		{name: "challenge sms option re-prompts", mode: ModeChallenge,
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: alicePrompt},
				{user: "alice", pass: "3", withState: true, code: challenge, msg: alicePrompt},
				{user: "alice", pass: goodCode, withState: true, code: accept, msg: stSuccess},
			},
			primaries: []string{"pw"}, choices: []string{"sms1", goodCode}, preauths: 1},
		{name: "challenge bare sms ends in reject", mode: ModeChallenge,
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: alicePrompt},
				{user: "alice", pass: "sms", withState: true, code: reject, msg: stSMSSent},
			},
			primaries: []string{"pw"}, choices: []string{"sms"}, preauths: 1},
		{name: "challenge option 2 phone denied", mode: ModeChallenge,
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: alicePrompt},
				{user: "alice", pass: "2", withState: true, code: reject, msg: stTimeout},
			},
			primaries: []string{"pw"}, choices: []string{"phone1"}, preauths: 1},
		{name: "challenge empty answer", mode: ModeChallenge,
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: alicePrompt},
				{user: "alice", withState: true, code: reject, msg: msgBadPassword},
			},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge no password", mode: ModeChallenge,
			steps: []step{{user: "alice", code: reject, msg: msgNoPassword}}},
		{name: "challenge wrong password: no Auth API call", mode: ModeChallenge,
			steps:     []step{{user: "alice", pass: "pw,1", code: reject, msg: "User Authentication Failed"}},
			primaries: []string{"pw,1"}},
		{name: "challenge preauth allow", mode: ModeChallenge,
			steps:     []step{{user: "bypass", pass: "pw", code: accept, msg: stBypass}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge preauth deny", mode: ModeChallenge,
			steps:     []step{{user: "denied", pass: "pw", code: reject, msg: stDisabled}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge enroll as challenge", mode: ModeChallenge,
			steps: []step{
				{user: "enrollee", pass: "pw", code: challenge, msg: stEnroll + " " + enrollURL},
				{user: "enrollee", pass: "1", withState: true, code: reject, msg: msgEnrollAgain},
			},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge enroll as reject", mode: ModeChallenge, tweak: func(s *Section) { s.EnrollChallenge = false },
			steps:     []step{{user: "enrollee", pass: "pw", code: reject, msg: stEnroll + " " + enrollURL}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge exempt", mode: ModeChallenge,
			steps:     []step{{user: "exempt", pass: "pw", code: accept, msg: msgExempt}},
			primaries: []string{"pw"}},
		{name: "challenge exempt user still needs the password", mode: ModeChallenge,
			steps:     []step{{user: "exempt", pass: "bad", code: reject, msg: "User Authentication Failed"}},
			primaries: []string{"bad"}},
		{name: "challenge short format", mode: ModeChallenge, tweak: func(s *Section) { s.PromptFormat = PromptShort },
			steps: []step{
				{user: "alice", pass: "pw", code: challenge, msg: shortAlice},
				{user: "alice", pass: "1", withState: true, code: accept, msg: stSuccess},
			},
			primaries: []string{"pw"}, choices: []string{"push1"}, preauths: 1},
		{name: "challenge short format without factors", mode: ModeChallenge, tweak: func(s *Section) { s.PromptFormat = PromptShort },
			steps:     []step{{user: "nodev", pass: "pw", code: challenge, msg: msgEnterPasscode}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge html format", mode: ModeChallenge, tweak: func(s *Section) { s.PromptFormat = PromptHTML },
			steps:     []step{{user: "html", pass: "pw", code: challenge, msg: "Duo login for &lt;html&gt; &amp; co<br><br>1. Push<br>"}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge console over 253 bytes falls back to short", mode: ModeChallenge,
			steps:     []step{{user: "long", pass: "pw", code: challenge, msg: shortAlice}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge html over 253 bytes falls back to short", mode: ModeChallenge, tweak: func(s *Section) { s.PromptFormat = PromptHTML },
			steps:     []step{{user: "long", pass: "pw", code: challenge, msg: shortAlice}},
			primaries: []string{"pw"}, preauths: 1},
		{name: "challenge short over 253 bytes", mode: ModeChallenge,
			steps: []step{
				{user: "manyfactors", pass: "pw", code: challenge, msg: msgShortFallback},
				{user: "manyfactors", pass: "10", withState: true, code: reject, msg: stBadCode},
			},
			primaries: []string{"pw"}, choices: []string{"push10"}, preauths: 1},

		// radius_server_concat
		{name: "concat passcode", mode: ModeConcat,
			steps:     []step{{user: "alice", pass: "pw," + goodCode, code: accept, msg: stSuccess}},
			primaries: []string{"pw"}, choices: []string{goodCode}, preauths: 1},
		{name: "concat last delimiter", mode: ModeConcat,
			steps:     []step{{user: "comma", pass: "p,w,push", code: accept, msg: stSuccess}},
			primaries: []string{"p,w"}, choices: []string{"push"}, preauths: 1},
		{name: "concat no delimiter", mode: ModeConcat,
			steps: []step{{user: "alice", pass: "pw", code: reject, msg: msgInvalidPassword}}},
		{name: "concat empty factor", mode: ModeConcat,
			steps: []step{{user: "alice", pass: "pw,", code: reject, msg: msgInvalidPassword}}},
		{name: "concat empty password part", mode: ModeConcat,
			steps: []step{{user: "alice", pass: ",push", code: reject, msg: msgInvalidPassword}}},
		{name: "concat wrong password: no retry", mode: ModeConcat,
			steps:     []step{{user: "comma", pass: "p,w", code: reject, msg: "User Authentication Failed"}},
			primaries: []string{"p"}},
		{name: "concat enroll rejects", mode: ModeConcat,
			steps:     []step{{user: "enrollee", pass: "pw,push", code: reject, msg: stEnroll + " " + enrollURL}},
			primaries: []string{"pw"}, preauths: 1},

		// radius_server_duo_only
		{name: "duo_only push", mode: ModeDuoOnly,
			steps:   []step{{user: "alice", pass: "push", code: accept, msg: stSuccess}},
			choices: []string{"push"}, preauths: 1},
		{name: "duo_only passcode", mode: ModeDuoOnly,
			steps:   []step{{user: "alice", pass: goodCode, code: accept, msg: stSuccess}},
			choices: []string{goodCode}, preauths: 1},
		{name: "duo_only wrong passcode", mode: ModeDuoOnly,
			steps:   []step{{user: "alice", pass: "000000", code: reject, msg: stBadCode}},
			choices: []string{"000000"}, preauths: 1},
		{name: "duo_only empty", mode: ModeDuoOnly,
			steps: []step{{user: "alice", code: reject, msg: msgBadPassword}}},
		{name: "duo_only deny", mode: ModeDuoOnly,
			steps:    []step{{user: "denied", pass: "push", code: reject, msg: stDisabled}},
			preauths: 1},
		{name: "duo_only exempt skips everything", mode: ModeDuoOnly,
			steps: []step{{user: "exempt", pass: "anything", code: accept, msg: msgExempt}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
				s := section(tt.mode, p, d)
				if tt.tweak != nil {
					tt.tweak(s)
				}
				return []*Section{s}
			})
			c := e.client("127.0.0.1")
			var state []byte
			for i, st := range tt.steps {
				p := c.request(st.user, st.pass)
				if st.withState {
					if state == nil {
						state = []byte("never-issued-never-issued-never-issued-nev")
					}
					rfc2865.State_Set(p, state)
				}
				r := c.exchange(p)
				if r.Code != st.code || replyMessage(r) != st.msg {
					t.Fatalf("step %d: got %v %q, want %v %q", i+1, r.Code, replyMessage(r), st.code, st.msg)
				}
				newState := rfc2865.State_Get(r)
				if st.code == challenge {
					if len(newState) != 44 {
						t.Fatalf("step %d: State %q is not 44 characters", i+1, newState)
					}
					if state != nil && string(newState) == string(state) {
						t.Fatalf("step %d: State reused", i+1)
					}
				} else if newState != nil {
					t.Fatalf("step %d: State on a %v", i+1, r.Code)
				}
				hasPrimaryAttr := string(rfc2865.FilterID_Get(r)) == "vpn-users"
				if wantAttr := st.code == accept && len(tt.primaries) > 0; hasPrimaryAttr != wantAttr {
					t.Errorf("step %d: primary attribute in answer = %v, want %v", i+1, hasPrimaryAttr, wantAttr)
				}
				state = newState
			}
			if got := e.primary.passwords(); !slices.Equal(got, tt.primaries) {
				t.Errorf("primary saw %q, want %q", got, tt.primaries)
			}
			if got := e.duo.choices(); !slices.Equal(got, tt.choices) {
				t.Errorf("Duo auth got %q, want %q", got, tt.choices)
			}
			if got, _ := e.duo.counts(); got != tt.preauths {
				t.Errorf("%d preauth calls, want %d", got, tt.preauths)
			}
			// Only the modes that use the text_prompt menu ask for it.
			wantMenu := tt.mode == ModeAuto || tt.mode == ModeChallenge
			for i, m := range e.duo.menus() {
				if m != wantMenu {
					t.Errorf("preauth %d: menu asked for = %v, want %v", i+1, m, wantMenu)
				}
			}
			// A first factor's refusal is logged with its reason.
			logs := e.logs.String()
			for _, st := range tt.steps {
				reason := map[string]string{"Invalid User": "not in the fake directory",
					"User Authentication Failed": "wrong password (fake directory)"}[st.msg]
				if reason != "" && !regexp.MustCompile(`msg="`+st.msg+`" .*reason="`+regexp.QuoteMeta(reason)+`"`).MatchString(logs) {
					t.Errorf("no log line for %q with reason %q:\n%s", st.msg, reason, logs)
				}
			}
			// Never a password or passcode in the logs.
			for _, st := range tt.steps {
				if len(st.pass) >= 6 && strings.Contains(logs, st.pass) && !factorName.MatchString(st.pass) {
					t.Errorf("log contains the secret %q:\n%s", st.pass, logs)
				}
			}
		})
	}
}

// The exempt list is case-insensitive; the fake directory is not, so
// this user passes primary with the lower-case name it knows.
func TestExemptCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		s := section(ModeAuto, p, d)
		s.Exempt = []string{"EXEMPT"}
		return []*Section{s}
	})
	c := e.client("127.0.0.1")
	r := c.exchange(c.request("exempt", "pw"))
	if r.Code != accept || replyMessage(r) != msgExempt {
		t.Fatalf("got %v %q", r.Code, replyMessage(r))
	}
	if pre, auth := e.duo.counts(); pre != 0 || auth != 0 {
		t.Fatalf("Duo called %d/%d times for an exempt user", pre, auth)
	}
}

func TestCannotDecodePassword(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		return []*Section{section(ModeAuto, p, d)}
	})
	c := e.client("127.0.0.1")
	p := c.request("alice", "")
	if err := rfc2865.UserPassword_Set(p, []byte{0xff, 0xfe, 'a'}); err != nil {
		t.Fatal(err)
	}
	r := c.exchange(p)
	if r.Code != reject || replyMessage(r) != msgCannotDecode {
		t.Fatalf("got %v %q", r.Code, replyMessage(r))
	}
	// A password hidden with another secret decodes to garbage.
	c2 := e.client("127.0.0.1")
	p = c2.request("alice", "")
	pw, _ := radius.NewUserPassword([]byte("correct horse battery"), []byte("other-secret"), p.Authenticator[:])
	p.Set(rfc2865.UserPassword_Type, pw)
	r = c2.exchange(p)
	if r.Code != reject {
		t.Fatalf("got %v %q", r.Code, replyMessage(r))
	}
	if !strings.Contains(e.logs.String(), "shared secret") && replyMessage(r) == msgCannotDecode {
		t.Errorf("no shared-secret hint in the log")
	}
	if n := len(e.primary.passwords()); replyMessage(r) == msgCannotDecode && n != 0 {
		t.Errorf("primary called %d times", n)
	}
}

func TestStateRules(t *testing.T) {
	t.Parallel()
	first := func(t *testing.T, e *env, c *client, user string) []byte {
		t.Helper()
		r := c.exchange(c.request(user, "pw"))
		if r.Code != challenge {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
		return rfc2865.State_Get(r)
	}
	answer := func(c *client, user, pass string, state []byte) *radius.Packet {
		p := c.request(user, pass)
		rfc2865.State_Set(p, state)
		return c.exchange(p)
	}
	mk := func(p *fakePrimary, d *fakeDuo) []*Section { return []*Section{section(ModeChallenge, p, d)} }

	t.Run("single use", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{}, mk)
		c := e.client("127.0.0.1")
		st := first(t, e, c, "alice")
		if r := answer(c, "alice", "1", st); r.Code != accept {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
		if r := answer(c, "alice", "1", st); r.Code != reject || replyMessage(r) != msgUnknownChallenge {
			t.Fatalf("reuse: got %v %q", r.Code, replyMessage(r))
		}
		if _, n := e.duo.counts(); n != 1 {
			t.Errorf("%d auth calls", n)
		}
	})
	t.Run("expires after 300 s", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{}, mk)
		c := e.client("127.0.0.1")
		st := first(t, e, c, "alice")
		e.clock.advance(299 * time.Second)
		st2 := first(t, e, c, "bob")
		e.clock.advance(2 * time.Second)
		if r := answer(c, "alice", "1", st); r.Code != reject || replyMessage(r) != msgUnknownChallenge {
			t.Fatalf("expired: got %v %q", r.Code, replyMessage(r))
		}
		if r := answer(c, "bob", "1", st2); r.Code != accept {
			t.Fatalf("fresh: got %v %q", r.Code, replyMessage(r))
		}
	})
	t.Run("other user", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{}, mk)
		c := e.client("127.0.0.1")
		st := first(t, e, c, "alice")
		if r := answer(c, "bob", "1", st); r.Code != reject || replyMessage(r) != msgUnknownChallenge {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
		if r := answer(c, "alice", "1", st); r.Code != accept {
			t.Fatalf("the real user after a forged reply: got %v %q", r.Code, replyMessage(r))
		}
	})
	t.Run("other IP, same user; other port is fine", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{}, mk)
		st := first(t, e, e.client("127.0.0.1"), "alice")
		if r := answer(e.client("127.0.0.2"), "alice", "1", st); r.Code != reject || replyMessage(r) != msgUnknownChallenge {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
		if r := answer(e.client("127.0.0.1"), "alice", "1", st); r.Code != accept {
			t.Fatalf("same IP, new port: got %v %q", r.Code, replyMessage(r))
		}
		if _, n := e.duo.counts(); n != 1 {
			t.Errorf("%d auth calls", n)
		}
	})
	t.Run("store full refuses new challenges", func(t *testing.T) {
		t.Parallel()
		e := start(t, Options{MaxPendingChallenges: 2}, mk)
		c := e.client("127.0.0.1")
		st := first(t, e, c, "alice")
		first(t, e, c, "bob")
		r := c.exchange(c.request("alice", "pw"))
		if r.Code != reject || replyMessage(r) != msgBusy {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
		if !strings.Contains(e.logs.String(), "too many pending challenges") {
			t.Error("not logged")
		}
		// The older challenges still work; once one is answered there is room.
		if r := answer(c, "alice", "1", st); r.Code != accept {
			t.Fatalf("got %v %q", r.Code, replyMessage(r))
		}
		first(t, e, c, "alice")
		// Expired entries make room too.
		e.clock.advance(301 * time.Second)
		e.clock.advance(time.Second) // past the sweep rate limit
		first(t, e, c, "alice")
	})
}

// TestDuoOnlyClass: as Duo's proxy in duo_only mode, an Accept carries
// Class "OU=<first group>;" when preauth named groups (for preauth's allow
// and for auth's), and never a Reject; without groups, no Class.
func TestDuoOnlyClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, user, pass string
		groups           []string
		code             radius.Code
		class            string
	}{
		{"auth allow", "alice", "push", []string{"VPN Users", "Admins"}, accept, "OU=VPN Users;"},
		{"preauth allow", "bypass", "push", []string{"Contractors"}, accept, "OU=Contractors;"},
		{"auth deny", "alice", "000000", []string{"VPN Users"}, reject, ""},
		{"preauth deny", "denied", "push", []string{"VPN Users"}, reject, ""},
		{"no groups", "alice", "push", nil, accept, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
				d.preauthHook = func(_ context.Context, r duoclient.PreauthRequest) (duoclient.Preauth, error) {
					pre := standardPreauth(r.Username)
					pre.Prompt, pre.Factors = "", nil
					pre.Groups = tc.groups
					return pre, nil
				}
				return []*Section{section(ModeDuoOnly, p, d)}
			})
			c := e.client("127.0.0.1")
			r := c.exchange(c.request(tc.user, tc.pass))
			if r.Code != tc.code {
				t.Fatalf("got %v %q, want %v", r.Code, replyMessage(r), tc.code)
			}
			classes, err := rfc2865.Class_Gets(r)
			if err != nil {
				t.Fatal(err)
			}
			if tc.class == "" && len(classes) != 0 || tc.class != "" && (len(classes) != 1 || string(classes[0]) != tc.class) {
				t.Errorf("Class = %q, want %q", classes, tc.class)
			}
		})
	}
}

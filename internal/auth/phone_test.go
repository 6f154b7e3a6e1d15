package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// scriptedCaller plays the phone: each call reports calling, waits for
// answer, reports answered, waits for hangup and returns outcome and err.
// With nil gates it does not wait.
type scriptedCaller struct {
	outcome string
	err     error
	answer  chan struct{}
	hangup  chan struct{}

	mu     sync.Mutex
	dialed []auth.PhoneDial
}

func (c *scriptedCaller) Call(ctx context.Context, d auth.PhoneDial, progress func(string)) (string, error) {
	c.mu.Lock()
	c.dialed = append(c.dialed, d)
	c.mu.Unlock()
	progress(auth.CallCalling)
	progress(auth.CallRinging)
	for _, gate := range []chan struct{}{c.answer, c.hangup} {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return auth.CallFailed, ctx.Err()
			}
		}
		if gate == c.answer {
			progress(auth.CallAnswered)
		}
	}
	return c.outcome, c.err
}

func (c *scriptedCaller) Name() string { return "test" }

func (c *scriptedCaller) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.dialed)
}

func phoneFixture(t *testing.T, c auth.PhoneCaller, o auth.PhoneOptions) (*fixture, store.User, store.Device) {
	t.Helper()
	o.Caller = c
	f := newFixture(t, auth.Options{Phone: o})
	t.Cleanup(f.svc.EndCalls)
	u := f.user(t, "alice", store.StatusActive)
	d, err := f.svc.AddNumberPhone(context.Background(), "alice", "+1 (555) 555-0123", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return f, u, d
}

func (f *fixture) call(factor string, async bool) (auth.AuthResult, error) {
	req := auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice", IP: "192.0.2.7"},
		Factor: factor, Device: "auto", Async: async}
	if strings.HasPrefix(factor, "phone") && factor != auth.FactorPhone {
		req.Factor, req.Prompt = auth.FactorPrompt, factor
	}
	return f.svc.Auth(context.Background(), req)
}

func TestPhoneCallOutcomes(t *testing.T) {
	for _, tc := range []struct {
		outcome           string
		err               error
		result, status    string
		reason, telStatus string
		fails             bool
	}{
		{outcome: auth.CallApproved, result: "allow", status: "allow", reason: auth.ReasonUserApproved, telStatus: "approved"},
		{outcome: auth.CallDenied, result: "deny", status: "deny", reason: auth.ReasonUserDenied, telStatus: "denied"},
		{outcome: auth.CallHungUp, result: "deny", status: "deny", reason: auth.ReasonUserDenied, telStatus: "hung_up"},
		{outcome: auth.CallNoAnswer, result: "deny", status: "timeout", reason: auth.ReasonNoResponse, telStatus: "no_answer"},
		{outcome: auth.CallTimeout, result: "deny", status: "timeout", reason: auth.ReasonNoResponse, telStatus: "timeout"},
		{outcome: auth.CallBusy, result: "deny", status: "timeout", reason: auth.ReasonNoResponse, telStatus: "busy"},
		{outcome: auth.CallFailed, err: errors.New("503 Service Unavailable"), reason: auth.ReasonCallFailed, telStatus: "failed", fails: true},
		// An error wins over the outcome: never an allow.
		{outcome: auth.CallApproved, err: errors.New("transport"), reason: auth.ReasonCallFailed, telStatus: "failed", fails: true},
		{outcome: "unheard-of", reason: auth.ReasonCallFailed, telStatus: "unheard-of", fails: true},
	} {
		t.Run(tc.outcome+"/"+tc.telStatus, func(t *testing.T) {
			c := &scriptedCaller{outcome: tc.outcome, err: tc.err}
			f, u, d := phoneFixture(t, c, auth.PhoneOptions{})
			res, err := f.call("phone1", false)
			if tc.fails {
				if !errors.Is(err, auth.ErrCallFailed) || res.Result == "allow" {
					t.Fatalf("auth = %+v, %v; want ErrCallFailed", res, err)
				}
			} else if err != nil || res.Result != tc.result || res.Status != tc.status {
				t.Fatalf("auth = %+v, %v; want %s/%s", res, err, tc.result, tc.status)
			}
			if c.dialed[0] != (auth.PhoneDial{Number: "+15555550123"}) {
				t.Fatalf("dialed %v", c.dialed)
			}
			logs := f.logs(t, u.ID)
			if len(logs) != 1 || logs[0].Factor != "phone_call" || logs[0].Reason != tc.reason || logs[0].Device != d.ID {
				t.Fatalf("auth log = %+v", logs)
			}
			tel, err := f.st.ListTelephonyLog(context.Background(), time.Time{}, time.Time{}, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(tel) != 1 || tel[0].Type != "phone" || tel[0].Phone != "XXX-XXX-0123" || tel[0].Status != tc.telStatus ||
				tel[0].Context != "authentication" || tel[0].TxID != logs[0].TxID {
				t.Fatalf("telephony log = %+v", tel)
			}
		})
	}
}

func TestPhoneCallAsyncProgress(t *testing.T) {
	c := &scriptedCaller{outcome: auth.CallApproved, answer: make(chan struct{}), hangup: make(chan struct{})}
	f, _, _ := phoneFixture(t, c, auth.PhoneOptions{})
	ctx := context.Background()
	res, err := f.call(auth.FactorPhone, true)
	if err != nil || res.TxID == "" || res.Result != "" {
		t.Fatalf("async auth = %+v, %v", res, err)
	}
	steps := []struct {
		gate                      chan struct{}
		result, status, statusMsg string
	}{
		{nil, "waiting", "calling", "Dialing XXX-XXX-0123..."},
		{c.answer, "waiting", "answered", "Answered. Press '1' on your phone to log in."},
		{c.hangup, "allow", "allow", "Success. Logging you in..."},
	}
	for _, s := range steps {
		if s.gate != nil {
			close(s.gate)
		}
		st, err := f.svc.AuthStatus(ctx, f.in, res.TxID)
		if err != nil || st.Result != s.result || st.Status != s.status || st.StatusMsg != s.statusMsg {
			t.Fatalf("auth_status = %+v, %v; want %s/%s %q", st, err, s.result, s.status, s.statusMsg)
		}
	}
}

func TestPhoneCallAvailability(t *testing.T) {
	ctx := context.Background()
	// Without a caller: no phone capability, factor=phone has no device.
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	if _, err := f.svc.AddNumberPhone(ctx, "alice", "+15555550123", "", ""); err != nil {
		t.Fatal(err)
	}
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range pre.Devices {
		if slices.Contains(d.Capabilities, "phone") {
			t.Fatalf("phone capability without a caller: %+v", d)
		}
	}
	if _, err := f.call(auth.FactorPhone, false); !errors.Is(err, auth.ErrNoCapableDevice) {
		t.Fatalf("factor=phone without a caller: %v", err)
	}

	// With one: listed, and offered by the prompt.
	c := &scriptedCaller{outcome: auth.CallApproved}
	f2, _, d := phoneFixture(t, c, auth.PhoneOptions{})
	pre, err = f2.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f2.in, Username: "alice"}, TextPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pre.Devices) != 1 || strings.Join(pre.Devices[0].Capabilities, ",") != "phone" || pre.Devices[0].ID != d.ID {
		t.Fatalf("devices = %+v", pre.Devices)
	}
	if pre.Prompt.Factors["1"] != "phone1" || !strings.Contains(pre.Prompt.Text, "Phone call to XXX-XXX-0123") {
		t.Fatalf("prompt = %+v", pre.Prompt)
	}
	// A device without a number cannot be called; neither can an unknown ID.
	for _, dev := range []string{"DPNOSUCHDEVICE000000"} {
		_, err := f2.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f2.in, Username: "alice"},
			Factor: auth.FactorPhone, Device: dev})
		if !errors.Is(err, auth.ErrNoCapableDevice) {
			t.Fatalf("device %s: %v", dev, err)
		}
	}
	// The app does not see a call as a push to answer.
	res, err := f2.call(auth.FactorPhone, false)
	if err != nil || res.Result != "allow" {
		t.Fatalf("call = %+v, %v", res, err)
	}
	if err := f2.svc.Answer(ctx, d.ID, res.TxID, true); !auth.IsKind(err, auth.KindNotFound) {
		t.Fatalf("answering a call as a push: %v", err)
	}
}

func TestPhoneCallRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    auth.PhoneOptions
	}{
		{"per user", auth.PhoneOptions{PerUser: ratelimit.Limit{Every: time.Hour, Burst: 2}}},
		{"global", auth.PhoneOptions{Global: ratelimit.Limit{Every: time.Hour, Burst: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &scriptedCaller{outcome: auth.CallDenied}
			f, u, _ := phoneFixture(t, c, tc.o)
			for range 2 {
				if res, err := f.call(auth.FactorPhone, false); err != nil || res.Result != "deny" {
					t.Fatalf("call = %+v, %v", res, err)
				}
			}
			if _, err := f.call(auth.FactorPhone, false); !auth.IsKind(err, auth.KindRateLimited) {
				t.Fatalf("third call: %v", err)
			}
			if c.calls() != 2 {
				t.Fatalf("dialed %d times; the refusal must not dial", c.calls())
			}
			logs := f.logs(t, u.ID)
			if len(logs) != 3 || logs[0].Reason != auth.ReasonRateLimited {
				t.Fatalf("auth log = %+v", logs)
			}
		})
	}
}

func TestPhoneCallEndCalls(t *testing.T) {
	// A call under way when the server stops ends, and is never an allow.
	c := &scriptedCaller{outcome: auth.CallApproved, answer: make(chan struct{})}
	f, u, _ := phoneFixture(t, c, auth.PhoneOptions{})
	res, err := f.call(auth.FactorPhone, true)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.EndCalls()
	st, err := f.svc.AuthStatus(context.Background(), f.in, res.TxID)
	if !errors.Is(err, auth.ErrCallFailed) || st.Result == "allow" {
		t.Fatalf("auth_status after EndCalls = %+v, %v", st, err)
	}
	if logs := f.logs(t, u.ID); len(logs) != 1 || logs[0].Result != "deny" {
		t.Fatalf("auth log = %+v", logs)
	}
	// A call started after EndCalls fails at once.
	if _, err := f.call(auth.FactorPhone, false); !errors.Is(err, auth.ErrCallFailed) {
		t.Fatalf("call after EndCalls: %v", err)
	}
}

func TestPhoneCallAutoAndPolicy(t *testing.T) {
	ctx := context.Background()
	c := &scriptedCaller{outcome: auth.CallApproved}
	f, _, _ := phoneFixture(t, c, auth.PhoneOptions{})
	// factor=auto for a user whose only phone has no app: a call.
	if res, err := f.call(auth.FactorAuto, false); err != nil || res.Result != "allow" || c.calls() != 1 {
		t.Fatalf("factor=auto = %+v, %v after %d calls", res, err, c.calls())
	}
	// A policy without the phone method: no capability, and factor=phone
	// is refused without dialling.
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{Methods: ptr([]string{"push", "sms"})}})
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range pre.Devices {
		if slices.Contains(d.Capabilities, "phone") {
			t.Fatalf("phone listed against the policy: %+v", d)
		}
	}
	res, err := f.call("phone1", false)
	if err != nil || res.Result != "deny" || c.calls() != 1 {
		t.Fatalf("phone1 against the policy = %+v, %v after %d calls", res, err, c.calls())
	}
	if l := f.logs(t, ""); len(l) == 0 || l[0].Reason != auth.ReasonFactorRestricted {
		t.Fatalf("auth log = %+v", l)
	}
}

// A landline behind a PBX: called with its extension and delays, never
// texted, never activated as an app; the Admin API's fields reach the call.
func TestLandlineWithExtension(t *testing.T) {
	ctx := context.Background()
	c := &scriptedCaller{outcome: auth.CallApproved}
	f := newFixture(t, auth.Options{Phone: auth.PhoneOptions{Caller: c}, SMS: auth.SMSOptions{Sender: &recordingSender{}}})
	t.Cleanup(f.svc.EndCalls)
	f.user(t, "alice", store.StatusActive)
	desk, err := f.svc.AddUserNumber(ctx, "alice", auth.PhoneFields{Number: sp("+44 20 7946 0958"), Extension: sp("12#"),
		Type: sp("Landline"), Predelay: sp("5"), Name: sp("desk")})
	if err != nil {
		t.Fatal(err)
	}
	if ph, err := f.svc.Phone(ctx, desk.ID); err != nil || ph.Type != "Landline" || ph.Extension != "12#" || ph.Predelay != "5" || ph.Postdelay != "" {
		t.Fatalf("phone %+v, %v", ph, err)
	}
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pre.Devices) != 1 || strings.Join(pre.Devices[0].Capabilities, ",") != "phone" {
		t.Fatalf("a landline is called, never texted: %+v", pre.Devices)
	}
	if _, err := f.sms(t, "alice"); !errors.Is(err, auth.ErrNoCapableDevice) {
		t.Fatalf("factor=sms to a landline: %v", err)
	}
	if err := f.svc.SendSMSPasscodes(ctx, desk.ID); err == nil {
		t.Fatal("send_sms_passcodes to a landline succeeded")
	}
	if _, err := f.svc.PhoneActivation(ctx, desk.ID, 0); !auth.IsKind(err, auth.KindInvalid) {
		t.Fatalf("activation code for a landline: %v", err)
	}
	res, err := f.call(auth.FactorPhone, false)
	if err != nil || res.Result != "allow" {
		t.Fatalf("call = %+v, %v", res, err)
	}
	want := auth.PhoneDial{Number: "+442079460958", Extension: "12#", Predelay: 5 * time.Second, Postdelay: auth.DefaultPostdelay}
	if c.dialed[0] != want {
		t.Errorf("dialled %+v; want %+v", c.dialed[0], want)
	}

	// Made a mobile, it is texted too; the delays follow the phone.
	if _, err := f.svc.ModifyPhone(ctx, desk.ID, auth.PhoneFields{Type: sp("mobile"), Predelay: sp(""), Postdelay: sp("3")}); err != nil {
		t.Fatal(err)
	}
	pre, _ = f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if len(pre.Devices) != 1 || strings.Join(pre.Devices[0].Capabilities, ",") != "sms,phone" {
		t.Fatalf("a mobile again: %+v", pre.Devices)
	}
	if _, err := f.call(auth.FactorPhone, false); err != nil {
		t.Fatal(err)
	}
	want.Predelay, want.Postdelay = auth.DefaultPredelay, 3*time.Second
	if c.dialed[1] != want {
		t.Errorf("dialled %+v; want %+v", c.dialed[1], want)
	}

	// Duo's Admin API way: add_phone type=landline, then associate.
	p, err := f.svc.AddPhone(ctx, auth.PhoneFields{Type: sp("LANDLINE"), Number: sp("+15555550199"), Postdelay: sp("2")})
	if err != nil || p.Type != "Landline" {
		t.Fatalf("add_phone landline: %+v, %v", p, err)
	}
	if err := f.svc.AddUserPhone(ctx, "alice", p.ID); err != nil {
		t.Fatal(err)
	}
	if ph, err := f.svc.Phone(ctx, p.ID); err != nil || ph.Type != "Landline" || ph.UserID == "" || ph.Postdelay != "2" {
		t.Fatalf("associated landline %+v, %v", ph, err)
	}
	// A phone with an app stays a mobile.
	app := f.device(t, "alice")
	if _, err := f.svc.ModifyPhone(ctx, app.Device.ID, auth.PhoneFields{Type: sp("landline")}); !auth.IsKind(err, auth.KindInvalid) {
		t.Fatalf("an app made a landline: %v", err)
	}
}

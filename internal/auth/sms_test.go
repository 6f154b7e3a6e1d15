package auth_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// recordingSender keeps the messages it is asked to send; fail makes it
// refuse them.
type recordingSender struct {
	mu   sync.Mutex
	sent []sentSMS
	fail error
}

type sentSMS struct{ to, text string }

func (r *recordingSender) SendSMS(_ context.Context, to, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.sent = append(r.sent, sentSMS{to, text})
	return nil
}

func (r *recordingSender) Name() string { return "test" }

func (r *recordingSender) last(t *testing.T) ([]string, string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		t.Fatal("no sms sent")
	}
	m := r.sent[len(r.sent)-1]
	return regexp.MustCompile(`\b[0-9]{7}\b`).FindAllString(m.text, -1), m.to
}

func (r *recordingSender) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func smsFixture(t *testing.T, o auth.SMSOptions) (*fixture, *recordingSender, store.User, store.Device) {
	t.Helper()
	rs := &recordingSender{}
	o.Sender = rs
	f := newFixture(t, auth.Options{SMS: o})
	u := f.user(t, "alice", store.StatusActive)
	d, err := f.svc.AddNumberPhone(context.Background(), "alice", "+1 (555) 555-0123", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return f, rs, u, d
}

func (f *fixture) sms(t *testing.T, name string) (auth.AuthResult, error) {
	t.Helper()
	return f.svc.Auth(context.Background(), auth.AuthRequest{
		Request: auth.Request{Integration: f.in, Username: name, IP: "192.0.2.7"}, Factor: auth.FactorSMS, Device: "auto"})
}

func TestSMSPasscodes(t *testing.T) {
	f, rs, u, d := smsFixture(t, auth.SMSOptions{Batch: 3, Expiration: time.Hour, Message: "Assent"})
	ctx := context.Background()

	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, TextPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pre.Devices) != 1 {
		t.Fatalf("devices = %+v", pre.Devices)
	}
	pd := pre.Devices[0]
	if pd.Number != "XXX-XXX-0123" || strings.Join(pd.Capabilities, ",") != "sms" || pd.SMSNextCode != "" || pd.ID != d.ID {
		t.Fatalf("device = %+v", pd)
	}
	if !strings.Contains(pre.Prompt.Text, "SMS passcodes to XXX-XXX-0123") || pre.Prompt.Factors["1"] != "sms1" {
		t.Fatalf("prompt = %+v", pre.Prompt)
	}

	res, err := f.sms(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "deny" || res.Status != "sent" || res.StatusMsg != "New SMS passcodes sent." {
		t.Fatalf("sms = %+v", res)
	}
	codes, to := rs.last(t)
	if to != "+15555550123" || len(codes) != 3 {
		t.Fatalf("sent %v to %s", codes, to)
	}
	for i, c := range codes {
		if c[0] != byte('1'+i) {
			t.Fatalf("code %d = %s: must start with %d", i, c, i+1)
		}
	}
	pre, _ = f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, TextPrompt: true})
	if pre.Devices[0].SMSNextCode != "1" || !strings.Contains(pre.Prompt.Text, "(next code starts with: 1)") {
		t.Fatalf("after sending: %+v %q", pre.Devices[0], pre.Prompt.Text)
	}

	if r := f.passcode(t, "alice", codes[0]); r.Result != "allow" {
		t.Fatalf("first code: %+v", r)
	}
	if r := f.passcode(t, "alice", codes[0]); r.Result != "deny" {
		t.Fatalf("first code again: %+v", r)
	}
	pre, _ = f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if pre.Devices[0].SMSNextCode != "2" {
		t.Fatalf("sms_nextcode after one use = %q", pre.Devices[0].SMSNextCode)
	}
	logs := f.logs(t, u.ID)
	var factors []string
	for _, l := range logs {
		factors = append(factors, l.Factor+"/"+l.Result)
	}
	if !strings.Contains(strings.Join(factors, " "), "sms_passcode/allow") || !strings.Contains(strings.Join(factors, " "), "sms_refresh/deny") {
		t.Fatalf("auth log factors: %v", factors)
	}

	// Expiry: the rest of the batch stops working after sms_expiration.
	f.clock.Advance(time.Hour)
	if r := f.passcode(t, "alice", codes[1]); r.Result != "deny" {
		t.Fatalf("expired code: %+v", r)
	}

	// A new batch replaces the old one.
	if _, err := f.sms(t, "alice"); err != nil {
		t.Fatal(err)
	}
	newCodes, _ := rs.last(t)
	f.clock.Advance(time.Minute)
	if _, err := f.sms(t, "alice"); err != nil {
		t.Fatal(err)
	}
	if r := f.passcode(t, "alice", newCodes[2]); r.Result != "deny" {
		t.Fatalf("code of a replaced batch: %+v", r)
	}

	tl, err := f.svc.TelephonyLog(ctx, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != 3 {
		t.Fatalf("telephony log: %+v", tl)
	}
	for _, l := range tl {
		if l.Phone != "XXX-XXX-0123" || l.Type != "sms" || l.Context != "authentication" || l.Status != "sent" || l.Credits != 1 || l.UserID != u.ID {
			t.Fatalf("telephony row %+v", l)
		}
	}
}

func TestSMSConcurrentCodeUse(t *testing.T) {
	f, rs, _, _ := smsFixture(t, auth.SMSOptions{Batch: 1})
	if _, err := f.sms(t, "alice"); err != nil {
		t.Fatal(err)
	}
	codes, _ := rs.last(t)
	var wg sync.WaitGroup
	results := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			r, err := f.svc.Auth(context.Background(), auth.AuthRequest{
				Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: auth.FactorPasscode, Passcode: codes[0]})
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			results <- r.Result
		})
	}
	wg.Wait()
	close(results)
	allowed := 0
	for r := range results {
		if r == "allow" {
			allowed++
		}
	}
	if allowed != 1 {
		t.Fatalf("%d concurrent logins with one code were allowed", allowed)
	}
}

func TestSMSRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    auth.SMSOptions
	}{
		{"per user", auth.SMSOptions{PerUser: ratelimit.Limit{Every: time.Hour, Burst: 3}}},
		{"global", auth.SMSOptions{Global: ratelimit.Limit{Every: time.Hour, Burst: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, rs, u, _ := smsFixture(t, tc.o)
			for i := range 3 {
				if _, err := f.sms(t, "alice"); err != nil {
					t.Fatalf("sms %d: %v", i+1, err)
				}
			}
			_, err := f.sms(t, "alice")
			if !auth.IsKind(err, auth.KindRateLimited) {
				t.Fatalf("4th sms: %v", err)
			}
			if rs.count() != 3 {
				t.Fatalf("%d messages sent", rs.count())
			}
			logs := f.logs(t, u.ID)
			if logs[0].Reason != auth.ReasonRateLimited {
				t.Fatalf("newest log row: %+v", logs[0])
			}
			// A reload that turns the limits off lets the next one go.
			f.svc.SetSMSLimits(ratelimit.Limit{}, ratelimit.Limit{})
			if _, err := f.sms(t, "alice"); err != nil || rs.count() != 4 {
				t.Fatalf("after the reload: %v, %d sent", err, rs.count())
			}
		})
	}
}

func TestSMSFailures(t *testing.T) {
	f, rs, _, _ := smsFixture(t, auth.SMSOptions{})
	rs.fail = errors.New("smsc down")
	res, err := f.sms(t, "alice")
	if err == nil || res.Result == "allow" || !strings.Contains(err.Error(), "smsc down") || strings.Contains(err.Error(), "5550123") {
		t.Fatalf("failed delivery: %+v, %v", res, err)
	}
	tl, _ := f.svc.TelephonyLog(context.Background(), time.Time{}, time.Time{}, 0)
	if len(tl) != 1 || tl[0].Status != "failed" || tl[0].Credits != 0 {
		t.Fatalf("telephony log: %+v", tl)
	}

	// Without a provider no phone is SMS-capable.
	g := newFixture(t, auth.Options{})
	g.user(t, "bob", store.StatusActive)
	if _, err := g.svc.AddNumberPhone(context.Background(), "bob", "+15555550100", "", "desk"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.sms(t, "bob"); !errors.Is(err, auth.ErrNoCapableDevice) {
		t.Fatalf("sms without provider: %v", err)
	}
	// A phone without an app takes no push.
	_, err = g.svc.Auth(context.Background(), auth.AuthRequest{Request: auth.Request{Integration: g.in, Username: "bob"}, Factor: auth.FactorPush, Device: "auto"})
	if !errors.Is(err, auth.ErrNoCapableDevice) {
		t.Fatalf("push to a number: %v", err)
	}
}

func TestPendingPhoneWithNumberBecomesSMSPhone(t *testing.T) {
	rs := &recordingSender{}
	f := newFixture(t, auth.Options{SMS: auth.SMSOptions{Sender: rs}})
	f.user(t, "carol", store.StatusActive)
	ctx := context.Background()
	num := "+44 20 7946 0958"
	p, err := f.svc.AddPhone(ctx, auth.PhoneFields{Number: &num})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddUserPhone(ctx, "carol", p.ID); err != nil {
		t.Fatal(err)
	}
	ph, err := f.svc.Phone(ctx, p.ID)
	if err != nil || ph.Number != "+442079460958" || ph.UserID == "" || ph.Activated {
		t.Fatalf("phone = %+v, %v", ph, err)
	}
	if _, err := f.sms(t, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, to := rs.last(t); to != "+442079460958" {
		t.Fatalf("sent to %s", to)
	}
	if auth.MaskNumber("+442079460958") != "XXX-XXX-0958" {
		t.Fatal(auth.MaskNumber("+442079460958"))
	}
}

func TestSendSMSPasscodesAdmin(t *testing.T) {
	f, rs, _, d := smsFixture(t, auth.SMSOptions{Batch: 2, PerUser: ratelimit.Limit{Every: time.Hour, Burst: 1}})
	ctx := context.Background()
	if err := f.svc.SendSMSPasscodes(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	codes, _ := rs.last(t)
	if r := f.passcode(t, "alice", codes[0]); r.Result != "allow" {
		t.Fatalf("code sent by the administrator: %+v", r)
	}
	if err := f.svc.SendSMSPasscodes(ctx, d.ID); !auth.IsKind(err, auth.KindRateLimited) {
		t.Fatalf("second batch over the per-user limit: %v", err)
	}
	tl, _ := f.svc.TelephonyLog(ctx, time.Time{}, time.Time{}, 0)
	if len(tl) != 1 || tl[0].Context != "administrator" {
		t.Fatalf("telephony log: %+v", tl)
	}
	num := "+15555550199"
	p, err := f.svc.AddPhone(ctx, auth.PhoneFields{Number: &num})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SendSMSPasscodes(ctx, p.ID); !auth.IsKind(err, auth.KindInvalid) {
		t.Fatalf("a phone without a user: %v", err)
	}
}

func TestSMSRefresh(t *testing.T) {
	f, rs, _, _ := smsFixture(t, auth.SMSOptions{Batch: 2, Refresh: true})
	if _, err := f.sms(t, "alice"); err != nil {
		t.Fatal(err)
	}
	codes, _ := rs.last(t)
	if r := f.passcode(t, "alice", codes[0]); r.Result != "allow" || rs.count() != 1 {
		t.Fatalf("first code: %+v, %d messages", r, rs.count())
	}
	if r := f.passcode(t, "alice", codes[1]); r.Result != "allow" || rs.count() != 2 {
		t.Fatalf("last code: %+v, %d messages (want a new batch)", r, rs.count())
	}
	fresh, _ := rs.last(t)
	if r := f.passcode(t, "alice", fresh[1]); r.Result != "allow" {
		t.Fatalf("code of the refreshed batch: %+v", r)
	}
}

// TestSMSPolicyMethods: a policy that does not allow sms hides the phone's
// sms capability in preauth, refuses factor=sms without sending, and refuses
// a code of a batch sent before the policy changed, without spending it.
func TestSMSPolicyMethods(t *testing.T) {
	f, rs, _, _ := smsFixture(t, auth.SMSOptions{Batch: 2, Expiration: time.Hour, Message: "Assent"})
	ctx := context.Background()
	if _, err := f.sms(t, "alice"); err != nil {
		t.Fatal(err)
	}
	codes, _ := rs.last(t)
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{Methods: &[]string{auth.MethodPush}}})

	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range pre.Devices {
		if slices.Contains(d.Capabilities, "sms") || d.SMSNextCode != "" {
			t.Errorf("preauth offers sms against the policy: %+v", d)
		}
	}
	sent := rs.count()
	if res, err := f.sms(t, "alice"); err == nil && res.Result != "deny" {
		t.Errorf("factor=sms against the policy: %+v", res)
	}
	if rs.count() != sent {
		t.Error("a message was sent against the policy")
	}
	res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice", IP: "192.0.2.7"},
		Factor: auth.FactorPasscode, Passcode: codes[0]})
	if err != nil || res.Result != "deny" {
		t.Fatalf("an SMS code against the policy: %+v, %v", res, err)
	}
	// Allowed again, the same code still works: it was not spent.
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Unset: []string{"methods"}})
	res, err = f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice", IP: "192.0.2.7"},
		Factor: auth.FactorPasscode, Passcode: codes[0]})
	if err != nil || res.Result != "allow" {
		t.Fatalf("the code once sms is allowed again: %+v, %v", res, err)
	}
}

// sms1 counts the devices as preauth lists them: a phone with only the app,
// which a policy allowing SMS alone leaves out of the list, is not one.
func TestSMSIndexCountsPreauthList(t *testing.T) {
	rs := &recordingSender{}
	f := newFixture(t, auth.Options{SMS: auth.SMSOptions{Sender: rs, Batch: 1, Expiration: time.Hour}})
	ctx := context.Background()
	f.device(t, "alice") // the app, added first
	f.clock.Advance(time.Second)
	d, err := f.svc.AddNumberPhone(ctx, "alice", "+1 (555) 555-0123", "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{Methods: ptr([]string{auth.MethodSMS})}})
	r := auth.Request{Integration: f.in, Username: "alice"}
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: r, TextPrompt: true})
	if err != nil || len(pre.Devices) != 1 || pre.Devices[0].ID != d.ID || pre.Prompt.Factors["1"] != "sms1" {
		t.Fatalf("preauth = %+v, %v", pre, err)
	}
	res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: r, Factor: auth.FactorPrompt, Prompt: "sms1"})
	if err != nil || res.Status != "sent" {
		t.Fatalf("sms1 = %+v, %v", res, err)
	}
	if _, to := rs.last(t); to != "+15555550123" {
		t.Fatalf("sent to %s", to)
	}
	if _, err := f.svc.Auth(ctx, auth.AuthRequest{Request: r, Factor: auth.FactorPrompt, Prompt: "sms2"}); !errors.Is(err, auth.ErrNoCapableDevice) {
		t.Fatalf("sms2 = %v, want ErrNoCapableDevice", err)
	}
}

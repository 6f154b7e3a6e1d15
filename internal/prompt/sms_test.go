package prompt_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

type smsOutbox struct {
	mu   sync.Mutex
	text []string
	fail bool
}

func (o *smsOutbox) SendSMS(_ context.Context, to, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errors.New("carrier down")
	}
	o.text = append(o.text, text)
	return nil
}

func (o *smsOutbox) Name() string { return "test" }

func (o *smsOutbox) codes(t *testing.T) []string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.text) == 0 {
		t.Fatal("no message sent")
	}
	return regexp.MustCompile(`\b[0-9]{7}\b`).FindAllString(o.text[len(o.text)-1], -1)
}

// TestPromptSMS: the login page offers "Text me passcodes" for a phone
// with a number; the button sends a batch and a code from it logs in.
func TestPromptSMS(t *testing.T) {
	t.Parallel()
	out := &smsOutbox{}
	rec := &recorder{}
	s := prompttest.New(t, prompttest.Options{Finishers: map[string]prompt.Finisher{prompt.KindUniversal: rec},
		SMS: auth.SMSOptions{Sender: out, Batch: 2, PerUser: ratelimit.Limit{Every: time.Hour, Burst: 2}}})
	in, _ := s.Integration(t, store.TypeUniversal, store.PolicyEnroll)
	f := &fixture{s: s, rec: rec, in: in}
	if _, err := s.Core.CreateUser(context.Background(), "sally"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Core.AddNumberPhone(context.Background(), "sally", "+15555550166", "", ""); err != nil {
		t.Fatal(err)
	}
	p := f.start(t, "sally")
	if !strings.Contains(p.Body, "Text me passcodes at XXX-XXX-0166") || p.Has("push-button") {
		t.Fatalf("login page:\n%s", p.Body)
	}
	dev := regexp.MustCompile(`name="device" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if dev == nil {
		t.Fatal("no device field")
	}
	sent := s.Action(t, p, "/prompt/sms", "device", dev[1])
	if !strings.Contains(sent.Text("status"), "New SMS passcodes sent") {
		t.Fatalf("after sending: %q", sent.Text("status"))
	}
	codes := out.codes(t)
	done := s.Action(t, sent, "/prompt/passcode", "passcode", codes[1])
	if _, o := rec.last(t); o.Factor != prompt.FactorPasscode || o.Status != "allow" {
		t.Fatalf("login with an SMS passcode: %d %+v", done.Status, o)
	}

	// The second batch goes, the third is refused by the per-user limit;
	// a failing carrier is an error message, never a login.
	p = f.start(t, "sally")
	if again := s.Action(t, p, "/prompt/sms", "device", dev[1]); !strings.Contains(again.Text("status"), "New SMS passcodes sent") {
		t.Fatalf("second batch: %q", again.Text("status"))
	}
	if refused := s.Action(t, p, "/prompt/sms", "device", dev[1]); !strings.Contains(refused.Text("status"), "Too many text messages") {
		t.Fatalf("third batch: %q", refused.Text("status"))
	}
	out.mu.Lock()
	n := len(out.text)
	out.fail = true
	out.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d messages sent, want 2", n)
	}
	if _, err := s.Core.CreateUser(context.Background(), "sid"); err != nil {
		t.Fatal(err)
	}
	sid, err := s.Core.AddNumberPhone(context.Background(), "sid", "+15555550167", "", "")
	if err != nil {
		t.Fatal(err)
	}
	p = f.start(t, "sid")
	if failed := s.Action(t, p, "/prompt/sms", "device", sid.ID); !strings.Contains(failed.Text("status"), "could not be sent") ||
		strings.Contains(failed.Body, "5550167") {
		t.Fatalf("failing carrier: %q", failed.Text("status"))
	}
}

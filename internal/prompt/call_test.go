package prompt_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/store"
)

// gatedPhone answers each call with the outcome sent on its channel,
// after reporting "answered"; a nil outcome channel fails the call.
type gatedPhone struct{ outcome chan string }

func (g gatedPhone) Call(ctx context.Context, _ auth.PhoneDial, progress func(string)) (string, error) {
	progress(auth.CallCalling)
	select {
	case o, ok := <-g.outcome:
		if !ok {
			return auth.CallFailed, errors.New("trunk down")
		}
		progress(auth.CallAnswered)
		return o, nil
	case <-ctx.Done():
		return auth.CallFailed, ctx.Err()
	}
}

func (gatedPhone) Name() string { return "test" }

// TestPromptCall: the login page offers "Call me" for a phone that can be
// called; the button places the call and shows the waiting page, whose
// poll reports "Dialing…"; key 1 logs in (factor phone_call), another key
// goes back to the choices, and a call that fails says so (never a login).
func TestPromptCall(t *testing.T) {
	t.Parallel()
	ph := gatedPhone{outcome: make(chan string, 1)}
	rec := &recorder{}
	s := prompttest.New(t, prompttest.Options{Finishers: map[string]prompt.Finisher{prompt.KindUniversal: rec},
		Phone: auth.PhoneOptions{Caller: ph}})
	t.Cleanup(s.Core.EndCalls)
	in, _ := s.Integration(t, store.TypeUniversal, store.PolicyEnroll)
	f := &fixture{s: s, rec: rec, in: in}
	if _, err := s.Core.CreateUser(context.Background(), "carl"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Core.AddNumberPhone(context.Background(), "carl", "+15555550188", "", ""); err != nil {
		t.Fatal(err)
	}
	p := f.start(t, "carl")
	if !strings.Contains(p.Body, "Call me at XXX-XXX-0188") || p.Has("push-button") {
		t.Fatalf("login page:\n%s", p.Body)
	}
	dev := regexp.MustCompile(`name="device" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if dev == nil {
		t.Fatal("no device field")
	}

	calling := s.Action(t, p, "/prompt/call", "device", dev[1])
	if calling.State() != "pushed" || !strings.Contains(calling.Text("status"), "Calling XXX-XXX-0188") {
		t.Fatalf("waiting page: %q %q", calling.State(), calling.Text("status"))
	}
	status := s.Action(t, calling, "/prompt/status")
	var js map[string]any
	if err := json.Unmarshal([]byte(status.Body), &js); err != nil || js["state"] != "waiting" || js["status"] != "calling" ||
		js["message"] != "Dialing XXX-XXX-0188..." {
		t.Fatalf("status poll %s (%v)", status.Body, err)
	}
	// The page's script polls (each poll held until the call moves on)
	// until the call ended, then submits the check form.
	settle := func(calling *prompttest.Page) {
		t.Helper()
		for range 5 {
			var js map[string]any
			if err := json.Unmarshal([]byte(s.Action(t, calling, "/prompt/status").Body), &js); err != nil || js["state"] != "waiting" {
				return
			}
		}
		t.Fatal("the call still waits after 5 polls")
	}
	ph.outcome <- auth.CallApproved
	settle(calling)
	done := s.Action(t, calling, "/prompt/check")
	if _, o := rec.last(t); done.Status != http.StatusFound || o.Factor != prompt.FactorPhoneCall || o.Result != "allow" {
		t.Fatalf("key 1: %d %+v", done.Status, o)
	}

	// Another key: back to the choices with Duo's message.
	calling = s.Action(t, f.start(t, "carl"), "/prompt/call", "device", dev[1])
	ph.outcome <- auth.CallDenied
	settle(calling)
	if back := s.Action(t, calling, "/prompt/check"); back.State() != "choose" || back.Text("status") != "Login request denied." {
		t.Fatalf("key 2: %q %q", back.State(), back.Text("status"))
	}

	// The trunk fails: an error message, no login.
	calling = s.Action(t, f.start(t, "carl"), "/prompt/call", "device", dev[1])
	close(ph.outcome)
	settle(calling)
	if back := s.Action(t, calling, "/prompt/check"); back.State() != "choose" || !strings.Contains(back.Text("status"), "could not be placed") {
		t.Fatalf("failed call: %q %q", back.State(), back.Text("status"))
	}
}

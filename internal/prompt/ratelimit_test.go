package prompt_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

func newLimitedFixture(t *testing.T, opts prompttest.Options) *fixture {
	t.Helper()
	rec := &recorder{}
	opts.Finishers = map[string]prompt.Finisher{prompt.KindUniversal: rec}
	s := prompttest.New(t, opts)
	in, _ := s.Integration(t, store.TypeUniversal, store.PolicyEnroll)
	return &fixture{s: s, rec: rec, in: in}
}

// tooMany asserts p is the 429 page saying when to try again. The stack's
// clock runs in real time, so Retry-After may be a little below retry.
func tooMany(t *testing.T, what string, p *prompttest.Page, retry int, says string) {
	t.Helper()
	got, err := strconv.Atoi(p.Header.Get("Retry-After"))
	if p.Status != http.StatusTooManyRequests || err != nil || got > retry || got < retry-5 ||
		!strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") || p.Text("status") != says {
		t.Errorf("%s: HTTP %d, Retry-After %q, %q, message %q; want 429, Retry-After %d, an HTML page saying %q",
			what, p.Status, p.Header.Get("Retry-After"), p.Header.Get("Content-Type"), p.Text("status"), retry, says)
	}
}

// The core's push, passcode and enrollment limits, as a browser meets them.
func TestPromptRateLimits(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t, prompttest.Options{LockoutThreshold: 10, Limits: auth.Limits{
		PushesPerUser:             ratelimit.Limit{Every: time.Minute, Burst: 2},
		PasscodeFailuresPerUser:   ratelimit.Limit{Every: time.Minute, Burst: 2},
		EnrollmentsPerIntegration: ratelimit.Limit{Every: time.Hour, Burst: 1},
	}})
	d := f.s.Enroll(t, "alice")
	p := f.start(t, "alice")
	for i := range 2 {
		if pushed := f.s.Action(t, p, "/prompt/push", "device", "auto"); pushed.State() != "pushed" {
			t.Fatalf("push %d: %d %q", i+1, pushed.Status, pushed.State())
		}
	}
	tooMany(t, "3rd push", f.s.Action(t, p, "/prompt/push", "device", "auto"), 60, "Too many attempts. Try again in 1 minute.")

	for i := range 2 {
		if w := f.s.Action(t, p, "/prompt/passcode", "passcode", "999999999"); w.Status != 200 || !strings.Contains(w.Text("status"), "Incorrect passcode") {
			t.Fatalf("wrong passcode %d: %d %q", i+1, w.Status, w.Text("status"))
		}
	}
	tooMany(t, "right passcode after 2 wrong ones", f.s.Action(t, p, "/prompt/passcode", "passcode", d.Passcode(t)),
		60, "Too many attempts. Try again in 1 minute.")
	f.s.Clock.Advance(time.Minute)
	if done := f.s.Action(t, p, "/prompt/passcode", "passcode", d.Passcode(t)); done.Status != http.StatusFound {
		t.Errorf("right passcode after a refill: %d %q", done.Status, done.Text("status"))
	}

	// Inline enrollment spends the integration's enrollment budget.
	for i, user := range []string{"newbie1", "newbie2"} {
		intro := f.start(t, user)
		got := f.s.Action(t, intro, "/prompt/enroll")
		if i == 0 && got.State() != "enroll-qr" {
			t.Fatalf("first inline enrollment: %d %q", got.Status, got.State())
		}
		if i == 1 {
			tooMany(t, "second inline enrollment", got, 3600, "Too many attempts. Try again in 60 minutes.")
		}
	}
}

// Guessing enrollment-portal links from one address.
func TestPortalGuessingLimited(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t, prompttest.Options{ActivationLimit: ratelimit.Limit{Every: 10 * time.Minute, Burst: 3}})
	in, _ := f.s.Integration(t, store.TypeAuthAPI, store.PolicyEnroll)
	pre, err := f.s.Core.Preauth(context.Background(), auth.PreauthRequest{Request: auth.Request{Integration: in, Username: "pat"}})
	if err != nil || pre.Result != auth.ResultEnroll {
		t.Fatalf("preauth: %+v %v", pre, err)
	}
	link := strings.TrimPrefix(pre.EnrollPortalURL, "https://"+f.s.Host)
	// Looking at a right link costs nothing.
	for range 4 {
		if p := f.s.Get(t, link); p.Status != 200 {
			t.Fatalf("portal page: %d", p.Status)
		}
	}
	for _, bogus := range []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "guess-2", "guess-3"} {
		if p := f.s.Get(t, "/portal/enroll/"+bogus); p.Status != http.StatusNotFound {
			t.Fatalf("wrong link %s: %d", bogus, p.Status)
		}
	}
	tooMany(t, "right link after 3 wrong ones", f.s.Get(t, link), 600, "Too many attempts. Try again in 10 minutes.")
	tooMany(t, "using it", f.s.Post(t, link, url.Values{}), 600, "Too many attempts. Try again in 10 minutes.")
	f.s.Clock.Advance(10 * time.Minute)
	if qr := f.s.Post(t, link, url.Values{}); qr.State() != "enroll-qr" {
		t.Errorf("the link after a refill (it was not used by the refused request): %d %q", qr.Status, qr.State())
	}
}

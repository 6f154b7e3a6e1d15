package device

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/testutil"
)

// Guessing activation codes from one address: after the budget of wrong
// codes the address is refused before any code is looked up, a right one
// too (which stays unused); right codes cost nothing.
func TestActivationGuessingLimited(t *testing.T) {
	t.Parallel()
	c := testutil.NewClock(time.Now().UTC().Truncate(time.Second))
	f := newFixture(t, func(a *API) {
		a.ActivationLimit = ratelimit.NewNamed("rate_limit_activation_failures_per_ip",
			ratelimit.Limit{Every: 10 * time.Minute, Burst: 3}, ratelimit.Options{Now: c.Now})
	})
	pub := pubPEM(t, &testKeys()[0].PublicKey)
	fresh := func() string {
		code, _, err := ParseCode(f.enroll(t, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	post := func(code string) (int, envelope, string) {
		t.Helper()
		status, env, h := f.send(t, formPost(t, f.url("/push/v2/activation/"+code), url.Values{"pubkey": {pub}}.Encode()))
		return status, env, h.Get("Retry-After")
	}

	for range 4 {
		if status, env, _ := post(fresh()); status != 200 {
			t.Fatalf("right code: %d %s", status, env.raw)
		}
	}
	for i := range 3 {
		if status, env, _ := post(fmt.Sprintf("WRONGCODE%011d", i)); status != 404 || env.Code != 40403 {
			t.Fatalf("wrong code %d: %d %s", i+1, status, env.raw)
		}
	}
	right := fresh()
	status, env, retry := post(right)
	if status != http.StatusTooManyRequests || env.Code != 42901 || env.Stat != "FAIL" || retry != "600" {
		t.Fatalf("right code after 3 wrong ones: %d %s, Retry-After %q; want 429/42901, Retry-After 600", status, env.raw, retry)
	}
	c.Advance(10 * time.Minute)
	if status, env, _ := post(right); status != 200 {
		t.Errorf("the refused code after a refill: %d %s", status, env.raw)
	}
}

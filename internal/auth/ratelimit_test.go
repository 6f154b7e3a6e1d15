package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// rateLimited asserts err is a KindRateLimited error saying to retry after want.
func rateLimited(t *testing.T, what string, err error, want time.Duration) {
	t.Helper()
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Kind != auth.KindRateLimited {
		t.Fatalf("%s: err = %v, want a rate-limit refusal", what, err)
	}
	if ae.RetryAfter != want {
		t.Errorf("%s: retry after %v, want %v", what, ae.RetryAfter, want)
	}
}

// reasons counts a user's auth-log rows by reason.
func (f *fixture) reasons(t *testing.T, userID string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, l := range f.logs(t, userID) {
		n[l.Reason]++
	}
	return n
}

func TestPushRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{Limits: auth.Limits{PushesPerUser: ratelimit.Limit{Every: time.Minute, Burst: 3}}})
	ctx := context.Background()
	a := f.device(t, "alice")
	f.device(t, "bob")
	// Every way of starting a push spends the same budget.
	push := func(factor, prompt string) (auth.AuthResult, error) {
		req := f.pushReq("alice", true)
		req.Factor, req.Prompt = factor, prompt
		return f.svc.Auth(ctx, req)
	}
	for _, fp := range [][2]string{{"push", ""}, {"auto", ""}, {"prompt", "push1"}} {
		if res, err := push(fp[0], fp[1]); err != nil || res.TxID == "" {
			t.Fatalf("push %v within the burst: %+v %v", fp, res, err)
		}
	}
	_, err := push("push", "")
	rateLimited(t, "4th async push", err, time.Minute)
	// A synchronous push is refused at once, without waiting for a device.
	sync := f.pushReq("alice", false)
	_, err = f.svc.Auth(ctx, sync)
	rateLimited(t, "sync push over the limit", err, time.Minute)

	// No transaction for the refused pushes; each refusal is in the auth log.
	if p, err := f.svc.Pending(ctx, a.Device.ID); err != nil || len(p) != 3 {
		t.Errorf("%d pushes pending (%v), want the 3 allowed", len(p), err)
	}
	var refused []store.AuthLog
	for _, l := range f.logs(t, a.Device.UserID) {
		if l.Reason == auth.ReasonRateLimited {
			refused = append(refused, l)
		}
	}
	if len(refused) != 2 || refused[0].Result != auth.ResultDeny || refused[0].Factor != "duo_push" ||
		refused[0].Device != a.Device.ID || refused[0].IP != "198.51.100.4" || refused[0].IKey != f.in.IKey {
		t.Errorf("auth log of the refusals: %+v", refused)
	}

	// Another user has a budget of their own.
	if _, err := f.svc.Auth(ctx, f.pushReq("bob", true)); err != nil {
		t.Errorf("push to another user: %v", err)
	}
	// One token a minute.
	f.clock.Advance(time.Minute)
	if _, err := push("push", ""); err != nil {
		t.Errorf("push after a refill: %v", err)
	}
	_, err = push("push", "")
	rateLimited(t, "second push after one refill", err, time.Minute)
}

func TestPasscodeRateLimitPerUser(t *testing.T) {
	t.Parallel()
	// Lockout at 5, so the rate limit (3) is what refuses here; the
	// lockout counter keeps counting the failures that were tried.
	f := newFixture(t, auth.Options{LockoutThreshold: 5,
		Limits: auth.Limits{PasscodeFailuresPerUser: ratelimit.Limit{Every: 10 * time.Minute, Burst: 3}}})
	ctx := context.Background()
	u := f.user(t, "alice", store.StatusActive)
	good := f.codes(t, "alice", auth.NewBypassCodes{Count: 1, Uses: 1})
	f.user(t, "bob", store.StatusActive)
	bobCode := f.codes(t, "bob", auth.NewBypassCodes{Count: 1, Uses: 1})

	// Right codes cost nothing.
	many := f.codes(t, "alice", auth.NewBypassCodes{Count: 1, Uses: 0, PreserveExisting: true})
	for range 5 {
		if r := f.passcode(t, "alice", many[0]); r.Result != auth.ResultAllow {
			t.Fatalf("right code: %+v", r)
		}
	}
	for i := range 3 {
		if r := f.passcode(t, "alice", "000000001"); r.Result != auth.ResultDeny {
			t.Fatalf("wrong code %d: %+v", i+1, r)
		}
	}
	passcode := func(name, code string) error {
		_, err := f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: name, IP: "192.0.2.7"},
			Factor: auth.FactorPasscode, Passcode: code})
		return err
	}
	rateLimited(t, "4th wrong code", passcode("alice", "000000001"), 10*time.Minute)
	// The right code of a blocked user is refused too, and not spent:
	// otherwise the limit would tell a guesser which code is right.
	rateLimited(t, "right code while blocked", passcode("alice", good[0]), 10*time.Minute)

	got, err := f.svc.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.FailedAttempts != 3 || got.Status != store.StatusActive {
		t.Errorf("after 3 failures and 2 refusals: failed attempts %d, status %s; want 3, active", got.FailedAttempts, got.Status)
	}
	if n := f.reasons(t, u.ID); n[auth.ReasonInvalidPasscode] != 3 || n[auth.ReasonRateLimited] != 2 {
		t.Errorf("auth log reasons %v, want 3 invalid_passcode and 2 frequent_attempts", n)
	}
	// Another user is not affected, from the same address either.
	if err := passcode("bob", bobCode[0]); err != nil {
		t.Errorf("another user: %v", err)
	}
	// One failure refills every 10 minutes: the right code works again,
	// and it was not used up by the refused attempt.
	f.clock.Advance(10 * time.Minute)
	if r := f.passcode(t, "alice", good[0]); r.Result != auth.ResultAllow {
		t.Errorf("right code after a refill: %+v", r)
	}
}

func TestPasscodeRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{LockoutThreshold: -1,
		Limits: auth.Limits{PasscodeFailuresPerIP: ratelimit.Limit{Every: time.Minute, Burst: 3}}})
	ctx := context.Background()
	passcode := func(name, ip, code string) (auth.AuthResult, error) {
		return f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: name, IP: ip},
			Factor: auth.FactorPasscode, Passcode: code})
	}
	var codes []string
	for i := range 5 {
		name := fmt.Sprint("user", i)
		f.user(t, name, store.StatusActive)
		codes = append(codes, f.codes(t, name, auth.NewBypassCodes{Count: 1, Uses: 0})[0])
	}
	// One wrong code for each of three users, from addresses in one /64.
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if r, err := passcode(fmt.Sprint("user", i), ip, "000000001"); err != nil || r.Result != auth.ResultDeny {
			t.Fatalf("wrong code %d: %+v %v", i, r, err)
		}
	}
	_, err := passcode("user3", "2001:db8:1:2::9", codes[3])
	rateLimited(t, "right code of a 4th user from the same /64", err, time.Minute)
	for _, tc := range []struct{ what, ip string }{
		{"another network", "2001:db8:1:3::1"},
		{"no ipaddr (limited per user only)", ""},
	} {
		if r, err := passcode("user4", tc.ip, codes[4]); err != nil || r.Result != auth.ResultAllow {
			t.Errorf("%s: %+v %v", tc.what, r, err)
		}
	}
	f.clock.Advance(time.Minute)
	if r, err := passcode("user3", "2001:db8:1:2::9", codes[3]); err != nil || r.Result != auth.ResultAllow {
		t.Errorf("after a refill: %+v %v", r, err)
	}
}

// A flood of wrong codes in parallel gets exactly the burst checked: the
// attempts in flight count against the bucket.
func TestPasscodeRateLimitConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{LockoutThreshold: -1,
		Limits: auth.Limits{PasscodeFailuresPerUser: ratelimit.Limit{Every: time.Hour, Burst: 3}}})
	u := f.user(t, "alice", store.StatusActive)
	f.codes(t, "alice", auth.NewBypassCodes{Count: 1})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, _ = f.svc.Auth(context.Background(), auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"},
				Factor: auth.FactorPasscode, Passcode: "000000001"})
		})
	}
	wg.Wait()
	if n := f.reasons(t, u.ID); n[auth.ReasonInvalidPasscode] != 3 || n[auth.ReasonRateLimited] != 17 {
		t.Errorf("auth log reasons %v, want 3 invalid_passcode and 17 frequent_attempts", n)
	}
}

func TestEnrollRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{Limits: auth.Limits{EnrollmentsPerIntegration: ratelimit.Limit{Every: 30 * time.Second, Burst: 2}}})
	ctx := context.Background()
	enroll := func(name, ikey string) error {
		_, err := f.svc.Enroll(ctx, auth.EnrollRequest{Username: name, IKey: ikey})
		return err
	}
	for _, name := range []string{"u1", "u2"} {
		if err := enroll(name, f.in.IKey); err != nil {
			t.Fatalf("enroll %s: %v", name, err)
		}
	}
	rateLimited(t, "3rd enrollment", enroll("u3", f.in.IKey), 30*time.Second)
	if _, err := f.svc.User(ctx, "u3"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("the refused enrollment created user u3 (%v)", err)
	}
	if err := enroll("u4", "DIOTHERINTEGRATION00"); err != nil {
		t.Errorf("another integration: %v", err)
	}
	if err := enroll("u5", ""); err != nil {
		t.Errorf("an administrator's enrollment: %v", err)
	}
	f.clock.Advance(30 * time.Second)
	if err := enroll("u3", f.in.IKey); err != nil {
		t.Errorf("after a refill: %v", err)
	}
}

// Without limits (the zero Limits, or "off" in the configuration) floods
// go through.
func TestRateLimitsOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{LockoutThreshold: -1})
	ctx := context.Background()
	f.device(t, "alice")
	for i := range 30 {
		if _, err := f.svc.Auth(ctx, f.pushReq("alice", true)); err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
		if r := f.passcode(t, "alice", "000000001"); r.Result != auth.ResultDeny {
			t.Fatalf("wrong code %d: %+v", i+1, r)
		}
		if _, err := f.svc.Enroll(ctx, auth.EnrollRequest{Username: fmt.Sprint("e", i), IKey: f.in.IKey}); err != nil {
			t.Fatalf("enroll %d: %v", i+1, err)
		}
	}
}

// TestPushLimitSetting: the console's push limit overrides the configured
// one on this node at once and on another node within the refresh time;
// cleared, the configured limit (as reloaded) holds again.
func TestPushLimitSetting(t *testing.T) {
	f := newFixture(t, auth.Options{Limits: auth.Limits{PushesPerUser: ratelimit.Limit{Every: time.Minute, Burst: 3}}})
	other := newFixtureWith(t, f.st, auth.Options{Now: f.clock.Now, Limits: auth.Limits{PushesPerUser: ratelimit.Limit{Every: time.Minute, Burst: 3}}})
	ctx := context.Background()
	f.device(t, "alice")
	f.device(t, "bob")
	for _, svc := range []*auth.Service{f.svc, other.svc} { // both nodes read: no setting
		if got, set := svc.PushLimit(ctx); got != "3/3m" || set {
			t.Errorf("PushLimit before any setting = %q, %v; want the configured 3/3m", got, set)
		}
	}
	for _, bad := range []string{"0/1m", "5", "1/0s", "x/1m"} {
		if err := f.svc.SetPushLimit(ctx, bad); err == nil {
			t.Errorf("SetPushLimit(%q) accepted", bad)
		}
	}
	if err := f.svc.SetPushLimit(ctx, "1/1h"); err != nil {
		t.Fatal(err)
	}
	push := func(svc *auth.Service, user string) error {
		req := f.pushReq(user, true)
		_, err := svc.Auth(ctx, req)
		return err
	}
	if err := push(f.svc, "alice"); err != nil {
		t.Fatalf("first push under 1/1h: %v", err)
	}
	rateLimited(t, "second push under 1/1h", push(f.svc, "alice"), time.Hour)

	// The other node still has its configured limit until it re-reads.
	if err := push(other.svc, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := push(other.svc, "bob"); err != nil {
		t.Fatalf("the other node before its refresh: %v", err)
	}
	f.clock.Advance(11 * time.Second)
	// Re-read, the setting holds there too (a token bob's bucket kept may
	// serve one more push; the next is refused for an hour).
	if err := push(other.svc, "bob"); err != nil {
		rateLimited(t, "the other node after its refresh", err, time.Hour)
	} else {
		rateLimited(t, "the other node after its refresh", push(other.svc, "bob"), time.Hour)
	}
	if got, set := other.svc.PushLimit(ctx); got != "1/1h" || !set {
		t.Errorf("PushLimit on the other node = %q, %v", got, set)
	}

	// Cleared: the configured limit, as a reload set it, holds again.
	if err := f.svc.SetPushLimit(ctx, ""); err != nil {
		t.Fatal(err)
	}
	f.svc.SetLimits(auth.Limits{PushesPerUser: ratelimit.Limit{Every: time.Second, Burst: 10}})
	if got, set := f.svc.PushLimit(ctx); got != "10/10s" || set {
		t.Errorf("PushLimit after clearing = %q, %v; want the reloaded 10/10s", got, set)
	}
	f.clock.Advance(2 * time.Second) // a token at the reloaded rate
	if err := push(f.svc, "alice"); err != nil {
		t.Errorf("a push once the setting is cleared: %v", err)
	}
}

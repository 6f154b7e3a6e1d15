package auth_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/testutil"
)

type fixture struct {
	svc   *auth.Service
	st    store.Store
	clock *testutil.Clock
	in    store.Integration // authapi, policy enroll
}

func newFixture(t *testing.T, opts auth.Options) *fixture {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newFixtureWith(t, st, opts)
}

// newFixtureWith is newFixture on the store st.
func newFixtureWith(t testing.TB, st store.Store, opts auth.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := testutil.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.EnrollPortalURL == nil {
		opts.EnrollPortalURL = func(_ context.Context, u string) (string, error) {
			return "https://assent.example/portal/enroll?username=" + u, nil
		}
	}
	svc := auth.New(st, box, opts)
	in, _, err := svc.CreateIntegration(ctx, auth.NewIntegration{Name: "test", Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, st: st, clock: c, in: in}
}

func (f *fixture) user(t *testing.T, name string, status store.UserStatus) store.User {
	t.Helper()
	u, err := f.svc.CreateUser(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if status != store.StatusActive {
		if u, err = f.svc.SetUserStatus(context.Background(), name, status); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func (f *fixture) codes(t *testing.T, name string, n auth.NewBypassCodes) []string {
	t.Helper()
	out, err := f.svc.IssueBypassCodes(context.Background(), name, n)
	if err != nil {
		t.Fatal(err)
	}
	return out.Codes
}

func (f *fixture) passcode(t *testing.T, name, code string) auth.AuthResult {
	t.Helper()
	res, err := f.svc.Auth(context.Background(), auth.AuthRequest{
		Request: auth.Request{Integration: f.in, Username: name, IP: "192.0.2.7", Hostname: "host1"},
		Factor:  auth.FactorPasscode, Passcode: code,
	})
	if err != nil {
		t.Fatalf("auth %s: %v", name, err)
	}
	return res
}

func (f *fixture) logs(t *testing.T, userID string) []store.AuthLog {
	t.Helper()
	l, err := f.st.ListAuthLog(context.Background(), store.AuthLogFilter{UserID: userID})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCreateIntegrationValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		n     auth.NewIntegration
		param string
	}{
		{"no name", auth.NewIntegration{Type: store.TypeAuthAPI}, "name"},
		{"bad type", auth.NewIntegration{Name: "x", Type: "radius"}, "type"},
		{"bad policy", auth.NewIntegration{Name: "x", Type: store.TypeWebSDK, NewUserPolicy: "maybe"}, "new_user_policy"},
	} {
		_, _, err := f.svc.CreateIntegration(ctx, tc.n)
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Kind != auth.KindInvalid || ae.Param != tc.param {
			t.Errorf("%s: got %v, want invalid %s", tc.name, err, tc.param)
		}
	}
	in, skey, err := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "web", Type: store.TypeWebSDK})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^DI[A-Z0-9]{18}$`).MatchString(in.IKey) || !regexp.MustCompile(`^[A-Za-z0-9]{40}$`).MatchString(skey) {
		t.Errorf("keys not Duo-shaped: %q %q", in.IKey, skey)
	}
	if in.NewUserPolicy != store.PolicyEnroll {
		t.Errorf("default policy = %q, want enroll", in.NewUserPolicy)
	}
	if bytes.Contains(in.SecretEnc, []byte(skey)) {
		t.Error("secret key stored in plaintext")
	}
	got, gotSkey, err := f.svc.Integration(ctx, in.IKey)
	if err != nil || gotSkey != skey || got.Name != "web" {
		t.Errorf("Integration() = %v %q %v", got, gotSkey, err)
	}
	if _, _, err := f.svc.Integration(ctx, "DIXXXXXXXXXXXXXXXXXX"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("unknown ikey: %v", err)
	}
	if err := f.svc.DeleteIntegration(ctx, in.IKey); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteIntegration(ctx, in.IKey); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	for _, bad := range []string{"", " alice", "a\nb", string(bytes.Repeat([]byte("x"), 257)), "\xff"} {
		if _, err := f.svc.CreateUser(ctx, bad); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("CreateUser(%q) = %v, want invalid", bad, err)
		}
	}
	u := f.user(t, "Alice", store.StatusActive)
	if _, err := f.svc.CreateUser(ctx, "alice"); !auth.IsKind(err, auth.KindConflict) {
		t.Errorf("duplicate differing in case: %v", err)
	}
	if got, err := f.svc.User(ctx, "ALICE"); err != nil || got.ID != u.ID {
		t.Errorf("lookup by other case: %v %v", got, err)
	}
	if got, err := f.svc.User(ctx, u.ID); err != nil || got.Username != "Alice" {
		t.Errorf("lookup by ID: %v %v", got, err)
	}
	if _, err := f.svc.SetUserStatus(ctx, "alice", store.StatusLockedOut); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("admin may not set locked out: %v", err)
	}
	if _, err := f.svc.SetUserStatus(ctx, "alice", "sleepy"); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("unknown status: %v", err)
	}
	if _, err := f.svc.SetUserStatus(ctx, "nobody", store.StatusActive); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if err := f.svc.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.User(ctx, "alice"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func TestIssueBypassCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	f.user(t, "alice", store.StatusActive)
	for _, n := range []auth.NewBypassCodes{{Count: 0}, {Count: 11}, {Count: 1, Uses: -1}, {Count: 1, Valid: -time.Second}} {
		if _, err := f.svc.IssueBypassCodes(ctx, "alice", n); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("%+v: %v, want invalid", n, err)
		}
	}
	first := f.codes(t, "alice", auth.NewBypassCodes{Count: 10, Uses: 1})
	seen := map[string]bool{}
	for _, c := range first {
		if !regexp.MustCompile(`^[0-9]{9}$`).MatchString(c) || seen[c] {
			t.Errorf("bad or repeated code %q", c)
		}
		seen[c] = true
	}
	// A new batch replaces the old one unless asked to keep it.
	second := f.codes(t, "alice", auth.NewBypassCodes{Count: 1, Uses: 1})
	if r := f.passcode(t, "alice", first[0]); r.Result != auth.ResultDeny {
		t.Errorf("replaced code still works: %+v", r)
	}
	third := f.codes(t, "alice", auth.NewBypassCodes{Count: 1, Uses: 1, PreserveExisting: true})
	for _, c := range []string{second[0], third[0]} {
		if r := f.passcode(t, "alice", c); r.Result != auth.ResultAllow {
			t.Errorf("code %s: %+v, want allow", c, r)
		}
	}
}

func TestPreauth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		policy    store.NewUserPolicy
		status    store.UserStatus // "" = user does not exist
		withCodes bool
		result    string
		reason    string // auth-log reason; "" = no row
	}{
		{"unknown enroll", store.PolicyEnroll, "", false, auth.ResultEnroll, auth.ReasonEnrollRequired},
		{"unknown allow", store.PolicyAllow, "", false, auth.ResultAllow, auth.ReasonAllowUnenrolled},
		{"unknown deny", store.PolicyDeny, "", false, auth.ResultDeny, auth.ReasonDenyUnenrolled},
		{"no factors enroll", store.PolicyEnroll, store.StatusActive, false, auth.ResultEnroll, auth.ReasonEnrollRequired},
		{"no factors allow", store.PolicyAllow, store.StatusActive, false, auth.ResultAllow, auth.ReasonAllowUnenrolled},
		{"with codes", store.PolicyEnroll, store.StatusActive, true, auth.ResultAuth, ""},
		{"bypass", store.PolicyDeny, store.StatusBypass, false, auth.ResultAllow, auth.ReasonBypassUser},
		{"disabled", store.PolicyAllow, store.StatusDisabled, true, auth.ResultDeny, auth.ReasonUserDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, auth.Options{})
			f.in.NewUserPolicy = tc.policy
			var u store.User
			if tc.status != "" {
				u = f.user(t, "alice", store.StatusActive)
				if tc.withCodes {
					f.codes(t, "alice", auth.NewBypassCodes{Count: 1, Uses: 1})
				}
				if tc.status != store.StatusActive {
					f.user(t, "x", store.StatusActive) // keep IDs apart from alice
					if _, err := f.svc.SetUserStatus(ctx, "alice", tc.status); err != nil {
						t.Fatal(err)
					}
				}
			}
			res, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, TextPrompt: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Result != tc.result || res.StatusMsg == "" {
				t.Fatalf("result %q (%q), want %q", res.Result, res.StatusMsg, tc.result)
			}
			if res.Prompt == nil || res.Prompt.Text == "" {
				t.Errorf("text_prompt=1 but no prompt text")
			}
			if tc.result == auth.ResultEnroll && res.EnrollPortalURL != "https://assent.example/portal/enroll?username=alice" {
				t.Errorf("enroll_portal_url = %q", res.EnrollPortalURL)
			}
			all, err := f.st.ListAuthLog(ctx, store.AuthLogFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				if len(all) != 0 {
					t.Errorf("auth result logged a decision: %+v", all)
				}
				return
			}
			if len(all) != 1 || all[0].Reason != tc.reason || all[0].UserID != u.ID || all[0].Username != "alice" || all[0].IKey != f.in.IKey {
				t.Errorf("auth log = %+v, want one row with reason %s", all, tc.reason)
			}
		})
	}
}

func TestPreauthPromptAndParams(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	f.user(t, "alice", store.StatusActive)
	f.codes(t, "alice", auth.NewBypassCodes{Count: 1})
	res, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, TextPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Duo two-factor login for alice\n\nEnter a passcode: "; res.Prompt.Text != want {
		t.Errorf("prompt %q, want %q", res.Prompt.Text, want)
	}
	if res.Devices == nil {
		t.Error("devices must be an empty list, not absent")
	}
	for _, r := range []auth.Request{
		{Integration: f.in},
		{Integration: f.in, Username: "alice", UserID: "DUXXXXXXXXXXXXXXXXXX"},
		{Integration: f.in, UserID: "DUXXXXXXXXXXXXXXXXXX"},
	} {
		if _, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: r}); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("%+v: %v, want invalid", r, err)
		}
	}
}

func TestAuthPasscodeUses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	u := f.user(t, "alice", store.StatusActive)
	// Two codes: with none left the user is unenrolled and gets the enroll answer.
	once := f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 1})[0]
	if r := f.passcode(t, "alice", once); r.Result != "allow" || r.Status != "allow" || r.StatusMsg != "Success. Logging you in..." {
		t.Errorf("first use: %+v", r)
	}
	if r := f.passcode(t, "alice", once); r.Result != "deny" || r.StatusMsg != "Incorrect passcode. Please try again." {
		t.Errorf("second use of a single-use code: %+v", r)
	}
	twice := f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 2})[0]
	for i, want := range []string{"allow", "allow", "deny"} {
		if r := f.passcode(t, "alice", twice); r.Result != want {
			t.Errorf("use %d of a two-use code: %s, want %s", i+1, r.Result, want)
		}
	}
	unlimited := f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 0})[0]
	for i := 0; i < 5; i++ {
		if r := f.passcode(t, "alice", unlimited); r.Result != "allow" {
			t.Fatalf("unlimited code, use %d: %+v", i+1, r)
		}
	}
	logs := f.logs(t, u.ID)
	if len(logs) != 10 {
		t.Fatalf("%d auth-log rows, want 10", len(logs))
	}
	newest := logs[0]
	if newest.Result != "allow" || newest.Factor != "bypass_code" || newest.Reason != auth.ReasonValidPasscode ||
		newest.IP != "192.0.2.7" || newest.Hostname != "host1" || newest.IKey != f.in.IKey || newest.TxID == "" {
		t.Errorf("newest log row = %+v", newest)
	}
	got, err := f.svc.User(context.Background(), "alice")
	if err != nil || got.LastLogin.IsZero() || got.FailedAttempts != 0 {
		t.Errorf("user after success: %+v %v", got, err)
	}
}

func TestAuthExpiredCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 0, Valid: time.Hour})
	if r := f.passcode(t, "alice", codes[0]); r.Result != "allow" {
		t.Fatalf("before expiry: %+v", r)
	}
	f.clock.Advance(time.Hour)
	// Expired codes leave the user unenrolled: the enroll policy denies.
	if r := f.passcode(t, "alice", codes[1]); r.Result != "deny" {
		t.Errorf("after expiry: %+v", r)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{LockoutThreshold: 3})
	ctx := context.Background()
	u := f.user(t, "alice", store.StatusActive)
	good := f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 0})
	// A success in between resets the count.
	f.passcode(t, "alice", "000000001")
	f.passcode(t, "alice", "000000002")
	f.passcode(t, "alice", good[0])
	for i := 0; i < 3; i++ {
		if r := f.passcode(t, "alice", "000000003"); r.Result != "deny" {
			t.Fatalf("wrong code allowed: %+v", r)
		}
	}
	got, err := f.svc.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusLockedOut || got.LockoutReason == "" || got.FailedAttempts != 3 {
		t.Fatalf("after 3 failures: %+v", got)
	}
	if r := f.passcode(t, "alice", good[1]); r.Result != "deny" || r.Status != "locked_out" {
		t.Errorf("locked-out user with a valid code: %+v", r)
	}
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil || pre.Result != auth.ResultDeny {
		t.Errorf("preauth of locked-out user: %+v %v", pre, err)
	}
	if l := f.logs(t, u.ID); l[1].Reason != auth.ReasonLockedOut {
		t.Errorf("log reason %q, want locked_out", l[1].Reason)
	}
	if _, err := f.svc.SetUserStatus(ctx, "alice", store.StatusActive); err != nil {
		t.Fatal(err)
	}
	if r := f.passcode(t, "alice", good[1]); r.Result != "allow" {
		t.Errorf("after unlock: %+v", r)
	}
}

func TestLockoutDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{LockoutThreshold: -1})
	f.user(t, "alice", store.StatusActive)
	f.codes(t, "alice", auth.NewBypassCodes{Count: 1})
	for i := 0; i < 15; i++ {
		f.passcode(t, "alice", "111111111")
	}
	if got, _ := f.svc.User(context.Background(), "alice"); got.Status != store.StatusActive {
		t.Errorf("status %q with lockout disabled", got.Status)
	}
}

func TestAuthFactors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	f.user(t, "alice", store.StatusActive)
	codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 3, Uses: 1})
	req := func(factor, passcode, prompt string) auth.AuthRequest {
		return auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: factor, Passcode: passcode, Prompt: prompt, Device: "auto"}
	}
	for _, tc := range []struct {
		name    string
		req     auth.AuthRequest
		result  string
		errKind auth.Kind
		errIs   error
	}{
		{"auto carrying a passcode", req("auto", codes[0], ""), "allow", 0, nil},
		{"prompt carrying a passcode", req("prompt", "", codes[1]), "allow", 0, nil},
		{"push", req("push", "", ""), "", auth.KindInvalid, auth.ErrNoCapableDevice},
		{"auto without passcode", req("auto", "", ""), "", auth.KindInvalid, auth.ErrNoCapableDevice},
		{"phone", req("phone", "", ""), "", auth.KindInvalid, auth.ErrNoCapableDevice},
		{"sms", req("sms", "", ""), "", auth.KindInvalid, auth.ErrNoCapableDevice},
		{"prompt push1", req("prompt", "", "push1"), "", auth.KindInvalid, auth.ErrNoCapableDevice},
		{"prompt phone2", req("prompt", "", "phone2"), "", auth.KindInvalid, auth.ErrNoCapableDevice},
		{"missing factor", req("", "", ""), "", auth.KindInvalid, nil},
		{"unknown factor", req("carrier-pigeon", "", ""), "", auth.KindInvalid, nil},
		{"passcode missing", req("passcode", "", ""), "", auth.KindInvalid, nil},
		{"prompt missing", req("prompt", "", ""), "", auth.KindInvalid, nil},
		{"passcode with space", req("passcode", "12 34", ""), "", auth.KindInvalid, nil},
		{"passcode too long", req("passcode", string(bytes.Repeat([]byte("1"), 65)), ""), "", auth.KindInvalid, nil},
	} {
		res, err := f.svc.Auth(ctx, tc.req)
		if tc.errKind != 0 {
			if !auth.IsKind(err, tc.errKind) || (tc.errIs != nil && !errors.Is(err, tc.errIs)) {
				t.Errorf("%s: err %v, want kind %d (%v)", tc.name, err, tc.errKind, tc.errIs)
			}
			continue
		}
		if err != nil || res.Result != tc.result {
			t.Errorf("%s: %+v %v, want %s", tc.name, res, err, tc.result)
		}
	}
}

func TestAuthStatusesAndPolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		policy  store.NewUserPolicy
		status  store.UserStatus // "" = unknown user
		result  string
		status2 string
	}{
		{"unknown enroll", store.PolicyEnroll, "", "deny", "deny"},
		{"unknown allow", store.PolicyAllow, "", "allow", "allow"},
		{"unknown deny", store.PolicyDeny, "", "deny", "deny"},
		{"bypass", store.PolicyEnroll, store.StatusBypass, "allow", "bypass"},
		{"disabled", store.PolicyAllow, store.StatusDisabled, "deny", "deny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, auth.Options{})
			f.in.NewUserPolicy = tc.policy
			if tc.status != "" {
				f.user(t, "alice", tc.status)
			}
			res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "passcode", Passcode: "123456789"})
			if err != nil || res.Result != tc.result || res.Status != tc.status2 {
				t.Errorf("got %+v %v, want %s/%s", res, err, tc.result, tc.status2)
			}
			if l, _ := f.st.ListAuthLog(ctx, store.AuthLogFilter{}); len(l) != 1 || l[0].Result != tc.result {
				t.Errorf("auth log %+v", l)
			}
		})
	}
}

// A single-use code presented many times at once is accepted exactly once.
func TestConcurrentSingleUseCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 1})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.svc.Auth(context.Background(), auth.AuthRequest{
				Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "passcode", Passcode: codes[0]})
			if err != nil {
				t.Error(err)
				return
			}
			if res.Result == "allow" {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 1 {
		t.Errorf("single-use code allowed %d times", allowed)
	}
}

// TestIntegrationChangesSeenAtOnce: changes made behind the Service's back
// (another node, the CLI in another process) hold from the very next
// lookup: a deletion, an update, and a secret key sealed anew (a rotation).
func TestIntegrationChangesSeenAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	in, skey, err := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "cached", Type: store.TypeWebSDK})
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(what, wantName, wantKey string) {
		t.Helper()
		for range 2 { // the second lookup finds the unsealed key cached
			got, gotKey, err := f.svc.Integration(ctx, in.IKey)
			if err != nil || got.Name != wantName || gotKey != wantKey {
				t.Fatalf("%s: %q %q, err %v; want %q and the right key", what, got.Name, gotKey, err, wantName)
			}
		}
	}
	lookup("created", "cached", skey)

	// Updated in the store directly.
	in.Name = "renamed elsewhere"
	if err := f.st.UpdateIntegration(ctx, in); err != nil {
		t.Fatal(err)
	}
	lookup("after an update elsewhere", "renamed elsewhere", skey)

	// The same ikey with a new secret key (as a rotation would store it).
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32)) // the fixture's master key
	if err != nil {
		t.Fatal(err)
	}
	const rotated = "rotatedrotatedrotatedrotatedrotatedrotat"
	if in.SecretEnc, err = box.Seal([]byte(rotated), []byte(in.IKey)); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteIntegration(ctx, in.IKey); err != nil {
		t.Fatal(err)
	}
	if err := f.st.CreateIntegration(ctx, in); err != nil {
		t.Fatal(err)
	}
	lookup("after a new secret key", "renamed elsewhere", rotated)

	// Deleted in the store directly.
	if err := f.st.DeleteIntegration(ctx, in.IKey); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Integration(ctx, in.IKey); !auth.IsKind(err, auth.KindNotFound) {
		t.Fatalf("after a deletion elsewhere: err %v, want not found", err)
	}
}

// TestUpdateIntegration covers partial updates, validation and
// normalization, and eviction of the cached entry.
func TestUpdateIntegration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	in, skey, err := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "portal", Type: store.TypeWebSDK,
		AllowedOrigins: []string{"https://old.example"}})
	if err != nil {
		t.Fatal(err)
	}
	// Look it up first, so a stale cached copy would show below.
	if _, _, err := f.svc.Integration(ctx, in.IKey); err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	policy := func(p store.NewUserPolicy) *store.NewUserPolicy { return &p }
	origins := func(o ...string) *[]string { return &o }

	for _, tc := range []struct {
		name  string
		u     auth.IntegrationUpdate
		kind  auth.Kind
		param string
	}{
		{"nothing", auth.IntegrationUpdate{}, auth.KindInvalid, ""},
		{"empty name", auth.IntegrationUpdate{Name: ptr("")}, auth.KindInvalid, "name"},
		{"bad policy", auth.IntegrationUpdate{NewUserPolicy: policy("maybe")}, auth.KindInvalid, "new_user_policy"},
		{"bad origin", auth.IntegrationUpdate{AllowedOrigins: origins("https://app.example/path")}, auth.KindInvalid, "allowed_origin"},
	} {
		_, err := f.svc.UpdateIntegration(ctx, in.IKey, tc.u)
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Kind != tc.kind || ae.Param != tc.param {
			t.Errorf("%s: got %v, want kind %v param %q", tc.name, err, tc.kind, tc.param)
		}
	}
	if _, err := f.svc.UpdateIntegration(ctx, in.IKey, auth.IntegrationUpdate{}); err == nil || err.Error() != "nothing to update" {
		t.Errorf("empty update: %v, want \"nothing to update\"", err)
	}
	if _, err := f.svc.UpdateIntegration(ctx, "DIXXXXXXXXXXXXXXXXXX", auth.IntegrationUpdate{Name: ptr("x")}); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("unknown ikey: %v, want not found", err)
	}

	check := func(what string, want store.Integration) {
		t.Helper()
		for _, src := range []string{"store", "service"} {
			var got store.Integration
			var gotSkey string
			var err error
			if src == "store" {
				got, err = f.st.GetIntegration(ctx, in.IKey)
			} else {
				got, gotSkey, err = f.svc.Integration(ctx, in.IKey)
				if gotSkey != skey {
					t.Errorf("%s (%s): secret key changed", what, src)
				}
			}
			if err != nil {
				t.Fatalf("%s (%s): %v", what, src, err)
			}
			if got.Name != want.Name || got.NewUserPolicy != want.NewUserPolicy || got.Type != want.Type ||
				!slices.Equal(got.AllowedOrigins, want.AllowedOrigins) || !bytes.Equal(got.SecretEnc, in.SecretEnc) ||
				got.LegacySignatures != want.LegacySignatures {
				t.Errorf("%s (%s): got %+v, want %+v", what, src, got, want)
			}
		}
	}

	// Only the name changes.
	want := in
	want.Name = "customer portal"
	got, err := f.svc.UpdateIntegration(ctx, in.IKey, auth.IntegrationUpdate{Name: ptr("customer portal")})
	if err != nil || got.Name != want.Name {
		t.Fatalf("rename: %+v, %v", got, err)
	}
	check("after rename", want)

	// Policy and origins; origins normalized like create does, duplicates dropped.
	want.NewUserPolicy = store.PolicyDeny
	want.AllowedOrigins = []string{"https://app.example", "http://localhost:8080"}
	got, err = f.svc.UpdateIntegration(ctx, in.IKey, auth.IntegrationUpdate{NewUserPolicy: policy(store.PolicyDeny),
		AllowedOrigins: origins("HTTPS://App.Example:443/", "http://localhost:8080", "https://app.example")})
	if err != nil || !slices.Equal(got.AllowedOrigins, want.AllowedOrigins) {
		t.Fatalf("policy and origins: %+v, %v", got, err)
	}
	check("after policy and origins", want)

	// A failed update changes nothing.
	if _, err := f.svc.UpdateIntegration(ctx, in.IKey, auth.IntegrationUpdate{Name: ptr("x"),
		AllowedOrigins: origins("ftp://nope.example")}); !auth.IsKind(err, auth.KindInvalid) {
		t.Fatalf("bad origin: %v", err)
	}
	check("after a rejected update", want)

	// Clearing the origins.
	want.AllowedOrigins = nil
	if _, err := f.svc.UpdateIntegration(ctx, in.IKey, auth.IntegrationUpdate{AllowedOrigins: origins()}); err != nil {
		t.Fatal(err)
	}
	check("after clearing origins", want)

	// The legacy-signatures flag alone, on and off again.
	yes, no := true, false
	want.LegacySignatures = true
	if got, err := f.svc.UpdateIntegration(ctx, in.IKey, auth.IntegrationUpdate{LegacySignatures: &yes}); err != nil || !got.LegacySignatures {
		t.Fatalf("legacy on: %+v, %v", got, err)
	}
	check("after legacy signatures on", want)
	want.LegacySignatures = false
	if _, err := f.svc.UpdateIntegration(ctx, in.IKey, auth.IntegrationUpdate{LegacySignatures: &no}); err != nil {
		t.Fatal(err)
	}
	check("after legacy signatures off", want)

	// Created with the flag.
	legacy, _, err := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "pam", Type: store.TypeAuthAPI, LegacySignatures: true})
	if err != nil || !legacy.LegacySignatures {
		t.Fatalf("create legacy: %+v, %v", legacy, err)
	}
	if stored, err := f.st.GetIntegration(ctx, legacy.IKey); err != nil || !stored.LegacySignatures {
		t.Errorf("create legacy: stored %+v, %v", stored, err)
	}
}

// TestPasscodeUsernameChangesHands: the bypass code of a passcode sent
// with a username is read with the user, from the user ID an earlier
// request found for that name. When the name has since gone to another
// user (deleted and created again, or renamed), the codes are the new
// user's, never the old one's.
func TestPasscodeUsernameChangesHands(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, auth.Options{LockoutThreshold: -1})
	f.user(t, "alice", store.StatusActive)
	oldCodes := f.codes(t, "alice", auth.NewBypassCodes{Count: 2})
	for range 2 { // the second request reads the code with the user
		if r := f.passcode(t, "alice", oldCodes[0]); r.Result != auth.ResultAllow {
			t.Fatalf("first alice, her code: %+v", r)
		}
	}
	for _, change := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"deleted and created again", func(t *testing.T) {
			if err := f.svc.DeleteUser(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			f.user(t, "alice", store.StatusActive)
		}},
		{"renamed, another user takes the name", func(t *testing.T) {
			if _, err := f.svc.RenameUser(ctx, "alice", "alice-old"); err != nil {
				t.Fatal(err)
			}
			f.user(t, "alice", store.StatusActive)
		}},
	} {
		t.Run(change.name, func(t *testing.T) {
			before := f.codes(t, "alice", auth.NewBypassCodes{Count: 1, PreserveExisting: true})
			if r := f.passcode(t, "alice", before[0]); r.Result != auth.ResultAllow {
				t.Fatalf("alice before the change, her code: %+v", r)
			}
			change.fn(t)
			newCodes := f.codes(t, "alice", auth.NewBypassCodes{Count: 1})
			for _, old := range append(before, oldCodes[1]) {
				if r := f.passcode(t, "alice", old); r.Result != auth.ResultDeny {
					t.Errorf("the new alice with a code of the former alice: %+v, want deny", r)
				}
			}
			for range 2 {
				if r := f.passcode(t, "alice", newCodes[0]); r.Result != auth.ResultAllow {
					t.Errorf("the new alice, her code: %+v", r)
				}
			}
		})
	}
}

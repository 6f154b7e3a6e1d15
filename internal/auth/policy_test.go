package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// setPolicy changes a policy and returns the integration as requests then
// carry it (with its policies).
func (f *fixture) setPolicy(t *testing.T, c auth.PolicyChange) store.Integration {
	t.Helper()
	if _, err := f.svc.ChangePolicy(context.Background(), c); err != nil {
		t.Fatalf("ChangePolicy %+v: %v", c, err)
	}
	in, _, err := f.svc.Integration(context.Background(), f.in.IKey)
	if err != nil {
		t.Fatal(err)
	}
	f.in = in
	return in
}

func (f *fixture) group(t *testing.T, name string, members ...string) store.Group {
	t.Helper()
	ctx := context.Background()
	g, err := f.svc.CreateGroup(ctx, auth.NewGroup{Name: name, Status: store.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if err := f.svc.AddGroupMember(ctx, g.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// TestPolicyDecisions: each setting as preauth and auth apply it, with the
// auth-log reason that explains the decision.
func TestPolicyDecisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type step struct {
		user, ip string
		passcode string // "" preauth; "code" the user's bypass code; else as given
		result   string
		reason   string // the logged reason ("" not checked)
	}
	rules := func(rs ...store.NetworkRule) *[]store.NetworkRule { return &rs }
	allow := func(r string) store.NetworkRule { return store.NetworkRule{Range: r, Action: store.NetworkAllow} }
	deny := func(r string) store.NetworkRule { return store.NetworkRule{Range: r, Action: store.NetworkDeny} }
	for _, tc := range []struct {
		name   string
		global store.PolicySettings
		app    store.PolicySettings
		group  *store.PolicySettings // for the group "staff" (alice)
		steps  []step
	}{
		{name: "no policy: a second factor",
			steps: []step{{"alice", "192.0.2.5", "", auth.ResultAuth, ""}, {"alice", "192.0.2.5", "code", auth.ResultAllow, auth.ReasonValidPasscode}}},
		{name: "authorized network: no second factor from inside",
			app: store.PolicySettings{Networks: rules(allow("192.0.2.0/24"))},
			steps: []step{
				{"alice", "192.0.2.5", "", auth.ResultAllow, auth.ReasonTrustedNetwork},
				{"alice", "192.0.2.5", "000000000", auth.ResultAllow, auth.ReasonTrustedNetwork},
				{"alice", "198.51.100.1", "", auth.ResultAuth, ""},
				{"alice", "", "", auth.ResultAuth, ""},
				{"alice", "198.51.100.1", "000000000", auth.ResultDeny, auth.ReasonInvalidPasscode},
			}},
		{name: "global networks, integration inherits",
			global: store.PolicySettings{Networks: rules(allow("2001:db8::/32"))},
			steps:  []step{{"alice", "2001:db8::1", "", auth.ResultAllow, auth.ReasonTrustedNetwork}}},
		{name: "denied network",
			app: store.PolicySettings{Networks: rules(deny("203.0.113.0/24"), allow("0.0.0.0/0"))},
			steps: []step{
				{"alice", "203.0.113.9", "", auth.ResultDeny, auth.ReasonDeniedByPolicy},
				{"alice", "203.0.113.9", "code", auth.ResultDeny, auth.ReasonDeniedByPolicy},
				{"bob", "203.0.113.9", "", auth.ResultDeny, auth.ReasonDeniedByPolicy},
				{"nobody", "203.0.113.9", "", auth.ResultDeny, auth.ReasonDeniedByPolicy},
				{"alice", "192.0.2.1", "", auth.ResultAllow, auth.ReasonTrustedNetwork},
			}},
		{name: "group policy overrides the integration's networks",
			app:   store.PolicySettings{Networks: rules(allow("192.0.2.0/24"))},
			group: &store.PolicySettings{Networks: rules()},
			steps: []step{{"alice", "192.0.2.5", "", auth.ResultAuth, ""}, {"bob", "192.0.2.5", "", auth.ResultAllow, auth.ReasonTrustedNetwork}}},
		{name: "unenrolled from an allow network: new-user policy (enforce)",
			app:   store.PolicySettings{Networks: rules(allow("192.0.2.0/24"))},
			steps: []step{{"carol", "192.0.2.5", "", auth.ResultEnroll, auth.ReasonEnrollRequired}, {"nobody", "192.0.2.5", "", auth.ResultEnroll, ""}}},
		{name: "unenrolled from an allow network: ip_whitelist_enroll_policy allow",
			app: store.PolicySettings{Networks: rules(allow("192.0.2.0/24")), NetworksEnrollPolicy: ptr("allow")},
			steps: []step{{"carol", "192.0.2.5", "", auth.ResultAllow, auth.ReasonTrustedNetwork},
				{"nobody", "192.0.2.5", "", auth.ResultAllow, auth.ReasonTrustedNetwork},
				{"carol", "198.51.100.5", "", auth.ResultEnroll, ""}}},
		{name: "groups_allowed refuses non-members, even bypass-status ones",
			app: store.PolicySettings{GroupsAllowed: ptr([]string{"staff"})}, // replaced by the group's ID below
			steps: []step{
				{"alice", "", "", auth.ResultAuth, ""},
				{"bob", "", "", auth.ResultDeny, auth.ReasonNotPermittedGroup},
				{"bob", "", "code", auth.ResultDeny, auth.ReasonNotPermittedGroup},
				{"nobody", "", "", auth.ResultDeny, auth.ReasonNotPermittedGroup},
				{"dave", "", "", auth.ResultDeny, auth.ReasonNotPermittedGroup},
			}},
		{name: "methods: bypass codes not allowed",
			app: store.PolicySettings{Methods: ptr([]string{"push"})},
			steps: []step{
				{"alice", "", "", auth.ResultDeny, auth.ReasonFactorRestricted},
				{"alice", "", "code", auth.ResultDeny, auth.ReasonFactorRestricted},
			}},
		{name: "methods: group allows bypass codes again",
			app:   store.PolicySettings{Methods: ptr([]string{"push"})},
			group: &store.PolicySettings{Methods: ptr([]string{"bypass_code"})},
			steps: []step{{"alice", "", "code", auth.ResultAllow, auth.ReasonValidPasscode}, {"bob", "", "code", auth.ResultDeny, auth.ReasonFactorRestricted}}},
		{name: "new-user policy of a group",
			app:   store.PolicySettings{},
			group: &store.PolicySettings{NewUserPolicy: ptr(store.PolicyDeny)},
			steps: []step{{"erin", "", "", auth.ResultDeny, auth.ReasonDenyUnenrolled}, {"carol", "", "", auth.ResultEnroll, auth.ReasonEnrollRequired}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, auth.Options{})
			codes := map[string]string{}
			for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
				st := store.StatusActive
				if u == "dave" {
					st = store.StatusBypass
				}
				f.user(t, u, st)
				if u == "alice" || u == "bob" {
					codes[u] = f.codes(t, u, auth.NewBypassCodes{Count: 1, Uses: 0})[0]
				}
			}
			staff := f.group(t, "staff", "alice", "erin")
			if tc.app.GroupsAllowed != nil {
				tc.app.GroupsAllowed = &[]string{staff.ID}
			}
			if tc.global != (store.PolicySettings{}) {
				f.setPolicy(t, auth.PolicyChange{Set: tc.global})
			}
			if tc.app != (store.PolicySettings{}) {
				f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: tc.app})
			}
			if tc.group != nil {
				f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, GroupID: staff.ID, Set: *tc.group})
			}
			in, _, err := f.svc.Integration(ctx, f.in.IKey)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				req := auth.Request{Integration: in, Username: s.user, IP: s.ip}
				var got string
				if s.passcode == "" {
					res, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: req, NoEnrollPortal: true})
					if err != nil {
						t.Fatalf("step %d preauth: %v", i, err)
					}
					got = res.Result
					if s.reason != "" && res.Reason() != s.reason {
						t.Errorf("step %d %+v: preauth reason %q, want %q", i, s, res.Reason(), s.reason)
					}
				} else {
					code := s.passcode
					if code == "code" {
						code = codes[s.user]
					}
					res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: req, Factor: auth.FactorPasscode, Passcode: code})
					if err != nil {
						t.Fatalf("step %d auth: %v", i, err)
					}
					got = res.Result
					rows, err := f.st.ListAuthLog(ctx, store.AuthLogFilter{Limit: 1})
					if err != nil || len(rows) != 1 {
						t.Fatalf("auth log: %v %v", rows, err)
					}
					if s.reason != "" && rows[0].Reason != s.reason {
						t.Errorf("step %d %+v: logged reason %q, want %q", i, s, rows[0].Reason, s.reason)
					}
				}
				if got != s.result {
					t.Errorf("step %d %+v: result %q, want %q", i, s, got, s.result)
				}
			}
		})
	}
}

// TestPolicyLockoutAutoUnlock: a policy's lockout threshold locks the user
// out, and its unlock period lets the user in again once it has passed
// (by the injected clock), not before.
func TestPolicyLockoutAutoUnlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{LockoutThreshold: 10})
	f.user(t, "alice", store.StatusActive)
	code := f.codes(t, "alice", auth.NewBypassCodes{Count: 1})[0]
	f.setPolicy(t, auth.PolicyChange{Set: store.PolicySettings{LockoutThreshold: ptr(2), LockoutUnlockMinutes: ptr(10)}})
	for range 2 {
		if res := f.passcode(t, "alice", "000000000"); res.Result != auth.ResultDeny {
			t.Fatalf("wrong passcode: %+v", res)
		}
	}
	u, err := f.svc.User(ctx, "alice")
	if err != nil || u.Status != store.StatusLockedOut {
		t.Fatalf("after 2 failures with the policy's threshold 2: %+v %v", u, err)
	}
	f.clock.Advance(9 * time.Minute)
	if res := f.passcode(t, "alice", code); res.Result != auth.ResultDeny || res.Status != "locked_out" {
		t.Fatalf("9 minutes later: %+v, want still locked out", res)
	}
	f.clock.Advance(90 * time.Second)
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil || pre.Result != auth.ResultAuth {
		t.Fatalf("10.5 minutes later: preauth %+v %v, want auth", pre, err)
	}
	if res := f.passcode(t, "alice", code); res.Result != auth.ResultAllow {
		t.Fatalf("after the automatic unlock: %+v", res)
	}

	// Without an unlock period the user stays locked out.
	f.setPolicy(t, auth.PolicyChange{Unset: []string{auth.SettingLockoutUnlockMinutes}})
	for range 2 {
		f.passcode(t, "alice", "000000000")
	}
	f.clock.Advance(48 * time.Hour)
	if res := f.passcode(t, "alice", code); res.Status != "locked_out" {
		t.Fatalf("without an unlock period, 2 days later: %+v", res)
	}
}

// TestChangePolicy: set merges, unset clears, an empty policy is removed,
// problems are refused, and each change is in the administrator log.
func TestChangePolicy(t *testing.T) {
	t.Parallel()
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "cli:root@test"})
	f := newFixture(t, auth.Options{})
	if _, err := f.svc.ChangePolicy(ctx, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{RememberDays: ptr(7)}}); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.ChangePolicy(ctx, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{Methods: ptr([]string{"push"})}})
	if err != nil || p.Settings.RememberDays == nil || *p.Settings.RememberDays != 7 || p.Settings.Methods == nil {
		t.Fatalf("merged: %+v %v", p, err)
	}
	if _, err := f.svc.ChangePolicy(ctx, auth.PolicyChange{IKey: f.in.IKey, Unset: []string{"trusted_device_days", "methods"}}); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.Policies(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("after unsetting everything: %+v %v", list, err)
	}
	for _, bad := range []auth.PolicyChange{
		{IKey: f.in.IKey, Unset: []string{"colour"}},
		{GroupID: "DG000000000000000001"},
		{IKey: f.in.IKey, Set: store.PolicySettings{GroupsAllowed: ptr([]string{"DG000000000000000009"})}},
		{IKey: f.in.IKey, Set: store.PolicySettings{RememberDays: ptr(-1)}},
	} {
		if _, err := f.svc.ChangePolicy(ctx, bad); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("ChangePolicy(%+v) = %v, want invalid", bad, err)
		}
	}
	if _, err := f.svc.ChangePolicy(ctx, auth.PolicyChange{IKey: "DI000000000000000009", Set: store.PolicySettings{RememberDays: ptr(1)}}); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("unknown integration: %v, want not found", err)
	}
	var actions []string
	for _, l := range f.adminLog(t) {
		if l.Action == "policy_update" || l.Action == "policy_delete" {
			actions = append(actions, l.Action)
		}
	}
	if len(actions) != 3 {
		t.Errorf("administrator log policy actions %v, want 3", actions)
	}
}

// TestTrustedDeviceToken: with trusted_device_days set, a passcode allow
// carries a token; preauth with it allows the same user at the same
// integration without a second factor until it expires, and nobody else.
func TestTrustedDeviceToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	f.user(t, "bob", store.StatusActive)
	codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 3, Uses: 1})
	f.codes(t, "bob", auth.NewBypassCodes{Count: 1, Uses: 1})
	if res := f.passcode(t, "alice", codes[0]); res.TrustedDeviceToken != "" {
		t.Fatalf("a token without the policy: %+v", res)
	}
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{RememberDays: ptr(2)}})
	res := f.passcode(t, "alice", codes[1])
	if res.Result != auth.ResultAllow || res.TrustedDeviceToken == "" {
		t.Fatalf("auth: %+v, want allow with a trusted_device_token", res)
	}
	tok := res.TrustedDeviceToken
	pre := func(user, token string) auth.PreauthResult {
		t.Helper()
		r, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: user}, TrustedDeviceToken: token})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := pre("alice", tok); r.Result != auth.ResultAllow || r.Reason() != auth.ReasonRememberedDevice {
		t.Fatalf("preauth with the token: %+v", r)
	}
	for _, bad := range []string{tok[:len(tok)-2] + "AA", strings.Replace(tok, f.in.IKey, "DI000000000000000001", 1), "garbage", tok + "."} {
		if r := pre("alice", bad); r.Result != auth.ResultAuth {
			t.Errorf("preauth with %q: %+v, want auth", bad, r)
		}
	}
	if r := pre("bob", tok); r.Result != auth.ResultAuth {
		t.Errorf("another user with alice's token: %+v", r)
	}
	f.clock.Advance(47 * time.Hour)
	if r := pre("alice", tok); r.Result != auth.ResultAllow {
		t.Errorf("47 hours later: %+v, want still remembered", r)
	}
	f.clock.Advance(2 * time.Hour)
	if r := pre("alice", tok); r.Result != auth.ResultAuth {
		t.Errorf("after 2 days: %+v, want asked again", r)
	}
	// Lowering the days to 0 forgets every device.
	f.clock.Advance(-2 * time.Hour)
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{RememberDays: ptr(0)}})
	if r := pre("alice", tok); r.Result != auth.ResultAuth {
		t.Errorf("with trusted_device_days=0: %+v", r)
	}
}

// TestTrustedDeviceTokenAfterPush: a synchronous push approved at an
// integration that remembers devices carries a trusted_device_token; a
// denied one does not.
func TestTrustedDeviceTokenAfterPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	a := f.device(t, "alice")
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{RememberDays: ptr(1)}})
	for _, approve := range []bool{true, false} {
		done := f.answerWhenPending(t, a.Device.ID, approve)
		res, err := f.svc.Auth(ctx, f.pushReq("alice", false))
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if approve != (res.TrustedDeviceToken != "") || (res.Result == auth.ResultAllow) != approve {
			t.Fatalf("push approved=%v: %+v", approve, res)
		}
		if approve {
			pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, TrustedDeviceToken: res.TrustedDeviceToken})
			if err != nil || pre.Result != auth.ResultAllow {
				t.Fatalf("preauth with the push's token: %+v %v", pre, err)
			}
		}
	}
}

// TestPolicyLogScope: the auth-log row of a decision a policy took names
// that policy (global, integration, group:<name>); other rows name none.
func TestPolicyLogScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	f.user(t, "bob", store.StatusActive)
	codes := map[string][]string{
		"alice": f.codes(t, "alice", auth.NewBypassCodes{Count: 2, Uses: 0}),
		"bob":   f.codes(t, "bob", auth.NewBypassCodes{Count: 2, Uses: 0}),
	}
	staff := f.group(t, "staff", "alice")
	f.setPolicy(t, auth.PolicyChange{Set: store.PolicySettings{Networks: &[]store.NetworkRule{
		{Range: "203.0.113.0/24", Action: store.NetworkDeny}, {Range: "2001:db8::/32", Action: store.NetworkAllow}}}})
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{RememberDays: ptr(1)}})
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, GroupID: staff.ID, Set: store.PolicySettings{Methods: ptr([]string{"push"})}})
	bob, err := f.svc.User(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	token, _ := f.svc.RememberToken(f.in, bob.ID, nil)
	last := func() store.AuthLog {
		t.Helper()
		rows, err := f.st.ListAuthLog(ctx, store.AuthLogFilter{Limit: 1})
		if err != nil || len(rows) != 1 {
			t.Fatalf("auth log: %v %v", rows, err)
		}
		return rows[0]
	}
	for _, tc := range []struct {
		user, ip string
		preauth  bool
		reason   string
		policy   string
	}{
		{"bob", "203.0.113.4", true, auth.ReasonDeniedByPolicy, "global"},
		{"bob", "203.0.113.4", false, auth.ReasonDeniedByPolicy, "global"},
		{"bob", "2001:db8::5", true, auth.ReasonTrustedNetwork, "global"},
		{"bob", "192.0.2.1", true, auth.ReasonRememberedDevice, "integration"},
		{"alice", "192.0.2.1", true, auth.ReasonFactorRestricted, "group:staff"},
		{"alice", "192.0.2.1", false, auth.ReasonFactorRestricted, "group:staff"},
		{"bob", "192.0.2.1", false, auth.ReasonValidPasscode, ""},
	} {
		req := auth.Request{Integration: f.in, Username: tc.user, IP: tc.ip}
		if tc.preauth {
			pre := auth.PreauthRequest{Request: req}
			if tc.reason == auth.ReasonRememberedDevice {
				pre.TrustedDeviceToken = token
			}
			_, err = f.svc.Preauth(ctx, pre)
		} else {
			_, err = f.svc.Auth(ctx, auth.AuthRequest{Request: req, Factor: auth.FactorPasscode, Passcode: codes[tc.user][0]})
		}
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if l := last(); l.Reason != tc.reason || l.Policy != tc.policy {
			t.Errorf("%+v: logged reason %q policy %q", tc, l.Reason, l.Policy)
		}
	}
}

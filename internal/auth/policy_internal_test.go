package auth

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

func p[T any](v T) *T { return &v }

// TestEvaluatePrecedence: per setting, the user's group policy wins over
// the integration's, which wins over the global one; unset inherits.
func TestEvaluatePrecedence(t *testing.T) {
	t.Parallel()
	const ik, other = "DIAAAAAAAAAAAAAAAAAA", "DIBBBBBBBBBBBBBBBBBB"
	global := store.Policy{Settings: store.PolicySettings{RememberDays: p(30), Methods: &[]string{"push"},
		LockoutThreshold: p(5), NewUserPolicy: p(store.PolicyDeny)}}
	app := store.Policy{IKey: ik, Settings: store.PolicySettings{RememberDays: p(7),
		Networks: &[]store.NetworkRule{{Range: "192.0.2.0/24", Action: store.NetworkAllow}}, GroupsAllowed: &[]string{"DG1"}}}
	g1 := store.Policy{IKey: ik, GroupID: "DG1", Settings: store.PolicySettings{RememberDays: p(1), NewUserPolicy: p(store.PolicyAllow)}}
	g2 := store.Policy{IKey: ik, GroupID: "DG2", Settings: store.PolicySettings{RememberDays: p(2), LockoutThreshold: p(0),
		Networks: &[]store.NetworkRule{}}}
	foreign := store.Policy{IKey: other, GroupID: "DG1", Settings: store.PolicySettings{RememberDays: p(99)}}
	in := store.Integration{IKey: ik, NewUserPolicy: store.PolicyEnroll, Policies: []store.Policy{global, app, g1, g2, foreign}}
	for _, tc := range []struct {
		name      string
		in        store.Integration
		groups    []string
		remember  int
		newUser   store.NewUserPolicy
		methods   []string
		threshold int
		networks  int
		ip        string
		action    store.NetworkAction
		permitted bool
	}{
		{"no policies: defaults", store.Integration{IKey: ik}, nil, 0, store.PolicyEnroll, nil, 0, 0, "192.0.2.1", "", true},
		{"global only", store.Integration{IKey: ik, NewUserPolicy: store.PolicyAllow, Policies: []store.Policy{global}}, nil, 30,
			store.PolicyAllow, []string{"push"}, 5, 0, "192.0.2.1", "", true},
		{"integration over global", in, nil, 7, store.PolicyEnroll, []string{"push"}, 5, 1, "192.0.2.1", store.NetworkAllow, false},
		{"group over integration", in, []string{"DG1"}, 1, store.PolicyAllow, []string{"push"}, 5, 1, "192.0.2.200", store.NetworkAllow, true},
		{"first group by the user's order wins", in, []string{"DG2", "DG1"}, 2, store.PolicyAllow, []string{"push"}, -1, 0, "192.0.2.1", "", true},
		{"other order", in, []string{"DG1", "DG2"}, 1, store.PolicyAllow, []string{"push"}, -1, 0, "192.0.2.1", "", true},
		{"outside the network", in, nil, 7, store.PolicyEnroll, []string{"push"}, 5, 1, "198.51.100.1", "", false},
		{"no address", in, nil, 7, store.PolicyEnroll, []string{"push"}, 5, 1, "", "", false},
		{"another integration's group policy does not apply", store.Integration{IKey: ik, Policies: []store.Policy{foreign}}, []string{"DG1"},
			0, store.PolicyEnroll, nil, 0, 0, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := evaluate(tc.in, tc.groups)
			if e.rememberDays != tc.remember || e.newUser != tc.newUser || !slices.Equal(e.methods, tc.methods) ||
				e.threshold != tc.threshold || len(e.networks) != tc.networks || e.permitted(tc.groups) != tc.permitted {
				t.Errorf("evaluate = remember %d, new user %s, methods %v, threshold %d, %d networks, permitted %v; want %d %s %v %d %d %v",
					e.rememberDays, e.newUser, e.methods, e.threshold, len(e.networks), e.permitted(tc.groups),
					tc.remember, tc.newUser, tc.methods, tc.threshold, tc.networks, tc.permitted)
			}
			if got := e.network(tc.ip); got != tc.action {
				t.Errorf("network(%q) = %q, want %q", tc.ip, got, tc.action)
			}
		})
	}
}

func TestEvaluateUnlockAndVerifiedPush(t *testing.T) {
	t.Parallel()
	in := store.Integration{IKey: "DIA", Policies: []store.Policy{
		{Settings: store.PolicySettings{LockoutUnlockMinutes: p(15), VerifiedPush: p(true)}},
		{IKey: "DIA", GroupID: "DG", Settings: store.PolicySettings{VerifiedPush: p(false)}},
	}}
	if e := evaluate(in, nil); e.unlockAfter != 15*time.Minute || !e.verifiedPush {
		t.Errorf("global: unlock %v verified %v", e.unlockAfter, e.verifiedPush)
	}
	if e := evaluate(in, []string{"DG"}); e.verifiedPush {
		t.Error("the group's verified_push=false did not win")
	}
}

func TestParseNetwork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		inside   []string
		outside  []string
	}{
		{"192.0.2.10", "192.0.2.10/32", []string{"192.0.2.10", "::ffff:192.0.2.10"}, []string{"192.0.2.11"}},
		{"192.0.2.77/24", "192.0.2.0/24", []string{"192.0.2.0", "192.0.2.255"}, []string{"192.0.3.0", "2001:db8::1"}},
		{" 10.1.*.* ", "10.1.0.0/16", []string{"10.1.200.3"}, []string{"10.2.0.1"}},
		{"192.0.2.*", "192.0.2.0/24", []string{"192.0.2.9"}, []string{"192.0.1.9"}},
		{"192.0.2.10-192.0.2.20", "192.0.2.10-192.0.2.20", []string{"192.0.2.10", "192.0.2.20"}, []string{"192.0.2.21", "192.0.2.9"}},
		{"2001:DB8::/32", "2001:db8::/32", []string{"2001:db8:ffff::1"}, []string{"2001:db9::1", "192.0.2.1"}},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", []string{"192.0.2.3"}, nil},
		{"fe80::1", "fe80::1/128", []string{"fe80::1"}, []string{"fe80::2"}},
	} {
		r, canon, err := parseNetwork(tc.in)
		if err != nil || canon != tc.want {
			t.Errorf("parseNetwork(%q) = %q, %v; want %q", tc.in, canon, err, tc.want)
			continue
		}
		for _, s := range tc.inside {
			if a := mustAddr(t, s); !r.contains(a) {
				t.Errorf("%s does not contain %s", tc.in, s)
			}
		}
		for _, s := range tc.outside {
			if a := mustAddr(t, s); r.contains(a) {
				t.Errorf("%s contains %s", tc.in, s)
			}
		}
	}
	for _, bad := range []string{"", "192.0.2", "192.0.2.0/33", "*.*.*.*", "192.*.2.0", "10.0.0.1-10.0.0.0", "10.0.0.1-::1",
		"fe80::1%eth0", "example.com", "192.0.2.1/24/3", "1.2.3.4-"} {
		if _, canon, err := parseNetwork(bad); err == nil {
			t.Errorf("parseNetwork(%q) = %q, want an error", bad, canon)
		}
	}
}

func mustAddr(t *testing.T, s string) netipAddr {
	t.Helper()
	a, err := parseAddrForTest(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseNetworksListsEveryProblem(t *testing.T) {
	t.Parallel()
	rules, err := ParseNetworks("192.0.2.0/24, 198.51.100.7,bad,also-bad", store.NetworkAllow)
	if err == nil {
		t.Fatalf("ParseNetworks = %v, want an error", rules)
	}
	if msg := err.Error(); !contains(msg, `"bad"`) || !contains(msg, `"also-bad"`) {
		t.Errorf("error %q does not name both bad ranges", msg)
	}
	rules, err = ParseNetworks("192.0.2.0/24,198.51.100.7", store.NetworkAllow)
	if err != nil || len(rules) != 2 || rules[1].Range != "198.51.100.7/32" {
		t.Errorf("ParseNetworks = %v, %v", rules, err)
	}
}

func TestCheckPolicySettings(t *testing.T) {
	t.Parallel()
	good, err := CheckPolicySettings(store.PolicySettings{Methods: &[]string{"Push", "push", "webauthn"},
		Networks: &[]store.NetworkRule{{Range: "192.0.2.1", Action: store.NetworkDeny}}, GroupsAllowed: &[]string{" DG1 ", "DG1"}})
	if err != nil || !slices.Equal(*good.Methods, []string{"push", "webauthn"}) || (*good.Networks)[0].Range != "192.0.2.1/32" ||
		!slices.Equal(*good.GroupsAllowed, []string{"DG1"}) {
		t.Errorf("CheckPolicySettings = %+v, %v", good, err)
	}
	_, err = CheckPolicySettings(store.PolicySettings{Methods: &[]string{"carrier_pigeon"}, RememberDays: p(400),
		Networks: &[]store.NetworkRule{{Range: "192.0.2.1", Action: "maybe"}}, NewUserPolicy: p(store.NewUserPolicy("x")),
		NetworksEnrollPolicy: p("sometimes"), LockoutThreshold: p(-1)})
	for _, want := range []string{"carrier_pigeon", "trusted_device_days", "action", "new_user_policy", "ip_whitelist_enroll_policy", "lockout_threshold"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func FuzzParseNetwork(f *testing.F) {
	for _, s := range []string{"192.0.2.10", "192.0.2.0/24", "10.1.*.*", "192.0.2.10-192.0.2.20", "2001:db8::/32",
		"::ffff:192.0.2.0/120", "fe80::1%eth0", "1.2.3.4-5.6.7.8", "*", "", "0.0.0.0/0", "::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, canon, err := parseNetwork(s)
		if err != nil {
			return
		}
		// The canonical form parses to the same range, and is a fixed point.
		r2, canon2, err := parseNetwork(canon)
		if err != nil || canon2 != canon || r2 != r {
			t.Fatalf("%q → %q → %q, %v", s, canon, canon2, err)
		}
		if !r.contains(r.first) || !r.contains(r.last) || r.last.Less(r.first) {
			t.Fatalf("%q: range %v–%v is inconsistent", s, r.first, r.last)
		}
	})
}

type netipAddr = netip.Addr

func parseAddrForTest(s string) (netip.Addr, error) { return netip.ParseAddr(s) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestParsePolicyAssignments(t *testing.T) {
	t.Parallel()
	got, err := ParsePolicyAssignments([]string{"methods=push, webauthn", "networks=deny:203.0.113.0/24,192.0.2.0/24,2001:db8::/32,require:2001:db9::/32",
		"trusted_device_days=7", "verified_push=true", "groups_allowed=", "new_user_policy=deny", "ip_whitelist_enroll_policy=allow",
		"lockout_threshold=3", "lockout_unlock_minutes=15", "self_service_allowed=0"})
	if err != nil {
		t.Fatal(err)
	}
	checked, err := CheckPolicySettings(got)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.NetworkRule{{Range: "203.0.113.0/24", Action: store.NetworkDeny}, {Range: "192.0.2.0/24", Action: store.NetworkAllow},
		{Range: "2001:db8::/32", Action: store.NetworkAllow}, {Range: "2001:db9::/32", Action: store.NetworkRequire}}
	if !slices.Equal(*checked.Networks, want) || !slices.Equal(*checked.Methods, []string{"push", "webauthn"}) ||
		*checked.RememberDays != 7 || !*checked.VerifiedPush || len(*checked.GroupsAllowed) != 0 || *checked.NewUserPolicy != store.PolicyDeny ||
		*checked.NetworksEnrollPolicy != "allow" || *checked.LockoutThreshold != 3 || *checked.LockoutUnlockMinutes != 15 || *checked.SelfServiceAllowed {
		t.Errorf("parsed %+v", checked)
	}
	_, err = ParsePolicyAssignments([]string{"colour=blue", "trusted_device_days=many", "verified_push=perhaps", "methods"})
	for _, want := range []string{"colour", "many", "perhaps", `"methods"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func FuzzPolicyAssignments(f *testing.F) {
	for _, s := range []string{"networks=deny:203.0.113.0/24,192.0.2.*", "methods=push,sms", "trusted_device_days=30",
		"groups_allowed=DG1,DG2", "networks=allow:2001:db8::/32", "verified_push=1", "x", "networks=require:1.2.3.4-1.2.3.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicyAssignments(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		c, err := CheckPolicySettings(p)
		if err != nil {
			return
		}
		// Checked settings are a fixed point of the check.
		again, err := CheckPolicySettings(c)
		if err != nil {
			t.Fatalf("checked settings %+v refused on a second check: %v", c, err)
		}
		if c.Networks != nil && !slices.Equal(*c.Networks, *again.Networks) {
			t.Fatalf("networks %v became %v", *c.Networks, *again.Networks)
		}
	})
}

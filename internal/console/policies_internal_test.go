package console

import (
	"reflect"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
)

// FuzzPolicyFormRoundTrip: the edit form shows each setting in `assent
// policy set`'s syntax and saves what it reads back, so any valid policy
// shown and saved unchanged must stay the same policy.
func FuzzPolicyFormRoundTrip(f *testing.F) {
	f.Add("networks=allow:192.0.2.0/24,deny:203.0.113.9/32;methods=push,webauthn;trusted_device_days=7")
	f.Add("new_user_policy=deny;verified_push=true;ip_whitelist_enroll_policy=allow;lockout_threshold=0")
	f.Add("methods=;networks=;groups_allowed=;self_service_allowed=false;lockout_unlock_minutes=15")
	f.Add("networks=2001:db8::/32,require:10.0.0.0/8")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := auth.ParsePolicyAssignments(strings.Split(in, ";"))
		if err != nil {
			return
		}
		want, err := auth.CheckPolicySettings(p)
		if err != nil || want.GroupsAllowed != nil && len(*want.GroupsAllowed) > 0 {
			return // group IDs are checked against the store, not here
		}
		var assign []string
		for name, v := range policyValues(want) {
			assign = append(assign, name+"="+v)
		}
		back, err := auth.ParsePolicyAssignments(assign)
		if err != nil {
			t.Fatalf("%q shown as %q: %v", in, assign, err)
		}
		got, err := auth.CheckPolicySettings(back)
		if err != nil {
			t.Fatalf("%q shown as %q: %v", in, assign, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q shown as %q reads back as %+v, want %+v", in, assign, got, want)
		}
	})
}

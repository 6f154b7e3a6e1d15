package adminapi

import (
	"context"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// PolicyCore is what the integration endpoints need for the integration's
// policy fields (issue 16).
type PolicyCore interface {
	ChangePolicy(ctx context.Context, c auth.PolicyChange) (store.Policy, error)
}

// policyParams reads the policy fields of Duo's create_integration and
// update_integration, as duo_client sends them, over cur (the
// integration's own policy): enroll_policy stays the integration's own
// field. given is false when none was sent.
func policyParams(c *httpapi.Call, cur store.PolicySettings) (set store.PolicySettings, given bool, err error) {
	v := c.Params.Values
	if _, ok := v["ip_whitelist"]; ok {
		given = true
		allow, err := auth.ParseNetworks(v.Get("ip_whitelist"), store.NetworkAllow)
		if err != nil {
			return set, false, err
		}
		set.Networks = auth.WithAllowNetworks(cur.Networks, allow)
	}
	if _, ok := v["ip_whitelist_enroll_policy"]; ok {
		given = true
		p := strings.ToLower(v.Get("ip_whitelist_enroll_policy"))
		if p != "enforce" && p != "allow" {
			return set, false, httpapi.InvalidParams("ip_whitelist_enroll_policy: enforce or allow")
		}
		set.NetworksEnrollPolicy = &p
	}
	if _, ok := v["trusted_device_days"]; ok {
		given = true
		n, err := strconv.Atoi(v.Get("trusted_device_days"))
		if err != nil || n < 0 || n > 365 {
			return set, false, httpapi.InvalidParams("trusted_device_days: 0 to 365")
		}
		set.RememberDays = &n
	}
	if _, ok := v["groups_allowed"]; ok {
		given = true
		gs := []string{}
		for g := range strings.SplitSeq(v.Get("groups_allowed"), ",") {
			if g = strings.TrimSpace(g); g != "" {
				gs = append(gs, g)
			}
		}
		set.GroupsAllowed = &gs
	}
	if _, ok := v["self_service_allowed"]; ok {
		given = true
		b, err := c.Params.Bool("self_service_allowed")
		if err != nil {
			return set, false, err
		}
		set.SelfServiceAllowed = &b
	}
	return set, given, nil
}

// withPolicy fills the integration object's policy fields from the
// integration's own policy.
func withPolicy(out integrationJSON, in store.Integration) integrationJSON {
	p := auth.IntegrationPolicy(in)
	out.IPWhitelist = auth.AllowNetworks(p)
	out.IPWhitelistEnrollPolicy = "enforce"
	if p.NetworksEnrollPolicy != nil {
		out.IPWhitelistEnrollPolicy = *p.NetworksEnrollPolicy
	}
	out.GroupsAllowed = []string{}
	if p.GroupsAllowed != nil {
		out.GroupsAllowed = *p.GroupsAllowed
	}
	if p.RememberDays != nil {
		out.TrustedDeviceDays = *p.RememberDays
	}
	if p.SelfServiceAllowed != nil {
		out.SelfServiceAllowed = *p.SelfServiceAllowed
	}
	return out
}

// applyPolicy changes the integration's own policy when the request
// carried policy fields, and returns the integration as it is then.
func (a *API) applyPolicy(ctx context.Context, in store.Integration, set store.PolicySettings, given bool) (store.Integration, error) {
	if !given {
		return in, nil
	}
	if _, err := a.Core.ChangePolicy(ctx, auth.PolicyChange{IKey: in.IKey, Set: set}); err != nil {
		return store.Integration{}, err
	}
	got, _, err := a.Core.Integration(ctx, in.IKey)
	return got, err
}

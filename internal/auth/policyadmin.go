package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/store"
)

// Policy settings by name, as `assent policy set/unset` and the
// administrator log name them.
const (
	SettingNewUserPolicy        = "new_user_policy"
	SettingMethods              = "methods"
	SettingVerifiedPush         = "verified_push"
	SettingNetworks             = "networks"
	SettingNetworksEnrollPolicy = "ip_whitelist_enroll_policy"
	SettingRememberDays         = "trusted_device_days"
	SettingLockoutThreshold     = "lockout_threshold"
	SettingLockoutUnlockMinutes = "lockout_unlock_minutes"
	SettingGroupsAllowed        = "groups_allowed"
	SettingSelfServiceAllowed   = "self_service_allowed"
)

// PolicySettingNames lists every setting name.
var PolicySettingNames = []string{SettingNewUserPolicy, SettingMethods, SettingVerifiedPush, SettingNetworks,
	SettingNetworksEnrollPolicy, SettingRememberDays, SettingLockoutThreshold, SettingLockoutUnlockMinutes,
	SettingGroupsAllowed, SettingSelfServiceAllowed}

// unsetSetting clears the setting named name in p.
func unsetSetting(p *store.PolicySettings, name string) error {
	switch name {
	case SettingNewUserPolicy:
		p.NewUserPolicy = nil
	case SettingMethods:
		p.Methods = nil
	case SettingVerifiedPush:
		p.VerifiedPush = nil
	case SettingNetworks:
		p.Networks = nil
	case SettingNetworksEnrollPolicy:
		p.NetworksEnrollPolicy = nil
	case SettingRememberDays:
		p.RememberDays = nil
	case SettingLockoutThreshold:
		p.LockoutThreshold = nil
	case SettingLockoutUnlockMinutes:
		p.LockoutUnlockMinutes = nil
	case SettingGroupsAllowed:
		p.GroupsAllowed = nil
	case SettingSelfServiceAllowed:
		p.SelfServiceAllowed = nil
	default:
		return invalid("setting", fmt.Sprintf("unknown setting %q (known: %s)", name, strings.Join(PolicySettingNames, ", ")))
	}
	return nil
}

// merge sets in dst every setting set in src.
func merge(dst *store.PolicySettings, src store.PolicySettings) {
	if src.NewUserPolicy != nil {
		dst.NewUserPolicy = src.NewUserPolicy
	}
	if src.Methods != nil {
		dst.Methods = src.Methods
	}
	if src.VerifiedPush != nil {
		dst.VerifiedPush = src.VerifiedPush
	}
	if src.Networks != nil {
		dst.Networks = src.Networks
	}
	if src.NetworksEnrollPolicy != nil {
		dst.NetworksEnrollPolicy = src.NetworksEnrollPolicy
	}
	if src.RememberDays != nil {
		dst.RememberDays = src.RememberDays
	}
	if src.LockoutThreshold != nil {
		dst.LockoutThreshold = src.LockoutThreshold
	}
	if src.LockoutUnlockMinutes != nil {
		dst.LockoutUnlockMinutes = src.LockoutUnlockMinutes
	}
	if src.GroupsAllowed != nil {
		dst.GroupsAllowed = src.GroupsAllowed
	}
	if src.SelfServiceAllowed != nil {
		dst.SelfServiceAllowed = src.SelfServiceAllowed
	}
}

// Policies lists every policy: the global one first, then by integration
// and group.
func (s *Service) Policies(ctx context.Context) ([]store.Policy, error) {
	list, err := s.st.ListPolicies(ctx)
	if err != nil {
		return nil, wrap("list policies", err)
	}
	return list, nil
}

// PolicyChange changes the policy of a scope: IKey "" is the global
// policy; GroupID names a group within the integration IKey. Set's set
// settings are set, the settings named in Unset are cleared (inherited
// again). A policy left with no setting is removed.
type PolicyChange struct {
	IKey    string
	GroupID string
	Set     store.PolicySettings
	Unset   []string
}

// ChangePolicy applies c in one transaction with its administrator-log
// row (action policy_update) and returns the policy as stored (zero
// Settings when it was removed). The change holds from the next request
// on, on every node (policies move IntegrationsVersion).
func (s *Service) ChangePolicy(ctx context.Context, c PolicyChange) (store.Policy, error) {
	if c.GroupID != "" && c.IKey == "" {
		return store.Policy{}, invalid("group", "a group policy belongs to an integration: give the integration too")
	}
	set, err := CheckPolicySettings(c.Set)
	if err != nil {
		return store.Policy{}, err
	}
	p := store.Policy{IKey: c.IKey, GroupID: c.GroupID, Updated: s.now()}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		list, err := q.ListPolicies(ctx)
		if err != nil {
			return err
		}
		for _, old := range list {
			if old.IKey == c.IKey && old.GroupID == c.GroupID {
				p.Settings = old.Settings
			}
		}
		merge(&p.Settings, set)
		for _, name := range c.Unset {
			if err := unsetSetting(&p.Settings, name); err != nil {
				return err
			}
		}
		if p.Settings.GroupsAllowed != nil {
			var missing []string
			for _, g := range *p.Settings.GroupsAllowed {
				if _, err := q.GetGroup(ctx, g); errors.Is(err, store.ErrNotFound) {
					missing = append(missing, g)
				} else if err != nil {
					return err
				}
			}
			if len(missing) > 0 {
				return invalid("groups_allowed", "no group with ID "+strings.Join(missing, ", "))
			}
		}
		object := policyObject(c.IKey, c.GroupID)
		if p.Settings == (store.PolicySettings{}) {
			if err := q.DeletePolicy(ctx, c.IKey, c.GroupID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return s.adminLog(ctx, q, "policy_delete", object, nil)
		}
		if err := q.PutPolicy(ctx, p); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "policy_update", object, map[string]any{"set": set, "unset": c.Unset})
	})
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return store.Policy{}, err
	case errors.Is(err, store.ErrNotFound):
		return store.Policy{}, notFound("no such integration or group")
	case err != nil:
		return store.Policy{}, wrap("change policy", err)
	}
	s.opts.Logger.Info("policy changed", "policy", policyObject(c.IKey, c.GroupID), "unset", strings.Join(c.Unset, " "))
	return p, nil
}

// policyObject names a policy's scope in the administrator log.
func policyObject(ikey, group string) string {
	switch {
	case ikey == "":
		return "global"
	case group == "":
		return ikey
	}
	return ikey + "/" + group
}

// IntegrationPolicy is the integration's own policy settings (not the
// global nor the group ones), as the Admin API shows them.
func IntegrationPolicy(in store.Integration) store.PolicySettings {
	for _, p := range in.Policies {
		if p.IKey == in.IKey && p.GroupID == "" {
			return p.Settings
		}
	}
	return store.PolicySettings{}
}

// AllowNetworks are the ranges of the allow rules of settings' networks:
// Duo's ip_whitelist.
func AllowNetworks(p store.PolicySettings) []string {
	out := []string{}
	if p.Networks == nil {
		return out
	}
	for _, r := range *p.Networks {
		if r.Action == store.NetworkAllow {
			out = append(out, r.Range)
		}
	}
	return out
}

// WithAllowNetworks returns rules with its allow rules replaced by allow:
// how Duo's ip_whitelist changes the authorized networks (deny and
// require rules stay, first).
func WithAllowNetworks(rules *[]store.NetworkRule, allow []store.NetworkRule) *[]store.NetworkRule {
	var out []store.NetworkRule
	if rules != nil {
		out = slices.DeleteFunc(slices.Clone(*rules), func(r store.NetworkRule) bool { return r.Action == store.NetworkAllow })
	}
	out = append(out, allow...)
	if out == nil {
		out = []store.NetworkRule{}
	}
	return &out
}

// ParsePolicyAssignments reads settings written NAME=VALUE, as `assent
// policy set` takes them, and lists every problem at once:
//
//	new_user_policy=enroll|allow|deny
//	methods=push,webauthn,...        (empty: none)
//	verified_push=true|false
//	networks=allow:192.0.2.0/24,deny:203.0.113.0/24,require:10.0.0.0/8
//	                                 (a range without action: allow; empty: none)
//	ip_whitelist_enroll_policy=enforce|allow
//	trusted_device_days=N, lockout_threshold=N, lockout_unlock_minutes=N
//	groups_allowed=DG...,DG...       (group IDs; empty: everyone)
//	self_service_allowed=true|false
//
// The result is not yet checked: see CheckPolicySettings.
func ParsePolicyAssignments(args []string) (store.PolicySettings, error) {
	var (
		p        store.PolicySettings
		problems []string
	)
	list := func(v string) []string {
		out := []string{}
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		name = strings.TrimSpace(strings.ToLower(name))
		if !ok {
			problems = append(problems, fmt.Sprintf("%q: write NAME=VALUE", a))
			continue
		}
		num := func() *int {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not a number", name, value))
				return nil
			}
			return &n
		}
		flag := func() *bool {
			b, err := strconv.ParseBool(strings.TrimSpace(value))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not true or false", name, value))
				return nil
			}
			return &b
		}
		switch name {
		case SettingNewUserPolicy:
			v := store.NewUserPolicy(strings.TrimSpace(value))
			p.NewUserPolicy = &v
		case SettingMethods:
			v := list(value)
			p.Methods = &v
		case SettingVerifiedPush:
			p.VerifiedPush = flag()
		case SettingNetworks:
			rules := []store.NetworkRule{}
			for _, f := range list(value) {
				action, rng, ok := strings.Cut(f, ":")
				if !ok || !store.NetworkAction(action).Valid() {
					action, rng = string(store.NetworkAllow), f // a bare range (IPv6 ones have colons)
				}
				rules = append(rules, store.NetworkRule{Range: rng, Action: store.NetworkAction(action)})
			}
			p.Networks = &rules
		case SettingNetworksEnrollPolicy:
			v := strings.TrimSpace(value)
			p.NetworksEnrollPolicy = &v
		case SettingRememberDays:
			p.RememberDays = num()
		case SettingLockoutThreshold:
			p.LockoutThreshold = num()
		case SettingLockoutUnlockMinutes:
			p.LockoutUnlockMinutes = num()
		case SettingGroupsAllowed:
			v := list(value)
			p.GroupsAllowed = &v
		case SettingSelfServiceAllowed:
			p.SelfServiceAllowed = flag()
		default:
			problems = append(problems, fmt.Sprintf("unknown setting %q (known: %s)", name, strings.Join(PolicySettingNames, ", ")))
		}
	}
	if len(problems) > 0 {
		return p, invalid("policy", strings.Join(problems, "; "))
	}
	return p, nil
}

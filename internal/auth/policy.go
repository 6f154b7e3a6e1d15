package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Policies (issue 16). A policy's settings are attached to everything (the
// global policy), to one integration, or to one group within one
// integration (store.Policy). For each setting the most specific policy
// that sets it wins: the policy of the user's group (of the first of the
// user's groups, by name, whose policy sets it), then the integration's,
// then the global one; a setting no policy sets has its default. The
// policies come with the integration (store.Integration.Policies), which
// Service.Integration caches by IntegrationsVersion: evaluating them reads
// nothing.

// Authentication methods, as policies name them (Duo's "Authentication
// methods" policy).
const (
	MethodPush          = "push"           // Duo Push (and Verified Push)
	MethodMobileOTP     = "mobile_otp"     // passcodes of a Duo Mobile or Assent Authenticator device
	MethodTOTP          = "totp"           // an authenticator app (RFC 6238)
	MethodHardwareToken = "hardware_token" // OATH HOTP/TOTP and YubiKey OTP tokens
	MethodWebAuthn      = "webauthn"       // security keys and passkeys
	MethodBypassCode    = "bypass_code"    // administrator-issued bypass codes
	MethodPhone         = "phone"          // phone callback (phone.go)
	MethodSMS           = "sms"            // SMS passcodes (sms.go)
)

// Methods lists every method a policy may allow.
var Methods = []string{MethodPush, MethodMobileOTP, MethodTOTP, MethodHardwareToken, MethodWebAuthn,
	MethodBypassCode, MethodPhone, MethodSMS}

// Auth-log reasons of policy decisions, as Duo names them.
const (
	ReasonTrustedNetwork    = "trusted_network"
	ReasonDeniedByPolicy    = "denied_by_policy"
	ReasonNotPermittedGroup = "user_not_in_permitted_group"
	ReasonFactorRestricted  = "factor_restricted"
	ReasonRememberedDevice  = "remembered_device"
	msgTrustedNetwork       = "Allowing access from a trusted network"
	msgDeniedNetwork        = "Access denied from this network"
	msgNotPermittedGroup    = "You do not have permission to access this application"
	msgFactorRestricted     = "This authentication method is not allowed by policy"
	msgNoAllowedMethod      = "None of your authentication methods is allowed by policy; contact your administrator"
	msgRememberedDevice     = "Allowing remembered device"
	networksEnrollEnforce   = "enforce"
	networksEnrollAllow     = "allow"
	maxNetworkRules         = 1000
	maxPolicyGroups         = 1000
	maxRememberDays         = 365
	maxLockoutThreshold     = 9999
	maxLockoutUnlockMinutes = 60 * 24 * 365
)

// netRange is an inclusive address range.
type netRange struct{ first, last netip.Addr }

func (r netRange) contains(a netip.Addr) bool {
	a = a.Unmap()
	return a.BitLen() == r.first.BitLen() && r.first.Compare(a) <= 0 && a.Compare(r.last) <= 0
}

// ParseNetwork reads an address range as Duo's ip_whitelist accepts one:
// a single address (192.0.2.10), a CIDR prefix (192.0.2.0/24,
// 2001:db8::/32), a first-last range (192.0.2.10-192.0.2.20) or an IPv4
// wildcard (192.0.2.*). It returns the range's canonical text: a prefix
// (a single address as /32 or /128) or first-last.
func ParseNetwork(s string) (string, error) {
	_, canon, err := parseNetwork(s)
	return canon, err
}

func parseNetwork(s string) (netRange, string, error) {
	bad := func() (netRange, string, error) {
		return netRange{}, "", invalid("ip_whitelist", fmt.Sprintf("%q is not an address, a CIDR prefix (192.0.2.0/24), a range (192.0.2.10-192.0.2.20) or a wildcard (192.0.2.*)", s))
	}
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 100 {
		return bad()
	}
	if strings.Contains(s, "*") {
		// a.b.c.* or a.b.*.*: stars only at the end of four parts.
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return bad()
		}
		bits := 0
		star := false
		for i, p := range parts {
			if p == "*" {
				star, parts[i] = true, "0"
				continue
			}
			if star {
				return bad()
			}
			bits += 8
		}
		if bits == 0 {
			return bad()
		}
		s = strings.Join(parts, ".") + "/" + strconv.Itoa(bits)
	}
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		b, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || a.Zone() != "" || b.Zone() != "" {
			return bad()
		}
		a, b = a.Unmap(), b.Unmap()
		if a.BitLen() != b.BitLen() || b.Less(a) {
			return bad()
		}
		return netRange{a, b}, a.String() + "-" + b.String(), nil
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return bad()
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return bad()
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
	}
	p = p.Masked()
	return netRange{p.Addr(), lastOf(p)}, p.String(), nil
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ParseNetworks reads Duo's ip_whitelist: ranges separated by commas (as
// duo_client sends a list), spaces or newlines, all with action.
func ParseNetworks(list string, action store.NetworkAction) ([]store.NetworkRule, error) {
	if !action.Valid() {
		return nil, invalid("action", "must be allow, require or deny")
	}
	out := []store.NetworkRule{}
	var problems []string
	for f := range strings.FieldsFuncSeq(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		_, canon, err := parseNetwork(f)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		out = append(out, store.NetworkRule{Range: canon, Action: action})
	}
	if len(problems) > 0 {
		return nil, invalid("ip_whitelist", strings.Join(problems, "; "))
	}
	if len(out) > maxNetworkRules {
		return nil, invalid("ip_whitelist", fmt.Sprintf("at most %d ranges", maxNetworkRules))
	}
	return out, nil
}

// CheckPolicySettings validates settings (every problem at once) and
// returns them normalized: network ranges canonical, methods known and
// without duplicates.
func CheckPolicySettings(p store.PolicySettings) (store.PolicySettings, error) {
	var problems []string
	if p.NewUserPolicy != nil && !p.NewUserPolicy.Valid() {
		problems = append(problems, "new_user_policy: must be one of enroll, allow, deny")
	}
	if p.Methods != nil {
		var ms []string
		for _, m := range *p.Methods {
			m = strings.TrimSpace(strings.ToLower(m))
			if !slices.Contains(Methods, m) {
				problems = append(problems, fmt.Sprintf("methods: unknown method %q (known: %s)", m, strings.Join(Methods, ", ")))
				continue
			}
			if !slices.Contains(ms, m) {
				ms = append(ms, m)
			}
		}
		if ms == nil {
			ms = []string{}
		}
		p.Methods = &ms
	}
	if p.Networks != nil {
		rules := make([]store.NetworkRule, 0, len(*p.Networks))
		for _, r := range *p.Networks {
			_, canon, err := parseNetwork(r.Range)
			switch {
			case err != nil:
				problems = append(problems, "networks: "+err.Error())
			case !r.Action.Valid():
				problems = append(problems, fmt.Sprintf("networks: %s: action must be allow, require or deny", r.Range))
			default:
				rules = append(rules, store.NetworkRule{Range: canon, Action: r.Action})
			}
		}
		if len(rules) > maxNetworkRules {
			problems = append(problems, fmt.Sprintf("networks: at most %d rules", maxNetworkRules))
		}
		p.Networks = &rules
	}
	if p.NetworksEnrollPolicy != nil && *p.NetworksEnrollPolicy != networksEnrollEnforce && *p.NetworksEnrollPolicy != networksEnrollAllow {
		problems = append(problems, "ip_whitelist_enroll_policy: must be enforce or allow")
	}
	intIn := func(name string, v *int, hi int) {
		if v != nil && (*v < 0 || *v > hi) {
			problems = append(problems, fmt.Sprintf("%s: must be 0 to %d", name, hi))
		}
	}
	intIn("trusted_device_days", p.RememberDays, maxRememberDays)
	intIn("lockout_threshold", p.LockoutThreshold, maxLockoutThreshold)
	intIn("lockout_unlock_minutes", p.LockoutUnlockMinutes, maxLockoutUnlockMinutes)
	if p.GroupsAllowed != nil {
		gs := []string{}
		for _, g := range *p.GroupsAllowed {
			if g = strings.TrimSpace(g); g != "" && !slices.Contains(gs, g) {
				gs = append(gs, g)
			}
		}
		if len(gs) > maxPolicyGroups {
			problems = append(problems, fmt.Sprintf("groups_allowed: at most %d groups", maxPolicyGroups))
		}
		p.GroupsAllowed = &gs
	}
	if len(problems) > 0 {
		return p, invalid("policy", strings.Join(problems, "; "))
	}
	return p, nil
}

// scope names the policy that set a setting; formatted only when logged,
// so evaluating policies allocates no text.
type scope struct {
	kind        uint8 // scopeDefault, scopeGlobal, scopeIntegration, scopeGroup
	ikey, group string
}

const (
	scopeDefault uint8 = iota
	scopeGlobal
	scopeIntegration
	scopeGroup
)

func (s scope) String() string {
	switch s.kind {
	case scopeGlobal:
		return "global policy"
	case scopeIntegration:
		return "policy of integration " + s.ikey
	case scopeGroup:
		return "policy of group " + s.group + " in integration " + s.ikey
	}
	return "default"
}

// logName is the scope as the auth log's policy column records it:
// "global", "integration" or "group:<name>" (the name among the user's
// groups as logged, else the ID); "" for the defaults.
func (s scope) logName(groups []store.LogGroup) string {
	switch s.kind {
	case scopeGlobal:
		return "global"
	case scopeIntegration:
		return "integration"
	case scopeGroup:
		for _, g := range groups {
			if g.ID == s.group {
				return "group:" + g.Name
			}
		}
		return "group:" + s.group
	}
	return ""
}

// preauth is the preauth answer of a gate's decision.
func (g gate) preauth() PreauthResult {
	return PreauthResult{Result: g.result, StatusMsg: g.msg, reason: g.reason, from: g.from}
}

// effective is the policy in force for one request: each setting with the
// scope of the policy that set it.
type effective struct {
	newUser       store.NewUserPolicy
	newUserFrom   scope
	methods       []string // nil: every method
	methodsFrom   scope
	verifiedPush  bool
	networks      []store.NetworkRule
	networksFrom  scope
	networksNew   string // ip_whitelist_enroll_policy
	rememberDays  int
	rememberFrom  scope
	threshold     int // 0: the service's; negative: off
	unlockAfter   time.Duration
	groupsAllowed []string
	groupsFrom    scope
	selfService   bool // self_service_allowed
}

// evaluate computes the policy in force for in and a user in groups
// (their IDs, in the order the user's groups are read: by name).
func evaluate(in store.Integration, groups []string) effective {
	e := effective{newUser: in.NewUserPolicy, newUserFrom: scope{scopeIntegration, in.IKey, ""}, networksNew: networksEnrollEnforce}
	if e.newUser == "" {
		e.newUser, e.newUserFrom = store.PolicyEnroll, scope{}
	}
	if len(in.Policies) == 0 {
		return e
	}
	var global, app *store.PolicySettings
	var groupPolicies []store.Policy
	for i := range in.Policies {
		p := &in.Policies[i]
		switch {
		case p.IKey == "" && p.GroupID == "":
			global = &p.Settings
		case p.IKey == in.IKey && p.GroupID == "":
			app = &p.Settings
		case p.IKey == in.IKey && slices.Contains(groups, p.GroupID):
			groupPolicies = append(groupPolicies, *p)
		}
	}
	// The group policies in the order of the user's groups.
	slices.SortStableFunc(groupPolicies, func(a, b store.Policy) int {
		return slices.Index(groups, a.GroupID) - slices.Index(groups, b.GroupID)
	})
	type layer struct {
		s    *store.PolicySettings
		from scope
	}
	// Least specific first: each later layer overrides.
	layers := make([]layer, 0, 2+len(groupPolicies))
	layers = append(layers, layer{global, scope{scopeGlobal, "", ""}}, layer{app, scope{scopeIntegration, in.IKey, ""}})
	for i := len(groupPolicies) - 1; i >= 0; i-- {
		layers = append(layers, layer{&groupPolicies[i].Settings, scope{scopeGroup, in.IKey, groupPolicies[i].GroupID}})
	}
	for _, l := range layers {
		s := l.s
		if s == nil {
			continue
		}
		// The integration's own new-user policy is its column; a global
		// one never overrides it, a group's does.
		if s.NewUserPolicy != nil && l.from.kind != scopeGlobal {
			e.newUser, e.newUserFrom = *s.NewUserPolicy, l.from
		}
		if s.Methods != nil {
			e.methods, e.methodsFrom = *s.Methods, l.from
		}
		if s.VerifiedPush != nil {
			e.verifiedPush = *s.VerifiedPush
		}
		if s.Networks != nil {
			e.networks, e.networksFrom = *s.Networks, l.from
		}
		if s.NetworksEnrollPolicy != nil {
			e.networksNew = *s.NetworksEnrollPolicy
		}
		if s.RememberDays != nil {
			e.rememberDays, e.rememberFrom = *s.RememberDays, l.from
		}
		if s.LockoutThreshold != nil {
			e.threshold = *s.LockoutThreshold
			if e.threshold == 0 {
				e.threshold = -1
			}
		}
		if s.LockoutUnlockMinutes != nil {
			e.unlockAfter = time.Duration(*s.LockoutUnlockMinutes) * time.Minute
		}
		if s.GroupsAllowed != nil {
			e.groupsAllowed, e.groupsFrom = *s.GroupsAllowed, l.from
		}
		if s.SelfServiceAllowed != nil {
			e.selfService = *s.SelfServiceAllowed
		}
	}
	return e
}

// SelfServiceAllowed is the integration's effective self_service_allowed
// (its own policy's, else the global policy's; off by default): whether
// its prompt links to the self-service portal. Group policies do not
// count, since the prompt shows the link before it knows the user's
// groups.
func SelfServiceAllowed(in store.Integration) bool {
	return evaluate(in, nil).selfService
}

// allows reports whether method m is allowed.
func (e effective) allows(m string) bool { return e.methods == nil || slices.Contains(e.methods, m) }

// network is the action of the first rule matching ip ("" when none
// matches or ip is empty or unparsable).
func (e effective) network(ip string) store.NetworkAction {
	if ip == "" || len(e.networks) == 0 {
		return ""
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	for _, r := range e.networks {
		nr, _, err := parseNetwork(r.Range)
		if err == nil && nr.contains(a.WithZone("")) {
			return r.Action
		}
	}
	return ""
}

// permitted reports whether a user in groups may use the integration.
func (e effective) permitted(groups []string) bool {
	if len(e.groupsAllowed) == 0 {
		return true
	}
	for _, g := range groups {
		if slices.Contains(e.groupsAllowed, g) {
			return true
		}
	}
	return false
}

// gate is a decision policies make before any second factor: result ""
// when none applies.
type gate struct {
	result, msg, reason string
	from                scope
}

// policyGate refuses a user in none of the permitted groups (groups_allowed)
// and requests from a denied network. It comes before the user's status: a
// bypass user is refused too.
func (s *Service) policyGate(e effective, req Request, groups []string) gate {
	if !e.permitted(groups) {
		return gate{ResultDeny, msgNotPermittedGroup, ReasonNotPermittedGroup, e.groupsFrom}
	}
	if e.network(req.IP) == store.NetworkDeny {
		return gate{ResultDeny, msgDeniedNetwork, ReasonDeniedByPolicy, e.networksFrom}
	}
	return gate{}
}

// networkAllows lets an enrolled, active user in from an allow network
// without a second factor (Duo's ip_whitelist).
func (s *Service) networkAllows(e effective, req Request) gate {
	if e.network(req.IP) == store.NetworkAllow {
		return gate{ResultAllow, msgTrustedNetwork, ReasonTrustedNetwork, e.networksFrom}
	}
	return gate{}
}

// networkAllowsUnenrolled lets an unenrolled user in from an allow network
// when ip_whitelist_enroll_policy is allow; with enforce (the default) the
// new-user policy decides.
func (s *Service) networkAllowsUnenrolled(e effective, req Request) gate {
	if e.networksNew == networksEnrollAllow {
		return s.networkAllows(e, req)
	}
	return gate{}
}

// explain logs which policy decided a request and why.
func (s *Service) explain(ctx context.Context, req Request, g gate) {
	s.log(ctx).Info("policy decision", "ikey", req.Integration.IKey, "username", req.Username,
		"ip", req.IP, "result", g.result, "reason", g.reason, "policy", g.from.String())
}

// groupIDs are the IDs of logged groups.
func groupIDs(gs []store.LogGroup) []string {
	ids := make([]string, 0, len(gs))
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}

// autoUnlock unlocks u when it is locked out and the policy's unlock
// period has passed since it was locked; it returns u as it is then.
func (s *Service) autoUnlock(ctx context.Context, e effective, u store.User) (store.User, error) {
	if u.Status != store.StatusLockedOut || e.unlockAfter <= 0 {
		return u, nil
	}
	at, err := s.st.LockedAt(ctx, u.ID)
	if err != nil {
		return u, wrap("lockout time", err)
	}
	if at.IsZero() || s.now().Before(at.Add(e.unlockAfter)) {
		return u, nil
	}
	err = s.st.AutoUnlock(ctx, u.ID, at)
	if errors.Is(err, store.ErrConflict) {
		return u, nil // unlocked or locked again meanwhile: as read next time
	}
	if err != nil {
		return u, wrap("automatic unlock", err)
	}
	s.log(ctx).Info("user unlocked automatically", "user_id", u.ID, "locked_at", at, "after", e.unlockAfter)
	u.Status, u.FailedAttempts, u.LockoutReason = store.StatusActive, 0, ""
	return u, nil
}

// methodOfToken is the policy method of a token.
func methodOfToken(t store.Token) string {
	if t.Kind == store.TokenTOTPApp {
		return MethodTOTP
	}
	return MethodHardwareToken
}

// filterCapabilities drops the capabilities of a device that the policy
// does not allow; "auto" stays while push or phone does.
func (e effective) filterCapabilities(caps []string) []string {
	if e.methods == nil {
		return caps
	}
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		switch c {
		case "auto":
			if !e.allows(MethodPush) && !e.allows(MethodPhone) {
				continue
			}
		case "push":
			if !e.allows(MethodPush) {
				continue
			}
		case "mobile_otp":
			if !e.allows(MethodMobileOTP) {
				continue
			}
		case "phone", "sms":
			if !e.allows(c) {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// RememberDays is the number of days a browser that passed the prompt for
// a user of integration in (in groups, IDs) is remembered: Duo's
// "Remembered devices" policy; 0 is off.
func (s *Service) RememberDays(in store.Integration, groups []string) int {
	return evaluate(in, groups).rememberDays
}

package store

import (
	"context"
	"time"
)

// Policies (issue 16): settings attached to everything (the global policy),
// to one integration, or to one group within one integration. Each setting
// is optional; an unset one is inherited from the less specific policy.
// The core (internal/auth) evaluates them; the store keeps them as they
// were set, and reads them together with the integration they apply to
// (Integration.Policies), so a decision needs no extra read.

// NetworkAction is what an authorized network's rule does.
type NetworkAction string

// Network actions.
const (
	NetworkAllow   NetworkAction = "allow"   // no second factor from there (Duo's ip_whitelist)
	NetworkRequire NetworkAction = "require" // a second factor is required
	NetworkDeny    NetworkAction = "deny"    // refused
)

// Valid reports whether a is a known action.
func (a NetworkAction) Valid() bool {
	switch a {
	case NetworkAllow, NetworkRequire, NetworkDeny:
		return true
	}
	return false
}

// NetworkRule is one authorized-networks rule: an address range and its
// action. Range is a canonical CIDR prefix (192.0.2.0/24, 2001:db8::/32)
// or a first-last range (192.0.2.10-192.0.2.20), as the core normalized it.
type NetworkRule struct {
	Range  string        `json:"range"`
	Action NetworkAction `json:"action"`
}

// PolicySettings are a policy's settings; nil means unset (inherited).
type PolicySettings struct {
	// NewUserPolicy is Duo's "New User policy" (enroll, allow, deny). An
	// integration's own value is its NewUserPolicy column; a global or a
	// group policy may set it too.
	NewUserPolicy *NewUserPolicy `json:"new_user_policy,omitempty"`
	// Methods are the allowed authentication methods (Duo's
	// "Authentication methods" policy), a subset of the core's method
	// names (push, mobile_otp, totp, hardware_token, webauthn,
	// bypass_code, phone, sms).
	Methods *[]string `json:"methods,omitempty"`
	// VerifiedPush requires Verified Push for pushes.
	VerifiedPush *bool `json:"verified_push,omitempty"`
	// Networks are Duo's "Authorized networks": the first matching rule
	// applies; no rule matching means a second factor is required.
	Networks *[]NetworkRule `json:"networks,omitempty"`
	// NetworksEnrollPolicy is Duo's ip_whitelist_enroll_policy: what an
	// unenrolled user coming from an allow network gets: "enforce" (the
	// new-user policy applies) or "allow" (let in).
	NetworksEnrollPolicy *string `json:"networks_enroll_policy,omitempty"`
	// RememberDays is Duo's "Remembered devices" (trusted_device_days):
	// 0 is off.
	RememberDays *int `json:"remember_days,omitempty"`
	// LockoutThreshold is the number of consecutive failures that locks a
	// user out (Duo's "User lockout"); 0 is off.
	LockoutThreshold *int `json:"lockout_threshold,omitempty"`
	// LockoutUnlockMinutes unlocks a locked-out user automatically after
	// that many minutes (Duo's lockout_expire_duration); 0 is never.
	LockoutUnlockMinutes *int `json:"lockout_unlock_minutes,omitempty"`
	// GroupsAllowed are the group IDs whose members may use the
	// integration (Duo's groups_allowed); empty: everyone.
	GroupsAllowed *[]string `json:"groups_allowed,omitempty"`
	// SelfServiceAllowed is Duo's self_service_allowed.
	SelfServiceAllowed *bool `json:"self_service_allowed,omitempty"`
}

// Policy is one stored policy: IKey "" is the global policy, GroupID ""
// the integration's own.
type Policy struct {
	IKey     string
	GroupID  string
	Settings PolicySettings
	Updated  time.Time
}

// PolicyQueries store policies. Every change moves IntegrationsVersion in
// the same transaction, so integrations cached with their policies are
// read again.
type PolicyQueries interface {
	// PutPolicy inserts or replaces the policy of (p.IKey, p.GroupID);
	// ErrNotFound when p.IKey names no integration or p.GroupID no group.
	PutPolicy(ctx context.Context, p Policy) error
	// DeletePolicy removes a policy; ErrNotFound if there is none.
	DeletePolicy(ctx context.Context, ikey, groupID string) error
	// ListPolicies lists every policy, global first, then by IKey and
	// GroupID.
	ListPolicies(ctx context.Context) ([]Policy, error)
	// LockedAt is when the user was last locked out (zero: never, or
	// before lock times were kept).
	LockedAt(ctx context.Context, userID string) (time.Time, error)
	// AutoUnlock sets a user locked out at lockedAt back to active with no
	// failed attempts; ErrConflict when the user is no longer locked out
	// or was locked again since.
	AutoUnlock(ctx context.Context, userID string, lockedAt time.Time) error
}

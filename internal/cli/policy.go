package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Policies (`assent policy …`): settings global, per integration, or per
// group within an integration; see docs/policies.md.

func newPolicyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Show and change policies (global, per integration, per group within an integration)",
		Long: `Policies hold settings: new_user_policy, methods, verified_push, networks,
ip_whitelist_enroll_policy, trusted_device_days, lockout_threshold,
lockout_unlock_minutes, groups_allowed, self_service_allowed. For each setting the most
specific policy that sets it wins: the user's group's (in --integration), then the
integration's, then the global one. See docs/policies.md.`,
	}
	cmd.AddCommand(newPolicyShowCmd(e), newPolicySetCmd(e, true), newPolicySetCmd(e, false))
	return cmd
}

// policyScope holds the scope flags.
type policyScope struct{ ikey, group string }

func (s *policyScope) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.ikey, "integration", "", "the integration key (DI…) whose policy to change; none: the global policy")
	cmd.Flags().StringVar(&s.group, "group", "", "a group (name or ID) within --integration")
}

// resolve turns group names into IDs.
func (s policyScope) resolve(ctx context.Context, a *app.App) (policyScope, error) {
	if s.group == "" {
		return s, nil
	}
	if s.ikey == "" {
		return s, fmt.Errorf("--group needs --integration: a group policy belongs to an integration")
	}
	g, err := a.Core.Group(ctx, s.group)
	if err != nil {
		return s, err
	}
	s.group = g.ID
	return s, nil
}

// policyJSON is how the CLI prints a policy.
type policyJSON struct {
	Integration string               `json:"integration,omitempty"`
	Group       string               `json:"group,omitempty"`
	Settings    store.PolicySettings `json:"settings"`
}

func newPolicyShowCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "List every policy and its settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				list, err := a.Core.Policies(cmd.Context())
				if err != nil {
					return err
				}
				out := make([]policyJSON, 0, len(list))
				for _, p := range list {
					out = append(out, policyJSON{Integration: p.IKey, Group: p.GroupID, Settings: p.Settings})
				}
				if asJSON {
					return printJSON(e.stdout, out)
				}
				if len(out) == 0 {
					fmt.Fprintln(e.stdout, "No policies: every setting has its default.")
					return nil
				}
				rows := make([][]string, 0, len(out))
				for _, p := range out {
					scope := "global"
					if p.Integration != "" {
						scope = p.Integration
					}
					if p.Group != "" {
						scope += " group " + p.Group
					}
					b, err := json.Marshal(p.Settings)
					if err != nil {
						return err
					}
					rows = append(rows, []string{scope, string(b)})
				}
				return table(e.stdout, []string{"SCOPE", "SETTINGS"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPolicySetCmd(e *env, set bool) *cobra.Command {
	var (
		scope  policyScope
		asJSON bool
	)
	use, short := "set NAME=VALUE...", "Set settings of a policy (networks=allow:192.0.2.0/24,deny:203.0.113.0/24 methods=push,webauthn …)"
	if !set {
		use, short = "unset NAME...", "Unset settings of a policy: they are inherited again"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := auth.PolicyChange{}
			if set {
				p, err := auth.ParsePolicyAssignments(args)
				if err != nil {
					return err
				}
				c.Set = p
			} else {
				c.Unset = args
			}
			return runApp(cmd, e, func(a *app.App) error {
				ctx := cmd.Context()
				s, err := scope.resolve(ctx, a)
				if err != nil {
					return err
				}
				c.IKey, c.GroupID = s.ikey, s.group
				if c.Set.GroupsAllowed != nil {
					// Names or IDs; stored as IDs.
					ids := []string{}
					for _, g := range *c.Set.GroupsAllowed {
						grp, err := a.Core.Group(ctx, g)
						if err != nil {
							return fmt.Errorf("groups_allowed: %s: %w", g, err)
						}
						ids = append(ids, grp.ID)
					}
					c.Set.GroupsAllowed = &ids
				}
				p, err := a.Core.ChangePolicy(ctx, c)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, policyJSON{Integration: p.IKey, Group: p.GroupID, Settings: p.Settings})
				}
				what := "Set " + strings.Join(args, " ")
				if !set {
					what = "Unset " + strings.Join(args, " ")
				}
				fmt.Fprintf(e.stdout, "%s in the %s.\n", what, scopeName(c.IKey, c.GroupID))
				return nil
			})
		},
	}
	scope.flags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the policy as JSON")
	return cmd
}

func scopeName(ikey, group string) string {
	switch {
	case ikey == "":
		return "global policy"
	case group == "":
		return "policy of integration " + ikey
	}
	return "policy of group " + group + " in integration " + ikey
}

// integrationPolicyFlags defines the flags of `assent integration create`
// and `update` that set the integration's own policy (Duo's integration
// fields).
func integrationPolicyFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("ip-whitelist", "", "authorized networks from which no second factor is asked (Duo's ip_whitelist): addresses, CIDR prefixes, first-last ranges or 192.0.2.*, comma-separated; \"\" clears")
	f.String("ip-whitelist-enroll-policy", "", "what unenrolled users from those networks get: enforce (the new-user policy) or allow")
	f.Int("trusted-device-days", 0, "remember a browser that passed the prompt for that many days (0: off)")
	f.StringSlice("groups-allowed", nil, "only members of these groups (names or IDs) may use the integration; \"\" lets everyone")
	f.Bool("self-service-allowed", false, "Duo's self_service_allowed")
}

// integrationPolicyChange reads those flags; given is false when none was
// set.
func integrationPolicyChange(ctx context.Context, cmd *cobra.Command, a *app.App, in store.Integration) (set store.PolicySettings, given bool, err error) {
	f := cmd.Flags()
	if f.Changed("ip-whitelist") {
		v, _ := f.GetString("ip-whitelist")
		allow, err := auth.ParseNetworks(v, store.NetworkAllow)
		if err != nil {
			return set, false, err
		}
		set.Networks, given = auth.WithAllowNetworks(auth.IntegrationPolicy(in).Networks, allow), true
	}
	if f.Changed("ip-whitelist-enroll-policy") {
		v, _ := f.GetString("ip-whitelist-enroll-policy")
		set.NetworksEnrollPolicy, given = &v, true
	}
	if f.Changed("trusted-device-days") {
		v, _ := f.GetInt("trusted-device-days")
		set.RememberDays, given = &v, true
	}
	if f.Changed("groups-allowed") {
		names, _ := f.GetStringSlice("groups-allowed")
		ids := []string{}
		for _, n := range names {
			if n = strings.TrimSpace(n); n == "" {
				continue
			}
			g, err := a.Core.Group(ctx, n)
			if err != nil {
				return set, false, fmt.Errorf("--groups-allowed %s: %w", n, err)
			}
			ids = append(ids, g.ID)
		}
		set.GroupsAllowed, given = &ids, true
	}
	if f.Changed("self-service-allowed") {
		v, _ := f.GetBool("self-service-allowed")
		set.SelfServiceAllowed, given = &v, true
	}
	return set, given, nil
}

// anyIntegrationPolicyFlag reports whether one of those flags was set.
func anyIntegrationPolicyFlag(cmd *cobra.Command) bool {
	for _, n := range []string{"ip-whitelist", "ip-whitelist-enroll-policy", "trusted-device-days", "groups-allowed", "self-service-allowed"} {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

// applyIntegrationPolicy changes the integration's own policy from those
// flags and returns the integration as it is then.
func applyIntegrationPolicy(cmd *cobra.Command, a *app.App, in store.Integration) (store.Integration, error) {
	ctx := cmd.Context()
	set, given, err := integrationPolicyChange(ctx, cmd, a, in)
	if err != nil || !given {
		return in, err
	}
	if _, err := a.Core.ChangePolicy(ctx, auth.PolicyChange{IKey: in.IKey, Set: set}); err != nil {
		return in, err
	}
	got, _, err := a.Core.Integration(ctx, in.IKey)
	return got, err
}

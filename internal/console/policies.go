package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Policies (issue 16 in the console): the global policy, each
// application's and its groups', each setting with the value in force and
// the policy it comes from; a change goes through the core's ChangePolicy
// (the administrator log's policy_update row) after the re-authentication,
// since it changes who gets in.

// policiesCore is what the policies page asks of the core.
type policiesCore interface {
	Policies(ctx context.Context) ([]store.Policy, error)
	ChangePolicy(ctx context.Context, c auth.PolicyChange) (store.Policy, error)
}

func (c *Console) policyRoutes() []route {
	return []route{
		{"GET /admin/policies", c.private(auth.PermRead, c.policies)},
		{"GET /admin/policies/global", c.private(auth.PermManage, c.policyPage)},
		{"POST /admin/policies/global", c.private(auth.PermManage, c.savePolicy)},
		{"GET /admin/policies/{ikey}", c.private(auth.PermManage, c.policyPage)},
		{"POST /admin/policies/{ikey}", c.private(auth.PermManage, c.savePolicy)},
		{"GET /admin/policies/{ikey}/{group}", c.private(auth.PermManage, c.policyPage)},
		{"POST /admin/policies/{ikey}/{group}", c.private(auth.PermManage, c.savePolicy)},
	}
}

// policiesView is what the policies pages show.
type policiesView struct {
	Scopes []policyScope
	// Edit is the policy being edited (the edit page).
	Edit *policyScope
}

// policyScope is one policy: global, an application's, or a group's in an
// application.
type policyScope struct {
	Title string
	ID    string // the HTML id: global, the ikey, ikey-group
	Path  string // the edit page
	IKey  string
	Group *store.Group
	// Set says whether this policy is stored at all.
	Set  bool
	Rows []policyRow
	// GroupPolicies are an application's group policies; Groups the
	// groups that may get one (the overview's "add a group policy").
	GroupPolicies []policyScope
	Groups        []store.Group
}

// policyRow is one setting of a policy.
type policyRow struct {
	Name, Label, Help string
	// Here is the value this policy sets, in `assent policy set`'s
	// syntax; IsSet says whether it sets one.
	Here  string
	IsSet bool
	// InForce is the value in force in this scope, From the policy it
	// comes from.
	InForce, From string
}

var policySettingLabels = map[string][2]string{
	auth.SettingNewUserPolicy:        {"Users without a second factor", "enroll, allow or deny"},
	auth.SettingMethods:              {"Authentication methods", "comma-separated: push, mobile_otp, totp, hardware_token, webauthn, bypass_code, phone, sms; empty: none"},
	auth.SettingVerifiedPush:         {"Verified Push required", "true or false"},
	auth.SettingNetworks:             {"Authorized networks", "comma-separated rules action:range, e.g. allow:192.0.2.0/24, deny:203.0.113.0/24, require:10.0.0.0/8; a range alone is allow"},
	auth.SettingNetworksEnrollPolicy: {"Unenrolled users on an allowed network", "enforce (the new-user policy applies) or allow (let in)"},
	auth.SettingRememberDays:         {"Remembered devices (days)", "a number of days; 0 is off"},
	auth.SettingLockoutThreshold:     {"Lockout after failures", "a number of consecutive failures; 0 is off"},
	auth.SettingLockoutUnlockMinutes: {"Automatic unlock (minutes)", "a number of minutes; 0 is never"},
	auth.SettingGroupsAllowed:        {"Permitted groups", "comma-separated group IDs (DG…); empty: everyone"},
	auth.SettingSelfServiceAllowed:   {"Self-service portal allowed", "true or false"},
}

func joinList(l *[]string) string { return strings.Join(*l, ",") }

// policyValues are the settings p sets, in `assent policy set`'s syntax.
func policyValues(p store.PolicySettings) map[string]string {
	out := map[string]string{}
	if p.NewUserPolicy != nil {
		out[auth.SettingNewUserPolicy] = string(*p.NewUserPolicy)
	}
	if p.Methods != nil {
		out[auth.SettingMethods] = joinList(p.Methods)
	}
	if p.VerifiedPush != nil {
		out[auth.SettingVerifiedPush] = strconv.FormatBool(*p.VerifiedPush)
	}
	if p.Networks != nil {
		var rules []string
		for _, r := range *p.Networks {
			rules = append(rules, string(r.Action)+":"+r.Range)
		}
		out[auth.SettingNetworks] = strings.Join(rules, ",")
	}
	if p.NetworksEnrollPolicy != nil {
		out[auth.SettingNetworksEnrollPolicy] = *p.NetworksEnrollPolicy
	}
	for name, v := range map[string]*int{auth.SettingRememberDays: p.RememberDays,
		auth.SettingLockoutThreshold: p.LockoutThreshold, auth.SettingLockoutUnlockMinutes: p.LockoutUnlockMinutes} {
		if v != nil {
			out[name] = strconv.Itoa(*v)
		}
	}
	if p.GroupsAllowed != nil {
		out[auth.SettingGroupsAllowed] = joinList(p.GroupsAllowed)
	}
	if p.SelfServiceAllowed != nil {
		out[auth.SettingSelfServiceAllowed] = strconv.FormatBool(*p.SelfServiceAllowed)
	}
	return out
}

// policyLayer is a policy that may set a setting, least specific first.
type policyLayer struct {
	from   string
	values map[string]string
}

// policyDefaults are what a setting is when no policy sets it.
func (c *Console) policyDefaults(ctx context.Context) map[string]string {
	return map[string]string{
		auth.SettingNewUserPolicy:        string(store.PolicyEnroll),
		auth.SettingMethods:              "every method",
		auth.SettingVerifiedPush:         "false",
		auth.SettingNetworks:             "none: a second factor everywhere",
		auth.SettingNetworksEnrollPolicy: "enforce",
		auth.SettingRememberDays:         "0 (off)",
		auth.SettingLockoutThreshold:     strconv.Itoa(c.Core.LockoutThreshold(ctx)) + " (the server's setting)",
		auth.SettingLockoutUnlockMinutes: "0 (never)",
		auth.SettingGroupsAllowed:        "everyone",
		auth.SettingSelfServiceAllowed:   "false",
	}
}

// rows computes a scope's rows: what it sets and what is in force, from
// layers (the global policy, the application's, the group's).
func policyRows(defaults map[string]string, app *store.Integration, layers []policyLayer) []policyRow {
	here := layers[len(layers)-1].values
	rows := make([]policyRow, 0, len(auth.PolicySettingNames))
	for _, name := range auth.PolicySettingNames {
		l := policySettingLabels[name]
		row := policyRow{Name: name, Label: l[0], Help: l[1], InForce: defaults[name], From: "default"}
		row.Here, row.IsSet = here[name]
		if name == auth.SettingNewUserPolicy && app != nil {
			// An application's own new-user policy is its setting;
			// the global policy's never overrides it.
			row.InForce, row.From = string(app.NewUserPolicy), "the application's setting"
			if row.InForce == "" {
				row.InForce = string(store.PolicyEnroll)
			}
		}
		for _, ly := range layers {
			if v, ok := ly.values[name]; ok {
				if name == auth.SettingNewUserPolicy && app != nil && ly.from == "global policy" {
					continue
				}
				row.InForce, row.From = v, ly.from
			}
		}
		if row.InForce == "" {
			row.InForce = "(empty)"
		}
		rows = append(rows, row)
	}
	return rows
}

// loadPolicies builds every scope: global, then each application with its
// group policies.
func (c *Console) loadPolicies(ctx context.Context) ([]policyScope, error) {
	list, err := c.Core.Policies(ctx)
	if err != nil {
		return nil, err
	}
	apps, err := c.Core.Integrations(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := c.Core.Groups(ctx)
	if err != nil {
		return nil, err
	}
	groupByID := map[string]store.Group{}
	for _, g := range groups {
		groupByID[g.ID] = g
	}
	stored := map[[2]string]store.PolicySettings{}
	for _, p := range list {
		stored[[2]string{p.IKey, p.GroupID}] = p.Settings
	}
	defaults := c.policyDefaults(ctx)
	global, globalSet := stored[[2]string{"", ""}]
	gl := policyLayer{"global policy", policyValues(global)}
	out := []policyScope{{Title: "Global policy", ID: "global", Path: "/admin/policies/global", Set: globalSet,
		Rows: policyRows(defaults, nil, []policyLayer{gl})}}
	for _, in := range apps {
		if in.Type == store.TypeAdminAPI {
			continue // the Admin API has no users to apply a policy to
		}
		own, set := stored[[2]string{in.IKey, ""}]
		al := policyLayer{"policy of " + in.Name, policyValues(own)}
		s := policyScope{Title: in.Name, ID: in.IKey, Path: "/admin/policies/" + in.IKey, IKey: in.IKey, Set: set,
			Rows: policyRows(defaults, &in, []policyLayer{gl, al})}
		for _, p := range list {
			if p.IKey != in.IKey || p.GroupID == "" {
				continue
			}
			g, ok := groupByID[p.GroupID]
			if !ok {
				g = store.Group{ID: p.GroupID, Name: p.GroupID}
			}
			s.GroupPolicies = append(s.GroupPolicies, policyScope{Title: "Group " + g.Name + " in " + in.Name,
				ID: in.IKey + "-" + g.ID, Path: "/admin/policies/" + in.IKey + "/" + g.ID, IKey: in.IKey, Group: &g, Set: true,
				Rows: policyRows(defaults, &in, []policyLayer{gl, al, {"policy of group " + g.Name, policyValues(p.Settings)}})})
		}
		for _, g := range groups {
			if !slices.ContainsFunc(s.GroupPolicies, func(gp policyScope) bool { return gp.Group.ID == g.ID }) {
				s.Groups = append(s.Groups, g)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *Console) policies(w http.ResponseWriter, r *http.Request, p *page) error {
	scopes, err := c.loadPolicies(r.Context())
	if err != nil {
		return err
	}
	if r.URL.Query().Get("done") == "saved" {
		p.Message, p.MessageKind = "The policy was saved; it holds from the next request on.", "success"
	}
	p.Title, p.Page, p.Nav, p.Pol = "Policies", "policies", "policies", &policiesView{Scopes: scopes}
	return c.render(w, http.StatusOK, "policies", p)
}

// findScope finds the path's scope ({ikey}, {group}); a group without a
// policy yet is a new one.
func (c *Console) findScope(r *http.Request) (policyScope, error) {
	scopes, err := c.loadPolicies(r.Context())
	if err != nil {
		return policyScope{}, err
	}
	ikey, gid := r.PathValue("ikey"), r.PathValue("group")
	if ikey == "" {
		return scopes[0], nil
	}
	for _, s := range scopes[1:] {
		if s.IKey != ikey {
			continue
		}
		if gid == "" {
			return s, nil
		}
		for _, gp := range s.GroupPolicies {
			if gp.Group.ID == gid {
				return gp, nil
			}
		}
		for _, g := range s.Groups {
			if g.ID == gid {
				// No policy yet: what is in force is the application's.
				rows := slices.Clone(s.Rows)
				for i := range rows {
					rows[i].Here, rows[i].IsSet = "", false
				}
				return policyScope{Title: "Group " + g.Name + " in " + s.Title, ID: ikey + "-" + g.ID,
					Path: "/admin/policies/" + ikey + "/" + g.ID, IKey: ikey, Group: &g, Rows: rows}, nil
			}
		}
		return policyScope{}, &auth.Error{Kind: auth.KindNotFound, Detail: "no group with that ID"}
	}
	return policyScope{}, &auth.Error{Kind: auth.KindNotFound, Detail: "no application with that integration key"}
}

func (c *Console) policyPage(w http.ResponseWriter, r *http.Request, p *page) error {
	if g := r.URL.Query().Get("group"); g != "" && r.PathValue("group") == "" && r.PathValue("ikey") != "" {
		// The overview's "add a group policy" form.
		http.Redirect(w, r, "/admin/policies/"+r.PathValue("ikey")+"/"+url.PathEscape(g), http.StatusSeeOther)
		return nil
	}
	s, err := c.findScope(r)
	if err != nil {
		return err
	}
	return c.renderPolicy(w, p, s, http.StatusOK)
}

func (c *Console) renderPolicy(w http.ResponseWriter, p *page, s policyScope, status int) error {
	p.Title, p.Page, p.Nav, p.Pol = "Edit "+strings.ToLower(s.Title[:1])+s.Title[1:], "policy", "policies", &policiesView{Edit: &s}
	if s.ID != "global" {
		p.Title = "Edit the policy: " + s.Title
	}
	return c.render(w, status, "policy", p)
}

// savePolicy sets the settings whose "set here" box is checked and unsets
// the others this policy set, after the re-authentication.
func (c *Console) savePolicy(w http.ResponseWriter, r *http.Request, p *page) error {
	s, err := c.findScope(r)
	if err != nil {
		return err
	}
	var assign, unset []string
	for i, row := range s.Rows {
		v := strings.TrimSpace(r.PostFormValue(row.Name))
		on := r.PostFormValue("set_"+row.Name) == "on"
		s.Rows[i].IsSet, s.Rows[i].Here = on, v
		switch {
		case on:
			assign = append(assign, row.Name+"="+v)
		case row.IsSet:
			unset = append(unset, row.Name)
		}
	}
	again := func(msg string, status int) error {
		p.Message, p.MessageKind = msg, "error"
		return c.renderPolicy(w, p, s, status)
	}
	set, err := auth.ParsePolicyAssignments(assign)
	if msg := userMessage(err); msg != "" {
		return again(msg, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	ok, err := c.reauthenticated(r, p)
	if err != nil {
		return err
	}
	if !ok {
		return again(reauthFailed, http.StatusUnauthorized)
	}
	change := auth.PolicyChange{IKey: s.IKey, Set: set, Unset: unset}
	if s.Group != nil {
		change.GroupID = s.Group.ID
	}
	_, err = c.Core.ChangePolicy(r.Context(), change)
	if msg := userMessage(err); msg != "" {
		return again(msg, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/policies?done=saved#"+s.ID, http.StatusSeeOther)
	return nil
}

package adminapi

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// integrationJSON is Duo's integration object (v1 and v3 share the
// fields Assent has). The secret key is only in a creation's answer and
// from /skey.
type integrationJSON struct {
	AdminAPIAdmins          int      `json:"adminapi_admins"`
	AdminAPIInfo            int      `json:"adminapi_info"`
	AdminAPIIntegrations    int      `json:"adminapi_integrations"`
	AdminAPIReadLog         int      `json:"adminapi_read_log"`
	AdminAPIReadResource    int      `json:"adminapi_read_resource"`
	AdminAPISettings        int      `json:"adminapi_settings"`
	AdminAPIWriteResource   int      `json:"adminapi_write_resource"`
	Created                 int64    `json:"created"`
	EnrollPolicy            string   `json:"enroll_policy"`
	Greeting                string   `json:"greeting"`
	GroupsAllowed           []string `json:"groups_allowed"`
	IntegrationKey          string   `json:"integration_key"`
	IPWhitelist             []string `json:"ip_whitelist"`
	IPWhitelistEnrollPolicy string   `json:"ip_whitelist_enroll_policy"`
	TrustedDeviceDays       int      `json:"trusted_device_days"`
	Name                    string   `json:"name"`
	Notes                   string   `json:"notes"`
	SecretKey               string   `json:"secret_key,omitempty"`
	SelfServiceAllowed      bool     `json:"self_service_allowed"`
	Type                    string   `json:"type"`
	UsernameNormalization   string   `json:"username_normalization_policy"`
	WebSDKAllowedOrigins    []string `json:"allowed_origins,omitempty"`
	LegacySignaturesAssent  bool     `json:"assent_legacy_signatures,omitempty"`
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func integrationOf(in store.Integration) integrationJSON {
	has := func(g string) int { return flag(auth.HasGrant(in, g)) }
	return withPolicy(integrationJSON{
		AdminAPIReadLog: has(store.GrantReadLog), AdminAPIReadResource: has(store.GrantReadResource),
		AdminAPIWriteResource: has(store.GrantWriteResource), AdminAPISettings: has(store.GrantSettings),
		// Duo's finer grants follow the four Assent has.
		AdminAPIAdmins: has(store.GrantReadResource), AdminAPIInfo: has(store.GrantReadResource),
		AdminAPIIntegrations: has(store.GrantWriteResource),
		Created:              in.Created.Unix(), EnrollPolicy: string(in.NewUserPolicy), GroupsAllowed: []string{},
		IntegrationKey: in.IKey, IPWhitelist: []string{}, Name: in.Name, Type: string(in.Type),
		UsernameNormalization: cmp.Or(in.UsernameNormalization, "none"), WebSDKAllowedOrigins: in.AllowedOrigins, LegacySignaturesAssent: in.LegacySignatures,
	}, in)
}

// listIntegrations serves v1 and v3 alike: Assent's integrations have no
// fields that differ between them.
func (a *API) listIntegrations(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p, err := parsePaging(c.Params.Values, defaultListLimit, maxListLimit)
	if err != nil {
		return err
	}
	list, err := a.Core.Integrations(r.Context())
	if err != nil {
		return err
	}
	page := window(list, p)
	out := make([]integrationJSON, 0, len(page))
	for _, in := range page {
		out = append(out, integrationOf(in))
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(page), len(list)))
	return nil
}

func (a *API) integration(r *http.Request) (store.Integration, error) {
	in, _, err := a.Core.Integration(r.Context(), r.PathValue("ikey"))
	return in, err
}

func (a *API) getIntegration(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	in, err := a.integration(r)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, integrationOf(in))
	return nil
}

// grantParams reads Duo's adminapi_* flags into Assent's grants; ok is
// false when none was given.
func grantParams(c *httpapi.Call) (grants []string, ok bool, err error) {
	for _, g := range []struct{ param, grant string }{
		{"adminapi_read_log", store.GrantReadLog},
		{"adminapi_read_resource", store.GrantReadResource},
		{"adminapi_write_resource", store.GrantWriteResource},
		{"adminapi_settings", store.GrantSettings},
	} {
		if _, given := c.Params.Values[g.param]; !given {
			continue
		}
		ok = true
		on, err := c.Params.Bool(g.param)
		if err != nil {
			return nil, false, err
		}
		if on {
			grants = append(grants, g.grant)
		}
	}
	return grants, ok, nil
}

func (a *API) createIntegration(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	v := c.Params.Values
	n := auth.NewIntegration{Name: v.Get("name"), Type: store.IntegrationType(v.Get("type")),
		NewUserPolicy: store.NewUserPolicy(v.Get("enroll_policy"))}
	if n.Name == "" {
		return httpapi.InvalidParams("name")
	}
	if n.Type == "" {
		return httpapi.InvalidParams("type")
	}
	grants, _, err := grantParams(c)
	if err != nil {
		return err
	}
	n.Grants = grants
	n.UsernameNormalization = strings.ToLower(v.Get("username_normalization_policy")) // "": none
	set, policyGiven, err := policyParams(c, store.PolicySettings{})
	if err != nil {
		return err
	}
	if _, err := auth.CheckPolicySettings(set); err != nil {
		return err // before the integration exists
	}
	in, skey, err := a.Core.CreateIntegration(r.Context(), n)
	if err != nil {
		return err
	}
	if in, err = a.applyPolicy(r.Context(), in, set, policyGiven); err != nil {
		return err
	}
	out := integrationOf(in)
	out.SecretKey = skey
	httpapi.WriteOK(w, out)
	return nil
}

func (a *API) updateIntegration(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	v := c.Params.Values
	var u auth.IntegrationUpdate
	if _, ok := v["name"]; ok {
		name := v.Get("name")
		u.Name = &name
	}
	if _, ok := v["enroll_policy"]; ok {
		p := store.NewUserPolicy(v.Get("enroll_policy"))
		u.NewUserPolicy = &p
	}
	if _, ok := v["username_normalization_policy"]; ok {
		p := strings.ToLower(v.Get("username_normalization_policy"))
		u.UsernameNormalization = &p
	}
	grants, given, err := grantParams(c)
	if err != nil {
		return err
	}
	if given {
		// Flags not given keep their value.
		in, err := a.integration(r)
		if err != nil {
			return err
		}
		merged := append([]string{}, grants...)
		for _, g := range in.Grants {
			param := map[string]string{store.GrantReadLog: "adminapi_read_log", store.GrantReadResource: "adminapi_read_resource",
				store.GrantWriteResource: "adminapi_write_resource", store.GrantSettings: "adminapi_settings"}[g]
			if _, set := v[param]; !set {
				merged = append(merged, g)
			}
		}
		u.Grants = &merged
	}
	cur, err := a.integration(r)
	if err != nil {
		return err
	}
	set, policyGiven, err := policyParams(c, auth.IntegrationPolicy(cur))
	if err != nil {
		return err
	}
	in := cur
	if !policyGiven || u != (auth.IntegrationUpdate{}) {
		if in, err = a.Core.UpdateIntegration(r.Context(), r.PathValue("ikey"), u); err != nil {
			return err
		}
	}
	if in, err = a.applyPolicy(r.Context(), in, set, policyGiven); err != nil {
		return err
	}
	httpapi.WriteOK(w, integrationOf(in))
	return nil
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	if err := a.Core.DeleteIntegration(r.Context(), r.PathValue("ikey")); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

func (a *API) getSecretKey(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	_, skey, err := a.Core.Integration(r.Context(), r.PathValue("ikey"))
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, map[string]string{"secret_key": skey})
	return nil
}

type rotateJSON struct {
	IntegrationKey            string `json:"integration_key"`
	PreviousSecretKeyExpires  *int64 `json:"previous_secret_key_expires"`
	SecretKey                 string `json:"secret_key"`
	PreviousSecretKeyGraceSec int64  `json:"grace_secs"`
}

// rotateSecretKey (an Assent extension: Duo has no rotation endpoint) gives
// the integration a new secret key; with grace_secs the old one keeps
// verifying that long (default 0: it stops at once).
func (a *API) rotateSecretKey(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	var grace time.Duration
	if s := c.Params.Get("grace_secs"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 30*24*3600 {
			return httpapi.InvalidParams("grace_secs: 0 to 2592000")
		}
		grace = time.Duration(n) * time.Second
	}
	in, skey, err := a.Core.RotateSecret(r.Context(), r.PathValue("ikey"), grace)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, rotateJSON{IntegrationKey: in.IKey, SecretKey: skey, PreviousSecretKeyExpires: timePtr(in.PrevSecretExpires),
		PreviousSecretKeyGraceSec: int64(grace / time.Second)})
	return nil
}

func (a *API) infoSummary(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	s, err := a.Core.Summary(r.Context())
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, map[string]int{"admin_count": s.Admins, "integration_count": s.Integrations,
		"telephony_credits_remaining": 0, "user_count": s.Users})
	return nil
}

// settingsJSON is Duo's settings object: lockout_threshold is Assent's;
// the other keys are there with Duo's empty values for clients that read
// them.
func (a *API) settingsJSON(r *http.Request) map[string]any {
	th := a.Core.LockoutThreshold(r.Context())
	if th < 0 {
		th = 0 // lockout off
	}
	m := map[string]any{
		"lockout_threshold":        th,
		"lockout_expire_duration":  nil,
		"name":                     "Assent",
		"telephony_warning_min":    0,
		"fraud_email":              "",
		"fraud_email_enabled":      false,
		"caller_id":                "",
		"inactive_user_expiration": 0,
	}
	a.smsSettings(m)
	return m
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	httpapi.WriteOK(w, a.settingsJSON(r))
	return nil
}

// updateSettings sets lockout_threshold (1–9999) for every node; other
// Duo settings have no meaning in Assent and are refused, naming them.
func (a *API) updateSettings(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	v := c.Params.Values
	var unknown []string
	for k := range v {
		if k != "lockout_threshold" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return httpapi.InvalidParams(strings.Join(unknown, ", ") + ": not a setting Assent has (only lockout_threshold)")
	}
	if s := v.Get("lockout_threshold"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return httpapi.InvalidParams("lockout_threshold: must be 1 to 9999")
		}
		if err := a.Core.SetLockoutThreshold(r.Context(), n); err != nil {
			return err
		}
	}
	httpapi.WriteOK(w, a.settingsJSON(r))
	return nil
}

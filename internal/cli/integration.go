package cli

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

func newIntegrationCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "integration",
		Aliases: []string{"integrations"},
		Short:   "Create, list, update and delete integrations (ikey/skey pairs)",
	}
	cmd.AddCommand(newIntegrationCreateCmd(e), newIntegrationListCmd(e), newIntegrationUpdateCmd(e), newIntegrationDeleteCmd(e),
		newIntegrationRotateCmd(e))
	return cmd
}

// integrationJSON is the shape `integration create|list|update --json`
// prints; only create fills in SecretKey.
type integrationJSON struct {
	IntegrationKey string   `json:"integration_key"`
	SecretKey      string   `json:"secret_key,omitempty"`
	APIHostname    string   `json:"api_hostname"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	NewUserPolicy  string   `json:"new_user_policy"`
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// LegacySignatures: the integration may sign with version 1 (undated,
	// replayable) on every route.
	LegacySignatures bool `json:"legacy_signatures"`
	// Grants are an adminapi integration's Admin API grants.
	Grants []string `json:"grants,omitempty"`
	// VerifiedPush is the length of the code its pushes carry; 0: off.
	VerifiedPush int   `json:"verified_push"`
	Created      int64 `json:"created"`
	// UsernameNormalization is Duo's username_normalization_policy.
	UsernameNormalization string `json:"username_normalization_policy"`
}

// toIntegrationJSON is an integration as the CLI prints it, without its
// secret key.
func toIntegrationJSON(in store.Integration, apiHostname string) integrationJSON {
	return integrationJSON{IntegrationKey: in.IKey, APIHostname: apiHostname, Name: in.Name,
		Type: string(in.Type), NewUserPolicy: string(in.NewUserPolicy), Created: in.Created.Unix(),
		AllowedOrigins: in.AllowedOrigins, LegacySignatures: in.LegacySignatures, Grants: in.Grants,
		VerifiedPush: in.VerifiedPush, UsernameNormalization: cmp.Or(in.UsernameNormalization, "none")}
}

// usernameNormFlagHelp explains --username-normalization.
const usernameNormFlagHelp = "Duo's username normalization policy: none (usernames are looked up as typed) or simple " +
	`(DOMAIN\alice and alice@example.com are looked up as alice)`

// verifiedPushFlagHelp explains --verified-push where it is defined.
const verifiedPushFlagHelp = "Verified Push (number matching): on (a 3-digit code, as Duo), 6 (a 6-digit code) or off; " +
	"the login screen shows the code and the authenticator must send it back to approve"

// parseVerifiedPush reads --verified-push: on, off, 3 or 6.
func parseVerifiedPush(v string) (int, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "3", "yes", "true":
		return auth.VerifiedPushDigits, nil
	case "6":
		return auth.VerifiedPushDigits6, nil
	case "off", "0", "no", "false":
		return auth.VerifiedPushOff, nil
	}
	return 0, fmt.Errorf("--verified-push: %q is not on, off or 6", v)
}

// onOff renders a Verified Push setting in tables.
func onOff(digits int) string {
	if digits == 0 {
		return "off"
	}
	return fmt.Sprintf("on (%d digits)", digits)
}

// legacyFlagHelp explains --legacy-signatures where it is defined.
const legacyFlagHelp = "accept signature version 1 from this integration on every Auth API route: it signs no date, " +
	"so a captured request can be replayed at any time; only for old clients that cannot sign otherwise " +
	"(the legacy /rest/v1 routes accept it without this flag)"

// yesNo renders a flag in tables.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newIntegrationCreateCmd(e *env) *cobra.Command {
	var name, typ, policy, verified, usernameNorm string
	var origins, grants []string
	var asJSON, legacy bool
	cmd := &cobra.Command{
		Use:   "create --type authapi|adminapi|websdk|universal --name NAME [--grant G]...",
		Short: "Create an integration and print its keys (the secret key is shown only here)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			digits, err := parseVerifiedPush(verified)
			if err != nil {
				return err
			}
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			in, skey, err := a.Core.CreateIntegration(cmd.Context(), auth.NewIntegration{
				Name: name, Type: store.IntegrationType(typ), NewUserPolicy: store.NewUserPolicy(policy),
				AllowedOrigins: origins, LegacySignatures: legacy, Grants: grants, VerifiedPush: digits,
				UsernameNormalization: usernameNorm,
			})
			if err != nil {
				return err
			}
			if in, err = applyIntegrationPolicy(cmd, a, in); err != nil {
				return fmt.Errorf("integration %s created, but its policy was not set: %w", in.IKey, err)
			}
			out := toIntegrationJSON(in, a.APIHostname())
			out.SecretKey = skey
			if asJSON {
				return printJSON(e.stdout, out)
			}
			fmt.Fprintf(e.stdout, "Integration created. Keep the secret key safe: it is not shown again.\n\n"+
				"  integration key  %s\n  secret key       %s\n  API hostname     %s\n  name             %s\n  type             %s\n  new-user policy  %s\n",
				out.IntegrationKey, out.SecretKey, out.APIHostname, out.Name, out.Type, out.NewUserPolicy)
			if len(out.AllowedOrigins) > 0 {
				fmt.Fprintf(e.stdout, "  allowed origins  %s\n", strings.Join(out.AllowedOrigins, " "))
			}
			if out.LegacySignatures {
				fmt.Fprintf(e.stdout, "  legacy signatures  yes: undated version-1 signatures are accepted and can be replayed\n")
			}
			if in.Type == store.TypeAdminAPI {
				fmt.Fprintf(e.stdout, "  grants           %s\n", grantList(in.Grants))
			}
			if out.VerifiedPush > 0 {
				fmt.Fprintf(e.stdout, "  verified push    %s\n", onOff(out.VerifiedPush))
			}
			fmt.Fprintf(e.stdout, "  usernames        %s normalization\n", out.UsernameNormalization)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a name for the integration (required)")
	f.StringVar(&typ, "type", "", "authapi, adminapi, websdk or universal (required)")
	f.StringVar(&policy, "new-user-policy", "enroll", "what unenrolled users get: enroll, allow or deny")
	f.StringArrayVar(&origins, "allowed-origin", nil,
		"a web origin (https://app.example.com) allowed to frame the Web SDK prompt; repeatable (default: the page in each request)")
	f.BoolVar(&legacy, "legacy-signatures", false, legacyFlagHelp)
	f.StringArrayVar(&grants, "grant", nil, grantFlagHelp)
	f.StringVar(&verified, "verified-push", "off", verifiedPushFlagHelp)
	f.StringVar(&usernameNorm, "username-normalization", "none", usernameNormFlagHelp)
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("type")
	integrationPolicyFlags(cmd)
	return cmd
}

func newIntegrationListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List integrations (without secret keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			list, err := a.Core.Integrations(cmd.Context())
			if err != nil {
				return err
			}
			host := a.APIHostname()
			out := make([]integrationJSON, 0, len(list))
			rows := make([][]string, 0, len(list))
			for _, in := range list {
				out = append(out, toIntegrationJSON(in, host))
				rows = append(rows, []string{in.IKey, string(in.Type), string(in.NewUserPolicy), yesNo(in.LegacySignatures),
					grantList(in.Grants), onOff(in.VerifiedPush), in.Created.UTC().Format(time.DateTime), in.Name})
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			return table(e.stdout, []string{"INTEGRATION KEY", "TYPE", "NEW-USER POLICY", "LEGACY SIGNATURES", "GRANTS", "VERIFIED PUSH", "CREATED (UTC)", "NAME"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newIntegrationUpdateCmd(e *env) *cobra.Command {
	var name, policy, verified, usernameNorm string
	var origins, grants []string
	var clearOrigins, asJSON, legacy bool
	cmd := &cobra.Command{
		Use: "update INTEGRATION_KEY [--name NAME] [--new-user-policy enroll|allow|deny] [--allowed-origin URL]... " +
			"[--clear-allowed-origins] [--legacy-signatures[=false]] [--verified-push on|off|6] [--username-normalization none|simple]",
		Short: "Change an integration's name, new-user policy, allowed origins or legacy signatures (its keys stay the same)",
		Long: "Change an integration's name, new-user policy, allowed origins or legacy signatures. Only the flags\n" +
			"given change. --allowed-origin replaces the whole list of allowed origins; --clear-allowed-origins\n" +
			"empties it, so that only the parent page named in each request may frame the prompt.\n" +
			"--legacy-signatures accepts undated, replayable version-1 signatures from this integration on every\n" +
			"Auth API route; --legacy-signatures=false refuses them again. The type and keys never change, and\n" +
			"the secret key is not printed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u auth.IntegrationUpdate
			f := cmd.Flags()
			if f.Changed("name") {
				u.Name = &name
			}
			if f.Changed("new-user-policy") {
				p := store.NewUserPolicy(policy)
				u.NewUserPolicy = &p
			}
			switch {
			case f.Changed("allowed-origin"):
				u.AllowedOrigins = &origins
			case clearOrigins:
				u.AllowedOrigins = &[]string{}
			}
			if f.Changed("legacy-signatures") {
				u.LegacySignatures = &legacy
			}
			switch {
			case f.Changed("grant"):
				u.Grants = &grants
			case f.Changed("clear-grants"):
				u.Grants = &[]string{}
			}
			if f.Changed("verified-push") {
				digits, err := parseVerifiedPush(verified)
				if err != nil {
					return err
				}
				u.VerifiedPush = &digits
			}
			if f.Changed("username-normalization") {
				u.UsernameNormalization = &usernameNorm
			}
			if u == (auth.IntegrationUpdate{}) && !anyIntegrationPolicyFlag(cmd) {
				return fmt.Errorf("nothing to update: give --name, --new-user-policy, --allowed-origin, --clear-allowed-origins, --legacy-signatures, --grant, --clear-grants, --verified-push, --username-normalization or a policy flag")
			}
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			in, _, err := a.Core.Integration(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if u != (auth.IntegrationUpdate{}) {
				if in, err = a.Core.UpdateIntegration(cmd.Context(), args[0], u); err != nil {
					return err
				}
			}
			if in, err = applyIntegrationPolicy(cmd, a, in); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, toIntegrationJSON(in, a.APIHostname()))
			}
			allowed := strings.Join(in.AllowedOrigins, " ")
			if allowed == "" {
				allowed = "-"
			}
			return table(e.stdout, []string{"INTEGRATION KEY", "TYPE", "NEW-USER POLICY", "ALLOWED ORIGINS", "LEGACY SIGNATURES", "GRANTS", "VERIFIED PUSH", "NAME"},
				[][]string{{in.IKey, string(in.Type), string(in.NewUserPolicy), allowed, yesNo(in.LegacySignatures), grantList(in.Grants), onOff(in.VerifiedPush), in.Name}})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a new name for the integration")
	f.StringVar(&policy, "new-user-policy", "", "what unenrolled users get: enroll, allow or deny")
	f.StringArrayVar(&origins, "allowed-origin", nil,
		"a web origin (https://app.example.com) allowed to frame the Web SDK prompt; repeatable; replaces the current list")
	f.BoolVar(&clearOrigins, "clear-allowed-origins", false,
		"remove all allowed origins (only the page in each request may frame the prompt)")
	f.BoolVar(&legacy, "legacy-signatures", false, legacyFlagHelp+"; =false refuses them again")
	f.StringArrayVar(&grants, "grant", nil, grantFlagHelp+"; replaces the current grants")
	f.Bool("clear-grants", false, "remove every Admin API grant")
	f.StringVar(&verified, "verified-push", "", verifiedPushFlagHelp)
	f.StringVar(&usernameNorm, "username-normalization", "", usernameNormFlagHelp)
	f.BoolVar(&asJSON, "json", false, "print JSON (without the secret key)")
	integrationPolicyFlags(cmd)
	cmd.MarkFlagsMutuallyExclusive("allowed-origin", "clear-allowed-origins")
	cmd.MarkFlagsMutuallyExclusive("grant", "clear-grants")
	return cmd
}

func newIntegrationDeleteCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete INTEGRATION_KEY",
		Short: "Delete an integration; its keys stop working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Core.DeleteIntegration(cmd.Context(), args[0]); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, map[string]any{"integration_key": args[0], "deleted": true})
			}
			fmt.Fprintf(e.stdout, "Deleted integration %s.\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// grantFlagHelp explains --grant where it is defined.
const grantFlagHelp = "an Admin API grant of an adminapi integration: read-log, read-resource, write-resource, settings, " +
	"or all; repeatable (default: none)"

// grantList renders grants in tables.
func grantList(g []string) string {
	if len(g) == 0 {
		return "-"
	}
	return strings.Join(g, ",")
}

func newIntegrationRotateCmd(e *env) *cobra.Command {
	var grace time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate-secret INTEGRATION_KEY [--grace 24h]",
		Short: "Give an integration a new secret key; the old one keeps working for --grace",
		Long: "Give an integration a new secret key and print it (it is not shown again). During --grace the old\n" +
			"secret key still verifies, so clients can be moved over; after it only the new one does. With\n" +
			"--grace 0 (the default) the old key stops at once. The administrator log records the rotation.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			in, skey, err := a.Core.RotateSecret(cmd.Context(), args[0], grace)
			if err != nil {
				return err
			}
			out := struct {
				integrationJSON
				PreviousSecretKeyExpires *int64 `json:"previous_secret_key_expires"`
			}{integrationJSON: toIntegrationJSON(in, a.APIHostname())}
			out.SecretKey = skey
			if !in.PrevSecretExpires.IsZero() {
				t := in.PrevSecretExpires.Unix()
				out.PreviousSecretKeyExpires = &t
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			fmt.Fprintf(e.stdout, "Secret key rotated. Keep the new secret key safe: it is not shown again.\n\n"+
				"  integration key  %s\n  secret key       %s\n", in.IKey, skey)
			if out.PreviousSecretKeyExpires != nil {
				fmt.Fprintf(e.stdout, "  old secret key   works until %s\n", in.PrevSecretExpires.UTC().Format(time.DateTime+" UTC"))
			} else {
				fmt.Fprintf(e.stdout, "  old secret key   no longer works\n")
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the old secret key keeps working (e.g. 24h; at most 720h)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with the new secret key)")
	return cmd
}

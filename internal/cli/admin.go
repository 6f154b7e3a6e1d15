package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Console administrators (`assent admin …`). The first owner is created
// here; the setup link it prints is where the password and the
// second factor (authenticator app or security key) are set.

func newAdminCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage administrators of the web console (/admin/)",
	}
	cmd.AddCommand(newAdminCreateCmd(e), newAdminListCmd(e), newAdminResetCmd(e), newAdminDeleteCmd(e))
	return cmd
}

// adminJSON is how the CLI prints an administrator.
type adminJSON struct {
	AdminID   string `json:"admin_id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Pending   bool   `json:"pending"`
	Created   int64  `json:"created"`
	LastLogin *int64 `json:"last_login"`
	SetupURL  string `json:"setup_url,omitempty"`
	Expires   int64  `json:"setup_url_expires,omitempty"`
}

func toAdminJSON(a store.Admin) adminJSON {
	j := adminJSON{AdminID: a.ID, Email: a.Email, Name: a.Name, Role: string(a.Role), Pending: a.Pending(), Created: a.Created.Unix()}
	if !a.LastLogin.IsZero() {
		t := a.LastLogin.Unix()
		j.LastLogin = &t
	}
	return j
}

func printSetup(e *env, a *app.App, ad store.Admin, link auth.AdminSetupLink, asJSON bool, verb string) error {
	url := a.AdminSetupURL(link.Token)
	if asJSON {
		j := toAdminJSON(ad)
		j.SetupURL, j.Expires = url, link.Expires.Unix()
		return printJSON(e.stdout, j)
	}
	fmt.Fprintf(e.stdout, "%s administrator %s (%s), role %s.\n", verb, ad.Email, ad.ID, ad.Role)
	fmt.Fprintf(e.stdout, "Setup link (one use, expires %s):\n%s\n", link.Expires.Local().Format(time.RFC1123), url)
	return nil
}

func newAdminCreateCmd(e *env) *cobra.Command {
	var (
		role, name string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create an administrator and print its one-time setup link",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseAdminRole(role)
			if err != nil {
				return err
			}
			return runApp(cmd, e, func(a *app.App) error {
				ad, link, err := a.Core.CreateAdmin(cmd.Context(), args[0], name, r)
				if err != nil {
					return err
				}
				return printSetup(e, a, ad, link, asJSON, "Created")
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "owner, administrator, help_desk or read_only (required)")
	f.StringVar(&name, "name", "", "the administrator's name")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newAdminResetCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reset ADMIN",
		Short: "Clear an administrator's password and second factors (app, security keys), end its sessions and print a new setup link (ADMIN: e-mail or ID)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				ad, link, err := a.Core.ResetAdmin(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printSetup(e, a, ad, link, asJSON, "Reset")
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAdminListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List administrators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				list, err := a.Core.Admins(cmd.Context())
				if err != nil {
					return err
				}
				out := make([]adminJSON, 0, len(list))
				rows := make([][]string, 0, len(list))
				for _, ad := range list {
					out = append(out, toAdminJSON(ad))
					state, last := "active", "never"
					if ad.Pending() {
						state = "setup pending"
					}
					if !ad.LastLogin.IsZero() {
						last = ad.LastLogin.Local().Format(time.DateTime)
					}
					rows = append(rows, []string{ad.Email, ad.ID, string(ad.Role), state, last})
				}
				if asJSON {
					return printJSON(e.stdout, out)
				}
				return table(e.stdout, []string{"EMAIL", "ADMIN ID", "ROLE", "STATE", "LAST LOGIN"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAdminDeleteCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete ADMIN",
		Short: "Delete an administrator and end its sessions (ADMIN: e-mail or ID; never the last owner)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.DeleteAdmin(cmd.Context(), args[0]); err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, map[string]any{"admin": args[0], "deleted": true})
				}
				fmt.Fprintf(e.stdout, "Deleted administrator %s.\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

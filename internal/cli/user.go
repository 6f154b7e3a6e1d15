package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authapi"
	"github.com/assent-auth/assent/internal/authenticatorapp"
	"github.com/assent-auth/assent/internal/store"
)

func newUserCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Manage users: create, list, status, bypass codes, devices, authenticator apps",
	}
	cmd.AddCommand(newUserCreateCmd(e), newUserListCmd(e), newUserSetStatusCmd(e), newUserRenameCmd(e),
		newUserBypassCodesCmd(e), newUserDeleteCmd(e), newUserEnrollCmd(e), newUserDevicesCmd(e),
		newUserRemoveDeviceCmd(e), newUserTOTPCmd(e))
	cmd.AddCommand(newUserKeysCmd(e))  // security keys and passkeys (webauthn.go)
	cmd.AddCommand(newUserAliasCmd(e)) // username aliases (useralias.go)
	return cmd
}

// userJSON mirrors the Admin API's user object fields that exist so far.
type userJSON struct {
	UserID         string `json:"user_id"`
	Username       string `json:"username"`
	Status         string `json:"status"`
	LockoutReason  string `json:"lockout_reason,omitempty"`
	FailedAttempts int    `json:"failed_attempts"`
	Created        int64  `json:"created"`
	LastLogin      *int64 `json:"last_login"`
}

func toUserJSON(u store.User) userJSON {
	j := userJSON{UserID: u.ID, Username: u.Username, Status: string(u.Status), LockoutReason: u.LockoutReason,
		FailedAttempts: u.FailedAttempts, Created: u.Created.Unix()}
	if !u.LastLogin.IsZero() {
		t := u.LastLogin.Unix()
		j.LastLogin = &t
	}
	return j
}

func printUser(e *env, u store.User, asJSON bool, verb string) error {
	if asJSON {
		return printJSON(e.stdout, toUserJSON(u))
	}
	fmt.Fprintf(e.stdout, "%s user %s (%s), status %s.\n", verb, u.Username, u.ID, u.Status)
	return nil
}

// userChangeCmd is a command that creates or changes one user through the
// core and prints it, saying verb ("Created", "Updated" …).
func userChangeCmd(e *env, use, short string, nargs int, verb string,
	change func(ctx context.Context, core *auth.Service, args []string) (store.User, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			u, err := change(cmd.Context(), a.Core, args)
			if err != nil {
				return err
			}
			return printUser(e, u, asJSON, verb)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newUserCreateCmd(e *env) *cobra.Command {
	return userChangeCmd(e, "create USERNAME", "Create an active user", 1, "Created",
		func(ctx context.Context, core *auth.Service, args []string) (store.User, error) {
			return core.CreateUser(ctx, args[0])
		})
}

func newUserSetStatusCmd(e *env) *cobra.Command {
	return userChangeCmd(e, "set-status USERNAME active|bypass|disabled",
		"Set a user's status; active also unlocks a locked-out user", 2, "Updated",
		func(ctx context.Context, core *auth.Service, args []string) (store.User, error) {
			return core.SetUserStatus(ctx, args[0], store.UserStatus(args[1]))
		})
}

func newUserRenameCmd(e *env) *cobra.Command {
	return userChangeCmd(e, "rename USERNAME|USER_ID NEW_USERNAME",
		"Change a user's username (devices, codes and history stay with the user)", 2, "Renamed",
		func(ctx context.Context, core *auth.Service, args []string) (store.User, error) {
			return core.RenameUser(ctx, args[0], args[1])
		})
}

func newUserListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			list, err := a.Core.Users(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]userJSON, 0, len(list))
				for _, u := range list {
					out = append(out, toUserJSON(u))
				}
				return printJSON(e.stdout, out)
			}
			rows := make([][]string, 0, len(list))
			for _, u := range list {
				last := "never"
				if !u.LastLogin.IsZero() {
					last = u.LastLogin.UTC().Format(time.DateTime)
				}
				status := string(u.Status)
				if u.LockoutReason != "" {
					status += " (" + u.LockoutReason + ")"
				}
				rows = append(rows, []string{u.Username, u.ID, status, last})
			}
			return table(e.stdout, []string{"USERNAME", "USER ID", "STATUS", "LAST LOGIN (UTC)"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newUserDeleteCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete USERNAME",
		Short: "Delete a user with its bypass codes, devices and apps (hardware tokens become unassigned)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Core.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, map[string]any{"username": args[0], "deleted": true})
			}
			fmt.Fprintf(e.stdout, "Deleted user %s.\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// bypassJSON is what `user bypass-codes --json` prints.
type bypassJSON struct {
	UserID     string   `json:"user_id"`
	Username   string   `json:"username"`
	Codes      []string `json:"codes"`
	ReuseCount int      `json:"reuse_count"`
	Expiration *int64   `json:"expiration"`
}

func newUserBypassCodesCmd(e *env) *cobra.Command {
	var (
		count, uses, validSecs int
		preserve, asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "bypass-codes USERNAME",
		Short: "Issue bypass codes (replacing the user's earlier ones unless --preserve-existing)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			out, err := a.Core.IssueBypassCodes(cmd.Context(), args[0], auth.NewBypassCodes{
				Count: count, Uses: uses, Valid: time.Duration(validSecs) * time.Second, PreserveExisting: preserve,
			})
			if err != nil {
				return err
			}
			j := bypassJSON{UserID: out.UserID, Username: out.Username, Codes: out.Codes, ReuseCount: out.Uses}
			if !out.Expires.IsZero() {
				t := out.Expires.Unix()
				j.Expiration = &t
			}
			if asJSON {
				return printJSON(e.stdout, j)
			}
			uses := "unlimited uses"
			if out.Uses > 0 {
				uses = strconv.Itoa(out.Uses) + " use(s) each"
			}
			expires := "never expire"
			if !out.Expires.IsZero() {
				expires = "expire " + out.Expires.UTC().Format(time.DateTime) + " UTC"
			}
			fmt.Fprintf(e.stdout, "Bypass codes for %s (%s, %s). They are not shown again:\n  %s\n",
				out.Username, uses, expires, strings.Join(out.Codes, "\n  "))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&count, "count", 10, "how many codes (1-10)")
	f.IntVar(&uses, "uses", 1, "uses per code; 0 means unlimited")
	f.IntVar(&validSecs, "valid-secs", 0, "seconds until the codes expire; 0 means never")
	f.BoolVar(&preserve, "preserve-existing", false, "keep the user's earlier codes")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// enrollJSON is what `user enroll --json` prints: the fields of Duo's
// /auth/v2/enroll answer.
type enrollJSON struct {
	UserID            string `json:"user_id"`
	Username          string `json:"username"`
	ActivationCode    string `json:"activation_code"`
	ActivationBarcode string `json:"activation_barcode"`
	Expiration        int64  `json:"expiration"`
	// AppLink opens the Assent Authenticator (the QR code of
	// activation_barcode holds it); activation_code is the duo:// code for
	// Duo-compatible clients.
	AppLink string `json:"app_link"`
}

func newUserEnrollCmd(e *env) *cobra.Command {
	var (
		validSecs int
		asJSON    bool
		email     string
	)
	cmd := &cobra.Command{
		Use:   "enroll USERNAME",
		Short: "Issue an activation code for a new device, or e-mail an enrollment link (creating the user if needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if email != "" {
				return sendEnrollmentEmail(cmd, e, a, args[0], email, asJSON)
			}
			en, err := a.Core.Enroll(cmd.Context(), auth.EnrollRequest{Username: args[0], Valid: time.Duration(validSecs) * time.Second})
			if err != nil {
				return err
			}
			link := authenticatorapp.Link(a.APIHostname(), en.ActivationCode)
			j := enrollJSON{UserID: en.UserID, Username: en.Username, ActivationCode: en.ActivationCode,
				ActivationBarcode: authapi.QRURL(a.APIHostname(), link), Expiration: en.Expires.Unix(), AppLink: link}
			if asJSON {
				return printJSON(e.stdout, j)
			}
			fmt.Fprintf(e.stdout, "Activation for %s (valid until %s UTC, usable once):\n"+
				"  Assent Authenticator link: %s\n  QR code of that link: %s\n  Activation code (Duo-compatible clients): %s\n"+
				"Try it without a phone: assent device activate '%s' --ca <data-dir>/tls/ca.pem\n",
				en.Username, en.Expires.UTC().Format(time.DateTime), link, j.ActivationBarcode, en.ActivationCode, en.ActivationCode)
			return nil
		},
	}
	cmd.Flags().IntVar(&validSecs, "valid-secs", 86400, "seconds the code stays valid (at most 30 days)")
	cmd.Flags().StringVar(&email, "email", "", "e-mail an enrollment-portal link to this address instead (needs smtp_server; the link lives enroll_link_ttl)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// deviceJSON describes an activated device (never its keys or secrets).
type deviceJSON struct {
	DeviceID string `json:"device_id"`
	Name     string `json:"name"`
	Platform string `json:"platform"`
	Created  int64  `json:"created"`
	LastSeen *int64 `json:"last_seen"`
}

func newUserDevicesCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "devices USERNAME",
		Short: "List a user's activated devices",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			list, err := a.Core.Devices(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := make([]deviceJSON, 0, len(list))
			rows := make([][]string, 0, len(list))
			for _, d := range list {
				j := deviceJSON{DeviceID: d.ID, Name: d.Name, Platform: d.Platform, Created: d.Created.Unix()}
				last := "never"
				if !d.LastSeen.IsZero() {
					t := d.LastSeen.Unix()
					j.LastSeen = &t
					last = d.LastSeen.UTC().Format(time.DateTime)
				}
				out = append(out, j)
				rows = append(rows, []string{d.ID, d.Name, d.Platform, d.Created.UTC().Format(time.DateTime), last})
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			return table(e.stdout, []string{"DEVICE ID", "NAME", "PLATFORM", "ACTIVATED (UTC)", "LAST SEEN (UTC)"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newUserRemoveDeviceCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove-device DEVICE_ID",
		Short: "Remove an activated device (a lost phone); its pending pushes go with it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Core.RemoveDevice(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Removed device %s.\n", args[0])
			return nil
		},
	}
	return cmd
}

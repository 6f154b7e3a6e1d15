package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Security keys and passkeys of a user (registered in the prompt or the
// enrollment portal; see docs/second-factors.md).

func newUserKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"key", "webauthn"},
		Short:   "List or remove a user's security keys and passkeys",
	}
	cmd.AddCommand(newUserKeysListCmd(e), newUserKeysRemoveCmd(e))
	return cmd
}

type keyJSON struct {
	ID             string   `json:"key_id"`
	Name           string   `json:"name"`
	AAGUID         string   `json:"aaguid"`
	Attestation    string   `json:"attestation_type"`
	Transports     []string `json:"transports"`
	SignCount      uint32   `json:"sign_count"`
	BackupEligible bool     `json:"backup_eligible"`
	BackupState    bool     `json:"backup_state"`
	Created        int64    `json:"created"`
	LastUsed       *int64   `json:"last_used"`
}

func newUserKeysListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list USERNAME|USER_ID",
		Short: "List a user's security keys and passkeys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			u, err := a.Core.User(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			keys, err := a.Core.WebAuthnCredentials(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			out := make([]keyJSON, 0, len(keys))
			for _, k := range keys {
				j := keyJSON{ID: k.ID, Name: k.Name, AAGUID: fmt.Sprintf("%x", k.AAGUID), Attestation: k.AttestationType,
					Transports: k.Transports, SignCount: k.SignCount, BackupEligible: k.BackupEligible,
					BackupState: k.BackupState, Created: k.Created.Unix()}
				if !k.LastUsed.IsZero() {
					t := k.LastUsed.Unix()
					j.LastUsed = &t
				}
				out = append(out, j)
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintf(e.stdout, "%s has no security keys or passkeys.\n", u.Username)
				return nil
			}
			for _, k := range keys {
				last := "never used"
				if !k.LastUsed.IsZero() {
					last = "last used " + k.LastUsed.UTC().Format("2006-01-02 15:04")
				}
				synced := ""
				if k.BackupState {
					synced = ", synced passkey"
				}
				fmt.Fprintf(e.stdout, "%s  %q  added %s, %s%s\n", k.ID, k.Name, k.Created.UTC().Format("2006-01-02"), last, synced)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newUserKeysRemoveCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove USERNAME|USER_ID KEY_ID",
		Short: "Remove a security key or passkey (a lost key)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Core.RemoveWebAuthnCredential(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Removed security key %s.\n", args[1])
			return nil
		},
	}
}

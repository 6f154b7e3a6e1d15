package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
)

// newTelephonyCmd: phones with numbers, SMS test messages and the
// telephony log (docs/telephony.md).
func newTelephonyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "telephony",
		Short: "SMS and phone calls: give users phone numbers, send a test message, place a test call, read the telephony log",
	}
	cmd.AddCommand(newTelephonyTestSMSCmd(e), newTelephonyTestCallCmd(e), newTelephonyAddPhoneCmd(e), newTelephonyLogCmd(e), newTelephonyCredentialCmd(e))
	return cmd
}

// newTelephonyCredentialCmd keeps a provider's password or token in the
// database, sealed with the master key, instead of a plaintext file.
func newTelephonyCredentialCmd(e *env) *cobra.Command {
	names := strings.Join(auth.CredentialNames(), "|")
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Store a provider's password sealed in the database (instead of sms_password_file / sip_password_file)",
		Long: `Store the password or token of the SMS provider (sms) or the SIP trunk (sip) in
the database, sealed with the master key: neither the configuration nor a backup
then holds it in the clear. A password file, when configured, wins. The server
reads the credential when it starts.

The secret is read from a file or from standard input (-), never from the
command line:

    printf '%s\n' 'the-token' | assent telephony credential set sms --file -`,
	}
	var file string
	set := &cobra.Command{
		Use:   "set " + names,
		Short: "Store (or replace) the provider's password, read from --file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("--file is required (a file, or - for standard input): a password is never taken on the command line")
			}
			pw, err := readPasswordFile(file, e.stdin)
			if err != nil {
				return err
			}
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.SetCredential(cmd.Context(), args[0], *pw); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Stored the %s credential, sealed. Restart the server to use it.\n", args[0])
				return nil
			})
		},
	}
	set.Flags().StringVar(&file, "file", "", "file holding the password (first line), - for standard input")
	clear := &cobra.Command{
		Use:   "clear " + names,
		Short: "Remove the provider's stored password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.ClearCredential(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed the stored %s credential.\n", args[0])
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "Name the providers that have a stored password (never the password)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				names, err := a.Core.StoredCredentials(cmd.Context())
				if err != nil {
					return err
				}
				if len(names) == 0 {
					fmt.Fprintln(e.stdout, "No stored credentials.")
				}
				for _, n := range names {
					fmt.Fprintln(e.stdout, n)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(set, clear, list)
	return cmd
}

func newTelephonyTestSMSCmd(e *env) *cobra.Command {
	var text string
	cmd := &cobra.Command{
		Use:   "test-sms NUMBER",
		Short: "Send a test message through the configured SMS provider (sms_provider)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.TestSMS(cmd.Context(), args[0], text); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Sent a test message to %s through %s.\n", auth.MaskNumber(args[0]), a.Config.SMSProvider)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&text, "text", "Assent test message", "the message")
	return cmd
}

func newTelephonyTestCallCmd(e *env) *cobra.Command {
	var ext string
	cmd := &cobra.Command{
		Use:   "test-call NUMBER",
		Short: "Call a number through the configured SIP trunk (sip_*): press 1 to approve, another key to deny",
		Long: "Call a number through the configured SIP trunk or PBX and report how the call ended (approved, denied, " +
			"hung_up, timeout, no_answer, busy, failed). It runs next to the server: from a free port of sip_listen's " +
			"address, without registering. With --extension, the digits are dialled once the call is answered, " +
			"with the default delays (2 s before, 1 s after). The call is written to the telephony log.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.StartTestTelephony(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Calling %s...\n", auth.MaskNumber(args[0]))
				outcome, err := a.Core.TestCall(cmd.Context(), args[0], ext)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Called %s through sip: %s.\n", auth.MaskNumber(args[0]), outcome)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&ext, "extension", "", "digits dialled once answered (0-9, *, #)")
	return cmd
}

func newTelephonyAddPhoneCmd(e *env) *cobra.Command {
	var (
		ext, name, predelay, postdelay string
		landline                       bool
	)
	cmd := &cobra.Command{
		Use:   "add-phone USER NUMBER",
		Short: "Give a user a phone number for SMS passcodes and phone calls (E.164, e.g. +15555550100)",
		Long: "Give a user a phone number without an app. A mobile number receives SMS passcodes and phone calls; " +
			"a --landline only calls. A number behind a PBX takes --extension, dialled once the call is answered: " +
			"--predelay seconds after the answer (default 2), the prompt --postdelay seconds after the last digit (default 1).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				typ := "mobile"
				if landline {
					typ = "landline"
				}
				d, err := a.Core.AddUserNumber(cmd.Context(), args[0], auth.PhoneFields{Number: &args[1], Extension: &ext,
					Name: &name, Type: &typ, Predelay: &predelay, Postdelay: &postdelay})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Added %s phone %s (%s) to %s.\n", typ, d.ID, auth.MaskNumber(d.Number), args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&ext, "extension", "", "extension dialled once the call is answered (0-9, *, #)")
	cmd.Flags().StringVar(&name, "name", "", "the phone's name")
	cmd.Flags().BoolVar(&landline, "landline", false, "a landline: called, never texted")
	cmd.Flags().StringVar(&predelay, "predelay", "", "seconds between the answer and the extension's first digit (default 2)")
	cmd.Flags().StringVar(&postdelay, "postdelay", "", "seconds between the extension's last digit and the prompt (default 1)")
	return cmd
}

func newTelephonyLogCmd(e *env) *cobra.Command {
	var (
		since  time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Print the telephony log (numbers masked)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				rows, err := a.Core.TelephonyLog(cmd.Context(), a.Now().Add(-since), time.Time{}, 1000)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, rows)
				}
				for _, r := range rows {
					fmt.Fprintf(e.stdout, "%s %s %s %s %s %s credits=%d %s\n", r.Time.Format(time.RFC3339), r.Type, r.Context,
						r.Phone, r.Provider, r.Status, r.Credits, r.TxID)
				}
				return nil
			})
		},
	}
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "how far back")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/device"
)

// defaultDeviceFile keeps the device's keys in the user's configuration
// directory ($XDG_CONFIG_HOME/assent/device.json, ~/.config/… on Linux),
// not in the working directory: run from a source checkout, the keys would
// otherwise sit in a git working tree, one `git add .` from a commit.
func defaultDeviceFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "./assent-device.json"
	}
	return filepath.Join(dir, "assent", "device.json")
}

// newDeviceCmd is a command-line authenticator: it activates like Duo
// Mobile, lists and answers pushes, and generates HOTP passcodes, so the
// whole flow can be tried without a phone. It talks to the server over
// HTTPS only; it never opens the installation.
func newDeviceCmd(e *env) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "device",
		Short: "A command-line authenticator device (activate, approve pushes, passcodes)",
		Long: `A command-line authenticator that speaks Duo Mobile's device protocol,
so you can try pushes and passcodes without a phone:

  assent device activate 'duo://…' --ca assent-data/tls/ca.pem
  assent device pending
  assent device approve            # the only pending push, or give its TXID
  assent device passcode

The device (its key, HOTP secret and counter) is kept in --file, mode 0600;
by default in your configuration directory (~/.config/assent/device.json on
Linux), outside any source tree you may run it from.`,
	}
	cmd.PersistentFlags().StringVar(&file, "file", defaultDeviceFile(), "device state file (its directory is created, mode 0700)")
	cmd.AddCommand(
		newDeviceActivateCmd(e, &file),
		newDevicePendingCmd(e, &file),
		newDeviceAnswerCmd(e, &file, true),
		newDeviceAnswerCmd(e, &file, false),
		newDevicePasscodeCmd(e, &file),
		newDeviceWatchCmd(e, &file),
	)
	return cmd
}

func newDeviceActivateCmd(e *env, file *string) *cobra.Command {
	var (
		ca, name string
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "activate CODE",
		Short: "Activate this device with an activation code (duo://<code>-<host>)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(*file); err == nil && !force {
				return fmt.Errorf("%s already holds a device; use --force to replace it or --file for another", *file)
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if ca != "" {
				// Later commands may run from another directory.
				abs, err := filepath.Abs(ca)
				if err != nil {
					return err
				}
				ca = abs
			}
			c, err := device.Activate(cmd.Context(), args[0], device.ActivateOptions{Name: name, CAFile: ca})
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(*file), 0o700); err != nil {
				return fmt.Errorf("save device: %w", err)
			}
			if err := c.Save(*file); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Activated device %s with %s (%s); saved to %s\n", c.PKey, c.Host, c.CustomerName, *file)
			return nil
		},
	}
	cmd.Flags().StringVar(&ca, "ca", "", "PEM CA certificate to trust (e.g. assent-data/tls/ca.pem)")
	cmd.Flags().StringVar(&name, "name", "", `device name shown to the user (default "assent device")`)
	cmd.Flags().BoolVar(&force, "force", false, "replace a device already saved in --file")
	return cmd
}

func newDevicePendingCmd(e *env, file *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pending",
		Short: "List the pushes waiting for this device",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := device.Load(*file)
			if err != nil {
				return err
			}
			list, err := c.Pending(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(e.stdout, "No pending requests.")
				return nil
			}
			rows := make([][]string, 0, len(list))
			for _, t := range list {
				rows = append(rows, txRow(t))
			}
			return table(e.stdout, []string{"TXID", "WHAT", "USER", "INTEGRATION", "IP", "TIME", "CODE"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func txRow(t device.Transaction) []string {
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	code := "-"
	if t.StepUpCodeInfo != nil {
		code = fmt.Sprintf("%d digits", t.StepUpCodeInfo.NumDigits)
	}
	return []string{t.TxID, orDash(t.Type), orDash(t.Attr("Username")), orDash(t.Attr("Application")),
		orDash(t.Attr("IP Address")), time.Unix(t.Time, 0).Local().Format(time.DateTime), code}
}

func newDeviceAnswerCmd(e *env, file *string, approve bool) *cobra.Command {
	use, short, verb := "approve [TXID]", "Approve a push (the only pending one if TXID is omitted)", "Approved"
	if !approve {
		use, short, verb = "deny [TXID]", "Deny a push (the only pending one if TXID is omitted)", "Denied"
	}
	var (
		code  string
		fraud bool
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := device.Load(*file)
			if err != nil {
				return err
			}
			var txid string
			if len(args) == 1 {
				txid = args[0]
			} else {
				list, err := c.Pending(cmd.Context())
				if err != nil {
					return err
				}
				switch len(list) {
				case 0:
					return errors.New("no pending request")
				case 1:
					txid = list[0].TxID
				default:
					ids := make([]string, 0, len(list))
					for _, t := range list {
						ids = append(ids, t.TxID)
					}
					return fmt.Errorf("%d pending requests; name one: %s", len(list), strings.Join(ids, ", "))
				}
			}
			answer := device.AnswerDeny
			switch {
			case approve:
				answer = device.AnswerApprove
			case fraud:
				answer, verb = device.AnswerFraud, "Reported as fraud"
			}
			res, err := c.AnswerWith(cmd.Context(), txid, answer, code)
			if err != nil {
				return err
			}
			if approve && res != device.AnswerApprove {
				return fmt.Errorf("the request %s was denied: wrong or missing verification code", txid)
			}
			fmt.Fprintln(e.stdout, verb, txid)
			return nil
		},
	}
	if approve {
		cmd.Flags().StringVar(&code, "code", "", "the Verified Push code shown on the login screen")
	} else {
		cmd.Flags().BoolVar(&fraud, "fraud", false, `report the request as fraud ("This wasn't me")`)
	}
	return cmd
}

func newDevicePasscodeCmd(e *env, file *string) *cobra.Command {
	return &cobra.Command{
		Use:   "passcode",
		Short: "Print the next HOTP passcode (and advance the counter)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := device.Load(*file)
			if err != nil {
				return err
			}
			code, err := c.Passcode()
			if err != nil {
				return err
			}
			// Save before printing: a code shown but not recorded would be
			// shown again next time.
			if err := c.Save(*file); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, code)
			return nil
		},
	}
}

func newDeviceWatchCmd(e *env, file *string) *cobra.Command {
	var (
		approve, deny bool
		every         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Poll for pushes and print them (answering them with --approve or --deny) until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if approve && deny {
				return errors.New("give --approve or --deny, not both")
			}
			c, err := device.Load(*file)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var seen []string
			tick := time.NewTicker(max(every, 100*time.Millisecond))
			defer tick.Stop()
			for {
				list, err := c.Pending(ctx)
				if err != nil && ctx.Err() == nil {
					fmt.Fprintln(e.stderr, "assent:", err)
				}
				var now []string // what is pending now; bounds seen
				for _, t := range list {
					now = append(now, t.TxID)
					if slices.Contains(seen, t.TxID) {
						continue
					}
					fmt.Fprintln(e.stdout, strings.Join(txRow(t), "  "))
					if approve || deny {
						if err := c.Answer(ctx, t.TxID, approve); err != nil {
							fmt.Fprintln(e.stderr, "assent:", err)
						} else if approve {
							fmt.Fprintln(e.stdout, "Approved", t.TxID)
						} else {
							fmt.Fprintln(e.stdout, "Denied", t.TxID)
						}
					}
				}
				if err == nil {
					seen = now
				}
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().BoolVar(&approve, "approve", false, "approve every push")
	cmd.Flags().BoolVar(&deny, "deny", false, "deny every push")
	cmd.Flags().DurationVar(&every, "every", 2*time.Second, "polling interval")
	return cmd
}

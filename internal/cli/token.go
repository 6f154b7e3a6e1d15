package cli

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/tokenimport"
)

// Authenticator apps (`assent user totp …`) and hardware tokens
// (`assent token …`).

// runApp opens the installation for a command, runs fn and closes it.
func runApp(cmd *cobra.Command, e *env, fn func(a *app.App) error) error {
	a, err := openApp(cmd, e, true)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

func newUserTOTPCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "totp",
		Short: "Manage a user's authenticator apps (TOTP: Google Authenticator, Aegis, 1Password, …)",
	}
	cmd.AddCommand(newUserTOTPAddCmd(e), newUserTOTPListCmd(e), newUserTOTPRemoveCmd(e))
	return cmd
}

// totpAddJSON is what `user totp add --json` prints.
type totpAddJSON struct {
	DeviceID   string `json:"device_id"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRURL      string `json:"qr_url"`
}

// qrDataURL is a data: URL of a PNG QR code of v. The QR code is made
// here rather than by the server's /frame/qr route: an app's key URI holds
// its secret, which must not travel in a URL to a server's logs.
func qrDataURL(v string) (string, error) {
	png, err := qrcode.Encode(v, qrcode.Medium, 256)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

func newUserTOTPAddCmd(e *env) *cobra.Command {
	var (
		newApp auth.NewTOTPApp
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "add USERNAME",
		Short: "Add an authenticator app for a user, ready to use; prints its otpauth:// URI and QR code once",
		Long: "Add an authenticator app for a user. The app counts at once: hand the user the otpauth:// URI or\n" +
			"the QR code (a data: URL of a PNG) over a safe channel; neither is shown again.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				newApp.Confirmed = true
				enr, err := a.Core.AddTOTPApp(cmd.Context(), args[0], newApp)
				if err != nil {
					return err
				}
				qr, err := qrDataURL(enr.URI)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, totpAddJSON{DeviceID: enr.Token.ID, OTPAuthURI: enr.URI, QRURL: qr})
				}
				fmt.Fprintf(e.stdout, "Added authenticator app %s (%s) for %s. Give the user this key; it is not shown again:\n"+
					"  URI:    %s\n  key:    %s (%s, %d digits, %d s)\n  QR:     %s\n",
					enr.Token.ID, enr.Token.Name, args[0], enr.URI, enr.SecretBase32, enr.Token.Algorithm,
					enr.Token.Digits, enr.Token.Period, qr)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&newApp.Name, "name", "", "the app's name (default \"Authenticator app\")")
	f.IntVar(&newApp.Digits, "digits", otp.DefaultDigits, "code length: 6 or 8")
	f.IntVar(&newApp.Period, "period", otp.DefaultPeriod, "seconds per code (15-300)")
	f.StringVar(&newApp.Algorithm, "algorithm", "SHA1", "SHA1, SHA256 or SHA512 (Google Authenticator reads only SHA1)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// tokenJSON describes an app or a token (never its secrets), with the
// fields of Duo's Admin API token object where they apply.
type tokenJSON struct {
	TokenID   string `json:"token_id"`
	Type      string `json:"type"`
	Serial    string `json:"serial,omitempty"`
	Name      string `json:"name,omitempty"`
	TOTPStep  *int   `json:"totp_step"`
	Digits    int    `json:"digits,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	PublicID  string `json:"public_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	Username  string `json:"username,omitempty"`
	Confirmed bool   `json:"confirmed"`
	Drift     int    `json:"drift"`
	Created   int64  `json:"created"`
	LastUsed  *int64 `json:"last_used"`
}

func toTokenJSON(t store.Token, username string) tokenJSON {
	j := tokenJSON{TokenID: t.ID, Type: string(t.Kind), Serial: t.Serial, Name: t.Name, Digits: t.Digits,
		Algorithm: t.Algorithm, PublicID: t.PublicID, UserID: t.UserID, Username: username,
		Confirmed: t.Confirmed || t.Kind.Hardware(), Drift: t.Drift, Created: t.Created.Unix()}
	if t.Kind.TOTP() {
		step := t.Period
		j.TOTPStep = &step
	}
	if t.Kind == store.TokenYubiKey {
		j.Digits, j.Algorithm = 0, ""
	}
	if !t.LastUsed.IsZero() {
		u := t.LastUsed.Unix()
		j.LastUsed = &u
	}
	return j
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.DateTime)
}

func newUserTOTPListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list USERNAME",
		Short: "List a user's authenticator apps and assigned hardware tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				u, err := a.Core.User(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				list, err := a.Core.UserTokens(cmd.Context(), u.ID)
				if err != nil {
					return err
				}
				out := make([]tokenJSON, 0, len(list))
				rows := make([][]string, 0, len(list))
				for _, t := range list {
					out = append(out, toTokenJSON(t, u.Username))
					name, state := t.Name, "ready"
					if t.Kind.Hardware() {
						name = t.Serial
					} else if !t.Confirmed {
						state = "waiting for a first code"
					}
					rows = append(rows, []string{t.ID, string(t.Kind), name, state, when(t.Created), when(t.LastUsed)})
				}
				if asJSON {
					return printJSON(e.stdout, out)
				}
				return table(e.stdout, []string{"ID", "TYPE", "NAME/SERIAL", "STATE", "ADDED (UTC)", "LAST USED (UTC)"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newUserTOTPRemoveCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "remove USERNAME DEVICE_ID",
		Short: "Remove one of a user's authenticator apps (a lost phone)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.RemoveTOTPApp(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, map[string]any{"device_id": args[1], "deleted": true})
				}
				fmt.Fprintf(e.stdout, "Removed authenticator app %s of %s.\n", args[1], args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Manage hardware tokens: OATH HOTP/TOTP (h6, h8, t6, t8) and YubiKey OTP (yk)",
	}
	cmd.AddCommand(newTokenListCmd(e), newTokenAddCmd(e), newTokenImportCmd(e), newTokenAssignCmd(e),
		newTokenUnassignCmd(e), newTokenResyncCmd(e), newTokenDeleteCmd(e))
	return cmd
}

// usernames maps user IDs to usernames, for listings.
func usernames(cmd *cobra.Command, a *app.App) (map[string]string, error) {
	users, err := a.Core.Users(cmd.Context())
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(users))
	for _, u := range users {
		m[u.ID] = u.Username
	}
	return m, nil
}

func printToken(e *env, t store.Token, username string, asJSON bool, verb string) error {
	if asJSON {
		return printJSON(e.stdout, toTokenJSON(t, username))
	}
	owner := "unassigned"
	if username != "" {
		owner = "assigned to " + username
	}
	fmt.Fprintf(e.stdout, "%s %s token %s (%s), %s.\n", verb, t.Kind, t.Serial, t.ID, owner)
	return nil
}

func newTokenListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List hardware tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				list, err := a.Core.HardwareTokens(cmd.Context())
				if err != nil {
					return err
				}
				names, err := usernames(cmd, a)
				if err != nil {
					return err
				}
				out := make([]tokenJSON, 0, len(list))
				rows := make([][]string, 0, len(list))
				for _, t := range list {
					out = append(out, toTokenJSON(t, names[t.UserID]))
					user := names[t.UserID]
					if user == "" {
						user = "-"
					}
					rows = append(rows, []string{t.Serial, string(t.Kind), t.ID, user, when(t.LastUsed)})
				}
				if asJSON {
					return printJSON(e.stdout, out)
				}
				return table(e.stdout, []string{"SERIAL", "TYPE", "TOKEN ID", "USER", "LAST USED (UTC)"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// hexFlag decodes an optional hex flag, collecting a problem.
func hexFlag(name, v string, errs *[]error) []byte {
	if v == "" {
		return nil
	}
	b, err := hex.DecodeString(strings.TrimPrefix(strings.ReplaceAll(v, " ", ""), "0x"))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("--%s: not hex", name))
	}
	return b
}

func newTokenAddCmd(e *env) *cobra.Command {
	var (
		kind, serial, secretHex, secretB32, algorithm string
		publicID, privateID, aesKey                   string
		counter                                       uint64
		step                                          int
		asJSON                                        bool
	)
	cmd := &cobra.Command{
		Use:   "add --type h6|h8|t6|t8|yk --serial SERIAL …",
		Short: "Add one hardware token, unassigned (secrets in hex, as Duo's Admin API takes them)",
		Example: "  assent token add --type h6 --serial 123456 --secret 3132333435363738393031323334353637383930\n" +
			"  assent token add --type t6 --serial T-1 --secret-base32 JBSWY3DPEHPK3PXP --step 30\n" +
			"  assent token add --type yk --serial 5551234 --public-id vvccccfiluij --private-id 010203040506 --aes-key 000102030405060708090a0b0c0d0e0f",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			nt := auth.NewToken{Kind: store.TokenKind(kind), Serial: serial, Counter: counter, Step: step,
				Algorithm: algorithm, PublicID: publicID}
			switch {
			case secretHex != "" && secretB32 != "":
				errs = append(errs, errors.New("--secret and --secret-base32: give one"))
			case secretB32 != "":
				var err error
				if nt.Secret, err = otp.DecodeBase32(secretB32); err != nil {
					errs = append(errs, fmt.Errorf("--secret-base32: %w", err))
				}
			default:
				nt.Secret = hexFlag("secret", secretHex, &errs)
			}
			nt.PrivateID = hexFlag("private-id", privateID, &errs)
			nt.AESKey = hexFlag("aes-key", aesKey, &errs)
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			return runApp(cmd, e, func(a *app.App) error {
				added, err := a.Core.AddTokens(cmd.Context(), []auth.NewToken{nt})
				if err != nil {
					return err
				}
				return printToken(e, added[0], "", asJSON, "Added")
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "type", "", "h6, h8 (HOTP), t6, t8 (TOTP) or yk (YubiKey OTP)")
	f.StringVar(&serial, "serial", "", "the serial number printed on the token")
	f.StringVar(&secretHex, "secret", "", "OATH secret in hex")
	f.StringVar(&secretB32, "secret-base32", "", "OATH secret in base32, as some vendors ship it")
	f.Uint64Var(&counter, "counter", 0, "HOTP: the counter of the next code the token shows")
	f.IntVar(&step, "step", 30, "TOTP: seconds per code (Duo's totp_step)")
	f.StringVar(&algorithm, "algorithm", "SHA1", "OATH: SHA1, SHA256 or SHA512")
	f.StringVar(&publicID, "public-id", "", "yk: the public ID (modhex, the first 12 characters of its OTPs)")
	f.StringVar(&privateID, "private-id", "", "yk: the private ID in hex (6 bytes)")
	f.StringVar(&aesKey, "aes-key", "", "yk: the AES key in hex (16 bytes)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// readTokenFile parses a token file as format (csv or pskc; "" guesses
// from the name: .xml and .pskc are PSKC).
func readTokenFile(path, format string, opts tokenimport.Options, key []byte, password *string) ([]tokenimport.Token, error) {
	if format == "" {
		format = "csv"
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".xml" || ext == ".pskc" {
			format = "pskc"
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	switch format {
	case "csv":
		return tokenimport.ParseCSV(f, opts)
	case "pskc":
		if password != nil {
			return tokenimport.ParsePSKCPassword(f, *password)
		}
		return tokenimport.ParsePSKC(f, key)
	}
	return nil, fmt.Errorf("--format %q: must be csv or pskc", format)
}

func newTokenImportCmd(e *env) *cobra.Command {
	var (
		format, typ, encoding, keyHex, passwordFile string
		step                                        int
		asJSON                                      bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import hardware tokens from a CSV or PSKC (RFC 6030) file, unassigned; all or nothing",
		Long: "Import hardware tokens from a vendor's seed file: CSV (--type gives the token type unless a\n" +
			"column does) or PSKC (RFC 6030, plain, or encrypted with a pre-shared --key or a key derived\n" +
			"from a password, --password-file). Every problem is\n" +
			"listed with its line; nothing is added until the file is clean. See docs/token-import.md.",
		Example: "  assent token import tokens.csv --type h6\n  assent token import vendor.xml --key 12345678901234567890123456789012",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			key := hexFlag("key", keyHex, &errs)
			password, err := readPasswordFile(passwordFile, cmd.InOrStdin())
			if err != nil {
				errs = append(errs, err)
			}
			if password != nil && key != nil {
				errs = append(errs, errors.New("--key and --password-file: give one of them"))
			}
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			list, err := readTokenFile(args[0], format, tokenimport.Options{Type: typ, Step: step, SecretEncoding: encoding}, key, password)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			nts := make([]auth.NewToken, 0, len(list))
			for _, t := range list {
				nts = append(nts, auth.NewToken{Kind: store.TokenKind(t.Type), Serial: t.Serial, Secret: t.Secret,
					Counter: t.Counter, Step: t.Step, PublicID: t.PublicID, PrivateID: t.PrivateID, AESKey: t.AESKey})
			}
			return runApp(cmd, e, func(a *app.App) error {
				added, err := a.Core.AddTokens(cmd.Context(), nts)
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				if asJSON {
					out := make([]tokenJSON, 0, len(added))
					for _, t := range added {
						out = append(out, toTokenJSON(t, ""))
					}
					return printJSON(e.stdout, out)
				}
				fmt.Fprintf(e.stdout, "Imported %d token(s) from %s, unassigned; assign them with `assent token assign SERIAL USERNAME`.\n",
					len(added), args[0])
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "csv or pskc (default: pskc for .xml and .pskc files, else csv)")
	f.StringVar(&typ, "type", "", "CSV: the type of every token (h6, h8, t6, t8, yk) unless a type column gives it")
	f.IntVar(&step, "step", 0, "CSV: TOTP seconds per code when no column gives it (default 30)")
	f.StringVar(&encoding, "secret-encoding", "", "CSV: how secrets are written: hex or base32 (default: hex, base32 where not hex)")
	f.StringVar(&keyHex, "key", "", "PSKC: the pre-shared key (hex) the file's secrets are encrypted with")
	f.StringVar(&passwordFile, "password-file", "", "PSKC: a file (- for standard input) holding the password the file's key is derived from (RFC 6030 §6.2)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// readPasswordFile reads a PSKC password from path ("-": stdin), without
// its final line break; nil when path is empty. A password is never taken
// on the command line, where other users and shell history see it.
func readPasswordFile(path string, stdin io.Reader) (*string, error) {
	if path == "" {
		return nil, nil
	}
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 4096))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--password-file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return nil, errors.New("--password-file: the file is empty")
	}
	return &pw, nil
}

// tokenChangeCmd is a command that changes one token by serial and prints it.
func tokenChangeCmd(e *env, use, short string, nargs int, verb string,
	change func(cmd *cobra.Command, a *app.App, args []string) (store.Token, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				t, err := change(cmd, a, args)
				if err != nil {
					return err
				}
				name := ""
				if t.UserID != "" {
					u, err := a.Core.User(cmd.Context(), t.UserID)
					if err != nil {
						return err
					}
					name = u.Username
				}
				return printToken(e, t, name, asJSON, verb)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newTokenAssignCmd(e *env) *cobra.Command {
	return tokenChangeCmd(e, "assign SERIAL USERNAME", "Assign a hardware token to a user (one user per token)", 2, "Assigned",
		func(cmd *cobra.Command, a *app.App, args []string) (store.Token, error) {
			return a.Core.AssignToken(cmd.Context(), args[0], args[1])
		})
}

func newTokenUnassignCmd(e *env) *cobra.Command {
	return tokenChangeCmd(e, "unassign SERIAL", "Take a hardware token from its user", 1, "Unassigned",
		func(cmd *cobra.Command, a *app.App, args []string) (store.Token, error) {
			return a.Core.AssignToken(cmd.Context(), args[0], "")
		})
}

func newTokenResyncCmd(e *env) *cobra.Command {
	return tokenChangeCmd(e, "resync SERIAL CODE1 CODE2",
		"Resynchronize an OATH token from two consecutive codes (HOTP: up to 1000 codes ahead; TOTP: a clock off by up to 1000 steps)",
		3, "Resynchronized",
		func(cmd *cobra.Command, a *app.App, args []string) (store.Token, error) {
			return a.Core.ResyncToken(cmd.Context(), args[0], args[1], args[2])
		})
}

func newTokenDeleteCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete SERIAL",
		Short: "Delete a hardware token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.DeleteToken(cmd.Context(), args[0]); err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, map[string]any{"serial": args[0], "deleted": true})
				}
				fmt.Fprintf(e.stdout, "Deleted token %s.\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

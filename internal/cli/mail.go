package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/mail"
	"github.com/assent-auth/assent/internal/store"
)

func newMailCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mail",
		Short: "Check and try the e-mail settings and templates (docs/email.md)",
	}
	cmd.AddCommand(newMailTestSendCmd(e), newMailCheckCmd(e), newMailPreviewCmd(e))
	return cmd
}

func newMailTestSendCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "test-send ADDRESS",
		Short: "Send a test message now and report what the SMTP server answered",
		Long: `Send the test message (template "test") to ADDRESS through smtp_server, at once
and without the queue, and report the first step that failed: connecting, TLS,
authentication or a refusal of the sender or recipient, with the server's answer.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			start := time.Now()
			if err := a.SendTestMail(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("test message to %s not sent: %w", args[0], err)
			}
			fmt.Fprintf(e.stdout, "Test message sent to %s through %s in %s.\n", args[0], a.Config.SMTPServer,
				time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}

func newMailCheckCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check the e-mail settings and every template, listing every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd, e)
			if err != nil {
				return err
			}
			var ps mail.Problems
			if cfg.SMTPServer != "" {
				s, err := app.MailSettings(cfg)
				if err != nil {
					return err
				}
				if _, err := mail.NewSMTP(s); err != nil {
					if !errors.As(err, &ps) {
						return err
					}
				}
			}
			t, err := mail.LoadTemplates(cfg.MailTemplatesDir)
			var tps mail.Problems
			if errors.As(err, &tps) {
				ps = append(ps, tps...)
			} else if err != nil {
				return err
			}
			if len(ps) > 0 {
				return ps
			}
			switch {
			case cfg.SMTPServer == "":
				fmt.Fprintln(e.stdout, "E-mail is off (no smtp_server); the templates are valid.")
			default:
				fmt.Fprintf(e.stdout, "E-mail settings are valid: %s (%s) from %s.\n", cfg.SMTPServer, cfg.SMTPTLS, cfg.MailFrom)
			}
			if len(t.Overridden) > 0 {
				fmt.Fprintf(e.stdout, "Templates from %s: %s\n", cfg.MailTemplatesDir, strings.Join(t.Overridden, ", "))
			}
			return nil
		},
	}
}

func newMailPreviewCmd(e *env) *cobra.Command {
	var html bool
	cmd := &cobra.Command{
		Use:   "preview KIND",
		Short: "Print a message rendered with sample data (KIND: enrollment, device_added, bypass_codes, fraud_reported, test)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd, e)
			if err != nil {
				return err
			}
			if !slices.Contains(mail.Kinds, mail.Kind(args[0])) {
				return fmt.Errorf("unknown message %q: one of enrollment, device_added, bypass_codes, fraud_reported, test", args[0])
			}
			t, err := mail.LoadTemplates(cfg.MailTemplatesDir)
			if err != nil {
				return err
			}
			m, err := t.Render(mail.Kind(args[0]), "alice@example.com", mail.SampleData())
			if err != nil {
				return err
			}
			if html {
				_, err = fmt.Fprint(e.stdout, m.HTML)
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "Subject: %s\n\n%s", m.Subject, m.Text)
			return err
		},
	}
	cmd.Flags().BoolVar(&html, "html", false, "print the HTML part instead of the subject and text")
	return cmd
}

// sendEnrollmentEmail is `user enroll USER --email ADDRESS`: the user is
// created if needed (with the address), and the enrollment link e-mailed.
func sendEnrollmentEmail(cmd *cobra.Command, e *env, a *app.App, name, email string, asJSON bool) error {
	ctx := cmd.Context()
	if !a.Core.MailConfigured() {
		return errors.New("--email: this installation sends no e-mail; set smtp_server and mail_from (docs/email.md)")
	}
	u, err := a.Core.User(ctx, name)
	if auth.IsKind(err, auth.KindNotFound) {
		_, err = a.Core.AddUser(ctx, auth.NewUser{Username: name, Profile: store.UserProfile{Email: email}})
	} else if err == nil && u.Profile.Email == "" {
		_, err = a.Core.ModifyUser(ctx, u.ID, auth.UserUpdate{Email: &email})
	}
	if err != nil {
		return err
	}
	sent, err := a.Core.SendEnrollmentEmailTo(ctx, name, email)
	if err != nil {
		return err
	}
	if asJSON {
		j := map[string]any{"user_id": sent.UserID, "username": sent.Username, "email": sent.To, "enroll_link": sent.Link}
		if !sent.Expires.IsZero() {
			j["expiration"] = sent.Expires.Unix()
		}
		return printJSON(e.stdout, j)
	}
	fmt.Fprintf(e.stdout, "Enrollment e-mail sent to %s for %s.\n  Link: %s\n", sent.To, sent.Username, sent.Link)
	if !sent.Expires.IsZero() {
		fmt.Fprintf(e.stdout, "  Valid until %s UTC, usable once.\n", sent.Expires.UTC().Format(time.DateTime))
	}
	return nil
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/mail"
)

// mailDrain is how long closing the installation waits for queued e-mail.
const mailDrain = 10 * time.Second

// MailSettings are the SMTP settings of cfg, with the password read from
// smtp_password_file when that is set.
func MailSettings(cfg config.Config) (mail.Settings, error) {
	pw := cfg.SMTPPassword
	if cfg.SMTPPasswordFile != "" {
		b, err := os.ReadFile(cfg.SMTPPasswordFile)
		if err != nil {
			return mail.Settings{}, fmt.Errorf("smtp_password_file: %w", err)
		}
		pw = strings.TrimSpace(string(b))
	}
	return mail.Settings{Server: cfg.SMTPServer, TLS: cfg.SMTPTLS, Username: cfg.SMTPUsername, Password: pw,
		Auth: cfg.SMTPAuth, CAFile: cfg.SMTPCAFile, From: cfg.MailFrom, Timeout: cfg.SMTPTimeout.Duration}, nil
}

// openMail checks the e-mail settings and templates (every problem at
// once) and makes the mailer: sending at once for an administration
// command, which waits and reports, and through a queue for the server.
// No smtp_server: nil (templates are still checked when a directory is
// given, so a mistake shows before mail is turned on).
func openMail(cfg config.Config, log *slog.Logger, admin bool) (*mail.Mailer, *mail.Queue, error) {
	if cfg.SMTPServer == "" {
		if cfg.MailTemplatesDir != "" {
			if _, err := mail.LoadTemplates(cfg.MailTemplatesDir); err != nil {
				return nil, nil, fmt.Errorf("mail_templates_dir: %w", err)
			}
		}
		return nil, nil, nil
	}
	var problems mail.Problems
	s, err := MailSettings(cfg)
	if err != nil {
		return nil, nil, err
	}
	smtp, err := mail.NewSMTP(s)
	if ps, ok := err.(mail.Problems); ok {
		problems = append(problems, ps...)
	} else if err != nil {
		return nil, nil, err
	}
	tmpl, err := mail.LoadTemplates(cfg.MailTemplatesDir)
	if ps, ok := err.(mail.Problems); ok {
		problems = append(problems, ps...)
	} else if err != nil {
		return nil, nil, err
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("e-mail settings: %w", problems)
	}
	if len(tmpl.Overridden) > 0 {
		log.Info("mail templates overridden", "dir", cfg.MailTemplatesDir, "files", tmpl.Overridden)
	}
	m := &mail.Mailer{S: smtp, Hostname: cfg.PublicHostname}
	m.SetTemplates(tmpl)
	if admin {
		return m, nil, nil
	}
	q := mail.NewQueue(smtp, mail.QueueOptions{Logger: log})
	m.S = q
	log.Info("e-mail on", "smtp_server", cfg.SMTPServer, "tls", cfg.SMTPTLS, "from", mail.Mask(cfg.MailFrom))
	return m, q, nil
}

// coreMailer gives the core's notices to the mailer.
type coreMailer struct{ m *mail.Mailer }

func (c coreMailer) Mail(ctx context.Context, n auth.Notice) error {
	return c.m.Send(ctx, mail.Kind(n.Kind), n.To, mail.Data{Username: n.Username, RealName: n.RealName, Time: n.Time,
		Link: n.Link, Expires: n.Expires, DeviceName: n.DeviceName, DevicePlatform: n.DevicePlatform, DeviceKind: n.DeviceKind,
		Count: n.Count, Uses: n.Uses, CodesExpire: n.CodesExpire, IP: n.IP, Application: n.Application})
}

// mailNotices converts mail_notices.
func mailNotices(list []string) []auth.NoticeKind {
	out := make([]auth.NoticeKind, len(list))
	for i, n := range list {
		out[i] = auth.NoticeKind(n)
	}
	return out
}

// SendTestMail sends the test message to to at once, whatever the mailer
// (`assent mail test-send`): the error is the SMTP conversation's.
func (a *App) SendTestMail(ctx context.Context, to string) error {
	if a.Mail == nil {
		return fmt.Errorf("%w: set smtp_server and mail_from (docs/email.md)", errNoMail)
	}
	s, err := MailSettings(a.Config)
	if err != nil {
		return err
	}
	smtp, err := mail.NewSMTP(s)
	if err != nil {
		return err
	}
	m := &mail.Mailer{S: smtp, Hostname: a.Config.PublicHostname}
	m.SetTemplates(a.Mail.Templates())
	return m.Send(ctx, mail.Test, to, mail.Data{Time: a.Now()})
}

var errNoMail = fmt.Errorf("this installation sends no e-mail")

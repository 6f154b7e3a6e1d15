package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/directory"
	"github.com/assent-auth/assent/internal/store"
)

// NewDirectoryRunner builds the runner that syncs the directories of the
// configuration file ([[directory]]) and those added with `assent directory
// add` (every directory_sync_interval in the server, or on demand). It
// reports every problem of the [[directory]] tables. Its Syncer's Notifier
// e-mails new users their enrollment link when directory_enrollment_email
// is on; its Aliases stores the mapped aliases as alias1–alias4.
func (a *App) NewDirectoryRunner() (*directory.Runner, error) {
	log := a.Logger.With("component", "directory")
	r := &directory.Runner{
		Core:     a.Core,
		Syncer:   &directory.Syncer{Core: a.Core, Now: a.Now, Logger: log},
		Interval: a.Config.DirectorySyncInterval.Duration,
		Logger:   log,
		Now:      a.Now,
	}
	var errs []error
	if a.Config.DirectoryEnrollmentEmail {
		if !a.Core.MailConfigured() {
			errs = append(errs, errors.New("directory_enrollment_email: needs smtp_server (docs/email.md)"))
		}
		r.Syncer.Notifier = enrollmentMailer{core: a.Core, log: log}
	}
	r.Syncer.Aliases = directoryAliases{core: a.Core}
	for _, d := range a.Config.Directories {
		s := directory.Settings{URL: d.URL, StartTLS: d.StartTLS, CAFile: d.CAFile, BindDN: d.BindDN, BaseDN: d.BaseDN,
			UserFilter: d.UserFilter, GroupDNs: d.GroupDNs, Schema: d.Schema, Nested: d.Nested, PageSize: d.PageSize,
			DeleteAfterDays: d.DeleteAfterDays, TimeoutSeconds: d.TimeoutSeconds}
		var err error
		if d.Attributes != "" {
			s.Attributes, err = directory.ParseMapping(s.Attributes, d.Attributes)
		}
		if err = errors.Join(err, s.Check()); err != nil {
			errs = append(errs, fmt.Errorf("[[directory]] %s: %w", d.Name, err))
			continue
		}
		r.Configured = append(r.Configured, directory.Configured{Name: d.Name, Settings: s, PasswordFile: d.BindPasswordFile})
	}
	return r, errors.Join(errs...)
}

// enrollmentMailer e-mails users a directory sync created their enrollment
// link (directory_enrollment_email).
type enrollmentMailer struct {
	core interface {
		SendEnrollmentEmail(ctx context.Context, nameOrID string) (auth.EnrollmentEmail, error)
	}
	log *slog.Logger
}

func (m enrollmentMailer) UserCreated(ctx context.Context, u store.User) error {
	if u.Profile.Email == "" {
		m.log.Info("no enrollment e-mail: the directory gives no e-mail address", "user", u.Username)
		return nil
	}
	if _, err := m.core.SendEnrollmentEmail(ctx, u.ID); err != nil {
		return fmt.Errorf("enrollment e-mail to %s: %w", u.Username, err)
	}
	return nil
}

// directoryAliases stores the aliases a directory maps as the user's
// alias1–alias4 (the positions a sync owns; alias5–alias8 stay).
type directoryAliases struct {
	core interface {
		UserAliases(ctx context.Context, nameOrID string) ([]string, error)
		ModifyUser(ctx context.Context, nameOrID string, up auth.UserUpdate) (store.User, error)
	}
}

// directoryAliasPositions are the alias positions a directory sets.
const directoryAliasPositions = 4

func (d directoryAliases) UserAliases(ctx context.Context, userID string) ([]string, error) {
	list, err := d.core.UserAliases(ctx, userID)
	return list[:min(len(list), directoryAliasPositions)], err
}

func (d directoryAliases) SetUserAliases(ctx context.Context, userID string, aliases []string) error {
	set := make(map[int]string, directoryAliasPositions)
	for i := range directoryAliasPositions {
		set[i] = ""
		if i < len(aliases) {
			set[i] = aliases[i]
		}
	}
	if _, err := d.core.ModifyUser(ctx, userID, auth.UserUpdate{Aliases: set}); err != nil {
		return fmt.Errorf("aliases of %s: %w", userID, err)
	}
	return nil
}

package app

import (
	"errors"
	"fmt"

	"github.com/assent-auth/assent/internal/directory"
)

// NewDirectoryRunner builds the runner that syncs the directories of the
// configuration file ([[directory]]) and those added with `assent directory
// add` (every directory_sync_interval in the server, or on demand). It
// reports every problem of the [[directory]] tables. Its Syncer's Notifier
// (enrollment e-mails) and Aliases (alias1–alias4) are nil until those
// features are wired here.
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

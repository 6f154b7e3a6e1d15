package app

import (
	"github.com/assent-auth/assent/internal/directory"
)

// NewDirectoryRunner builds the runner that syncs the directories added
// with `assent directory add` (every directory_sync_interval in the
// server, or on demand). Its Syncer's Notifier (enrollment e-mails) and
// Aliases (alias1–alias4) are nil until those features are wired here.
func (a *App) NewDirectoryRunner() *directory.Runner {
	log := a.Logger.With("component", "directory")
	return &directory.Runner{
		Core:     a.Core,
		Syncer:   &directory.Syncer{Core: a.Core, Now: a.Now, Logger: log},
		Interval: a.Config.DirectorySyncInterval.Duration,
		Logger:   log,
		Now:      a.Now,
	}
}

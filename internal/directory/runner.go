package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Stored is what the runner needs of the core to sync the directories
// stored with `assent directory add`; *auth.Service implements it.
type Stored interface {
	Directories(ctx context.Context) ([]store.Directory, error)
	Directory(ctx context.Context, name string) (store.Directory, error)
	DirectoryBindPassword(d store.Directory) (string, error)
	SetDirectoryResult(ctx context.Context, name string, at time.Time, result string) error
	// ClaimOnce makes a scheduled sync run on one node only.
	ClaimOnce(ctx context.Context, kind, key string, ttl time.Duration) error
}

// Runner syncs the stored directories every Interval while the server
// runs, and on demand. Within a process one sync runs at a time (the
// Syncer's lock); across nodes sharing a database each interval's sync of
// a directory is claimed by one node (ClaimOnce).
type Runner struct {
	Core     Stored
	Syncer   *Syncer
	Interval time.Duration // <= 0: no scheduled syncs
	Logger   *slog.Logger
	Now      func() time.Time
}

// SyncStored syncs the stored directory name; unless dryRun, its result
// is recorded (`assent directory list` shows it).
func (r *Runner) SyncStored(ctx context.Context, name string, dryRun bool) (Result, error) {
	d, err := r.Core.Directory(ctx, name)
	if err != nil {
		return Result{}, err
	}
	s, err := ParseSettings([]byte(d.Settings))
	if err != nil {
		return Result{}, fmt.Errorf("directory %s: %w", name, err)
	}
	pw, err := r.Core.DirectoryBindPassword(d)
	if err != nil {
		return Result{}, err
	}
	res, err := r.Syncer.Sync(ctx, name, s, pw, dryRun)
	if dryRun || errors.Is(err, ErrBusy) {
		return res, err
	}
	summary := res.Summary()
	if err != nil {
		summary = "failed: " + err.Error()
	}
	if rerr := r.Core.SetDirectoryResult(context.WithoutCancel(ctx), name, r.now(), summary); rerr != nil && err == nil {
		err = rerr
	}
	return res, err
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Run syncs every stored directory once per Interval (the first time one
// minute after start, or Interval if shorter) until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	if r.Interval <= 0 {
		return
	}
	t := time.NewTimer(min(time.Minute, r.Interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.RunOnce(ctx)
		t.Reset(r.Interval)
	}
}

// RunOnce syncs each stored directory that no node has synced in the
// current interval.
func (r *Runner) RunOnce(ctx context.Context) {
	list, err := r.Core.Directories(ctx)
	if err != nil {
		r.logger().Warn("directory sync: listing directories failed", "err", err)
		return
	}
	slot := r.now().Truncate(r.Interval).Unix()
	for _, d := range list {
		if ctx.Err() != nil {
			return
		}
		err := r.Core.ClaimOnce(ctx, "directory_sync", d.Name+"|"+strconv.FormatInt(slot, 10), r.Interval)
		if errors.Is(err, auth.ErrAlreadyClaimed) {
			continue // another node has it
		}
		if err != nil {
			r.logger().Warn("directory sync: claim failed", "directory", d.Name, "err", err)
			continue
		}
		res, err := r.SyncStored(ctx, d.Name, false)
		switch {
		case err != nil:
			r.logger().Warn("directory sync failed", "directory", d.Name, "err", err)
		case len(res.Errors) > 0:
			r.logger().Warn("directory sync: some changes failed", "directory", d.Name, "summary", res.Summary(), "first_error", res.Errors[0])
		}
	}
}

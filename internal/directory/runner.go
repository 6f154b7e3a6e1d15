package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
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
	Core Stored
	// Configured are the directories of the configuration file
	// ([[directory]]); a stored directory of the same name is ignored.
	Configured []Configured
	Syncer     *Syncer
	Interval   time.Duration // <= 0: no scheduled syncs
	Logger     *slog.Logger
	Now        func() time.Time
}

// Configured is a directory of the configuration file.
type Configured struct {
	Name         string
	Settings     Settings
	PasswordFile string // first line is the bind password; "" for none
}

// configured finds a directory of the configuration file.
func (r *Runner) configured(name string) (Configured, bool) {
	for _, c := range r.Configured {
		if c.Name == name {
			return c, true
		}
	}
	return Configured{}, false
}

// Names lists the directories the runner syncs: the configuration file's,
// then the stored ones of other names.
func (r *Runner) Names(ctx context.Context) ([]string, error) {
	var out []string
	for _, c := range r.Configured {
		out = append(out, c.Name)
	}
	list, err := r.Core.Directories(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range list {
		if _, dup := r.configured(d.Name); !dup {
			out = append(out, d.Name)
		}
	}
	return out, nil
}

// SyncStored syncs the directory name — the configuration file's, or a
// stored one; unless dryRun, a stored directory's result is recorded
// (`assent directory list` shows it).
func (r *Runner) SyncStored(ctx context.Context, name string, dryRun bool) (Result, error) {
	if c, ok := r.configured(name); ok {
		pw, err := readPasswordFile(c.PasswordFile)
		if err != nil {
			return Result{}, fmt.Errorf("directory %s: %w", name, err)
		}
		res, err := r.Syncer.Sync(ctx, name, c.Settings, pw, dryRun)
		return res, err
	}
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
	names, err := r.Names(ctx)
	if err != nil {
		r.logger().Warn("directory sync: listing directories failed", "err", err)
		return
	}
	slot := r.now().Truncate(r.Interval).Unix()
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		err := r.Core.ClaimOnce(ctx, "directory_sync", name+"|"+strconv.FormatInt(slot, 10), r.Interval)
		if errors.Is(err, auth.ErrAlreadyClaimed) {
			continue // another node has it
		}
		if err != nil {
			r.logger().Warn("directory sync: claim failed", "directory", name, "err", err)
			continue
		}
		res, err := r.SyncStored(ctx, name, false)
		switch {
		case err != nil:
			r.logger().Warn("directory sync failed", "directory", name, "err", err)
		case len(res.Errors) > 0:
			r.logger().Warn("directory sync: some changes failed", "directory", name, "summary", res.Summary(), "first_error", res.Errors[0])
		}
	}
}

// readPasswordFile returns the first line of path, without its line
// ending; "" for no file.
func readPasswordFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("bind_password_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

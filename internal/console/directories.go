package console

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/directory"
	"github.com/assent-auth/assent/internal/store"
)

// The directories page (issue 16 in the console): each directory with its
// last sync's result; an administrator syncs one now or asks for a dry run
// and sees the list of changes. The bind password is never read here: the
// page shows the settings' server and base DN only.

// DirectorySyncer syncs the directories (*directory.Runner, shared with
// the server's scheduled syncs so one sync runs at a time).
type DirectorySyncer interface {
	Names(ctx context.Context) ([]string, error)
	SyncStored(ctx context.Context, name string, dryRun bool) (directory.Result, error)
}

// directoriesCore is what the page asks of the core.
type directoriesCore interface {
	Directories(ctx context.Context) ([]store.Directory, error)
}

func (c *Console) directoryRoutes() []route {
	return []route{
		{"GET /admin/directories", c.private(auth.PermRead, c.directories)},
		{"POST /admin/directories/{name}/sync", c.private(auth.PermManage, c.syncDirectory)},
	}
}

// directoriesView is what the page shows.
type directoriesView struct {
	List []directoryRow
	// Result is the sync or dry run just made.
	Result *directoryResult
}

type directoryRow struct {
	Name, URL, BaseDN string
	Configured        bool // from the configuration file: no stored result
	LastSync          string
	LastResult        string
}

type directoryResult struct {
	Name    string
	DryRun  bool
	Summary string
	Changes []string
	Errors  []string
	Failed  string
}

func (c *Console) loadDirectories(ctx context.Context) ([]directoryRow, error) {
	stored, err := c.Core.Directories(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	if c.Directories != nil {
		if names, err = c.Directories.Names(ctx); err != nil {
			return nil, err
		}
	} else {
		for _, d := range stored {
			names = append(names, d.Name)
		}
	}
	out := make([]directoryRow, 0, len(names))
	for _, n := range names {
		row := directoryRow{Name: n, Configured: true, LastSync: "not recorded (configuration file)"}
		if i := slices.IndexFunc(stored, func(d store.Directory) bool { return d.Name == n }); i >= 0 {
			d := stored[i]
			row.Configured, row.LastResult, row.LastSync = false, d.LastResult, "never"
			if !d.LastSync.IsZero() {
				row.LastSync = d.LastSync.UTC().Format("2006-01-02 15:04 UTC")
			}
			if s, err := directory.ParseSettings([]byte(d.Settings)); err == nil {
				row.URL, row.BaseDN = s.URL, s.BaseDN
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *Console) directories(w http.ResponseWriter, r *http.Request, p *page) error {
	return c.renderDirectories(w, r, p, nil, http.StatusOK)
}

func (c *Console) renderDirectories(w http.ResponseWriter, r *http.Request, p *page, res *directoryResult, status int) error {
	list, err := c.loadDirectories(r.Context())
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.Dirs = "Directories", "directories", "directories", &directoriesView{List: list, Result: res}
	return c.render(w, status, "directories", p)
}

// syncDirectory syncs now, or with dry_run lists what a sync would change.
func (c *Console) syncDirectory(w http.ResponseWriter, r *http.Request, p *page) error {
	name := r.PathValue("name")
	list, err := c.loadDirectories(r.Context())
	if err != nil {
		return err
	}
	if c.Directories == nil || !slices.ContainsFunc(list, func(d directoryRow) bool { return d.Name == name }) {
		return &auth.Error{Kind: auth.KindNotFound, Detail: "no directory of that name"}
	}
	dry := r.PostFormValue("dry_run") == "on"
	res, err := c.Directories.SyncStored(r.Context(), name, dry)
	out := &directoryResult{Name: name, DryRun: dry, Summary: res.Summary()}
	for _, ch := range res.Changes {
		out.Changes = append(out.Changes, ch.String())
	}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, e.Error())
	}
	status := http.StatusOK
	switch {
	case errors.Is(err, directory.ErrBusy):
		out.Failed, status = "Another sync of a directory is running; try again in a moment.", http.StatusConflict
	case err != nil:
		// The sync's errors name the server and the DN, never the password.
		out.Failed, status = "The sync failed: "+err.Error(), http.StatusBadGateway
	}
	if out.Failed != "" {
		p.Message, p.MessageKind = out.Failed, "error"
	} else if dry {
		p.Message, p.MessageKind = "Dry run: nothing was changed. A sync now would make the changes below.", "success"
	} else {
		p.Message, p.MessageKind = "The directory was synced.", "success"
	}
	return c.renderDirectories(w, r, p, out, status)
}

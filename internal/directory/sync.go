package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/username"
)

// normName is the form usernames are compared in (package username).
func normName(s string) string {
	if n, err := username.Normalize(s); err == nil {
		return n
	}
	return strings.ToLower(s)
}

// Core is what a sync needs of the core (package auth); *auth.Service
// implements it.
type Core interface {
	Users(ctx context.Context) ([]store.User, error)
	Groups(ctx context.Context) ([]store.Group, error)
	GroupMembers(ctx context.Context, group string) ([]store.User, error)
	DirectoryLinks(ctx context.Context, directory, kind string) ([]store.DirectoryLink, error)
	AddDirectoryUser(ctx context.Context, directory, externalID string, n auth.NewUser) (store.User, error)
	AddDirectoryGroup(ctx context.Context, directory, externalID string, n auth.NewGroup) (store.Group, error)
	LinkDirectory(ctx context.Context, l store.DirectoryLink) error
	ModifyUser(ctx context.Context, nameOrID string, up auth.UserUpdate) (store.User, error)
	SetUserStatus(ctx context.Context, nameOrID string, status store.UserStatus) (store.User, error)
	DeleteUser(ctx context.Context, nameOrID string) error
	ModifyGroup(ctx context.Context, idOrName string, up auth.GroupUpdate) (store.Group, error)
	DeleteGroup(ctx context.Context, idOrName string) error
	AddGroupMember(ctx context.Context, group, user string) error
	RemoveGroupMember(ctx context.Context, group, user string) error
}

// Notifier is told about users a sync created (to send them an enrollment
// e-mail). Nil: nobody is told.
type Notifier interface {
	UserCreated(ctx context.Context, u store.User) error
}

// AliasWriter reads and stores a user's aliases (alias1–alias4, in order;
// fewer clear the rest). Nil: aliases are read and shown but not stored.
type AliasWriter interface {
	UserAliases(ctx context.Context, userID string) ([]string, error)
	SetUserAliases(ctx context.Context, userID string, aliases []string) error
}

// Syncer syncs directories into the core.
type Syncer struct {
	Core     Core
	Notifier Notifier    // optional
	Aliases  AliasWriter // optional
	Now      func() time.Time
	Logger   *slog.Logger

	mu sync.Mutex // one sync at a time in this process
}

// Change is one thing a sync does (or, dry, would do).
type Change struct {
	Action string // create_user, update_user, disable_user, enable_user, delete_user, link_user, create_group, …
	Object string // username or group name
	Detail string
	apply  func(ctx context.Context) error
}

func (c Change) String() string {
	s := c.Action + " " + c.Object
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Result is what a sync did.
type Result struct {
	Directory string
	DryRun    bool
	Users     int // users in the directory's scope
	Groups    int
	Changes   []Change
	Errors    []error // changes that failed (the others were made)
}

// Counts sums the changes by action.
func (r Result) Counts() map[string]int {
	out := map[string]int{}
	for _, c := range r.Changes {
		out[c.Action]++
	}
	return out
}

// Summary is one line for logs and `assent directory list`.
func (r Result) Summary() string {
	counts := r.Counts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{fmt.Sprintf("%d users, %d groups in the directory", r.Users, r.Groups)}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	if len(r.Errors) > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", len(r.Errors)))
	}
	return strings.Join(parts, ", ")
}

// Print writes the changes, one a line.
func (r Result) Print(w io.Writer) {
	verb := "changed"
	if r.DryRun {
		verb = "would change (dry run, nothing changed)"
	}
	fmt.Fprintf(w, "directory %s: %s\n", r.Directory, verb)
	for _, c := range r.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %v\n", e)
	}
	fmt.Fprintf(w, "%s\n", r.Summary())
}

// ErrEmpty is a directory that returned no users while users synced from
// it exist: the sync refuses to disable them all.
var ErrEmpty = errors.New("the directory returned no users; nothing was changed")

// ErrBusy is a sync asked for while another runs in this process.
var ErrBusy = errors.New("directory: a sync is already running")

// Sync reads the directory named name and brings the core in line with it:
// with dryRun it only lists the changes. password is the bind password.
func (y *Syncer) Sync(ctx context.Context, name string, s Settings, password string, dryRun bool) (Result, error) {
	if !y.mu.TryLock() {
		return Result{}, ErrBusy
	}
	defer y.mu.Unlock()
	if err := s.Check(); err != nil {
		return Result{}, err
	}
	s = s.effective()
	snap, err := read(ctx, s, password)
	if err != nil {
		return Result{}, fmt.Errorf("directory %s: %w", name, err)
	}
	ctx = auth.WithActor(ctx, auth.Actor{Who: "directory:" + name})
	if len(snap.Users) == 0 {
		// A filter or base DN gone wrong must not disable everybody.
		links, err := y.Core.DirectoryLinks(ctx, name, store.LinkUser)
		if err != nil {
			return Result{}, fmt.Errorf("directory %s: %w", name, err)
		}
		if len(links) > 0 {
			return Result{}, fmt.Errorf("directory %s: %w (it manages %d users; check base_dn, user_filter and group_dns)", name, ErrEmpty, len(links))
		}
	}
	changes, err := y.plan(ctx, name, s, snap)
	if err != nil {
		return Result{}, fmt.Errorf("directory %s: %w", name, err)
	}
	res := Result{Directory: name, DryRun: dryRun, Users: len(snap.Users), Groups: len(snap.Groups), Changes: changes}
	if dryRun {
		return res, nil
	}
	for _, c := range changes {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := c.apply(ctx); err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("%s: %w", c, err))
		}
	}
	y.logger().Info("directory synced", "directory", name, "summary", res.Summary())
	return res, nil
}

func (y *Syncer) logger() *slog.Logger {
	if y.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return y.Logger
}

func (y *Syncer) now() time.Time {
	if y.Now == nil {
		return time.Now()
	}
	return y.Now()
}

// plan compares the snapshot with the core's users and groups. Changes
// name new users by username (they have no ID yet) and existing ones by
// ID.
func (y *Syncer) plan(ctx context.Context, dir string, s Settings, snap Snapshot) ([]Change, error) {
	users, err := y.Core.Users(ctx)
	if err != nil {
		return nil, err
	}
	userLinks, err := y.Core.DirectoryLinks(ctx, dir, store.LinkUser)
	if err != nil {
		return nil, err
	}
	groups, err := y.Core.Groups(ctx)
	if err != nil {
		return nil, err
	}
	groupLinks, err := y.Core.DirectoryLinks(ctx, dir, store.LinkGroup)
	if err != nil {
		return nil, err
	}
	byID := map[string]store.User{}
	byName := map[string]store.User{}
	for _, u := range users {
		byID[u.ID] = u
		byName[normName(u.Username)] = u
	}
	linkByDN := map[string]store.DirectoryLink{}
	linkByUser := map[string]store.DirectoryLink{}
	for _, l := range userLinks {
		linkByDN[l.ExternalID] = l
		linkByUser[l.ObjectID] = l
	}
	inDir := map[string]bool{} // keys and normalised DNs of the entries
	for _, e := range snap.Users {
		inDir[e.Key] = true
		inDir[NormDN(e.DN)] = true
	}

	var changes []Change
	add := func(c Change) { changes = append(changes, c) }
	now := y.now()
	// userRef is how later changes name each directory user: its ID, or
	// the username of a user still to be created.
	userRef := map[string]string{} // normalised DN → ID or username
	managed := map[string]bool{}   // IDs of users this directory manages after the sync

	for _, e := range snap.Users {
		e := e
		dn, key := NormDN(e.DN), e.Key
		var u store.User
		found := false
		if l, ok := linkByDN[key]; ok {
			u, found = byID[l.ObjectID]
		} else if l, ok := linkByDN[dn]; ok && key != dn {
			// Linked by DN (a server that sent no entryUUID before):
			// identified by its key from now on.
			if u, found = byID[l.ObjectID]; found {
				nl := l
				nl.ExternalID = key
				linkByUser[u.ID] = nl
				add(Change{Action: "link_user", Object: e.Username, Detail: "now identified by " + key,
					apply: func(ctx context.Context) error { return y.Core.LinkDirectory(ctx, nl) }})
			}
		}
		if !found {
			// Not linked under this DN: an entry that moved (same
			// username, a DN no longer in the directory) or a local user
			// of that name the directory takes over.
			if cand, ok := byName[normName(e.Username)]; ok {
				l, linked := linkByUser[cand.ID]
				if linked && inDir[l.ExternalID] {
					add(Change{Action: "conflict", Object: e.Username, Detail: "username also used by " + l.ExternalID,
						apply: func(context.Context) error {
							return fmt.Errorf("two entries have the username %s: %s and %s", e.Username, e.DN, l.ExternalID)
						}})
					continue
				}
				u, found = cand, true
				detail := "local user taken over by the directory"
				if linked {
					detail = "entry moved from " + l.ExternalID
				}
				nl := store.DirectoryLink{Directory: dir, Kind: store.LinkUser, ObjectID: cand.ID, ExternalID: key, MissingSince: l.MissingSince}
				linkByUser[cand.ID] = nl
				add(Change{Action: "link_user", Object: e.Username, Detail: detail + " (" + e.DN + ")",
					apply: func(ctx context.Context) error { return y.Core.LinkDirectory(ctx, nl) }})
			}
		}
		if !found {
			userRef[dn] = e.Username
			add(Change{Action: "create_user", Object: e.Username, Detail: describe(e),
				apply: func(ctx context.Context) error { return y.createUser(ctx, dir, key, e) }})
			continue
		}
		userRef[dn] = u.ID
		managed[u.ID] = true
		if up, what := profileUpdate(u, e); len(what) > 0 {
			id := u.ID
			add(Change{Action: "update_user", Object: e.Username, Detail: strings.Join(what, ", "),
				apply: func(ctx context.Context) error { _, err := y.Core.ModifyUser(ctx, id, up); return err }})
		}
		if y.Aliases != nil {
			id, aliases := u.ID, e.Aliases
			cur, err := y.Aliases.UserAliases(ctx, id)
			if err != nil {
				return nil, err
			}
			if !slices.Equal(cur, aliases) {
				add(Change{Action: "set_aliases", Object: e.Username, Detail: strings.Join(aliases, ", "),
					apply: func(ctx context.Context) error { return y.Aliases.SetUserAliases(ctx, id, aliases) }})
			}
		}
		if l := linkByUser[u.ID]; !l.MissingSince.IsZero() {
			// Back in the directory: the sync disabled it, the sync
			// enables it again.
			id, nl := u.ID, l
			nl.MissingSince = time.Time{}
			nl.ExternalID = key
			add(Change{Action: "enable_user", Object: e.Username, Detail: "back in the directory",
				apply: func(ctx context.Context) error {
					if u.Status == store.StatusDisabled {
						if _, err := y.Core.SetUserStatus(ctx, id, store.StatusActive); err != nil {
							return err
						}
					}
					return y.Core.LinkDirectory(ctx, nl)
				}})
		}
	}

	// Groups, then their members.
	groupByID := map[string]store.Group{}
	groupByName := map[string]store.Group{}
	for _, g := range groups {
		groupByID[g.ID] = g
		groupByName[g.Name] = g
	}
	glinkByDN := map[string]store.DirectoryLink{}
	for _, l := range groupLinks {
		glinkByDN[l.ExternalID] = l
	}
	keptGroups := map[string]bool{}
	for _, ge := range snap.Groups {
		ge := ge
		dn, key := NormDN(ge.DN), ge.Key
		var g store.Group
		found := false
		if l, ok := glinkByDN[key]; ok {
			g, found = groupByID[l.ObjectID]
		} else if l, ok := glinkByDN[dn]; ok && key != dn {
			if g, found = groupByID[l.ObjectID]; found {
				nl := l
				nl.ExternalID = key
				add(Change{Action: "link_group", Object: ge.Name, Detail: "now identified by " + key,
					apply: func(ctx context.Context) error { return y.Core.LinkDirectory(ctx, nl) }})
			}
		}
		ref := ge.Name
		var current []store.User
		switch {
		case found:
			ref = g.ID
			keptGroups[g.ID] = true
			if g.Name != ge.Name {
				name := ge.Name
				add(Change{Action: "rename_group", Object: g.Name, Detail: "now " + name,
					apply: func(ctx context.Context) error {
						_, err := y.Core.ModifyGroup(ctx, ref, auth.GroupUpdate{Name: &name})
						return err
					}})
			}
		case groupByName[ge.Name].ID != "":
			g = groupByName[ge.Name]
			ref = g.ID
			keptGroups[g.ID] = true
			nl := store.DirectoryLink{Directory: dir, Kind: store.LinkGroup, ObjectID: g.ID, ExternalID: key}
			add(Change{Action: "link_group", Object: ge.Name, Detail: "local group taken over by the directory (" + ge.DN + ")",
				apply: func(ctx context.Context) error { return y.Core.LinkDirectory(ctx, nl) }})
			found = true
		default:
			add(Change{Action: "create_group", Object: ge.Name, Detail: ge.DN,
				apply: func(ctx context.Context) error {
					_, err := y.Core.AddDirectoryGroup(ctx, dir, key, auth.NewGroup{Name: ge.Name, Description: "synced from directory " + dir})
					return err
				}})
		}
		if found {
			if current, err = y.Core.GroupMembers(ctx, g.ID); err != nil {
				return nil, err
			}
		}
		want := map[string]bool{}
		var wantRefs []string
		for _, e := range snap.Users {
			udn := NormDN(e.DN)
			if ge.Members[udn] {
				want[userRef[udn]] = true
				wantRefs = append(wantRefs, userRef[udn])
			}
		}
		have := map[string]bool{}
		for _, m := range current {
			have[m.ID] = true
		}
		for _, r := range wantRefs {
			if have[r] {
				continue
			}
			r, label := r, r
			if u, ok := byID[r]; ok {
				label = u.Username
			}
			add(Change{Action: "add_member", Object: ge.Name, Detail: label,
				apply: func(ctx context.Context) error { return y.Core.AddGroupMember(ctx, ref, r) }})
		}
		for _, m := range current {
			// Only members the directory manages leave with it; users an
			// administrator added by hand stay.
			if want[m.ID] || linkByUser[m.ID].ExternalID == "" {
				continue
			}
			id := m.ID
			add(Change{Action: "remove_member", Object: ge.Name, Detail: m.Username,
				apply: func(ctx context.Context) error { return y.Core.RemoveGroupMember(ctx, ref, id) }})
		}
	}
	for _, l := range groupLinks {
		g, ok := groupByID[l.ObjectID]
		if !ok || keptGroups[g.ID] {
			continue
		}
		id := g.ID
		add(Change{Action: "delete_group", Object: g.Name, Detail: "no longer synced (" + l.ExternalID + ")",
			apply: func(ctx context.Context) error { return y.Core.DeleteGroup(ctx, id) }})
	}

	// Users gone from the directory: disabled now, deleted later.
	for _, l := range userLinks {
		u, ok := byID[l.ObjectID]
		if !ok || managed[u.ID] || inDir[l.ExternalID] {
			continue
		}
		if cur := linkByUser[u.ID]; cur.ExternalID != l.ExternalID {
			continue // re-linked to another entry above
		}
		id, nl := u.ID, l
		switch {
		case l.MissingSince.IsZero():
			nl.MissingSince = now
			add(Change{Action: "disable_user", Object: u.Username, Detail: "gone from the directory (" + l.ExternalID + ")",
				apply: func(ctx context.Context) error {
					if u.Status != store.StatusDisabled {
						if _, err := y.Core.SetUserStatus(ctx, id, store.StatusDisabled); err != nil {
							return err
						}
					}
					return y.Core.LinkDirectory(ctx, nl)
				}})
		case s.DeleteAfterDays >= 0 && !now.Before(l.MissingSince.Add(time.Duration(s.DeleteAfterDays)*24*time.Hour)):
			add(Change{Action: "delete_user", Object: u.Username,
				Detail: fmt.Sprintf("gone from the directory since %s", l.MissingSince.UTC().Format(time.DateOnly)),
				apply:  func(ctx context.Context) error { return y.Core.DeleteUser(ctx, id) }})
		}
	}
	return changes, nil
}

func (y *Syncer) createUser(ctx context.Context, dir, dn string, e Entry) error {
	u, err := y.Core.AddDirectoryUser(ctx, dir, dn, auth.NewUser{Username: e.Username, Profile: store.UserProfile{
		RealName: e.RealName, Email: e.Email, FirstName: e.FirstName, LastName: e.LastName}})
	if err != nil {
		return err
	}
	var errs []error
	if y.Aliases != nil && len(e.Aliases) > 0 {
		errs = append(errs, y.Aliases.SetUserAliases(ctx, u.ID, e.Aliases))
	}
	if y.Notifier != nil {
		if err := y.Notifier.UserCreated(ctx, u); err != nil {
			errs = append(errs, fmt.Errorf("notify: %w", err))
		}
	}
	return errors.Join(errs...)
}

func describe(e Entry) string {
	parts := []string{e.DN}
	if e.RealName != "" {
		parts = append(parts, "name "+e.RealName)
	}
	if e.Email != "" {
		parts = append(parts, "e-mail "+e.Email)
	}
	if len(e.Aliases) > 0 {
		parts = append(parts, "aliases "+strings.Join(e.Aliases, " "))
	}
	return strings.Join(parts, ", ")
}

// profileUpdate is what the directory changes of u: username, real name,
// e-mail, first and last name (notes stay the administrator's).
func profileUpdate(u store.User, e Entry) (auth.UserUpdate, []string) {
	var up auth.UserUpdate
	var what []string
	set := func(label string, cur, v string, dst **string) {
		if cur != v {
			v := v
			*dst = &v
			what = append(what, fmt.Sprintf("%s %q → %q", label, cur, v))
		}
	}
	set("username", u.Username, e.Username, &up.Username)
	set("realname", u.Profile.RealName, e.RealName, &up.RealName)
	set("email", u.Profile.Email, e.Email, &up.Email)
	set("firstname", u.Profile.FirstName, e.FirstName, &up.FirstName)
	set("lastname", u.Profile.LastName, e.LastName, &up.LastName)
	return up, what
}

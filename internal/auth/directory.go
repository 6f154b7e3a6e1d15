package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Directories (package directory) that users and groups are synced from.
// The directory package decides what to change; every change goes through
// these methods and the ordinary user and group methods, so the
// administrator log records it (the sync's actor is "directory:<name>").

// directoryAD is the additional data the bind password is sealed with: a
// sealed password moved to another directory's row does not open.
func directoryAD(name string) []byte { return []byte("directory bind password|" + name) }

func checkDirectoryName(name string) error {
	if name == "" || len(name) > 64 {
		return invalid("name", "must be 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return invalid("name", "may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// SaveDirectory adds or replaces a directory: settings is its JSON
// (without the password); bindPassword, when not nil, replaces the sealed
// bind password ("" removes it). The password is never logged.
func (s *Service) SaveDirectory(ctx context.Context, name, settings string, bindPassword *string) (store.Directory, error) {
	if err := checkDirectoryName(name); err != nil {
		return store.Directory{}, err
	}
	var out store.Directory
	err := s.st.InTx(ctx, func(q store.Queries) error {
		now := s.now()
		d, err := q.GetDirectory(ctx, name)
		action := "directory_update"
		if errors.Is(err, store.ErrNotFound) {
			d, action = store.Directory{Name: name, Created: now}, "directory_create"
		} else if err != nil {
			return err
		}
		d.Settings, d.Updated = settings, now
		if bindPassword != nil {
			d.BindPasswordEnc = nil
			if *bindPassword != "" {
				if d.BindPasswordEnc, err = s.box.Seal([]byte(*bindPassword), directoryAD(name)); err != nil {
					return err
				}
			}
		}
		if err := q.PutDirectory(ctx, d); err != nil {
			return err
		}
		out = d
		return s.adminLog(ctx, q, action, name, map[string]any{"settings": settings, "bind_password_changed": bindPassword != nil})
	})
	if err != nil {
		return store.Directory{}, wrap("save directory", err)
	}
	s.opts.Logger.Info("directory saved", "directory", name)
	return out, nil
}

// Directory returns a directory by name.
func (s *Service) Directory(ctx context.Context, name string) (store.Directory, error) {
	d, err := s.st.GetDirectory(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Directory{}, notFound("no directory " + name)
	}
	if err != nil {
		return store.Directory{}, wrap("get directory", err)
	}
	return d, nil
}

// Directories lists the directories by name.
func (s *Service) Directories(ctx context.Context) ([]store.Directory, error) {
	list, err := s.st.ListDirectories(ctx)
	if err != nil {
		return nil, wrap("list directories", err)
	}
	return list, nil
}

// DirectoryBindPassword opens d's sealed bind password ("" for none).
func (s *Service) DirectoryBindPassword(d store.Directory) (string, error) {
	if len(d.BindPasswordEnc) == 0 {
		return "", nil
	}
	pw, err := s.box.Open(d.BindPasswordEnc, directoryAD(d.Name))
	if err != nil {
		return "", wrap("open the bind password of directory "+d.Name, err)
	}
	return string(pw), nil
}

// RemoveDirectory deletes a directory; the users and groups it managed
// stay, as local ones.
func (s *Service) RemoveDirectory(ctx context.Context, name string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteDirectory(ctx, name); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "directory_delete", name, nil)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no directory " + name)
	}
	if err != nil {
		return wrap("remove directory", err)
	}
	s.opts.Logger.Info("directory removed", "directory", name)
	return nil
}

// SetDirectoryResult records the outcome of a sync of a stored directory.
func (s *Service) SetDirectoryResult(ctx context.Context, name string, at time.Time, result string) error {
	if err := s.st.SetDirectoryResult(ctx, name, at, result); err != nil && !errors.Is(err, store.ErrNotFound) {
		return wrap("set directory result", err)
	}
	return nil
}

// DirectoryLinks lists the users (store.LinkUser) or groups
// (store.LinkGroup) a directory manages.
func (s *Service) DirectoryLinks(ctx context.Context, directory, kind string) ([]store.DirectoryLink, error) {
	list, err := s.st.ListDirectoryLinks(ctx, directory, kind)
	if err != nil {
		return nil, wrap("list directory links", err)
	}
	return list, nil
}

// UserDirectories lists the directories that manage a user (empty: a
// local user).
func (s *Service) UserDirectories(ctx context.Context, userID string) ([]store.DirectoryLink, error) {
	list, err := s.st.UserDirectories(ctx, userID)
	if err != nil {
		return nil, wrap("user directories", err)
	}
	return list, nil
}

// AddDirectoryUser creates a user managed by a directory: the user, its
// profile and its link in one transaction with the administrator-log row.
func (s *Service) AddDirectoryUser(ctx context.Context, directory, externalID string, n NewUser) (store.User, error) {
	if err := validateUsername(n.Username); err != nil {
		return store.User{}, err
	}
	if n.Status == "" {
		n.Status = store.StatusActive
	}
	if err := adminStatus(n.Status); err != nil {
		return store.User{}, err
	}
	u := store.User{ID: ids.New(ids.User), Username: n.Username, Status: n.Status, Created: s.now(), Profile: n.Profile}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		if n.Profile != (store.UserProfile{}) {
			if err := q.UpdateUserProfile(ctx, u.ID, n.Profile); err != nil {
				return err
			}
		}
		if err := q.PutDirectoryLink(ctx, store.DirectoryLink{Directory: directory, Kind: store.LinkUser, ObjectID: u.ID, ExternalID: externalID}); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "user_create", u.Username, map[string]any{"user_id": u.ID, "status": u.Status,
			"realname": n.Profile.RealName, "email": n.Profile.Email, "directory": directory, "dn": externalID})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, s.usernameTaken(ctx, n.Username)
	}
	if err != nil {
		return store.User{}, wrap("create directory user", err)
	}
	s.opts.Logger.Info("user created", "user_id", u.ID, "directory", directory)
	return u, nil
}

// AddDirectoryGroup creates a group managed by a directory, with its link,
// in one transaction with the administrator-log row.
func (s *Service) AddDirectoryGroup(ctx context.Context, directory, externalID string, n NewGroup) (store.Group, error) {
	if n.Status == "" {
		n.Status = store.StatusActive
	}
	if err := errors.Join(checkGroupName(n.Name), checkGroupDescription(n.Description), checkGroupStatus(n.Status)); err != nil {
		return store.Group{}, err
	}
	g := store.Group{ID: ids.New(ids.Group), Name: n.Name, Description: n.Description, Status: n.Status, Created: s.now()}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateGroup(ctx, g); err != nil {
			return err
		}
		if err := q.PutDirectoryLink(ctx, store.DirectoryLink{Directory: directory, Kind: store.LinkGroup, ObjectID: g.ID, ExternalID: externalID}); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "group_create", g.Name, map[string]any{"group_id": g.ID, "desc": g.Description,
			"status": g.Status, "directory": directory, "dn": externalID})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.Group{}, s.groupNameTaken(n.Name)
	}
	if err != nil {
		return store.Group{}, wrap("create directory group", err)
	}
	s.opts.Logger.Info("group created", "group_id", g.ID, "directory", directory)
	return g, nil
}

// LinkDirectory writes a link: a directory taking over an existing user
// or group of the same name, an entry that moved (new DN), or the time a
// sync found the entry missing. A new link or a new external ID is
// logged; a change of MissingSince alone is not (what the sync does about
// it, disabling the user, is).
func (s *Service) LinkDirectory(ctx context.Context, l store.DirectoryLink) error {
	if l.Kind != store.LinkUser && l.Kind != store.LinkGroup {
		return invalid("kind", "must be user or group")
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		links, err := q.ListDirectoryLinks(ctx, l.Directory, l.Kind)
		if err != nil {
			return err
		}
		var old *store.DirectoryLink
		for i := range links {
			if links[i].ObjectID == l.ObjectID {
				old = &links[i]
			}
		}
		if err := q.PutDirectoryLink(ctx, l); err != nil {
			return err
		}
		if old != nil && strings.EqualFold(old.ExternalID, l.ExternalID) {
			return nil
		}
		desc := map[string]any{"directory": l.Directory, "kind": l.Kind, "id": l.ObjectID, "dn": l.ExternalID}
		if old != nil {
			desc["old_dn"] = old.ExternalID
		}
		return s.adminLog(ctx, q, "directory_link", l.ObjectID, desc)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("no %s %s", l.Kind, l.ObjectID))
	}
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Error{Kind: KindConflict, Param: "dn", Detail: "another " + l.Kind + " of directory " + l.Directory + " has that DN"}
	}
	if err != nil {
		return wrap("link directory", err)
	}
	return nil
}

// UnlinkDirectory makes a user or group local again (the directory no
// longer manages it).
func (s *Service) UnlinkDirectory(ctx context.Context, directory, kind, objectID string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteDirectoryLink(ctx, directory, kind, objectID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "directory_unlink", objectID, map[string]any{"directory": directory, "kind": kind})
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("%s %s is not managed by directory %s", kind, objectID, directory))
	}
	if err != nil {
		return wrap("unlink directory", err)
	}
	return nil
}

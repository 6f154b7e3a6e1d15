package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Directories and the users and groups they manage (store.DirectoryQueries).

const directoryCols = `name, settings, bind_password_enc, created, updated, last_sync, last_result`

func scanDirectory(r scanner) (store.Directory, error) {
	var (
		d                          store.Directory
		pw                         []byte
		created, updated, lastSync int64
	)
	if err := r.Scan(&d.Name, &d.Settings, &pw, &created, &updated, &lastSync, &d.LastResult); err != nil {
		return store.Directory{}, err
	}
	if len(pw) > 0 {
		d.BindPasswordEnc = pw
	}
	d.Created, d.Updated, d.LastSync = fromUnix(created), fromUnix(updated), fromUnix(lastSync)
	return d, nil
}

func (q *queries) PutDirectory(ctx context.Context, d store.Directory) error {
	if _, err := q.exec(ctx, `INSERT INTO directories (`+directoryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, bind_password_enc = excluded.bind_password_enc,
		updated = excluded.updated, last_sync = excluded.last_sync, last_result = excluded.last_result`,
		d.Name, d.Settings, blob(d.BindPasswordEnc), toUnix(d.Created), toUnix(d.Updated), toUnix(d.LastSync), d.LastResult); err != nil {
		return fmt.Errorf("sqlstore: put directory %q: %w", d.Name, mapErr(err))
	}
	return nil
}

func (q *queries) GetDirectory(ctx context.Context, name string) (store.Directory, error) {
	d, err := scanDirectory(q.queryRow(ctx, `SELECT `+directoryCols+` FROM directories WHERE name = ?`+q.forUpdate(), name))
	if err != nil {
		return store.Directory{}, fmt.Errorf("sqlstore: get directory %q: %w", name, mapErr(err))
	}
	return d, nil
}

func (q *queries) ListDirectories(ctx context.Context) ([]store.Directory, error) {
	rows, err := q.query(ctx, `SELECT `+directoryCols+` FROM directories ORDER BY name`+q.d.binary)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list directories: %w", err)
	}
	out, err := collect(rows, scanDirectory)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list directories: %w", err)
	}
	return out, nil
}

func (q *queries) SetDirectoryResult(ctx context.Context, name string, at time.Time, result string) error {
	if err := q.changeOne(ctx, `UPDATE directories SET last_sync = ?, last_result = ? WHERE name = ?`,
		toUnix(at), result, name); err != nil {
		return fmt.Errorf("sqlstore: set result of directory %q: %w", name, err)
	}
	return nil
}

func (q *queries) DeleteDirectory(ctx context.Context, name string) error {
	for _, t := range []string{"directory_users", "directory_groups"} {
		if _, err := q.exec(ctx, `DELETE FROM `+t+` WHERE directory = ?`, name); err != nil {
			return fmt.Errorf("sqlstore: delete directory %q: %s: %w", name, t, mapErr(err))
		}
	}
	if err := q.changeOne(ctx, `DELETE FROM directories WHERE name = ?`, name); err != nil {
		return fmt.Errorf("sqlstore: delete directory %q: %w", name, err)
	}
	return nil
}

// linkTable is the table and ID column of a link kind.
func linkTable(kind string) (table, idCol, parent string, err error) {
	switch kind {
	case store.LinkUser:
		return "directory_users", "user_id", "users", nil
	case store.LinkGroup:
		return "directory_groups", "group_id", "user_groups", nil
	}
	return "", "", "", fmt.Errorf("sqlstore: unknown directory link kind %q", kind)
}

func (q *queries) PutDirectoryLink(ctx context.Context, l store.DirectoryLink) error {
	table, idCol, parent, err := linkTable(l.Kind)
	if err != nil {
		return err
	}
	if err := q.requireRow(ctx, `SELECT 1 FROM `+parent+` WHERE id = ?`, l.ObjectID); err != nil {
		return fmt.Errorf("sqlstore: link %s %s: %w", l.Kind, l.ObjectID, err)
	}
	var other string
	err = q.queryRow(ctx, `SELECT `+idCol+` FROM `+table+` WHERE directory = ? AND external_id = ?`, l.Directory, l.ExternalID).Scan(&other)
	switch {
	case err == nil && other != l.ObjectID:
		return fmt.Errorf("sqlstore: link %s %s: %q is linked to %s: %w", l.Kind, l.ObjectID, l.ExternalID, other, store.ErrAlreadyExists)
	case err != nil && !errors.Is(mapErr(err), store.ErrNotFound):
		return fmt.Errorf("sqlstore: link %s %s: %w", l.Kind, l.ObjectID, mapErr(err))
	}
	if _, err := q.exec(ctx, `INSERT INTO `+table+` (directory, `+idCol+`, external_id, missing_since) VALUES (?, ?, ?, ?)
		ON CONFLICT (directory, `+idCol+`) DO UPDATE SET external_id = excluded.external_id, missing_since = excluded.missing_since`,
		l.Directory, l.ObjectID, l.ExternalID, toUnix(l.MissingSince)); err != nil {
		return fmt.Errorf("sqlstore: link %s %s: %w", l.Kind, l.ObjectID, mapErr(err))
	}
	return nil
}

func (q *queries) DeleteDirectoryLink(ctx context.Context, directory, kind, objectID string) error {
	table, idCol, _, err := linkTable(kind)
	if err != nil {
		return err
	}
	if err := q.changeOne(ctx, `DELETE FROM `+table+` WHERE directory = ? AND `+idCol+` = ?`, directory, objectID); err != nil {
		return fmt.Errorf("sqlstore: unlink %s %s: %w", kind, objectID, err)
	}
	return nil
}

func (q *queries) listLinks(ctx context.Context, kind, where string, args ...any) ([]store.DirectoryLink, error) {
	table, idCol, _, err := linkTable(kind)
	if err != nil {
		return nil, err
	}
	rows, err := q.query(ctx, `SELECT directory, `+idCol+`, external_id, missing_since FROM `+table+` WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r scanner) (store.DirectoryLink, error) {
		l := store.DirectoryLink{Kind: kind}
		var missing int64
		if err := r.Scan(&l.Directory, &l.ObjectID, &l.ExternalID, &missing); err != nil {
			return l, err
		}
		l.MissingSince = fromUnix(missing)
		return l, nil
	})
}

func (q *queries) ListDirectoryLinks(ctx context.Context, directory, kind string) ([]store.DirectoryLink, error) {
	out, err := q.listLinks(ctx, kind, `directory = ? ORDER BY external_id`+q.d.binary, directory)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %s links of directory %q: %w", kind, directory, err)
	}
	return out, nil
}

func (q *queries) UserDirectories(ctx context.Context, userID string) ([]store.DirectoryLink, error) {
	out, err := q.listLinks(ctx, store.LinkUser, `user_id = ? ORDER BY directory`+q.d.binary, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: directories of user %s: %w", userID, err)
	}
	return out, nil
}

// Outside transactions.

func (s *Store) PutDirectory(ctx context.Context, d store.Directory) error {
	return s.write(ctx, true, func(q *queries) error { return q.PutDirectory(ctx, d) })
}

func (s *Store) GetDirectory(ctx context.Context, name string) (store.Directory, error) {
	return s.rq.GetDirectory(ctx, name)
}

func (s *Store) ListDirectories(ctx context.Context) ([]store.Directory, error) {
	return s.rq.ListDirectories(ctx)
}

func (s *Store) SetDirectoryResult(ctx context.Context, name string, at time.Time, result string) error {
	return s.write(ctx, true, func(q *queries) error { return q.SetDirectoryResult(ctx, name, at, result) })
}

func (s *Store) DeleteDirectory(ctx context.Context, name string) error {
	return s.write(ctx, false, func(q *queries) error { return q.DeleteDirectory(ctx, name) })
}

func (s *Store) PutDirectoryLink(ctx context.Context, l store.DirectoryLink) error {
	return s.write(ctx, false, func(q *queries) error { return q.PutDirectoryLink(ctx, l) })
}

func (s *Store) DeleteDirectoryLink(ctx context.Context, directory, kind, objectID string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteDirectoryLink(ctx, directory, kind, objectID) })
}

func (s *Store) ListDirectoryLinks(ctx context.Context, directory, kind string) ([]store.DirectoryLink, error) {
	return s.rq.ListDirectoryLinks(ctx, directory, kind)
}

func (s *Store) UserDirectories(ctx context.Context, userID string) ([]store.DirectoryLink, error) {
	return s.rq.UserDirectories(ctx, userID)
}

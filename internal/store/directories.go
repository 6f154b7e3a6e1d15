package store

import (
	"context"
	"time"
)

// Directory is an LDAP or Active Directory server that users and groups
// are synced from (package directory), as `assent directory add` stores
// it.
type Directory struct {
	Name string // unique; the administrator log's actor is "directory:<Name>"
	// Settings are package directory's settings as JSON, without the bind
	// password.
	Settings string
	// BindPasswordEnc is the bind password, sealed by the secrets package;
	// never plaintext. Empty: no password (anonymous bind).
	BindPasswordEnc []byte
	Created         time.Time
	Updated         time.Time
	LastSync        time.Time // zero: never synced
	LastResult      string    // what the last sync did, or its error
}

// Kinds of DirectoryLink.
const (
	LinkUser  = "user"
	LinkGroup = "group"
)

// DirectoryLink says that a user or group is managed by a directory (its
// source) and which directory entry it comes from.
type DirectoryLink struct {
	Directory string
	Kind      string // LinkUser or LinkGroup
	ObjectID  string // the user's or group's ID
	// ExternalID names the entry: "objectguid:<hex>" or
	// "entryuuid:<uuid>" when the server has such a stable ID, else its
	// normalised DN; unique per directory and kind.
	ExternalID string
	// MissingSince is when a sync first found the entry gone; zero while
	// it is in the directory.
	MissingSince time.Time
}

// DirectoryQueries store directories and what they manage.
type DirectoryQueries interface {
	// PutDirectory inserts or replaces the directory named d.Name (a
	// replaced one keeps its Created).
	PutDirectory(ctx context.Context, d Directory) error
	GetDirectory(ctx context.Context, name string) (Directory, error) // ErrNotFound if absent
	// ListDirectories is ordered by name.
	ListDirectories(ctx context.Context) ([]Directory, error)
	// SetDirectoryResult writes LastSync and LastResult; ErrNotFound if
	// absent.
	SetDirectoryResult(ctx context.Context, name string, at time.Time, result string) error
	// DeleteDirectory deletes the directory and its links (its users and
	// groups stay); ErrNotFound if absent.
	DeleteDirectory(ctx context.Context, name string) error

	// PutDirectoryLink inserts or replaces the link of (Directory, Kind,
	// ObjectID). ErrNotFound if the user or group does not exist,
	// ErrAlreadyExists if another object of that directory and kind has
	// the ExternalID.
	PutDirectoryLink(ctx context.Context, l DirectoryLink) error
	// DeleteDirectoryLink: ErrNotFound if absent.
	DeleteDirectoryLink(ctx context.Context, directory, kind, objectID string) error
	// ListDirectoryLinks lists a directory's links of one kind, ordered by
	// ExternalID.
	ListDirectoryLinks(ctx context.Context, directory, kind string) ([]DirectoryLink, error)
	// UserDirectories lists the links of a user (which directories manage
	// it), ordered by directory; empty for a local user.
	UserDirectories(ctx context.Context, userID string) ([]DirectoryLink, error)
}

package storetest

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

func normDirectory(d store.Directory) store.Directory {
	d.Created, d.Updated, d.LastSync = sec(d.Created), sec(d.Updated), sec(d.LastSync)
	return d
}

func normLink(l store.DirectoryLink) store.DirectoryLink {
	l.MissingSince = sec(l.MissingSince)
	return l
}

// testDirectories covers directories, their results, and the links that
// say which users and groups a directory manages.
func testDirectories(t *testing.T, s store.Store) {
	ctx := t.Context()
	corp := store.Directory{Name: "corp", Settings: `{"url":"ldaps://dc.example.com"}`, BindPasswordEnc: []byte{1, 2, 3},
		Created: at(0), Updated: at(0)}
	lab := store.Directory{Name: "lab", Settings: `{}`, Created: at(time.Second), Updated: at(time.Second)}
	must(t, "PutDirectory corp", s.PutDirectory(ctx, corp))
	must(t, "PutDirectory lab", s.PutDirectory(ctx, lab))
	got, err := s.GetDirectory(ctx, "corp")
	must(t, "GetDirectory", err)
	check(t, "directory", got, corp, normDirectory)
	_, err = s.GetDirectory(ctx, "nope")
	wantErr(t, "GetDirectory of an unknown name", err, store.ErrNotFound)

	// Replacing keeps the creation time.
	corp2 := corp
	corp2.Settings, corp2.BindPasswordEnc, corp2.Updated, corp2.Created = `{"url":"ldap://x"}`, nil, at(time.Hour), at(time.Hour)
	must(t, "PutDirectory again", s.PutDirectory(ctx, corp2))
	corp2.Created = corp.Created
	got, err = s.GetDirectory(ctx, "corp")
	must(t, "GetDirectory after replace", err)
	check(t, "replaced directory", got, corp2, normDirectory)

	must(t, "SetDirectoryResult", s.SetDirectoryResult(ctx, "lab", at(2*time.Hour), "created 3"))
	lab.LastSync, lab.LastResult = at(2*time.Hour), "created 3"
	wantErr(t, "SetDirectoryResult of an unknown directory", s.SetDirectoryResult(ctx, "nope", at(0), "x"), store.ErrNotFound)
	list, err := s.ListDirectories(ctx)
	must(t, "ListDirectories", err)
	checkList(t, "directories by name", list, []store.Directory{corp2, lab}, normDirectory)

	alice, bob := mkUser(1, "alice"), mkUser(2, "bob")
	createUsers(t, s, alice, bob)
	staff := store.Group{ID: groupID(1), Name: "staff", Status: store.StatusActive, Created: at(0)}
	must(t, "CreateGroup", s.CreateGroup(ctx, staff))

	la := store.DirectoryLink{Directory: "corp", Kind: store.LinkUser, ObjectID: alice.ID, ExternalID: "cn=alice,dc=example,dc=com"}
	lb := store.DirectoryLink{Directory: "corp", Kind: store.LinkUser, ObjectID: bob.ID, ExternalID: "cn=bob,dc=example,dc=com", MissingSince: at(time.Minute)}
	lg := store.DirectoryLink{Directory: "corp", Kind: store.LinkGroup, ObjectID: staff.ID, ExternalID: "cn=staff,dc=example,dc=com"}
	lab1 := store.DirectoryLink{Directory: "lab", Kind: store.LinkUser, ObjectID: alice.ID, ExternalID: "uid=alice,dc=lab"}
	for _, l := range []store.DirectoryLink{la, lb, lg, lab1} {
		must(t, "PutDirectoryLink "+l.ExternalID, s.PutDirectoryLink(ctx, l))
	}
	wantErr(t, "PutDirectoryLink of an unknown user", s.PutDirectoryLink(ctx,
		store.DirectoryLink{Directory: "corp", Kind: store.LinkUser, ObjectID: userID(9), ExternalID: "cn=x"}), store.ErrNotFound)
	wantErr(t, "PutDirectoryLink of an unknown group", s.PutDirectoryLink(ctx,
		store.DirectoryLink{Directory: "corp", Kind: store.LinkGroup, ObjectID: groupID(9), ExternalID: "cn=x"}), store.ErrNotFound)
	wantErr(t, "PutDirectoryLink with another user's external ID", s.PutDirectoryLink(ctx,
		store.DirectoryLink{Directory: "corp", Kind: store.LinkUser, ObjectID: bob.ID, ExternalID: la.ExternalID}), store.ErrAlreadyExists)

	links, err := s.ListDirectoryLinks(ctx, "corp", store.LinkUser)
	must(t, "ListDirectoryLinks users", err)
	checkList(t, "corp's users", links, []store.DirectoryLink{la, lb}, normLink)
	links, err = s.ListDirectoryLinks(ctx, "corp", store.LinkGroup)
	must(t, "ListDirectoryLinks groups", err)
	checkList(t, "corp's groups", links, []store.DirectoryLink{lg}, normLink)

	// Replacing a link: a new DN (a renamed entry), back in the directory.
	lb.ExternalID, lb.MissingSince = "cn=robert,dc=example,dc=com", time.Time{}
	must(t, "PutDirectoryLink replace", s.PutDirectoryLink(ctx, lb))
	links, err = s.ListDirectoryLinks(ctx, "corp", store.LinkUser)
	must(t, "ListDirectoryLinks after replace", err)
	checkList(t, "corp's users after replace", links, []store.DirectoryLink{la, lb}, normLink)

	dirs, err := s.UserDirectories(ctx, alice.ID)
	must(t, "UserDirectories", err)
	checkList(t, "alice's directories", dirs, []store.DirectoryLink{la, lab1}, normLink)

	// Links go with their user and group.
	must(t, "DeleteUser bob", s.DeleteUser(ctx, bob.ID))
	must(t, "DeleteGroup staff", s.DeleteGroup(ctx, staff.ID))
	links, err = s.ListDirectoryLinks(ctx, "corp", store.LinkUser)
	must(t, "ListDirectoryLinks after DeleteUser", err)
	checkList(t, "corp's users after DeleteUser", links, []store.DirectoryLink{la}, normLink)
	links, err = s.ListDirectoryLinks(ctx, "corp", store.LinkGroup)
	must(t, "ListDirectoryLinks after DeleteGroup", err)
	checkList(t, "corp's groups after DeleteGroup", links, nil, normLink)

	wantErr(t, "DeleteDirectoryLink of a missing link", s.DeleteDirectoryLink(ctx, "corp", store.LinkUser, bob.ID), store.ErrNotFound)
	must(t, "DeleteDirectoryLink", s.DeleteDirectoryLink(ctx, "lab", store.LinkUser, alice.ID))

	// Inside a transaction, and deleting the directory drops its links.
	must(t, "InTx DeleteDirectory", s.InTx(ctx, func(q store.Queries) error { return q.DeleteDirectory(ctx, "corp") }))
	wantErr(t, "DeleteDirectory twice", s.DeleteDirectory(ctx, "corp"), store.ErrNotFound)
	dirs, err = s.UserDirectories(ctx, alice.ID)
	must(t, "UserDirectories after DeleteDirectory", err)
	checkList(t, "alice's directories after DeleteDirectory", dirs, nil, normLink)
	if _, err := s.GetUser(ctx, alice.ID); err != nil {
		t.Errorf("the user went with the directory: %v", err)
	}
}

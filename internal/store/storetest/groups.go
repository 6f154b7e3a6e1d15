package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/store"
)

func groupID(n int) string { return fmt.Sprintf("DG%018d", n) }

func normGroup(g store.Group) store.Group {
	g.Created = sec(g.Created)
	return g
}

// testGroups covers groups, their members, and the status a user's groups
// give: disabled over bypass over active.
func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob, carol := mkUser(1, "alice"), mkUser(2, "Bob"), mkUser(3, "carol")
	createUsers(t, s, alice, bob, carol)
	staff := store.Group{ID: groupID(1), Name: "staff", Description: "everyone", Status: store.StatusActive, Created: at(0)}
	admins := store.Group{ID: groupID(2), Name: "admins", Status: store.StatusActive, Created: at(1)}
	for _, g := range []store.Group{staff, admins} {
		must(t, "CreateGroup "+g.Name, s.CreateGroup(ctx, g))
	}
	wantErr(t, "CreateGroup with a taken name", s.CreateGroup(ctx, store.Group{ID: groupID(3), Name: "staff", Status: store.StatusActive, Created: at(0)}), store.ErrAlreadyExists)
	wantErr(t, "CreateGroup with a taken ID", s.CreateGroup(ctx, store.Group{ID: groupID(1), Name: "other", Status: store.StatusActive, Created: at(0)}), store.ErrAlreadyExists)

	got, err := s.GetGroup(ctx, staff.ID)
	must(t, "GetGroup", err)
	check(t, "group", got, staff, normGroup)
	got, err = s.GetGroupByName(ctx, "admins")
	must(t, "GetGroupByName", err)
	check(t, "group by name", got, admins, normGroup)
	_, err = s.GetGroup(ctx, groupID(9))
	wantErr(t, "GetGroup of an unknown ID", err, store.ErrNotFound)
	list, err := s.ListGroups(ctx)
	must(t, "ListGroups", err)
	checkList(t, "groups by name", list, []store.Group{admins, staff}, normGroup)

	for _, m := range [][2]string{{staff.ID, alice.ID}, {staff.ID, bob.ID}, {staff.ID, bob.ID}, {admins.ID, alice.ID}} {
		must(t, "AddGroupMember", s.AddGroupMember(ctx, m[0], m[1]))
	}
	wantErr(t, "AddGroupMember to an unknown group", s.AddGroupMember(ctx, groupID(9), alice.ID), store.ErrNotFound)
	wantErr(t, "AddGroupMember of an unknown user", s.AddGroupMember(ctx, staff.ID, userID(9)), store.ErrNotFound)
	members, err := s.ListGroupMembers(ctx, staff.ID)
	must(t, "ListGroupMembers", err)
	checkList(t, "staff members by username", members, []store.User{alice, bob}, normUser)
	groups, err := s.ListUserGroups(ctx, alice.ID)
	must(t, "ListUserGroups", err)
	checkList(t, "alice's groups", groups, []store.Group{admins, staff}, normGroup)

	status := func(what string, u store.User, want store.UserStatus) {
		t.Helper()
		st, err := s.GroupStatus(ctx, u.ID)
		must(t, "GroupStatus", err)
		if st != want {
			t.Errorf("%s: group status of %s %q, want %q", what, u.Username, st, want)
		}
		// The decision's one-statement reads carry the groups with the
		// user, as ListUserGroups lists them.
		groups, err := s.ListUserGroups(ctx, u.ID)
		must(t, "ListUserGroups", err)
		brief := func(gs []store.Group) string {
			var b strings.Builder
			for _, g := range gs {
				fmt.Fprintf(&b, "%s/%s/%s;", g.ID, g.Name, g.Status)
			}
			return b.String()
		}
		got, _, err := s.GetUserAndDevices(ctx, u.Username, "")
		must(t, "GetUserAndDevices", err)
		if !got.GroupsRead || brief(got.Groups) != brief(groups) {
			t.Errorf("%s: GetUserAndDevices: groups of %s %q (read %v), want %q", what, u.Username, brief(got.Groups), got.GroupsRead, brief(groups))
		}
		got, _, _, _, err = s.GetUserAndBypassCode(ctx, u.Username, u.ID, []byte("no code"))
		must(t, "GetUserAndBypassCode", err)
		if !got.GroupsRead || brief(got.Groups) != brief(groups) {
			t.Errorf("%s: GetUserAndBypassCode: groups of %s %q (read %v), want %q", what, u.Username, brief(got.Groups), got.GroupsRead, brief(groups))
		}
	}
	status("active groups", alice, store.StatusActive)
	status("no group", carol, store.StatusActive)
	admins.Status = store.StatusBypass
	must(t, "UpdateGroup", s.UpdateGroup(ctx, admins))
	status("a bypass group", alice, store.StatusBypass)
	status("not in the bypass group", bob, store.StatusActive)
	staff.Status, staff.Name, staff.Description = store.StatusDisabled, "employees", ""
	must(t, "UpdateGroup", s.UpdateGroup(ctx, staff))
	got, err = s.GetGroup(ctx, staff.ID)
	must(t, "GetGroup after update", err)
	check(t, "updated group", got, staff, normGroup)
	status("disabled wins over bypass", alice, store.StatusDisabled)
	status("a disabled group", bob, store.StatusDisabled)
	wantErr(t, "UpdateGroup to a taken name", s.UpdateGroup(ctx, store.Group{ID: admins.ID, Name: "employees", Status: store.StatusActive}), store.ErrAlreadyExists)
	wantErr(t, "UpdateGroup of an unknown group", s.UpdateGroup(ctx, store.Group{ID: groupID(9), Name: "x", Status: store.StatusActive}), store.ErrNotFound)

	must(t, "RemoveGroupMember", s.RemoveGroupMember(ctx, staff.ID, bob.ID))
	wantErr(t, "RemoveGroupMember again", s.RemoveGroupMember(ctx, staff.ID, bob.ID), store.ErrNotFound)
	status("removed from the disabled group", bob, store.StatusActive)

	// Deleting a user leaves the group; deleting a group frees its members.
	must(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	members, err = s.ListGroupMembers(ctx, admins.ID)
	must(t, "ListGroupMembers after DeleteUser", err)
	checkList(t, "admins after alice's deletion", members, nil, normUser)
	must(t, "AddGroupMember", s.AddGroupMember(ctx, staff.ID, carol.ID))
	must(t, "DeleteGroup", s.DeleteGroup(ctx, staff.ID))
	wantErr(t, "DeleteGroup again", s.DeleteGroup(ctx, staff.ID), store.ErrNotFound)
	status("its group deleted", carol, store.StatusActive)
	groups, err = s.ListUserGroups(ctx, carol.ID)
	must(t, "ListUserGroups after DeleteGroup", err)
	checkList(t, "carol's groups", groups, nil, normGroup)

	// In a transaction, as the core writes with its administrator-log row.
	must(t, "InTx", s.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateGroup(ctx, store.Group{ID: groupID(5), Name: "tx", Status: store.StatusActive, Created: at(0)}); err != nil {
			return err
		}
		return q.AddGroupMember(ctx, groupID(5), carol.ID)
	}))
	members, err = s.ListGroupMembers(ctx, groupID(5))
	must(t, "ListGroupMembers", err)
	checkList(t, "members added in a transaction", members, []store.User{carol}, normUser)
}

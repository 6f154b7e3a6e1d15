package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// TestGroupStatusDecides: an active user's groups decide (disabled over
// bypass); a user's own non-active status wins over the groups.
func TestGroupStatusDecides(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		user     store.UserStatus
		groups   []store.UserStatus
		preauth  string
		auth     string // result of a wrong passcode
		reason   string // auth log reason of the preauth decision ("" none)
		inactive bool
	}{
		{"active in active group", store.StatusActive, []store.UserStatus{store.StatusActive}, auth.ResultAuth, auth.ResultDeny, "", false},
		{"active in bypass group", store.StatusActive, []store.UserStatus{store.StatusBypass}, auth.ResultAllow, auth.ResultAllow, auth.ReasonBypassUser, false},
		{"active in disabled group", store.StatusActive, []store.UserStatus{store.StatusDisabled}, auth.ResultDeny, auth.ResultDeny, auth.ReasonUserDisabled, false},
		{"disabled over bypass", store.StatusActive, []store.UserStatus{store.StatusBypass, store.StatusDisabled}, auth.ResultDeny, auth.ResultDeny, auth.ReasonUserDisabled, false},
		{"bypass user in disabled group", store.StatusBypass, []store.UserStatus{store.StatusDisabled}, auth.ResultAllow, auth.ResultAllow, auth.ReasonBypassUser, false},
		{"disabled user in bypass group", store.StatusDisabled, []store.UserStatus{store.StatusBypass}, auth.ResultDeny, auth.ResultDeny, auth.ReasonUserDisabled, false},
		{"disabled group, then active again", store.StatusActive, []store.UserStatus{store.StatusDisabled}, auth.ResultAuth, auth.ResultDeny, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, auth.Options{})
			f.user(t, "alice", tc.user)
			f.codes(t, "alice", auth.NewBypassCodes{Count: 1, Uses: 1}) // enrolled: preauth answers auth
			for i, st := range tc.groups {
				g, err := f.svc.CreateGroup(ctx, auth.NewGroup{Name: "g" + string(rune('0'+i)), Status: st})
				if err != nil {
					t.Fatal(err)
				}
				if err := f.svc.AddGroupMember(ctx, g.ID, "alice"); err != nil {
					t.Fatal(err)
				}
				if tc.inactive {
					active := store.StatusActive
					if _, err := f.svc.ModifyGroup(ctx, g.Name, auth.GroupUpdate{Status: &active}); err != nil {
						t.Fatal(err)
					}
				}
			}
			pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
			if err != nil || pre.Result != tc.preauth {
				t.Fatalf("preauth %+v %v, want %s", pre, err, tc.preauth)
			}
			res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "passcode", Passcode: "000000000"})
			if err != nil || res.Result != tc.auth {
				t.Fatalf("auth %+v %v, want %s", res, err, tc.auth)
			}
			rows, err := f.st.ListAuthLog(ctx, store.AuthLogFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason != "" && (len(rows) != 2 || rows[0].Reason != tc.reason && rows[1].Reason != tc.reason) {
				t.Errorf("auth log %+v, want reason %s", rows, tc.reason)
			}
		})
	}
}

// TestGroups covers the group administration and its administrator-log
// rows, written in the change's transaction.
func TestGroups(t *testing.T) {
	t.Parallel()
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "cli:root@test"})
	f := newFixture(t, auth.Options{})
	f.user(t, "alice", store.StatusActive)
	f.user(t, "bob", store.StatusActive)

	for _, tc := range []struct {
		name string
		n    auth.NewGroup
	}{
		{"empty name", auth.NewGroup{}},
		{"spaces", auth.NewGroup{Name: " staff"}},
		{"long", auth.NewGroup{Name: string(make([]byte, 101))}},
		{"bad status", auth.NewGroup{Name: "x", Status: "locked out"}},
	} {
		if _, err := f.svc.CreateGroup(ctx, tc.n); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("%s: %v, want invalid", tc.name, err)
		}
	}
	g, err := f.svc.CreateGroup(ctx, auth.NewGroup{Name: "staff", Description: "all of us"})
	if err != nil || g.Status != store.StatusActive || len(g.ID) != 20 {
		t.Fatalf("create %+v %v", g, err)
	}
	if _, err := f.svc.CreateGroup(ctx, auth.NewGroup{Name: "staff"}); !auth.IsKind(err, auth.KindConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	for _, u := range []string{"alice", "bob", "alice"} {
		if err := f.svc.AddGroupMember(ctx, "staff", u); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.AddGroupMember(ctx, "nope", "alice"); !auth.IsKind(err, auth.KindNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	members, err := f.svc.GroupMembers(ctx, g.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("members %v %v", members, err)
	}
	if err := f.svc.RemoveGroupMember(ctx, "staff", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveGroupMember(ctx, "staff", "bob"); !auth.IsKind(err, auth.KindNotFound) {
		t.Fatalf("remove again: %v", err)
	}
	name, st := "employees", store.StatusBypass
	if g, err = f.svc.ModifyGroup(ctx, "staff", auth.GroupUpdate{Name: &name, Status: &st}); err != nil || g.Name != "employees" {
		t.Fatalf("modify %+v %v", g, err)
	}
	groups, err := f.svc.UserGroups(ctx, "alice")
	if err != nil || len(groups) != 1 || groups[0].Status != store.StatusBypass {
		t.Fatalf("alice's groups %+v %v", groups, err)
	}
	if err := f.svc.DeleteGroup(ctx, "employees"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteGroup(ctx, "employees"); !auth.IsKind(err, auth.KindNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	rows, err := f.st.ListAdminLog(ctx, time.Time{}, time.Now().Add(100*365*24*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.Actor == "cli:root@test" {
			got = append(got, r.Action+" "+r.Object)
		}
	}
	want := []string{"group_create staff", "group_member_add alice", "group_member_add bob", "group_member_remove bob", "group_update employees", "group_delete employees"}
	if !slices.Equal(got, want) {
		t.Fatalf("administrator log %q, want %q", got, want)
	}
}

// TestAuthLogGroups: every auth-log row carries the user's groups as they
// were at the decision (a push's as they were when it was sent, even if
// they change before it is answered), ordered by name.
func TestAuthLogGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{})
	u := f.user(t, "alice", store.StatusActive)
	a := f.device(t, "alice")
	var want []store.LogGroup
	for _, name := range []string{"vpn", "admins"} {
		g, err := f.svc.CreateGroup(ctx, auth.NewGroup{Name: name, Status: store.StatusActive})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.AddGroupMember(ctx, g.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		want = append([]store.LogGroup{{ID: g.ID, Name: g.Name}}, want...) // admins first
	}
	// A push, whose groups change before it is answered: the row keeps
	// the groups the decision saw.
	done := make(chan error, 1)
	go func() {
		for range 500 {
			p, err := f.svc.Pending(ctx, a.Device.ID)
			if err != nil {
				done <- err
				return
			}
			if len(p) > 0 {
				if err := f.svc.RemoveGroupMember(ctx, want[1].ID, "alice"); err != nil {
					done <- err
					return
				}
				done <- f.svc.Answer(ctx, a.Device.ID, p[0].ID, true)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		done <- errors.New("no push arrived")
	}()
	res, err := f.svc.Auth(ctx, f.pushReq("alice", false))
	if err != nil || res.Result != auth.ResultAllow {
		t.Fatalf("push: %+v %v", res, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A wrong passcode, after the change: one group.
	f.passcode(t, "alice", "000000000")
	// A preauth decision (a bypass group).
	byp, err := f.svc.CreateGroup(ctx, auth.NewGroup{Name: "bypassers", Status: store.StatusBypass})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddGroupMember(ctx, byp.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil || pre.Result != auth.ResultAllow {
		t.Fatalf("preauth: %+v %v", pre, err)
	}
	// Preauth names them too, by name (for the RADIUS duo_only Class).
	if !slices.Equal(pre.Groups, []string{"admins", "bypassers"}) {
		t.Errorf("preauth groups %q, want [admins bypassers]", pre.Groups)
	}
	rows := f.logs(t, u.ID) // newest first
	if len(rows) != 3 {
		t.Fatalf("auth log: %+v", rows)
	}
	for i, w := range [][]store.LogGroup{
		{want[0], {ID: byp.ID, Name: "bypassers"}},
		{want[0]},
		want,
	} {
		if !slices.Equal(rows[i].Groups, w) {
			t.Errorf("row %d (%s %s): groups %+v, want %+v", i, rows[i].Factor, rows[i].Reason, rows[i].Groups, w)
		}
	}
}

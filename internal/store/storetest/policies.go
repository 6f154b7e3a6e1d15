package storetest

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

func normPolicy(p store.Policy) store.Policy {
	p.Updated = sec(p.Updated)
	return p
}

func ptr[T any](v T) *T { return &v }

// testPolicies covers the global, integration and group policies: stored
// and replaced, read with their integration, moving IntegrationsVersion,
// and gone with their integration or group.
func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Integration{IKey: ikey(1), Name: "VPN", Type: store.TypeAuthAPI, SecretEnc: []byte{1}, NewUserPolicy: store.PolicyEnroll, Created: at(0)}
	b := store.Integration{IKey: ikey(2), Name: "Wiki", Type: store.TypeWebSDK, SecretEnc: []byte{2}, NewUserPolicy: store.PolicyEnroll, Created: at(1)}
	for _, in := range []store.Integration{a, b} {
		must(t, "CreateIntegration", s.CreateIntegration(ctx, in))
	}
	staff := store.Group{ID: groupID(1), Name: "staff", Status: store.StatusActive, Created: at(0)}
	must(t, "CreateGroup", s.CreateGroup(ctx, staff))

	global := store.Policy{Settings: store.PolicySettings{RememberDays: ptr(7), LockoutUnlockMinutes: ptr(30)}, Updated: at(2)}
	app := store.Policy{IKey: a.IKey, Settings: store.PolicySettings{
		Networks:      &[]store.NetworkRule{{Range: "192.0.2.0/24", Action: store.NetworkAllow}, {Range: "198.51.100.7-198.51.100.9", Action: store.NetworkDeny}},
		GroupsAllowed: &[]string{staff.ID}, SelfServiceAllowed: ptr(true), NetworksEnrollPolicy: ptr("allow"),
	}, Updated: at(3)}
	group := store.Policy{IKey: a.IKey, GroupID: staff.ID, Settings: store.PolicySettings{
		Methods: &[]string{"push", "webauthn"}, VerifiedPush: ptr(true), NewUserPolicy: ptr(store.PolicyDeny), LockoutThreshold: ptr(3),
	}, Updated: at(4)}
	v0, err := s.IntegrationsVersion(ctx)
	must(t, "IntegrationsVersion", err)
	for _, p := range []store.Policy{global, app, group} {
		must(t, "PutPolicy", s.PutPolicy(ctx, p))
	}
	v1, err := s.IntegrationsVersion(ctx)
	must(t, "IntegrationsVersion", err)
	if v1 <= v0 {
		t.Errorf("IntegrationsVersion after PutPolicy = %d, want more than %d", v1, v0)
	}
	wantErr(t, "PutPolicy of an unknown integration", s.PutPolicy(ctx, store.Policy{IKey: ikey(9), Updated: at(0)}), store.ErrNotFound)
	wantErr(t, "PutPolicy of an unknown group", s.PutPolicy(ctx, store.Policy{IKey: a.IKey, GroupID: groupID(9), Updated: at(0)}), store.ErrNotFound)

	list, err := s.ListPolicies(ctx)
	must(t, "ListPolicies", err)
	checkList(t, "policies", list, []store.Policy{global, app, group}, normPolicy)
	got, err := s.GetIntegration(ctx, a.IKey)
	must(t, "GetIntegration", err)
	checkList(t, "policies read with a", got.Policies, []store.Policy{global, app, group}, normPolicy)
	got, err = s.GetIntegration(ctx, b.IKey)
	must(t, "GetIntegration", err)
	checkList(t, "policies read with b", got.Policies, []store.Policy{global}, normPolicy)
	all, err := s.ListIntegrations(ctx)
	must(t, "ListIntegrations", err)
	if len(all) != 2 || len(all[0].Policies) != 3 || len(all[1].Policies) != 1 {
		t.Errorf("ListIntegrations: policies %d integrations, want a with 3 and b with 1", len(all))
	}

	// Replacing keeps one row.
	app.Settings = store.PolicySettings{RememberDays: ptr(0)}
	app.Updated = at(5)
	must(t, "PutPolicy replacing", s.PutPolicy(ctx, app))
	err = s.InTx(ctx, func(q store.Queries) error {
		got, err := q.GetIntegration(ctx, a.IKey)
		if err == nil {
			checkList(t, "policies after replacing, in a transaction", got.Policies, []store.Policy{global, app, group}, normPolicy)
		}
		return err
	})
	must(t, "InTx", err)

	must(t, "DeletePolicy", s.DeletePolicy(ctx, "", ""))
	wantErr(t, "DeletePolicy again", s.DeletePolicy(ctx, "", ""), store.ErrNotFound)
	must(t, "DeleteGroup", s.DeleteGroup(ctx, staff.ID))
	list, err = s.ListPolicies(ctx)
	must(t, "ListPolicies", err)
	checkList(t, "policies after deleting the group", list, []store.Policy{app}, normPolicy)
	must(t, "DeleteIntegration", s.DeleteIntegration(ctx, a.IKey))
	list, err = s.ListPolicies(ctx)
	must(t, "ListPolicies", err)
	checkList(t, "policies after deleting the integration", list, nil, normPolicy)
}

// testAutoUnlock covers the lock time LockOut keeps and AutoUnlock's guard.
func testAutoUnlock(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	when, err := s.LockedAt(ctx, alice.ID)
	must(t, "LockedAt", err)
	if !when.IsZero() {
		t.Errorf("LockedAt of a user never locked = %v, want zero", when)
	}
	_, err = s.LockedAt(ctx, userID(9))
	wantErr(t, "LockedAt of an unknown user", err, store.ErrNotFound)
	lockedAt := at(10 * time.Minute)
	_, err = s.RecordFailure(ctx, alice.ID)
	must(t, "RecordFailure", err)
	must(t, "LockOut", s.LockOut(ctx, alice.ID, "1 consecutive failed authentication attempts", lockedAt))
	when, err = s.LockedAt(ctx, alice.ID)
	must(t, "LockedAt", err)
	if !when.Equal(sec(lockedAt)) {
		t.Errorf("LockedAt = %v, want %v", when, sec(lockedAt))
	}
	wantErr(t, "AutoUnlock with another lock time", s.AutoUnlock(ctx, alice.ID, at(time.Hour)), store.ErrConflict)
	must(t, "AutoUnlock", s.AutoUnlock(ctx, alice.ID, when))
	u, err := s.GetUser(ctx, alice.ID)
	must(t, "GetUser", err)
	if u.Status != store.StatusActive || u.FailedAttempts != 0 || u.LockoutReason != "" {
		t.Errorf("after AutoUnlock: status %q, %d failures, reason %q; want active, 0, none", u.Status, u.FailedAttempts, u.LockoutReason)
	}
	wantErr(t, "AutoUnlock of an active user", s.AutoUnlock(ctx, alice.ID, when), store.ErrConflict)
}

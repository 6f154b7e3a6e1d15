package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

const staffDN = "ou=staff," + ldaptest.BaseDN
const teamsDN = "ou=teams," + ldaptest.BaseDN

func staffUser(i int) string    { return fmt.Sprintf("user%03d", i) }
func staffUserDN(i int) string  { return "uid=" + staffUser(i) + "," + staffDN }
func teamDN(name string) string { return "cn=" + name + "," + teamsDN }

// openLDAPSeed is an OpenLDAP-shaped directory under ou=staff and
// ou=teams: n inetOrgPerson users; engineering (groupOfNames) holds users
// 0–99 and the nested platform group; platform (groupOfUniqueNames) holds
// users 100–149 and, as a cycle, engineering; sales (groupOfNames) holds
// users 200–249. Users 250 and up are in no group.
func openLDAPSeed(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: staff\n\n", staffDN)
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: teams\n\n", teamsDN)
	for i := range n {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\ngivenName: User\nsn: %d\nmail: %s@corp.example\ntelephoneNumber: +1555000%04d\n\n",
			staffUserDN(i), staffUser(i), i, i, staffUser(i), i)
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: engineering\n", teamDN("engineering"))
	for i := range 100 {
		fmt.Fprintf(&b, "member: %s\n", staffUserDN(i))
	}
	fmt.Fprintf(&b, "member: %s\n\n", teamDN("platform"))
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfUniqueNames\ncn: platform\n", teamDN("platform"))
	for i := 100; i < 150; i++ {
		if i == 100 {
			fmt.Fprintf(&b, "uniqueMember: %s#'0101'B\n", staffUserDN(i))
			continue
		}
		fmt.Fprintf(&b, "uniqueMember: %s\n", staffUserDN(i))
	}
	fmt.Fprintf(&b, "uniqueMember: %s\n\n", teamDN("engineering"))
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: sales\n", teamDN("sales"))
	for i := 200; i < 250; i++ {
		fmt.Fprintf(&b, "member: %s\n", staffUserDN(i))
	}
	b.WriteString("\n")
	return b.Bytes()
}

type fixture struct {
	core  *auth.Service
	st    store.Store
	clock *testutil.Clock
	sync  *Syncer
	notes *notes
	alias *aliases
}

type notes struct {
	mu    sync.Mutex
	names []string
}

func (n *notes) UserCreated(_ context.Context, u store.User) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names = append(n.names, u.Username)
	return nil
}

// aliases is an in-memory AliasWriter (the store's aliases come with
// migration 0023 on another branch).
type aliases struct {
	mu sync.Mutex
	m  map[string][]string
}

func (a *aliases) UserAliases(_ context.Context, id string) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[id], nil
}

func (a *aliases) SetUserAliases(_ context.Context, id string, al []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[id] = slices.Clone(al)
	return nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, clock: testutil.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), notes: &notes{},
		alias: &aliases{m: map[string][]string{}}}
	f.core = auth.New(st, box, auth.Options{Now: f.clock.Now})
	f.sync = &Syncer{Core: f.core, Notifier: f.notes, Aliases: f.alias, Now: f.clock.Now}
	return f
}

func (f *fixture) run(t *testing.T, name string, s Settings, dry bool) Result {
	t.Helper()
	res, err := f.sync.Sync(t.Context(), name, s, ldaptest.ServicePassword, dry)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("sync errors: %v", res.Errors)
	}
	return res
}

func (f *fixture) user(t *testing.T, name string) store.User {
	t.Helper()
	u, err := f.core.User(t.Context(), name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return u
}

func (f *fixture) members(t *testing.T, group string) []string {
	t.Helper()
	list, err := f.core.GroupMembers(t.Context(), group)
	if err != nil {
		t.Fatalf("members of %s: %v", group, err)
	}
	var out []string
	for _, u := range list {
		out = append(out, u.Username)
	}
	return out
}

func adminConn(t *testing.T, s *ldaptest.Server) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(ldaptest.AdminDN, ldaptest.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

func userRange(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, staffUser(i))
	}
	return out
}

// TestSyncOpenLDAP: 300 users (the server pages by 100 at most), nested
// groups with a cycle, groupOfNames and groupOfUniqueNames; the first sync
// creates, later ones follow renames, group moves and removals, and a dry
// run changes nothing.
func TestSyncOpenLDAP(t *testing.T) {
	t.Parallel()
	srv := ldaptest.Start(t, ldaptest.Options{ExtraLDIF: openLDAPSeed(300), SizeLimit: 100})
	set := Settings{URL: srv.URL, BindDN: ldaptest.ServiceDN, BaseDN: staffDN,
		GroupDNs: []string{teamDN("engineering"), teamDN("sales")}, PageSize: 40, DeleteAfterDays: 30}

	// The server does limit unpaged searches: paging is what reads them all.
	c := adminConn(t, srv)
	svc, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.Bind(ldaptest.ServiceDN, ldaptest.ServicePassword); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Search(ldap.NewSearchRequest(staffDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("an unpaged search of 300 users: %v; want sizeLimitExceeded", err)
	}

	f := newFixture(t)
	ctx := t.Context()

	// A dry run first: it lists everything and changes nothing.
	dry := f.run(t, "corp", set, true)
	if got := dry.Counts(); got["create_user"] != 200 || got["create_group"] != 2 || got["add_member"] != 200 {
		t.Fatalf("dry run counts %v", got)
	}
	if users, _ := f.core.Users(ctx); len(users) != 0 {
		t.Fatalf("the dry run created %d users", len(users))
	}
	if groups, _ := f.core.Groups(ctx); len(groups) != 0 {
		t.Fatalf("the dry run created %d groups", len(groups))
	}

	res := f.run(t, "corp", set, false)
	if res.Users != 200 || res.Counts()["create_user"] != 200 {
		t.Fatalf("first sync: %s", res.Summary())
	}
	users, err := f.core.Users(ctx)
	if err != nil || len(users) != 200 {
		t.Fatalf("users after the first sync: %d, %v", len(users), err)
	}
	u1 := f.user(t, "user001")
	if u1.Profile.RealName != "User 1" || u1.Profile.Email != "user001@corp.example" || u1.Profile.FirstName != "User" || u1.Profile.LastName != "1" {
		t.Errorf("user001's profile: %+v", u1.Profile)
	}
	if got := f.alias.m[u1.ID]; !slices.Equal(got, []string{"user001@corp.example"}) {
		t.Errorf("user001's aliases %v", got)
	}
	if _, err := f.core.User(ctx, "user250"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("user250 (in no synced group): %v", err)
	}
	if got, want := f.members(t, "engineering"), userRange(0, 150); !slices.Equal(got, want) {
		t.Errorf("engineering (nested through platform, with a cycle): %d members %v…", len(got), got[:min(3, len(got))])
	}
	if got, want := f.members(t, "sales"), userRange(200, 250); !slices.Equal(got, want) {
		t.Errorf("sales: %v", got)
	}
	if _, err := f.core.Group(ctx, "platform"); err == nil {
		t.Error("platform was created; only the named groups are synced")
	}
	if len(f.notes.names) != 200 {
		t.Errorf("the notifier heard of %d users", len(f.notes.names))
	}
	links, _ := f.core.UserDirectories(ctx, u1.ID)
	if len(links) != 1 || links[0].Directory != "corp" || !strings.HasPrefix(links[0].ExternalID, "entryuuid:") {
		t.Errorf("user001's source: %+v", links)
	}
	// The administrator log names the directory.
	logs, err := f.st.ListAdminLog(ctx, time.Time{}, f.clock.Now().Add(time.Hour), 100000)
	if err != nil || len(logs) == 0 {
		t.Fatalf("admin log: %d, %v", len(logs), err)
	}
	for _, l := range logs {
		if l.Actor != "directory:corp" {
			t.Fatalf("admin log row by %q: %+v", l.Actor, l)
		}
	}

	// Nothing changed: nothing to do.
	if res := f.run(t, "corp", set, false); len(res.Changes) != 0 {
		t.Fatalf("second sync changed %v", res.Changes)
	}

	// Changes in the directory: a new real name, a user moved from
	// sales to engineering, a user deleted.
	mod := ldap.NewModifyRequest(staffUserDN(1), nil)
	mod.Replace("cn", []string{"Ursula One"})
	must(t, c.Modify(mod))
	mod = ldap.NewModifyRequest(teamDN("sales"), nil)
	mod.Delete("member", []string{staffUserDN(210)})
	must(t, c.Modify(mod))
	mod = ldap.NewModifyRequest(teamDN("engineering"), nil)
	mod.Add("member", []string{staffUserDN(210)})
	must(t, c.Modify(mod))
	mod = ldap.NewModifyRequest(teamDN("engineering"), nil)
	mod.Delete("member", []string{staffUserDN(5)})
	must(t, c.Modify(mod))
	must(t, c.Del(ldap.NewDelRequest(staffUserDN(5), nil)))
	// user002 is renamed: a new DN and a new uid, the same entry
	// (entryUUID), in the same group.
	u2 := f.user(t, "user002")
	must(t, c.ModifyDN(ldap.NewModifyDNRequest(staffUserDN(2), "uid=user002x", true, "")))
	mod = ldap.NewModifyRequest(teamDN("engineering"), nil)
	mod.Delete("member", []string{staffUserDN(2)})
	mod.Add("member", []string{"uid=user002x," + staffDN})
	must(t, c.Modify(mod))

	before, _ := f.st.ListAdminLog(ctx, time.Time{}, f.clock.Now().Add(time.Hour), 100000)
	dry = f.run(t, "corp", set, true)
	want := map[string]int{"update_user": 2, "add_member": 1, "remove_member": 2, "disable_user": 1}
	if got := dry.Counts(); !mapsEqual(got, want) {
		t.Fatalf("dry run of the changes: %v; want %v\n%v", got, want, dry.Changes)
	}
	after, _ := f.st.ListAdminLog(ctx, time.Time{}, f.clock.Now().Add(time.Hour), 100000)
	if len(after) != len(before) || f.user(t, "user001").Profile.RealName != "User 1" {
		t.Fatal("the dry run changed something")
	}

	res = f.run(t, "corp", set, false)
	if got := res.Counts(); !mapsEqual(got, want) {
		t.Fatalf("sync of the changes: %v", got)
	}
	if got := f.user(t, "user001").Profile.RealName; got != "Ursula One" {
		t.Errorf("user001's real name %q", got)
	}
	if got := f.members(t, "engineering"); !slices.Contains(got, "user210") || slices.Contains(got, "user005") {
		t.Errorf("engineering after the move: %v", got)
	}
	if got := f.members(t, "sales"); slices.Contains(got, "user210") {
		t.Errorf("sales after the move: %v", got)
	}
	if u := f.user(t, "user002x"); u.ID != u2.ID || u.Status != store.StatusActive {
		t.Errorf("user002 renamed: %+v, was %s", u, u2.ID)
	}
	if u := f.user(t, "user005"); u.Status != store.StatusDisabled {
		t.Errorf("user005 gone from the directory is %s", u.Status)
	}

	// Before delete_after_days nothing more happens; after, it is deleted.
	f.clock.Advance(29 * 24 * time.Hour)
	if res := f.run(t, "corp", set, false); len(res.Changes) != 0 {
		t.Fatalf("sync after 29 days: %v", res.Changes)
	}
	f.clock.Advance(24 * time.Hour)
	res = f.run(t, "corp", set, false)
	if got := res.Counts(); got["delete_user"] != 1 || len(res.Changes) != 1 {
		t.Fatalf("sync after 30 days: %v", res.Changes)
	}
	if _, err := f.core.User(ctx, "user005"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("user005 after 30 days: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSyncADSchema syncs the AD-shaped directory of package ldaptest
// (sAMAccountName, userPrincipalName, memberOf) with the AD mapping; a
// user of the same name that existed locally is taken over, and one that
// comes back after being disabled is enabled again.
func TestSyncADSchema(t *testing.T) {
	t.Parallel()
	srv := ldaptest.Start(t, ldaptest.Options{Users: []ldaptest.User{
		{Name: "alice", Password: "a", Groups: []string{"vpnusers"}},
		{Name: "bob", Password: "b", Groups: []string{"vpnusers", "admins"}},
		{Name: "carol", Password: "c"},
	}})
	f := newFixture(t)
	ctx := t.Context()
	// bob exists already, created by an administrator.
	if _, err := f.core.AddUser(ctx, auth.NewUser{Username: "BOB", Profile: store.UserProfile{Notes: "kept"}}); err != nil {
		t.Fatal(err)
	}
	set := Settings{URL: srv.URL, BindDN: ldaptest.ServiceDN, BaseDN: ldaptest.PeopleDN, Schema: SchemaAD,
		// slapd knows neither objectCategory nor AD's in-chain rule.
		UserFilter: "(objectClass=assentADObject)", Nested: NestedRecursive,
		GroupDNs: []string{ldaptest.GroupDN("vpnusers"), ldaptest.GroupDN("admins")}}
	res := f.run(t, "ad", set, false)
	if got := res.Counts(); got["create_user"] != 1 || got["link_user"] != 1 || got["create_group"] != 2 {
		t.Fatalf("AD sync: %v", res.Changes)
	}
	alice := f.user(t, "alice")
	if got := f.alias.m[alice.ID]; !slices.Equal(got, []string{"alice@example.com"}) {
		// userPrincipalName and mail are the same here: one alias.
		t.Errorf("alice's aliases %v", got)
	}
	bob := f.user(t, "bob")
	if bob.Username != "bob" || bob.Profile.Notes != "kept" || bob.Profile.Email != "bob@example.com" {
		t.Errorf("bob taken over: %+v", bob)
	}
	if got := f.members(t, "vpnusers"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("vpnusers: %v", got)
	}
	if got := f.members(t, "admins"); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("admins: %v", got)
	}
	if _, err := f.core.User(ctx, "carol"); err == nil {
		t.Error("carol is in no synced group but was created")
	}

	// alice leaves vpnusers: disabled; she comes back: enabled.
	c := adminConn(t, srv)
	mod := ldap.NewModifyRequest(ldaptest.GroupDN("vpnusers"), nil)
	mod.Delete("member", []string{ldaptest.UserDN("alice")})
	must(t, c.Modify(mod))
	res = f.run(t, "ad", set, false)
	if u := f.user(t, "alice"); u.Status != store.StatusDisabled {
		t.Fatalf("alice out of every synced group: %s (%v)", u.Status, res.Changes)
	}
	mod = ldap.NewModifyRequest(ldaptest.GroupDN("vpnusers"), nil)
	mod.Add("member", []string{ldaptest.UserDN("alice")})
	must(t, c.Modify(mod))
	res = f.run(t, "ad", set, false)
	if u := f.user(t, "alice"); u.Status != store.StatusActive || res.Counts()["enable_user"] != 1 {
		t.Fatalf("alice back: %s (%v)", u.Status, res.Changes)
	}
}

func TestSyncErrors(t *testing.T) {
	t.Parallel()
	srv := ldaptest.Start(t, ldaptest.Options{})
	f := newFixture(t)
	set := Settings{URL: srv.URL, BindDN: ldaptest.ServiceDN, BaseDN: ldaptest.PeopleDN}
	if _, err := f.sync.Sync(t.Context(), "x", set, "wrong", false); err == nil || !strings.Contains(err.Error(), "bind") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := f.sync.Sync(t.Context(), "x", set, "", false); err == nil || !strings.Contains(err.Error(), "no bind password") {
		t.Errorf("no password: %v", err)
	}
	// A directory that suddenly returns nobody does not disable everybody.
	set.Schema, set.UserFilter, set.Nested = SchemaAD, "(objectClass=assentADObject)", NestedRecursive
	if res, err := f.sync.Sync(t.Context(), "x", set, ldaptest.ServicePassword, false); err != nil || res.Counts()["create_user"] != 4 {
		t.Fatalf("first sync: %v %v", res.Changes, err)
	}
	set.UserFilter = "(employeeType=nobody)"
	if _, err := f.sync.Sync(t.Context(), "x", set, ldaptest.ServicePassword, false); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty directory: %v", err)
	}
	if u, _ := f.core.User(t.Context(), "alice"); u.Status != store.StatusActive {
		t.Errorf("alice after an empty read: %s", u.Status)
	}
	set.URL = "ldap://127.0.0.1:1"
	if _, err := f.sync.Sync(t.Context(), "x", set, "pw", false); err == nil {
		t.Error("closed port: no error")
	}
}

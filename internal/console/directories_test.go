package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/directory"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

// TestConsoleDirectories: the directories page lists a stored directory
// (never its bind password); an administrator's dry run lists the changes
// and changes nothing, "sync now" makes them and records the result; help
// desk and read-only are refused; the CSRF token is required.
func TestConsoleDirectories(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{})
	s, clock := start(t)
	ctx := context.Background()
	set := directory.Settings{URL: srv.URL, BindDN: ldaptest.ServiceDN, BaseDN: ldaptest.PeopleDN, Schema: directory.SchemaAD,
		UserFilter: "(objectClass=assentADObject)", Nested: directory.NestedRecursive}
	pw := ldaptest.ServicePassword
	if _, err := s.App.Core.SaveDirectory(ctx, "corp", set.JSON(), &pw); err != nil {
		t.Fatal(err)
	}
	adm := newBrowser(t, s, clock)
	adm.setUp("admin@example.com", store.RoleAdministrator)
	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	ro := newBrowser(t, s, clock)
	ro.setUp("ro@example.com", store.RoleReadOnly)

	status, html, _ := adm.do("GET", "/admin/directories", nil)
	if status != 200 || !strings.Contains(html, `id="dir-corp"`) || !strings.Contains(html, srv.URL) || strings.Contains(html, pw) {
		t.Fatalf("directories: %d, shows the password: %v", status, strings.Contains(html, pw))
	}
	csrf := find(t, reCSRF, html)
	if status, _, _ := adm.do("POST", "/admin/directories/corp/sync", url.Values{"dry_run": {"on"}}); status != 403 {
		t.Errorf("without the CSRF token: %d", status)
	}
	for _, b := range []*browser{help, ro} {
		_, html, _ := b.do("GET", "/admin/directories", nil)
		if strings.Contains(html, "Sync now") {
			t.Errorf("%s sees the sync buttons", b.email)
		}
		if status, _, _ := b.do("POST", "/admin/directories/corp/sync", url.Values{"csrf": {find(t, reCSRF, html)}}); status != 403 {
			t.Errorf("%s sync: %d, want 403", b.email, status)
		}
	}
	status, html, _ = adm.do("POST", "/admin/directories/corp/sync", url.Values{"csrf": {csrf}, "dry_run": {"on"}})
	if status != 200 || !strings.Contains(html, "Dry run of corp") || !strings.Contains(html, "create_user alice") || strings.Contains(html, pw) {
		t.Fatalf("dry run: %d %s", status, html)
	}
	if _, err := s.App.Core.User(ctx, "alice"); err == nil {
		t.Fatal("the dry run created a user")
	}
	status, html, _ = adm.do("POST", "/admin/directories/corp/sync", url.Values{"csrf": {csrf}})
	if status != 200 || !strings.Contains(html, "The directory was synced") {
		t.Fatalf("sync: %d", status)
	}
	u, err := s.App.Core.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := s.App.Core.Directory(ctx, "corp"); d.LastSync.IsZero() || !strings.Contains(d.LastResult, "create_user 4") {
		t.Errorf("result not recorded: %+v", d)
	}
	if _, html, _ := adm.do("GET", "/admin/directories", nil); !strings.Contains(html, "create_user 4") {
		t.Error("the page does not show the last result")
	}
	if _, html, _ := adm.do("GET", "/admin/users/"+u.ID, nil); !strings.Contains(html, `id="managed-by"`) {
		t.Error("a synced user does not say it is managed by the directory")
	}
	if status, _, _ := adm.do("POST", "/admin/directories/nope/sync", url.Values{"csrf": {csrf}}); status != 404 {
		t.Errorf("unknown directory: %d", status)
	}
}

package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// TestConsolePolicies: the policies page shows each setting in force and
// where it comes from; an administrator edits an application's policy
// after the re-authentication (and not without it, nor without the CSRF
// token), unsets a setting, adds a group policy; the administrator log
// names who; help desk and read-only see the page but change nothing.
func TestConsolePolicies(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	in, _, err := s.App.Core.CreateIntegration(ctx, newIntegration("VPN"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.App.Core.CreateGroup(ctx, newGroup("staff"))
	if err != nil {
		t.Fatal(err)
	}
	days := 7
	if _, err := s.App.Core.ChangePolicy(ctx, auth.PolicyChange{Set: store.PolicySettings{RememberDays: &days}}); err != nil {
		t.Fatal(err)
	}
	adm := newBrowser(t, s, clock)
	adm.setUp("admin@example.com", store.RoleAdministrator)
	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	ro := newBrowser(t, s, clock)
	ro.setUp("ro@example.com", store.RoleReadOnly)

	// The overview: the global value is in force in the application, from
	// the global policy.
	status, html, _ := adm.do("GET", "/admin/policies", nil)
	if status != 200 || !strings.Contains(html, `id="`+in.IKey+`"`) || !strings.Contains(html, "global policy</td>") ||
		!strings.Contains(html, `href="/admin/policies/`+in.IKey+`"`) {
		t.Fatalf("policies: %d %s", status, html)
	}
	if _, html, _ := adm.do("GET", "/admin/applications/"+in.IKey, nil); !strings.Contains(html, `href="/admin/policies#`+in.IKey+`"`) {
		t.Error("the application page does not link to its policies")
	}

	page := "/admin/policies/" + in.IKey
	clock.Advance(6 * time.Minute) // outside the re-authentication window
	status, html, _ = adm.do("GET", page, nil)
	if status != 200 || !strings.Contains(html, `id="password"`) {
		t.Fatalf("edit page: %d, asks for the password: %v", status, strings.Contains(html, `id="password"`))
	}
	csrf := find(t, reCSRF, html)
	form := url.Values{"csrf": {csrf}, "set_networks": {"on"}, "networks": {"allow:192.0.2.0/24"},
		"set_trusted_device_days": {"on"}, "trusted_device_days": {"0"}}
	noCSRF := url.Values{}
	for k, v := range form {
		noCSRF[k] = v
	}
	noCSRF.Del("csrf")
	noCSRF.Set("password", password)
	noCSRF.Set("code", adm.code())
	if status, _, _ := adm.do("POST", page, noCSRF); status != 403 {
		t.Errorf("without the CSRF token: %d, want 403", status)
	}
	if status, html, _ := adm.do("POST", page, form); status != 401 || !strings.Contains(html, "password or code") {
		t.Errorf("without re-authentication: %d", status)
	}
	bad := url.Values{"csrf": {csrf}, "set_networks": {"on"}, "networks": {"allow:not-a-net"}, "password": {password}, "code": {adm.code()}}
	if status, _, _ := adm.do("POST", page, bad); status != 400 {
		t.Errorf("a bad network: %d, want 400", status)
	}
	if list, _ := s.App.Core.Policies(ctx); len(list) != 1 {
		t.Fatalf("a refused change was stored: %+v", list)
	}
	clock.Advance(30 * time.Second)
	form.Set("password", password)
	form.Set("code", adm.code())
	status, _, h := adm.do("POST", page, form)
	if status != 303 || !strings.HasPrefix(h.Get("Location"), "/admin/policies?done=saved") {
		t.Fatalf("save: %d %s", status, h.Get("Location"))
	}
	in2, _, _ := s.App.Core.Integration(ctx, in.IKey)
	own := auth.IntegrationPolicy(in2)
	if own.Networks == nil || len(*own.Networks) != 1 || (*own.Networks)[0].Range != "192.0.2.0/24" || own.RememberDays == nil || *own.RememberDays != 0 {
		t.Fatalf("stored: %+v", own)
	}
	_, html, _ = adm.do("GET", "/admin/policies", nil)
	if !strings.Contains(html, "allow:192.0.2.0/24") || !strings.Contains(html, "policy of VPN</td>") {
		t.Error("the overview does not show the new setting and its source")
	}

	// Unset one setting (now within the window: no password needed).
	status, _, _ = adm.do("POST", page, url.Values{"csrf": {csrf}, "set_networks": {"on"}, "networks": {"allow:192.0.2.0/24"}})
	if status != 303 {
		t.Fatalf("unset: %d", status)
	}
	in2, _, _ = s.App.Core.Integration(ctx, in.IKey)
	if own := auth.IntegrationPolicy(in2); own.RememberDays != nil || own.Networks == nil {
		t.Errorf("after unset: %+v", own)
	}

	// A group policy, from the overview's form.
	status, _, h = adm.do("GET", page+"?group="+g.ID, nil)
	if status != 303 || h.Get("Location") != page+"/"+g.ID {
		t.Fatalf("add a group policy: %d %s", status, h.Get("Location"))
	}
	if status, _, _ := adm.do("POST", page+"/"+g.ID, url.Values{"csrf": {csrf}, "set_methods": {"on"}, "methods": {"webauthn"}}); status != 303 {
		t.Fatalf("group policy: %d", status)
	}
	if _, html, _ := adm.do("GET", "/admin/policies", nil); !strings.Contains(html, "policy of group staff</td>") {
		t.Error("the group policy is not shown")
	}
	if status, _, _ := adm.do("GET", "/admin/policies/DIXXXXXXXXXXXXXXXXXX", nil); status != 404 {
		t.Errorf("unknown application: %d", status)
	}

	clock.Advance(2 * time.Second)
	rows, err := s.App.Core.AdminLogSince(ctx, time.Unix(0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if r.Action == "policy_update" && r.Actor == "admin:admin@example.com" && strings.HasPrefix(r.Object, in.IKey) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("policy_update rows by the administrator: %d, want 3", n)
	}

	// Help desk and read-only: they see the overview without edit links;
	// every edit is refused.
	before, _ := s.App.Core.Policies(ctx)
	for _, b := range []*browser{help, ro} {
		status, html, _ := b.do("GET", "/admin/policies", nil)
		if status != 200 || strings.Contains(html, "Edit the") || !strings.Contains(html, "allow:192.0.2.0/24") {
			t.Errorf("%s overview: %d", b.email, status)
		}
		for _, p := range []string{"/admin/policies/global", page, page + "/" + g.ID} {
			if status, _, _ := b.do("GET", p, nil); status != 403 {
				t.Errorf("%s GET %s: %d, want 403", b.email, p, status)
			}
			if status, _, _ := b.do("POST", p, url.Values{"csrf": {find(t, reCSRF, html)}, "set_networks": {"on"}, "networks": {""},
				"password": {password}, "code": {b.code()}}); status != 403 {
				t.Errorf("%s POST %s: %d, want 403", b.email, p, status)
			}
		}
	}
	if after, _ := s.App.Core.Policies(ctx); len(after) != len(before) {
		t.Errorf("policies changed by a refused role: %d → %d", len(before), len(after))
	}
}

package console_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/testutil/mailpittest"
)

// TestConsoleUserAliases: an administrator adds and removes aliases (the
// CSRF token required); help desk and read-only see them but cannot
// change them; a directory's user says which directory manages it;
// without an SMTP server the page says no e-mail can be sent and the
// request is refused with that reason.
func TestConsoleUserAliases(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	u, err := s.App.Core.CreateUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.App.Core.AddDirectoryUser(ctx, "corp-ad", "entryuuid:1", auth.NewUser{Username: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	adm := newBrowser(t, s, clock)
	adm.setUp("admin@example.com", store.RoleAdministrator)
	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	ro := newBrowser(t, s, clock)
	ro.setUp("ro@example.com", store.RoleReadOnly)

	page := "/admin/users/" + u.ID
	csrf := adm.csrf(page)
	if status, _, _ := adm.do("POST", page+"/aliases", url.Values{"alias": {"a.smith"}}); status != 403 {
		t.Errorf("add without the CSRF token: %d", status)
	}
	if status, _, h := adm.do("POST", page+"/aliases", url.Values{"csrf": {csrf}, "alias": {"a.smith"}}); status != 303 || !strings.HasSuffix(h.Get("Location"), "done=alias-added") {
		t.Fatalf("add: %d", status)
	}
	if status, html, _ := adm.do("POST", page+"/aliases", url.Values{"csrf": {csrf}, "alias": {"dave"}}); status != 400 && status != 409 {
		t.Errorf("an alias that is another user's name: %d %s", status, html)
	}
	if a, _ := s.App.Core.UserAliases(ctx, u.ID); strings.Join(a, ",") != "a.smith" {
		t.Fatalf("aliases: %q", a)
	}
	if got, err := s.App.Core.User(ctx, "a.smith"); err != nil || got.ID != u.ID {
		t.Errorf("the alias does not find the user: %v", err)
	}
	_, html, _ := adm.do("GET", page, nil)
	if !strings.Contains(html, "<code>a.smith</code>") || !strings.Contains(html, `id="no-mail"`) || strings.Contains(html, `id="managed-by"`) {
		t.Errorf("user page: %s", html)
	}
	// Help desk: no enrollment e-mail without a mail server, with the reason.
	if status, html, _ := help.do("POST", page+"/enroll-email", url.Values{"csrf": {help.csrf(page)}}); status != 400 || !strings.Contains(html, "smtp_server") {
		t.Errorf("enrollment e-mail without SMTP: %d", status)
	}
	for _, b := range []*browser{help, ro} {
		_, html, _ := b.do("GET", page, nil)
		if !strings.Contains(html, "<code>a.smith</code>") || strings.Contains(html, "Add alias") || strings.Contains(html, "Remove alias") {
			t.Errorf("%s sees the alias forms, or not the alias", b.email)
		}
		c := find(t, reCSRF, html)
		for _, p := range []string{page + "/aliases", page + "/aliases/remove"} {
			if status, _, _ := b.do("POST", p, url.Values{"csrf": {c}, "alias": {"a.smith"}}); status != 403 {
				t.Errorf("%s POST %s: %d, want 403", b.email, p, status)
			}
		}
	}
	if status, _, _ := ro.do("POST", page+"/enroll-email", url.Values{"csrf": {ro.csrf(page)}}); status != 403 {
		t.Errorf("read-only sends an enrollment e-mail: %d", status)
	}
	if status, _, _ := adm.do("POST", page+"/aliases/remove", url.Values{"csrf": {csrf}, "alias": {"A.Smith"}}); status != 303 {
		t.Errorf("remove: %d", status)
	}
	if a, _ := s.App.Core.UserAliases(ctx, u.ID); strings.Join(a, "") != "" {
		t.Errorf("after remove: %q", a)
	}
	if _, html, _ := adm.do("GET", "/admin/users/"+d.ID, nil); !strings.Contains(html, `id="managed-by"`) || !strings.Contains(html, "corp-ad") {
		t.Error("a directory's user does not say which directory manages it")
	}
	clock.Advance(2 * time.Second)
	rows, _ := s.App.Core.AdminLogSince(ctx, time.Unix(0, 0), 100)
	n := 0
	for _, r := range rows {
		if r.Actor == "admin:admin@example.com" && r.Object == "alice" {
			n++
		}
	}
	if n < 2 {
		t.Errorf("administrator-log rows for alice by the administrator: %d, want 2", n)
	}
}

// TestConsoleEnrollmentEmail: with an SMTP server (Mailpit) help desk
// sends the enrollment e-mail from the user page.
func TestConsoleEnrollmentEmail(t *testing.T) {
	mp := mailpittest.Start(t, mailpittest.Options{TLS: mailpittest.StartTLS, Username: "assent", Password: "smtp-Secret-1"})
	clock := testutil.NewClock(time.Now())
	s := assenttest.Start(t, assenttest.Options{Now: clock.Now, Flags: map[string]string{"smtp_server": mp.SMTPAddr,
		"smtp_tls": "starttls", "smtp_username": "assent", "smtp_password": "smtp-Secret-1", "smtp_ca_file": mp.CAFile,
		"mail_from": "Assent <assent@example.com>"}})
	ctx := context.Background()
	u, err := s.App.Core.CreateUser(ctx, "erin")
	if err != nil {
		t.Fatal(err)
	}
	email := "erin@example.com"
	if _, err := s.App.Core.ModifyUser(ctx, u.ID, auth.UserUpdate{Email: &email}); err != nil {
		t.Fatal(err)
	}
	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	page := "/admin/users/" + u.ID
	_, html, _ := help.do("GET", page, nil)
	if !strings.Contains(html, `id="send-enroll-email"`) {
		t.Fatal("no enrollment e-mail button")
	}
	if status, _, h := help.do("POST", page+"/enroll-email", url.Values{"csrf": {find(t, reCSRF, html)}}); status != 303 || !strings.HasSuffix(h.Get("Location"), "done=enroll-email") {
		t.Fatalf("send: %d", status)
	}
	msgs := mp.Wait(t, 1, 10*time.Second)
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0].Address != email || !strings.Contains(msgs[0].Text, "/portal/enroll/") {
		t.Errorf("messages: %+v", msgs)
	}
}

// TestConsoleEnrollmentLink: help desk creates an enrollment link shown on
// the answer only (logged, never the link itself); read-only may not; the
// form needs its CSRF token.
func TestConsoleEnrollmentLink(t *testing.T) {
	clock := testutil.NewClock(time.Now())
	s := assenttest.Start(t, assenttest.Options{Now: clock.Now})
	ctx := context.Background()
	u, err := s.App.Core.CreateUser(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	page := "/admin/users/" + u.ID
	ro := newBrowser(t, s, clock)
	ro.setUp("ro@example.com", store.RoleReadOnly)
	_, html, _ := ro.do("GET", page, nil)
	if strings.Contains(html, `id="create-enroll-link"`) {
		t.Error("read-only is offered the enrollment link")
	}
	if status, _, _ := ro.do("POST", page+"/enroll-link", url.Values{"csrf": {find(t, reCSRF, html)}}); status != 403 {
		t.Errorf("read-only creates a link: %d, want 403", status)
	}

	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	_, html, _ = help.do("GET", page, nil)
	if !strings.Contains(html, `id="create-enroll-link"`) || strings.Contains(html, `id="enroll-link"`) {
		t.Fatal("the user page: no button, or a link before one was asked for")
	}
	if status, _, _ := help.do("POST", page+"/enroll-link", url.Values{}); status != 403 {
		t.Errorf("no CSRF token: %d, want 403", status)
	}
	status, answer, _ := help.do("POST", page+"/enroll-link", url.Values{"csrf": {find(t, reCSRF, html)}})
	link := find(t, regexp.MustCompile(`id="enroll-link" type="text" readonly value="([^"]+)"`), answer)
	if status != 200 || !strings.Contains(link, "/portal/enroll/") {
		t.Fatalf("create: %d, link %q", status, link)
	}
	if _, again, _ := help.do("GET", page, nil); strings.Contains(again, link) {
		t.Error("the link is shown again on the user page")
	}
	clock.Advance(2 * time.Second) // rows are readable once a seal passes their second
	rows, err := s.App.Core.AdminLogSince(ctx, time.Unix(0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	logged := false
	for _, r := range rows {
		if r.Action == "enroll_link" && r.Object == "frank" {
			logged = true
		}
		if b, _ := json.Marshal(r); strings.Contains(string(b), strings.TrimPrefix(link, "https://")) {
			t.Errorf("the admin log holds the link: %s", b)
		}
	}
	if !logged {
		t.Errorf("no enroll_link row in the admin log: %+v", rows)
	}
}

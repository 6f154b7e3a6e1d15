package console_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
)

var (
	reSKey = regexp.MustCompile(`id="skey">([A-Za-z0-9]{40})<`)
	reIKey = regexp.MustCompile(`id="ikey">(DI[A-Z0-9]{18})<`)
)

// doMultipart posts a multipart form (a file upload) as a browser does:
// the file in the field "file", or "logo" for a file name starting so.
func (b *browser) doMultipart(path string, fields map[string]string, file string, content []byte) (int, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if file != "" {
		field := "file"
		if strings.HasPrefix(file, "logo") {
			field = "logo"
		}
		fw, _ := mw.CreateFormFile(field, file)
		_, _ = fw.Write(content)
	}
	_ = mw.Close()
	req, err := http.NewRequestWithContext(context.Background(), "POST", "https://"+b.s.Host+path, &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestConsoleApplications: an application created from the console shows
// its secret key once, on the answer to the POST; a reload creates
// nothing and shows nothing; rotation and deletion need the
// re-authentication; the administrator log names who and from where.
func TestConsoleApplications(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	b := newBrowser(t, s, clock)
	b.setUp("owner@example.com", store.RoleOwner)

	status, html, _ := b.do("GET", "/admin/applications", nil)
	if status != 200 || !strings.Contains(html, "Add an application") {
		t.Fatalf("applications: %d", status)
	}
	csrf := find(t, reCSRF, html)
	form := url.Values{"name": {"VPN"}, "type": {"authapi"}, "new_user_policy": {"enroll"}, "verified_push": {"0"},
		"nonce": {find(t, reNonce, html)}}
	if status, _, _ := b.do("POST", "/admin/applications", form); status != 403 {
		t.Errorf("create without the CSRF token: %d, want 403", status)
	}
	if list, _ := s.App.Core.Integrations(ctx); len(list) != 0 {
		t.Fatalf("a refused form created %d integrations", len(list))
	}
	form.Set("csrf", csrf)
	status, html, _ = b.do("POST", "/admin/applications", form)
	if status != 200 {
		t.Fatalf("create: %d %s", status, html)
	}
	skey, ikey := find(t, reSKey, html), find(t, reIKey, html)
	if _, got, err := s.App.Core.Integration(ctx, ikey); err != nil || got != skey {
		t.Fatalf("the page's secret key is not the integration's: %v", err)
	}
	// The same form again: nothing created, no secret.
	status, html, _ = b.do("POST", "/admin/applications", form)
	if status != 409 || strings.Contains(html, skey) || reSKey.MatchString(html) {
		t.Errorf("the create form sent twice: %d, secret shown %v", status, strings.Contains(html, skey))
	}
	if list, _ := s.App.Core.Integrations(ctx); len(list) != 1 {
		t.Errorf("%d integrations after the form sent twice", len(list))
	}
	page := "/admin/applications/" + ikey
	for _, p := range []string{page, "/admin/applications", page + "/rotate", page + "/delete"} {
		if status, html, _ := b.do("GET", p, nil); status != 200 || strings.Contains(html, skey) {
			t.Errorf("GET %s: %d, secret shown %v", p, status, strings.Contains(html, skey))
		}
	}

	// Edit.
	status, _, h := b.do("POST", page, url.Values{"csrf": {csrf}, "name": {"VPN gateway"}, "new_user_policy": {"deny"},
		"verified_push": {"3"}, "allowed_origins": {"https://App.example.com\nhttps://b.example:8443"}})
	if status != 303 || h.Get("Location") != page+"?done=saved" {
		t.Fatalf("edit: %d %s", status, h.Get("Location"))
	}
	in, _, _ := s.App.Core.Integration(ctx, ikey)
	if in.Name != "VPN gateway" || in.NewUserPolicy != store.PolicyDeny || in.VerifiedPush != 3 ||
		strings.Join(in.AllowedOrigins, " ") != "https://app.example.com https://b.example:8443" {
		t.Errorf("after edit: %+v", in)
	}
	if status, html, _ := b.do("POST", page, url.Values{"csrf": {csrf}, "name": {"VPN"}, "new_user_policy": {"enroll"},
		"verified_push": {"0"}, "allowed_origins": {"ftp://x"}}); status != 400 || !strings.Contains(html, "is not an origin") {
		t.Errorf("edit with a bad origin: %d", status)
	}

	// Rotate: outside the re-authentication window the password and a new
	// code are needed.
	clock.Advance(6 * time.Minute)
	_, html, _ = b.do("GET", page+"/rotate", nil)
	if !strings.Contains(html, `id="password"`) {
		t.Error("the rotate page asks for no re-authentication")
	}
	rot := url.Values{"csrf": {csrf}, "grace": {"24h"}, "nonce": {find(t, reNonce, html)}}
	if status, html, _ := b.do("POST", page+"/rotate", rot); status != 401 || reSKey.MatchString(html) {
		t.Errorf("rotate without re-authentication: %d", status)
	}
	if _, got, _ := s.App.Core.Integration(ctx, ikey); got != skey {
		t.Fatal("a refused rotation changed the key")
	}
	clock.Advance(30 * time.Second)
	rot.Set("password", password)
	rot.Set("code", b.code())
	status, html, _ = b.do("POST", page+"/rotate", rot)
	if status != 200 {
		t.Fatalf("rotate: %d %s", status, html)
	}
	skey2 := find(t, reSKey, html)
	in, got, _ := s.App.Core.Integration(ctx, ikey)
	if got != skey2 || skey2 == skey || (in.PrevSecretExpires.Sub(clock.Now())-24*time.Hour).Abs() > 2*time.Second {
		t.Errorf("after rotation: new key from the page %v, differs %v, previous key until %v", got == skey2, skey2 != skey, in.PrevSecretExpires)
	}
	if status, html, _ := b.do("POST", page+"/rotate", rot); status != 409 || reSKey.MatchString(html) {
		t.Errorf("the rotate form sent twice: %d", status)
	}
	if _, got, _ := s.App.Core.Integration(ctx, ikey); got != skey2 {
		t.Error("the rotate form sent twice rotated again")
	}
	if _, html, _ := b.do("GET", page, nil); strings.Contains(html, skey2) || !strings.Contains(html, `id="prev-key"`) {
		t.Error("the application page shows the new key, or not the previous key's grace")
	}

	// Delete: re-authentication and the name.
	clock.Advance(6 * time.Minute)
	if status, _, _ := b.do("POST", page+"/delete", url.Values{"csrf": {csrf}, "confirm": {"VPN gateway"}}); status != 401 {
		t.Errorf("delete without re-authentication: %d", status)
	}
	clock.Advance(30 * time.Second)
	if status, _, _ := b.do("POST", page+"/delete", url.Values{"csrf": {csrf}, "confirm": {"VPN"}, "password": {password}, "code": {b.code()}}); status != 400 {
		t.Errorf("delete with the wrong name: %d", status)
	}
	if status, _, h := b.do("POST", page+"/delete", url.Values{"csrf": {csrf}, "confirm": {"VPN gateway"}}); status != 303 ||
		h.Get("Location") != "/admin/applications?done=deleted" {
		t.Errorf("delete: %d %s", status, h.Get("Location"))
	}
	if _, _, err := s.App.Core.Integration(ctx, ikey); err == nil {
		t.Error("the integration is still there")
	}

	clock.Advance(2 * time.Second)
	rows, err := s.App.Core.AdminLogSince(ctx, time.Unix(0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"integration_create": false, "integration_update": false, "integration_rotate_secret": false, "integration_delete": false}
	for _, r := range rows {
		if _, ok := want[r.Action]; ok && r.Actor == "admin:owner@example.com" && r.IP == "127.0.0.1" && r.Object == ikey {
			want[r.Action] = true
		}
		if strings.Contains(r.Description, skey) || strings.Contains(r.Description, skey2) {
			t.Errorf("a secret key in the administrator log: %+v", r)
		}
	}
	for a, ok := range want {
		if !ok {
			t.Errorf("no %s row by admin:owner@example.com from 127.0.0.1", a)
		}
	}
}

// TestConsoleAppsRoles: help desk and read-only see applications, groups,
// tokens and settings and change none; only owners change settings. The
// server refuses whatever the page shows.
func TestConsoleAppsRoles(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	in, _, err := s.App.Core.CreateIntegration(ctx, newIntegration("Wiki"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.App.Core.CreateGroup(ctx, newGroup("staff"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Core.CreateUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	toks, err := s.App.Core.AddTokens(ctx, []authNewToken{hotpToken("T-1")})
	if err != nil {
		t.Fatal(err)
	}
	tok := toks[0]
	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	ro := newBrowser(t, s, clock)
	ro.setUp("ro@example.com", store.RoleReadOnly)
	adm := newBrowser(t, s, clock)
	adm.setUp("admin@example.com", store.RoleAdministrator)

	app := "/admin/applications/" + in.IKey
	for _, b := range []*browser{help, ro} {
		for _, tc := range []struct{ path, hidden string }{
			{"/admin/applications", "Add an application"},
			{app, "/rotate"},
			{"/admin/groups", "Add a group"},
			{"/admin/groups/" + g.ID, "Add to group"},
			{"/admin/tokens", "Import tokens"},
			{"/admin/tokens/" + tok.ID, "Resynchronize"},
			{"/admin/settings", "Save settings"},
		} {
			if status, html, _ := b.do("GET", tc.path, nil); status != 200 || strings.Contains(html, tc.hidden) {
				t.Errorf("%s GET %s: %d, shows %q: %v", b.email, tc.path, status, tc.hidden, strings.Contains(html, tc.hidden))
			}
		}
		for _, p := range []string{app + "/rotate", app + "/delete"} {
			if status, _, _ := b.do("GET", p, nil); status != 403 {
				t.Errorf("%s GET %s: %d, want 403", b.email, p, status)
			}
		}
		csrf := b.csrf("/admin/applications")
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{"/admin/applications", url.Values{"name": {"X"}, "type": {"authapi"}, "nonce": {"n" + b.email}}},
			{app, url.Values{"name": {"X"}}},
			{app + "/rotate", url.Values{"grace": {"0"}, "nonce": {"r" + b.email}, "password": {password}, "code": {b.code()}}},
			{app + "/delete", url.Values{"confirm": {"Wiki"}}},
			{"/admin/groups", url.Values{"name": {"x"}}},
			{"/admin/groups/" + g.ID, url.Values{"name": {"x"}, "status": {"disabled"}}},
			{"/admin/groups/" + g.ID + "/members", url.Values{"username": {"bob"}}},
			{"/admin/groups/" + g.ID + "/delete", url.Values{"confirm": {"staff"}}},
			{"/admin/tokens/" + tok.ID + "/assign", url.Values{"username": {"bob"}}},
			{"/admin/tokens/" + tok.ID + "/delete", url.Values{"confirm": {"T-1"}}},
			{"/admin/settings", url.Values{"lockout_threshold": {"3"}, "password": {password}, "code": {b.code()}}},
		} {
			tc.form.Set("csrf", csrf)
			if status, _, _ := b.do("POST", tc.path, tc.form); status != 403 {
				t.Errorf("%s POST %s: %d, want 403", b.email, tc.path, status)
			}
		}
		if status, _ := b.doMultipart("/admin/tokens/import", map[string]string{"csrf": csrf, "type": "h6"}, "t.csv",
			[]byte("T-2,3132333435363738393031323334353637383930\n")); status != 403 {
			t.Errorf("%s import: %d, want 403", b.email, status)
		}
	}
	// An administrator manages applications but not settings.
	csrf := adm.csrf("/admin/settings")
	if _, html, _ := adm.do("GET", "/admin/settings", nil); strings.Contains(html, "Save settings") {
		t.Error("an administrator sees the settings form")
	}
	if status, _, _ := adm.do("POST", "/admin/settings", url.Values{"csrf": {csrf}, "lockout_threshold": {"3"}}); status != 403 {
		t.Errorf("administrator POST /admin/settings: %d, want 403", status)
	}
	if status, _, _ := adm.do("POST", app, url.Values{"csrf": {csrf}, "name": {"Wiki 2"}, "new_user_policy": {"enroll"}, "verified_push": {"0"}}); status != 303 {
		t.Errorf("administrator edits an application: %d", status)
	}

	// Nothing the refused roles sent changed anything.
	list, _ := s.App.Core.Integrations(ctx)
	if len(list) != 1 || list[0].Name != "Wiki 2" {
		t.Errorf("integrations: %+v", list)
	}
	if _, skey, _ := s.App.Core.Integration(ctx, in.IKey); skey == "" {
		t.Error("no key")
	}
	if g2, _ := s.App.Core.Group(ctx, g.ID); g2.Name != "staff" || g2.Status != store.StatusActive {
		t.Errorf("group: %+v", g2)
	}
	if m, _ := s.App.Core.GroupMembers(ctx, g.ID); len(m) != 0 {
		t.Errorf("members: %v", m)
	}
	if t2, _ := s.App.Core.HardwareTokenByID(ctx, tok.ID); t2.UserID != "" {
		t.Error("the token was assigned")
	}
	if n := s.App.Core.LockoutThreshold(ctx); n != 10 {
		t.Errorf("lockout threshold %d", n)
	}
}

// TestConsoleGroupsAndTokens: a group is created, edited, given a member
// and deleted; tokens are imported (a file upload and pasted text, as
// `assent token import` reads them), assigned, resynchronized, unassigned
// and deleted.
func TestConsoleGroupsAndTokens(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	b := newBrowser(t, s, clock)
	b.setUp("owner@example.com", store.RoleOwner)
	alice, err := s.App.Core.CreateUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	csrf := b.csrf("/admin/groups")

	status, _, h := b.do("POST", "/admin/groups", url.Values{"csrf": {csrf}, "name": {"contractors"}, "desc": {"External staff"}, "status": {"active"}})
	if status != 303 || !strings.HasPrefix(h.Get("Location"), "/admin/groups/DG") {
		t.Fatalf("create group: %d %s", status, h.Get("Location"))
	}
	gpage := strings.TrimSuffix(h.Get("Location"), "?done=created")
	if status, html, _ := b.do("POST", "/admin/groups", url.Values{"csrf": {csrf}, "name": {"contractors"}, "status": {"active"}}); status != 400 ||
		!strings.Contains(html, "exists") {
		t.Errorf("a second group with the same name: %d", status)
	}
	if status, _, _ := b.do("POST", gpage+"/members", url.Values{"csrf": {csrf}, "username": {"alice"}}); status != 303 {
		t.Errorf("add member: %d", status)
	}
	if status, html, _ := b.do("POST", gpage+"/members", url.Values{"csrf": {csrf}, "username": {"nobody"}}); status != 400 || !strings.Contains(html, "no user nobody") {
		t.Errorf("add an unknown user: %d", status)
	}
	if status, _, _ := b.do("POST", gpage, url.Values{"csrf": {csrf}, "name": {"contractors"}, "desc": {""}, "status": {"disabled"}}); status != 303 {
		t.Errorf("edit group: %d", status)
	}
	status, html, _ := b.do("GET", gpage, nil)
	if status != 200 || !strings.Contains(html, ">alice</a>") || !strings.Contains(html, `id="member-count">1 member<`) {
		t.Errorf("group page: %d", status)
	}
	if st, err := s.App.Core.EffectiveStatus(ctx, s.App.Store, alice); err != nil || st != store.StatusDisabled {
		t.Errorf("alice in a disabled group: %s %v", st, err)
	}
	if status, _, _ := b.do("POST", gpage+"/members/"+alice.ID+"/remove", url.Values{"csrf": {csrf}}); status != 303 {
		t.Errorf("remove member: %d", status)
	}
	if m, _ := s.App.Core.GroupMembers(ctx, "contractors"); len(m) != 0 {
		t.Errorf("members after remove: %v", m)
	}
	if status, _, _ := b.do("POST", gpage+"/delete", url.Values{"csrf": {csrf}, "confirm": {"nope"}}); status != 400 {
		t.Errorf("delete group with the wrong name: %d", status)
	}
	if status, _, _ := b.do("POST", gpage+"/delete", url.Values{"csrf": {csrf}, "confirm": {"contractors"}}); status != 303 {
		t.Errorf("delete group: %d", status)
	}
	if _, err := s.App.Core.Group(ctx, "contractors"); err == nil {
		t.Error("the group is still there")
	}

	// Tokens: a CSV upload with a problem imports nothing and lists it.
	secret := []byte("12345678901234567890")
	bad := "H-1," + hex.EncodeToString(secret) + "\nH-2,zz\n"
	status, html = b.doMultipart("/admin/tokens/import", map[string]string{"csrf": csrf, "type": "h6"}, "tokens.csv", []byte(bad))
	if status != 400 || !strings.Contains(html, "line 2") {
		t.Errorf("import a bad file: %d %s", status, html)
	}
	if list, _ := s.App.Core.HardwareTokens(ctx); len(list) != 0 {
		t.Fatalf("a bad file imported %d tokens", len(list))
	}
	if status, _ := b.doMultipart("/admin/tokens/import", map[string]string{"type": "h6"}, "tokens.csv", []byte(bad)); status != 403 {
		t.Errorf("import without the CSRF token: %d", status)
	}
	status, html = b.doMultipart("/admin/tokens/import", map[string]string{"csrf": csrf, "type": "h6"}, "tokens.csv",
		[]byte("H-1,"+hex.EncodeToString(secret)+"\n"))
	if status != 200 || !strings.Contains(html, "1 token(s) imported") {
		t.Fatalf("import: %d %s", status, html)
	}
	// Pasted text: a TOTP token with a base32 secret.
	if status, html, _ := b.do("POST", "/admin/tokens/import", url.Values{"csrf": {csrf}, "text": {"T-9,JBSWY3DPEHPK3PXPJBSW\n"}, "type": {"t6"}}); status != 200 ||
		!strings.Contains(html, "1 token(s) imported") {
		t.Errorf("import pasted text: %d", status)
	}
	tok, err := s.App.Core.HardwareToken(ctx, "H-1")
	if err != nil {
		t.Fatal(err)
	}
	tpage := "/admin/tokens/" + tok.ID
	if status, _, _ := b.do("POST", tpage+"/assign", url.Values{"csrf": {csrf}, "username": {"alice"}}); status != 303 {
		t.Errorf("assign: %d", status)
	}
	if t2, _ := s.App.Core.HardwareToken(ctx, "H-1"); t2.UserID != alice.ID {
		t.Error("not assigned")
	}
	if _, html, _ := b.do("GET", "/admin/tokens", nil); !strings.Contains(html, ">alice</a>") {
		t.Error("the token list does not name alice")
	}
	// Resync from two consecutive codes far ahead.
	c1, c2 := otp.HOTP(secret, 50, 6, otp.SHA1), otp.HOTP(secret, 51, 6, otp.SHA1)
	if status, _, _ := b.do("POST", tpage+"/resync", url.Values{"csrf": {csrf}, "code1": {c2}, "code2": {c1}}); status != 400 {
		t.Errorf("resync with codes out of order: %d", status)
	}
	if status, _, _ := b.do("POST", tpage+"/resync", url.Values{"csrf": {csrf}, "code1": {c1}, "code2": {c2}}); status != 303 {
		t.Errorf("resync: %d", status)
	}
	if t2, _ := s.App.Core.HardwareToken(ctx, "H-1"); t2.Counter != 52 {
		t.Errorf("counter after resync %d, want 52", t2.Counter)
	}
	if status, _, _ := b.do("POST", tpage+"/assign", url.Values{"csrf": {csrf}, "unassign": {"1"}}); status != 303 {
		t.Errorf("unassign: %d", status)
	}
	if t2, _ := s.App.Core.HardwareToken(ctx, "H-1"); t2.UserID != "" {
		t.Error("still assigned")
	}
	if status, _, _ := b.do("POST", tpage+"/delete", url.Values{"csrf": {csrf}, "confirm": {"H-1"}}); status != 303 {
		t.Errorf("delete token: %d", status)
	}
	if _, err := s.App.Core.HardwareToken(ctx, "H-1"); err == nil {
		t.Error("the token is still there")
	}
}

// TestConsoleSettings: an owner changes the lockout threshold and the
// issuer name, after the re-authentication.
func TestConsoleSettings(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	b := newBrowser(t, s, clock)
	b.setUp("owner@example.com", store.RoleOwner)
	csrf := b.csrf("/admin/settings")
	clock.Advance(6 * time.Minute)
	form := url.Values{"csrf": {csrf}, "lockout_threshold": {"5"}, "totp_issuer": {"Example Corp"}}
	if status, _, _ := b.do("POST", "/admin/settings", form); status != 401 {
		t.Errorf("settings without re-authentication: %d", status)
	}
	if n := s.App.Core.LockoutThreshold(ctx); n != 10 {
		t.Errorf("a refused form set the threshold to %d", n)
	}
	clock.Advance(30 * time.Second)
	form.Set("password", password)
	form.Set("code", b.code())
	for _, bad := range []url.Values{{"lockout_threshold": {"0"}}, {"lockout_threshold": {"x"}}, {"totp_issuer": {"a:b"}}} {
		f := url.Values{"csrf": {csrf}, "lockout_threshold": {"5"}}
		for k, v := range bad {
			f[k] = v
		}
		if status, _, _ := b.do("POST", "/admin/settings", f); status != 400 {
			t.Errorf("settings %v: %d, want 400", bad, status)
		}
	}
	if status, _, h := b.do("POST", "/admin/settings", form); status != 303 || h.Get("Location") != "/admin/settings?done=saved" {
		t.Fatalf("settings: %d %s", status, h.Get("Location"))
	}
	if n, iss := s.App.Core.LockoutThreshold(ctx), s.App.Core.TOTPIssuer(ctx); n != 5 || iss != "Example Corp" {
		t.Errorf("after save: threshold %d, issuer %q", n, iss)
	}
	u, _ := s.App.Core.CreateUser(ctx, "dora")
	e, err := s.App.Core.AddTOTPApp(ctx, u.ID, newApp())
	if err != nil || !strings.Contains(e.URI, "issuer=Example%20Corp") {
		t.Errorf("a new app's URI %q (%v)", e.URI, err)
	}
	// Empty goes back to the configuration.
	if status, _, _ := b.do("POST", "/admin/settings", url.Values{"csrf": {csrf}, "lockout_threshold": {"5"}, "totp_issuer": {""}}); status != 303 {
		t.Errorf("clear the issuer: %d", status)
	}
	if iss := s.App.Core.TOTPIssuer(ctx); iss != "Assent" {
		t.Errorf("issuer after clearing %q", iss)
	}

	// Pushes per user: set for every node, refused when malformed, and
	// back to the configuration.
	for _, bad := range []string{"5", "0/1m", "1/0s"} {
		if status, _, _ := b.do("POST", "/admin/settings", url.Values{"csrf": {csrf}, "push_limit": {bad}}); status != 400 {
			t.Errorf("push limit %q: %d, want 400", bad, status)
		}
	}
	if status, _, _ := b.do("POST", "/admin/settings", url.Values{"csrf": {csrf}, "push_limit": {"2/10m"}}); status != 303 {
		t.Errorf("set the push limit: %d", status)
	}
	if got, set := s.App.Core.PushLimit(ctx); got != "2/10m" || !set {
		t.Errorf("push limit after saving: %q, %v", got, set)
	}
	if _, html, _ := b.do("GET", "/admin/settings", nil); !strings.Contains(html, `id="push_limit_reset"`) || !strings.Contains(html, `value="2/10m"`) {
		t.Error("the settings page does not show the push limit set")
	}
	if status, _, _ := b.do("POST", "/admin/settings", url.Values{"csrf": {csrf}, "push_limit": {"2/10m"}, "push_limit_reset": {"on"}}); status != 303 {
		t.Errorf("reset the push limit: %d", status)
	}
	if got, set := s.App.Core.PushLimit(ctx); set || got == "2/10m" {
		t.Errorf("push limit after going back to the configuration: %q, %v", got, set)
	}

	// A logo: a small PNG is stored and served by /auth/v2/logo; anything
	// else is refused.
	fields := map[string]string{"csrf": csrf, "lockout_threshold": "5", "totp_issuer": "Assent"}
	var img bytes.Buffer
	m := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 7)
	}
	if err := png.Encode(&img, m); err != nil {
		t.Fatal(err)
	}
	huge := image.NewGray(image.Rect(0, 0, 2000, 10))
	var big bytes.Buffer
	_ = png.Encode(&big, huge)
	for name, content := range map[string][]byte{
		"not a PNG":    []byte("GIF89a not a png"),
		"truncated":    img.Bytes()[:img.Len()/2],
		"too wide":     big.Bytes(),
		"over 64 KiB":  append(bytes.Clone(img.Bytes()), make([]byte, 65<<10)...),
		"over the cap": make([]byte, 200<<10),
	} {
		status, html := b.doMultipart("/admin/settings", fields, "logo.png", content)
		if status < 400 || status > 403 {
			t.Errorf("logo %s: %d", name, status)
		}
		if status == 400 && !strings.Contains(html, "logo") {
			t.Errorf("logo %s: no message about the logo", name)
		}
	}
	if got := s.App.Core.Logo(ctx); got != nil {
		t.Fatalf("a refused logo was stored (%d bytes)", len(got))
	}
	if status, html := b.doMultipart("/admin/settings", fields, "logo.png", img.Bytes()); status != 303 {
		t.Fatalf("upload a logo: %d %s", status, html)
	}
	if got := s.App.Core.Logo(ctx); !bytes.Equal(got, img.Bytes()) {
		t.Errorf("stored logo: %d bytes, want %d", len(got), img.Len())
	}
	if _, html, h := b.do("GET", "/admin/settings", nil); !strings.Contains(html, `id="logo" src="data:image/png;base64,`) ||
		!strings.Contains(h.Get("Content-Security-Policy"), "img-src 'self' data:") {
		t.Error("the settings page does not show the logo")
	}
	in, skey, err := s.App.Core.CreateIntegration(ctx, newIntegration("api"))
	if err != nil {
		t.Fatal(err)
	}
	logo := func() []byte {
		t.Helper()
		req, err := duosig.Signer{IKey: in.IKey, SKey: skey, Host: s.Host, Now: clock.Now}.NewRequest(ctx, "GET", "/auth/v2/logo", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("/auth/v2/logo: %d %s", resp.StatusCode, body)
		}
		return body
	}
	if got := logo(); !bytes.Equal(got, img.Bytes()) {
		t.Errorf("/auth/v2/logo serves %d bytes, not the uploaded logo", len(got))
	}
	fields["logo_reset"] = "on"
	if status, _ := b.doMultipart("/admin/settings", fields, "", nil); status != 303 {
		t.Errorf("reset the logo: %d", status)
	}
	if got := logo(); bytes.Equal(got, img.Bytes()) || !bytes.HasPrefix(got, []byte("\x89PNG")) {
		t.Errorf("after the reset /auth/v2/logo serves %d bytes", len(got))
	}
}

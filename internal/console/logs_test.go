package console_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

var (
	reLogLink = regexp.MustCompile(`href="/admin/logs/(?:auth|admin)/(\d+)"`)
	reOlder   = regexp.MustCompile(`href="([^"]+)" rel="next">Older`)
	reNewer   = regexp.MustCompile(`href="([^"]+)" rel="prev">Newer`)
	reCount   = regexp.MustCompile(`id="log-count">(\d+) row`)
)

func unescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// TestConsoleAuthLog: filters, pages that stay put while rows arrive, the
// detail view and the CSV export with its escaping, for every role.
func TestConsoleAuthLog(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	owner := newBrowser(t, s, clock)
	owner.setUp("owner@example.com", store.RoleOwner)
	ro := newBrowser(t, s, clock)
	ro.setUp("reader@example.com", store.RoleReadOnly)
	alice, err := s.App.Core.CreateUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := s.App.Core.CreateIntegration(ctx, auth.NewIntegration{Name: "VPN", Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatal(err)
	}
	t0 := clock.Now().Add(-2 * time.Hour)
	add := func(l store.AuthLog) store.AuthLog {
		t.Helper()
		if err := s.App.Store.AppendAuthLog(ctx, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	// 120 of alice's: every third denied.
	for i := range 120 {
		l := store.AuthLog{TxID: fmt.Sprintf("tx%03d", i), Time: t0.Add(time.Duration(i) * time.Second), IKey: in.IKey, UserID: alice.ID,
			Username: "alice", Factor: "passcode", Result: "allow", Reason: "valid_passcode", IP: "192.0.2.1"}
		if i%3 == 0 {
			l.Result, l.Reason = "deny", "invalid_passcode"
		}
		add(l)
	}
	fraud := add(store.AuthLog{TxID: "txfraud", Time: t0.Add(time.Hour), IKey: in.IKey, UserID: alice.ID, Username: "alice",
		Factor: "duo_push", Device: "DP000000000000000001", Result: "deny", Reason: auth.ReasonUserMarkedFraud, IP: "203.0.113.9",
		Hostname: "vpn-gw-1", Groups: []store.LogGroup{{ID: "DG000000000000000001", Name: "VPN users"}}})
	evil := add(store.AuthLog{TxID: "txevil", Time: t0.Add(time.Hour + time.Second), IKey: in.IKey, Username: `=HYPERLINK("http://x","a,b")`,
		Factor: "passcode", Result: "deny", Reason: "user_not_enrolled", IP: "198.51.100.2", Hostname: "+1\nline two"})
	clock.Advance(2 * time.Second) // the rows' seconds are sealed

	for _, b := range []*browser{owner, ro} {
		status, html, _ := b.do("GET", "/admin/logs/auth?range=24h&user=alice&result=deny", nil)
		if status != 200 || find(t, reCount, html) != "41" {
			t.Fatalf("user=alice result=deny: %d, %s", status, html)
		}
	}
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"", "122"},
		{"?user=" + alice.ID, "121"},
		{"?result=fraud", "1"},
		{"?result=allow&factor=passcode", "80"},
		{"?app=" + in.IKey + "&factor=duo_push", "1"},
		{"?user=%3DHYPERLINK(%22http%3A%2F%2Fx%22%2C%22a%2Cb%22)", "1"}, // an unknown username
		{"?range=1h", "0"},
		{"?range=all&from=" + t0.Add(time.Hour).UTC().Format("2006-01-02T15:04"), "2"},
	} {
		status, html, _ := owner.do("GET", "/admin/logs/auth"+tc.query, nil)
		if status != 200 || find(t, reCount, html) != tc.want {
			t.Errorf("auth log %s: %d, %s rows, want %s", tc.query, status, reCount.FindString(html), tc.want)
		}
	}
	for _, bad := range []string{"?range=2y", "?from=yesterday", "?result=maybe"} {
		if status, _, _ := owner.do("GET", "/admin/logs/auth"+bad, nil); status != 400 {
			t.Errorf("auth log %s: %d, want 400", bad, status)
		}
	}

	// Pages of alice's rows, newest first, while new rows arrive: each
	// row once, none missed.
	var seen []string
	path := "/admin/logs/auth?user=alice&range=all"
	for n := 0; path != "" && n < 10; n++ {
		status, html, _ := owner.do("GET", path, nil)
		if status != 200 {
			t.Fatalf("%s: %d", path, status)
		}
		for _, m := range reLogLink.FindAllStringSubmatch(html, -1) {
			seen = append(seen, m[1])
		}
		add(store.AuthLog{TxID: fmt.Sprintf("late%d", n), Time: clock.Now(), UserID: alice.ID, Username: "alice", Result: "allow"})
		path = ""
		if m := reOlder.FindStringSubmatch(html); m != nil {
			path = unescape(m[1])
		}
	}
	if len(seen) != 121 || len(slices.Compact(slices.Clone(seen))) != 121 {
		t.Errorf("paged through %d rows (%d distinct), want 121", len(seen), len(slices.Compact(slices.Clone(seen))))
	}
	// Newer from the second page is the first page again.
	_, first, _ := owner.do("GET", "/admin/logs/auth?user=alice&range=all", nil)
	_, second, _ := owner.do("GET", unescape(find(t, reOlder, first)), nil)
	_, back, _ := owner.do("GET", unescape(find(t, reNewer, second)), nil)
	if got, want := reLogLink.FindAllString(back, -1), reLogLink.FindAllString(first, -1); !slices.Equal(got, want) {
		t.Errorf("newer page = %v, want the first page %v", got, want)
	}

	// The detail view.
	status, html, _ := ro.do("GET", fmt.Sprintf("/admin/logs/auth/%d", fraud.ID), nil)
	for _, want := range []string{"203.0.113.9", "vpn-gw-1", "VPN users (DG000000000000000001)", "DP000000000000000001",
		"user_marked_fraud", "reported as fraud", "VPN (" + in.IKey + ")", "/admin/users/" + alice.ID, "txfraud"} {
		if status != 200 || !strings.Contains(html, want) {
			t.Errorf("detail view: %d, no %q in\n%s", status, want, html)
		}
	}
	for _, bad := range []string{"/admin/logs/auth/999999", "/admin/logs/auth/x", "/admin/logs/admin/999999"} {
		if status, _, _ := owner.do("GET", bad, nil); status != 404 {
			t.Errorf("%s: %d, want 404", bad, status)
		}
	}

	// CSV of a filtered set: every row, escaped, formulas defused.
	status, body, h := ro.do("GET", "/admin/logs/auth.csv?range=all&result=deny", nil)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", status, h)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	if len(recs) != 1+40+2 || recs[0][0] != "time" || recs[0][4] != "username" {
		t.Fatalf("csv: %d records, header %v", len(recs), recs[0])
	}
	row := recs[1] // newest first: the evil row
	if row[1] != "txevil" || row[4] != `'=HYPERLINK("http://x","a,b")` || row[11] != "'+1\nline two" || row[6] != "VPN" {
		t.Errorf("csv row = %q", row)
	}
	if recs[2][1] != "txfraud" || recs[2][12] != "VPN users" || recs[2][3] != "user_marked_fraud" {
		t.Errorf("csv row = %q", recs[2])
	}
	_ = evil
}

func TestConsoleAdminLog(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	owner := newBrowser(t, s, clock)
	owner.setUp("owner@example.com", store.RoleOwner)
	help := newBrowser(t, s, clock)
	help.setUp("help@example.com", store.RoleHelpDesk)
	for _, l := range []store.AdminLog{
		{Actor: "admin:owner@example.com", Action: "user_create", Object: "bob", Description: `{"username":"bob","realname":"-2+3"}`, IP: "192.0.2.5"},
		{Actor: "cli:root@host", Action: "user_create", Object: "carol"},
		{Actor: "admin:owner@example.com", Action: "user_delete", Object: "@bob"},
	} {
		l.Time = clock.Now()
		if err := s.App.Store.AppendAdminLog(ctx, &l); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Second)
	for _, tc := range []struct{ query, want string }{
		{"?action=user_create", "2"},
		{"?actor=admin:owner@example.com&action=user_create", "1"},
		{"?object=%40bob", "1"},
		{"?actor=nobody", "0"},
	} {
		status, html, _ := help.do("GET", "/admin/logs/admin"+tc.query, nil)
		if status != 200 || find(t, reCount, html) != tc.want {
			t.Errorf("admin log %s: %d, %s, want %s", tc.query, status, reCount.FindString(html), tc.want)
		}
	}
	_, html, _ := help.do("GET", "/admin/logs/admin?object=bob", nil)
	id := find(t, reLogLink, html)
	status, html, _ := help.do("GET", "/admin/logs/admin/"+id, nil)
	for _, want := range []string{"admin:owner@example.com", "user_create", "192.0.2.5", `realname: &#34;-2&#43;3&#34;`} {
		if status != 200 || !strings.Contains(html, want) {
			t.Errorf("admin detail: %d, no %q in\n%s", status, want, html)
		}
	}
	status, body, _ := help.do("GET", "/admin/logs/admin.csv?actor=admin:owner@example.com", nil)
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if status != 200 || err != nil || len(recs) != 3 {
		t.Fatalf("admin csv: %d %v %q", status, err, recs)
	}
	if recs[1][4] != "'@bob" || recs[2][4] != "bob" || recs[2][6] != `{"username":"bob","realname":"-2+3"}` {
		t.Errorf("admin csv rows = %q", recs[1:])
	}
}

// TestConsoleDashboardCharts: the charts count the log by hour and day,
// fraud apart, in SVG with a text alternative; the lists name the users.
func TestConsoleDashboardCharts(t *testing.T) {
	s, clock := start(t)
	ctx := context.Background()
	b := newBrowser(t, s, clock)
	b.setUp("owner@example.com", store.RoleOwner)
	u, err := s.App.Core.CreateUser(ctx, "dora")
	if err != nil {
		t.Fatal(err)
	}
	u.Status, u.LockoutReason = store.StatusLockedOut, "failed_attempts"
	if err := s.App.Store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	// A push waiting for dora's answer.
	dev := store.Device{ID: "DP000000000000000042", UserID: u.ID, Name: "phone", Platform: "Android", PublicKey: "x",
		HOTPSecretEnc: []byte{1}, Created: now}
	if err := s.App.Store.CreateDevice(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if err := s.App.Store.CreateTransaction(ctx, store.Transaction{ID: "0b7f4a52-1c36-4c49-9a43-3f1f0d0c7e01", UserID: u.ID,
		DeviceID: dev.ID, IKey: "DIXXXXXXXXXXXXXXXXXX", Factor: "push", State: store.TxPushed, Type: "Login", DisplayUsername: "dora",
		IP: "198.51.100.77", Created: now, Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for i, r := range []struct {
		ago            time.Duration
		result, reason string
	}{
		{time.Minute, "allow", "valid_passcode"},
		{time.Minute, "deny", "invalid_passcode"},
		{2 * time.Hour, "deny", "invalid_passcode"},
		{3 * time.Hour, "deny", auth.ReasonUserMarkedFraud},
		{5 * 24 * time.Hour, "deny", "locked_out"},
	} {
		l := store.AuthLog{TxID: fmt.Sprint("d", i), Time: now.Add(-r.ago), Result: r.result, Reason: r.reason, UserID: u.ID, Username: "dora"}
		if err := s.App.Store.AppendAuthLog(ctx, &l); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Second)
	status, html, h := b.do("GET", "/admin/", nil)
	if status != 200 || strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Fatalf("dashboard: %d %v", status, h)
	}
	for _, want := range []string{
		`id="n-allowed">1<`, `id="n-denied">2<`, `id="n-fraud">1<`,
		`aria-labelledby="chart-hours-title chart-hours-desc"`,
		`Authentications per hour, last 24 hours (UTC): 1 allowed, 2 denied, 1 reported as fraud.`,
		`Authentications per day, last 30 days (UTC): 1 allowed, 3 denied, 1 reported as fraud.`,
		`<rect class="bar-allow"`, `<rect class="bar-deny"`, `<rect class="bar-fraud"`,
		`<td>invalid_passcode</td>`, `href="/admin/users/` + u.ID + `">dora</a>`,
		`id="n-pending">1<`, `<table id="pending-pushes">`, `<td>DIXXXXXXXXXXXXXXXXXX</td>`, `198.51.100.77`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("dashboard has no %q", want)
		}
	}
	if strings.Contains(html, "style=") || strings.Contains(html, "<script") {
		t.Error("dashboard has inline style or script")
	}
	// The largest reason first.
	if i, j := strings.Index(html, ">invalid_passcode<"), strings.Index(html, ">locked_out<"); i < 0 || j < 0 || i > j {
		t.Errorf("reasons out of order: %d %d", i, j)
	}
}

package adminapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

type activityItem struct {
	AccessDevice struct {
		IP struct {
			Address *string `json:"address"`
		} `json:"ip"`
	} `json:"access_device"`
	Action      string `json:"action"`
	ActivityID  string `json:"activity_id"`
	Actor       map[string]any
	Application map[string]any `json:"application"`
	Target      map[string]any `json:"target"`
	TS          string         `json:"ts"`
}

type activityPage struct {
	Items    []activityItem `json:"items"`
	Metadata struct {
		NextOffset   *string `json:"next_offset"`
		TotalObjects struct {
			Relation string `json:"relation"`
			Value    int    `json:"value"`
		} `json:"total_objects"`
	} `json:"metadata"`
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// TestActivityLog: the administrator log in Duo's v2 activity schema,
// paged with next_offset in each form clients send it, in both orders,
// and the parameter errors.
func TestActivityLog(t *testing.T) {
	clock := testutil.NewClock(time.Now().Truncate(time.Second))
	s := assenttest.Start(t, assenttest.Options{Now: clock.Now})
	ikey, skey := integration(t, s, store.TypeAdminAPI, "all")
	ctx := auth.WithActor(t.Context(), auth.Actor{Who: "cli:root@console"})
	start := clock.Now()
	for i := range 7 {
		if _, err := s.App.Core.CreateUser(ctx, fmt.Sprintf("user%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Through the Admin API: the integration is the actor.
	if status, e := call(t, s, ikey, skey, 5, "POST", "/admin/v1/users", url.Values{"username": {"api-user"}}); status != 200 {
		t.Fatalf("POST /admin/v1/users: %d %+v", status, e)
	}
	clock.Advance(2 * time.Second) // past the rows' second: readable
	window := url.Values{"mintime": {ms(start.Add(-time.Minute))}, "maxtime": {ms(clock.Now())}}
	get := func(extra url.Values) (int, envelope, activityPage) {
		t.Helper()
		q := url.Values{}
		for k, v := range window {
			q[k] = v
		}
		for k, v := range extra {
			q[k] = v
		}
		status, e := call(t, s, ikey, skey, 2, "GET", "/admin/v2/logs/activity", q)
		var p activityPage
		if status == 200 {
			if err := json.Unmarshal(e.Response, &p); err != nil {
				t.Fatalf("activity: %v: %s", err, e.Response)
			}
		}
		return status, e, p
	}
	// The whole window: the integration's creation, 7 users, the API's user.
	status, e, all := get(nil)
	if status != 200 || len(all.Items) != 9 || all.Metadata.TotalObjects.Value != 9 || all.Metadata.TotalObjects.Relation != "eq" ||
		all.Metadata.NextOffset != nil {
		t.Fatalf("activity: %d %s", status, e.Response)
	}
	// Newest first by default.
	api, cli := all.Items[0], all.Items[1]
	if api.Action != "user_create" || api.Actor["type"] != "integration" || api.Actor["key"] != ikey ||
		api.Application == nil || api.Application["key"] != ikey || api.Application["type"] != "adminapi" ||
		api.Target["type"] != "user" || api.Target["name"] != "api-user" || api.AccessDevice.IP.Address == nil {
		t.Errorf("API change = %+v", api)
	}
	if cli.Actor["type"] != "admin" || cli.Actor["name"] != "root@console" || cli.Application != nil || cli.AccessDevice.IP.Address != nil ||
		cli.Target["name"] != "user6" || cli.ActivityID == "" || !strings.HasSuffix(cli.TS, "+00:00") {
		t.Errorf("CLI change = %+v", cli)
	}
	if ts, err := time.Parse("2006-01-02T15:04:05.999999-07:00", cli.TS); err != nil || ts.Before(start) {
		t.Errorf("ts %q: %v", cli.TS, err)
	}
	ids := func(items []activityItem) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.ActivityID)
		}
		return out
	}
	want := ids(all.Items)
	// Pages of 2, the offset sent as the metadata gave it, as two values,
	// and as duo_log_sync's one-element list (one value).
	for _, form := range []string{"joined", "repeated"} {
		var got []string
		var off *string
		for range 10 {
			extra := url.Values{"limit": {"2"}}
			if off != nil {
				if form == "joined" {
					extra["next_offset"] = []string{*off}
				} else {
					extra["next_offset"] = strings.Split(*off, ",")
				}
			}
			status, e, p := get(extra)
			if status != 200 || p.Metadata.TotalObjects.Value != 9 {
				t.Fatalf("page (%s): %d %s", form, status, e.Response)
			}
			got = append(got, ids(p.Items)...)
			if off = p.Metadata.NextOffset; off == nil {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged (%s) = %v, want %v", form, got, want)
		}
	}
	// Oldest first, as duo_log_sync asks.
	_, _, asc := get(url.Values{"sort": {"ts:asc"}, "limit": {"1000"}})
	rev := slices.Clone(want)
	slices.Reverse(rev)
	if !slices.Equal(ids(asc.Items), rev) || asc.Items[0].Action != "integration_create" {
		t.Errorf("ts:asc = %v, want %v", ids(asc.Items), rev)
	}
	// A row written after a page is read lands after the cursor.
	_, _, first := get(url.Values{"sort": {"ts:asc"}, "limit": {"9"}})
	if _, err := s.App.Core.CreateUser(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	window.Set("maxtime", ms(clock.Now()))
	_, _, next := get(url.Values{"sort": {"ts:asc"}, "next_offset": {*first.Metadata.NextOffset}})
	if len(next.Items) != 1 || next.Items[0].Target["name"] != "late" {
		t.Errorf("after the cursor: %+v", next.Items)
	}
	for _, tc := range []struct {
		name   string
		params url.Values
		detail string
	}{
		{"no mintime", url.Values{"mintime": {""}}, "mintime"},
		{"seconds, not ms", url.Values{"maxtime": {"x"}}, "maxtime"},
		{"maxtime before mintime", url.Values{"maxtime": {"1"}}, "maxtime"},
		{"limit above 1000", url.Values{"limit": {"1001"}}, "limit"},
		{"bad sort", url.Values{"sort": {"name"}}, "sort"},
		{"offset of one value", url.Values{"next_offset": {"1700000000000"}}, "next_offset"},
		{"offset not numbers", url.Values{"next_offset": {"1700000000000,abc"}}, "next_offset"},
	} {
		status, e, _ := get(tc.params)
		if status != 400 || e.Code != 40002 || !strings.Contains(e.Detail, tc.detail) {
			t.Errorf("%s: %d %+v", tc.name, status, e)
		}
	}
}

// TestAuthLogV2Groups: v2 rows name the user's groups at the time of the
// authentication, and the groups filter takes group ids.
func TestAuthLogV2Groups(t *testing.T) {
	clock := testutil.NewClock(time.Now().Truncate(time.Second))
	s := assenttest.Start(t, assenttest.Options{Now: clock.Now})
	ikey, skey := integration(t, s, store.TypeAdminAPI, "all")
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	ctx := t.Context()
	start := clock.Now()
	s.User(t, "alice")
	s.User(t, "bob")
	g, err := s.App.Core.CreateGroup(ctx, auth.NewGroup{Name: "VPN users", Status: store.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.App.Core.AddGroupMember(ctx, g.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		s.BypassCodes(t, u, 1, 0)
		call(t, s, aikey, askey, 2, "POST", "/auth/v2/auth", url.Values{"username": {u}, "factor": {"passcode"}, "passcode": {"000000001"}})
	}
	clock.Advance(2 * time.Second)
	q := url.Values{"mintime": {ms(start.Add(-time.Minute))}, "maxtime": {ms(clock.Now())}}
	type row struct {
		User struct {
			Name   string   `json:"name"`
			Groups []string `json:"groups"`
		} `json:"user"`
	}
	logs := func(q url.Values) []row {
		t.Helper()
		status, e := call(t, s, ikey, skey, 2, "GET", "/admin/v2/logs/authentication", q)
		var out struct {
			AuthLogs []row `json:"authlogs"`
		}
		if status != 200 || json.Unmarshal(e.Response, &out) != nil {
			t.Fatalf("authlog: %d %+v", status, e)
		}
		return out.AuthLogs
	}
	rows := logs(q)
	groups := map[string][]string{}
	for _, r := range rows {
		groups[r.User.Name] = r.User.Groups
	}
	// Both rows may share a second, so their order is the txids'.
	if len(rows) != 2 || groups["bob"] == nil || len(groups["bob"]) != 0 || !slices.Equal(groups["alice"], []string{"VPN users"}) {
		t.Errorf("authlog users = %+v", rows)
	}
	q.Set("groups", g.ID)
	if rows := logs(q); len(rows) != 1 || rows[0].User.Name != "alice" {
		t.Errorf("groups=%s: %+v", g.ID, rows)
	}
	q.Set("groups", "DGNOSUCHGROUP0000000")
	if rows := logs(q); len(rows) != 0 {
		t.Errorf("groups=unknown: %+v", rows)
	}
}

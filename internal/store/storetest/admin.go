package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

func testUsersPage(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Created out of username order and some in the same second: the page
	// order is (created, id).
	var want []string
	for i := 1; i <= 7; i++ {
		u := mkUser(i, fmt.Sprintf("user%d", 8-i))
		u.Created = at(time.Duration(i/2) * time.Second)
		must(t, "CreateUser", s.CreateUser(ctx, u))
		want = append(want, u.ID)
	}
	must(t, "UpdateUserProfile", s.UpdateUserProfile(ctx, userID(3),
		store.UserProfile{RealName: "Carol C", Email: "carol@example.com", Notes: "n", FirstName: "Carol", LastName: "C"}))
	wantErr(t, "UpdateUserProfile of a missing user", s.UpdateUserProfile(ctx, userID(99), store.UserProfile{}), store.ErrNotFound)
	got, err := s.GetUser(ctx, userID(3))
	must(t, "GetUser", err)
	if got.Profile.Email != "carol@example.com" || got.Profile.FirstName != "Carol" {
		t.Errorf("GetUser profile = %+v", got.Profile)
	}
	var paged []string
	for off := 0; ; off += 3 {
		page, total, err := s.ListUsersPage(ctx, store.UserPage{Offset: off, Limit: 3})
		must(t, "ListUsersPage", err)
		if total != 7 {
			t.Fatalf("ListUsersPage total = %d, want 7", total)
		}
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			paged = append(paged, u.ID)
		}
	}
	if !slices.Equal(paged, want) {
		t.Errorf("ListUsersPage order = %v, want %v", paged, want)
	}
	for _, tc := range []struct {
		name string
		p    store.UserPage
		want []string
	}{
		{"username, other case", store.UserPage{Username: "USER5", Limit: 10}, []string{userID(3)}},
		{"email", store.UserPage{Email: "carol@example.com", Limit: 10}, []string{userID(3)}},
		{"no such email", store.UserPage{Email: "x@example.com", Limit: 10}, nil},
		{"invalid username", store.UserPage{Username: "\x00", Limit: 10}, nil},
	} {
		page, total, err := s.ListUsersPage(ctx, tc.p)
		must(t, "ListUsersPage "+tc.name, err)
		var ids []string
		for _, u := range page {
			ids = append(ids, u.ID)
		}
		if !slices.Equal(ids, tc.want) || total != len(tc.want) {
			t.Errorf("ListUsersPage %s = %v (total %d), want %v", tc.name, ids, total, tc.want)
		}
	}
	n, err := s.CountUsers(ctx)
	if err != nil || n != 7 {
		t.Errorf("CountUsers = %d, %v; want 7", n, err)
	}
}

func testIntegrationAdmin(t *testing.T, s store.Store) {
	ctx := context.Background()
	in := store.Integration{IKey: ikey(1), Name: "admin", Type: store.TypeAdminAPI, SecretEnc: []byte("s1"),
		NewUserPolicy: store.PolicyEnroll, Created: at(0), Grants: []string{store.GrantReadLog}}
	must(t, "CreateIntegration", s.CreateIntegration(ctx, in))
	got, err := s.GetIntegration(ctx, in.IKey)
	must(t, "GetIntegration", err)
	if !slices.Equal(got.Grants, in.Grants) {
		t.Errorf("Grants = %v, want %v", got.Grants, in.Grants)
	}
	must(t, "SetIntegrationGrants", s.SetIntegrationGrants(ctx, in.IKey, store.AllGrants))
	wantErr(t, "SetIntegrationGrants missing", s.SetIntegrationGrants(ctx, ikey(9), nil), store.ErrNotFound)
	got, _ = s.GetIntegration(ctx, in.IKey)
	if !slices.Equal(got.Grants, store.AllGrants) {
		t.Errorf("Grants = %v, want all", got.Grants)
	}
	must(t, "RotateIntegrationSecret", s.RotateIntegrationSecret(ctx, in.IKey, []byte("s2"), at(time.Hour)))
	got, _ = s.GetIntegration(ctx, in.IKey)
	if string(got.SecretEnc) != "s2" || string(got.PrevSecretEnc) != "s1" || !sec(got.PrevSecretExpires).Equal(sec(at(time.Hour))) {
		t.Errorf("after rotation: secret %q, previous %q until %v", got.SecretEnc, got.PrevSecretEnc, got.PrevSecretExpires)
	}
	must(t, "RotateIntegrationSecret without grace", s.RotateIntegrationSecret(ctx, in.IKey, []byte("s3"), time.Time{}))
	got, _ = s.GetIntegration(ctx, in.IKey)
	if string(got.SecretEnc) != "s3" || len(got.PrevSecretEnc) != 0 || !got.PrevSecretExpires.IsZero() {
		t.Errorf("after rotation without grace: secret %q, previous %q until %v", got.SecretEnc, got.PrevSecretEnc, got.PrevSecretExpires)
	}
	wantErr(t, "RotateIntegrationSecret missing", s.RotateIntegrationSecret(ctx, ikey(9), []byte("x"), time.Time{}), store.ErrNotFound)
}

func testAdminLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, tm := range []time.Time{at(0), at(time.Second), at(-time.Hour)} {
		l := &store.AdminLog{Time: tm, Actor: "cli:root@host", Action: "user_create", Object: fmt.Sprint("u", i), Description: `{"a":1}`}
		must(t, "AppendAdminLog", s.AppendAdminLog(ctx, l))
		if l.ID <= 0 {
			t.Errorf("AppendAdminLog ID = %d", l.ID)
		}
		if i == 2 && !sec(l.Time).Equal(sec(at(time.Second))) {
			t.Errorf("AppendAdminLog of an older row: Time = %v, want it raised to the clock %v", l.Time, sec(at(time.Second)))
		}
	}
	rows, err := s.ListAdminLog(ctx, at(0), at(time.Hour), 10)
	must(t, "ListAdminLog", err)
	if len(rows) != 3 || rows[0].Object != "u0" || rows[2].Object != "u2" || rows[0].Description != `{"a":1}` {
		t.Errorf("ListAdminLog = %+v", rows)
	}
	rows, err = s.ListAdminLog(ctx, at(time.Second), at(time.Hour), 1)
	must(t, "ListAdminLog", err)
	if len(rows) != 1 || rows[0].Object != "u1" {
		t.Errorf("ListAdminLog since, limit 1 = %+v", rows)
	}
}

// testLogClock checks the exporter guarantee: after SealLogs returns T,
// every row committed later is stamped at or after T, whatever time its
// writer gave it.
func testLogClock(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &store.AuthLog{TxID: "a", Time: at(0), Result: "allow"}))
	sealed, err := s.SealLogs(ctx, store.LogAuth, at(10*time.Second))
	must(t, "SealLogs", err)
	if !sec(sealed).Equal(sec(at(10 * time.Second))) {
		t.Errorf("SealLogs = %v, want %v", sealed, sec(at(10*time.Second)))
	}
	// A reader at an earlier clock gets the clock, not its own now.
	again, err := s.SealLogs(ctx, store.LogAuth, at(5*time.Second))
	must(t, "SealLogs", err)
	if !again.Equal(sealed) {
		t.Errorf("SealLogs with an earlier now = %v, want %v", again, sealed)
	}
	late := &store.AuthLog{TxID: "b", Time: at(time.Second), Result: "deny"}
	must(t, "AppendAuthLog", s.AppendAuthLog(ctx, late))
	if late.Time.Before(sealed) {
		t.Errorf("row committed after SealLogs(%v) stamped %v, before it", sealed, late.Time)
	}
	rows, _, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: at(0), Max: sealed, Limit: 10})
	must(t, "QueryAuthLog", err)
	if len(rows) != 1 || rows[0].TxID != "a" {
		t.Errorf("QueryAuthLog before the seal = %+v, want only a", rows)
	}
	// The admin log has its own clock.
	al, err := s.SealLogs(ctx, store.LogAdmin, at(0))
	must(t, "SealLogs admin", err)
	if al.After(sec(at(0))) {
		t.Errorf("admin log clock = %v, moved by the auth log", al)
	}
}

func testQueryAuthLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	u1, u2 := userID(1), userID(2)
	// Two rows per second for 6 seconds, the pair sharing a txid in
	// seconds 2 and 3; alternate users, results and factors.
	var all []*store.AuthLog
	for i := range 12 {
		tx := fmt.Sprintf("tx-%02d", i)
		if i/2 == 2 || i/2 == 3 {
			tx = fmt.Sprintf("tx-s%d", i/2)
		}
		l := &store.AuthLog{TxID: tx, Time: at(time.Duration(i/2) * time.Second), UserID: []string{u1, u2}[i%2],
			IKey: ikey(1 + i%3), Result: []string{"allow", "deny"}[i%2], Factor: []string{"push", "bypass_code", "passcode"}[i%3],
			Reason: "r"}
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, l))
		all = append(all, l)
	}
	ids := func(rows []store.AuthLog) []int64 {
		var out []int64
		for _, r := range rows {
			out = append(out, r.ID)
		}
		return out
	}
	// Page through everything in both directions with limit 3.
	for _, desc := range []bool{false, true} {
		var got []int64
		var after store.AuthLogCursor
		for range 20 {
			rows, total, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: at(0), Max: at(time.Hour), Desc: desc, After: after, Limit: 3})
			must(t, "QueryAuthLog", err)
			if total != 12 {
				t.Fatalf("QueryAuthLog total = %d, want 12", total)
			}
			if len(rows) == 0 {
				break
			}
			got = append(got, ids(rows)...)
			last := rows[len(rows)-1]
			after = store.AuthLogCursor{Time: last.Time, TxID: last.TxID}
		}
		if len(got) != 12 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 12 {
			t.Errorf("QueryAuthLog desc=%v pages: %v, want all 12 rows once", desc, got)
		}
		for i := 1; i < len(got); i++ {
			a, b := all[got[i-1]-all[0].ID], all[got[i]-all[0].ID]
			if (!desc && b.Time.Before(a.Time)) || (desc && a.Time.Before(b.Time)) {
				t.Errorf("QueryAuthLog desc=%v out of order at %d: %v", desc, i, got)
			}
		}
	}
	for _, tc := range []struct {
		name string
		q    store.AuthLogQuery
		want int
	}{
		{"window", store.AuthLogQuery{Min: at(time.Second), Max: at(3 * time.Second)}, 4},
		{"users", store.AuthLogQuery{UserIDs: []string{u1}}, 6},
		{"two users", store.AuthLogQuery{UserIDs: []string{u1, u2}}, 12},
		{"results", store.AuthLogQuery{Results: []string{"deny"}}, 6},
		{"factors", store.AuthLogQuery{Factors: []string{"push", "passcode"}}, 8},
		{"ikeys", store.AuthLogQuery{IKeys: []string{ikey(1)}}, 4},
		{"reasons", store.AuthLogQuery{Reasons: []string{"nope"}}, 0},
		{"users and results", store.AuthLogQuery{UserIDs: []string{u1}, Results: []string{"deny"}}, 0},
	} {
		q := tc.q
		if q.Max.IsZero() {
			q.Min, q.Max = at(0), at(time.Hour)
		}
		q.Limit = 100
		rows, total, err := s.QueryAuthLog(ctx, q)
		must(t, "QueryAuthLog "+tc.name, err)
		if len(rows) != tc.want || total != tc.want {
			t.Errorf("QueryAuthLog %s: %d rows, total %d; want %d", tc.name, len(rows), total, tc.want)
		}
	}
}

// testLogClockConcurrent races writers that stamp rows with stale times
// (as a slow request would) against an exporter that polls with a cursor,
// resuming from the last row it saw: when the writers are done and a final
// poll is made, the exporter has seen every row exactly once.
func testLogClockConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, perWriter = 4, 40
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				// Stale by up to 3 s relative to the row count so far.
				l := &store.AuthLog{TxID: fmt.Sprintf("w%d-%03d", w, i), Time: at(time.Duration(i/4) * time.Second), Result: "allow"}
				if err := s.AppendAuthLog(ctx, l); err != nil {
					t.Errorf("AppendAuthLog: %v", err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	seen := map[string]int{}
	var after store.AuthLogCursor
	now := at(0)
	poll := func() {
		// The exporter's clock moves on a second per poll.
		now = now.Add(time.Second)
		sealed, err := s.SealLogs(ctx, store.LogAuth, now)
		if err != nil {
			t.Fatalf("SealLogs: %v", err)
		}
		for {
			rows, _, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: at(-time.Hour), Max: sealed, After: after, Limit: 7})
			if err != nil {
				t.Fatalf("QueryAuthLog: %v", err)
			}
			if len(rows) == 0 {
				return
			}
			for _, r := range rows {
				seen[r.TxID]++
			}
			last := rows[len(rows)-1]
			after = store.AuthLogCursor{Time: last.Time, TxID: last.TxID}
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		poll()
	}
	// Everything is committed: one more poll past every stamp.
	now = now.Add(time.Hour)
	poll()
	if len(seen) != writers*perWriter {
		t.Errorf("exporter saw %d distinct rows, want %d", len(seen), writers*perWriter)
	}
	for tx, n := range seen {
		if n != 1 {
			t.Errorf("exporter saw %s %d times", tx, n)
		}
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// The console's reads of the logs (store.ConsoleLogQueries).

// RunConsoleLogTests runs the conformance tests of the console's log
// pages and dashboard charts (kept out of RunTests' table so branches
// merge without conflicts).
func RunConsoleLogTests(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("GetLogRows", func(t *testing.T) { testGetLogRows(t, open(t)) })
	t.Run("CountAuthLog", func(t *testing.T) { testCountAuthLog(t, open(t)) })
	t.Run("AuthLogFilters", func(t *testing.T) { testConsoleAuthLogFilters(t, open(t)) })
	t.Run("AdminLogFilters", func(t *testing.T) { testAdminLogFilters(t, open(t)) })
	t.Run("AuthLogPagesUnderInserts", func(t *testing.T) { testAuthLogPagesUnderInserts(t, open(t)) })
	t.Run("PendingPushes", func(t *testing.T) { testPendingPushes(t, open(t)) })
}

func testPendingPushes(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	d := mkDevice(1, alice.ID, at(0))
	createDevices(t, s, d)
	now := at(time.Hour)
	newer := mkTx(1, alice.ID, d.ID, now.Add(-time.Second), now.Add(time.Minute))
	older := mkTx(2, alice.ID, d.ID, now.Add(-time.Minute), now.Add(time.Second))
	noDevice := mkTx(3, "", "", now.Add(-2*time.Minute), now.Add(time.Minute))
	answered := mkTx(4, alice.ID, d.ID, now, now.Add(time.Minute))
	answered.State, answered.Answered = store.TxAllow, now
	expired := mkTx(5, alice.ID, d.ID, now.Add(-time.Minute), now)
	createTxs(t, s, newer, older, noDevice, answered, expired)
	ids := func(txs []store.Transaction) []string {
		var out []string
		for _, tx := range txs {
			out = append(out, tx.ID)
		}
		return out
	}
	got, err := s.ListPendingPushes(ctx, now, 10)
	must(t, "ListPendingPushes", err)
	if want := []string{newer.ID, older.ID, noDevice.ID}; !slices.Equal(ids(got), want) {
		t.Errorf("ListPendingPushes = %v, want %v", ids(got), want)
	}
	if len(got) > 0 && (got[0].DisplayUsername != "alice" || got[0].IKey != newer.IKey || !sec(got[0].Created).Equal(sec(newer.Created))) {
		t.Errorf("ListPendingPushes[0] = %+v", got[0])
	}
	got, err = s.ListPendingPushes(ctx, now, 1)
	must(t, "ListPendingPushes limit 1", err)
	if want := []string{newer.ID}; !slices.Equal(ids(got), want) {
		t.Errorf("ListPendingPushes limit 1 = %v, want %v", ids(got), want)
	}
}

func testGetLogRows(t *testing.T, s store.Store) {
	ctx := context.Background()
	l := store.AuthLog{TxID: "tx-get", Time: at(0), IKey: ikey(1), UserID: userID(1), Username: "alice",
		Factor: "passcode", Device: "DP000000000000000001", Result: "deny", Reason: "invalid_passcode",
		IP: "192.0.2.7", Hostname: "vpn1", Groups: []store.LogGroup{{ID: "DG000000000000000001", Name: "VPN"}}}
	must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &l))
	got, err := s.GetAuthLog(ctx, l.ID)
	must(t, "GetAuthLog", err)
	want := l
	want.Time = sec(l.Time)
	got.Time = sec(got.Time)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GetAuthLog = %+v, want %+v", got, want)
	}
	if _, err := s.GetAuthLog(ctx, l.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAuthLog(unknown) err = %v, want ErrNotFound", err)
	}
	a := store.AdminLog{Time: at(0), Actor: "admin:olive@example.com", Action: "user_create", Object: "alice",
		Description: `{"username":"alice"}`, IP: "198.51.100.4"}
	must(t, "AppendAdminLog", s.AppendAdminLog(ctx, &a))
	ga, err := s.GetAdminLog(ctx, a.ID)
	must(t, "GetAdminLog", err)
	a.Time = sec(a.Time)
	ga.Time = sec(ga.Time)
	if ga != a {
		t.Errorf("GetAdminLog = %+v, want %+v", ga, a)
	}
	if _, err := s.GetAdminLog(ctx, a.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAdminLog(unknown) err = %v, want ErrNotFound", err)
	}
}

func testCountAuthLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	day := time.Date(2025, time.March, 14, 0, 0, 0, 0, time.UTC)
	rows := []struct {
		at             time.Duration
		result, reason string
	}{
		{9*time.Hour + 5*time.Minute, "allow", "valid_passcode"},
		{9*time.Hour + 59*time.Minute + 59*time.Second, "allow", "valid_passcode"},
		{9*time.Hour + 30*time.Minute, "deny", "invalid_passcode"},
		{10 * time.Hour, "deny", "user_marked_fraud"},
		{10*time.Hour + 1*time.Second, "allow", "user_approved"},
		{10*time.Hour + 2*time.Second, "deny", "invalid_passcode"},
		{10*time.Hour + 3*time.Second, "deny", "invalid_passcode"},
		{12 * time.Hour, "allow", "valid_passcode"}, // outside the window below
		{-time.Hour, "deny", "locked_out"},          // the day before
	}
	for i, r := range rows {
		l := store.AuthLog{TxID: fmt.Sprint("c", i), Time: day.Add(r.at), Result: r.result, Reason: r.reason}
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &l))
	}
	h := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }
	got, err := s.CountAuthLog(ctx, h(9), h(12), time.Hour)
	must(t, "CountAuthLog hours", err)
	want := []store.AuthLogCount{
		{Start: h(9), Result: "allow", Reason: "valid_passcode", N: 2},
		{Start: h(9), Result: "deny", Reason: "invalid_passcode", N: 1},
		{Start: h(10), Result: "allow", Reason: "user_approved", N: 1},
		{Start: h(10), Result: "deny", Reason: "invalid_passcode", N: 2},
		{Start: h(10), Result: "deny", Reason: "user_marked_fraud", N: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("CountAuthLog hours =\n%v\nwant\n%v", got, want)
	}
	got, err = s.CountAuthLog(ctx, day.Add(-24*time.Hour), day.Add(24*time.Hour), 24*time.Hour)
	must(t, "CountAuthLog days", err)
	want = []store.AuthLogCount{
		{Start: day.Add(-24 * time.Hour), Result: "deny", Reason: "locked_out", N: 1},
		{Start: day, Result: "allow", Reason: "user_approved", N: 1},
		{Start: day, Result: "allow", Reason: "valid_passcode", N: 3},
		{Start: day, Result: "deny", Reason: "invalid_passcode", N: 3},
		{Start: day, Result: "deny", Reason: "user_marked_fraud", N: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("CountAuthLog days =\n%v\nwant\n%v", got, want)
	}
	if got, err := s.CountAuthLog(ctx, h(20), h(22), time.Hour); err != nil || len(got) != 0 {
		t.Errorf("CountAuthLog empty window = %v, %v", got, err)
	}
	if _, err := s.CountAuthLog(ctx, h(9), h(12), time.Millisecond); err == nil {
		t.Error("CountAuthLog with a width under a second: no error")
	}
}

func testConsoleAuthLogFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	rows := []store.AuthLog{
		{TxID: "a", Time: at(0), IKey: ikey(1), UserID: userID(1), Username: "alice", Factor: "passcode", Result: "allow"},
		{TxID: "b", Time: at(time.Second), IKey: ikey(2), UserID: userID(1), Username: "alice", Factor: "push", Result: "deny"},
		{TxID: "c", Time: at(2 * time.Second), IKey: ikey(1), Username: "mallory", Factor: "passcode", Result: "deny"},
		{TxID: "d", Time: at(3 * time.Second), IKey: ikey(1), UserID: userID(2), Username: "bob", Factor: "push", Result: "allow"},
	}
	for i := range rows {
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &rows[i]))
	}
	for _, tc := range []struct {
		name string
		q    store.AuthLogQuery
		want []string
	}{
		{"all", store.AuthLogQuery{}, []string{"a", "b", "c", "d"}},
		{"unknown username", store.AuthLogQuery{Usernames: []string{"mallory"}}, []string{"c"}},
		{"username is exact", store.AuthLogQuery{Usernames: []string{"Mallory"}}, nil},
		{"user and result", store.AuthLogQuery{UserIDs: []string{userID(1)}, Results: []string{"deny"}}, []string{"b"}},
		{"application and factor", store.AuthLogQuery{IKeys: []string{ikey(1)}, Factors: []string{"push"}}, []string{"d"}},
		{"time window", store.AuthLogQuery{Min: at(time.Second), Max: at(3 * time.Second)}, []string{"b", "c"}},
	} {
		q := tc.q
		if q.Min.IsZero() {
			q.Min = at(0)
		}
		if q.Max.IsZero() {
			q.Max = at(time.Hour)
		}
		q.Limit = 10
		got, total, err := s.QueryAuthLog(ctx, q)
		must(t, "QueryAuthLog "+tc.name, err)
		var txids []string
		for _, l := range got {
			txids = append(txids, l.TxID)
		}
		if !slices.Equal(txids, tc.want) || total != len(tc.want) {
			t.Errorf("QueryAuthLog %s = %v (total %d), want %v", tc.name, txids, total, tc.want)
		}
	}
}

func testAdminLogFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	rows := []store.AdminLog{
		{Time: at(0), Actor: "admin:olive@example.com", Action: "user_create", Object: "alice"},
		{Time: at(time.Second), Actor: "cli:root@host", Action: "user_create", Object: "bob"},
		{Time: at(2 * time.Second), Actor: "admin:olive@example.com", Action: "user_delete", Object: "alice"},
		{Time: at(3 * time.Second), Actor: "integration:" + ikey(1), Action: "user_update", Object: "bob"},
	}
	for i := range rows {
		must(t, "AppendAdminLog", s.AppendAdminLog(ctx, &rows[i]))
	}
	for _, tc := range []struct {
		name string
		q    store.AdminLogQuery
		want []int
	}{
		{"all", store.AdminLogQuery{}, []int{0, 1, 2, 3}},
		{"actor", store.AdminLogQuery{Actors: []string{"admin:olive@example.com"}}, []int{0, 2}},
		{"action", store.AdminLogQuery{Actions: []string{"user_create"}}, []int{0, 1}},
		{"object", store.AdminLogQuery{Objects: []string{"bob"}}, []int{1, 3}},
		{"all three", store.AdminLogQuery{Actors: []string{"admin:olive@example.com"}, Actions: []string{"user_delete", "user_update"}, Objects: []string{"alice"}}, []int{2}},
		{"no match", store.AdminLogQuery{Actors: []string{"admin:OLIVE@example.com"}}, nil},
	} {
		q := tc.q
		q.Min, q.Max, q.Limit = at(0), at(time.Hour), 10
		got, total, err := s.QueryAdminLog(ctx, q)
		must(t, "QueryAdminLog "+tc.name, err)
		var idx []int
		for _, l := range got {
			idx = append(idx, slices.IndexFunc(rows, func(r store.AdminLog) bool { return r.ID == l.ID }))
		}
		if !slices.Equal(idx, tc.want) || total != len(tc.want) {
			t.Errorf("QueryAdminLog %s = rows %v (total %d), want %v", tc.name, idx, total, tc.want)
		}
	}
}

// testAuthLogPagesUnderInserts: newest first, as the console pages, with
// rows added at the top between pages: the next page continues where the
// last one ended, no row twice, none missed.
func testAuthLogPagesUnderInserts(t *testing.T, s store.Store) {
	ctx := context.Background()
	var want []string
	for i := range 9 {
		l := store.AuthLog{TxID: fmt.Sprintf("p%02d", i), Time: at(time.Duration(i/2) * time.Second), Result: "deny"}
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &l))
		want = append([]string{l.TxID}, want...)
	}
	var (
		got   []string
		after store.AuthLogCursor
	)
	for page := 0; page < 10; page++ {
		rows, _, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: at(0), Max: at(time.Hour), Desc: true, After: after, Limit: 3})
		must(t, "QueryAuthLog page", err)
		if len(rows) == 0 {
			break
		}
		for _, l := range rows {
			got = append(got, l.TxID)
		}
		last := rows[len(rows)-1]
		after = store.AuthLogCursor{Time: last.Time, TxID: last.TxID}
		// A newer row arrives while the administrator reads.
		l := store.AuthLog{TxID: fmt.Sprintf("new%d", page), Time: at(time.Minute), Result: "allow"}
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, &l))
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages under inserts = %v, want %v", got, want)
	}
}

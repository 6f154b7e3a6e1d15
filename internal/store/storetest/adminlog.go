package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// testAuthLogGroups checks that an auth-log row keeps its user's groups
// as they were, and the filter by group id.
func testAuthLogGroups(t *testing.T, s store.Store) {
	ctx := context.Background()
	g1 := store.LogGroup{ID: "DG000000000000000001", Name: "VPN \"users\", 100%_"}
	g2 := store.LogGroup{ID: "DG000000000000000002", Name: `Admins "id":"DG000000000000000003"`}
	rows := []*store.AuthLog{
		{TxID: "none", Time: at(0), Result: "allow"},
		{TxID: "one", Time: at(0), Result: "allow", Groups: []store.LogGroup{g1}},
		{TxID: "two", Time: at(time.Second), Result: "deny", Groups: []store.LogGroup{g2, g1}},
	}
	for _, l := range rows {
		must(t, "AppendAuthLog", s.AppendAuthLog(ctx, l))
	}
	all, _, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: at(0), Max: at(time.Hour), Limit: 10})
	must(t, "QueryAuthLog", err)
	if len(all) != 3 || all[0].Groups != nil || !slices.Equal(all[1].Groups, rows[1].Groups) || !slices.Equal(all[2].Groups, rows[2].Groups) {
		t.Fatalf("QueryAuthLog groups = %+v", all)
	}
	for _, tc := range []struct {
		name string
		ids  []string
		want []string
	}{
		{"g1", []string{g1.ID}, []string{"one", "two"}},
		{"g2", []string{g2.ID}, []string{"two"}},
		{"either", []string{g2.ID, g1.ID}, []string{"one", "two"}},
		{"unknown", []string{"DG999999999999999999"}, nil},
		{"an id in a name is no id", []string{"DG000000000000000003"}, nil},
		{"lower case", []string{strings.ToLower(g1.ID)}, nil},
		{"a prefix is not an id", []string{"DG00000000000000000"}, nil},
		{"not an id", []string{`%`}, nil},
		{"a wildcard is not an id", []string{"DG00000000000000000_"}, nil},
	} {
		got, total, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: at(0), Max: at(time.Hour), GroupIDs: tc.ids, Limit: 10})
		must(t, "QueryAuthLog "+tc.name, err)
		var txids []string
		for _, l := range got {
			txids = append(txids, l.TxID)
		}
		if !slices.Equal(txids, tc.want) || total != len(tc.want) {
			t.Errorf("QueryAuthLog groups %s = %v (total %d), want %v", tc.name, txids, total, tc.want)
		}
	}
}

func testQueryAdminLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Three rows per second for 4 seconds.
	for i := range 12 {
		l := &store.AdminLog{Time: at(time.Duration(i/3) * time.Second), Actor: "cli:root@host", Action: "user_create",
			Object: fmt.Sprintf("u%02d", i), Description: "{}", IP: "192.0.2.1"}
		must(t, "AppendAdminLog", s.AppendAdminLog(ctx, l))
	}
	for _, desc := range []bool{false, true} {
		var got []string
		var after store.AdminLogCursor
		for range 20 {
			rows, total, err := s.QueryAdminLog(ctx, store.AdminLogQuery{Min: at(0), Max: at(time.Hour), Desc: desc, After: after, Limit: 5})
			must(t, "QueryAdminLog", err)
			if total != 12 {
				t.Fatalf("QueryAdminLog total = %d, want 12", total)
			}
			if len(rows) == 0 {
				break
			}
			for _, r := range rows {
				got = append(got, r.Object)
			}
			last := rows[len(rows)-1]
			after = store.AdminLogCursor{Time: last.Time, ID: last.ID}
		}
		want := make([]string, 12)
		for i := range want {
			want[i] = fmt.Sprintf("u%02d", i)
		}
		if desc {
			slices.Reverse(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("QueryAdminLog desc=%v pages = %v, want %v", desc, got, want)
		}
	}
	rows, total, err := s.QueryAdminLog(ctx, store.AdminLogQuery{Min: at(time.Second), Max: at(3 * time.Second), Limit: 100})
	must(t, "QueryAdminLog window", err)
	if len(rows) != 6 || total != 6 || rows[0].Object != "u03" || rows[0].IP != "192.0.2.1" || rows[0].Actor != "cli:root@host" {
		t.Errorf("QueryAdminLog [1s, 3s) = %d rows (total %d): %+v", len(rows), total, rows)
	}
}

// testQueryAdminLogConcurrent races administrators writing with stale
// times against an exporter paging the activity log with a cursor, cut at
// the log clock each poll: it sees every row exactly once.
func testQueryAdminLogConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, perWriter = 4, 30
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				l := &store.AdminLog{Time: at(time.Duration(i/4) * time.Second), Actor: "cli:root@host", Action: "user_update",
					Object: fmt.Sprintf("w%d-%03d", w, i), Description: "{}"}
				if err := s.AppendAdminLog(ctx, l); err != nil {
					t.Errorf("AppendAdminLog: %v", err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	seen := map[string]int{}
	var after store.AdminLogCursor
	now := at(0)
	poll := func() {
		now = now.Add(time.Second)
		sealed, err := s.SealLogs(ctx, store.LogAdmin, now)
		if err != nil {
			t.Fatalf("SealLogs: %v", err)
		}
		for {
			rows, _, err := s.QueryAdminLog(ctx, store.AdminLogQuery{Min: at(-time.Hour), Max: sealed, After: after, Limit: 7})
			if err != nil {
				t.Fatalf("QueryAdminLog: %v", err)
			}
			if len(rows) == 0 {
				return
			}
			for _, r := range rows {
				seen[r.Object]++
			}
			last := rows[len(rows)-1]
			after = store.AdminLogCursor{Time: last.Time, ID: last.ID}
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
	now = now.Add(time.Hour)
	poll()
	if len(seen) != writers*perWriter {
		t.Errorf("exporter saw %d distinct rows, want %d", len(seen), writers*perWriter)
	}
	for o, n := range seen {
		if n != 1 {
			t.Errorf("exporter saw %s %d times", o, n)
		}
	}
}

// testAuthLogFields: every field of an auth-log row comes back as written,
// whether it was appended alone or inside a transaction (SQLite writes the
// two ways with different statements).
func testAuthLogFields(t *testing.T, s store.Store) {
	ctx := context.Background()
	full := func(txid string) *store.AuthLog {
		return &store.AuthLog{TxID: txid, Time: at(0), IKey: "DIFIELDS000000000001", UserID: "DU000000000000000042",
			Username: "alice", Alias: "a.smith", Factor: "passcode", Device: "DP000000000000000007", Result: "allow",
			Reason: "valid_passcode", IP: "192.0.2.9", Hostname: "vpn-1", Policy: "group:staff",
			Groups: []store.LogGroup{{ID: "DG000000000000000001", Name: "VPN users"}}}
	}
	alone, inTx := full("alone"), full("in-tx")
	must(t, "AppendAuthLog", s.AppendAuthLog(ctx, alone))
	must(t, "InTx", s.InTx(ctx, func(q store.Queries) error { return q.AppendAuthLog(ctx, inTx) }))
	got, _, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: at(0), Max: at(time.Hour), Limit: 10})
	must(t, "QueryAuthLog", err)
	if len(got) != 2 {
		t.Fatalf("QueryAuthLog: %d rows, want 2", len(got))
	}
	for _, want := range []*store.AuthLog{alone, inTx} {
		i := slices.IndexFunc(got, func(l store.AuthLog) bool { return l.TxID == want.TxID })
		if i < 0 {
			t.Fatalf("row %s missing", want.TxID)
		}
		g, w := got[i], *want
		w.Time = sec(w.Time)
		g.Time = g.Time.UTC()
		if !reflect.DeepEqual(g, w) {
			t.Errorf("row %s read back as\n%+v\nwritten as\n%+v", want.TxID, g, w)
		}
	}
}

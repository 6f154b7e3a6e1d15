package sqlstore

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/storetest"
)

func TestBulkSQLite(t *testing.T) {
	storetest.RunBulkTests(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	})
}

func TestBulkPostgres(t *testing.T) {
	pg := postgresServer(t)
	storetest.RunBulkTests(t, func(t *testing.T) store.Store {
		return openPostgres(t, pg.newDB(t))
	})
}

// requestPathQuery is a lookup a login makes, as queries.go and devices.go
// write it (WHERE and ORDER BY; the selected columns do not change the
// plan), with example arguments.
type requestPathQuery struct {
	name, table, sql string
	args             []any
}

// getUserAndBypassCode is the statement of GetUserAndBypassCode.
const getUserAndBypassCode = `SELECT u.id, COALESCE(b.id, '') FROM users u
	LEFT JOIN bypass_codes b ON b.user_id = u.id AND u.id = ? AND b.hash = ? WHERE u.username_norm = ?`

// getUserAndDevices is the statement of GetUserAndDevices, but its WHERE
// clause.
const getUserAndDevices = `SELECT u.id, COALESCE(d.id, '') FROM users u LEFT JOIN devices d ON d.user_id = u.id WHERE `

func requestPathQueries() []requestPathQuery {
	u, d, c := "DU000000000000001000", "DP000000000000001000", "DB000000000000001000"
	return []requestPathQuery{
		{"GetUserByUsername", "users", `SELECT id FROM users WHERE username_norm = ?`, []any{"bench-1000"}},
		{"GetUser", "users", `SELECT id FROM users WHERE id = ?`, []any{u}},
		{"UpdateUser", "users", `UPDATE users SET failed_attempts = ? WHERE id = ?`, []any{0, u}},
		{"ListDevices", "devices", `SELECT id FROM devices WHERE user_id = ? ORDER BY created, id`, []any{u}},
		{"GetDevice", "devices", `SELECT id FROM devices WHERE id = ?`, []any{d}},
		{"UpdateDevice", "devices", `UPDATE devices SET hotp_counter = ? WHERE id = ?`, []any{1, d}},
		{"ListBypassCodes", "bypass_codes", `SELECT id FROM bypass_codes WHERE user_id = ? ORDER BY created, id`, []any{u}},
		{"FindBypassCode", "bypass_codes", `SELECT id FROM bypass_codes WHERE user_id = ? AND hash = ?`, []any{u, []byte("h")}},
		{"GetUserAndBypassCode: users", "users", getUserAndBypassCode, []any{u, []byte("h"), "bench-1000"}},
		{"GetUserAndBypassCode: bypass_codes", "bypass_codes", getUserAndBypassCode, []any{u, []byte("h"), "bench-1000"}},
		{"GetUserAndDevices by username: users", "users", getUserAndDevices + `u.username_norm = ?`, []any{"bench-1000"}},
		{"GetUserAndDevices by username: devices", "devices", getUserAndDevices + `u.username_norm = ?`, []any{"bench-1000"}},
		{"GetUserAndDevices by ID: users", "users", getUserAndDevices + `u.id = ?`, []any{u}},
		{"GetUserAndDevices by ID: devices", "devices", getUserAndDevices + `u.id = ?`, []any{u}},
		{"UpdateBypassCode", "bypass_codes", `UPDATE bypass_codes SET remaining_uses = ? WHERE id = ?`, []any{1, c}},
		{"GetActivation", "activations", `SELECT user_id FROM activations WHERE code_hash = ?`, []any{[]byte("h")}},
		{"ListPendingTransactions", "transactions", `SELECT id FROM transactions WHERE device_id = ? AND state = ? AND expires > ? ORDER BY created DESC, id DESC LIMIT ?`, []any{d, store.TxPushed, 0, store.MaxPendingTransactions}},
		{"GetTransaction", "transactions", `SELECT id FROM transactions WHERE id = ?`, []any{"00000000-0000-4000-8000-000000000000"}},
		{"ListAuthLog of a user", "auth_log", `SELECT id FROM auth_log WHERE user_id = ? ORDER BY time DESC, id DESC LIMIT 10`, []any{u}},
	}
}

// TestRequestPathPlans loads users in bulk, refreshes the statistics and
// checks that every lookup a login makes is served by an index, not by a
// scan of the table. On PostgreSQL only the tables that hold the loaded
// rows are checked: for near-empty tables its planner rightly prefers a
// sequential scan. scripts/bench-scale.sh checks the same at a million
// users with PostgreSQL's scan counters.
func TestRequestPathPlans(t *testing.T) {
	type engine struct {
		name string
		open func(t *testing.T) *Store
	}
	engines := []engine{{"sqlite", func(t *testing.T) *Store { return openSQLite(t, filepath.Join(t.TempDir(), "assent.db")) }}}
	engines = append(engines, engine{"postgres", func(t *testing.T) *Store { return openPostgres(t, postgresServer(t).newDB(t)) }})
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := e.open(t)
			ctx := t.Context()
			var b store.Bulk
			for i := range 2000 {
				uid := fmt.Sprintf("DU%018d", i)
				b.Users = append(b.Users, store.User{ID: uid, Username: fmt.Sprintf("bench-%d", i), Status: store.StatusActive})
				b.Devices = append(b.Devices, store.Device{ID: fmt.Sprintf("DP%018d", i), UserID: uid, Name: "bench",
					PublicKey: strings.Repeat("k", 450), HOTPSecretEnc: make([]byte, 61)})
				b.BypassCodes = append(b.BypassCodes, store.BypassCode{ID: fmt.Sprintf("DB%018d", i), UserID: uid, Hash: make([]byte, 32)})
			}
			if err := s.LoadBulk(ctx, b); err != nil {
				t.Fatal(err)
			}
			if err := s.Analyze(ctx); err != nil {
				t.Fatal(err)
			}
			for _, q := range requestPathQueries() {
				plan := explain(t, s, q)
				var bad bool
				if s.d.postgres {
					seeded := q.table == "users" || q.table == "devices" || q.table == "bypass_codes"
					bad = seeded && strings.Contains(plan, "Seq Scan")
				} else {
					// "SCAN t" reads the whole table; "SEARCH t USING …" does not.
					bad = strings.Contains(plan, "SCAN "+q.table)
				}
				if bad {
					t.Errorf("%s scans %s:\n%s", q.name, q.table, plan)
				}
			}
		})
	}
}

func explain(t *testing.T, s *Store, q requestPathQuery) string {
	t.Helper()
	prefix, col := "EXPLAIN QUERY PLAN ", 3 // id, parent, notused, detail
	if s.d.postgres {
		prefix, col = "EXPLAIN ", 0
	}
	rows, err := s.w.QueryContext(t.Context(), s.d.rebind(prefix+q.sql), q.args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q.name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(vals[col]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

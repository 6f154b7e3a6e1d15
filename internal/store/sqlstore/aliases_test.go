package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// The decision's one-statement user reads find a user by username or by
// alias through indexes only: the plan probes users_username_norm,
// user_aliases_alias_norm and the users primary key, and scans no table.
func TestUserByNameUsesIndexes(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	for name, query := range userReadsByName(s.d) {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query.sql, query.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		for _, want := range []string{"users_username_norm (username_norm=?)", "user_aliases_alias_norm (alias_norm=?)", "(id=?)"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: plan does not use %s:\n%s", name, want, text)
			}
		}
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN u") || strings.HasPrefix(line, "SCAN users") || strings.HasPrefix(line, "SCAN user_aliases") {
				t.Errorf("%s: plan scans a table: %q\n%s", name, line, text)
			}
		}
	}
}

// The same on PostgreSQL, with sequential scans discouraged (a test
// database is too small for the planner to prefer an index otherwise).
func TestPostgresUserByNameUsesIndexes(t *testing.T) {
	pg := postgresServer(t)
	s := openPostgres(t, pg.newDB(t))
	ctx := t.Context()
	conn, err := s.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	for name, query := range userReadsByName(s.d) {
		rows, err := conn.QueryContext(ctx, "EXPLAIN "+s.d.rebind(query.sql), query.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		for _, want := range []string{"users_username_norm", "user_aliases_alias_norm", "users_pkey"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: plan does not use %s:\n%s", name, want, text)
			}
		}
		if strings.Contains(text, "Seq Scan on users") || strings.Contains(text, "Seq Scan on user_aliases") {
			t.Errorf("%s: plan scans a table:\n%s", name, text)
		}
	}
}

type readQuery struct {
	sql  string
	args []any
}

func userReadsByName(d *dialect) map[string]readQuery {
	return map[string]readQuery{
		"userAndCode":          {d.userAndCode, []any{"DUAAAAAAAAAAAAAAAAAA", []byte{1}, "alice", "alice"}},
		"userAndDevicesByName": {d.userAndDevicesByName, []any{"alice", "alice"}},
		"GetUserByUsername":    {`SELECT ` + userCols + ` FROM users u WHERE ` + userByName, []any{"alice", "alice"}},
	}
}

// BenchmarkUserAndDevices compares the decision's read by username and by
// alias: both are index probes, so they cost about the same.
func BenchmarkUserAndDevices(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "assent.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	for i := range n {
		id := fmt.Sprintf("DU%018d", i)
		if err := s.CreateUser(ctx, store.User{ID: id, Username: fmt.Sprintf("user%d", i), Status: store.StatusActive, Created: time.Unix(1, 0)}); err != nil {
			b.Fatal(err)
		}
		if err := s.SetUserAliases(ctx, id, []string{fmt.Sprintf("alias%d@example.com", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct{ name, format string }{{"username", "user%d"}, {"alias", "alias%d@example.com"}} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i = (i + 7919) % n
				if _, _, err := s.GetUserAndDevices(ctx, fmt.Sprintf(bc.format, i), ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// BenchmarkGroupCommit is the write transaction of a successful passcode
// decision (an unlimited bypass code's guard, the user's success, the
// auth-log row) from 64 goroutines on SQLite, and reports how many of
// them each batch of the writer goroutine commits together (tx/batch):
//
//	go test -run '^$' -bench GroupCommit -benchmem ./internal/store/sqlstore
func BenchmarkGroupCommit(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "assent.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	u := store.User{ID: "DU000000000000000001", Username: "bench", Status: store.StatusActive, Created: now}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	c := store.BypassCode{ID: "DB000000000000000001", UserID: u.ID, Hash: []byte("h"), Created: now}
	if err := s.CreateBypassCodes(ctx, []store.BypassCode{c}); err != nil {
		b.Fatal(err)
	}
	before := s.writes.Load()
	b.SetParallelism(32) // 64 goroutines on 2 CPUs, as the HTTP benchmarks
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := s.InTx(ctx, func(q store.Queries) error {
				if err := q.UseBypassCode(ctx, c); err != nil {
					return err
				}
				if err := q.RecordSuccess(ctx, u.ID, now); err != nil {
					return err
				}
				l := store.AuthLog{TxID: "00000000-0000-4000-8000-000000000000", Time: now, IKey: "DIBENCH", UserID: u.ID,
					Username: u.Username, Factor: "bypass_code", Result: "allow", Reason: "valid_passcode", IP: "192.0.2.7"}
				return q.AppendAuthLog(ctx, &l)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if batches := s.writes.Load() - before; batches > 0 {
		b.ReportMetric(float64(b.N)/float64(batches), "tx/batch")
	}
}

// BenchmarkAuthLogUsers is the write transaction of a decision for 64
// distinct users at once (each user's success and its auth-log row), on
// SQLite and, with ASSENT_TEST_POSTGRES_DSN, on PostgreSQL: unrelated
// users must not wait for each other there (issue 10), so nothing shared,
// such as the log clock, may be locked by every decision until its commit.
//
//	ASSENT_TEST_NO_INSTALL=1 ./scripts/test.sh -run '^$' -bench AuthLogUsers ./internal/store/sqlstore
func BenchmarkAuthLogUsers(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "assent.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchAuthLogUsers(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		pg := postgresServer(b)
		benchAuthLogUsers(b, openPostgres(b, pg.newDB(b)))
	})
}

func benchAuthLogUsers(b *testing.B, s *Store) {
	ctx := context.Background()
	now := time.Now()
	const users = 64
	var ids [users]string
	for i := range users {
		ids[i] = fmt.Sprintf("DU%018d", i+1)
		u := store.User{ID: ids[i], Username: fmt.Sprint("bench", i), Status: store.StatusActive, Created: now}
		if err := s.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 CPUs, as the HTTP benchmarks
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := ids[(next.Add(1)-1)%users]
		for pb.Next() {
			err := s.InTx(ctx, func(q store.Queries) error {
				if err := q.RecordSuccess(ctx, id, now); err != nil {
					return err
				}
				l := store.AuthLog{TxID: "00000000-0000-4000-8000-000000000000", Time: now, IKey: "DIBENCH", UserID: id,
					Username: "bench", Factor: "passcode", Result: "allow", Reason: "valid_passcode", IP: "192.0.2.7"}
				return q.AppendAuthLog(ctx, &l)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	if s.d.postgres {
		st := s.r.Stats()
		b.ReportMetric(float64(st.OpenConnections), "conns")
		// Connections closed for want of an idle slot: each costs
		// PostgreSQL a backend to start again.
		b.ReportMetric(float64(st.MaxIdleClosed)/float64(b.N), "reconnects/op")
	}
}

// BenchmarkAuthLogInsert is the auth-log INSERT alone on SQLite, per row,
// 512 rows a transaction so that the commit's fsync does not hide it: what
// the schema (indexes, AUTOINCREMENT) costs the single writer.
//
//	go test -run '^$' -bench AuthLogInsert -benchmem ./internal/store/sqlstore
func BenchmarkAuthLogInsert(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "assent.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	const perTx = 512
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += perTx {
		err := s.InTx(ctx, func(q store.Queries) error {
			for j := range min(perTx, b.N-i) {
				l := store.AuthLog{TxID: "00000000-0000-4000-8000-000000000000", Time: now, IKey: "DIBENCH00000000000001",
					UserID: fmt.Sprintf("DU%018d", (i+j)%1000), Username: "bench", Factor: "passcode", Result: "allow",
					Reason: "valid_passcode", IP: "192.0.2.7"}
				if err := q.AppendAuthLog(ctx, &l); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

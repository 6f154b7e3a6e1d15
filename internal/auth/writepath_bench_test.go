package auth_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// BenchmarkAuthPasscode is the core's passcode decision alone (no HTTP, no
// signature), from 64 goroutines on SQLite: the reads, the decision, and
// the write transaction through group commit. Compare the share of CPU in
// the store's writer goroutine in a profile:
//
//	go test -run '^$' -bench AuthPasscode -benchmem -cpuprofile cpu.out ./internal/auth
//	go tool pprof -top -cum cpu.out | grep -E 'writer|Auth$'
func BenchmarkAuthPasscode(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts auth.Options
		code func(codes []string) string
		// reqCtx: a context that can be canceled, as the server's
		// requests have (database/sql and the SQLite driver watch such a
		// context while a statement runs).
		reqCtx bool
	}{
		// An unlimited-use bypass code: a success each time.
		{"bypass", auth.Options{}, func(codes []string) string { return codes[0] }, false},
		{"bypass-reqctx", auth.Options{}, func(codes []string) string { return codes[0] }, true},
		// A wrong code with the lockout off: a failure each time.
		{"wrong", auth.Options{LockoutThreshold: -1}, func([]string) string { return "123456789" }, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			if bc.reqCtx {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			st, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "assent.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			f := newFixtureWith(b, st, bc.opts)
			if _, err := f.svc.CreateUser(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			out, err := f.svc.IssueBypassCodes(ctx, "bench", auth.NewBypassCodes{Count: 1})
			if err != nil {
				b.Fatal(err)
			}
			req := auth.AuthRequest{
				Request: auth.Request{Integration: f.in, Username: "bench", IP: "192.0.2.7"},
				Factor:  auth.FactorPasscode, Passcode: bc.code(out.Codes),
			}
			b.SetParallelism(32) // 64 goroutines on 2 CPUs, as the HTTP benchmarks
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.svc.Auth(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

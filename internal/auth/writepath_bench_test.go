package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
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
		// A wrong six-digit code (a device's passcode, checked against
		// the device's next HOTP codes) with the lockout off.
		{"wrong-hotp", auth.Options{LockoutThreshold: -1}, func([]string) string { return "000000" }, true},
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
			// A user with a device, as `assent bench` seeds them.
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				b.Fatal(err)
			}
			der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.svc.BulkCreateUsers(ctx, []auth.BulkUser{{Username: "bench", BypassCode: "100000000",
				HOTPSecret: fmt.Sprintf("%032x", 1), PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}); err != nil {
				b.Fatal(err)
			}
			out := struct{ Codes []string }{Codes: []string{"100000000"}}
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

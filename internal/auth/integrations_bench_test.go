package auth_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// BenchmarkIntegration measures what every signed request pays to find its
// integration and secret key (Service.Integration, on SQLite, from parallel
// goroutines as the server calls it: the version read, and the row and the
// secret key cached while the version holds), and its parts: the version
// read, the row's read and unsealing the secret key, which only a change of
// integrations costs again. See docs/benchmarks.md.
func BenchmarkIntegration(b *testing.B) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "assent.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	svc := auth.New(st, box, auth.Options{})
	in, _, err := svc.CreateIntegration(ctx, auth.NewIntegration{Name: "bench", Type: store.TypeAuthAPI})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"Service", func() error { _, _, err := svc.Integration(ctx, in.IKey); return err }},
		{"StoreRead", func() error { _, err := st.GetIntegration(ctx, in.IKey); return err }},
		{"VersionRead", func() error { _, err := st.IntegrationsVersion(ctx); return err }},
		{"Unseal", func() error { _, err := box.Open(in.SecretEnc, []byte(in.IKey)); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.fn(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

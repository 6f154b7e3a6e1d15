package bench

import (
	"context"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Seeder is what Seed needs of the core (*auth.Service).
type Seeder interface {
	BulkCreateUsers(ctx context.Context, users []auth.BulkUser) error
	AnalyzeStore(ctx context.Context) error
	User(ctx context.Context, nameOrID string) (store.User, error)
}

// SeedOptions shape Seed.
type SeedOptions struct {
	// Batch is the number of users per bulk write (one transaction);
	// default DefaultSeedBatch.
	Batch int
	// Workers is the number of batches prepared and written at once;
	// default GOMAXPROCS.
	Workers int
	// Progress, if set, is called after each batch with the number of
	// users written so far (from one goroutine at a time).
	Progress func(done int)
}

// DefaultSeedBatch is the default number of users per bulk write.
const DefaultSeedBatch = 100_000

// SeedDeviceName is the name of every seeded device.
const SeedDeviceName = "assent bench"

// Seed creates set's users in the installation, each with an activated
// device and an unlimited-use bypass code (see auth.BulkCreateUsers), then
// refreshes the database's statistics. Every device has the same RSA
// public key, generated here (a million keys would take hours to
// generate); its private key is thrown away, so the seeded devices cannot
// sign device API requests: they exist for preauth and passcodes.
//
// Seed refuses to run when set's first user exists (seeded before). Users
// are written in batches, each all or nothing; after a failure the batches
// already written stay.
func Seed(ctx context.Context, core Seeder, set UserSet, o SeedOptions) error {
	if err := set.Validate(); err != nil {
		return err
	}
	if o.Batch <= 0 {
		o.Batch = DefaultSeedBatch
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if err := NotSeeded(ctx, core, set); err != nil {
		return err
	}
	pub, err := seedPublicKey()
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	starts := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done atomic.Int64
	)
	for range o.Workers {
		wg.Go(func() {
			for first := range starts {
				last := min(first+o.Batch, set.Count)
				users := make([]auth.BulkUser, 0, last-first)
				for i := first; i < last; i++ {
					users = append(users, auth.BulkUser{
						Username: set.Username(i), BypassCode: set.BypassCode(i), HOTPSecret: set.HOTPSecret(i),
						PublicKey: pub, DeviceName: SeedDeviceName, Platform: "bench",
					})
				}
				if err := core.BulkCreateUsers(ctx, users); err != nil {
					cancel(fmt.Errorf("users %d to %d: %w", first, last-1, err))
					return
				}
				n := done.Add(int64(last - first))
				if o.Progress != nil {
					mu.Lock()
					o.Progress(int(n))
					mu.Unlock()
				}
			}
		})
	}
feed:
	for first := 0; first < set.Count; first += o.Batch {
		select {
		case starts <- first:
		case <-ctx.Done():
			break feed
		}
	}
	close(starts)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("seed: %w (%d users written)", err, done.Load())
	}
	if err := core.AnalyzeStore(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

// NotSeeded returns an error if set's first user exists: users with its
// prefix were seeded before.
func NotSeeded(ctx context.Context, core Seeder, set UserSet) error {
	switch _, err := core.User(ctx, set.Username(0)); {
	case err == nil:
		return fmt.Errorf("user %q exists already: users with prefix %q were seeded before; choose another --prefix or a fresh installation", set.Username(0), set.Prefix)
	case !auth.IsKind(err, auth.KindNotFound):
		return err
	}
	return nil
}

// seedPublicKey is a fresh RSA-2048 public key in PEM, the size phones use.
func seedPublicKey() (string, error) {
	key, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

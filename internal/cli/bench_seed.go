package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/bench"
)

func newBenchSeedCmd(e *env) *cobra.Command {
	var (
		count   int
		prefix  string
		file    string
		batch   int
		workers int
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "seed --users N [--prefix bench] [--file F]",
		Short: "Create N benchmark users, each with an activated device and a bypass code",
		Long: `Create the users PREFIX-0 … PREFIX-(N-1) directly in the installation
(SQLite or PostgreSQL, as configured), each with an activated device and
an unlimited-use bypass code, through the database's bulk path: multi-row
INSERTs on SQLite, COPY on PostgreSQL, --batch users per transaction.
Then the database's statistics are refreshed (ANALYZE; VACUUM ANALYZE on
PostgreSQL). A million users take a few minutes.

The rows are those the normal commands write (HOTP secrets sealed with the
master key, keyed hashes of the bypass codes), so the running server
accepts the users like any others. Every seeded device has the same RSA
public key, whose private key is discarded: the devices serve preauth and
passcodes, not device API requests.

The users' bypass codes and HOTP secrets derive from a random seed written
to --file (default: bench-users-PREFIX.json in the data directory, mode
0600), which "assent bench auth --users-file" reads to log in as random
users. That file is as secret as every seeded user's bypass code: seed only
benchmark installations.

Seeding refuses to run when PREFIX-0 exists (seeded before) or --file
exists. On SQLite, seed before starting the server: each batch holds the
database's write lock for seconds. Memory: a few KB per user of each
batch in flight (--workers of them) and, on SQLite, a 1 GiB page cache
while loading.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 || count > bench.MaxUsers {
				return fmt.Errorf("--users must be between 1 and %d", bench.MaxUsers)
			}
			set, err := bench.NewUserSet(prefix, count)
			if err != nil {
				return fmt.Errorf("--prefix: %w", err)
			}
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			if file == "" {
				file = filepath.Join(a.Config.DataDir, "bench-users-"+prefix+".json")
			}
			if err := bench.NotSeeded(cmd.Context(), a.Core, set); err != nil {
				return err
			}
			// The file first: users whose secrets are lost would be of no use.
			if err := set.Save(file); err != nil {
				return err
			}
			start := time.Now()
			written, last := 0, start
			err = bench.Seed(cmd.Context(), a.Core, set, bench.SeedOptions{Batch: batch, Workers: workers, Progress: func(done int) {
				written = done
				if now := time.Now(); now.Sub(last) >= 5*time.Second && done < count {
					last = now
					fmt.Fprintf(e.stderr, "seeded %d of %d users (%.0f/s)\n", done, count, float64(done)/now.Sub(start).Seconds())
				}
			}})
			if err != nil {
				if written == 0 {
					_ = os.Remove(file)
				} else {
					err = fmt.Errorf("%w; %s describes the users written", err, file)
				}
				return err
			}
			took := time.Since(start)
			if asJSON {
				return printJSON(e.stdout, map[string]any{
					"prefix": prefix, "users": count, "file": file,
					"seconds": took.Seconds(), "users_per_s": float64(count) / took.Seconds(),
				})
			}
			fmt.Fprintf(e.stdout, "Seeded %d users (%s … %s), each with a device and an unlimited-use bypass code, in %.1f s (%.0f users/s).\n",
				count, set.Username(0), set.Username(count-1), took.Seconds(), float64(count)/took.Seconds())
			fmt.Fprintf(e.stdout, "Their secrets derive from the seed in %s (keep it private):\n  assent bench auth --users-file %s --host … --ca … --ikey …\n", file, file)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&count, "users", 0, "how many users to create (max "+strconv.Itoa(bench.MaxUsers)+")")
	fl.StringVar(&prefix, "prefix", "bench", "username prefix: users are PREFIX-0, PREFIX-1, …")
	fl.StringVar(&file, "file", "", "where to write the seed (default: bench-users-PREFIX.json in the data directory)")
	fl.IntVar(&batch, "batch", bench.DefaultSeedBatch, "users per transaction")
	fl.IntVar(&workers, "workers", 0, "batches prepared and written at once (0: one per CPU)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

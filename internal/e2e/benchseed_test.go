package e2e

import (
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/bench"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestBenchSeed seeds 2,000 users with the real binary (`assent bench
// seed`), on SQLite and on PostgreSQL, starts `assent serve` on the
// result and logs in as some of them with signed requests: the seeded
// rows must be what the server accepts (normalised usernames, bypass-code
// hashes and HOTP secrets sealed under the installation's master key),
// and the load generator must derive every user's secrets from the seed
// file. A second seed is refused. The million-user runs are
// scripts/bench-scale.sh's, not a test's.
func TestBenchSeed(t *testing.T) {
	t.Parallel()
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	for _, engine := range []Engine{SQLite, Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			dd := []string{"--data-dir", t.TempDir()}
			if engine == Postgres {
				dd = append(dd, "--database-url", createPostgresDB(t))
			}
			testBenchSeed(t, bin, dd)
		})
	}
}

func testBenchSeed(t *testing.T, bin string, dd []string) {
	const users = 2000
	var seeded struct {
		File  string `json:"file"`
		Users int    `json:"users"`
	}
	mustCLI(t, bin, append([]string{"init"}, dd...)...) // bench seed, like every data command, needs an installation
	// Batches of 700: several transactions, the last one partial.
	mustJSON(t, mustCLI(t, bin, append([]string{"bench", "seed", "--users", "2000", "--batch", "700", "--json"}, dd...)...), &seeded)
	if seeded.Users != users || seeded.File == "" {
		t.Fatalf("bench seed --json = %+v", seeded)
	}
	again := runCLI(t, bin, append([]string{"bench", "seed", "--users", "10", "--file", seeded.File + ".2"}, dd...)...)
	if again.code == 0 || !strings.Contains(again.stderr, `"bench-0" exists already`) {
		t.Errorf("second bench seed: exit %d, stderr %q; want a refusal naming bench-0", again.code, again.stderr)
	}

	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	mustJSON(t, mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "seeded", "--json"}, dd...)...), &in)
	// dd is --data-dir DIR, then maybe --database-url URL.
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{DataDir: dd[1], Args: dd[2:]})
	set, err := bench.LoadUserSet(seeded.File)
	if err != nil {
		t.Fatal(err)
	}
	if set.Count != users {
		t.Fatalf("the seed file describes %d users", set.Count)
	}
	duo := &bench.Duo{Host: srv.Host, IKey: in.IKey, SKey: in.SKey, Client: srv.Client}
	ctx := testCtx(t)
	for _, i := range []int{0, 1, 1234, users - 1} {
		name := set.Username(i)
		if r, err := duo.Preauth(ctx, strings.ToUpper(name)); err != nil || r != "auth" {
			t.Errorf("preauth %s: %q, %v; want auth", strings.ToUpper(name), r, err)
		}
		if r, err := duo.Passcode(ctx, name, set.BypassCode(i)); err != nil || r != "allow" {
			t.Errorf("%s with its bypass code: %q, %v; want allow", name, r, err)
		}
		code, err := set.HOTPCode(i, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := duo.Passcode(ctx, name, code); err != nil || r != "allow" {
			t.Errorf("%s with its device's first HOTP code: %q, %v; want allow", name, r, err)
		}
		if r, err := duo.Passcode(ctx, name, set.BypassCode(i+1)); err != nil || r != "deny" {
			t.Errorf("%s with user %d's bypass code: %q, %v; want deny", name, i+1, r, err)
		}
	}
	if r, err := duo.Preauth(ctx, set.Username(users)); err != nil || r != "enroll" {
		t.Errorf("preauth of %s, one past the seeded users: %q, %v; want enroll", set.Username(users), r, err)
	}

	// The load generator logs in as random seeded users.
	r := mustCLI(t, bin, "bench", "auth", "--users-file", seeded.File, "--host", srv.Host, "--ca", srv.CAFile,
		"--ikey", in.IKey, "--skey", in.SKey, "-c", "4", "-n", "200", "-d", "60s", "--warmup", "0", "--json")
	var rep bench.Report
	mustJSON(t, r, &rep)
	if rep.Users != users || rep.Total.Requests < 100 || rep.Total.Errors != 0 || rep.Total.NonAllow != 0 {
		t.Errorf("bench auth --users-file: %d users, %d requests, %d errors (%s), %d not allowed; want %d users, ≥ 100 requests, all allowed",
			rep.Users, rep.Total.Requests, rep.Total.Errors, rep.FirstError, rep.Total.NonAllow, users)
	}
}

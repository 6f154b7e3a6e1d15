package e2e

import (
	"testing"

	"github.com/assent-auth/assent/internal/testutil"
)

// procServer is `assent serve` run as a subprocess on a fixed data
// directory and port, so that it can be killed and started again on the
// same data.
type procServer struct {
	*testutil.Serve
	t     *testing.T
	dbURL string // PostgreSQL URL; empty for SQLite in DataDir
}

// newProcServer prepares the server (Start runs it) with extra ASSENT_*
// settings in env.
func newProcServer(t *testing.T, bin, dbURL string, env ...string) *procServer {
	t.Helper()
	s := &procServer{t: t, dbURL: dbURL}
	var args []string
	if dbURL != "" {
		args = []string{"--database-url", dbURL}
	}
	s.Serve = testutil.NewServe(t, bin, testutil.ServeOptions{Args: args, Env: env})
	return s
}

// cli runs an assent command on the server's installation; it must succeed.
func (s *procServer) cli(args ...string) cliResult {
	s.t.Helper()
	args = append(args, "--data-dir", s.DataDir)
	if s.dbURL != "" {
		args = append(args, "--database-url", s.dbURL)
	}
	return mustCLI(s.t, s.Bin, args...)
}

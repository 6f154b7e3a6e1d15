// Package e2e holds Assent's end-to-end tests: a real server started in
// the test process (or the assent binary as a subprocess) driven by the
// real Duo clients (duo_api_golang, Debian's python3-duo-client, npm
// @duosecurity/duo_api), by hand-built signed requests and by the CLI.
//
// The package has only test files. harness_test.go starts servers and
// creates fixtures; each test gets its own server and data directory, so
// the tests run in parallel.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver, to create test databases

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// postgresDSNEnv names an administrative PostgreSQL DSN; each test that
// uses PostgreSQL creates (and drops) its own database through it.
const postgresDSNEnv = "ASSENT_TEST_POSTGRES_DSN"

// Engine selects the database behind a test server.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// engines is what the engine-parametrized tests run against.
var engines = []Engine{SQLite, Postgres}

// serverOptions tweak startServer.
type serverOptions struct {
	engine Engine
	// flags are extra config keys (config.Sources.Flags).
	flags map[string]string
	// now is the server's clock; nil is time.Now.
	now func() time.Time
}

// testServer is an Assent server running in the test process
// (internal/testutil/assenttest starts it).
type testServer struct {
	*assenttest.Server
}

// startServer starts a server on 127.0.0.1 with a random port and a fresh
// data directory (and, for Postgres, a fresh database) and stops it when
// the test ends. A Postgres server needs ASSENT_TEST_POSTGRES_DSN: without
// it the test is skipped locally and fails in CI (testutil.Require).
func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	flags := map[string]string{}
	if opts.engine == Postgres {
		// Registered before the server's cleanup, so the database is
		// dropped after the server has stopped.
		flags["database_url"] = createPostgresDB(t)
	}
	for k, v := range opts.flags {
		flags[k] = v
	}
	s := assenttest.Start(t, assenttest.Options{Flags: flags, Now: opts.now})
	return &testServer{s}
}

func (ts *testServer) caPool(t *testing.T) *x509.CertPool {
	t.Helper()
	return testutil.CAPool(t, ts.CAFile)
}

// ctx is a bounded context for fixture calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// integration creates an integration of type typ and returns its keys.
func (ts *testServer) integration(t *testing.T, typ store.IntegrationType) (ikey, skey string) {
	t.Helper()
	in, skey, err := ts.App.Core.CreateIntegration(testCtx(t), auth.NewIntegration{Name: "e2e " + string(typ), Type: typ})
	if err != nil {
		t.Fatalf("create %s integration: %v", typ, err)
	}
	return in.IKey, skey
}

// authAPI creates an Auth API integration.
func (ts *testServer) authAPI(t *testing.T) (ikey, skey string) {
	t.Helper()
	return ts.integration(t, store.TypeAuthAPI)
}

// user creates an active user with n single-use bypass codes (none if n is 0).
func (ts *testServer) user(t *testing.T, name string, n int) []string {
	t.Helper()
	ctx := testCtx(t)
	if _, err := ts.App.Core.CreateUser(ctx, name); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	if n == 0 {
		return nil
	}
	out, err := ts.App.Core.IssueBypassCodes(ctx, name, auth.NewBypassCodes{Count: n, Uses: 1})
	if err != nil {
		t.Fatalf("bypass codes for %s: %v", name, err)
	}
	return out.Codes
}

// setStatus sets a user's status.
func (ts *testServer) setStatus(t *testing.T, name string, status store.UserStatus) {
	t.Helper()
	if _, err := ts.App.Core.SetUserStatus(testCtx(t), name, status); err != nil {
		t.Fatalf("set status of %s to %s: %v", name, status, err)
	}
}

// userStatus reads a user's status from the store.
func (ts *testServer) userRecord(t *testing.T, name string) store.User {
	t.Helper()
	u, err := ts.App.Core.User(testCtx(t), name)
	if err != nil {
		t.Fatalf("get user %s: %v", name, err)
	}
	return u
}

// createPostgresDB creates a fresh database through ASSENT_TEST_POSTGRES_DSN,
// drops it when the test ends and returns its URL.
func createPostgresDB(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(postgresDSNEnv)
	testutil.Require(t, "PostgreSQL ("+postgresDSNEnv+")", dsn != "")
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", postgresDSNEnv)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "assent_e2e_" + hex.EncodeToString(rnd[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgresDSNEnv, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// duoEnvelope is Duo's JSON answer.
type duoEnvelope struct {
	Stat          string          `json:"stat"`
	Response      json.RawMessage `json:"response"`
	Code          int             `json:"code"`
	Message       string          `json:"message"`
	MessageDetail string          `json:"message_detail"`
}

// decodeEnvelope parses a Duo envelope and, for failures, checks that the
// body leaks nothing about the implementation.
func decodeEnvelope(t *testing.T, body []byte) duoEnvelope {
	t.Helper()
	var env duoEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("answer is not a Duo JSON envelope: %v: %q", err, body)
	}
	switch env.Stat {
	case "OK":
	case "FAIL":
		checkFailBody(t, body)
		if env.Code == 0 || env.Message == "" {
			t.Errorf("FAIL envelope without code or message: %s", body)
		}
	default:
		t.Errorf("stat %q in %s", env.Stat, body)
	}
	return env
}

// checkFailBody asserts an error answer reveals no internals.
func checkFailBody(t *testing.T, body []byte) {
	t.Helper()
	low := strings.ToLower(string(body))
	for _, bad := range []string{"panic", ".go:", "sql", "goroutine"} {
		if strings.Contains(low, bad) {
			t.Errorf("error answer contains %q: %s", bad, body)
		}
	}
}

// runJSON runs cmd with a timeout and decodes its stdout as JSON into v.
func runJSON(t *testing.T, timeout time.Duration, v any, name string, args []string, env []string, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("%s printed no JSON: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", name, stderr.String())
	}
}

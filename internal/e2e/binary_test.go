package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the assent binary to completion with a timeout.
func runCLI(t *testing.T, bin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = testutil.HermeticEnv()
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.code = ee.ExitCode()
	default:
		t.Fatalf("assent %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, res.stdout, res.stderr)
	}
	return res
}

// mustCLI runs the binary and requires exit status 0.
func mustCLI(t *testing.T, bin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, bin, args...)
	if r.code != 0 {
		t.Fatalf("assent %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// TestBinary builds the assent binary once and runs it as a server and as
// the administration CLI.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	t.Run("ServeAndCLI", func(t *testing.T) {
		t.Parallel()
		testBinaryServeAndCLI(t, bin)
	})
	t.Run("InvalidConfig", func(t *testing.T) {
		t.Parallel()
		testBinaryInvalidConfig(t, bin)
	})
	t.Run("RateLimits", func(t *testing.T) {
		t.Parallel()
		testBinaryRateLimits(t, bin)
	})
	t.Run("Observability", func(t *testing.T) {
		t.Parallel()
		testBinaryObservability(t, bin)
	})
	t.Run("ReadyzPostgres", func(t *testing.T) {
		t.Parallel()
		testBinaryReadyzPostgres(t, bin)
	})
	t.Run("SecretsNeverLogged", func(t *testing.T) {
		t.Parallel()
		testSecretsNeverLogged(t, bin)
	})
	for _, e := range engines {
		t.Run("IntegrationChangesAtOnce/"+string(e), func(t *testing.T) {
			t.Parallel()
			testIntegrationChangesAtOnce(t, bin, e)
		})
	}
	t.Run("PhoneCall", func(t *testing.T) {
		t.Parallel()
		testBinaryPhoneCall(t, bin)
	})
	t.Run("SignatureLimits", func(t *testing.T) {
		t.Parallel()
		testBinarySignatureLimits(t, bin)
	})
	t.Run("Floods", func(t *testing.T) {
		t.Parallel()
		// The floods measure the server's memory, which -race multiplies.
		floodBin := bin
		if testutil.RaceEnabled {
			floodBin = testutil.GoBuildNoRace(t, "./cmd/assent", t.TempDir(), "assent")
		}
		testBinaryFloods(t, floodBin)
	})
}

func testBinaryServeAndCLI(t *testing.T, bin string) {
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{})
	dataDir, host, caFile := srv.DataDir, srv.Host, srv.CAFile

	dd := []string{"--data-dir", dataDir}
	cli := func(args ...string) cliResult { t.Helper(); return mustCLI(t, bin, append(args, dd...)...) }

	// integration create --json
	r := cli("integration", "create", "--type", "authapi", "--name", "E2E App", "--json")
	var in map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
		t.Fatalf("integration create --json: %v\n%s", err, r.stdout)
	}
	ikey, _ := in["integration_key"].(string)
	skey, _ := in["secret_key"].(string)
	if !regexp.MustCompile(`^DI[A-Z0-9]{18}$`).MatchString(ikey) || len(skey) != 40 ||
		in["api_hostname"] != host || in["name"] != "E2E App" || in["type"] != "authapi" {
		t.Fatalf("integration create --json: %s (want api_hostname %s)", r.stdout, host)
	}

	// users and bypass codes
	r = cli("user", "create", "bob", "--json")
	var user map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &user); err != nil || user["username"] != "bob" || user["status"] != "active" {
		t.Fatalf("user create --json: %v\n%s", err, r.stdout)
	}
	// Usernames compare as PRECIS says: another spelling of bob is bob, a
	// compatibility character is refused (issue 9, defect 7).
	for _, tc := range []struct{ name, want string }{
		{"\u212Aob", "U+212A"}, // KELVIN SIGN
		{"ＢＯＢ", `existing user "bob"`},
		{"bob  smith", "two spaces"},
	} {
		r := runCLI(t, bin, append([]string{"user", "create", tc.name}, dd...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "username") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("user create %+q: exit %d, stderr %q; want a refusal mentioning %q", tc.name, r.code, r.stderr, tc.want)
		}
	}
	cli("user", "create", "carol")
	if r := runCLI(t, bin, append([]string{"user", "rename", "carol", "Bob"}, dd...)...); r.code == 0 || !strings.Contains(r.stderr, `existing user "bob"`) {
		t.Errorf("user rename carol Bob: exit %d, stderr %q; want a conflict", r.code, r.stderr)
	}
	r = cli("user", "rename", "CAROL", "Caroline", "--json")
	if !strings.Contains(r.stdout, `"username": "Caroline"`) {
		t.Errorf("user rename CAROL Caroline: %s", r.stdout)
	}
	cli("user", "delete", "caroline")

	r = cli("user", "bypass-codes", "bob", "--count", "2", "--json")
	var bc struct {
		Username string   `json:"username"`
		Codes    []string `json:"codes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &bc); err != nil || bc.Username != "bob" || len(bc.Codes) != 2 {
		t.Fatalf("user bypass-codes --json: %v\n%s", err, r.stdout)
	}
	r = cli("user", "list", "--json")
	var users []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil || len(users) != 1 || users[0]["username"] != "bob" || users[0]["user_id"] != user["user_id"] {
		t.Fatalf("user list --json: %v\n%s", err, r.stdout)
	}
	r = cli("integration", "list")
	if !strings.Contains(r.stdout, ikey) || !strings.Contains(r.stdout, "E2E App") {
		t.Fatalf("integration list does not show %s:\n%s", ikey, r.stdout)
	}

	// assent api against the running server
	apiAuth := func(code string) cliResult {
		t.Helper()
		return runCLI(t, bin, "api", "--host", host, "--ca", caFile, "--ikey", ikey, "--skey", skey,
			"POST", "/auth/v2/auth", "username=bob", "factor=passcode", "passcode="+code)
	}
	r = apiAuth(bc.Codes[0])
	if r.code != 0 || !strings.Contains(r.stdout, `"result": "allow"`) {
		t.Fatalf("assent api auth: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	cli("user", "set-status", "bob", "disabled")
	r = apiAuth(bc.Codes[1])
	if !strings.Contains(r.stdout, `"result": "deny"`) {
		t.Fatalf("assent api auth of a disabled user: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, bin, "api", "--host", host, "--ca", caFile, "--ikey", ikey, "--skey", strings.Repeat("x", 40), "GET", "/auth/v2/check")
	if r.code == 0 || !strings.Contains(r.stdout, "40103") {
		t.Errorf("assent api with a wrong skey: exit %d, stdout:\n%s", r.code, r.stdout)
	}

	// Graceful shutdown on SIGTERM.
	srv.Stop()
	out := srv.Output()
	if !strings.Contains(out, "msg=stopped") {
		t.Errorf("assent serve did not log \"stopped\":\n%s", out)
	}
	for _, secret := range append([]string{skey}, bc.Codes...) {
		if strings.Contains(out, secret) {
			t.Errorf("the server log contains a secret (%s…)", secret[:4])
		}
	}
}

func testBinaryInvalidConfig(t *testing.T, bin string) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "assent.toml")
	if err := os.WriteFile(cfgFile, []byte("listen = \"not a listen address\"\nfrobnicate = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, bin, "serve", "--config", cfgFile, "--data-dir", filepath.Join(dir, "data"))
	if r.code == 0 {
		t.Fatalf("assent serve with an invalid config exited 0\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, want := range []string{"frobnicate", "listen", "not a listen address"} {
		if !strings.Contains(all, want) {
			t.Errorf("output does not mention %q:\n%s", want, all)
		}
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(all, bad) {
			t.Errorf("output contains %q:\n%s", bad, all)
		}
	}
}

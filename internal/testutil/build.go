package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RepoRoot returns the module root (the nearest directory above the
// working directory that holds go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("module root (go.mod) not found above the working directory")
		}
		dir = parent
	}
}

// GoBuild builds the module's package pkg (e.g. "./cmd/assent") into
// dir/name and returns the binary's path. When the test binary has -race,
// so does the build, which reuses the race-instrumented packages the test
// build compiled and also catches races in the subprocess.
func GoBuild(t testing.TB, pkg, dir, name string) string {
	t.Helper()
	return goBuild(t, pkg, dir, name, RaceEnabled)
}

// GoBuildNoRace is GoBuild without -race, for tests that measure the
// process (memory, how much it gets through): the race detector multiplies
// both several times over.
func GoBuildNoRace(t testing.TB, pkg, dir, name string) string {
	t.Helper()
	return goBuild(t, pkg, dir, name, false)
}

func goBuild(t testing.TB, pkg, dir, name string, race bool) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	Require(t, "the go command", err == nil)
	bin := filepath.Join(dir, name)
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, append(args, pkg)...)
	cmd.Dir = RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// HermeticEnv is the environment without ASSENT_* and DUO_* settings, so
// a developer's own configuration cannot leak into subprocesses. It turns
// metrics_listen off: servers started at once would all claim its default
// port; a test that scrapes metrics sets ASSENT_METRICS_LISTEN after it.
func HermeticEnv() []string {
	env := []string{"ASSENT_METRICS_LISTEN="}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ASSENT_") && !strings.HasPrefix(kv, "DUO_") {
			env = append(env, kv)
		}
	}
	return env
}

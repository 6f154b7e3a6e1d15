package packaging

import (
	"bytes"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/buildinfo"
	"github.com/assent-auth/assent/internal/testutil"
)

// run runs a command to completion (10 minutes at most: builds on a busy
// machine are slow) and returns its standard output; a failure ends the test
// with both outputs.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr is run without the test: standard output, or both outputs and the
// error.
func runErr(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(testutil.HermeticEnv(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// build runs scripts/build.sh in the repository at root for goos/goarch
// with the extra environment env, and returns the binary's path.
func build(t *testing.T, root, goos, goarch, out string, env ...string) string {
	t.Helper()
	_, err := exec.LookPath("go")
	testutil.Require(t, "the go command", err == nil)
	env = append(env, "GOOS="+goos, "GOARCH="+goarch)
	run(t, root, env, filepath.Join(root, "scripts", "build.sh"), out)
	return out
}

// versionOf runs `assent version --json`.
func versionOf(t *testing.T, bin string) buildinfo.Info {
	t.Helper()
	var info buildinfo.Info
	out := run(t, "", nil, bin, "version", "--json")
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("assent version --json: %v: %s", err, out)
	}
	return info
}

// checkStatic fails unless the ELF binary needs no dynamic loader and no
// shared library (CGO_ENABLED=0).
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a dynamic loader (PT_INTERP): not static", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
}

// TestContainerBuild runs the Containerfile's build step as the image build
// does: on a copy of the sources without .git, version, commit and date
// given as build arguments. The image itself is not built here: the test
// machines have no container engine.
func TestContainerBuild(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	copySources(t, testutil.RepoRoot(t), src)
	want := buildinfo.Info{
		Version: "v1.0.0-container", Commit: "fedcba9876543210fedcba9876543210fedcba98",
		Date: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	cmd, ok := strings.CutPrefix(containerBuildLine, "RUN ")
	if !ok {
		t.Fatalf("containerBuildLine %q is not a RUN step", containerBuildLine)
	}
	out := filepath.Join(src, "out")
	// The RUN line, with the image's path replaced by out.
	cmd = strings.Replace(cmd, "/out/usr/bin/assent", out, 1)
	run(t, src, []string{
		"VERSION=" + want.Version, "COMMIT=" + want.Commit, "DATE=" + want.Date.Format(time.RFC3339),
		"GOOS=linux", "GOARCH=amd64",
	}, "sh", "-c", cmd)
	checkStatic(t, out)
	got := versionOf(t, out)
	if got.Version != want.Version || got.Commit != want.Commit || !got.Date.Equal(want.Date) || got.Modified {
		t.Errorf("assent version = %+v, want %+v", got, want)
	}
}

// copySources copies the repository's files, without .git and installed
// node modules, the way a container build context without .git sees them.
func copySources(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "test-artifacts", "assent-data", "dist":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if d.Name() == ".git" || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.OpenFile(filepath.Join(to, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
	if err != nil {
		t.Fatalf("copying the sources: %v", err)
	}
}

// releaseTargets are the platforms scripts/release.sh builds.
var releaseTargets = []struct{ goos, goarch string }{
	{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"},
}

// TestCrossCompile builds release binaries for other platforms with
// scripts/build.sh and checks each file's format and architecture. Each
// build compiles everything once more, so by default only windows/amd64 and
// darwin/arm64 (one of each other OS) are built; ASSENT_TEST_RELEASE_ALL=1
// builds every target of scripts/release.sh. (linux/amd64 is also built by
// TestDebianPackage and TestContainerBuild.)
func TestCrossCompile(t *testing.T) {
	t.Parallel()
	root := testutil.RepoRoot(t)
	all := os.Getenv("ASSENT_TEST_RELEASE_ALL") != ""
	dir := t.TempDir()
	for _, tg := range releaseTargets {
		name := tg.goos + "/" + tg.goarch
		if !all && name != "windows/amd64" && name != "darwin/arm64" {
			continue
		}
		t.Run(tg.goos+"_"+tg.goarch, func(t *testing.T) {
			out := build(t, root, tg.goos, tg.goarch, filepath.Join(dir, tg.goos+"_"+tg.goarch), "VERSION=v0.0.0-cross")
			checkFormat(t, out, tg.goos, tg.goarch)
		})
	}
}

// checkFormat fails unless bin is an executable for goos/goarch.
func checkFormat(t *testing.T, bin, goos, goarch string) {
	t.Helper()
	var got string
	switch goos {
	case "linux":
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
		checkStatic(t, bin)
	case "darwin":
		f, err := macho.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	case "windows":
		f, err := pe.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got = map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
	default:
		t.Fatalf("no check for %s", goos)
	}
	if got != goarch {
		t.Errorf("%s: a %s binary for %q, want %s", bin, goos, got, goarch)
	}
}

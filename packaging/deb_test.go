package packaging

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// TestDebianPackage builds the .deb with scripts/package-deb.sh, checks its
// metadata and contents, installs it with dpkg in a throw-away root (an
// overlay of this machine's root in a private mount namespace: every change
// lands in a temporary upper layer, nothing on the machine), checks the
// user, files, units and `assent version`, runs an administration command
// as the service's user, upgrades, removes and purges it, and then checks
// that the upper layer holds nothing but documented state.
//
// It needs root (mount namespaces, dpkg, useradd); CI runs as root.
func TestDebianPackage(t *testing.T) {
	t.Parallel()
	for _, prog := range []string{"dpkg", "dpkg-deb", "unshare", "nsenter", "systemd-analyze", "setpriv", "sh"} {
		_, err := exec.LookPath(prog)
		testutil.Require(t, prog, err == nil)
	}
	testutil.Require(t, "root (for dpkg -i in a mount namespace)", os.Geteuid() == 0)
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("the package is built for amd64 and arm64, not %s", runtime.GOARCH)
	}
	root := testutil.RepoRoot(t)
	dir := t.TempDir()
	const version, debVersion = "v9.8.7-rc.1", "9.8.7~rc.1-1"

	bin := build(t, root, "linux", runtime.GOARCH, filepath.Join(dir, "assent"), "VERSION="+version)
	checkStatic(t, bin)
	info := versionOf(t, bin)
	if info.Version != version {
		t.Errorf("version %q, want %q", info.Version, version)
	}
	if head, err := runErr(root, nil, "git", "rev-parse", "HEAD"); err == nil {
		if info.Commit != strings.TrimSpace(head) || info.Date.IsZero() {
			t.Errorf("commit %q date %v, want HEAD %s and its date", info.Commit, info.Date, strings.TrimSpace(head))
		}
	}

	out := run(t, root, []string{"VERSION=" + version}, filepath.Join(root, "scripts", "package-deb.sh"),
		"--bin", bin, "--arch", runtime.GOARCH, "--out", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	deb := lines[len(lines)-1]
	if want := filepath.Join(dir, "assent_"+debVersion+"_"+runtime.GOARCH+".deb"); deb != want {
		t.Fatalf("package-deb.sh made %q, want %q", deb, want)
	}

	t.Run("Metadata", func(t *testing.T) {
		for field, want := range map[string]string{
			"Package": "assent", "Version": debVersion, "Architecture": runtime.GOARCH,
		} {
			if got := strings.TrimSpace(run(t, "", nil, "dpkg-deb", "-f", deb, field)); got != want {
				t.Errorf("%s: %q, want %q", field, got, want)
			}
		}
		if got := strings.TrimSpace(run(t, "", nil, "dpkg-deb", "-I", deb, "conffiles")); got != "/etc/assent/assent.toml" {
			t.Errorf("conffiles: %q, want /etc/assent/assent.toml", got)
		}
		for _, script := range []string{"postinst", "prerm", "postrm"} {
			if _, err := runErr("", nil, "dpkg-deb", "-I", deb, script); err != nil {
				t.Errorf("no %s: %v", script, err)
			}
		}
	})
	t.Run("Contents", func(t *testing.T) {
		got := map[string]string{} // path → mode and owner
		for _, l := range strings.Split(run(t, "", nil, "dpkg-deb", "-c", deb), "\n") {
			f := strings.Fields(l)
			if len(f) >= 6 {
				got[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
			}
		}
		for path, want := range map[string]string{
			"/usr/bin/assent":                                  "-rwxr-xr-x root/root",
			"/etc/assent/assent.toml":                          "-rw-r----- root/root",
			"/usr/lib/systemd/system/assent.service":           "-rw-r--r-- root/root",
			"/usr/lib/systemd/system/assent-authproxy.service": "-rw-r--r-- root/root",
			"/usr/share/doc/assent/examples/authproxy.cfg":     "-rw-r--r-- root/root",
			"/usr/share/doc/assent/install-debian.md":          "-rw-r--r-- root/root",
			"/usr/share/doc/assent/upgrading.md":               "-rw-r--r-- root/root",
			"/usr/share/doc/assent/CHANGELOG.md":               "-rw-r--r-- root/root",
		} {
			if got[path] != want {
				t.Errorf("%s: %q, want %q", path, got[path], want)
			}
		}
	})

	r := newThrowawayRoot(t)
	must := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := r.run(args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	stat := func(t *testing.T, path string) string {
		t.Helper()
		return strings.TrimSpace(must(t, "stat", "-c", "%U:%G %a", path))
	}
	exists := func(path string) bool {
		_, err := r.run("test", "-e", path)
		return err == nil
	}

	must(t, "dpkg", "-i", deb)
	t.Run("Installed", func(t *testing.T) {
		pw := strings.Split(strings.TrimSpace(must(t, "getent", "passwd", "assent")), ":")
		if len(pw) != 7 || pw[5] != "/var/lib/assent" || pw[6] != "/usr/sbin/nologin" {
			t.Errorf("user assent: %q", pw)
		} else if uid, _ := strconv.Atoi(pw[2]); uid <= 0 || uid >= 1000 {
			t.Errorf("user assent has uid %d, want a system uid", uid)
		}
		if got := stat(t, "/etc/assent/assent.toml"); got != "root:assent 640" {
			t.Errorf("/etc/assent/assent.toml: %s, want root:assent 640", got)
		}
		if got := stat(t, "/var/lib/assent"); got != "assent:assent 700" {
			t.Errorf("/var/lib/assent: %s, want assent:assent 700", got)
		}
		if out := must(t, "/usr/bin/assent", "version"); !strings.Contains(out, "version: "+version+"\n") {
			t.Errorf("assent version:\n%s", out)
		}
		// The units as installed, with /usr/bin/assent present.
		out, err := r.run("systemd-analyze", "verify",
			"/usr/lib/systemd/system/assent.service", "/usr/lib/systemd/system/assent-authproxy.service")
		if err != nil || strings.Contains(out, "assent") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		// `assent init` and an administration command as the service's
		// user, with the configuration file as installed: init creates the
		// installation in /var/lib/assent (as the service's first start
		// would), which other commands never do.
		must(t, "setpriv", "--reuid=assent", "--regid=assent", "--init-groups", "--",
			"/usr/bin/assent", "--config", "/etc/assent/assent.toml", "init")
		must(t, "setpriv", "--reuid=assent", "--regid=assent", "--init-groups", "--",
			"/usr/bin/assent", "--config", "/etc/assent/assent.toml", "user", "create", "alice")
		if out := must(t, "setpriv", "--reuid=assent", "--regid=assent", "--init-groups", "--",
			"/usr/bin/assent", "--config", "/etc/assent/assent.toml", "user", "list"); !strings.Contains(out, "alice") {
			t.Errorf("user list as assent:\n%s", out)
		}
		if got := stat(t, "/var/lib/assent/master.key"); got != "assent:assent 600" {
			t.Errorf("master.key: %s", got)
		}
	})

	// Upgrade (here: the same version again): configure runs with the old
	// version; the statoverride and the data stay.
	must(t, "dpkg", "-i", deb)
	if got := stat(t, "/etc/assent/assent.toml"); got != "root:assent 640" {
		t.Errorf("after upgrade: /etc/assent/assent.toml: %s", got)
	}

	must(t, "dpkg", "-r", "assent")
	t.Run("Removed", func(t *testing.T) {
		if exists("/usr/bin/assent") || exists("/usr/lib/systemd/system/assent.service") {
			t.Error("the program or a unit is still there after dpkg -r")
		}
		if !exists("/etc/assent/assent.toml") || !exists("/var/lib/assent/master.key") {
			t.Error("dpkg -r removed the configuration or the data (only purge may)")
		}
		if _, err := r.run("getent", "passwd", "assent"); err != nil {
			t.Error("dpkg -r removed the user (only purge may)")
		}
	})

	out = must(t, "dpkg", "--purge", "assent")
	t.Run("Purged", func(t *testing.T) {
		if !strings.Contains(out, "rm -rf /var/lib/assent") {
			t.Errorf("dpkg --purge did not say that /var/lib/assent is kept and how to delete it:\n%s", out)
		}
		if _, err := r.run("getent", "passwd", "assent"); err == nil {
			t.Error("user assent is still there after purge")
		}
		if _, err := r.run("getent", "group", "assent"); err == nil {
			t.Error("group assent is still there after purge")
		}
		if exists("/etc/assent") {
			t.Error("/etc/assent is still there after purge")
		}
		if got := stat(t, "/var/lib/assent"); got != "root:root 700" {
			t.Errorf("/var/lib/assent after purge: %s, want root:root 700 (kept, documented)", got)
		}
		if got := stat(t, "/var/lib/assent/master.key"); !strings.HasPrefix(got, "root:root ") {
			t.Errorf("master.key after purge: %s, want owned by root", got)
		}
		if out, _ := r.run("dpkg-statoverride", "--list", "/etc/assent/assent.toml"); out != "" {
			t.Errorf("statoverride left: %s", out)
		}
		for _, p := range r.leftovers(t) {
			t.Errorf("left after purge: %s", p)
		}
	})
}

// throwawayRoot is this machine's root as the lower layer of an overlay
// whose upper layer is a tmpfs, in a private mount namespace held by a
// sleeping process: commands run chrooted into the overlay, and everything
// they change is in the upper layer, gone when the process ends.
type throwawayRoot struct {
	pid  int
	base string // in the namespace: tmpfs with up/, work/ and root/
	// before holds the restored files as they were when the root came
	// up. They are copied up at once: other tests on this machine (the
	// pam_duo ones) add and remove users in the live /etc/passwd, which
	// must not show through as a change the package made.
	before map[string][]byte
}

func newThrowawayRoot(t *testing.T) *throwawayRoot {
	t.Helper()
	base, err := os.MkdirTemp("", "assent-deb-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(base) })
	// /proc, /dev and /run are separate mounts, not in the lower layer.
	script := `set -e
mount -t tmpfs tmpfs "$1"
mkdir "$1/up" "$1/work" "$1/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$1/up,workdir=$1/work" "$1/root"
mount -t proc proc "$1/root/proc"
mount --rbind /dev "$1/root/dev"
mount -t tmpfs tmpfs "$1/root/run"
echo ready
exec sleep 3600`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", base)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line == "ready\n"
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			testutil.Require(t, "an overlay root in a mount namespace (unshare, overlayfs): "+stderr.String(), false)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the throw-away root did not come up: %s", stderr.String())
	}
	r := &throwawayRoot{pid: cmd.Process.Pid, base: base, before: map[string][]byte{}}
	for _, rel := range restored {
		b, err := os.ReadFile(filepath.Join("/", rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		r.before[rel] = b
		// Writing the same bytes through the overlay copies the file up
		// (mode and owner kept), detaching it from the live one.
		if err := os.WriteFile(filepath.Join("/proc", strconv.Itoa(r.pid), "root", base, "root", rel), b, 0); err != nil {
			t.Fatalf("copying %s up: %v", rel, err)
		}
	}
	return r
}

// run runs a command chrooted in the throw-away root with a clean
// environment; it returns standard output and error together.
func (r *throwawayRoot) run(args ...string) (string, error) {
	full := append([]string{"--target", strconv.Itoa(r.pid), "--mount", "--",
		"chroot", filepath.Join(r.base, "root"),
		"env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	return string(out), err
}

// documented lists what may stay in the upper layer after a purge: dpkg's
// and the shadow suite's own records, and the kept state directory
// (docs/install-debian.md, "Removing").
var documented = []string{
	"var/lib/dpkg/",       // dpkg's database
	"var/log/dpkg.log",    // dpkg's log
	"var/lib/assent",      // kept on purge, owned by root
	"etc/passwd-",         // backups useradd and userdel keep
	"etc/group-",          //
	"etc/shadow-",         //
	"etc/gshadow-",        //
	"etc/subuid-",         //
	"etc/subgid-",         //
	"etc/.pwd.lock",       // the shadow suite's lock file
	"var/log/lastlog",     // useradd resets the new uid's records
	"var/log/faillog",     //
	"etc/ld.so.cache",     // dpkg may run ldconfig
	"var/cache/ldconfig/", //
	"var/lib/systemd/deb-systemd-helper-enabled/", // none written; tolerated if systemd's helper runs
}

// restored lists files the package changes and must give back byte for byte.
var restored = []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/subuid", "etc/subgid"}

// leftovers lists what the upper layer holds beyond documented state: new
// files and directories, changed files, and deleted ones (whiteouts).
func (r *throwawayRoot) leftovers(t *testing.T) []string {
	t.Helper()
	up := filepath.Join("/proc", strconv.Itoa(r.pid), "root", r.base, "up")
	var left []string
	err := filepath.WalkDir(up, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(up, path)
		if rel == "." {
			return nil
		}
		for _, doc := range documented {
			if rel == strings.TrimSuffix(doc, "/") || strings.HasPrefix(rel, strings.TrimSuffix(doc, "/")+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		lower := filepath.Join("/", rel)
		li, lerr := os.Lstat(lower)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeCharDevice != 0 && info.Sys().(*syscall.Stat_t).Rdev == 0:
			left = append(left, "/"+rel+" (deleted)")
		case d.IsDir():
			if errors.Is(lerr, fs.ErrNotExist) {
				left = append(left, "/"+rel+"/ (new directory)")
				return filepath.SkipDir
			}
		case errors.Is(lerr, fs.ErrNotExist):
			left = append(left, "/"+rel+" (new)")
		case slices.Contains(restored, rel):
			a, err := os.ReadFile(path)
			if b, ok := r.before[rel]; err != nil || !ok || !bytes.Equal(a, b) {
				left = append(left, "/"+rel+" (changed)")
			}
		case li != nil:
			left = append(left, "/"+rel+" (changed)")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the upper layer: %v", err)
	}
	return left
}

package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/assent-auth/assent/internal/authproxy"
	"github.com/assent-auth/assent/internal/config"
)

// setting matches a line of assent.toml that sets a key, commented out
// ("# key = value") or not.
var setting = regexp.MustCompile(`^(#\s*)?([a-z0-9_]+)\s*=\s*(.+)$`)

// tableHeader matches the header of an array of tables ("# [[directory]]").
var tableHeader = regexp.MustCompile(`^#?\s*\[\[([a-z0-9_]+)\]\]\s*$`)

// TestConfigFileListsEveryKey: /etc/assent/assent.toml names every setting
// of config.Config exactly once, each example value has the key's type, and
// the file as installed is a valid configuration.
func TestConfigFileListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("assent.toml")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k] = true
	}
	seen := map[string]int{}
	for i, line := range strings.Split(string(b), "\n") {
		// A table of the file ([[directory]]) is listed by its header.
		if h := tableHeader.FindStringSubmatch(line); h != nil {
			if s, ok := config.Lookup(h[1]); ok && s.FileOnly {
				seen[h[1]] = i + 1
			}
			continue
		}
		m := setting.FindStringSubmatch(line)
		if m == nil || !known[m[2]] {
			if m != nil && m[1] == "" {
				t.Errorf("assent.toml:%d: %q is not a configuration key", i+1, m[2])
			}
			continue
		}
		key := m[2]
		if prev, dup := seen[key]; dup {
			t.Errorf("assent.toml:%d: %s again (first on line %d)", i+1, key, prev)
		}
		seen[key] = i + 1
		// The example, uncommented on its own, must decode into its field.
		var c config.Config
		md, err := toml.Decode(key+" = "+m[3], &c)
		if err != nil {
			t.Errorf("assent.toml:%d: %s = %s: %v", i+1, key, m[3], err)
		} else if u := md.Undecoded(); len(u) > 0 {
			t.Errorf("assent.toml:%d: %v not decoded", i+1, u)
		}
	}
	for _, k := range config.Keys() {
		if seen[k] == 0 {
			t.Errorf("assent.toml does not list %s: add it, commented out with its default and what it does", k)
		}
	}
	cfg, err := config.Load(config.Sources{File: "assent.toml"})
	if err != nil {
		t.Fatalf("assent.toml as installed: %v", err)
	}
	if cfg.DataDir != "/var/lib/assent" {
		t.Errorf("data_dir = %q, want the units' StateDirectory /var/lib/assent", cfg.DataDir)
	}
}

// TestAuthproxyExample: the example authproxy.cfg the package ships is valid
// and logs where the unit may write.
func TestAuthproxyExample(t *testing.T) {
	b, err := os.ReadFile("authproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// Installed as the file's comment says: mode 0640.
	path := filepath.Join(t.TempDir(), "authproxy.cfg")
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	c, warnings, err := authproxy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s", w.String())
	}
	if err := authproxy.Validate(c); err != nil {
		t.Fatal(err)
	}
	if c.Main.LogDir != "/var/log/assent" {
		t.Errorf("log_dir = %q, want /var/log/assent (the unit's LogsDirectory; ProtectSystem=strict)", c.Main.LogDir)
	}
}

// TestUnits: both units run as assent, with the hardening the issue asks
// for, and point at the files the package installs.
func TestUnits(t *testing.T) {
	want := []string{
		"User=assent", "Group=assent",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
	}
	units := map[string][]string{
		"assent.service":           {"ExecStart=/usr/bin/assent serve --config /etc/assent/assent.toml", "StateDirectory=assent"},
		"assent-authproxy.service": {"ExecStart=/usr/bin/assent authproxy --config /etc/assent/authproxy.cfg", "LogsDirectory=assent"},
	}
	for name, extra := range units {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, w := range append(want, extra...) {
			if !lines[w] {
				t.Errorf("%s: no line %q", name, w)
			}
		}
	}
}

// TestContainerfile: the image builds with scripts/build.sh (which
// TestContainerBuild runs as the image does), runs as a non-root user and
// keeps its state in a volume.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	has := func(prefix string) bool {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return true
			}
		}
		return false
	}
	for _, w := range []string{
		containerBuildLine,
		"FROM scratch",
		`VOLUME ["/var/lib/assent"]`,
		"ENTRYPOINT [\"/usr/bin/assent\"]",
	} {
		if !has(w) {
			t.Errorf("Containerfile: no line %q", w)
		}
	}
	var user string
	for _, l := range lines {
		if u, ok := strings.CutPrefix(l, "USER "); ok {
			user = u
		}
	}
	if user == "" || user == "0" || strings.HasPrefix(user, "0:") || strings.HasPrefix(user, "root") {
		t.Errorf("Containerfile: USER %q, want a non-root user", user)
	}
}

// containerBuildLine is the Containerfile's build step; TestContainerBuild
// runs the same command.
const containerBuildLine = `RUN VERSION="$VERSION" COMMIT="$COMMIT" DATE="$DATE" ./scripts/build.sh /out/usr/bin/assent`

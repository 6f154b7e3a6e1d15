package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/testutil"
)

// settingsRow is one row of README.md's configuration table: the keys,
// environment variables and flags named (in backquotes) in its first three
// columns.
type settingsRow struct {
	line             int
	keys, envs, flag []string
	sighup           bool // the meaning says *SIGHUP*: reloaded without a restart
}

var backquoted = regexp.MustCompile("`([^`]+)`")

// readmeSettings reads the configuration table of README.md.
func readmeSettings(t *testing.T) []settingsRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []settingsRow
	in := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| key (file) | environment | flag |"):
			in = true
			continue
		case !in || strings.HasPrefix(line, "|---"):
			continue
		case !strings.HasPrefix(line, "|"):
			in = false
			continue
		}
		// Cells split at pipes not escaped as \|.
		cells := strings.Split(strings.ReplaceAll(strings.Trim(line, "|"), `\|`, "\x00"), "|")
		if len(cells) < 5 {
			t.Fatalf("README.md:%d: a configuration row with %d columns, want 5", i+1, len(cells))
		}
		quoted := func(cell string) []string {
			var out []string
			for _, m := range backquoted.FindAllStringSubmatch(cell, -1) {
				out = append(out, m[1])
			}
			return out
		}
		rows = append(rows, settingsRow{line: i + 1, keys: quoted(cells[0]), envs: quoted(cells[1]), flag: quoted(cells[2]),
			sighup: strings.Contains(cells[4], "*SIGHUP*")})
	}
	if len(rows) == 0 {
		t.Fatal(`README.md has no table headed "| key (file) | environment | flag |"`)
	}
	return rows
}

// flagKeys is every flag that sets a configuration key, with the key.
func flagKeys() map[string]string {
	m := map[string]string{}
	for _, fm := range []map[string]string{configFlags, serverFlags} {
		for f, k := range fm {
			m[f] = k
		}
	}
	return m
}

// TestSettingsDocumented keeps README.md's configuration table and the code
// in step (one definition of each setting): every key of config.Config has
// one row with its environment variable and the flags that set it, and
// every row names real keys.
func TestSettingsDocumented(t *testing.T) {
	keys := config.Keys()
	flags := flagKeys()
	seen := map[string]int{}
	for _, r := range readmeSettings(t) {
		if len(r.keys) == 0 {
			t.Errorf("README.md:%d: a configuration row without a key", r.line)
			continue
		}
		var wantEnvs, wantFlags []string
		for _, k := range r.keys {
			if !slices.Contains(keys, k) {
				t.Errorf("README.md:%d: %q is not a configuration key (config.Config)", r.line, k)
			}
			if prev, dup := seen[k]; dup {
				t.Errorf("README.md:%d: %q already has a row (line %d)", r.line, k, prev)
			}
			seen[k] = r.line
			wantEnvs = append(wantEnvs, config.EnvVar(k))
			for f, fk := range flags {
				if fk == k {
					wantFlags = append(wantFlags, "--"+f)
				}
			}
		}
		if !slices.Equal(r.envs, wantEnvs) {
			t.Errorf("README.md:%d: environment %q, want %q", r.line, r.envs, wantEnvs)
		}
		slices.Sort(wantFlags)
		got := slices.Sorted(slices.Values(r.flag))
		if !slices.Equal(got, wantFlags) {
			t.Errorf("README.md:%d: flags %q, want %q (configFlags and serverFlags in root.go)", r.line, got, wantFlags)
		}
	}
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			t.Errorf("configuration key %q (%s) is missing from README.md's configuration table", k, config.EnvVar(k))
		}
	}
}

// TestReloadableDocumented: the README marks *SIGHUP* exactly the keys
// that `assent serve` reloads (config.Reloadable).
func TestReloadableDocumented(t *testing.T) {
	for _, r := range readmeSettings(t) {
		for _, k := range r.keys {
			if r.sighup != config.Reloadable(k) {
				t.Errorf("README.md:%d: %q marked *SIGHUP* %v, but config.Reloadable says %v", r.line, k, r.sighup, config.Reloadable(k))
			}
		}
	}
}

// TestConfigFlags checks the flag → key maps of root.go against the
// command tree: every mapped key exists and its flag is defined, and no
// command defines a flag named like a key that the maps leave out (it
// would be silently ignored).
func TestConfigFlags(t *testing.T) {
	keys := config.Keys()
	flags := flagKeys()
	for f, k := range flags {
		if !slices.Contains(keys, k) {
			t.Errorf("flag --%s maps to %q, not a configuration key", f, k)
		}
	}
	defined := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		visit := func(fl *pflag.Flag) {
			defined[fl.Name] = true
			key := strings.ReplaceAll(fl.Name, "-", "_")
			if slices.Contains(keys, key) && flags[fl.Name] != key {
				t.Errorf("%s: flag --%s is named like the key %q but is not in configFlags or serverFlags", c.CommandPath(), fl.Name, key)
			}
		}
		c.LocalFlags().VisitAll(visit)
		c.PersistentFlags().VisitAll(visit)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&env{}))
	for f := range flags {
		if !defined[f] {
			t.Errorf("flag --%s is in the flag → key maps but no command defines it", f)
		}
	}
}

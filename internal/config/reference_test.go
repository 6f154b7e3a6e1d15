package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The settings table agrees with Config: a setting per field, a field per
// setting, defaults that parse, flags given once and with their help.
func TestSettingsTable(t *testing.T) {
	t.Parallel()
	for _, err := range checkSettings() {
		t.Error(err)
	}
}

// README.md's configuration table is exactly what the settings table
// generates, so the README cannot drift from the code.
func TestREADMEReference(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Generated(string(b))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if want := MarkdownReference(); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("README.md's configuration reference differs from internal/config/settings.go; run `go generate ./internal/config`.\nFirst difference, table line %d:\nREADME: %s\ncode:   %s", i+1, g, w)
			}
		}
	}
	for _, s := range Settings() {
		env := "`" + s.EnvVar() + "`"
		if s.FileOnly {
			env = "(file only)"
		}
		if !strings.Contains(got, "| `"+s.Key+"` | "+env) {
			t.Errorf("README.md: no row for %s", s.Key)
		}
	}
}

func TestReplaceGenerated(t *testing.T) {
	t.Parallel()
	doc := "intro\n" + BeginMarker + "\nold\ntable\n" + EndMarker + "\noutro\n"
	out, err := ReplaceGenerated(doc, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "intro\n" + BeginMarker + "\nnew\n" + EndMarker + "\noutro\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if g, err := Generated(out); err != nil || g != "new\n" {
		t.Errorf("Generated = %q, %v", g, err)
	}
	for _, bad := range []string{"no markers", BeginMarker + "\nno end", EndMarker + "\n" + BeginMarker + "\n"} {
		if _, err := ReplaceGenerated(bad, "x"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The sample file loads, and to the defaults once its lines are uncommented.
func TestTOMLReference(t *testing.T) {
	t.Parallel()
	sample := TOMLReference()
	var uncommented []string
	for _, line := range strings.Split(sample, "\n") {
		if k, _, ok := strings.Cut(strings.TrimPrefix(line, "#"), " = "); ok && strings.HasPrefix(line, "#") {
			if _, known := Lookup(k); known {
				uncommented = append(uncommented, strings.TrimPrefix(line, "#"))
			}
		}
	}
	if len(uncommented) != len(Settings()) {
		t.Fatalf("%d settings in the sample, want %d", len(uncommented), len(Settings()))
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"sample.toml": sample, "uncommented.toml": strings.Join(uncommented, "\n") + "\n"} {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Sources{File: path})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := Load(Sources{})
		if !equalConfig(cfg, want) {
			t.Errorf("%s loads to\n%+v\nwant the defaults\n%+v", name, cfg, want)
		}
	}
}

func equalConfig(a, b Config) bool { return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b) }

// TestReloadableDocumented: the reference marks *SIGHUP* exactly the keys
// that `assent serve` reloads (Reloadable).
func TestReloadableDocumented(t *testing.T) {
	rows := map[string]string{}
	for _, line := range strings.Split(MarkdownReference(), "\n") {
		if k, ok := strings.CutPrefix(line, "| `"); ok {
			if i := strings.Index(k, "`"); i > 0 {
				rows[k[:i]] = line
			}
		}
	}
	for _, k := range Keys() {
		row, ok := rows[k]
		if !ok {
			t.Errorf("%s: no row in the reference", k)
			continue
		}
		if marked := strings.Contains(row, "*SIGHUP*"); marked != Reloadable(k) {
			t.Errorf("%s: marked *SIGHUP* %v, but Reloadable says %v", k, marked, Reloadable(k))
		}
	}
}

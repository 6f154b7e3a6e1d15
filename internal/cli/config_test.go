package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/config"
)

func TestConfigReference(t *testing.T) {
	dir := t.TempDir()
	out, err := runAssent(t, dir, "config", "reference", "--markdown")
	if err != nil || out != config.MarkdownReference() {
		t.Errorf("--markdown: %v\n%s", err, out)
	}
	out, err = runAssent(t, dir, "config", "reference", "--toml")
	if err != nil || out != config.TOMLReference() {
		t.Errorf("--toml: %v\n%s", err, out)
	}
	out, err = runAssent(t, dir, "config", "reference")
	if err != nil || !strings.Contains(out, "ASSENT_DATA_DIR") || !strings.Contains(out, "--data-dir") {
		t.Errorf("plain: %v\n%s", err, out)
	}

	// --update rewrites only what is between the markers.
	doc := filepath.Join(dir, "doc.md")
	before := "# Title\n\n" + config.BeginMarker + "\n| stale |\n" + config.EndMarker + "\n\nafter\n"
	if err := os.WriteFile(doc, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runAssent(t, dir, "config", "reference", "--markdown", "--update", doc); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	want := "# Title\n\n" + config.BeginMarker + "\n" + config.MarkdownReference() + config.EndMarker + "\n\nafter\n"
	if string(b) != want {
		t.Errorf("updated file:\n%s", b)
	}
	if err := os.WriteFile(doc, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runAssent(t, dir, "config", "reference", "--markdown", "--update", doc); err == nil {
		t.Error("--update of a file without markers succeeded")
	}
	if _, err := runAssent(t, dir, "config", "reference", "--update", doc); err == nil {
		t.Error("--update without --markdown succeeded")
	}
}

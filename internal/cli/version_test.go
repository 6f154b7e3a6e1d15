package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/buildinfo"
)

// TestVersion: `assent version`, its --json and `assent --version` all tell
// this binary's build, and none of them opens (or creates) an installation.
func TestVersion(t *testing.T) {
	want := buildinfo.Read()
	tests := []struct {
		args  []string
		check func(t *testing.T, out string)
	}{
		{[]string{"version"}, func(t *testing.T, out string) {
			if out != want.Lines() {
				t.Errorf("got\n%s\nwant\n%s", out, want.Lines())
			}
		}},
		{[]string{"version", "--json"}, func(t *testing.T, out string) {
			var got buildinfo.Info
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		}},
		{[]string{"--version"}, func(t *testing.T, out string) {
			if out != "assent "+want.String()+"\n" {
				t.Errorf("got %q, want %q", out, "assent "+want.String()+"\n")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// No --data-dir: the default ./assent-data must not appear.
			t.Chdir(t.TempDir())
			var stdout, stderr bytes.Buffer
			if code := Main(tt.args, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			tt.check(t, stdout.String())
			if _, err := os.Stat("assent-data"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("assent-data: %v, want it not created", err)
			}
		})
	}
	if code := Main([]string{"version", "extra"}, strings.NewReader(""), io.Discard, io.Discard); code == 0 {
		t.Error("version with an argument: exit 0")
	}
}

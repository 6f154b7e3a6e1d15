// Package importrules keeps the architecture's import rules as a test
// (docs/architecture.md, "Rules that keep it simple"): the core never
// imports net/http or an edge, the authentication proxy never reaches the
// core or the store, and leaves import nothing of ours. It has only this
// test, over `go list -deps`.
package importrules

import (
	"bufio"
	"bytes"
	"context"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

const module = "github.com/assent-auth/assent"

// leaves import nothing of ours (test files aside), with the exceptions
// named here: a leaf may use another leaf's type at its boundary.
var leaves = map[string][]string{
	"internal/duosig":              nil,
	"internal/secrets":             nil,
	"internal/tlsutil":             nil,
	"internal/ids":                 nil,
	"internal/ratelimit":           nil,
	"internal/netlimit":            nil,
	"internal/buildinfo":           nil,
	"internal/logthrottle":         nil,
	"internal/username":            nil,
	"internal/otp":                 nil,
	"internal/passhash":            nil,
	"internal/connwatch":           nil,
	"internal/yubiotp":             nil,
	"internal/push":                nil,
	"internal/store":               nil,
	"internal/web":                 nil,
	"internal/authproxy/radiusmsg": nil,
	"internal/authproxy/cfg":       nil,
	"internal/authproxy/events":    nil,
	"internal/backup":              nil,
	"internal/mail":                nil,
	"pkg/duoweb":                   nil,
	// A RateLimit setting converts to the limiter's ratelimit.Limit.
	"internal/config": {"internal/ratelimit"},
	// An auth event is an auth-log row.
	"internal/authevents": {"internal/store"},
	// A token file's YubiKey public identities are modhex.
	"internal/tokenimport": {"internal/yubiotp"},
}

// edges are the protocol and process packages the core must never reach.
var edges = []string{
	"internal/httpapi", "internal/authapi", "internal/adminapi", "internal/device", "internal/frame", "internal/universal",
	"internal/prompt", "internal/web", "internal/server", "internal/cli", "internal/app", "internal/authproxy", "internal/console",
}

// deps returns, for each package of the module (without tests), every
// package it imports directly or indirectly.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	testutil.Require(t, "the go command", err == nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
	cmd.Dir = testutil.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	all := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			all[strings.TrimPrefix(f[0], module+"/")] = f[1:]
		}
	}
	return all
}

// ours returns the module's packages among list, relative to the module.
func ours(list []string) []string {
	var out []string
	for _, p := range list {
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

// reaches reports whether pkg is p or below it.
func reaches(p, pkg string) bool { return p == pkg || strings.HasPrefix(p, pkg+"/") }

func TestImportRules(t *testing.T) {
	all := deps(t)
	for _, p := range append(slices.Collect(maps.Keys(leaves)), "internal/auth", "internal/authproxy") {
		if _, ok := all[p]; !ok {
			t.Errorf("package %s not found: update the rules in this test", p)
		}
	}
	for p, d := range all {
		switch {
		case p == "internal/auth":
			// The core decides; edges parse and format.
			if slices.Contains(d, "net/http") {
				t.Errorf("the core (%s) imports net/http", p)
			}
			for _, dep := range ours(d) {
				for _, e := range edges {
					if reaches(dep, e) {
						t.Errorf("the core (%s) imports the edge %s", p, dep)
					}
				}
			}
		case reaches(p, "internal/authproxy"):
			// The proxy is a client of any Auth API, Assent's or Duo's.
			for _, dep := range ours(d) {
				if reaches(dep, "internal/auth") || reaches(dep, "internal/store") {
					t.Errorf("%s imports %s: the authentication proxy never reaches the core or the store", p, dep)
				}
			}
		}
		if allowed, ok := leaves[p]; ok {
			for _, dep := range ours(d) {
				if !slices.Contains(allowed, dep) {
					t.Errorf("the leaf %s imports %s", p, dep)
				}
			}
		}
	}
}

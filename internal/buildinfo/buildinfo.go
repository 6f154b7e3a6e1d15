// Package buildinfo tells which Assent this binary is: its version, the
// commit it was built from, when, and with which Go.
//
// Two sources, in this order:
//   - values given at link time by release builds (scripts/build.sh):
//     go build -ldflags "-X github.com/assent-auth/assent/internal/buildinfo.version=v1.2.3
//     -X …buildinfo.commit=<sha> -X …buildinfo.date=<RFC 3339>";
//   - what the go command stamps into every binary (runtime/debug.ReadBuildInfo):
//     the main module's version (a tag such as v1.2.3, or a pseudo-version
//     v0.0.0-<time>-<commit> built from a git checkout) and the vcs.revision,
//     vcs.time and vcs.modified settings.
//
// A plain `go build` in a git checkout therefore already reports its commit;
// `go run` and builds outside a checkout report version "dev" and no commit.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Set with -ldflags -X at link time (scripts/build.sh); never written at run
// time. Empty means "not given": the go command's stamps are used instead.
var (
	version string
	commit  string
	date    string
)

// DevVersion is the version of a binary that carries none (go run, go build
// outside a git checkout).
const DevVersion = "dev"

// Info describes one build.
type Info struct {
	// Version is a release tag (v1.2.3), a Go pseudo-version
	// (v0.0.0-20261202155600-0123456789ab) or DevVersion.
	Version string `json:"version"`
	// Commit is the full git commit hash; empty when unknown.
	Commit string `json:"commit,omitempty"`
	// Modified is true when the working tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Date is when the build's source was committed (release builds: the
	// commit time too, so that builds are reproducible); zero when unknown.
	Date time.Time `json:"date,omitzero"`
	// GoVersion is the Go release that built the binary.
	GoVersion string `json:"go_version"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Read returns this binary's Info.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return From(bi, Stamp{Version: version, Commit: commit, Date: date})
}

// Stamp holds the values given at link time.
type Stamp struct {
	Version, Commit, Date string
}

// From combines link-time values with the go command's build information
// (nil when the binary has none). Link-time values win where given.
func From(bi *debug.BuildInfo, st Stamp) Info {
	info := Info{
		Version:   DevVersion,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	var vcsTime string
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			// The go command adds +dirty to a version built from a
			// modified tree; Modified reports that separately.
			info.Version = strings.TrimSuffix(v, "+dirty")
		}
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			info.Platform = goos + "/" + goarch
		}
	}
	if st.Version != "" {
		// scripts/build.sh marks a build from a modified tree as the go
		// command does: with +dirty.
		v, dirty := strings.CutSuffix(st.Version, "+dirty")
		info.Version = v
		info.Modified = info.Modified || dirty
	}
	if st.Commit != "" {
		info.Commit = st.Commit
	}
	d := vcsTime
	if st.Date != "" {
		d = st.Date
	}
	if t, err := time.Parse(time.RFC3339, d); err == nil {
		info.Date = t.UTC()
	}
	return info
}

// ShortCommit is the first 12 hex digits of the commit, as Go's
// pseudo-versions and `git log --abbrev=12` show it.
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is the one-line form: "v1.2.3 (commit 0123456789ab, 2026-12-02T15:56:00Z)".
func (i Info) String() string {
	var details []string
	if i.Commit != "" {
		c := "commit " + i.ShortCommit()
		if i.Modified {
			c += ", modified"
		}
		details = append(details, c)
	}
	if !i.Date.IsZero() {
		details = append(details, i.Date.Format(time.RFC3339))
	}
	if len(details) == 0 {
		return i.Version
	}
	return fmt.Sprintf("%s (%s)", i.Version, strings.Join(details, ", "))
}

// Lines is the multi-line form `assent version` prints.
func (i Info) Lines() string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-8s %s\n", k+":", v) }
	row("version", i.Version)
	commit := i.Commit
	switch {
	case commit == "":
		commit = "unknown"
	case i.Modified:
		commit += " (modified)"
	}
	row("commit", commit)
	date := "unknown"
	if !i.Date.IsZero() {
		date = i.Date.Format(time.RFC3339)
	}
	row("date", date)
	row("go", i.GoVersion+" "+i.Platform)
	return b.String()
}

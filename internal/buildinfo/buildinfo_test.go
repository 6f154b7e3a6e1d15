package buildinfo

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestFrom(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "GOARCH", Value: "arm64"},
			{Key: "GOOS", Value: "darwin"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: tm},
			{Key: "vcs.modified", Value: modified},
		}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		st   Stamp
		want Info
	}{
		{
			name: "no build information at all",
			want: Info{Version: "dev", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH},
		},
		{
			name: "go run: (devel), no vcs",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/assent-auth/assent", Version: "(devel)"}},
			want: Info{Version: "dev", GoVersion: "go1.26.1", Platform: runtime.GOOS + "/" + runtime.GOARCH},
		},
		{
			name: "go build in a clean checkout: pseudo-version and vcs stamps",
			bi: &debug.BuildInfo{
				GoVersion: "go1.26.1",
				Main:      debug.Module{Version: "v0.0.0-20261202155600-0123456789ab"},
				Settings:  vcs(sha, "2026-12-02T15:56:00Z", "false"),
			},
			want: Info{
				Version: "v0.0.0-20261202155600-0123456789ab", Commit: sha,
				Date:      time.Date(2026, 12, 2, 15, 56, 0, 0, time.UTC),
				GoVersion: "go1.26.1", Platform: "darwin/arm64",
			},
		},
		{
			name: "modified tree: +dirty moves to Modified",
			bi: &debug.BuildInfo{
				GoVersion: "go1.26.1",
				Main:      debug.Module{Version: "v1.2.3+dirty"},
				Settings:  vcs(sha, "2026-12-02T15:56:00+01:00", "true"),
			},
			want: Info{
				Version: "v1.2.3", Commit: sha, Modified: true,
				Date:      time.Date(2026, 12, 2, 14, 56, 0, 0, time.UTC),
				GoVersion: "go1.26.1", Platform: "darwin/arm64",
			},
		},
		{
			name: "release build: link-time values win",
			bi: &debug.BuildInfo{
				GoVersion: "go1.26.1",
				Main:      debug.Module{Version: "(devel)"},
				Settings:  vcs(sha, "2026-12-02T15:56:00Z", "false"),
			},
			st: Stamp{Version: "v1.0.0", Commit: "fedcba9876543210fedcba9876543210fedcba98", Date: "2027-01-05T10:00:00Z"},
			want: Info{
				Version: "v1.0.0", Commit: "fedcba9876543210fedcba9876543210fedcba98",
				Date:      time.Date(2027, 1, 5, 10, 0, 0, 0, time.UTC),
				GoVersion: "go1.26.1", Platform: "darwin/arm64",
			},
		},
		{
			name: "release build without vcs (container, -buildvcs=false)",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			st:   Stamp{Version: "v1.0.0", Commit: sha, Date: "2027-01-05T10:00:00Z"},
			want: Info{
				Version: "v1.0.0", Commit: sha,
				Date:      time.Date(2027, 1, 5, 10, 0, 0, 0, time.UTC),
				GoVersion: "go1.26.1", Platform: runtime.GOOS + "/" + runtime.GOARCH,
			},
		},
		{
			name: "release build from a modified tree",
			st:   Stamp{Version: "v1.0.0-3-g0123456789ab+dirty", Commit: sha},
			want: Info{
				Version: "v1.0.0-3-g0123456789ab", Commit: sha, Modified: true,
				GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
			},
		},
		{
			name: "unparsable date is left out",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.0.0"}},
			st:   Stamp{Date: "yesterday"},
			want: Info{Version: "v1.0.0", GoVersion: "go1.26.1", Platform: runtime.GOOS + "/" + runtime.GOARCH},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := From(tt.bi, tt.st)
			if got != tt.want {
				t.Errorf("From() =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	full := Info{
		Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Modified: true,
		Date: time.Date(2026, 12, 2, 15, 56, 0, 0, time.UTC), GoVersion: "go1.26.1", Platform: "linux/amd64",
	}
	bare := Info{Version: "dev", GoVersion: "go1.26.1", Platform: "linux/amd64"}
	tests := []struct {
		name        string
		info        Info
		line, lines string
		json        string
	}{
		{
			name:  "full",
			info:  full,
			line:  "v1.2.3 (commit 0123456789ab, modified, 2026-12-02T15:56:00Z)",
			lines: "version: v1.2.3\ncommit:  0123456789abcdef0123456789abcdef01234567 (modified)\ndate:    2026-12-02T15:56:00Z\ngo:      go1.26.1 linux/amd64\n",
			json:  `{"version":"v1.2.3","commit":"0123456789abcdef0123456789abcdef01234567","modified":true,"date":"2026-12-02T15:56:00Z","go_version":"go1.26.1","platform":"linux/amd64"}`,
		},
		{
			name:  "nothing known",
			info:  bare,
			line:  "dev",
			lines: "version: dev\ncommit:  unknown\ndate:    unknown\ngo:      go1.26.1 linux/amd64\n",
			json:  `{"version":"dev","go_version":"go1.26.1","platform":"linux/amd64"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.info.String(); got != tt.line {
				t.Errorf("String() = %q, want %q", got, tt.line)
			}
			if got := tt.info.Lines(); got != tt.lines {
				t.Errorf("Lines() =\n%s\nwant\n%s", got, tt.lines)
			}
			b, err := json.Marshal(tt.info)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.json {
				t.Errorf("JSON = %s, want %s", got, tt.json)
			}
		})
	}
}

// The test binary itself has build information; Read must not lose the Go
// version the runtime reports.
func TestReadThisBinary(t *testing.T) {
	got := Read()
	if got.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", got.GoVersion, runtime.Version())
	}
	if got.Version == "" || !strings.Contains(got.Platform, "/") {
		t.Errorf("Read() = %+v: empty version or bad platform", got)
	}
}

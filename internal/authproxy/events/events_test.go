package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuthEventJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 16, 55, 14, 316044000, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		ev   AuthEvent
		want string
	}{
		{
			name: "secondary allow",
			ev: AuthEvent{Time: at, Msg: "Success. Logging you in...", Username: "alice", AuthStage: StageSecondary,
				Status: StatusAllow, ClientIP: "192.0.2.7", ServerSection: "radius_server_challenge",
				ServerSectionIKey: "DIXXXXXXXXXXXXXXXXXX", Factor: "push1", Hostname: "vpn-proxy"},
			want: `{"timestamp":"2026-03-04T15:55:14.316044Z","msg":"Success. Logging you in...","username":"alice",` +
				`"auth_stage":"Secondary authentication","status":"Allow","client_ip":"192.0.2.7",` +
				`"server_section":"radius_server_challenge","server_section_ikey":"DIXXXXXXXXXXXXXXXXXX",` +
				`"factor":"push1","hostname":"vpn-proxy"}`,
		},
		{
			name: "empty fields are null, stage defaults to Unknown",
			ev:   AuthEvent{Time: at, Status: StatusError},
			want: `{"timestamp":"2026-03-04T15:55:14.316044Z","msg":null,"username":null,"auth_stage":"Unknown",` +
				`"status":"Error","client_ip":null,"server_section":null,"server_section_ikey":null,"factor":null,"hostname":null}`,
		},
		{
			name: "quotes and newlines escaped",
			ev:   AuthEvent{Time: at, Msg: "a \"b\"\nc", Username: `dom\user`, AuthStage: StagePrimary, Status: StatusReject},
			want: `{"timestamp":"2026-03-04T15:55:14.316044Z","msg":"a \"b\"\nc","username":"dom\\user",` +
				`"auth_stage":"Primary authentication","status":"Reject","client_ip":null,"server_section":null,` +
				`"server_section_ikey":null,"factor":null,"hostname":null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := NewAuthLog(&buf)
			if err := l.Write(tt.ev); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestAuthLogSetsTimeAndIsConcurrencySafe(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewAuthLog(&buf)
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.now = func() time.Time { return fixed }
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Write(AuthEvent{Username: fmt.Sprintf("user%d", i), Status: StatusAllow}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", n, err, sc.Text())
		}
		if m["timestamp"] != "2026-01-02T03:04:05.000000Z" {
			t.Errorf("timestamp %v", m["timestamp"])
		}
		n++
	}
	if n != 50 {
		t.Errorf("%d lines, want 50", n)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestRotatingFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		maxSize   int64
		maxFiles  int
		writes    int // lines of 10 bytes
		wantFiles []string
		wantLast  string // content of the current file
	}{
		{name: "no rotation below the size", maxSize: 100, maxFiles: 2, writes: 10,
			wantFiles: []string{"a.log"}, wantLast: "line-0009\n"},
		{name: "rotates and keeps two", maxSize: 20, maxFiles: 2, writes: 9,
			wantFiles: []string{"a.log", "a.log.1", "a.log.2"}, wantLast: "line-0008\n"},
		{name: "zero keeps all", maxSize: 20, maxFiles: 0, writes: 9,
			wantFiles: []string{"a.log", "a.log.1", "a.log.2", "a.log.3", "a.log.4"}, wantLast: "line-0008\n"},
		{name: "size zero never rotates", maxSize: 0, maxFiles: 1, writes: 9,
			wantFiles: []string{"a.log"}, wantLast: "line-0008\n"},
		{name: "a line longer than the size gets a file of its own", maxSize: 5, maxFiles: 1, writes: 3,
			wantFiles: []string{"a.log", "a.log.1"}, wantLast: "line-0002\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "a.log")
			r, err := OpenRotating(path, tt.maxSize, tt.maxFiles)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.writes {
				if _, err := fmt.Fprintf(r, "line-%04d\n", i); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if got := listDir(t, dir); strings.Join(got, " ") != strings.Join(tt.wantFiles, " ") {
				t.Errorf("files %v, want %v", got, tt.wantFiles)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if lines := strings.SplitAfter(string(b), "\n"); lines[len(lines)-2] != tt.wantLast {
				t.Errorf("last line %q, want %q", lines[len(lines)-2], tt.wantLast)
			}
			// Every surviving line is whole and the newest ones are kept.
			for _, name := range tt.wantFiles {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
					if len(l) != 9 || !strings.HasPrefix(l, "line-") {
						t.Errorf("%s: broken line %q", name, l)
					}
				}
			}
		})
	}
}

func TestRotatingFileOrderAndAppend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ev.log")
	if err := os.WriteFile(path, []byte("old-00000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRotating(path, 20, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		fmt.Fprintf(r, "new-%05d\n", i)
	}
	r.Close()
	if _, err := r.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
	want := map[string]string{
		"ev.log":   "new-00003\nnew-00004\n",
		"ev.log.1": "new-00001\nnew-00002\n",
		"ev.log.2": "old-00000\nnew-00000\n", // appended to the existing file first
	}
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Errorf("%s = %q, want %q", name, b, content)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestOpenRotatingErrors(t *testing.T) {
	t.Parallel()
	if _, err := OpenRotating(filepath.Join(t.TempDir(), "no", "such", "dir.log"), 10, 1); err == nil {
		t.Error("opening in a missing directory succeeded")
	}
	if _, err := OpenRotating(filepath.Join(t.TempDir(), "a.log"), 10, -1); err == nil {
		t.Error("negative file count accepted")
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	m.Request("radius_server_auto", "accept")
	m.Request("radius_server_auto", "accept")
	m.Request("radius_server_auto", "reject")
	m.Stage("radius_server_auto", "preauth", 30*time.Millisecond)
	m.Duplicate("in_flight")
	m.Dropped("unknown_client")
	m.FailOpen("radius_server_auto")
	m.SetPendingChallenges(3)
	m.StatusServer("radius_server_auto")
	m.StatusServer("radius_server_auto")

	// Two instances must not share state (no global registry).
	other := NewMetrics()
	other.Request("x", "accept")

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`assent_authproxy_requests_total{result="accept",section="radius_server_auto"} 2`,
		`assent_authproxy_requests_total{result="reject",section="radius_server_auto"} 1`,
		`assent_authproxy_stage_duration_seconds_count{section="radius_server_auto",stage="preauth"} 1`,
		`assent_authproxy_stage_duration_seconds_bucket{section="radius_server_auto",stage="preauth",le="0.05"} 1`,
		`assent_authproxy_stage_duration_seconds_bucket{section="radius_server_auto",stage="preauth",le="0.025"} 0`,
		`assent_authproxy_duplicate_requests_total{kind="in_flight"} 1`,
		`assent_authproxy_dropped_packets_total{reason="unknown_client"} 1`,
		`assent_authproxy_fail_open_total{section="radius_server_auto"} 1`,
		`assent_authproxy_pending_challenges 3`,
		`assent_authproxy_status_server_total{section="radius_server_auto"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, `section="x"`) {
		t.Error("metrics of another instance leaked into this registry")
	}
}

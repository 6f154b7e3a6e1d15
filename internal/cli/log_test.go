package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/store"
)

// runAssent runs the command tree as Main does (the CLI's actor in the
// context) with --data-dir and returns stdout and the error.
func runAssent(t *testing.T, dataDir string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: []string{"USER=tester"}}
	root := newRoot(e)
	root.SetArgs(append(args, "--data-dir", dataDir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(auth.WithActor(ctx, cliActor(e)))
	if stderr.Len() > 0 {
		t.Logf("assent %s: stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), err
}

func TestIntegrationGrantsAndRotation(t *testing.T) {
	dir := newInstallation(t)
	var in struct {
		IKey    string   `json:"integration_key"`
		SKey    string   `json:"secret_key"`
		Grants  []string `json:"grants"`
		Expires *int64   `json:"previous_secret_key_expires"`
	}
	out, err := runAssent(t, dir, "integration", "create", "--type", "adminapi", "--name", "a", "--grant", "read-log", "--grant", "SETTINGS", "--json")
	if err != nil || json.Unmarshal([]byte(out), &in) != nil || strings.Join(in.Grants, ",") != "read-log,settings" {
		t.Fatalf("create with grants: %v %s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"integration", "create", "--type", "adminapi", "--name", "b", "--grant", "bogus"}, "unknown grant bogus"},
		{[]string{"integration", "create", "--type", "authapi", "--name", "c", "--grant", "all"}, "only adminapi integrations have grants"},
		{[]string{"integration", "rotate-secret", in.IKey, "--grace", "1000h"}, "720h"},
		{[]string{"integration", "rotate-secret", "DINOSUCHINTEGRATION0"}, "no integration"},
	} {
		if _, err := runAssent(t, dir, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("assent %v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	out, err = runAssent(t, dir, "integration", "update", in.IKey, "--grant", "all", "--json")
	if err != nil || json.Unmarshal([]byte(out), &in) != nil || len(in.Grants) != 4 {
		t.Errorf("update --grant all: %v %s", err, out)
	}
	in.Grants = nil
	out, err = runAssent(t, dir, "integration", "update", in.IKey, "--clear-grants", "--json")
	if err != nil || json.Unmarshal([]byte(out), &in) != nil || len(in.Grants) != 0 {
		t.Errorf("update --clear-grants: %v %s", err, out)
	}
	old := in.SKey
	out, err = runAssent(t, dir, "integration", "rotate-secret", in.IKey, "--grace", "24h", "--json")
	if err != nil || json.Unmarshal([]byte(out), &in) != nil || len(in.SKey) != 40 || in.SKey == old || in.Expires == nil ||
		time.Until(time.Unix(*in.Expires, 0)) < 23*time.Hour {
		t.Errorf("rotate-secret --grace 24h: %v %s", err, out)
	}

	// Rows are readable once the log clock has passed their second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	out, err = runAssent(t, dir, "log", "admin", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r adminLogRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log admin --json line %q: %v", line, err)
		}
		if !strings.HasPrefix(r.Actor, "cli:tester@") {
			t.Errorf("log admin: actor %q, want cli:tester@host", r.Actor)
		}
		if strings.Contains(string(r.Description), in.SKey) || strings.Contains(string(r.Description), old) {
			t.Errorf("log admin shows a secret key: %s", line)
		}
		actions = append(actions, r.Action)
	}
	if strings.Join(actions, ",") != "integration_create,integration_update,integration_update,integration_rotate_secret" {
		t.Errorf("log admin actions %v", actions)
	}
}

func TestLogAuth(t *testing.T) {
	dir := newInstallation(t)
	if _, err := runAssent(t, dir, "user", "create", "alice"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Sources{Flags: map[string]string{"data_dir": dir}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.ForAdministration())
	if err != nil {
		t.Fatal(err)
	}
	alice, err := a.Core.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	for i := range 2500 {
		l := &store.AuthLog{TxID: "tx-" + string(rune('a'+i%26)) + time.Duration(i).String(), Time: base.Add(time.Duration(i) * time.Second),
			IKey: "DIAPP", Username: "bob", Result: "deny", Reason: "invalid_passcode", Factor: "bypass_code"}
		if i%10 == 0 {
			l.UserID, l.Username, l.Result, l.Reason = alice.ID, "alice", "allow", "valid_passcode"
		}
		if i == 7 {
			l.Reason, l.Policy = "denied_by_policy", "group:staff"
		}
		if err := a.Store.AppendAuthLog(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()

	count := func(out string) int { return len(strings.Split(strings.TrimSpace(out), "\n")) }
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--since", "3h", "--json"}, 2500},                       // several pages of 1000
		{[]string{"--since", "3h", "--user", "alice", "--json"}, 250},     // by username
		{[]string{"--since", "3h", "--result", "granted", "--json"}, 250}, // Duo's words
		{[]string{"--since", "3h", "--result", "denied", "--integration", "DIAPP", "--json"}, 2250},
		{[]string{"--since", "3h", "--integration", "DIOTHER", "--json"}, 0},
		{[]string{"--since", base.Add(100 * time.Second).Format(time.RFC3339), "--until", base.Add(199 * time.Second).Format(time.RFC3339), "--json"}, 100},
		{[]string{"--since", "3h", "--user", "alice", "--csv"}, 251}, // header and rows
	} {
		out, err := runAssent(t, dir, append([]string{"log", "auth"}, tc.args...)...)
		if err != nil {
			t.Errorf("log auth %v: %v", tc.args, err)
			continue
		}
		if got := count(out); (tc.want == 0 && strings.TrimSpace(out) != "") || (tc.want > 0 && got != tc.want) {
			t.Errorf("log auth %v: %d lines, want %d", tc.args, got, tc.want)
		}
	}
	// The policy that decided, in --json only.
	out, _ := runAssent(t, dir, "log", "auth", "--since", "3h", "--result", "denied", "--json")
	policies := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Reason string  `json:"reason"`
			Policy *string `json:"policy"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Policy == nil {
			t.Fatalf("log auth --json line %q: %v (policy missing)", line, err)
		}
		policies[r.Reason+"/"+*r.Policy]++
	}
	if policies["denied_by_policy/group:staff"] != 1 || policies["invalid_passcode/"] != 2249 {
		t.Errorf("log auth --json policies: %v", policies)
	}
	out, _ = runAssent(t, dir, "log", "auth", "--since", "3h", "--user", "alice")
	if !strings.HasPrefix(out, "TIME (UTC)") || !strings.Contains(out, "valid_passcode") {
		t.Errorf("log auth table:\n%.300s", out)
	}
	if _, err := runAssent(t, dir, "log", "auth", "--user", "nobody"); err == nil {
		t.Errorf("log auth --user nobody: no error")
	}
	if _, err := runAssent(t, dir, "log", "auth", "--follow", "--until", "1h"); err == nil || !strings.Contains(err.Error(), "--follow") {
		t.Errorf("--follow --until: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogAuthFollow streams rows committed while --follow runs, each once.
func TestLogAuthFollow(t *testing.T) {
	dir := newInstallation(t)
	cfg, err := config.Load(config.Sources{Flags: map[string]string{"data_dir": dir}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.ForAdministration())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	appendRow := func(tx string) {
		if err := a.Store.AppendAuthLog(ctx, &store.AuthLog{TxID: tx, Time: time.Now(), Username: "carol", Result: "allow"}); err != nil {
			t.Fatal(err)
		}
	}
	appendRow("before")
	var stdout syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &bytes.Buffer{}}
	root := newRoot(e)
	root.SetArgs([]string{"log", "auth", "--follow", "--json", "--since", "1h", "--data-dir", dir})
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(fctx) }()
	appendRow("during-1")
	time.Sleep(300 * time.Millisecond)
	appendRow("during-2")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "during-2") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("log auth --follow: %v", err)
	}
	out := stdout.String()
	for _, tx := range []string{"before", "during-1", "during-2"} {
		if strings.Count(out, `"txid":"`+tx+`"`) != 1 {
			t.Errorf("--follow printed %s %d times:\n%s", tx, strings.Count(out, `"txid":"`+tx+`"`), out)
		}
	}
}

// newInstallation is a temporary data directory with an installation in
// it (`assent init`): the other commands do not create one.
func newInstallation(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := runAssent(t, dir, "init"); err != nil {
		t.Fatalf("assent init: %v", err)
	}
	return dir
}

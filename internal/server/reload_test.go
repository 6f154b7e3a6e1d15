package server

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Reload applies the reloadable keys to a running server (trusted
// proxies, rate limits, push timeout, log level), warns about the others
// and keeps their running values, refuses a switch of certificate source,
// and changes nothing at all for a configuration with a problem.
func TestReload(t *testing.T) {
	t.Parallel()
	base := map[string]string{"push_timeout": "60s", "rate_limit_bad_signatures": "20/1m"}
	ts := start(t, base, nil)
	level := new(slog.LevelVar)
	load := func(extra map[string]string) config.Config {
		t.Helper()
		flags := map[string]string{"data_dir": ts.s.app.Config.DataDir, "listen": ts.s.app.Config.Listen}
		for k, v := range base {
			flags[k] = v
		}
		for k, v := range extra {
			flags[k] = v
		}
		cfg, err := config.Load(config.Sources{Flags: flags})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	// remote is the client address the server logs for a request from
	// 127.0.0.1 that says X-Forwarded-For: 203.0.113.9.
	remote := func() string {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
		req, _ := http.NewRequest(http.MethodGet, "https://"+ts.addr+"/auth/v2/ping?probe="+t.Name(), nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		logs := ts.logs.String()
		line := logs[strings.LastIndex(logs, "path=/auth/v2/ping"):]
		_, after, _ := strings.Cut(line, "remote=")
		addr, _, _ := strings.Cut(after, ":")
		return addr
	}
	if got := remote(); got != "127.0.0.1" {
		t.Fatalf("before reload the client is %s, want 127.0.0.1 (no trusted proxy)", got)
	}

	next := load(map[string]string{"trusted_proxies": "127.0.0.1", "push_timeout": "90s",
		"rate_limit_bad_signatures": "off", "rate_limit_pushes_per_user": "9/1m", "log_level": "debug",
		"max_held_requests": "7", "tls_cert": "/nonexistent/cert.pem", "tls_key": "/nonexistent/key.pem"})
	if err := ts.s.Reload(next, level); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := remote(); got != "203.0.113.9" {
		t.Errorf("after reload with trusted_proxies the client is %s, want 203.0.113.9", got)
	}
	if d := ts.s.app.Core.PushTimeout(); d != 90*time.Second {
		t.Errorf("push timeout %v after reload, want 90s", d)
	}
	if l := ts.s.badSignatures.Limit(); l.Enabled() {
		t.Errorf("rate_limit_bad_signatures %+v after reload, want off", l)
	}
	for _, l := range ts.s.app.Core.RateLimits() {
		if l.Name == "rate_limit_pushes_per_user" && l.Limit() != (ratelimit.Limit{Every: time.Minute / 9, Burst: 9}) {
			t.Errorf("rate_limit_pushes_per_user %+v after reload, want 9/1m", l.Limit())
		}
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("log level %v after reload, want debug", level.Level())
	}
	logs := ts.logs.String()
	for _, want := range []string{`push_timeout="1m0s -> 1m30s"`, `rate_limit_bad_signatures="20/1m -> off"`,
		`key=max_held_requests`, `key=tls_cert`, `key=tls_key`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the reload log lacks %s:\n%s", want, logs)
		}
	}
	if ts.s.reload.running.MaxHeldRequests != ts.s.app.Config.MaxHeldRequests || ts.s.reload.running.TLSCert != "" {
		t.Errorf("keys that need a restart changed the running configuration: %+v", ts.s.reload.running)
	}
	if ts.s.keyPair != nil || ts.s.local == nil {
		t.Error("a reload switched the certificate source (local CA → tls_cert) without a restart")
	}

	// A bad configuration changes nothing.
	bad := load(map[string]string{"trusted_proxies": "127.0.0.1", "push_timeout": "30s", "log_level": "error"})
	bad.TrustedProxies = []string{"not-an-address"} // past config validation, as a racing edit could be
	err := ts.s.Reload(bad, level)
	var rerr ReloadError
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "not-an-address") {
		t.Fatalf("Reload with a bad proxy: %v, want a ReloadError naming it", err)
	}
	if d := ts.s.app.Core.PushTimeout(); d != 90*time.Second {
		t.Errorf("push timeout %v after a failed reload, want 90s kept", d)
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("log level %v after a failed reload, want debug kept", level.Level())
	}
	if got := remote(); got != "203.0.113.9" {
		t.Errorf("after a failed reload the client is %s, want the trusted proxy kept", got)
	}
}

// SIGHUP opens auth_events_file again at its path, so that logrotate may
// move it away (its create mode) without losing later events.
func TestReloadReopensAuthEvents(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	flags := map[string]string{"auth_events_file": file}
	ts := start(t, flags, nil)
	ctx := t.Context()
	core := ts.s.app.Core
	in, _, err := core.CreateIntegration(ctx, auth.NewIntegration{Name: "events", Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatal(err)
	}
	// A logged decision: an unknown user, told to enroll.
	decide := func(user string) {
		t.Helper()
		if _, err := core.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: in, Username: user}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(path, user string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), `"`+user+`"`) {
				return
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(path)
				t.Fatalf("%s never named %s: %q", path, user, b)
			}
		}
	}
	decide("before-rotation")
	waitFor(file, "before-rotation")
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Sources{Flags: map[string]string{"data_dir": ts.s.app.Config.DataDir,
		"listen": ts.s.app.Config.Listen, "auth_events_file": file}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.s.Reload(cfg, nil); err != nil {
		t.Fatal(err)
	}
	decide("after-rotation")
	waitFor(file, "after-rotation")
	if b, _ := os.ReadFile(file + ".1"); strings.Contains(string(b), "after-rotation") {
		t.Error("an event after the reload went to the rotated file")
	}
}

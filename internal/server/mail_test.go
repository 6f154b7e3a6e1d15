package server

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/testutil"
)

// TestReloadMailTemplates: SIGHUP loads mail_templates_dir again; a
// broken file is reported with every other problem and keeps the running
// templates. The queue's counters are on /metrics.
func TestReloadMailTemplates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// No message is sent here: the server need not exist.
	base := map[string]string{"smtp_server": "127.0.0.1:1", "mail_from": "assent@example.com", "mail_templates_dir": dir}
	ts := start(t, base, nil)
	if ts.s.app.Mail == nil || ts.s.app.MailQueue == nil {
		t.Fatal("no mailer")
	}
	flags := map[string]string{"data_dir": ts.s.app.Config.DataDir, "listen": ts.s.app.Config.Listen}
	for k, v := range base {
		flags[k] = v
	}
	cfg, err := config.Load(config.Sources{Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	level := new(slog.LevelVar)

	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("test.subject.txt", "Reloaded {{.Product}}")
	if err := ts.s.Reload(cfg, level); err != nil {
		t.Fatal(err)
	}
	if got := ts.s.app.Mail.Templates().Overridden; !slices.Equal(got, []string{"test.subject.txt"}) {
		t.Errorf("overridden after reload: %v", got)
	}

	write("test.txt", "{{.Missing}}")
	write("device_added.html", "{{end}}")
	err = ts.s.Reload(cfg, level)
	var re ReloadError
	if !errors.As(err, &re) || len(re) != 2 || !strings.Contains(err.Error(), "test.txt") || !strings.Contains(err.Error(), "device_added.html") {
		t.Errorf("reload with broken templates: %v", err)
	}
	if got := ts.s.app.Mail.Templates().Overridden; !slices.Equal(got, []string{"test.subject.txt"}) {
		t.Errorf("the running templates changed: %v", got)
	}

	m := testutil.Scrape(t, ts.metrics)
	for _, result := range []string{"sent", "failed", "retried", "dropped"} {
		if _, ok := m.Value("assent_mail_messages_total", "result", result); !ok {
			t.Errorf("no assent_mail_messages_total{result=%q}", result)
		}
	}
	if _, ok := m.Value("assent_mail_queue_length"); !ok {
		t.Error("no assent_mail_queue_length")
	}
}

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/mailpittest"
)

// TestMailCommands: `mail test-send` and `user enroll --email` deliver
// through a real SMTP server (Mailpit) at once; a wrong password and a
// broken template are reported clearly, every problem at once.
func TestMailCommands(t *testing.T) {
	mp := mailpittest.Start(t, mailpittest.Options{TLS: mailpittest.StartTLS, Username: "assent", Password: "cli-Secret"})
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	pwFile := filepath.Join(root, "smtp-password")
	if err := os.WriteFile(pwFile, []byte("cli-Secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mailEnv := []string{"ASSENT_SMTP_SERVER=" + mp.SMTPAddr, "ASSENT_SMTP_USERNAME=assent", "ASSENT_SMTP_PASSWORD_FILE=" + pwFile,
		"ASSENT_SMTP_CA_FILE=" + mp.CAFile, "ASSENT_MAIL_FROM=Assent <assent@example.com>"}
	run := func(environ []string, args ...string) (string, error) {
		t.Helper()
		return runAssentEnv(t, environ, append(args, "--data-dir", dir)...)
	}
	if _, err := run(nil, "init"); err != nil {
		t.Fatal(err)
	}

	if _, err := run(nil, "mail", "test-send", "ops@example.com"); err == nil || !strings.Contains(err.Error(), "smtp_server") {
		t.Errorf("test-send without mail: %v", err)
	}
	out, err := run(mailEnv, "mail", "test-send", "ops@example.com")
	if err != nil || !strings.Contains(out, "Test message sent to ops@example.com") {
		t.Fatalf("test-send: %v %s", err, out)
	}
	if m := mp.Wait(t, 1, 10*time.Second)[0]; m.Subject != "Assent: test message" || m.To[0].Address != "ops@example.com" {
		t.Errorf("received %+v", m)
	}

	wrong := filepath.Join(root, "wrong")
	if err := os.WriteFile(wrong, []byte("not-it"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := append(append([]string(nil), mailEnv...), "ASSENT_SMTP_PASSWORD_FILE="+wrong)
	_, err = run(bad, "mail", "test-send", "ops@example.com")
	t.Logf("wrong password: %v", err)
	if err == nil || !strings.Contains(err.Error(), "535") || !strings.Contains(err.Error(), "AUTH") || strings.Contains(err.Error(), "not-it") {
		t.Errorf("wrong password: %v", err)
	}

	out, err = run(mailEnv, "user", "enroll", "zed", "--email", "zed@example.com", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Username   string `json:"username"`
		Email      string `json:"email"`
		Link       string `json:"enroll_link"`
		Expiration int64  `json:"expiration"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.Username != "zed" || !strings.Contains(j.Link, "/portal/enroll/") || j.Expiration == 0 {
		t.Fatalf("enroll --email: %v %s", err, out)
	}
	msgs := mp.Wait(t, 2, 10*time.Second)
	if m := msgs[0]; m.To[0].Address != "zed@example.com" || !strings.Contains(m.Text, j.Link) {
		t.Errorf("enrollment e-mail %+v", m)
	}
	if out, err := run(nil, "user", "enroll", "zed", "--email", "zed@example.com"); err == nil {
		t.Errorf("enroll --email without mail: %s", out)
	}

	tdir := filepath.Join(root, "templates")
	if err := os.Mkdir(tdir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"enrollment.txt": "{{.Nope}}", "test.html": "{{if}}", "welcome.txt": "x"} {
		if err := os.WriteFile(filepath.Join(tdir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	withTemplates := append(append([]string(nil), mailEnv...), "ASSENT_MAIL_TEMPLATES_DIR="+tdir)
	_, err = run(withTemplates, "mail", "check")
	for _, want := range []string{"3 mail problems", "enrollment.txt (enrollment.txt)", "can't evaluate field Nope", "test.html", "welcome.txt: not a template"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mail check: %v, want %q", err, want)
		}
	}
	// Every command refuses to open an installation with broken templates.
	if _, err := run(withTemplates, "user", "list"); err == nil || !strings.Contains(err.Error(), "welcome.txt") {
		t.Errorf("user list with broken templates: %v", err)
	}
	for _, name := range []string{"enrollment.txt", "test.html", "welcome.txt"} {
		_ = os.Remove(filepath.Join(tdir, name))
	}
	if err := os.WriteFile(filepath.Join(tdir, "test.subject.txt"), []byte("Hello from {{.Hostname}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(withTemplates, "mail", "check")
	if err != nil || !strings.Contains(out, "valid") || !strings.Contains(out, "test.subject.txt") {
		t.Errorf("mail check: %v %s", err, out)
	}
	out, err = run(withTemplates, "mail", "preview", "test")
	if err != nil || !strings.HasPrefix(out, "Subject: Hello from assent.example.com") {
		t.Errorf("preview: %v %q", err, out)
	}
	out, err = run(withTemplates, "mail", "preview", "bypass_codes", "--html")
	if err != nil || !strings.Contains(out, "<html") {
		t.Errorf("preview --html: %v %q", err, out)
	}
}

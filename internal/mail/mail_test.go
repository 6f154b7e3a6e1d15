package mail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/mailpittest"
)

func templates(t *testing.T) *Templates {
	t.Helper()
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatalf("built-in templates: %v", err)
	}
	return tm
}

// TestSMTPMailpit sends through a real SMTP server (Mailpit on loopback)
// with each TLS mode and authentication mechanism, and reads the message
// back from its API: subject, recipient, both parts.
func TestSMTPMailpit(t *testing.T) {
	tests := []struct {
		name, serverTLS, clientTLS, auth string
	}{
		{"starttls auto", mailpittest.StartTLS, StartTLS, AuthAuto},
		{"starttls plain", mailpittest.StartTLS, StartTLS, AuthPlain},
		{"starttls login", mailpittest.StartTLS, StartTLS, AuthLogin},
		{"implicit tls", mailpittest.TLS, ImplicitTLS, AuthAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mp := mailpittest.Start(t, mailpittest.Options{TLS: tt.serverTLS, Username: "assent", Password: "s3cret-pass"})
			c, err := NewSMTP(Settings{Server: mp.SMTPAddr, TLS: tt.clientTLS, Username: "assent", Password: "s3cret-pass",
				Auth: tt.auth, CAFile: mp.CAFile, From: "Assent <assent@example.com>", Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			m := &Mailer{S: c, Hostname: "assent.example.com"}
			m.SetTemplates(templates(t))
			d := SampleData()
			d.Link = "https://assent.example.com/portal/enroll/abc123"
			if err := m.Send(context.Background(), Enrollment, "Bob <bob@example.org>", d); err != nil {
				t.Fatalf("send: %v\nmailpit:\n%s", err, mp.Output())
			}
			got := mp.Wait(t, 1, 10*time.Second)[0]
			if got.Subject != "Assent: set up two-factor authentication" || len(got.To) != 1 || got.To[0].Address != "bob@example.org" ||
				got.From.Address != "assent@example.com" {
				t.Errorf("received %+v", got)
			}
			if !strings.Contains(got.Text, d.Link) || !strings.Contains(got.HTML, `href="`+d.Link+`"`) {
				t.Errorf("link missing: text %q html %q", got.Text, got.HTML)
			}
			if !strings.Contains(got.Text, "3 December 2026, 09:30 UTC") {
				t.Errorf("expiry missing from %q", got.Text)
			}
		})
	}
}

// TestSMTPErrors: what the SMTP conversation answered is in the error,
// and whether it is worth retrying; never the password.
func TestSMTPErrors(t *testing.T) {
	mp := mailpittest.Start(t, mailpittest.Options{TLS: mailpittest.StartTLS, Username: "assent", Password: "right"})
	other := t.TempDir() + "/other.pem"
	if err := os.WriteFile(other, []byte(strings.Repeat("x", 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		s         Settings
		want      string
		temporary bool
	}{
		{"wrong password", Settings{Server: mp.SMTPAddr, Username: "assent", Password: "wrong-password", CAFile: mp.CAFile}, "535", false},
		{"unknown CA", Settings{Server: mp.SMTPAddr, Username: "assent", Password: "right"}, "certificate", true},
		{"no starttls on implicit-tls client", Settings{Server: mp.SMTPAddr, TLS: ImplicitTLS, CAFile: mp.CAFile, Timeout: 3 * time.Second}, "", true},
		{"nobody listening", Settings{Server: "127.0.0.1:1", CAFile: mp.CAFile}, "refused", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.From = "assent@example.com"
			c, err := NewSMTP(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Send(context.Background(), Message{To: "bob@example.org", Subject: "x", Text: "y"})
			if err == nil {
				t.Fatal("sent")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("error %q, want it to name %q and not the password", err, tt.want)
			}
			if got := retryable(err); got != tt.temporary {
				t.Errorf("retryable(%v) = %v, want %v", err, got, tt.temporary)
			}
		})
	}
}

// TestSettingsProblems lists every problem at once.
func TestSettingsProblems(t *testing.T) {
	_, err := NewSMTP(Settings{Server: "smtp.example.com", TLS: "ssl", Auth: "ntlm", Password: "p", CAFile: "/nonexistent.pem",
		From: "not an address", Timeout: time.Hour})
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v", err)
	}
	keys := map[string]bool{}
	for _, p := range ps {
		keys[p.File] = true
	}
	for _, k := range []string{"smtp_server", "smtp_tls", "smtp_auth", "smtp_username", "smtp_ca_file", "mail_from", "smtp_timeout"} {
		if !keys[k] {
			t.Errorf("no problem for %s in %v", k, err)
		}
	}
	_, err = NewSMTP(Settings{Server: "smtp.example.com:25", TLS: NoTLS, Username: "u", Password: "p", From: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "clear text") {
		t.Errorf("password in clear text to a remote server: %v", err)
	}
	if _, err := NewSMTP(Settings{Server: "127.0.0.1:25", TLS: NoTLS, Username: "u", Password: "p", From: "a@example.com"}); err != nil {
		t.Errorf("loopback relay without TLS: %v", err)
	}
}

// TestPlainLoopback: an unencrypted relay on loopback with AUTH.
func TestPlainLoopback(t *testing.T) {
	mp := mailpittest.Start(t, mailpittest.Options{TLS: mailpittest.Plain, Username: "u", Password: "p"})
	c, err := NewSMTP(Settings{Server: mp.SMTPAddr, TLS: NoTLS, Username: "u", Password: "p", Auth: AuthPlain, From: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), Message{To: "b@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	mp.Wait(t, 1, 10*time.Second)
}

// TestQueueRetry: the server is down when the message is queued; the
// queue retries with backoff and delivers once it is up.
func TestQueueRetry(t *testing.T) {
	mp := mailpittest.New(t, mailpittest.Options{TLS: mailpittest.StartTLS})
	c, err := NewSMTP(Settings{Server: mp.SMTPAddr, CAFile: mp.CAFile, From: "a@example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q := NewQueue(c, QueueOptions{Attempts: 100, Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	defer q.Close(context.Background())
	if err := q.Send(context.Background(), Message{To: "b@example.com", Subject: "queued", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats.Retried.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no retries")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := mp.Start(); err != nil {
		t.Fatal(err)
	}
	got := mp.Wait(t, 1, 10*time.Second)
	if got[0].Subject != "queued" {
		t.Errorf("received %+v", got[0])
	}
	for q.Stats.Sent.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("not counted as sent")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if q.Stats.Failed.Load() != 0 {
		t.Errorf("failed = %d", q.Stats.Failed.Load())
	}
}

// fakeSender fails as told; it stands in for a server only where the
// queue's own logic is tested (full, closed, permanent errors).
type fakeSender struct {
	err   error
	calls chan Message
}

func (f *fakeSender) Send(_ context.Context, m Message) error {
	f.calls <- m
	return f.err
}

func TestQueueLimits(t *testing.T) {
	t.Run("permanent errors are not retried", func(t *testing.T) {
		f := &fakeSender{err: &PermanentError{Err: errors.New("bad recipient")}, calls: make(chan Message, 10)}
		q := NewQueue(f, QueueOptions{Backoff: time.Millisecond})
		_ = q.Send(context.Background(), Message{To: "x"})
		if err := q.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(f.calls) != 1 || q.Stats.Failed.Load() != 1 || q.Stats.Retried.Load() != 0 {
			t.Errorf("calls %d, stats failed %d retried %d", len(f.calls), q.Stats.Failed.Load(), q.Stats.Retried.Load())
		}
	})
	t.Run("gives up after Attempts", func(t *testing.T) {
		f := &fakeSender{err: errors.New("connection refused"), calls: make(chan Message, 10)}
		q := NewQueue(f, QueueOptions{Attempts: 3, Backoff: time.Millisecond})
		_ = q.Send(context.Background(), Message{To: "x"})
		_ = q.Close(context.Background())
		if len(f.calls) != 3 || q.Stats.Failed.Load() != 1 || q.Stats.Retried.Load() != 2 {
			t.Errorf("calls %d, failed %d, retried %d", len(f.calls), q.Stats.Failed.Load(), q.Stats.Retried.Load())
		}
	})
	t.Run("full and closed", func(t *testing.T) {
		block := make(chan Message) // unbuffered: the worker blocks on the first message
		f := &fakeSender{calls: block}
		q := NewQueue(f, QueueOptions{Size: 1})
		_ = q.Send(context.Background(), Message{To: "1"})
		<-block // the worker took message 1 and is now back: let it block on the next
		_ = q.Send(context.Background(), Message{To: "2"})
		deadline := time.Now().Add(5 * time.Second)
		for q.Len() != 1 { // 2 waits once the worker blocks on it, or stays queued
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		var full int
		for i := 0; i < 3; i++ {
			if err := q.Send(context.Background(), Message{To: "n"}); errors.Is(err, ErrQueueFull) {
				full++
			}
		}
		if full == 0 || q.Stats.Dropped.Load() == 0 {
			t.Errorf("no message refused by a full queue (dropped %d)", q.Stats.Dropped.Load())
		}
		go func() {
			for range block {
			}
		}()
		_ = q.Close(context.Background())
		close(block)
		if err := q.Send(context.Background(), Message{To: "late"}); !errors.Is(err, ErrQueueClosed) {
			t.Errorf("send after close: %v", err)
		}
	})
	t.Run("close gives up at its deadline", func(t *testing.T) {
		f := &fakeSender{err: errors.New("down"), calls: make(chan Message, 100)}
		q := NewQueue(f, QueueOptions{Attempts: 100, Backoff: time.Hour})
		_ = q.Send(context.Background(), Message{To: "x"})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("close: %v", err)
		}
		if q.Stats.Failed.Load() != 1 {
			t.Errorf("failed = %d", q.Stats.Failed.Load())
		}
	})
}

// TestTemplateOverride: a file in the directory replaces the built-in one
// of the same name; the others stay.
func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "enrollment.subject.txt", "Welcome to {{.Product}}, {{.Username}}\n")
	write(t, dir, "enrollment.html", `<p>Go to <a href="{{.Link}}">{{.Link}}</a> before {{date .Expires}}</p>`)
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := SampleData()
	d.Link = `https://x.example/portal/enroll/a"b<c>`
	m, err := tm.Render(Enrollment, "a@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Assent: set up two-factor authentication" && m.Subject != "Welcome to Assent, alice" {
		t.Errorf("subject %q", m.Subject)
	}
	if m.Subject != "Welcome to Assent, alice" {
		t.Errorf("subject %q, want the override", m.Subject)
	}
	if strings.Contains(m.HTML, `a"b<c>`) || !strings.Contains(m.HTML, "a&#34;b&lt;c&gt;") {
		t.Errorf("html not escaped: %q", m.HTML)
	}
	if !strings.Contains(m.Text, "invited to set up") { // the built-in text part stays
		t.Errorf("text %q", m.Text)
	}
	if len(tm.Overridden) != 2 {
		t.Errorf("overridden %v", tm.Overridden)
	}
}

// TestTemplateProblems: every broken file is reported at once with the
// file, the template and the error.
func TestTemplateProblems(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "enrolment.txt", "typo in the name")
	write(t, dir, "device_added.txt", "{{.DeviceName")
	write(t, dir, "fraud_reported.html", "<p>{{.Password}}</p>")
	write(t, dir, "bypass_codes.subject.txt", "{{if .Count}}{{end}}")
	write(t, dir, "test.txt", `{{template "nope"}}`)
	_, err := LoadTemplates(dir)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v", err)
	}
	want := map[string]string{
		"enrolment.txt":            "not a template Assent uses",
		"device_added.txt":         "unclosed action",
		"fraud_reported.html":      "can't evaluate field Password",
		"bypass_codes.subject.txt": "subject is empty",
		"test.txt":                 `template "nope" not defined`,
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for _, p := range ps {
		w, ok := want[filepath.Base(p.File)]
		if !ok || !strings.Contains(p.Err, w) {
			t.Errorf("problem %v, want %q", p, w)
		}
		if base := filepath.Base(p.File); base != "enrolment.txt" && p.Template != base {
			t.Errorf("problem %v names template %q, want %q", p, p.Template, base)
		}
	}
	if _, err := LoadTemplates(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory was accepted")
	}
}

func write(t *testing.T, dir, name, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRenderAll renders every built-in message: no leftover template
// syntax, the username in each, nothing empty.
func TestRenderAll(t *testing.T) {
	tm := templates(t)
	for _, k := range Kinds {
		m, err := tm.Render(k, "a@example.com", SampleData())
		if err != nil {
			t.Fatal(err)
		}
		for part, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML} {
			if strings.TrimSpace(s) == "" || strings.Contains(s, "{{") || strings.Contains(s, "<no value>") {
				t.Errorf("%s %s: %q", k, part, s)
			}
		}
		if k != Test && !strings.Contains(m.Text, "alice") {
			t.Errorf("%s text does not name the user: %q", k, m.Text)
		}
	}
	if _, err := tm.Render("nope", "a@example.com", SampleData()); err == nil {
		t.Error("unknown kind rendered")
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.com":          "a***@e***.com",
		"Bob <bob@mail.example.org>": "b***@m***.org",
		"nobody":                     "n***",
		"":                           "***",
		"é@ü":                        "é***@ü***",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMask: any recipient string (from a user's profile) is masked
// without panicking and never shows more than one character of the local
// part.
func FuzzMask(f *testing.F) {
	for _, s := range []string{"alice@example.com", "Bob <bob@x.org>", "", "@", "a@b@c", "\"quoted local\"@example.com", "x\xff@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := Mask(s)
		local, _, _ := strings.Cut(m, "@")
		if !strings.HasSuffix(local, "***") || len([]rune(strings.TrimSuffix(local, "***"))) > 1 {
			t.Errorf("Mask(%q) = %q", s, m)
		}
	})
}

package e2e

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/testutil/mailpittest"
)

// mailFlags configures a server to send e-mail through mp (STARTTLS and
// AUTH, trusting the test's CA).
func mailFlags(mp *mailpittest.Server, user, password string) map[string]string {
	return map[string]string{"smtp_server": mp.SMTPAddr, "smtp_tls": "starttls", "smtp_username": user,
		"smtp_password": password, "smtp_ca_file": mp.CAFile, "mail_from": "Assent <assent@example.com>"}
}

var enrollLinkRE = regexp.MustCompile(`https://[^\s"<>]+/portal/enroll/[0-9A-Za-z]+`)

// messageTo waits for the message to addr with a subject containing
// subject and returns it.
func messageTo(t *testing.T, mp *mailpittest.Server, addr, subject string) mailpittest.Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range mp.Messages(t) {
			if len(m.To) == 1 && m.To[0].Address == addr && strings.Contains(m.Subject, subject) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s about %q arrived; mailpit log:\n%s", addr, subject, mp.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEnrollmentEmail: the Admin API's users/enroll e-mails a link
// through a real SMTP server (Mailpit, STARTTLS and AUTH); the link read
// from the received message enrolls a device (the portal's activation
// code, activated through the device API as Duo Mobile does). The user
// is then told by e-mail of the new device, of bypass codes issued
// (without the codes) and of a push they reported as fraud.
func TestEnrollmentEmail(t *testing.T) {
	t.Parallel()
	mp := mailpittest.Start(t, mailpittest.Options{TLS: mailpittest.StartTLS, Username: "assent", Password: "smtp-Secret-1"})
	ts := startServer(t, serverOptions{engine: SQLite, flags: mailFlags(mp, "assent", "smtp-Secret-1")})
	ikey, skey := ts.adminIntegration(t, "all")
	ctx := testCtx(t)

	var link string
	if err := ts.adminCall(t, ikey, skey, "POST", "/admin/v1/users/enroll",
		url.Values{"username": {"mallory"}, "email": {"mallory@example.org"}}, &link); err != nil {
		t.Fatal(err)
	}
	m := messageTo(t, mp, "mallory@example.org", "set up two-factor authentication")
	got := enrollLinkRE.FindString(m.Text)
	if got == "" || got != link || !strings.Contains(html.UnescapeString(m.HTML), `href="`+link+`"`) {
		t.Fatalf("link in the e-mail %q (html %q), users/enroll answered %q", got, m.HTML, link)
	}
	if !strings.Contains(m.Text, "until") || m.From.Address != "assent@example.com" {
		t.Errorf("message: from %v, text %q", m.From, m.Text)
	}

	// The link from the e-mail, as the user's browser opens it.
	path := strings.TrimPrefix(got, "https://"+ts.Host)
	if page := ts.unsigned(t, "GET", path, nil); page.status != 200 || !strings.Contains(string(page.body), "mallory") {
		t.Fatalf("portal page: %d\n%s", page.status, page.body)
	}
	start := ts.unsigned(t, "POST", path, url.Values{})
	code := regexp.MustCompile(`data-testid="activation-code">([^<]+)<`).FindSubmatch(start.body)
	if start.status != 200 || code == nil {
		t.Fatalf("portal start: %d\n%s", start.status, start.body)
	}
	phone, err := device.Activate(ctx, html.UnescapeString(string(code[1])), device.ActivateOptions{CAFile: ts.CAFile, Name: "Mallory's phone"})
	if err != nil {
		t.Fatalf("activate with the e-mailed link's code: %v", err)
	}
	m = messageTo(t, mp, "mallory@example.org", "was added to your account")
	if !strings.Contains(m.Text, "Mallory's phone") {
		t.Errorf("device notice: %q", m.Text)
	}

	var codes []string
	if err := ts.adminCall(t, ikey, skey, "POST", "/admin/v1/users/"+ts.userRecord(t, "mallory").ID+"/bypass_codes",
		url.Values{"count": {"3"}}, &codes); err != nil {
		t.Fatal(err)
	}
	m = messageTo(t, mp, "mallory@example.org", "bypass codes")
	if !strings.Contains(m.Text, "3 bypass codes") {
		t.Errorf("bypass notice: %q", m.Text)
	}
	for _, c := range codes {
		if strings.Contains(m.Text, c) || strings.Contains(m.HTML, c) {
			t.Errorf("bypass code %s is in the e-mail", c)
		}
	}

	aikey, askey := ts.pushIntegration(t, "VPN")
	res := ts.signedCall(t, aikey, askey, "POST", "/auth/v2/auth",
		url.Values{"username": {"mallory"}, "factor": {"push"}, "device": {"auto"}, "async": {"1"}, "ipaddr": {"203.0.113.9"}})
	var env struct {
		Response struct {
			TxID string `json:"txid"`
		} `json:"response"`
	}
	if err := json.Unmarshal(res.body, &env); err != nil || env.Response.TxID == "" {
		t.Fatalf("async push: %d %s", res.status, res.body)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tx, err := waitPending(waitCtx, phone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phone.AnswerWith(ctx, tx.TxID, "fraud", ""); err != nil {
		t.Fatal(err)
	}
	m = messageTo(t, mp, "mallory@example.org", "reported as fraud")
	if !strings.Contains(m.Text, "203.0.113.9") || !strings.Contains(m.Text, "VPN") {
		t.Errorf("fraud notice: %q", m.Text)
	}
	// Mailpit shows a message before the queue has its QUIT answer.
	q := ts.App.MailQueue
	for deadline := time.Now().Add(10 * time.Second); q.Stats.Sent.Load() < 4 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if q.Stats.Sent.Load() != 4 || q.Stats.Failed.Load() != 0 || q.Stats.Dropped.Load() != 0 {
		t.Errorf("queue: sent %d, failed %d, dropped %d; want 4 sent", q.Stats.Sent.Load(), q.Stats.Failed.Load(), q.Stats.Dropped.Load())
	}
	if strings.Contains(ts.Logs(), "smtp-Secret-1") || strings.Contains(ts.Logs(), "mallory@example.org") {
		t.Error("the server log shows the SMTP password or a full address")
	}
}

// waitPending waits for the phone's first pending push.
func waitPending(ctx context.Context, phone *device.Client) (device.Transaction, error) {
	for {
		p, err := phone.Pending(ctx)
		if err != nil {
			return device.Transaction{}, err
		}
		if len(p) > 0 {
			return p[0], nil
		}
		select {
		case <-ctx.Done():
			return device.Transaction{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestEnrollmentEmailOff: without smtp_server, users/enroll answers Duo's
// 400 / 40002 naming email, and creates nothing.
func TestEnrollmentEmailOff(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.adminIntegration(t, "all")
	res := ts.signedCall(t, ikey, skey, "POST", "/admin/v1/users/enroll", url.Values{"username": {"nomail"}, "email": {"nomail@example.org"}})
	var env struct {
		Stat    string `json:"stat"`
		Code    int    `json:"code"`
		Message string `json:"message"`
		Detail  string `json:"message_detail"`
	}
	if err := json.Unmarshal(res.body, &env); err != nil || res.status != 400 || env.Stat != "FAIL" || env.Code != 40002 ||
		!strings.Contains(env.Detail, "smtp_server") {
		t.Errorf("users/enroll without mail: %d %s", res.status, res.body)
	}
	if _, err := ts.App.Core.User(testCtx(t), "nomail"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("the user was created: %v", err)
	}
}

package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// recordingMailer keeps the notices the core hands to its Mailer (the
// boundary to internal/mail, tested against a real SMTP server there and
// end to end in internal/e2e).
type recordingMailer struct {
	mu   sync.Mutex
	sent []auth.Notice
	err  error
}

func (m *recordingMailer) Mail(_ context.Context, n auth.Notice) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, n)
	return m.err
}

func (m *recordingMailer) take() []auth.Notice {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.sent
	m.sent = nil
	return out
}

var allNotices = []auth.NoticeKind{auth.NoticeDeviceAdded, auth.NoticeBypassCodes, auth.NoticeFraudReported}

func TestSendEnrollmentEmail(t *testing.T) {
	t.Parallel()
	m := &recordingMailer{}
	f := newFixture(t, auth.Options{Mailer: m})
	ctx := context.Background()
	if !f.svc.MailConfigured() {
		t.Fatal("MailConfigured false with a Mailer")
	}
	if _, err := f.svc.SendEnrollmentEmail(ctx, "nobody"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	f.user(t, "noaddr", store.StatusActive)
	if _, err := f.svc.SendEnrollmentEmail(ctx, "noaddr"); !auth.IsKind(err, auth.KindInvalid) || !strings.Contains(err.Error(), "no e-mail address") {
		t.Errorf("user without address: %v", err)
	}
	if _, err := f.svc.SendEnrollmentEmailTo(ctx, "noaddr", "not an address"); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("bad address: %v", err)
	}
	u, err := f.svc.AddUser(ctx, auth.NewUser{Username: "dana", Profile: store.UserProfile{Email: "dana@example.com", RealName: "Dana D."}})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := f.svc.SendEnrollmentEmail(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sent.To != "dana@example.com" || sent.Username != "dana" || sent.Link != "https://assent.example/portal/enroll?username=dana" {
		t.Errorf("sent %+v", sent)
	}
	got := m.take()
	if len(got) != 1 || got[0].Kind != auth.NoticeEnrollment || got[0].To != "dana@example.com" || got[0].RealName != "Dana D." ||
		got[0].Link != sent.Link || !got[0].Expires.IsZero() {
		t.Errorf("notices %+v", got)
	}
	if _, err := f.svc.SendEnrollmentEmailTo(ctx, "dana", "other@example.com"); err != nil {
		t.Fatal(err)
	}
	if got := m.take(); len(got) != 1 || got[0].To != "other@example.com" {
		t.Errorf("to another address: %+v", got)
	}
	m.err = errors.New("queue full")
	if _, err := f.svc.SendEnrollmentEmail(ctx, "dana"); err == nil {
		t.Error("a failure to queue was hidden")
	}

	off := newFixture(t, auth.Options{})
	if off.svc.MailConfigured() {
		t.Error("MailConfigured without a Mailer")
	}
	if _, err := off.svc.SendEnrollmentEmail(ctx, "dana"); !errors.Is(err, auth.ErrMailNotConfigured) {
		t.Errorf("without mail: %v", err)
	}
}

// The link to Assent's own portal carries its expiry into the e-mail.
func TestSendEnrollmentEmailOwnPortal(t *testing.T) {
	t.Parallel()
	m := &recordingMailer{}
	var f *fixture
	f = newFixture(t, auth.Options{Mailer: m, EnrollPortalURL: func(ctx context.Context, u string) (string, error) {
		tok, _, err := f.svc.EnrollLinkToken(ctx, u)
		return "https://assent.example/portal/enroll/" + tok, err
	}})
	ctx := context.Background()
	if _, err := f.svc.AddUser(ctx, auth.NewUser{Username: "eve", Profile: store.UserProfile{Email: "eve@example.com"}}); err != nil {
		t.Fatal(err)
	}
	sent, err := f.svc.SendEnrollmentEmail(ctx, "eve")
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clock.Now().Add(auth.DefaultEnrollLinkTTL); !sent.Expires.Equal(want) {
		t.Errorf("expires %v, want %v", sent.Expires, want)
	}
	tok := strings.TrimPrefix(sent.Link, "https://assent.example/portal/enroll/")
	if _, err := f.svc.RedeemEnrollLink(ctx, tok); err != nil {
		t.Errorf("the e-mailed link does not enroll: %v", err)
	}
}

// Notices go to users with an address, for the kinds turned on; a failing
// mailer fails nothing. (That no code is in the e-mail is checked end to
// end in internal/e2e.)
func TestNotices(t *testing.T) {
	t.Parallel()
	m := &recordingMailer{}
	f := newFixture(t, auth.Options{Mailer: m, MailNotices: allNotices})
	ctx := context.Background()
	if _, err := f.svc.AddUser(ctx, auth.NewUser{Username: "fay", Profile: store.UserProfile{Email: "fay@example.com"}}); err != nil {
		t.Fatal(err)
	}
	dev := f.device(t, "fay")
	got := m.take()
	if len(got) != 1 || got[0].Kind != auth.NoticeDeviceAdded || got[0].DeviceName != "Pixel" || got[0].DevicePlatform != "Android" ||
		got[0].DeviceKind != "mobile device" || got[0].Username != "fay" || got[0].To != "fay@example.com" {
		t.Errorf("device added: %+v", got)
	}

	issued, err := f.svc.IssueBypassCodes(ctx, "fay", auth.NewBypassCodes{Count: 3, Uses: 2, Valid: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got = m.take()
	if len(got) != 1 || got[0].Kind != auth.NoticeBypassCodes || got[0].Count != 3 || got[0].Uses != 2 || !got[0].CodesExpire.Equal(issued.Expires) {
		t.Errorf("bypass codes: %+v", got)
	}

	res, err := f.svc.Auth(ctx, f.pushReq("fay", true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AnswerPush(ctx, dev.Device.ID, res.TxID, auth.PushAnswer{Fraud: true}); err != nil {
		t.Fatal(err)
	}
	got = m.take()
	if len(got) != 1 || got[0].Kind != auth.NoticeFraudReported || got[0].IP != "198.51.100.4" || got[0].Application != "test" {
		t.Errorf("fraud: %+v", got)
	}

	// A plain denial sends nothing; nor does a user without an address.
	res, _ = f.svc.Auth(ctx, f.pushReq("fay", true))
	if _, err := f.svc.AnswerPush(ctx, dev.Device.ID, res.TxID, auth.PushAnswer{}); err != nil {
		t.Fatal(err)
	}
	f.device(t, "noaddr")
	if got := m.take(); len(got) != 0 {
		t.Errorf("sent %+v", got)
	}

	// The mailer failing fails nothing.
	m.err = errors.New("smtp down")
	if _, err := f.svc.IssueBypassCodes(ctx, "fay", auth.NewBypassCodes{Count: 1, Uses: 1}); err != nil {
		t.Errorf("issue with the mailer failing: %v", err)
	}

	// Only the kinds turned on.
	m2 := &recordingMailer{}
	g := newFixture(t, auth.Options{Mailer: m2, MailNotices: []auth.NoticeKind{auth.NoticeFraudReported}})
	if _, err := g.svc.AddUser(ctx, auth.NewUser{Username: "gus", Profile: store.UserProfile{Email: "gus@example.com"}}); err != nil {
		t.Fatal(err)
	}
	g.device(t, "gus")
	if _, err := g.svc.IssueBypassCodes(ctx, "gus", auth.NewBypassCodes{Count: 1, Uses: 1}); err != nil {
		t.Fatal(err)
	}
	if got := m2.take(); len(got) != 0 {
		t.Errorf("notices turned off were sent: %+v", got)
	}
}

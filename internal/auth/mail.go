package auth

import (
	"cmp"
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// E-mail to users: enrollment links (SendEnrollmentEmail) and notices of
// what changed on their account. The core decides what to send and to
// whom; Options.Mailer renders and delivers (internal/mail, queued in the
// server, at once in administration commands). A notice never fails or
// slows the operation it reports: a failure is logged.

// NoticeKind names an e-mail to a user; the values are internal/mail's
// template names and mail_notices' words.
type NoticeKind string

// The e-mails the core sends.
const (
	NoticeEnrollment    NoticeKind = "enrollment"
	NoticeDeviceAdded   NoticeKind = "device_added"
	NoticeBypassCodes   NoticeKind = "bypass_codes"
	NoticeFraudReported NoticeKind = "fraud_reported"
)

// Notice is one e-mail to a user; each kind fills the fields that
// concern it (see internal/mail.Data, which has the same fields).
type Notice struct {
	Kind     NoticeKind
	To       string
	Username string
	RealName string
	Time     time.Time

	Link    string    // enrollment
	Expires time.Time // enrollment; zero: unknown

	DeviceName     string // device_added
	DevicePlatform string
	DeviceKind     string // "mobile device", "authenticator app", "security key"

	Count       int // bypass_codes
	Uses        int
	CodesExpire time.Time

	IP          string // fraud_reported
	Application string
}

// Mailer delivers notices. In the server it queues and returns at once.
type Mailer interface {
	Mail(ctx context.Context, n Notice) error
}

// ErrMailNotConfigured refuses an e-mail when no SMTP server is configured.
var ErrMailNotConfigured = &Error{Kind: KindInvalid, Param: "email",
	Detail: "this server sends no e-mail: smtp_server is not configured (docs/email.md)"}

// MailConfigured reports whether the server sends e-mail.
func (s *Service) MailConfigured() bool { return s.opts.Mailer != nil }

// EnrollmentEmail is an enrollment e-mail sent (or queued).
type EnrollmentEmail struct {
	UserID   string
	Username string
	To       string
	Link     string
	Expires  time.Time // zero: unknown (enroll_portal_url is an external portal)
}

// SendEnrollmentEmail e-mails the user (username or user ID) an
// enrollment link at the e-mail address of their profile: what the
// directory sync calls for users it creates. The link is preauth's
// enroll_portal_url (a single-use link to Assent's portal by default).
func (s *Service) SendEnrollmentEmail(ctx context.Context, nameOrID string) (EnrollmentEmail, error) {
	return s.SendEnrollmentEmailTo(ctx, nameOrID, "")
}

// SendEnrollmentEmailTo is SendEnrollmentEmail to the address to (the
// profile's when empty): Admin API users/enroll, `assent user enroll
// --email`.
func (s *Service) SendEnrollmentEmailTo(ctx context.Context, nameOrID, to string) (EnrollmentEmail, error) {
	if s.opts.Mailer == nil {
		return EnrollmentEmail{}, ErrMailNotConfigured
	}
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return EnrollmentEmail{}, err
	}
	to = cmp.Or(to, u.Profile.Email)
	if to == "" {
		return EnrollmentEmail{}, invalid("email", "the user "+u.Username+" has no e-mail address")
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return EnrollmentEmail{}, invalid("email", "not an e-mail address")
	}
	if s.opts.EnrollPortalURL == nil {
		return EnrollmentEmail{}, wrap("enrollment e-mail", errNoPortal)
	}
	link, err := s.opts.EnrollPortalURL(ctx, u.Username)
	if err != nil {
		return EnrollmentEmail{}, err
	}
	out := EnrollmentEmail{UserID: u.ID, Username: u.Username, To: to, Link: link, Expires: s.enrollLinkExpiry(ctx, link)}
	err = s.opts.Mailer.Mail(ctx, Notice{Kind: NoticeEnrollment, To: to, Username: u.Username, RealName: u.Profile.RealName,
		Time: s.now(), Link: link, Expires: out.Expires})
	if err != nil {
		return EnrollmentEmail{}, wrap("enrollment e-mail", err)
	}
	if err := s.adminLogIfActor(ctx, s.st, "enroll_email", u.Username, map[string]any{"user_id": u.ID}); err != nil {
		s.opts.Logger.Warn("admin log of an enrollment e-mail", "err", err)
	}
	s.opts.Logger.Info("enrollment e-mail sent", "user_id", u.ID)
	return out, nil
}

type errString string

func (e errString) Error() string { return string(e) }

const errNoPortal = errString("no enrollment portal (EnrollPortalURL) is configured")

// enrollLinkExpiry is when a link to Assent's own portal expires; zero for
// another portal's.
func (s *Service) enrollLinkExpiry(ctx context.Context, link string) time.Time {
	_, token, ok := strings.Cut(link, "/portal/enroll/")
	if !ok {
		return time.Time{}
	}
	info, err := s.EnrollLink(ctx, token)
	if err != nil {
		return time.Time{}
	}
	return info.Expires
}

// notify e-mails a notice of kind to the user with userID, when mail is
// configured, the kind is among Options.MailNotices and the user has an
// e-mail address; fill completes the notice. Failures are logged only.
func (s *Service) notify(ctx context.Context, kind NoticeKind, userID string, fill func(*Notice)) {
	if s.opts.Mailer == nil || !slices.Contains(s.opts.MailNotices, kind) {
		return
	}
	// The operation reported is done: its request may end, the notice
	// still goes.
	ctx = context.WithoutCancel(ctx)
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		s.opts.Logger.Warn("e-mail notice not sent: user unreadable", "notice", string(kind), "user_id", userID, "err", err)
		return
	}
	if u.Profile.Email == "" {
		return
	}
	n := Notice{Kind: kind, To: u.Profile.Email, Username: u.Username, RealName: u.Profile.RealName, Time: s.now()}
	fill(&n)
	if err := s.opts.Mailer.Mail(ctx, n); err != nil {
		s.opts.Logger.Warn("e-mail notice not sent", "notice", string(kind), "user_id", userID, "err", err)
	}
}

// noticeDevice tells a user that an authenticator was added.
func (s *Service) noticeDevice(ctx context.Context, userID, kind, name, platform string) {
	s.notify(ctx, NoticeDeviceAdded, userID, func(n *Notice) {
		n.DeviceKind, n.DeviceName, n.DevicePlatform = kind, name, platform
	})
}

// noticeBypass tells a user that bypass codes were issued (never the codes).
func (s *Service) noticeBypass(ctx context.Context, b IssuedBypassCodes) {
	s.notify(ctx, NoticeBypassCodes, b.UserID, func(n *Notice) {
		n.Count, n.Uses, n.CodesExpire = len(b.Codes), b.Uses, b.Expires
	})
}

// noticeFraud tells a user that a push was reported as fraud.
func (s *Service) noticeFraud(ctx context.Context, t store.Transaction) {
	s.notify(ctx, NoticeFraudReported, t.UserID, func(n *Notice) {
		n.IP = t.IP
		if in, err := s.st.GetIntegration(ctx, t.IKey); err == nil {
			n.Application = in.Name
		}
	})
}

// EnrollmentLink is an enrollment link for a user (username, alias or user
// ID) to hand over another way than e-mail: the console's "Create
// enrollment link". Logged in the administrator log, never the link.
func (s *Service) EnrollmentLink(ctx context.Context, nameOrID string) (EnrollmentEmail, error) {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return EnrollmentEmail{}, err
	}
	if s.opts.EnrollPortalURL == nil {
		return EnrollmentEmail{}, wrap("enrollment link", errNoPortal)
	}
	link, err := s.opts.EnrollPortalURL(ctx, u.Username)
	if err != nil {
		return EnrollmentEmail{}, err
	}
	if err := s.adminLogIfActor(ctx, s.st, "enroll_link", u.Username, map[string]any{"user_id": u.ID}); err != nil {
		s.opts.Logger.Warn("admin log of an enrollment link", "err", err)
	}
	return EnrollmentEmail{UserID: u.ID, Username: u.Username, Link: link, Expires: s.enrollLinkExpiry(ctx, link)}, nil
}

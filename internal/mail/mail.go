// Package mail sends Assent's e-mail: enrollment links and notices to users
// (a device was added, bypass codes were issued, a push was reported as
// fraud). It renders administrator-changeable templates (templates.go),
// delivers through an SMTP server with STARTTLS or implicit TLS and
// authentication (this file, on github.com/wneessen/go-mail), and queues
// messages so that no request waits for a mail server (queue.go).
//
// It is a leaf: it imports nothing of Assent's. The server wires it to the
// core (internal/app); passwords and message bodies are never logged, and
// addresses only masked (Mask).
package mail

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of the connection to the SMTP server.
const (
	// StartTLS connects in plain text and upgrades with STARTTLS before
	// anything else; a server that does not offer it is refused
	// (submission, port 587).
	StartTLS = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS = "tls"
	// NoTLS never encrypts: only for a relay on the same host or network
	// (port 25); authentication is then refused unless the server is on
	// loopback.
	NoTLS = "none"
)

// Authentication mechanisms (Settings.Auth).
const (
	AuthAuto    = "auto" // the strongest the server offers: SCRAM, NTLM, CRAM-MD5, then (encrypted only) PLAIN, LOGIN
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthCRAMMD5 = "cram-md5"
)

// DefaultTimeout bounds one delivery attempt: connecting, the TLS
// handshake and the whole SMTP conversation.
const DefaultTimeout = 30 * time.Second

// Settings say how to reach the SMTP server.
type Settings struct {
	// Server is host:port of the SMTP server.
	Server string
	// TLS is StartTLS (default), ImplicitTLS or NoTLS.
	TLS string
	// Username and Password authenticate; no username: no AUTH.
	Username string
	Password string
	// Auth is the mechanism: AuthAuto (default), AuthPlain, AuthLogin or
	// AuthCRAMMD5.
	Auth string
	// CAFile is a PEM file of the CA(s) the server's certificate is
	// checked against instead of the system's (an internal CA).
	CAFile string
	// From is the sender: an address, optionally with a name
	// ("Assent <assent@example.com>").
	From string
	// Timeout bounds one attempt; default DefaultTimeout.
	Timeout time.Duration
	// HELO is the name given in EHLO; default the local host name.
	HELO string
}

// Message is one rendered e-mail.
type Message struct {
	To      string
	Subject string
	Text    string // text/plain part
	HTML    string // text/html alternative; empty: text only
}

// SMTP delivers messages to one SMTP server, one connection per message
// (Assent sends a few messages an hour, not a newsletter).
type SMTP struct {
	s    Settings
	host string
	port int
	from *netmail.Address
	tls  *tls.Config
}

// Problems is every error found in settings or templates at once.
type Problems []Problem

// Problem is one error: where (a setting, or a template file and the
// template in it) and what.
type Problem struct {
	File     string // setting key or template file
	Template string // template name inside File; may be empty
	Err      string
}

func (p Problem) String() string {
	where := p.File
	if p.Template != "" {
		where += " (" + p.Template + ")"
	}
	return where + ": " + p.Err
}

func (ps Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d mail problem", len(ps))
	if len(ps) != 1 {
		b.WriteString("s")
	}
	b.WriteString(":")
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// NewSMTP checks settings (every problem at once, named by the setting's
// key in the configuration file) and reads the CA file.
func NewSMTP(s Settings) (*SMTP, error) {
	var ps Problems
	bad := func(key, msg string) { ps = append(ps, Problem{File: key, Err: msg}) }
	c := &SMTP{s: s}
	c.s.TLS = cmp.Or(s.TLS, StartTLS)
	c.s.Auth = cmp.Or(s.Auth, AuthAuto)
	c.s.Timeout = cmp.Or(s.Timeout, DefaultTimeout)
	host, port, err := net.SplitHostPort(s.Server)
	if err != nil || host == "" {
		bad("smtp_server", fmt.Sprintf("%q is not host:port (e.g. smtp.example.com:587)", s.Server))
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		bad("smtp_server", fmt.Sprintf("port %q is not a number from 1 to 65535", port))
	} else {
		c.host, c.port = host, n
	}
	switch c.s.TLS {
	case StartTLS, ImplicitTLS, NoTLS:
	default:
		bad("smtp_tls", fmt.Sprintf("%q is not one of starttls, tls, none", s.TLS))
	}
	switch c.s.Auth {
	case AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5:
	default:
		bad("smtp_auth", fmt.Sprintf("%q is not one of auto, plain, login, cram-md5", s.Auth))
	}
	if s.Username == "" && s.Password != "" {
		bad("smtp_username", "a password is set but no username")
	}
	if s.Username != "" && c.s.TLS == NoTLS && c.host != "" && !isLoopback(c.host) {
		bad("smtp_tls", "\"none\" with a username would send the password in clear text to a server that is not on loopback; use starttls or tls")
	}
	if c.s.Timeout < time.Second || c.s.Timeout > 10*time.Minute {
		bad("smtp_timeout", "must be between 1s and 10m")
	}
	if s.From == "" {
		bad("mail_from", "is required with smtp_server: the sender address, e.g. \"Assent <assent@example.com>\"")
	} else if a, err := netmail.ParseAddress(s.From); err != nil {
		bad("mail_from", fmt.Sprintf("%q is not an e-mail address: %v", s.From, err))
	} else {
		c.from = a
	}
	c.tls = &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			bad("smtp_ca_file", err.Error())
		case !pool.AppendCertsFromPEM(pem):
			bad("smtp_ca_file", s.CAFile+" holds no PEM certificate")
		default:
			c.tls.RootCAs = pool
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is host:port of the SMTP server (for messages).
func (c *SMTP) Server() string { return c.s.Server }

// Send delivers m now: it connects, upgrades to TLS, authenticates and
// sends, within the timeout and ctx. The error says which step failed
// and what the server answered (never the password).
func (c *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := c.build(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{
		gomail.WithPort(c.port),
		gomail.WithTimeout(c.s.Timeout),
		gomail.WithTLSConfig(c.tls),
	}
	switch c.s.TLS {
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if c.s.HELO != "" {
		opts = append(opts, gomail.WithHELO(c.s.HELO))
	}
	if c.s.Username != "" {
		mech := map[string]gomail.SMTPAuthType{AuthAuto: gomail.SMTPAuthAutoDiscover, AuthPlain: gomail.SMTPAuthPlain,
			AuthLogin: gomail.SMTPAuthLogin, AuthCRAMMD5: gomail.SMTPAuthCramMD5}[c.s.Auth]
		if c.s.TLS == NoTLS {
			// Only reachable on loopback (NewSMTP): go-mail's plain
			// mechanisms refuse an unencrypted connection otherwise.
			switch mech {
			case gomail.SMTPAuthPlain:
				mech = gomail.SMTPAuthPlainNoEnc
			case gomail.SMTPAuthLogin:
				mech = gomail.SMTPAuthLoginNoEnc
			}
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(c.s.Username), gomail.WithPassword(c.s.Password))
	}
	cl, err := gomail.NewClient(c.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client for %s: %w", c.s.Server, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.s.Timeout)
	defer cancel()
	if err := cl.DialAndSendWithContext(ctx, msg); err != nil {
		return &SendError{Server: c.s.Server, Err: err}
	}
	return nil
}

// build makes the MIME message: text/plain with a text/html alternative.
func (c *SMTP) build(m Message) (*gomail.Msg, error) {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, &PermanentError{Err: fmt.Errorf("recipient %s: %w", Mask(m.To), err)}
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(c.from)
	msg.ToMailAddress(to)
	// A subject is one line whatever the template made of it.
	msg.Subject(strings.Join(strings.Fields(m.Subject), " "))
	msg.SetDate()
	msg.SetMessageID()
	msg.SetGenHeader(gomail.HeaderXMailer, "Assent")
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// SendError is a delivery that failed: the step and the server's answer.
type SendError struct {
	Server string
	Err    error
}

func (e *SendError) Error() string { return "smtp " + e.Server + ": " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: connection
// failures, timeouts and 4xx answers may; 5xx answers (a rejected
// recipient, failed authentication) will not.
func (e *SendError) Temporary() bool {
	var se *gomail.SendError
	if errors.As(e.Err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return false
		}
	}
	var te *textproto.Error // e.g. AUTH answered 535
	if errors.As(e.Err, &te) && te.Code >= 500 && te.Code < 600 {
		return false
	}
	return true
}

// PermanentError is a message that can never be sent (an unparsable
// recipient): it is not retried.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// retryable reports whether err is worth another attempt.
func retryable(err error) bool {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return false
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return true
}

// Mask hides most of an address for logs: "alice@example.com" becomes
// "a***@e***.com". The domain's last label stays, to tell a typo in it.
func Mask(addr string) string {
	if a, err := netmail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return first(addr) + "***"
	}
	tld := ""
	if i := strings.LastIndexByte(domain, '.'); i > 0 {
		tld, domain = domain[i:], domain[:i]
	}
	return first(local) + "***@" + first(domain) + "***" + tld
}

func first(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

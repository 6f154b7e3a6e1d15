// Package telephony delivers SMS messages through a provider: Kannel's HTTP
// sendsms interface, or a generic HTTPS provider (Twilio's request shape by
// default, with a configurable URL, authentication and body template). The
// core (internal/auth) sees a provider as an auth.SMSSender.
//
// Numbers are E.164 ("+15555550123"). No error or log line of this package
// holds a full number: a provider's answer is quoted with the number
// masked (XXX-XXX-0123).
package telephony

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Providers.
const (
	ProviderNone   = ""
	ProviderKannel = "kannel"
	ProviderHTTP   = "http"
)

// Config selects and configures a provider.
type Config struct {
	Provider string // kannel, http or "" (none)
	// URL is Kannel's sendsms URL (http://127.0.0.1:13013/cgi-bin/sendsms)
	// or the HTTPS provider's endpoint.
	URL string
	// From is the sender: a number or an alphanumeric sender ID.
	From string
	// Username and Password authenticate: Kannel's sendsms-user; for the
	// HTTP provider, HTTP basic authentication, or with Username empty a
	// bearer token.
	Username, Password string
	// Body is the HTTP provider's body template (text/template, with .To,
	// .From and .Text, and the functions form and json that quote them);
	// "" is Twilio's form: From=…&To=…&Body=….
	Body string
	// ContentType is the HTTP provider's body type; "" is
	// application/x-www-form-urlencoded.
	ContentType string
	// Client makes the requests; nil: a client with a 30 s timeout.
	Client *http.Client
}

// Sender sends one message.
type Sender interface {
	SendSMS(ctx context.Context, to, text string) error
	Name() string
}

// New returns the configured provider, or nil for none.
func New(c Config) (Sender, error) {
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
	switch c.Provider {
	case ProviderNone:
		return nil, nil
	case ProviderKannel:
		return newKannel(c)
	case ProviderHTTP:
		return newHTTP(c)
	case ProviderSMPP:
		return newSMPP(c)
	}
	return nil, fmt.Errorf("telephony: unknown sms_provider %q (kannel, http, smpp)", c.Provider)
}

// Mask masks a number as Duo does: XXX-XXX-0123.
func Mask(number string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
	if len(digits) > 4 {
		digits = digits[len(digits)-4:]
	}
	return "XXX-XXX-" + digits
}

// ErrRefused is a provider's refusal of a message.
var ErrRefused = errors.New("the provider refused the message")

// answer reads at most 512 bytes of a provider's answer for an error,
// with the number masked.
func answer(r io.Reader, to string) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	s := strings.TrimSpace(string(b))
	for _, n := range []string{to, strings.TrimPrefix(to, "+")} {
		if n != "" {
			s = strings.ReplaceAll(s, n, Mask(to))
		}
	}
	return s
}

// checkNumber refuses what is not an E.164 number.
func checkNumber(to string) error {
	d := strings.TrimPrefix(to, "+")
	if !strings.HasPrefix(to, "+") || d == "" || len(d) > 15 || strings.Trim(d, "0123456789") != "" {
		return errors.New("telephony: the number must be E.164 (+ and up to 15 digits)")
	}
	return nil
}

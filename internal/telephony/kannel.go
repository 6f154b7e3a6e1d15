package telephony

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Kannel sends through Kannel's smsbox HTTP interface (sendsms): a GET with
// username, password, from, to and text; smsbox answers 202 "0: Accepted
// for delivery" (or "3: Queued for later delivery"), an error status
// otherwise.
type Kannel struct {
	c   Config
	url *url.URL
}

func newKannel(c Config) (*Kannel, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("telephony: sms_url must be Kannel's sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms")
	}
	if c.Username == "" {
		return nil, errors.New("telephony: sms_username (Kannel's sendsms-user) is required with sms_provider = \"kannel\"")
	}
	return &Kannel{c: c, url: u}, nil
}

// Name is the provider's name in the telephony log.
func (k *Kannel) Name() string { return ProviderKannel }

// SendSMS sends text to the E.164 number to.
func (k *Kannel) SendSMS(ctx context.Context, to, text string) error {
	if err := checkNumber(to); err != nil {
		return err
	}
	u := *k.url
	q := u.Query()
	q.Set("username", k.c.Username)
	q.Set("password", k.c.Password)
	q.Set("to", to)
	q.Set("text", text)
	q.Set("charset", "UTF-8")
	q.Set("coding", "0")
	if k.c.From != "" {
		q.Set("from", k.c.From)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("telephony: kannel: %w", err)
	}
	resp, err := k.c.Client.Do(req)
	if err != nil {
		// The error quotes the URL, which holds the number and password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("telephony: kannel at %s: %w", k.url.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("telephony: kannel: %w: %s %q", ErrRefused, resp.Status, answer(resp.Body, to))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}

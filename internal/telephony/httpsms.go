package telephony

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/template"
)

// DefaultBody is Twilio's request: a form with From, To and Body.
const DefaultBody = `From={{form .From}}&To={{form .To}}&Body={{form .Text}}`

// HTTP sends through an HTTPS provider: a POST of the body template to the
// URL, with basic authentication (Username, Password) or a bearer token
// (Password alone). Any 2xx answer is a success.
type HTTP struct {
	c    Config
	url  *url.URL
	body *template.Template
}

// message is what the body template sees.
type message struct{ To, From, Text string }

func newHTTP(c Config) (*HTTP, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("telephony: sms_url must be the provider's https:// URL")
	}
	if c.Body == "" {
		c.Body = DefaultBody
	}
	if c.ContentType == "" {
		c.ContentType = "application/x-www-form-urlencoded"
	}
	t, err := template.New("sms_http_body").Option("missingkey=error").Funcs(template.FuncMap{
		"form": url.QueryEscape,
		"json": func(s string) (string, error) {
			b, err := json.Marshal(s)
			return string(b), err
		},
	}).Parse(c.Body)
	if err != nil {
		return nil, fmt.Errorf("telephony: sms_http_body: %w", err)
	}
	if err := t.Execute(io.Discard, message{To: "+15555550100", From: c.From, Text: "test"}); err != nil {
		return nil, fmt.Errorf("telephony: sms_http_body: %w", err)
	}
	return &HTTP{c: c, url: u, body: t}, nil
}

// Name is the provider's name in the telephony log.
func (h *HTTP) Name() string { return ProviderHTTP }

// SendSMS sends text to the E.164 number to.
func (h *HTTP) SendSMS(ctx context.Context, to, text string) error {
	if err := checkNumber(to); err != nil {
		return err
	}
	var body bytes.Buffer
	if err := h.body.Execute(&body, message{To: to, From: h.c.From, Text: text}); err != nil {
		return fmt.Errorf("telephony: http: body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url.String(), &body)
	if err != nil {
		return fmt.Errorf("telephony: http: %w", err)
	}
	req.Header.Set("Content-Type", h.c.ContentType)
	switch {
	case h.c.Username != "":
		req.SetBasicAuth(h.c.Username, h.c.Password)
	case h.c.Password != "":
		req.Header.Set("Authorization", "Bearer "+h.c.Password)
	}
	resp, err := h.c.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("telephony: http provider at %s: %w", h.url.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("telephony: http provider: %w: %s %q", ErrRefused, resp.Status, answer(resp.Body, to))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}

package testutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// SMSCapture is a loopback HTTP SMS provider for tests: it takes the
// `http` provider's default request (a Twilio-style form with From, To
// and Body) and keeps the messages. Configure the server with
// sms_provider = "http" and sms_url = URL.
type SMSCapture struct {
	URL string

	mu   sync.Mutex
	msgs []SMS
	new  chan struct{}
}

// SMS is one message the capture received.
type SMS struct{ From, To, Body string }

// StartSMSCapture starts a capture, stopped when the test ends.
func StartSMSCapture(t testing.TB) *SMSCapture {
	t.Helper()
	c := &SMSCapture{new: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		v, err := url.ParseQuery(string(b))
		if err != nil || v.Get("To") == "" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, SMS{From: v.Get("From"), To: v.Get("To"), Body: v.Get("Body")})
		c.mu.Unlock()
		select {
		case c.new <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL + "/Messages.json"
	return c
}

// Flags are the server's settings that send through the capture.
func (c *SMSCapture) Flags() map[string]string {
	return map[string]string{"sms_provider": "http", "sms_url": c.URL}
}

// Messages returns the messages received so far.
func (c *SMSCapture) Messages() []SMS {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]SMS(nil), c.msgs...)
}

// Wait returns the messages once there are at least n (failing the test
// after 30 s).
func (c *SMSCapture) Wait(t testing.TB, n int) []SMS {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		if m := c.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-c.new:
		case <-deadline.C:
			t.Fatalf("SMS capture: %d messages after 30 s, want %d", len(c.Messages()), n)
		}
	}
}

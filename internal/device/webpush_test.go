package device

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/assent-auth/assent/internal/webpush"
)

// registrar records registrations, validating them as webpush does.
type registrar struct {
	mu  sync.Mutex
	got []string
}

func (r *registrar) Register(_ context.Context, deviceID, endpoint, p256dh, auth string) error {
	if err := webpush.Validate(endpoint, p256dh, auth); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, fmt.Sprintf("%s %s %s %s", deviceID, endpoint, p256dh, auth))
	return nil
}

func TestWebPushRegistration(t *testing.T) {
	t.Parallel()
	const (
		p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
		auth   = "BTBZMqHH6r4Tts7J_aSIgg"
	)
	reg := &registrar{}
	f := newFixture(t, func(a *API) { a.WebPush = reg })
	c := f.device(t, "alice", 0)
	ctx := context.Background()
	call := func(endpoint, key, secret string) error {
		p := c.stdParams()
		p.Set("endpoint", endpoint)
		p.Set("p256dh", key)
		p.Set("auth", secret)
		return c.Do(ctx, "POST", "/push/v2/device/webpush", p, nil)
	}
	tests := []struct {
		name, endpoint, key, secret string
		code                        int // 0: accepted
	}{
		{"good", "https://push.example/send/1", p256dh, auth, 0},
		{"http endpoint", "http://push.example/send/1", p256dh, auth, 40002},
		{"no key", "https://push.example/send/1", "", auth, 40002},
		{"short secret", "https://push.example/send/1", p256dh, "AAAA", 40002},
	}
	for _, tt := range tests {
		err := call(tt.endpoint, tt.key, tt.secret)
		if ae := apiErr(err); tt.code == 0 && err != nil || tt.code != 0 && (ae == nil || ae.Code != tt.code) {
			t.Errorf("%s: %v, want code %d", tt.name, err, tt.code)
		}
	}
	if want := c.PKey + " https://push.example/send/1 " + p256dh + " " + auth; len(reg.got) != 1 || reg.got[0] != want {
		t.Errorf("registered %q, want [%q]", reg.got, want)
	}
	// Unsigned: refused before anything is registered.
	resp, err := f.srv.Client().PostForm(f.url("/push/v2/device/webpush"), url.Values{"endpoint": {"https://x/y"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(reg.got) != 1 {
		t.Errorf("unsigned registration: HTTP %d, %d registered", resp.StatusCode, len(reg.got))
	}

	// Without a registrar the route does not exist.
	plain := newFixture(t)
	pc := plain.device(t, "alice", 0)
	req, err := pc.NewRequest(ctx, "POST", "/push/v2/device/webpush", pc.stdParams())
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := plain.srv.Client().Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("webpush without a registrar: %v, %v; want 404", resp, err)
	} else {
		resp.Body.Close()
	}
}

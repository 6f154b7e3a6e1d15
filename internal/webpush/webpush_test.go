package webpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/webpush/webpushtest"
)

// memStore keeps settings and subscriptions in memory.
type memStore struct {
	mu       sync.Mutex
	settings map[string]string
	subs     map[string]store.WebPushSubscription
}

func newMemStore() *memStore {
	return &memStore{settings: map[string]string{}, subs: map[string]store.WebPushSubscription{}}
}

func (m *memStore) GetSetting(_ context.Context, k string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.settings[k]
	if !ok {
		return "", store.ErrNotFound
	}
	return v, nil
}

func (m *memStore) PutSetting(_ context.Context, k, v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settings[k] = v
	return nil
}

func (m *memStore) PutWebPushSubscription(_ context.Context, s store.WebPushSubscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[s.DeviceID] = s
	return nil
}

func (m *memStore) GetWebPushSubscription(_ context.Context, id string) (store.WebPushSubscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

func (m *memStore) DeleteWebPushSubscription(_ context.Context, id, endpoint string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.subs[id]; !ok || s.Endpoint != endpoint {
		return store.ErrNotFound
	}
	delete(m.subs, id)
	return nil
}

func newBox(t *testing.T) *secrets.Box {
	t.Helper()
	b, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVAPIDKeySealedAndKept(t *testing.T) {
	st, box := newMemStore(), newBox(t)
	n := New(st, box, nil, "mailto:admin@example.com")
	if err := n.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	pub := n.VAPIDPublicKey()
	if len(pub) != 87 { // 65 bytes, base64url without padding
		t.Fatalf("VAPID public key %q", pub)
	}
	stored := st.settings[SettingVAPIDKey]
	if strings.Contains(stored, n.keys.Private) || strings.Contains(stored, "private") {
		t.Errorf("the stored VAPID key is not sealed: %q", stored)
	}
	// A restart (or another node) loads the same key.
	again := New(st, box, nil, "mailto:admin@example.com")
	if got := again.VAPIDPublicKey(); got != pub {
		t.Errorf("after a restart the VAPID key is %q, want %q", got, pub)
	}
	// Another master key cannot open it.
	other, _ := secrets.New(bytes.Repeat([]byte{8}, 32))
	if err := New(st, other, nil, "").Init(t.Context()); err == nil {
		t.Error("a notifier with another master key opened the VAPID key")
	}
}

func TestValidate(t *testing.T) {
	b := webpushtest.NewSubscription(t)
	tests := []struct {
		name, endpoint, p256dh, auth string
		ok                           bool
	}{
		{"good", "https://fcm.googleapis.com/fcm/send/abc", b.P256DH(), b.AuthKey(), true},
		{"padded std base64", "https://push.example/x", b.P256DH() + "=", b.AuthKey() + "==", true},
		{"http", "http://push.example/x", b.P256DH(), b.AuthKey(), false},
		{"no host", "https:///x", b.P256DH(), b.AuthKey(), false},
		{"userinfo", "https://u:p@push.example/x", b.P256DH(), b.AuthKey(), false},
		{"long", "https://push.example/" + strings.Repeat("a", 1024), b.P256DH(), b.AuthKey(), false},
		{"bad point", "https://push.example/x", "BAAA" + b.P256DH()[4:], b.AuthKey(), false},
		{"short auth", "https://push.example/x", b.P256DH(), "AAAA", false},
		{"not base64", "https://push.example/x", "!!!", b.AuthKey(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.endpoint, tt.p256dh, tt.auth)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Errorf("Validate: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestSend delivers through the loopback push service: the VAPID token is
// checked, the payload decrypted; a 500 is a counted failure that keeps
// the subscription; a 410 drops it.
func TestSend(t *testing.T) {
	st, box := newMemStore(), newBox(t)
	n := New(st, box, nil, "mailto:admin@example.com")
	ps := webpushtest.StartPushService(t)
	n.Client = ps.Client()
	ps.VAPIDKey = n.VAPIDPublicKey()
	ctx := t.Context()
	const dev = "DP000000000000000001"
	if err := n.Send(ctx, dev, Message{TxID: "t0"}); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("Send without a subscription: %v", err)
	}
	if err := n.Register(ctx, dev, ps.Endpoint(), ps.Sub.P256DH(), ps.Sub.AuthKey()); err != nil {
		t.Fatal(err)
	}
	n.PushSent(store.Transaction{ID: "0b8e1f7e-0000-4000-8000-000000000001", DeviceID: dev, Type: "VPN login"})
	n.Wait()
	msgs, errs := ps.Received()
	if len(errs) > 0 || len(msgs) != 1 {
		t.Fatalf("push service: errors %v, %d messages", errs, len(msgs))
	}
	var m Message
	if err := json.Unmarshal(msgs[0], &m); err != nil || m != (Message{TxID: "0b8e1f7e-0000-4000-8000-000000000001", Summary: "VPN login request"}) {
		t.Errorf("decrypted message %s (%v)", msgs[0], err)
	}
	if n.Stats.Sent.Load() != 1 {
		t.Errorf("sent %d", n.Stats.Sent.Load())
	}

	ps.Answer(http.StatusInternalServerError)
	if err := n.Send(ctx, dev, Message{TxID: "t2"}); err == nil {
		t.Error("a 500 from the push service is no error")
	}
	if _, err := st.GetWebPushSubscription(ctx, dev); err != nil || n.Stats.Failed.Load() != 1 {
		t.Errorf("after a 500: subscription %v, failed %d", err, n.Stats.Failed.Load())
	}

	ps.Answer(http.StatusGone)
	if err := n.Send(ctx, dev, Message{TxID: "t3"}); err == nil {
		t.Error("a 410 from the push service is no error")
	}
	if _, err := st.GetWebPushSubscription(ctx, dev); !errors.Is(err, store.ErrNotFound) || n.Stats.Dropped.Load() != 1 {
		t.Errorf("after a 410: subscription %v, dropped %d", err, n.Stats.Dropped.Load())
	}
}

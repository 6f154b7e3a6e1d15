// Package webpush wakes the Assent Authenticator when a push waits for it:
// RFC 8030 Web Push with RFC 8291 payload encryption and RFC 8292 VAPID,
// through github.com/SherClockHolmes/webpush-go. The VAPID key pair is made
// at first start and kept sealed (internal/secrets) in the settings; each
// device's subscription is in the store. The message carries the txid and
// the summary, never a secret; a push service's 404 or 410 drops the
// subscription; failures are logged and counted.
package webpush

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	webpushgo "github.com/SherClockHolmes/webpush-go"

	"github.com/assent-auth/assent/internal/store"
)

// SettingVAPIDKey names the sealed VAPID key pair in the settings.
const SettingVAPIDKey = "webpush_vapid_key"

// Store is what the notifier keeps: its key pair and the subscriptions.
type Store interface {
	GetSetting(ctx context.Context, key string) (string, error)
	PutSetting(ctx context.Context, key, value string) error
	store.WebPushQueries
}

// Sealer seals the VAPID private key at rest (a *secrets.Box).
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// Stats count what the notifier did, for metrics.
type Stats struct {
	Sent, Failed, Dropped atomic.Uint64
}

// Notifier sends Web Push messages to devices.
type Notifier struct {
	st  Store
	box Sealer
	log *slog.Logger
	// Subject is the VAPID "sub" claim: a mailto: or https: contact the
	// push service can reach the operator at.
	Subject string
	// Client sends to push services; nil is a client with a 10 s timeout.
	Client *http.Client
	// TTL is how long a push service keeps an undelivered message; the
	// push's own lifetime is a good value. Default 60 s.
	TTL time.Duration
	Now func() time.Time

	Stats Stats

	mu   sync.Mutex
	keys *keyPair
	wg   sync.WaitGroup
	sem  chan struct{}
}

type keyPair struct {
	Private string `json:"private"` // base64url scalar
	Public  string `json:"public"`  // base64url uncompressed point
}

// maxInFlight bounds concurrent deliveries; more wait in their goroutine.
const maxInFlight = 16

// New returns a notifier; call Init before serving.
func New(st Store, box Sealer, log *slog.Logger, subject string) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{st: st, box: box, log: log, Subject: subject, sem: make(chan struct{}, maxInFlight)}
}

// Init loads the VAPID key pair, making and storing it on first start.
func (n *Notifier) Init(ctx context.Context) error {
	_, err := n.keyPair(ctx)
	return err
}

func (n *Notifier) keyPair(ctx context.Context) (*keyPair, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.keys != nil {
		return n.keys, nil
	}
	v, err := n.st.GetSetting(ctx, SettingVAPIDKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		priv, pub, err := webpushgo.GenerateVAPIDKeys()
		if err != nil {
			return nil, fmt.Errorf("webpush: generate VAPID keys: %w", err)
		}
		kp := &keyPair{Private: priv, Public: pub}
		b, _ := json.Marshal(kp)
		sealed, err := n.box.Seal(b, []byte(SettingVAPIDKey))
		if err != nil {
			return nil, fmt.Errorf("webpush: seal VAPID key: %w", err)
		}
		if err := n.st.PutSetting(ctx, SettingVAPIDKey, base64.StdEncoding.EncodeToString(sealed)); err != nil {
			return nil, fmt.Errorf("webpush: store VAPID key: %w", err)
		}
		n.log.Info("generated the Web Push (VAPID) key pair")
		n.keys = kp
		return kp, nil
	case err != nil:
		return nil, fmt.Errorf("webpush: read VAPID key: %w", err)
	}
	sealed, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("webpush: stored VAPID key: %w", err)
	}
	b, err := n.box.Open(sealed, []byte(SettingVAPIDKey))
	if err != nil {
		return nil, fmt.Errorf("webpush: open VAPID key: %w", err)
	}
	var kp keyPair
	if err := json.Unmarshal(b, &kp); err != nil || kp.Private == "" || kp.Public == "" {
		return nil, fmt.Errorf("webpush: stored VAPID key is malformed")
	}
	n.keys = &kp
	return &kp, nil
}

// VAPIDPublicKey is the application server key the app subscribes with
// (base64url); "" if the key pair could not be loaded.
func (n *Notifier) VAPIDPublicKey() string {
	kp, err := n.keyPair(context.Background())
	if err != nil {
		n.log.Warn("Web Push is unavailable", "err", err)
		return ""
	}
	return kp.Public
}

// ErrInvalid reports a subscription that cannot be used.
var ErrInvalid = errors.New("webpush: invalid subscription")

// maxEndpoint bounds a subscription's endpoint URL.
const maxEndpoint = 1024

// Validate checks a subscription as a browser gives it: an https endpoint,
// p256dh an uncompressed P-256 point and auth 16 bytes, both base64url.
func Validate(endpoint, p256dh, auth string) error {
	u, err := url.Parse(endpoint)
	if err != nil || len(endpoint) > maxEndpoint || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: endpoint must be an https URL of at most %d characters", ErrInvalid, maxEndpoint)
	}
	k, err := decode(p256dh)
	if err != nil {
		return fmt.Errorf("%w: p256dh is not base64url", ErrInvalid)
	}
	if _, err := ecdh.P256().NewPublicKey(k); err != nil || len(k) != 65 {
		return fmt.Errorf("%w: p256dh is not an uncompressed P-256 public key", ErrInvalid)
	}
	a, err := decode(auth)
	if err != nil || len(a) != 16 {
		return fmt.Errorf("%w: auth must be 16 bytes, base64url", ErrInvalid)
	}
	return nil
}

func decode(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Register stores the device's subscription, replacing an earlier one.
func (n *Notifier) Register(ctx context.Context, deviceID, endpoint, p256dh, auth string) error {
	if err := Validate(endpoint, p256dh, auth); err != nil {
		return err
	}
	return n.st.PutWebPushSubscription(ctx, store.WebPushSubscription{
		DeviceID: deviceID, Endpoint: endpoint, P256DH: p256dh, Auth: auth, Created: n.now(),
	})
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Message is the payload: enough for the notification, nothing secret.
type Message struct {
	TxID    string `json:"txid"`
	Summary string `json:"summary"`
}

// PushSent wakes the device of a push that was just sent; it returns at
// once and delivers in the background (see Wait).
func (n *Notifier) PushSent(t store.Transaction) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.sem <- struct{}{}
		defer func() { <-n.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = n.Send(ctx, t.DeviceID, Message{TxID: t.ID, Summary: summary(t)})
	}()
}

// Wait waits for the deliveries PushSent started.
func (n *Notifier) Wait() { n.wg.Wait() }

func summary(t store.Transaction) string {
	typ := t.Type
	if typ == "" {
		typ = "Login"
	}
	return typ + " request"
}

// ErrNoSubscription is Send to a device that registered none.
var ErrNoSubscription = errors.New("webpush: the device has no subscription")

// Send delivers m to the device's subscription now. A 404 or 410 from the
// push service drops the subscription; every failure is logged and counted.
func (n *Notifier) Send(ctx context.Context, deviceID string, m Message) error {
	sub, err := n.st.GetWebPushSubscription(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoSubscription
	}
	if err != nil {
		n.fail(deviceID, "", err)
		return err
	}
	kp, err := n.keyPair(ctx)
	if err != nil {
		n.fail(deviceID, sub.Endpoint, err)
		return err
	}
	payload, _ := json.Marshal(m)
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ttl := n.TTL
	if ttl <= 0 {
		ttl = 60 * time.Second
	}
	resp, err := webpushgo.SendNotificationWithContext(ctx, payload, &webpushgo.Subscription{
		Endpoint: sub.Endpoint, Keys: webpushgo.Keys{P256dh: sub.P256DH, Auth: sub.Auth},
	}, &webpushgo.Options{
		HTTPClient: client, Subscriber: n.Subject, TTL: int(ttl / time.Second), Urgency: webpushgo.UrgencyHigh,
		VAPIDPublicKey: kp.Public, VAPIDPrivateKey: kp.Private,
	})
	if err != nil {
		n.fail(deviceID, sub.Endpoint, err)
		return fmt.Errorf("webpush: send: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		n.Stats.Dropped.Add(1)
		if err := n.st.DeleteWebPushSubscription(ctx, deviceID, sub.Endpoint); err != nil && !errors.Is(err, store.ErrNotFound) {
			n.log.Warn("could not drop an expired Web Push subscription", "device_id", deviceID, "err", err)
		}
		n.log.Info("Web Push subscription expired; dropped", "device_id", deviceID, "push_service", origin(sub.Endpoint), "status", resp.StatusCode)
		return fmt.Errorf("webpush: the push service answered %d: subscription dropped", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		err := fmt.Errorf("webpush: the push service answered %d", resp.StatusCode)
		n.fail(deviceID, sub.Endpoint, err)
		return err
	}
	n.Stats.Sent.Add(1)
	return nil
}

func (n *Notifier) fail(deviceID, endpoint string, err error) {
	n.Stats.Failed.Add(1)
	// A url.Error names the whole endpoint: keep its path (a capability)
	// out of the log.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = &url.Error{Op: ue.Op, URL: origin(ue.URL), Err: ue.Err}
	}
	n.log.Warn("Web Push delivery failed", "device_id", deviceID, "push_service", origin(endpoint), "err", err)
}

// origin is the push service's scheme and host: the endpoint's path is a
// capability and stays out of logs.
func origin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

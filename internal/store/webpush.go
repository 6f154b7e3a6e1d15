package store

import (
	"context"
	"time"
)

// WebPushSubscription is where a device's browser push service takes Web
// Push messages for it (RFC 8030 endpoint, RFC 8291 keys): the Assent
// Authenticator registers it. One per device; a new one replaces it.
type WebPushSubscription struct {
	DeviceID string
	Endpoint string // https URL of the push service
	P256DH   string // the subscription's P-256 public key, base64url
	Auth     string // the 16-byte authentication secret, base64url
	Created  time.Time
}

// WebPushQueries store Web Push subscriptions. A subscription goes with
// its device (ON DELETE CASCADE).
type WebPushQueries interface {
	// PutWebPushSubscription inserts or replaces the device's
	// subscription; ErrNotFound if the device does not exist.
	PutWebPushSubscription(ctx context.Context, s WebPushSubscription) error
	// GetWebPushSubscription returns ErrNotFound if the device has none.
	GetWebPushSubscription(ctx context.Context, deviceID string) (WebPushSubscription, error)
	// DeleteWebPushSubscription deletes the device's subscription only if
	// it still has this endpoint (a push service's 404/410 must not drop a
	// newer one); ErrNotFound otherwise.
	DeleteWebPushSubscription(ctx context.Context, deviceID, endpoint string) error
}

package sqlstore

import (
	"context"
	"fmt"

	"github.com/assent-auth/assent/internal/store"
)

// Web Push subscriptions (store.WebPushQueries).

func (q *queries) PutWebPushSubscription(ctx context.Context, s store.WebPushSubscription) error {
	if err := q.requireRow(ctx, `SELECT 1 FROM devices WHERE id = ?`, s.DeviceID); err != nil {
		return fmt.Errorf("sqlstore: put Web Push subscription: device %s: %w", s.DeviceID, err)
	}
	_, err := q.exec(ctx,
		`INSERT INTO webpush_subscriptions (device_id, endpoint, p256dh, auth, created) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh,
		 auth = excluded.auth, created = excluded.created`,
		s.DeviceID, s.Endpoint, s.P256DH, s.Auth, toUnix(s.Created))
	if err != nil {
		return fmt.Errorf("sqlstore: put Web Push subscription of %s: %w", s.DeviceID, mapErr(err))
	}
	return nil
}

func (q *queries) GetWebPushSubscription(ctx context.Context, deviceID string) (store.WebPushSubscription, error) {
	s := store.WebPushSubscription{DeviceID: deviceID}
	var created int64
	err := q.queryRow(ctx, `SELECT endpoint, p256dh, auth, created FROM webpush_subscriptions WHERE device_id = ?`, deviceID).
		Scan(&s.Endpoint, &s.P256DH, &s.Auth, &created)
	if err != nil {
		return store.WebPushSubscription{}, fmt.Errorf("sqlstore: get Web Push subscription of %s: %w", deviceID, mapErr(err))
	}
	s.Created = fromUnix(created)
	return s, nil
}

func (q *queries) DeleteWebPushSubscription(ctx context.Context, deviceID, endpoint string) error {
	if err := q.changeOne(ctx, `DELETE FROM webpush_subscriptions WHERE device_id = ? AND endpoint = ?`, deviceID, endpoint); err != nil {
		return fmt.Errorf("sqlstore: delete Web Push subscription of %s: %w", deviceID, err)
	}
	return nil
}

func (s *Store) PutWebPushSubscription(ctx context.Context, sub store.WebPushSubscription) error {
	return s.write(ctx, false, func(q *queries) error { return q.PutWebPushSubscription(ctx, sub) })
}

func (s *Store) GetWebPushSubscription(ctx context.Context, deviceID string) (store.WebPushSubscription, error) {
	return s.rq.GetWebPushSubscription(ctx, deviceID)
}

func (s *Store) DeleteWebPushSubscription(ctx context.Context, deviceID, endpoint string) error {
	return s.write(ctx, true, func(q *queries) error { return q.DeleteWebPushSubscription(ctx, deviceID, endpoint) })
}

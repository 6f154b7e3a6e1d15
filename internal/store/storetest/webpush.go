package storetest

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Web Push subscriptions (store.WebPushQueries).

// RunWebPushTests runs the Web Push subscription conformance tests (kept
// out of RunTests' table, like RunWebAuthnTests, so branches merge
// without conflicts).
func RunWebPushTests(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("WebPushSubscriptions", func(t *testing.T) { testWebPushSubscriptions(t, open(t)) })
}

func normWebPush(s store.WebPushSubscription) store.WebPushSubscription {
	s.Created = sec(s.Created)
	return s
}

func testWebPushSubscriptions(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	d1, d2 := mkDevice(1, alice.ID, at(0)), mkDevice(2, alice.ID, at(0))
	createDevices(t, s, d1, d2)

	_, err := s.GetWebPushSubscription(ctx, d1.ID)
	wantErr(t, "GetWebPushSubscription before any", err, store.ErrNotFound)

	sub := store.WebPushSubscription{DeviceID: d1.ID, Endpoint: "https://push.example/send/abc",
		P256DH: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", Auth: "tBHItJI5svbpez7KI4CCXg", Created: at(time.Minute)}
	must(t, "PutWebPushSubscription", s.PutWebPushSubscription(ctx, sub))
	got, err := s.GetWebPushSubscription(ctx, d1.ID)
	must(t, "GetWebPushSubscription", err)
	check(t, "GetWebPushSubscription", got, sub, normWebPush)

	// A new subscription replaces the old one.
	newer := sub
	newer.Endpoint, newer.Auth, newer.Created = "https://push.example/send/def", "AAAAAAAAAAAAAAAAAAAAAA", at(2*time.Minute)
	must(t, "PutWebPushSubscription again", s.PutWebPushSubscription(ctx, newer))
	got, err = s.GetWebPushSubscription(ctx, d1.ID)
	must(t, "GetWebPushSubscription after replace", err)
	check(t, "GetWebPushSubscription after replace", got, newer, normWebPush)

	// A 404/410 for the old endpoint does not drop the new one.
	wantErr(t, "DeleteWebPushSubscription of a replaced endpoint", s.DeleteWebPushSubscription(ctx, d1.ID, sub.Endpoint), store.ErrNotFound)
	if _, err := s.GetWebPushSubscription(ctx, d1.ID); err != nil {
		t.Errorf("the subscription is gone after deleting a replaced endpoint: %v", err)
	}

	wantErr(t, "PutWebPushSubscription for an unknown device",
		s.PutWebPushSubscription(ctx, store.WebPushSubscription{DeviceID: deviceID(99), Endpoint: "https://x", Created: at(0)}), store.ErrNotFound)

	// Another device's subscription, inside a transaction.
	other := store.WebPushSubscription{DeviceID: d2.ID, Endpoint: "https://push.example/send/ghi", P256DH: "k", Auth: "a", Created: at(0)}
	must(t, "InTx PutWebPushSubscription", s.InTx(ctx, func(q store.Queries) error { return q.PutWebPushSubscription(ctx, other) }))

	must(t, "DeleteWebPushSubscription", s.DeleteWebPushSubscription(ctx, d1.ID, newer.Endpoint))
	_, err = s.GetWebPushSubscription(ctx, d1.ID)
	wantErr(t, "GetWebPushSubscription after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteWebPushSubscription twice", s.DeleteWebPushSubscription(ctx, d1.ID, newer.Endpoint), store.ErrNotFound)

	// The subscription goes with its device.
	must(t, "DeleteDevice", s.DeleteDevice(ctx, d2.ID))
	_, err = s.GetWebPushSubscription(ctx, d2.ID)
	wantErr(t, "GetWebPushSubscription of a deleted device", err, store.ErrNotFound)
}

package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	authapi "github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/webpush"
	"github.com/assent-auth/assent/internal/webpush/webpushtest"
)

// TestWebPush is the server's side of Web Push, on both engines: a device
// registers a subscription (keys the test holds) through the signed device
// call POST /push/v2/device/webpush; a push from duo_api_golang makes the
// server post to the loopback push service, which checks the VAPID JWT
// (ES256 by the key /app/vapid-public-key serves, aud its origin, exp) and
// decrypts the RFC 8291 message: the txid and summary, nothing else. A
// 410 drops the subscription. Invalid subscriptions are refused with
// Duo's 40002.
func TestWebPush(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, serverOptions{engine: eng, flags: map[string]string{"push_timeout": "20s"}})
			ps := webpushtest.StartPushService(t)
			ts.App.WebPush.Client = ps.Client()
			webPushFlow(t, ts, ps)
		})
	}
}

func webPushFlow(t *testing.T, ts *testServer, ps *webpushtest.PushService) {
	ctx := testCtx(t)
	ikey, skey := ts.pushIntegration(t, "Web Push VPN")
	api := goClient(t, ts, ikey, skey, ts.Host)
	en, err := ts.App.Core.Enroll(ctx, auth.EnrollRequest{Username: "wp-user"})
	if err != nil {
		t.Fatal(err)
	}
	phone, err := device.Activate(ctx, en.ActivationCode, device.ActivateOptions{CAFile: ts.CAFile, Name: "web push phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}

	// The VAPID key the app subscribes with.
	resp, err := ts.Client.Get("https://" + ts.Host + "/app/vapid-public-key")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	key := string(kb)
	if resp.StatusCode != http.StatusOK || len(key) != 87 {
		t.Fatalf("GET /app/vapid-public-key: HTTP %d %q", resp.StatusCode, key)
	}
	ps.VAPIDKey = key

	register := func(endpoint, p256dh, auth string) error {
		return phone.Do(ctx, http.MethodPost, "/push/v2/device/webpush", url.Values{
			"akey": {phone.AKey}, "pkpush": {"rsa-sha512"}, "endpoint": {endpoint}, "p256dh": {p256dh}, "auth": {auth},
		}, nil)
	}
	for _, bad := range [][3]string{
		{"http://127.0.0.1/x", ps.Sub.P256DH(), ps.Sub.AuthKey()},
		{ps.Endpoint(), "BAAA", ps.Sub.AuthKey()},
		{ps.Endpoint(), ps.Sub.P256DH(), "c2hvcnQ"},
	} {
		var ae *device.APIError
		if err := register(bad[0], bad[1], bad[2]); !errors.As(err, &ae) || ae.Code != 40002 {
			t.Errorf("register %q: %v, want 40002", bad, err)
		}
	}
	if err := register(ps.Endpoint(), ps.Sub.P256DH(), ps.Sub.AuthKey()); err != nil {
		t.Fatalf("register the subscription: %v", err)
	}
	sub, err := ts.App.Store.GetWebPushSubscription(ctx, phone.PKey)
	if err != nil || sub.Endpoint != ps.Endpoint() {
		t.Fatalf("stored subscription %+v, %v", sub, err)
	}

	// A push wakes the phone: the message arrives before the answer.
	ch := assenttest.AnswerNext(ctx, phone, true, 0)
	res, err := api.Auth("push", authapi.AuthUsername("wp-user"), authapi.AuthDevice("auto"), authapi.AuthType("VPN login"))
	wantAuth(t, "push with Web Push", res, err, "allow", "allow", "Success. Logging you in...")
	tx := assenttest.Received(t, ch).Tx
	msgs := waitMessages(t, ps, 1)
	var m webpush.Message
	if err := json.Unmarshal(msgs[0], &m); err != nil || m.TxID != tx.TxID || m.Summary != "VPN login request" {
		t.Errorf("the Web Push message %s (%v), want txid %s and the summary", msgs[0], err, tx.TxID)
	}
	var fields map[string]any
	_ = json.Unmarshal(msgs[0], &fields)
	if len(fields) != 2 {
		t.Errorf("the Web Push message carries more than txid and summary: %s", msgs[0])
	}

	// The push service forgot the subscription: 410 drops it.
	ps.Answer(http.StatusGone)
	ch = assenttest.AnswerNext(ctx, phone, false, 0)
	res, err = api.Auth("push", authapi.AuthUsername("wp-user"), authapi.AuthDevice("auto"))
	wantAuth(t, "push after the subscription expired", res, err, "deny", "deny", "Login request denied.")
	assenttest.Received(t, ch)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := ts.App.Store.GetWebPushSubscription(ctx, phone.PKey)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subscription survived a 410: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := &ts.App.WebPush.Stats; st.Sent.Load() != 1 || st.Dropped.Load() != 1 {
		t.Errorf("Web Push stats: sent %d dropped %d failed %d", st.Sent.Load(), st.Dropped.Load(), st.Failed.Load())
	}
	if _, errs := ps.Received(); len(errs) > 0 {
		t.Errorf("the push service refused requests: %v", errs)
	}
}

func waitMessages(t *testing.T, ps *webpushtest.PushService, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, errs := ps.Received()
		if len(errs) > 0 {
			t.Fatalf("the push service refused: %v", errs)
		}
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Web Push messages arrived, want %d", len(msgs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
)

// Helpers of the push tests (push_*_test.go): a phone activated through
// the device API, and a goroutine playing the user who answers it.

// pushIntegration creates an Auth API integration with a name the pushes
// show on the phone.
func (ts *testServer) pushIntegration(t *testing.T, name string) (ikey, skey string) {
	t.Helper()
	in, skey, err := ts.App.Core.CreateIntegration(testCtx(t), auth.NewIntegration{Name: name, Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatalf("create integration %q: %v", name, err)
	}
	return in.IKey, skey
}

// activatePhone enrolls username through the core and activates a device
// with the activation code through the device API, as Duo Mobile does.
func (ts *testServer) activatePhone(t *testing.T, username string) *device.Client {
	t.Helper()
	ctx := testCtx(t)
	en, err := ts.App.Core.Enroll(ctx, auth.EnrollRequest{Username: username})
	if err != nil {
		t.Fatalf("enroll %s: %v", username, err)
	}
	phone, err := device.Activate(ctx, en.ActivationCode, device.ActivateOptions{CAFile: ts.CAFile, Name: username + "'s phone"})
	if err != nil {
		t.Fatalf("activate a device for %s: %v", username, err)
	}
	return phone
}

// phoneOn is the same activated device talking to another node: it signs
// for and trusts that node.
func phoneOn(c *device.Client, ts *testServer) *device.Client {
	return &device.Client{
		Host: ts.Host, PKey: c.PKey, AKey: c.AKey, HOTPSecret: c.HOTPSecret, HOTPCounter: c.HOTPCounter,
		CustomerName: c.CustomerName, Key: c.Key, CAFile: ts.CAFile,
	}
}

// pushAnswer is what the simulated user did.
type pushAnswer struct {
	tx  device.Transaction // the push as the phone listed it
	at  time.Time          // when the server acknowledged the answer
	err error
}

// waitPush polls the phone until a push is pending and returns the oldest.
func waitPush(ctx context.Context, phone *device.Client) (device.Transaction, error) {
	for {
		list, err := phone.Pending(ctx)
		if err != nil {
			return device.Transaction{}, err
		}
		if len(list) > 0 {
			return list[0], nil
		}
		select {
		case <-ctx.Done():
			return device.Transaction{}, fmt.Errorf("no push arrived: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// answerNext plays the user in a goroutine: it waits for the next push on
// the phone, waits delay more, and approves or denies it.
func answerNext(ctx context.Context, phone *device.Client, approve bool, delay time.Duration) <-chan pushAnswer {
	out := make(chan pushAnswer, 1)
	go func() {
		tx, err := waitPush(ctx, phone)
		if err != nil {
			out <- pushAnswer{err: err}
			return
		}
		if delay > 0 {
			select {
			case <-ctx.Done():
				out <- pushAnswer{tx: tx, err: ctx.Err()}
				return
			case <-time.After(delay):
			}
		}
		err = phone.Answer(ctx, tx.TxID, approve)
		out <- pushAnswer{tx: tx, at: time.Now(), err: err}
	}()
	return out
}

// received waits (bounded) for the simulated user's answer.
func received(t *testing.T, ch <-chan pushAnswer) pushAnswer {
	t.Helper()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatalf("the phone could not answer: %v", a.err)
		}
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("the phone did not answer within 20 s")
	}
	return pushAnswer{}
}

// noPending asserts the phone has nothing left to answer.
func noPending(t *testing.T, phone *device.Client) {
	t.Helper()
	list, err := phone.Pending(testCtx(t))
	if err != nil {
		t.Fatalf("pending pushes: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("pushes still pending after their decision: %+v", list)
	}
}

// pushLogKey groups auth-log rows.
type pushLogKey struct{ factor, result, reason string }

// pushLog counts the auth-log rows of an integration.
func (ts *testServer) pushLog(t *testing.T, ikey string) (map[pushLogKey]int, []store.AuthLog) {
	t.Helper()
	rows, err := ts.App.Store.ListAuthLog(testCtx(t), store.AuthLogFilter{IKey: ikey})
	if err != nil {
		t.Fatalf("ListAuthLog: %v", err)
	}
	got := map[pushLogKey]int{}
	for _, r := range rows {
		got[pushLogKey{r.Factor, r.Result, r.Reason}]++
	}
	return got, rows
}

package e2e

import (
	"testing"

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

// phoneOn is the same activated device talking to another node: it signs
// for and trusts that node.
func phoneOn(c *device.Client, ts *testServer) *device.Client {
	return &device.Client{
		Host: ts.Host, PKey: c.PKey, AKey: c.AKey, HOTPSecret: c.HOTPSecret, HOTPCounter: c.HOTPCounter,
		CustomerName: c.CustomerName, Key: c.Key, CAFile: ts.CAFile,
	}
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

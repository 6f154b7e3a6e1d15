package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/assenttest"

	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/duosig"
)

// crossNodeLag bounds how long a request waiting on one node may take to
// see an answer given on another. The PostgreSQL LISTEN/NOTIFY broker
// takes milliseconds; without it the waiter would only notice at its 15 s
// recheck.
const crossNodeLag = 5 * time.Second

// TestPushAcrossNodes runs two Assent nodes on one PostgreSQL database:
// the Auth API request waits on node A while the phone answers through
// node B's device API.
func TestPushAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := createPostgresDB(t) // skips without PostgreSQL (fails in CI)
	var key [32]byte
	_, _ = rand.Read(key[:])
	// Same database and master key; separate data directories, ports and local CAs.
	flags := map[string]string{"database_url": dsn, "master_key": base64.StdEncoding.EncodeToString(key[:])}
	nodeA := startServer(t, serverOptions{flags: flags})
	nodeB := startServer(t, serverOptions{flags: flags})
	if nodeA.Host == nodeB.Host {
		t.Fatalf("both nodes are %s", nodeA.Host)
	}

	ikey, skey := nodeA.pushIntegration(t, "Cluster VPN")
	phoneA := nodeA.ActivatePhone(t, "carol")
	phoneB := phoneOn(phoneA, nodeB)
	ctx := testCtx(t)

	// Node B knows the integration and the device node A created.
	apiA := goClient(t, nodeA, ikey, skey, nodeA.Host)
	apiB := goClient(t, nodeB, ikey, skey, nodeB.Host)
	pre, err := apiB.Preauth(authapi.PreauthUsername("carol"))
	wantPreauth(t, "preauth on node B", pre, err, "auth")
	if d := pre.Response.Devices; len(d) != 1 || d[0].Device != phoneA.PKey {
		t.Fatalf("node B lists devices %+v, want %s", d, phoneA.PKey)
	}
	noPending(t, phoneB)

	// Synchronous, approved and denied through node B.
	for _, c := range []struct {
		approve                   bool
		result, status, statusMsg string
	}{
		{true, "allow", "allow", "Success. Logging you in..."},
		{false, "deny", "deny", "Login request denied."},
	} {
		ch := assenttest.AnswerNext(ctx, phoneB, c.approve, 0)
		res, err := apiA.Auth("push", authapi.AuthUsername("carol"), authapi.AuthDevice("auto"))
		done := time.Now()
		wantAuth(t, "sync push on node A answered on node B", res, err, c.result, c.status, c.statusMsg)
		a := assenttest.Received(t, ch)
		if a.Tx.Attr("Username") != "carol" || a.Tx.Attr("Application") != "Cluster VPN" {
			t.Errorf("node B showed the push as %q", a.Tx.Attributes)
		}
		lag := done.Sub(a.At)
		t.Logf("approve=%v: node A answered %v after node B took the answer", c.approve, lag)
		if lag > crossNodeLag {
			t.Errorf("approve=%v: node A answered %v after the answer on node B, want < %v (LISTEN/NOTIFY broker)", c.approve, lag, crossNodeLag)
		}
	}

	// Asynchronous with hand-built signed requests to node A: auth_status
	// long-polls on A while the phone answers on B ~300 ms later.
	signer := duosig.Signer{IKey: ikey, SKey: skey, Host: nodeA.Host}
	var async struct {
		TxID string `json:"txid"`
	}
	signedCall(t, nodeA, signer, http.MethodPost, "/auth/v2/auth",
		url.Values{"username": {"carol"}, "factor": {"push"}, "device": {"auto"}, "async": {"1"}}, &async)
	if !txidRE.MatchString(async.TxID) {
		t.Fatalf("async auth on node A: txid %q", async.TxID)
	}
	tx, err := assenttest.WaitPush(ctx, phoneB)
	if err != nil {
		t.Fatal(err)
	}
	if tx.TxID != async.TxID {
		t.Errorf("node B shows push %s, node A answered txid %s", tx.TxID, async.TxID)
	}
	ch := assenttest.AnswerNext(ctx, phoneB, true, 300*time.Millisecond)
	var st struct {
		Result    string `json:"result"`
		Status    string `json:"status"`
		StatusMsg string `json:"status_msg"`
	}
	t0 := time.Now()
	signedCall(t, nodeA, signer, http.MethodGet, "/auth/v2/auth_status", url.Values{"txid": {async.TxID}}, &st)
	done := time.Now()
	a := assenttest.Received(t, ch)
	if st.Result != "allow" || st.Status != "allow" || st.StatusMsg != "Success. Logging you in..." {
		t.Errorf("auth_status on node A: %+v, want allow", st)
	}
	lag := done.Sub(a.At)
	t.Logf("async: auth_status on node A held %v, answered %v after node B took the answer", done.Sub(t0), lag)
	if done.Sub(t0) < 250*time.Millisecond {
		t.Errorf("auth_status on node A returned after %v, before the answer on node B", done.Sub(t0))
	}
	if lag > crossNodeLag {
		t.Errorf("auth_status on node A answered %v after the answer on node B, want < %v", lag, crossNodeLag)
	}
	// Decided: auth_status on node B (same integration, shared database) agrees at once.
	sr, err := apiB.AuthStatus(async.TxID)
	if sr == nil {
		t.Fatalf("auth_status on node B: %v", err)
	}
	wantOK(t, "auth_status on node B", sr.StatResult, err)
	if sr.Response.Result != "allow" {
		t.Errorf("auth_status on node B: %+v", sr.Response)
	}
	noPending(t, phoneA)

	got, _ := nodeA.pushLog(t, ikey)
	if want := map[pushLogKey]int{
		{"duo_push", "allow", "user_approved"}: 2,
		{"duo_push", "deny", "user_denied"}:    1,
	}; !maps.Equal(got, want) {
		t.Errorf("auth log %v, want %v", got, want)
	}
}

// signedCall sends a request signed by duosig.Signer to ts and decodes an
// OK answer's response into out.
func signedCall(t *testing.T, ts *testServer, s duosig.Signer, method, path string, params url.Values, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := s.NewRequest(ctx, method, path, params)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r := roundTrip(t, ts.Client, req)
	env := decodeEnvelope(t, r.body)
	if r.status != http.StatusOK || env.Stat != "OK" {
		t.Fatalf("%s %s: HTTP %d %s", method, path, r.status, r.body)
	}
	if err := json.Unmarshal(env.Response, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, r.body)
	}
}

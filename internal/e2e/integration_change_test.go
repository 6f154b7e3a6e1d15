package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/pkg/duoweb"
)

// testIntegrationChangesAtOnce: integration changes made with the CLI (in
// its own process) hold from the very next request on every node: two
// `assent serve` nodes on one PostgreSQL database, or one node on SQLite.
// Each node has served the integration just before, so a node that kept
// its own copy would be caught.
func testIntegrationChangesAtOnce(t *testing.T, bin string, engine Engine) {
	keyFile := filepath.Join(t.TempDir(), "master.key")
	var key [32]byte
	_, _ = rand.Read(key[:])
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--master-key-file", keyFile}
	var nodes []*testutil.Serve
	if engine == Postgres {
		common = append(common, "--database-url", createPostgresDB(t)) // skips without PostgreSQL (fails in CI)
		nodes = append(nodes, testutil.StartServe(t, bin, testutil.ServeOptions{Args: common}), testutil.StartServe(t, bin, testutil.ServeOptions{Args: common}))
	} else {
		nodes = append(nodes, testutil.StartServe(t, bin, testutil.ServeOptions{Args: common}))
		common = append(common, "--data-dir", nodes[0].DataDir)
	}
	cli := func(args ...string) string {
		t.Helper()
		return mustCLI(t, bin, append(args, common...)...).stdout
	}
	type keys struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	create := func(args ...string) keys {
		t.Helper()
		var k keys
		if out := cli(append([]string{"integration", "create", "--json"}, args...)...); json.Unmarshal([]byte(out), &k) != nil || k.SKey == "" {
			t.Fatalf("integration create: %s", out)
		}
		return k
	}
	vpn := create("--type", "authapi", "--name", "VPN")
	portal := create("--type", "websdk", "--name", "Portal", "--allowed-origin", "https://old.example")

	// check sends a signed /auth/v2/check to node n and returns the HTTP
	// status and Duo code.
	check := func(n *testutil.Serve) (int, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, err := duosig.Signer{IKey: vpn.IKey, SKey: vpn.SKey, Host: n.Host}.NewRequest(ctx, http.MethodGet, "/auth/v2/check", nil)
		if err != nil {
			t.Fatal(err)
		}
		r := roundTrip(t, n.Client, req)
		return r.status, decodeEnvelope(t, r.body).Code
	}
	// frame loads the Web SDK frame on node n as framed by a page of origin
	// and returns the HTTP status.
	tx := func() string {
		sig, err := duoweb.SignRequest(portal.IKey, portal.SKey, strings.Repeat("a", 40), "alice")
		if err != nil {
			t.Fatal(err)
		}
		tx, _, _ := strings.Cut(sig, ":")
		return tx
	}()
	frame := func(n *testutil.Serve, origin string) int {
		t.Helper()
		resp, err := n.Client.Get("https://" + n.Host + "/frame/web/v1/auth?" +
			url.Values{"tx": {tx}, "parent": {origin + "/login"}, "v": {"2.9"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	for i, n := range nodes {
		if st, code := check(n); st != http.StatusOK {
			t.Fatalf("node %d: check before the deletion: %d %d", i, st, code)
		}
		if old, other := frame(n, "https://old.example"), frame(n, "https://new.example"); old != http.StatusOK || other != http.StatusForbidden {
			t.Fatalf("node %d: frame before the update: old origin %d, new origin %d; want 200, 403", i, old, other)
		}
	}

	cli("integration", "update", portal.IKey, "--allowed-origin", "https://new.example")
	for i, n := range nodes {
		if old, other := frame(n, "https://old.example"), frame(n, "https://new.example"); old != http.StatusForbidden || other != http.StatusOK {
			t.Errorf("node %d: frame right after the update: old origin %d, new origin %d; want 403, 200", i, old, other)
		}
	}

	cli("integration", "delete", vpn.IKey)
	for i, n := range nodes {
		if st, code := check(n); st != http.StatusUnauthorized || code != 40102 {
			t.Errorf("node %d: check right after the deletion: %d %d, want 401 40102", i, st, code)
		}
	}
}

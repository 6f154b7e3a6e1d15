package e2e

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// TestBinaryUsernames: the real `assent authproxy` forwards the RADIUS
// User-Name as typed, so the Auth API integration's username
// normalization applies: with "simple", radclient's alice@example.com,
// EXAMPLE\alice and an alias log alice in (bypass codes, duo_only), and
// the auth log names alice; with "none", EXAMPLE\alice is a user Assent
// does not know.
func TestBinaryUsernames(t *testing.T) {
	t.Parallel()
	requireRadclient(t)
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	as := assenttest.Start(t, assenttest.Options{})
	as.User(t, "alice")
	codes := as.BypassCodes(t, "alice", 5, 1)
	ctx := assenttest.Ctx(t)
	if _, err := as.App.Core.AddUserAlias(ctx, "alice", "a.smith"); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	sections := ""
	ports := map[string]int{}
	ikeys := map[string]string{}
	for policy, name := range map[string]string{"simple": "radius_server_duo_only", "none": "radius_server_duo_only2"} {
		in, skey, err := as.App.Core.CreateIntegration(ctx, auth.NewIntegration{Name: "vpn " + policy, Type: store.TypeAuthAPI,
			NewUserPolicy: store.PolicyDeny, UsernameNormalization: policy})
		if err != nil {
			t.Fatal(err)
		}
		ports[policy], ikeys[policy] = freeUDPPort(t), in.IKey
		sections += section(name, "ikey", in.IKey, "skey", skey, "api_host", as.Host,
			"http_ca_certs_file", as.CAFile, "radius_ip_1", "127.0.0.0/8", "radius_secret_1", "user-secret",
			"interface", "127.0.0.1", "port", fmt.Sprint(ports[policy]))
	}
	cfgPath := filepath.Join(dir, "authproxy.cfg")
	writeFile(t, cfgPath, "[main]\nlog_stdout = true\n\n"+sections)

	runCtx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, bin, "authproxy", "--config", cfgPath)
	cmd.Env = testutil.HermeticEnv()
	var stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("assent authproxy stderr:\n%s", stderr.String())
		}
	}()
	simple, none := fmt.Sprintf("127.0.0.1:%d", ports["simple"]), fmt.Sprintf("127.0.0.1:%d", ports["none"])
	if !eventually(30*time.Second, func() bool {
		return radclientStatus(t, simple, "user-secret", true).Code == "Access-Accept"
	}) {
		t.Fatal("assent authproxy did not answer Status-Server")
	}

	for i, name := range []string{"alice@example.com", `EXAMPLE\alice`, `EXAMPLE\A.Smith@example.com`} {
		wantCode(t, radclient(t, pap(simple, "user-secret", name, codes[i])), "Access-Accept")
	}
	rows := as.AuthLog(t, ikeys["simple"])
	allows := 0
	for _, r := range rows {
		if r.Username != "alice" {
			t.Errorf("auth log row names %q, want alice", r.Username)
		}
		if r.Result == "allow" {
			allows++
		}
	}
	if allows != 3 {
		t.Errorf("%d allowed logins through the simple section, want 3: %+v", allows, rows)
	}

	// none: EXAMPLE\alice is someone else (unknown: denied by the
	// integration's new-user policy); the code is not spent.
	wantCode(t, radclient(t, pap(none, "user-secret", `EXAMPLE\alice`, codes[3])), "Access-Reject")
	wantCode(t, radclient(t, pap(none, "user-secret", "ALICE", codes[3])), "Access-Accept")
}

package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// TestBrowserUniversalExample runs examples/universal (a Node application
// with npm @duosecurity/duo_universal) as its README says, against the real
// server, and logs in through it in Chromium: a wrong password, then the
// password, the Universal Prompt, a push approved on the phone, the redirect
// back, the code exchanged, the welcome page.
func TestBrowserUniversalExample(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.integration(t, store.TypeUniversal)
	const user, password = "universal-example", "example password"
	phone := ts.ActivatePhone(t, user)
	app, logs := startUniversalExample(t, node, dir, ts.Host, ikey, skey, ts.CAFile, user+":"+password)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	answer := assenttest.AnswerNext(ctx, phone, true, 0)
	res := runBrowser(t, node, dir, scenario{
		SPKI: servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)),
		Steps: []step{
			{"do": "goto", "url": app + "/"},
			{"do": "fill", "sel": "#username", "value": user},
			{"do": "fill", "sel": "#password", "value": "wrong"},
			{"do": "click", "sel": "#login-submit"},
			{"do": "waitVisible", "sel": "#login-error", "shot": "wrong-password"},
			{"do": "fill", "sel": "#username", "value": user},
			{"do": "fill", "sel": "#password", "value": password},
			{"do": "click", "sel": "#login-submit"},
			{"do": "waitVisible", "sel": selPushButton, "shot": "prompt"},
			{"do": "click", "sel": selPushButton},
			{"do": "waitVisible", "sel": "#welcome", "shot": "welcome"},
			{"do": "read", "sel": "#welcome", "attr": "data-user", "as": "loggedIn"},
		},
	}, "", false)
	assenttest.Received(t, answer)
	if got := res.str(t, "loggedIn"); got != user {
		t.Errorf("the example app greets %q, want %q", got, user)
	}
	if len(res.PageErrors) > 0 {
		t.Errorf("script errors: %q", res.PageErrors)
	}
	if l := logs.String(); !strings.Contains(l, "login: "+user+": allow (duo_push)") {
		t.Errorf("the example app did not log the exchanged result:\n%s", l)
	}
}

// startUniversalExample runs examples/universal/app.js with the keys in the
// environment, as its README says (its dependency resolved from
// tests/partners/node/node_modules, which pins the same version), and
// returns its URL and its stderr.
func startUniversalExample(t *testing.T, node, partners, assentHost, ikey, skey, caFile, users string) (string, *testutil.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(node, filepath.Join(testutil.RepoRoot(t), "examples", "universal", "app.js"))
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+filepath.Join(partners, "node_modules"),
		"DUO_CLIENT_ID="+ikey, "DUO_CLIENT_SECRET="+skey, "DUO_API_HOST="+assentHost,
		"ASSENT_CA="+caFile, "LISTEN=127.0.0.1:0", "EXAMPLE_USERS="+users)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start examples/universal: %v", err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Example application on "); ok {
				urls <- strings.TrimSuffix(rest, "/")
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("examples/universal exited with %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("examples/universal did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("examples/universal log:\n%s", stderr.String())
		}
	})
	select {
	case u := <-urls:
		return u, stderr
	case err := <-exited:
		t.Fatalf("examples/universal exited at start: %v\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("examples/universal printed no URL\n%s", stderr.String())
	}
	return "", nil
}

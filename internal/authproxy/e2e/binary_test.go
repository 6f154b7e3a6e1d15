package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	"github.com/assent-auth/assent/internal/testutil/ldaptest"
	"github.com/assent-auth/assent/internal/testutil/radiustest"
)

// runAssent runs the binary to completion and returns its output and exit
// status.
func runAssent(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = testutil.HermeticEnv()
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		t.Fatalf("assent %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String(), e.String(), code
}

// checkJSON is the part of `authproxy check --json` the test reads.
type checkJSON struct {
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems"`
	OK       bool     `json:"ok"`
	Results  []struct {
		Check, Section, Target, Detail string
		OK                             bool
	} `json:"results"`
}

// TestBinary runs `assent authproxy` and `assent authproxy check` as a
// user would: the real binary, a config file, signals.
func TestBinary(t *testing.T) {
	t.Parallel()
	requireRadclient(t)
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	ldap := ldaptest.Start(t, ldaptest.Options{})
	fr := radiustest.Start(t, radiustest.Options{})
	as := assenttest.Start(t, assenttest.Options{})
	as.User(t, "alice")
	codes := as.BypassCodes(t, "alice", 3, 1)

	dir := t.TempDir()
	ikey, skey := as.AuthAPI(t, "binary", store.PolicyEnroll)
	autoPort, duoPort := freeUDPPort(t), freeUDPPort(t)
	metrics := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	common := []string{"ikey", ikey, "skey", skey, "api_host", as.Host, "http_ca_certs_file", as.CAFile,
		"radius_ip_1", "127.0.0.0/8", "radius_secret_1", "binary-secret", "interface", "127.0.0.1"}
	frHost, frPort, _ := strings.Cut(fr.Addr, ":")
	cfgText := "[main]\nlog_auth_events = true\nlog_file = true\nlog_stdout = true\nlog_format = json\n" +
		"log_dir = " + filepath.Join(dir, "log") + "\nmetrics_listen = " + metrics + "\n\n" +
		section("ad_client", "host", ldap.Host, "port", fmt.Sprint(ldap.Port), "auth_type", "plain",
			"bind_dn", ldaptest.ServiceDN, "service_account_username", ldaptest.ServiceUsername,
			"service_account_password", ldaptest.ServicePassword, "search_dn", ldaptest.BaseDN) +
		section("radius_client", "host", frHost, "port", frPort, "secret", fr.Secret) +
		section("radius_server_auto", append(common, "client", "ad_client", "port", fmt.Sprint(autoPort))...) +
		section("radius_server_duo_only", append(common, "port", fmt.Sprint(duoPort))...)
	cfgPath := filepath.Join(dir, "authproxy.cfg")
	writeFile(t, cfgPath, cfgText)

	t.Run("check passes", func(t *testing.T) {
		stdout, stderr, code := runAssent(t, bin, "authproxy", "check", "--config", cfgPath, "--json")
		var rep checkJSON
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("check --json printed no JSON: %v\n%s\n%s", err, stdout, stderr)
		}
		if code != 0 || !rep.OK {
			t.Fatalf("check failed (exit %d):\n%s\n%s", code, stdout, stderr)
		}
		kinds := map[string]int{}
		for _, r := range rep.Results {
			kinds[r.Check]++
		}
		// 2 sockets, 2 sections × (ping, check, one client network),
		// 1 LDAP host, 1 RADIUS host.
		want := map[string]int{"listen": 2, "auth_api": 2, "auth_check": 2, "ldap": 1, "radius": 1, "message_authenticator": 2}
		for k, n := range want {
			if kinds[k] != n {
				t.Errorf("%d %s results, want %d: %s", kinds[k], k, n, stdout)
			}
		}
		for _, r := range rep.Results {
			if r.Check == "message_authenticator" && !strings.HasPrefix(r.Detail, "Message-Authenticator required (Assent's default)") {
				t.Errorf("Message-Authenticator row: %+v", r)
			}
		}
		// The table form too.
		table, _, code := runAssent(t, bin, "authproxy", "check", "--config", cfgPath)
		if code != 0 || !strings.Contains(table, "all tests passed") || !strings.Contains(table, "radius_server_duo_only") {
			t.Errorf("check (table), exit %d:\n%s", code, table)
		}
	})

	t.Run("invalid config: every problem, non-zero exit", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.cfg")
		writeFile(t, bad, "[main]\nlog_max_files = many\n\n[radius_server_auto]\nikey = short\napi_host = x\n"+
			"radius_ip_1 = 10.0.0.300\nradius_secret_1 = s\nfailmode = maybe\nfactros = push\n\n[radius_server_iframe]\ntype = f5\n")
		for _, args := range [][]string{{"authproxy", "--config", bad}, {"authproxy", "check", "--config", bad}} {
			_, stderr, code := runAssent(t, bin, args...)
			if code == 0 {
				t.Fatalf("assent %v accepted an invalid file", args)
			}
			for _, want := range []string{"bad.cfg:2", "log_max_files", "bad.cfg:5", "ikey", "bad.cfg:7", "radius_ip_1",
				"bad.cfg:9", "failmode", "factros", "radius_server_iframe", "not supported"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("assent %v: the error output lacks %q:\n%s", args, want, stderr)
				}
			}
		}
	})
	if t.Failed() {
		return
	}

	t.Run("serve, answer, stop on SIGTERM", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "authproxy", "--config", cfgPath)
		cmd.Env = testutil.HermeticEnv()
		var stderr testutil.SyncBuffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		defer func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("assent authproxy stderr:\n%s", stderr.String())
			}
		}()
		client := &http.Client{Timeout: 2 * time.Second}
		scrape := func() string {
			resp, err := client.Get("http://" + metrics + "/metrics")
			if err != nil {
				return ""
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		if !eventually(20*time.Second, func() bool { return scrape() != "" }) {
			t.Fatalf("the metrics endpoint did not come up")
		}

		// radtest against duo_only with a bypass code; radclient against
		// auto with password,passcode.
		wantCode(t, radtest(t, fmt.Sprintf("127.0.0.1:%d", duoPort), "binary-secret", "alice", codes[0]), "Access-Accept")
		r := radclient(t, pap(fmt.Sprintf("127.0.0.1:%d", autoPort), "binary-secret", "alice", "alicepw,"+codes[1]))
		wantCode(t, r, "Access-Accept")
		wantCode(t, radclient(t, pap(fmt.Sprintf("127.0.0.1:%d", autoPort), "binary-secret", "alice", "nope,"+codes[2])), "Access-Reject")

		// Status-Server (RFC 5997), as monitoring sends it.
		wantCode(t, radclientStatus(t, fmt.Sprintf("127.0.0.1:%d", duoPort), "binary-secret", true), "Access-Accept")

		m := scrape()
		for _, want := range []string{
			`assent_authproxy_status_server_total{section="radius_server_duo_only"} 1`,
			`assent_authproxy_requests_total{result="accept",section="radius_server_duo_only"} 1`,
			`assent_authproxy_requests_total{result="accept",section="radius_server_auto"} 1`,
			`assent_authproxy_requests_total{result="reject",section="radius_server_auto"} 1`,
			`assent_authproxy_stage_duration_seconds_count{section="radius_server_auto",stage="primary"} 2`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %q", want)
			}
		}

		// check reports the ports taken by the running proxy.
		_, _, code := runAssent(t, bin, "authproxy", "check", "--config", cfgPath)
		if code == 0 {
			t.Errorf("check passed while the proxy holds its ports")
		}

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("assent authproxy exited with %v after SIGTERM", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("assent authproxy did not stop within 15 s of SIGTERM")
		}

		// Both log sinks got JSON lines; the auth events are in their file.
		logFile, err := os.ReadFile(filepath.Join(dir, "log", "authproxy.log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{string(logFile), stderr.String()} {
			if !strings.Contains(out, `"msg":"authproxy: stopped"`) {
				t.Errorf("a log sink lacks the JSON stop line:\n%s", out)
			}
		}
		if strings.Contains(string(logFile), codes[1]) || strings.Contains(string(logFile), "alicepw") {
			t.Error("the log contains a passcode or a password")
		}
		events, err := os.ReadFile(filepath.Join(dir, "log", "authevents.log"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(events), `"status":"Allow"`); n != 2 {
			t.Errorf("%d Allow events, want 2:\n%s", n, events)
		}
		if n := strings.Count(string(events), `"auth_stage":"Primary authentication","status":"Reject"`); n != 1 {
			t.Errorf("%d primary Reject events, want 1:\n%s", n, events)
		}
	})
}

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

var challengeCode = regexp.MustCompile(`verification code ([0-9]{3,6})`)

// Verified Push over RADIUS: `assent authproxy` in challenge mode, with
// the integration's Verified Push on, carries the code in the challenge
// text; `assent device approve --code` with that code lets the user in
// (Access-Accept), a wrong code keeps them out.
func TestVerifiedPushChallenge(t *testing.T) {
	t.Parallel()
	requireRadclient(t)
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	ldap := ldaptest.Start(t, ldaptest.Options{Users: []ldaptest.User{{Name: "vic", Password: "vicpw"}}})
	as := assenttest.Start(t, assenttest.Options{Flags: map[string]string{"push_timeout": "20s"}})
	phone := as.ActivatePhone(t, "vic")
	dir := t.TempDir()
	devFile := filepath.Join(dir, "vic.device")
	if err := phone.Save(devFile); err != nil {
		t.Fatal(err)
	}
	ikey, skey := as.AuthAPI(t, "vpn", store.PolicyEnroll)
	on := auth.VerifiedPushDigits
	if _, err := as.App.Core.UpdateIntegration(assenttest.Ctx(t), ikey, auth.IntegrationUpdate{VerifiedPush: &on}); err != nil {
		t.Fatal(err)
	}

	port, consolePort := freeUDPPort(t), freeUDPPort(t)
	metrics := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	common := []string{"ikey", ikey, "skey", skey, "api_host", as.Host, "http_ca_certs_file", as.CAFile,
		"radius_ip_1", "127.0.0.1", "radius_secret_1", "vp-secret", "interface", "127.0.0.1", "client", "ad_client"}
	cfgText := "[main]\nlog_stdout = true\nmetrics_listen = " + metrics + "\n\n" +
		section("ad_client", "host", ldap.Host, "port", fmt.Sprint(ldap.Port), "auth_type", "plain",
			"bind_dn", ldaptest.ServiceDN, "service_account_username", ldaptest.ServiceUsername,
			"service_account_password", ldaptest.ServicePassword, "search_dn", ldaptest.BaseDN) +
		section("radius_server_challenge", append(common, "port", fmt.Sprint(port))...) +
		section("radius_server_challenge2", append(common, "port", fmt.Sprint(consolePort), "prompt_format", "console")...)
	cfgPath := filepath.Join(dir, "authproxy.cfg")
	writeFile(t, cfgPath, cfgText)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "authproxy", "--config", cfgPath)
	cmd.Env = testutil.HermeticEnv()
	var stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("assent authproxy output:\n%s\nassent serve log:\n%s", stderr.String(), as.Logs())
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	if !eventually(30*time.Second, func() bool {
		resp, err := client.Get("http://" + metrics + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return true
	}) {
		t.Fatal("assent authproxy did not come up")
	}

	// approveWith runs `assent device approve --code code` once the push
	// is pending; its exit status and output come back on the channel.
	approveWith := func(code func(shown string) string, shown string) <-chan string {
		out := make(chan string, 1)
		go func() {
			if _, err := assenttest.WaitPush(ctx, phone); err != nil {
				out <- "no push: " + err.Error()
				return
			}
			stdout, stderr, exit := runAssent(t, bin, "device", "--file", devFile, "approve", "--code", code(shown))
			out <- fmt.Sprintf("exit %d: %s%s", exit, stdout, stderr)
		}()
		return out
	}
	challenge := func(t *testing.T, addr string) (radReply, string) {
		t.Helper()
		ch := radclient(t, pap(addr, "vp-secret", "vic", "vicpw"))
		wantCode(t, ch, "Access-Challenge")
		m := challengeCode.FindStringSubmatch(ch.Reply())
		if m == nil {
			t.Fatalf("the challenge text %q carries no verification code", ch.Reply())
		}
		return ch, m[1]
	}
	answer := func(t *testing.T, addr, choice string, ch radReply) radReply {
		t.Helper()
		r := pap(addr, "vp-secret", "vic", choice)
		r.Attrs = append(r.Attrs, "State = "+ch.Get("State"))
		return radclient(t, r)
	}
	right := func(c string) string { return c }
	wrong := func(c string) string { return string('0'+(c[0]-'0'+1)%10) + c[1:] }

	for _, tc := range []struct {
		name, addr, choice string
		code               func(string) string
		want, wantExit     string
	}{
		{"short prompt, right code", fmt.Sprintf("127.0.0.1:%d", port), "1", right, "Access-Accept", "exit 0: Approved"},
		{"console prompt, right code", fmt.Sprintf("127.0.0.1:%d", consolePort), "1", right, "Access-Accept", "exit 0: Approved"},
		{"wrong code", fmt.Sprintf("127.0.0.1:%d", port), "1", wrong, "Access-Reject", "wrong or missing verification code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, code := challenge(t, tc.addr)
			done := approveWith(tc.code, code)
			r := answer(t, tc.addr, tc.choice, ch)
			wantCode(t, r, tc.want)
			if got := <-done; !strings.Contains(got, tc.wantExit) {
				t.Errorf("assent device approve: %s, want %q", got, tc.wantExit)
			}
		})
	}
	rows := as.AuthLog(t, ikey)
	reasons := map[string]int{}
	for _, l := range rows {
		reasons[l.Reason]++
	}
	if reasons[auth.ReasonUserApproved] != 2 || reasons[auth.ReasonInvalidVerificationCode] != 1 {
		t.Errorf("auth log reasons %v", reasons)
	}
}

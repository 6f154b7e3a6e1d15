//go:build linux

package e2e

// End-to-end tests with Debian 12's duo_unix 1.11.3 (apt login-duo,
// libpam-duo; pamtester drives the PAM module). This release speaks only
// the legacy Auth API v1 with BSON answers (/rest/v1/*.bson), signs with
// HMAC-SHA1 signature v1 and no date, and signs the host without the port.
// The tests act as the phone through the core (Pending/Answer) while the
// client waits.
//
// They need root: login_duo is setuid root and drops to the sshd user to
// read its config, pam_duo needs a PAM service file in /etc/pam.d and a
// Unix user.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

const (
	loginDuoPath  = "/usr/sbin/login_duo"
	pamDuoPath    = "/lib/x86_64-linux-gnu/security/pam_duo.so"
	pamtesterPath = "/usr/bin/pamtester"
	// duoRunTimeout bounds each client run; a push is answered within a
	// second or two and duo_unix's status polls return when it is.
	duoRunTimeout = 30 * time.Second
)

// requireDuoUnix skips (or fails in CI) unless the test can run the real
// duo_unix clients.
func requireDuoUnix(t *testing.T, binaries ...string) {
	t.Helper()
	testutil.Require(t, "root (setuid login_duo, /etc/pam.d, useradd)", os.Geteuid() == 0)
	for _, b := range binaries {
		_, err := os.Stat(b)
		testutil.Require(t, b+" (apt login-duo libpam-duo pamtester)", err == nil)
	}
}

// duoUnixEnv is a server with an Auth API integration and a directory the
// sshd privilege-separation user can read, holding the CA and the configs.
type duoUnixEnv struct {
	ts         *testServer
	ikey, skey string
	dir        string
	caFile     string
}

func newDuoUnixEnv(t *testing.T) *duoUnixEnv {
	t.Helper()
	ts := startServer(t, serverOptions{engine: SQLite})
	ikey, skey := ts.authAPI(t)
	// t.TempDir's directories are 0700; login_duo and pam_duo read the
	// config and the CA as sshd, so this directory must be traversable.
	dir, err := os.MkdirTemp("", "assent-pamduo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A copy of the CA, so the server's data directory (with its master
	// key) stays private.
	ca, err := os.ReadFile(ts.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	return &duoUnixEnv{ts: ts, ikey: ikey, skey: skey, dir: dir, caFile: caFile}
}

// writeConf writes a duo_unix config as test-partners.md §1.2 does: host
// localhost:PORT (duo_unix cannot match IP SANs), the server's CA,
// failmode secure, owned by sshd with mode 600 (duo_unix refuses group- or
// world-readable configs and reads them as sshd when run as root).
func (e *duoUnixEnv) writeConf(t *testing.T, name string) string {
	t.Helper()
	conf := filepath.Join(e.dir, name)
	body := fmt.Sprintf("[duo]\nikey = %s\nskey = %s\nhost = localhost:%d\ncafile = %s\nfailmode = secure\nhttps_timeout = 5\n",
		e.ikey, e.skey, e.ts.Port, e.caFile)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sshd, err := user.Lookup("sshd")
	if err != nil {
		t.Fatalf("the sshd user (from openssh-server, a dependency of login-duo) is missing: %v", err)
	}
	uid, _ := strconv.Atoi(sshd.Uid)
	if err := os.Chown(conf, uid, -1); err != nil {
		t.Fatal(err)
	}
	return conf
}

// phone enrolls and activates a device for username through the core and
// returns its ID and HOTP secret.
func (e *duoUnixEnv) phone(t *testing.T, username, name string) (deviceID, hotpSecret string) {
	t.Helper()
	ctx := testCtx(t)
	en, err := e.ts.App.Core.Enroll(ctx, auth.EnrollRequest{Username: username})
	if err != nil {
		t.Fatalf("enroll %s: %v", username, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	act, err := e.ts.App.Core.Activate(ctx, auth.ActivateRequest{Code: en.Code, PublicKey: pub, Name: name})
	if err != nil {
		t.Fatalf("activate a device for %s: %v", username, err)
	}
	return act.Device.ID, act.HOTPSecret
}

// hotpPasscode is the passcode Duo Mobile shows for counter c: RFC 4226
// keyed with the ASCII bytes of the activation's hotp_secret.
func hotpPasscode(t *testing.T, secret string, c uint64) string {
	t.Helper()
	code, err := hotp.GenerateCodeCustom(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(secret)), c,
		hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// answerPush plays the phone: it waits for a push to deviceID and answers
// it. The result arrives on the returned channel (nil: answered).
func (e *duoUnixEnv) answerPush(ctx context.Context, deviceID string, approve bool) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			list, err := e.ts.App.Core.Pending(ctx, deviceID)
			if err != nil {
				done <- fmt.Errorf("pending pushes: %w", err)
				return
			}
			if len(list) > 0 {
				done <- e.ts.App.Core.Answer(ctx, deviceID, list[0].ID, approve)
				return
			}
			select {
			case <-ctx.Done():
				done <- fmt.Errorf("no push arrived for %s: %w", deviceID, ctx.Err())
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return done
}

// duoRun is one finished client run.
type duoRun struct {
	out  string // stdout and stderr, interleaved
	code int
}

// duoClientEnv is a minimal environment for the clients: nothing from the
// developer's shell (SSH_CONNECTION would become ipaddr, DUO_PASSCODE a
// passcode, ASSENT_* settings are for the server).
func duoClientEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "TERM=dumb"}
}

// runPiped runs a duo_unix client with stdin from a pipe, bounded by
// duoRunTimeout.
func runPiped(t *testing.T, stdin string, name string, args ...string) duoRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), duoRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = duoClientEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v:\n%s", name, strings.Join(args, " "), duoRunTimeout, out.String())
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	t.Logf("%s %s → exit %d:\n%s", filepath.Base(name), strings.Join(args, " "), code, out.String())
	return duoRun{out: out.String(), code: code}
}

// unixUserMu serializes useradd/userdel within this process: both lock
// /etc/passwd and fail rather than wait when it is busy.
var unixUserMu sync.Mutex

// unixUser creates a throwaway Unix user (pam_duo needs one in passwd)
// and removes it when the test ends.
func unixUser(t *testing.T) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "apd" + hex.EncodeToString(rnd[:])
	shadow(t, "useradd", "-M", "-s", "/bin/false", name)
	t.Cleanup(func() { shadow(t, "userdel", name) })
	return name
}

// shadow runs a shadow-utils command, retrying while another process holds
// the passwd lock.
func shadow(t *testing.T, args ...string) {
	t.Helper()
	unixUserMu.Lock()
	defer unixUserMu.Unlock()
	var (
		out []byte
		err error
	)
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err = exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
}

// pamService writes /etc/pam.d/<unique name> using pam_duo with conf, and
// removes it when the test ends.
func pamService(t *testing.T, conf string) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "assent-pamduo-" + hex.EncodeToString(rnd[:])
	path := filepath.Join("/etc/pam.d", name)
	body := fmt.Sprintf("auth required pam_duo.so conf=%s debug\naccount required pam_permit.so\n", conf)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
	return name
}

// menuPrompt ends the menu Assent's preauth gives duo_unix.
const menuPrompt = "Passcode or option ("

func TestLoginDuoLegacyPasscode(t *testing.T) {
	t.Parallel()
	requireDuoUnix(t, loginDuoPath)
	e := newDuoUnixEnv(t)
	conf := e.writeConf(t, "login_duo.conf")
	codes := e.ts.user(t, "alice", 2)
	_, secret := e.phone(t, "alice", "test phone")

	// Sequential: the cases share alice's codes (the last one reuses the
	// first's bypass code).
	for _, tc := range []struct {
		name     string
		passcode string
		ok       bool
	}{
		{"bypass code", codes[0], true},
		{"Duo Mobile passcode", hotpPasscode(t, secret, 0), true},
		{"wrong passcode", "0000001", false},
		{"spent bypass code", codes[0], false},
		{"reused Duo Mobile passcode", hotpPasscode(t, secret, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runOnTerminal(t, menuPrompt, []string{tc.passcode}, loginDuoPath, "-c", conf, "-f", "alice", "echo", "LOGGED-IN")
			checkLogin(t, r, tc.ok)
			if !tc.ok && !strings.Contains(r.out, "Incorrect passcode") {
				t.Errorf("login_duo did not print the server's status message:\n%s", r.out)
			}
		})
	}
}

func TestLoginDuoLegacyPush(t *testing.T) {
	t.Parallel()
	requireDuoUnix(t, loginDuoPath)
	e := newDuoUnixEnv(t)
	conf := e.writeConf(t, "login_duo.conf")
	e.ts.user(t, "alice", 0)
	device, _ := e.phone(t, "alice", "test phone")

	for _, tc := range []struct {
		name string
		// terminal: choose option 1 at the menu (duo_unix maps "1"
		// through factors to push1, sends an async auth.bson, then polls
		// status.bson). Otherwise stdin is a pipe, and login_duo pushes
		// factors.default with a synchronous auth.bson (async=0).
		terminal, approve bool
		want              string
	}{
		{"menu, approved", true, true, "Success. Logging you in..."},
		{"menu, denied", true, false, "Login request denied."},
		// Without a terminal login_duo prints nothing but the command's
		// output.
		{"no terminal, approved", false, true, ""},
		{"no terminal, denied", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), duoRunTimeout)
			defer cancel()
			answered := e.answerPush(ctx, device, tc.approve)
			args := []string{"-c", conf, "-f", "alice", "echo", "LOGGED-IN"}
			var r duoRun
			if tc.terminal {
				r = runOnTerminal(t, menuPrompt, []string{"1"}, loginDuoPath, args...)
			} else {
				r = runPiped(t, "", loginDuoPath, args...)
			}
			if err := <-answered; err != nil {
				t.Fatalf("answering the push: %v", err)
			}
			checkLogin(t, r, tc.approve)
			if tc.want != "" && !strings.Contains(r.out, tc.want) {
				t.Errorf("login_duo output lacks %q:\n%s", tc.want, r.out)
			}
		})
	}
}

// TestLoginDuoLegacyPreauthDecisions covers the answers that end at
// preauth: duo_unix prints `status` (for enroll, where to enroll) or logs
// it, and runs the command only for allow.
func TestLoginDuoLegacyPreauthDecisions(t *testing.T) {
	t.Parallel()
	requireDuoUnix(t, loginDuoPath)
	e := newDuoUnixEnv(t)
	conf := e.writeConf(t, "login_duo.conf")
	e.ts.user(t, "bypassed", 0)
	e.ts.setStatus(t, "bypassed", store.StatusBypass)
	e.ts.user(t, "disabled", 0)
	e.ts.setStatus(t, "disabled", store.StatusDisabled)

	for _, tc := range []struct {
		user string
		ok   bool
		want string
	}{
		{"newcomer", false, "/portal/enroll/"},
		{"bypassed", true, "Skipped Duo login for 'bypassed'"},
		{"disabled", false, "Your account is disabled"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			r := runOnTerminal(t, menuPrompt, nil, loginDuoPath, "-d", "-c", conf, "-f", tc.user, "echo", "LOGGED-IN")
			checkLogin(t, r, tc.ok)
			if strings.Contains(r.out, menuPrompt) {
				t.Errorf("login_duo showed the menu for %s:\n%s", tc.user, r.out)
			}
			if !strings.Contains(r.out, tc.want) {
				t.Errorf("login_duo output lacks %q:\n%s", tc.want, r.out)
			}
		})
	}
}

// checkLogin checks a login_duo run that ran `echo LOGGED-IN`.
func checkLogin(t *testing.T, r duoRun, ok bool) {
	t.Helper()
	if ok {
		if r.code != 0 || !strings.Contains(r.out, "LOGGED-IN") {
			t.Errorf("login_duo: exit %d, want 0 with LOGGED-IN printed:\n%s", r.code, r.out)
		}
		return
	}
	if r.code == 0 || strings.Contains(r.out, "LOGGED-IN") {
		t.Errorf("login_duo: exit %d, want a failure without running the command:\n%s", r.code, r.out)
	}
}

// pamRHost is the remote host the PAM tests claim the login comes from.
const pamRHost = "198.51.100.7"

// checkAuthLog checks that the newest auth-log row of username came from
// ip: duo_unix sends ipaddr (and hostname) with every call.
func (e *duoUnixEnv) checkAuthLog(t *testing.T, username, ip string) {
	t.Helper()
	u := e.ts.userRecord(t, username)
	rows, err := e.ts.App.Store.ListAuthLog(testCtx(t), store.AuthLogFilter{UserID: u.ID, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("no auth-log row for %s", username)
	}
	if rows[0].IP != ip || rows[0].Hostname == "" {
		t.Errorf("auth log has ip %q, hostname %q; want ip %q and the client's hostname", rows[0].IP, rows[0].Hostname, ip)
	}
}

func TestPamDuoLegacy(t *testing.T) {
	t.Parallel()
	requireDuoUnix(t, pamDuoPath, pamtesterPath)
	e := newDuoUnixEnv(t)
	conf := e.writeConf(t, "pam_duo.conf")
	service := pamService(t, conf)

	for _, tc := range []struct {
		name string
		// push: play the phone and answer with approve; otherwise type
		// passcode (hotp: the device's first Duo Mobile passcode).
		push, approve bool
		passcode      string
		ok            bool
		want          string // a status message pam_duo must show
	}{
		{name: "push approved", push: true, approve: true, ok: true, want: "Success. Logging you in..."},
		{name: "push denied", push: true, approve: false, ok: false, want: "Login request denied."},
		{name: "Duo Mobile passcode", passcode: "hotp", ok: true, want: "Success. Logging you in..."},
		{name: "wrong passcode", passcode: "0000001", ok: false, want: "Incorrect passcode. Please try again."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := unixUser(t)
			e.ts.user(t, name, 0)
			device, secret := e.phone(t, name, "test phone")
			// pamtester's conversation reads stdin, terminal or not, so
			// pam_duo shows its menu; "1" maps to push1. Only one line:
			// the retry after a failure then ends at end of input.
			input := "1\n"
			switch tc.passcode {
			case "":
			case "hotp":
				input = hotpPasscode(t, secret, 0) + "\n"
			default:
				input = tc.passcode + "\n"
			}
			var answered <-chan error
			if tc.push {
				ctx, cancel := context.WithTimeout(context.Background(), duoRunTimeout)
				defer cancel()
				answered = e.answerPush(ctx, device, tc.approve)
			}
			// PAM_RHOST is where pam_duo takes the client's address from
			// (sshd sets it); it must arrive as ipaddr.
			r := runPiped(t, input, pamtesterPath, "-I", "rhost="+pamRHost, service, name, "authenticate")
			if answered != nil {
				if err := <-answered; err != nil {
					t.Fatalf("answering the push: %v", err)
				}
			}
			if !strings.Contains(r.out, tc.want) {
				t.Errorf("pamtester output lacks %q:\n%s", tc.want, r.out)
			}
			e.checkAuthLog(t, name, pamRHost)
			if tc.ok && (r.code != 0 || !strings.Contains(r.out, "successfully authenticated")) {
				t.Errorf("pamtester: exit %d, want success:\n%s", r.code, r.out)
			}
			if !tc.ok && r.code == 0 {
				t.Errorf("pamtester: exit 0, want an authentication failure:\n%s", r.out)
			}
		})
	}
}

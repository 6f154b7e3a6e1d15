package radiusd

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
	"github.com/assent-auth/assent/internal/testutil"
)

// radclient runs FreeRADIUS' radclient with the packet in file and returns
// its verbose output. radclient checks the Response Authenticator and the
// Message-Authenticator of every reply and ignores replies that fail.
func radclient(t *testing.T, e *env, packet string, args ...string) string {
	t.Helper()
	return radclientCommand(t, e, "auth", testSecret, packet, args...)
}

// radclientCommand is radclient with a command (auth, status) and secret.
func radclientCommand(t *testing.T, e *env, command, secret, packet string, args ...string) string {
	t.Helper()
	rc, err := exec.LookPath("radclient")
	testutil.Require(t, "radclient (apt freeradius-utils)", err == nil)
	file := filepath.Join(t.TempDir(), "packet")
	if err := os.WriteFile(file, []byte(packet), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	argv := append([]string{"-x", "-f", file}, args...)
	argv = append(argv, e.addr.String(), command, secret)
	out, _ := exec.CommandContext(ctx, rc, argv...).CombinedOutput() // exit status varies by version; the output says it all
	return string(out)
}

var (
	receivedRe = regexp.MustCompile(`Received (Access-\w+) Id \d+`)
	stateRe    = regexp.MustCompile(`State = (0x[0-9a-f]+)`)
	replyMsgRe = regexp.MustCompile(`Reply-Message = "([^"]*)"`)
)

func received(out string) string {
	m := receivedRe.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// Challenge mode end to end with radclient: the State of the first reply
// goes into a second packet file.
func TestRadclientChallengeFlow(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section { return []*Section{section(ModeChallenge, p, d)} })
	out := radclient(t, e, "User-Name = \"alice\"\nUser-Password = \"pw\"\nMessage-Authenticator = 0x00\n", "-r", "1", "-t", "3")
	if received(out) != "Access-Challenge" {
		t.Fatalf("first round:\n%s", out)
	}
	m := stateRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no State:\n%s", out)
	}
	if !strings.Contains(out, "Message-Authenticator = 0x") || !strings.Contains(out, "Passcode or option (1-3):") {
		t.Errorf("reply lacks M-A or prompt:\n%s", out)
	}
	second := fmt.Sprintf("User-Name = \"alice\"\nUser-Password = \"1\"\nState = %s\nMessage-Authenticator = 0x00\n", m[1])
	out = radclient(t, e, second, "-r", "1", "-t", "3")
	if received(out) != "Access-Accept" {
		t.Fatalf("second round:\n%s", out)
	}
	if rm := replyMsgRe.FindStringSubmatch(out); rm == nil || rm[1] != stSuccess {
		t.Errorf("Reply-Message: %q", rm)
	}
	if got := e.duo.choices(); len(got) != 1 || got[0] != "push1" {
		t.Errorf("auth choices %q", got)
	}
	// The State is single use.
	out = radclient(t, e, second, "-r", "1", "-t", "3")
	if received(out) != "Access-Reject" || !strings.Contains(out, msgUnknownChallenge) {
		t.Fatalf("reused State:\n%s", out)
	}
}

// radclient retransmits while the push is pending: exactly one push, and
// the answer reaches radclient.
func TestRadclientRetransmitOnePush(t *testing.T) {
	t.Parallel()
	// The hook runs on a server goroutine: it reads the env through an
	// atomic, since nothing else orders it after the assignment below.
	var ep atomic.Pointer[env]
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		d.authHook = func(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error) {
			// Hold the "push" until radclient has retransmitted at least once.
			deadline := time.Now().Add(8 * time.Second)
			for time.Now().Before(deadline) {
				if _, _, dups := ep.Load().rec.snapshot(); len(dups) > 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			return duoclient.AuthResult{Result: "allow", StatusMsg: stSuccess}, nil
		}
		return []*Section{section(ModeDuoOnly, p, d)}
	})
	ep.Store(e)
	out := radclient(t, e, "User-Name = \"alice\"\nUser-Password = \"push\"\nMessage-Authenticator = 0x00\n", "-r", "5", "-t", "1")
	if received(out) != "Access-Accept" {
		t.Fatalf("radclient:\n%s", out)
	}
	if _, n := e.duo.counts(); n != 1 {
		t.Fatalf("%d pushes, want 1", n)
	}
	_, _, dups := e.rec.snapshot()
	if len(dups) == 0 || dups[0] != "in_flight" {
		t.Errorf("duplicates %q", dups)
	}
}

// A network that requires Message-Authenticator ignores radclient without
// one and answers it with one.
func TestRadclientRequireMessageAuthenticator(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section {
		s := section(ModeDuoOnly, p, d)
		s.Networks = []Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: []byte(testSecret), RequireMessageAuthenticator: true}}
		return []*Section{s}
	})
	out := radclient(t, e, "User-Name = \"alice\"\nUser-Password = \"push\"\n", "-r", "1", "-t", "1")
	if got := received(out); got != "" {
		t.Fatalf("answered without M-A (%s):\n%s", got, out)
	}
	e.rec.waitDropped(t, "missing_message_authenticator", 1)
	out = radclient(t, e, "User-Name = \"alice\"\nUser-Password = \"push\"\nProxy-State = 0x01\nProxy-State = 0x02\nMessage-Authenticator = 0x00\n", "-r", "1", "-t", "3")
	if received(out) != "Access-Accept" {
		t.Fatalf("with M-A:\n%s", out)
	}
	if i, j := strings.Index(out, "Proxy-State = 0x01"), strings.LastIndex(out, "Proxy-State = 0x02"); i < 0 || j < i {
		t.Errorf("Proxy-State not echoed in order:\n%s", out)
	}
}

// radclient's Status-Server (RFC 5997) is answered with an Access-Accept
// that radclient accepts (it checks both authenticators); with the wrong
// secret it is dropped. Neither touches the Auth API or the primary.
func TestRadclientStatusServer(t *testing.T) {
	t.Parallel()
	e := start(t, Options{}, func(p *fakePrimary, d *fakeDuo) []*Section { return []*Section{section(ModeChallenge, p, d)} })
	out := radclientCommand(t, e, "status", testSecret, "Message-Authenticator = 0x00\n", "-r", "1", "-t", "3")
	if received(out) != "Access-Accept" || !strings.Contains(out, "Message-Authenticator = 0x") {
		t.Fatalf("status:\n%s", out)
	}
	if got := e.rec.statusServers(); len(got) != 1 || got[0] != "radius_server_challenge" {
		t.Errorf("Status-Servers counted: %q", got)
	}
	out = radclientCommand(t, e, "status", "not-the-secret", "Message-Authenticator = 0x00\n", "-r", "1", "-t", "1")
	if got := received(out); got != "" {
		t.Fatalf("status with the wrong secret answered (%s):\n%s", got, out)
	}
	e.rec.waitDropped(t, "bad_message_authenticator", 1)
	if p, a := e.duo.counts(); p+a != 0 || len(e.primary.passwords()) != 0 {
		t.Errorf("Status-Server reached the Auth API (%d calls) or the primary", p+a)
	}
}

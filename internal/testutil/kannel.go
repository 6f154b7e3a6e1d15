package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Kannel is a real Kannel SMS gateway on loopback (Debian kannel and
// kannel-extras): bearerbox, smsbox with its sendsms HTTP interface, and
// the test SMSC fakesmsc standing in for the carrier. Messages sent
// through sendsms arrive at fakesmsc, which prints them; Messages reads
// them.
type Kannel struct {
	// SendSMSURL is smsbox's sendsms URL; Username and Password its user.
	SendSMSURL         string
	Username, Password string

	mu   sync.Mutex
	msgs []KannelMessage
	seen chan struct{}
}

// KannelMessage is one message the fake SMSC received.
type KannelMessage struct{ From, To, Text string }

// Kannel programs.
const (
	bearerbox = "/usr/sbin/bearerbox"
	smsbox    = "/usr/sbin/smsbox"
	fakesmsc  = "/usr/lib/kannel/test/fakesmsc"
)

// StartKannel starts Kannel with fakesmsc for the test; everything stops
// at its end.
func StartKannel(t testing.TB) *Kannel {
	t.Helper()
	for _, p := range []string{bearerbox, smsbox, fakesmsc} {
		_, err := os.Stat(p)
		Require(t, p+" (apt kannel kannel-extras)", err == nil)
	}
	dir := t.TempDir()
	admin, boxPort, smscPort, sendPort := FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	k := &Kannel{SendSMSURL: fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendPort), Username: "assent",
		Password: "kannel-test-pw", seen: make(chan struct{}, 1)}
	conf := fmt.Sprintf(`group = core
admin-port = %d
admin-password = admin-pw
admin-interface = 127.0.0.1
smsbox-port = %d
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = %q
log-level = 0
access-log = %q

group = smsc
smsc = fake
smsc-id = fake
host = 127.0.0.1
port = %d
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = %d
sendsms-port = %d
sendsms-interface = 127.0.0.1
global-sender = 12345
log-file = %q
log-level = 0

group = sendsms-user
username = %s
password = %s
concatenation = true
max-messages = 10

group = sms-service
keyword = default
text = "no service"
`, admin, boxPort, filepath.Join(dir, "bearerbox.log"), filepath.Join(dir, "access.log"), smscPort, boxPort, sendPort,
		filepath.Join(dir, "smsbox.log"), k.Username, k.Password)
	cfg := filepath.Join(dir, "kannel.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(name string, stdout io.Writer, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Stdout = stdout
		logf, err := os.Create(filepath.Join(dir, filepath.Base(name)+".out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = logf
		if stdout == nil {
			cmd.Stdout = logf
		} else {
			cmd.Stderr = io.MultiWriter(logf, stdout) // fakesmsc logs to stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			_ = logf.Close()
		})
	}
	t.Cleanup(func() { // runs after the programs stopped
		if t.Failed() {
			for _, f := range []string{"bearerbox.log", "smsbox.log", "fakesmsc.out"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("kannel %s:\n%s", f, tail(string(b), 3000))
				}
			}
		}
	})
	start(bearerbox, nil, "-v", "0", cfg)
	// Not the SMSC port: bearerbox would take a probe for the fake SMSC.
	waitPort(t, admin)
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	// fakesmsc generates no message (-m 0) and prints what it receives.
	start(fakesmsc, pw, "-H", "127.0.0.1", "-r", strconv.Itoa(smscPort), "-i", "1", "-m", "0", "1 2 text x")
	go k.read(pr)
	waitLog(t, filepath.Join(dir, "bearerbox.log"), "Fakesmsc client connected")
	start(smsbox, nil, "-v", "0", cfg)
	waitPort(t, sendPort)
	return k
}

func waitLog(t testing.TB, file, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil && bytes.Contains(b, []byte(what)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kannel: %q never appeared in %s", what, file)
}

func waitPort(t testing.TB, port int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kannel: nothing listens on 127.0.0.1:%d", port)
}

// fakesmsc prints "Got message N: <from to text …>" for each message.
var gotMessage = regexp.MustCompile(`Got message [0-9]+: <(\S+) (\S+) text (.*)>\s*$`)

func (k *Kannel) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := gotMessage.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		k.mu.Lock()
		k.msgs = append(k.msgs, KannelMessage{From: m[1], To: m[2], Text: m[3]})
		k.mu.Unlock()
		select {
		case k.seen <- struct{}{}:
		default:
		}
	}
}

// Messages returns the messages received so far.
func (k *Kannel) Messages() []KannelMessage {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]KannelMessage(nil), k.msgs...)
}

// WaitMessages waits until n messages have arrived and returns them.
func (k *Kannel) WaitMessages(t testing.TB, n int) []KannelMessage {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if m := k.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-k.seen:
		case <-deadline:
			t.Fatalf("kannel: %d messages arrived at the fake SMSC, want %d", len(k.Messages()), n)
		}
	}
}

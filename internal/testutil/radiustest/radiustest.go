// Package radiustest runs a private FreeRADIUS 3 server for tests: a copy
// of the packaged configuration (/etc/freeradius/3.0) whose default virtual
// server listens on a random 127.0.0.1 UDP port, with the inner-tunnel
// server removed, reject_delay 0, one client (127.0.0.1) with a chosen
// secret that must send Message-Authenticator, and a users file written by
// the test. It runs multi-threaded in the foreground (-f, not the
// single-threaded -X) and is stopped when the test ends.
package radiustest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
	"github.com/assent-auth/assent/internal/testutil"
)

// ConfigDir is the packaged configuration that is copied.
const ConfigDir = "/etc/freeradius/3.0"

// User is one entry of the users file (mods-config/files/authorize).
type User struct {
	Name     string
	Password string // Cleartext-Password, so PAP, CHAP and MS-CHAP all work
	// Check are extra check items, e.g. `SMB-Account-CTRL := 131072`
	// (password expired: MS-CHAP answers E=648).
	Check []string
	// Reply are reply items, e.g. `Reply-Message := "Hello alice"` or
	// `Class := "staff"`.
	Reply []string
}

// DefaultUsers is the users file when Options.Users is nil.
var DefaultUsers = []User{
	{Name: "alice", Password: "alicepw", Reply: []string{`Reply-Message := "Hello alice"`}},
}

// Options tune Start.
type Options struct {
	Users []User
	// Secret shared with the client 127.0.0.1; random when empty.
	Secret string
	// AllowMissingMessageAuthenticator turns off the client's
	// require_message_authenticator (on by default, so a request without
	// Message-Authenticator is dropped, as BlastRADIUS-hardened servers do).
	AllowMissingMessageAuthenticator bool
}

// Server is a running FreeRADIUS.
type Server struct {
	Addr   string // 127.0.0.1:Port
	Host   string // 127.0.0.1
	Port   int
	Secret string
	Dir    string // the configuration directory

	cmd     *exec.Cmd
	logFile string
	out     *bytes.Buffer
	outMu   sync.Mutex
	exited  chan struct{}
	once    sync.Once
}

// Available reports whether FreeRADIUS is installed and its packaged
// configuration readable (it is root-only on Debian).
func Available() bool {
	if _, err := lookPath("freeradius"); err != nil {
		return false
	}
	f, err := os.Open(filepath.Join(ConfigDir, "radiusd.conf"))
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// Start runs FreeRADIUS for the test and stops it in t.Cleanup. Without
// FreeRADIUS (or as a user who cannot read its configuration) the test is
// skipped, or failed in CI, through testutil.Require.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	testutil.Require(t, "FreeRADIUS (apt freeradius) with a readable "+ConfigDir, Available())
	bin, _ := lookPath("freeradius")
	users := opts.Users
	if users == nil {
		users = DefaultUsers
	}
	secret := opts.Secret
	if secret == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		secret = hex.EncodeToString(b[:])
	}
	if strings.ContainsAny(secret, "\"\\\n") {
		t.Fatalf("radiustest: secret %q must not contain quotes, backslashes or newlines", secret)
	}

	root := t.TempDir()
	dir := filepath.Join(root, "raddb")
	if out, err := exec.Command("cp", "-a", ConfigDir, dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", ConfigDir, err, out)
	}
	for _, sub := range []string{"log", "run"} {
		if err := os.Mkdir(filepath.Join(root, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "sites-enabled", "inner-tunnel")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	editFile(t, filepath.Join(dir, "radiusd.conf"), func(s string) string {
		// Run as the invoking user: the private copy lives in a 0700
		// directory that the freerad user could not read.
		s = regexp.MustCompile(`(?m)^(\s*)(user|group)\s*=`).ReplaceAllString(s, "$1#$2 =")
		s = regexp.MustCompile(`(?m)^(\s*)reject_delay\s*=.*$`).ReplaceAllString(s, "${1}reject_delay = 0")
		s = regexp.MustCompile(`(?m)^logdir\s*=.*$`).ReplaceAllString(s, "logdir = "+filepath.Join(root, "log"))
		s = regexp.MustCompile(`(?m)^run_dir\s*=.*$`).ReplaceAllString(s, "run_dir = "+filepath.Join(root, "run"))
		// Log each authentication result, for failure reports.
		s = regexp.MustCompile(`(?m)^(\s*)auth\s*=\s*no\s*$`).ReplaceAllString(s, "${1}auth = yes")
		return s
	})
	site, err := os.ReadFile(filepath.Join(dir, "sites-available", "default"))
	if err != nil {
		t.Fatal(err)
	}
	siteBody := stripListen(string(site))
	if !strings.Contains(siteBody, "server default {") {
		t.Fatal("radiustest: sites-available/default has no 'server default {'")
	}
	mustRemove(t, filepath.Join(dir, "sites-enabled", "default"))

	require := "yes"
	if opts.AllowMissingMessageAuthenticator {
		require = "no"
	}
	writeFile(t, filepath.Join(dir, "clients.conf"), fmt.Sprintf(
		"client test {\n\tipaddr = 127.0.0.1\n\tsecret = \"%s\"\n\trequire_message_authenticator = %s\n\tshortname = test\n}\n", secret, require))
	writeFile(t, filepath.Join(dir, "mods-config", "files", "authorize"), usersFile(users))

	s := &Server{Host: "127.0.0.1", Secret: secret, Dir: dir, logFile: filepath.Join(root, "log", "radius.log"), out: &bytes.Buffer{}}
	for attempt := 0; ; attempt++ {
		s.Port = freeUDPPort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", s.Port)
		listen := fmt.Sprintf("server default {\nlisten {\n\ttype = auth\n\tipaddr = 127.0.0.1\n\tport = %d\n}\n", s.Port)
		writeFile(t, filepath.Join(dir, "sites-enabled", "default"), strings.Replace(siteBody, "server default {\n", listen, 1))
		err := s.run(bin)
		if err == nil {
			break
		}
		if attempt == 4 || !strings.Contains(s.Logs(), "Address already in use") {
			t.Fatalf("freeradius did not start: %v\n%s", err, s.Logs())
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("freeradius log:\n%s", s.Logs())
		}
	})
	return s
}

// run starts freeradius and waits until it answers a Status-Server.
func (s *Server) run(bin string) error {
	cmd := exec.Command(bin, "-f", "-d", s.Dir, "-l", s.logFile)
	cmd.Stdout = lockedWriter{&s.outMu, s.out}
	cmd.Stderr = lockedWriter{&s.outMu, s.out}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := s.StatusServer(ctx)
		cancel()
		if err == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("freeradius exited: %v", waitErr)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("freeradius not answering Status-Server after 20 s: %v", err)
		}
	}
}

// StatusServer sends one Status-Server with Message-Authenticator and
// waits for the Access-Accept.
func (s *Server) StatusServer(ctx context.Context) error {
	p := radius.New(radius.CodeStatusServer, []byte(s.Secret))
	wire, err := radiusmsg.EncodeRequest(p)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", s.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(wire); err != nil {
		return err
	}
	buf := make([]byte, radius.MaxPacketLength)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !radius.IsAuthenticResponse(buf[:n], wire, p.Secret) || radius.Code(buf[0]) != radius.CodeAccessAccept {
		return errors.New("invalid answer to Status-Server")
	}
	return nil
}

// Stop terminates FreeRADIUS; safe to call more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd == nil {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// Logs returns the server's log file and console output.
func (s *Server) Logs() string {
	b, _ := os.ReadFile(s.logFile)
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return string(b) + s.out.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// usersFile renders the users in FreeRADIUS's "files" format.
func usersFile(users []User) string {
	var b strings.Builder
	for _, u := range users {
		check := append([]string{fmt.Sprintf("Cleartext-Password := %q", u.Password)}, u.Check...)
		fmt.Fprintf(&b, "%s %s\n", quoteName(u.Name), strings.Join(check, ", "))
		for i, r := range u.Reply {
			sep := ","
			if i == len(u.Reply)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "\t%s%s\n", r, sep)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func quoteName(n string) string {
	if strings.ContainsAny(n, " \t\"#,=") {
		return fmt.Sprintf("%q", n)
	}
	return n
}

// stripListen removes the top-level listen { … } blocks of a virtual
// server file (braces in comments are ignored).
func stripListen(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var out strings.Builder
	depth, skipping := 0, false
	for _, line := range lines {
		code := line
		if i := strings.IndexByte(code, '#'); i >= 0 {
			code = code[:i]
		}
		if !skipping && depth == 1 && strings.HasPrefix(strings.TrimSpace(code), "listen {") {
			skipping = true
		}
		depth += strings.Count(code, "{") - strings.Count(code, "}")
		if skipping {
			if depth == 1 {
				skipping = false
			}
			continue
		}
		out.WriteString(line)
	}
	return out.String()
}

func editFile(t testing.TB, path string, f func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, f(string(b)))
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

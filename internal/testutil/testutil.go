// Package testutil holds small helpers shared by the project's tests.
//
// Tests that need an external program or package call Require: on a
// developer machine a missing dependency skips the test (with a hint to run
// ./scripts/test.sh, which installs everything); in CI (CI set in the
// environment) it fails the test, so nothing is silently skipped there.
package testutil

import (
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Require fails (in CI) or skips (elsewhere) the test unless ok.
func Require(t testing.TB, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI; scripts/test.sh installs it", what)
	}
	t.Skipf("%s not available; run ./scripts/test.sh", what)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	return port
}

// Python3 returns Debian's interpreter, /usr/bin/python3, after checking
// that it can import duo_client (apt python3-duo-client). A python3 from
// pyenv or a virtualenv would not see apt-installed modules.
func Python3(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	_, err := os.Stat(py)
	Require(t, py, err == nil)
	out, err := exec.Command(py, "-c", "import duo_client").CombinedOutput()
	if err != nil {
		t.Logf("%s -c 'import duo_client': %v: %s", py, err, out)
	}
	Require(t, "python3-duo-client (import duo_client in "+py+")", err == nil)
	return py
}

// Clock is a settable clock for tests: it shows the time it was given and
// moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set shows t from now on.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// CountingBody is a request body that counts the bytes read from it: how
// much a server read before it refused a request.
type CountingBody struct {
	R io.Reader
	N *atomic.Int64
}

func (c CountingBody) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N.Add(int64(n))
	return n, err
}

// Close does nothing.
func (c CountingBody) Close() error { return nil }

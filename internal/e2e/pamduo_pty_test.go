//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// login_duo 1.11.3 shows its menu only on a terminal: with a pipe on stdin
// it autopushes (factors.default, synchronously) whatever is typed. So the
// login_duo tests run it on a pseudo-terminal and type at the prompt.

// openPTY opens a pseudo-terminal pair: the master for the test, the
// slave for the child's stdin, stdout and stderr.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	var n uint32
	ioctl := func(req uintptr, arg unsafe.Pointer) error {
		rc, err := master.SyscallConn()
		if err != nil {
			return err
		}
		var errno syscall.Errno
		if err := rc.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
		}); err != nil {
			return err
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
	var unlock int32
	if err := ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	if err := ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", err)
	}
	return master, slave, nil
}

// ptyBuffer collects what the child writes to its terminal.
type ptyBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (p *ptyBuffer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.b.Write(b)
	close(p.changed)
	p.changed = make(chan struct{})
	return len(b), nil
}

// snapshot returns the output so far and a channel closed on the next write.
func (p *ptyBuffer) snapshot() (string, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.String(), p.changed
}

// runOnTerminal runs a command on a fresh pseudo-terminal, bounded by
// duoRunTimeout. Each time the output shows prompt once more, it types
// the next line of answers; once the answers run out it types Ctrl-D (end
// of input), which duo_unix takes as "Error gathering user response".
func runOnTerminal(t *testing.T, prompt string, answers []string, name string, args ...string) duoRun {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), duoRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = duoClientEnv()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own with the pty as controlling terminal, as a
	// login has.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	slave.Close() // the child has its copies; EOF/EIO on master when it exits

	out := &ptyBuffer{changed: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				_, _ = out.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	answered := 0
	var waitErr error
loop:
	for {
		text, changed := out.snapshot()
		if strings.Count(text, prompt) > answered {
			line := "\x04" // Ctrl-D: end of input
			if answered < len(answers) {
				line = answers[answered] + "\n"
			}
			answered++
			if _, err := master.Write([]byte(line)); err != nil {
				t.Logf("typing at the prompt: %v", err)
			}
			continue
		}
		select {
		case <-changed:
		case waitErr = <-exited:
			break loop
		}
	}
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		// Something else still holds the terminal; what was read is enough.
	}
	text, _ := out.snapshot()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v:\n%s", name, strings.Join(args, " "), duoRunTimeout, text)
	}
	code := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			t.Fatalf("%s: %v", name, waitErr)
		}
		code = ee.ExitCode()
	}
	t.Logf("%s %s (on a terminal) → exit %d:\n%s", filepath.Base(name), strings.Join(args, " "), code, text)
	return duoRun{out: text, code: code}
}

//go:build linux

package connwatch

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// Watcher watches sockets with one epoll set and one goroutine. Its
// registrations are level-triggered and one-shot on EPOLLRDHUP (EPOLLHUP
// and EPOLLERR are always reported): a peer that already hung up before
// Watch is reported at once, data the peer sends wakes nothing. The
// runtime's own poller keeps its registration of the same socket; the
// two do not interfere.
type Watcher struct {
	epfd int
	wake [2]int // a pipe: Close writes to wake[1] to end the loop
	done chan struct{}

	mu      sync.Mutex
	closed  bool
	next    int32
	watches map[int32]func() // id → hangup; the id travels in the epoll event
}

// wakeID is the epoll id of the pipe Close writes to.
const wakeID = 0

// New starts a Watcher; Close stops it.
func New() (*Watcher, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("connwatch: epoll_create1: %w", err)
	}
	w := &Watcher{epfd: epfd, done: make(chan struct{}), watches: map[int32]func(){}}
	if err := syscall.Pipe2(w.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("connwatch: pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeID}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, w.wake[0], &ev); err != nil {
		w.closeFDs()
		return nil, fmt.Errorf("connwatch: epoll_ctl: %w", err)
	}
	go w.run()
	return w, nil
}

func (w *Watcher) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

func (w *Watcher) watchSocket(sc syscall.Conn, hangup func()) (func(), error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, errors.ErrUnsupported
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, ErrClosed
	}
	id := w.newID()
	w.watches[id] = hangup
	w.mu.Unlock()

	var cerr error
	err = rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: id}
		cerr = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		w.forget(id)
		return nil, fmt.Errorf("connwatch: watch a socket: %w", err)
	}
	return func() {
		w.forget(id)
		// Take the socket out of the set. When it was closed meanwhile,
		// Control fails and the kernel already dropped it (a closed file
		// leaves every epoll set), so a reused descriptor number is never
		// touched.
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
	}, nil
}

// newID picks an id no watch uses; w.mu is held.
func (w *Watcher) newID() int32 {
	for {
		w.next++
		if w.next <= wakeID {
			w.next = wakeID + 1
		}
		if _, used := w.watches[w.next]; !used {
			return w.next
		}
	}
}

// forget drops a watch and returns its hangup (nil if it was gone).
func (w *Watcher) forget(id int32) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.watches[id]
	delete(w.watches, id)
	return f
}

func (w *Watcher) run() {
	defer close(w.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// Not expected with a valid set; stop watching rather than spin.
			// Watches then end only through stop, as after Close.
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == wakeID {
				return
			}
			if hangup := w.forget(ev.Fd); hangup != nil {
				hangup()
			}
		}
	}
}

// Close stops the watcher: hangups are no longer reported, and Watch
// fails. It does not close the watched connections.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	_, _ = syscall.Write(w.wake[1], []byte{1})
	<-w.done
	w.closeFDs()
	return nil
}

func (w *Watcher) closeFDs() {
	_ = syscall.Close(w.epfd)
	_ = syscall.Close(w.wake[0])
	_ = syscall.Close(w.wake[1])
}

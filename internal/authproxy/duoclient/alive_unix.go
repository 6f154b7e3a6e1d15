//go:build unix

package duoclient

import (
	"errors"
	"net"
	"syscall"
)

// alive reports whether the server has not closed an idle connection: a
// look at the socket without waiting (MSG_PEEK|MSG_DONTWAIT). An idle
// HTTP/1.1 connection has nothing to read; a server that closed it has
// sent its TLS close_notify and FIN. Without this, a request written into
// such a connection would fail, and a failed preauth may fail open.
func (pc *pconn) alive() bool {
	tc, ok := pc.conn.NetConn().(*net.TCPConn)
	if !ok {
		return true
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	idle := false
	err = rc.Read(func(fd uintptr) bool {
		// Data (an alert, an unasked-for answer) or end of file: closed.
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		idle = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && idle
}

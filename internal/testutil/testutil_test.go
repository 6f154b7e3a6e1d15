package testutil

import (
	"fmt"
	"net"
	"testing"
)

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d", p)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d not free: %v", p, err)
	}
	l.Close()
}

func TestRequireOK(t *testing.T) {
	Require(t, "nothing", true) // must neither skip nor fail
}

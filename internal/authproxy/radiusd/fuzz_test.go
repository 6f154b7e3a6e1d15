package radiusd

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

// capConn is a PacketConn that records what is written.
type capConn struct {
	mu  sync.Mutex
	out [][]byte
}

func (c *capConn) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, net.ErrClosed }
func (c *capConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, append([]byte(nil), b...))
	c.mu.Unlock()
	return len(b), nil
}
func (c *capConn) Close() error                     { return nil }
func (c *capConn) LocalAddr() net.Addr              { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1812} }
func (c *capConn) SetDeadline(time.Time) error      { return nil }
func (c *capConn) SetReadDeadline(time.Time) error  { return nil }
func (c *capConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzServer has one section of each mode, on 127.0.0.1 … 127.0.0.4.
func fuzzServer(tb testing.TB) (*Server, *recorder) {
	p, d, rec := newPrimary(), &fakeDuo{}, &recorder{}
	var secs []*Section
	for i, m := range []Mode{ModeAuto, ModeChallenge, ModeConcat, ModeDuoOnly} {
		s := section(m, p, d)
		s.Networks = []Network{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}), 32), Secret: []byte(testSecret)}}
		secs = append(secs, s)
	}
	secs[1].PromptFormat = PromptHTML
	srv, err := NewServer(secs, Options{Observer: rec, Logger: discardLogger(), Hostname: "fuzz"})
	if err != nil {
		tb.Fatal(err)
	}
	return srv, rec
}

func seedPacket(user, pass string, state []byte, ma bool) []byte {
	p := radius.New(radius.CodeAccessRequest, []byte(testSecret))
	rfc2865.UserName_SetString(p, user)
	if pass != "" {
		rfc2865.UserPassword_SetString(p, pass)
	}
	if state != nil {
		rfc2865.State_Set(p, state)
	}
	p.Add(rfc2865.ProxyState_Type, radius.Attribute("ps"))
	rfc2865.CallingStationID_SetString(p, "192.0.2.1")
	if ma {
		radiusmsg.AddRequest(p)
	}
	b, _ := p.Encode()
	return b
}

// FuzzHandle feeds arbitrary datagrams to the request entry point: it
// must never panic, and whatever it answers must be a well-formed,
// signed response with Message-Authenticator first.
func FuzzHandle(f *testing.F) {
	for i, pw := range []string{"pw", "pw,push", "push", "pw,123456"} {
		f.Add(byte(i), seedPacket("alice", pw, nil, true))
		f.Add(byte(i), seedPacket("alice", pw, nil, false))
	}
	f.Add(byte(1), seedPacket("alice", "1", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), true))
	f.Add(byte(0), seedPacket("", "", nil, false))
	f.Add(byte(3), []byte{1, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	srv, rec := fuzzServer(f)
	f.Fuzz(func(t *testing.T, sel byte, raw []byte) {
		conn := &capConn{}
		addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1+sel%5), Port: 40000 + int(sel)}
		srv.handle(context.Background(), conn, raw, addr)
		_, dropped, _ := rec.snapshot()
		for _, d := range dropped {
			if d == "internal_error" {
				t.Fatalf("panic while handling % x", raw)
			}
		}
		for _, b := range conn.out {
			var reqAuth [16]byte
			copy(reqAuth[:], raw[4:20])
			if !radius.IsAuthenticResponse(b, raw, []byte(testSecret)) {
				t.Fatal("bad Response Authenticator")
			}
			if present, ok := radiusmsg.VerifyResponse(b, reqAuth, []byte(testSecret)); !present || !ok || b[20] != byte(radiusmsg.Type) {
				t.Fatal("bad Message-Authenticator")
			}
		}
	})
}

package radiusd

import (
	"context"
	"net"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
)

// instantDuo answers every passcode at once, so the benchmark measures the
// server path: UDP, parsing, Message-Authenticator, dedup cache, logging.
type instantDuo struct{}

func (instantDuo) Preauth(context.Context, duoclient.PreauthRequest) (duoclient.Preauth, error) {
	return duoclient.Preauth{Result: "auth", Prompt: "p", Factors: map[string]string{"default": "push1"}}, nil
}

func (instantDuo) Auth(context.Context, duoclient.AuthRequest) (duoclient.AuthResult, error) {
	return duoclient.AuthResult{Result: "allow", StatusMsg: stSuccess}, nil
}

// BenchmarkDuoOnlyPasscode is radius_server_duo_only with passcodes over
// loopback: each parallel worker is a NAS with its own socket, sending
// one request at a time. Profile with -cpuprofile to find hot spots.
func BenchmarkDuoOnlyPasscode(b *testing.B) {
	e := start(b, Options{Logger: discardLogger()}, func(p *fakePrimary, d *fakeDuo) []*Section {
		s := section(ModeDuoOnly, p, d)
		s.Duo = instantDuo{}
		return []*Section{s}
	})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.DialUDP("udp", nil, e.addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		c := &client{t: b, conn: conn, secret: []byte(testSecret)}
		buf := make([]byte, radius.MaxPacketLength)
		for pb.Next() {
			req := c.encode(c.request("alice", goodCode))
			if _, err := conn.Write(req); err != nil {
				b.Error(err)
				return
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				b.Error(err)
				return
			}
			if radius.Code(buf[0]) != radius.CodeAccessAccept || n < 20 {
				b.Errorf("got code %d", buf[0])
				return
			}
		}
	})
}

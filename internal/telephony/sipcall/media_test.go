package sipcall

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

func udp(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot bind %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Key presses from another IP than the answer's media address are ignored;
// one press sent as RFC 4733 does (start, updates, three ends) counts once.
func TestReceiveDTMFFromCalleeOnly(t *testing.T) {
	ours := udp(t, "127.0.0.1:0")
	callee := udp(t, "127.0.0.1:0")
	stranger := udp(t, "127.0.0.2:0")
	ans := answer{Remote: netip.MustParseAddrPort(callee.LocalAddr().String()), Codec: ptPCMU, EventType: 96}
	ac := newActiveCall("t")
	ac.arm()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { receiveDTMF(ctx, ours, ans, ac); close(done) }()

	to := ours.LocalAddr().(*net.UDPAddr)
	send := func(c *net.UDPConn, ts uint32, ev uint8, end bool) {
		p := AppendRTP(nil, RTPPacket{PayloadType: 96, Timestamp: ts, SSRC: 9, Payload: AppendDTMFEvent(nil, DTMFEvent{Event: ev, End: end, Duration: 160})})
		if _, err := c.WriteToUDP(p, to); err != nil {
			t.Fatal(err)
		}
	}
	send(stranger, 100, 1, true)
	send(callee, 200, 2, false)
	send(callee, 200, 2, false)
	for range 3 {
		send(callee, 200, 2, true)
	}
	select {
	case d := <-ac.keys:
		if d != '2' {
			t.Fatalf("first key %q, want '2' (the stranger's '1' must be dropped)", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no key")
	}
	time.Sleep(100 * time.Millisecond)
	if len(ac.keys) != 0 {
		t.Fatalf("%d more keys: one press counted more than once", len(ac.keys))
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("receiveDTMF did not stop with its context")
	}
}

// The prompt goes out as 20 ms packets: 160 bytes of G.711, consecutive
// sequence numbers, timestamps +160, marker on the first, paced in real time.
func TestSendPromptPacing(t *testing.T) {
	ours := udp(t, "127.0.0.1:0")
	peer := udp(t, "127.0.0.1:0")
	ans := answer{Remote: netip.MustParseAddrPort(peer.LocalAddr().String()), Codec: ptPCMA, EventType: -1}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	p := DefaultPrompt()
	go func() { _ = sendMedia(ctx, ours, ans, p, Extension{}, nil, func() {}); close(done) }()
	want := p.encode(ptPCMA)
	buf := make([]byte, 1500)
	var first RTPPacket
	start := time.Now()
	const n = 15
	for i := 0; i < n; i++ {
		_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		m, _, err := peer.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := ParseRTP(buf[:m])
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = pk
			if !pk.Marker {
				t.Error("no marker on the first packet")
			}
		}
		if pk.PayloadType != ptPCMA || len(pk.Payload) != 160 || pk.SSRC != first.SSRC ||
			pk.SequenceNumber != first.SequenceNumber+uint16(i) || pk.Timestamp != first.Timestamp+uint32(160*i) {
			t.Fatalf("packet %d: %+v (first %+v)", i, pk, first)
		}
		if string(pk.Payload) != string(want[160*i:160*i+160]) {
			t.Fatalf("packet %d carries the wrong audio", i)
		}
	}
	if el := time.Since(start); el < (n-2)*20*time.Millisecond {
		t.Fatalf("%d packets in %s: not paced", n, el)
	}
	cancel()
	<-done
}

// After every call and Close, no goroutine of the engine is left.
func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

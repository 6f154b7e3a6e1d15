package sipcall

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestExtensionValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ext Extension
		ok  bool
	}{
		{Extension{}, true},
		{Extension{Digits: "1234*#", Predelay: 3 * time.Second, Postdelay: time.Second}, true},
		{Extension{Digits: strings.Repeat("9", 20)}, true},
		{Extension{Digits: strings.Repeat("9", 21)}, false},
		{Extension{Digits: "12a"}, false},
		{Extension{Digits: "1", Predelay: -time.Second}, false},
		{Extension{Digits: "1", Postdelay: 2 * time.Hour}, false},
	} {
		if err := tc.ext.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.ext, err)
		}
	}
}

// traceMedia reads what sendMedia sends until the first packet of the
// prompt (the marked audio packet that starts the talkspurt after the
// extension), noting when keys were armed.
type mediaTrace struct {
	packets     []RTPPacket
	armedBefore bool // arm was called before any event or INFO
	armedAtAuth bool // arm was called when the prompt's first packet came
}

func traceMedia(t *testing.T, ans answer, ext Extension, info sendInfo) mediaTrace {
	t.Helper()
	ours := udp(t, "127.0.0.1:0")
	peer := udp(t, "127.0.0.1:0")
	ans.Remote = netip.MustParseAddrPort(peer.LocalAddr().String())
	var armed atomic.Bool
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sendMedia(ctx, ours, ans, DefaultPrompt(), ext, info, func() { armed.Store(true) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sendMedia: %v", err)
		}
	}()
	var tr mediaTrace
	buf := make([]byte, 1500)
	for {
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := peer.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(tr.packets), err)
		}
		p, err := ParseRTP(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		p.Payload = append([]byte(nil), p.Payload...)
		if p.PayloadType != ans.Codec && armed.Load() {
			tr.armedBefore = true
		}
		tr.packets = append(tr.packets, p)
		if p.PayloadType == ans.Codec && p.Marker && len(tr.packets) > 1 {
			tr.armedAtAuth = armed.Load()
			return tr
		}
	}
}

// Digits go out as RFC 4733 events after the predelay: each event's packets
// share its start timestamp, the first is marked, durations grow and the end
// packet comes three times; our own receiver reads the digits back in order.
// The prompt starts after the postdelay, with keys armed only then, and the
// stream's sequence numbers and media clock run on without a gap.
func TestSendMediaDialsExtensionAsEvents(t *testing.T) {
	t.Parallel()
	ext := Extension{Digits: "12#", Predelay: 60 * time.Millisecond, Postdelay: 40 * time.Millisecond}
	tr := traceMedia(t, answer{Codec: ptPCMU, EventType: 101}, ext, func(context.Context, byte) error {
		t.Error("INFO sent although the callee takes telephone-event")
		return nil
	})
	if tr.armedBefore || !tr.armedAtAuth {
		t.Errorf("armed before the digits %v, armed at the prompt %v", tr.armedBefore, tr.armedAtAuth)
	}
	ps := tr.packets
	if got, want := len(ps), 3+3*10+2+1; got != want {
		t.Errorf("%d packets; want %d (predelay, 3×200 ms of digits, postdelay, the prompt's first)", got, want)
	}
	r := dtmfReceiver{payloadType: 101}
	var digits []byte
	ends := map[uint32]int{}
	for i, p := range ps {
		if i > 0 && (p.SequenceNumber != ps[i-1].SequenceNumber+1 || p.SSRC != ps[0].SSRC) {
			t.Fatalf("packet %d: sequence %d after %d", i, p.SequenceNumber, ps[i-1].SequenceNumber)
		}
		if p.PayloadType != 101 {
			if want := ps[0].Timestamp + uint32(i*frame); p.Timestamp != want {
				t.Errorf("audio packet %d: timestamp %d; want %d", i, p.Timestamp, want)
			}
			continue
		}
		ev, err := ParseDTMFEvent(p.Payload)
		if err != nil {
			t.Fatal(err)
		}
		first := ps[i-1].PayloadType != 101 || ps[i-1].Timestamp != p.Timestamp
		if p.Marker != first {
			t.Errorf("packet %d: marker %v, first of its event %v", i, p.Marker, first)
		}
		if ev.End {
			ends[p.Timestamp]++
			if ev.Duration != 800 {
				t.Errorf("end packet %d: duration %d; want 800 (100 ms)", i, ev.Duration)
			}
		} else if prev, _ := ParseDTMFEvent(ps[i-1].Payload); !first && ev.Duration <= prev.Duration {
			t.Errorf("packet %d: duration %d after %d", i, ev.Duration, prev.Duration)
		}
		if d := r.packet(p); d != 0 {
			digits = append(digits, d)
		}
	}
	if string(digits) != "12#" {
		t.Errorf("digits %q; want 12#", digits)
	}
	if len(ends) != 3 {
		t.Errorf("%d events ended; want 3", len(ends))
	}
	for ts, n := range ends {
		if n != 3 {
			t.Errorf("event at %d: %d end packets; want 3", ts, n)
		}
	}
}

// Without telephone-event in the answer, digits go as SIP INFO, in order;
// a refused INFO fails the call before any key is armed.
func TestSendMediaDialsExtensionByInfo(t *testing.T) {
	t.Parallel()
	var sent []byte
	tr := traceMedia(t, answer{Codec: ptPCMA, EventType: -1}, Extension{Digits: "7*0"}, func(_ context.Context, k byte) error {
		sent = append(sent, k)
		return nil
	})
	if string(sent) != "7*0" || !tr.armedAtAuth {
		t.Errorf("INFO keys %q, armed at the prompt %v", sent, tr.armedAtAuth)
	}
	for _, p := range tr.packets {
		if p.PayloadType != ptPCMA {
			t.Fatalf("payload type %d sent to a callee without telephone-event", p.PayloadType)
		}
	}

	ours, peer := udp(t, "127.0.0.1:0"), udp(t, "127.0.0.1:0")
	ans := answer{Remote: netip.MustParseAddrPort(peer.LocalAddr().String()), Codec: ptPCMU, EventType: -1}
	refused := errors.New("INFO: 415 Unsupported Media Type")
	armed := false
	err := sendMedia(t.Context(), ours, ans, DefaultPrompt(), Extension{Digits: "5"}, func(context.Context, byte) error { return refused },
		func() { armed = true })
	if !errors.Is(err, refused) || armed {
		t.Errorf("refused INFO: err %v, armed %v", err, armed)
	}
}

// Keys pressed before the prompt (an attendant's echo of our digits) are
// not the callee's answer.
func TestKeysBeforeArmAreIgnored(t *testing.T) {
	t.Parallel()
	ac := newActiveCall("t")
	ac.key('1')
	if len(ac.keys) != 0 {
		t.Fatal("a key before the prompt was taken")
	}
	ac.arm()
	ac.key('2')
	if d := <-ac.keys; d != '2' {
		t.Fatalf("key %q", d)
	}
}

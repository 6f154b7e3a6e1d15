package sipcall

import (
	"bytes"
	"net/netip"
	"testing"
)

// RFC 4733 §2.3 / Figure 1 layout: event 1, end bit, volume 10, duration 800.
func TestParseRTPAndDTMF(t *testing.T) {
	pkt := AppendRTP(nil, RTPPacket{PayloadType: 101, Marker: true, SequenceNumber: 7, Timestamp: 1600, SSRC: 0xdeadbeef,
		Payload: AppendDTMFEvent(nil, DTMFEvent{Event: 1, End: true, Volume: 10, Duration: 800})})
	want := []byte{0x80, 0xe5, 0, 7, 0, 0, 0x06, 0x40, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x8a, 0x03, 0x20}
	if !bytes.Equal(pkt, want) {
		t.Fatalf("wire form % x, want % x", pkt, want)
	}
	p, err := ParseRTP(pkt)
	if err != nil || p.PayloadType != 101 || !p.Marker || p.Timestamp != 1600 || p.SSRC != 0xdeadbeef {
		t.Fatalf("ParseRTP = %+v, %v", p, err)
	}
	ev, err := ParseDTMFEvent(p.Payload)
	if err != nil || ev != (DTMFEvent{Event: 1, End: true, Volume: 10, Duration: 800}) {
		t.Fatalf("ParseDTMFEvent = %+v, %v", ev, err)
	}
	bad := []struct {
		name string
		b    []byte
	}{
		{"short", pkt[:11]},
		{"version 1", append([]byte{0x40}, pkt[1:]...)},
		{"csrc beyond end", append([]byte{0x8f}, pkt[1:]...)},
		{"extension beyond end", append([]byte{0x90}, pkt[1:14]...)},
		{"padding too long", append(append([]byte{0xa0}, pkt[1:15]...), 0xff)},
		{"padding zero", append(append([]byte{0xa0}, pkt[1:15]...), 0x00)},
	}
	for _, tc := range bad {
		if _, err := ParseRTP(tc.b); err == nil {
			t.Errorf("%s: ParseRTP accepted % x", tc.name, tc.b)
		}
	}
	if _, err := ParseDTMFEvent([]byte{1, 2, 3}); err == nil {
		t.Error("ParseDTMFEvent accepted 3 bytes")
	}
}

// One key press as RFC 4733 §2.5 sends it: start packet (marker), updates,
// three end packets, all with the same timestamp; then a second press.
func TestDTMFReceiverDeduplicates(t *testing.T) {
	r := dtmfReceiver{payloadType: 101}
	var got []byte
	send := func(ts uint32, ev uint8, end bool, pt uint8) {
		p := RTPPacket{PayloadType: pt, Timestamp: ts, SSRC: 1, Payload: AppendDTMFEvent(nil, DTMFEvent{Event: ev, End: end})}
		if d := r.packet(p); d != 0 {
			got = append(got, d)
		}
	}
	for i := 0; i < 4; i++ {
		send(1000, 1, false, 101)
	}
	for i := 0; i < 3; i++ {
		send(1000, 1, true, 101)
	}
	send(2000, 0, false, 0) // audio packet: ignored
	send(3000, 11, true, 101)
	send(3000, 11, true, 101)
	send(4000, 200, true, 101) // not a DTMF event
	if string(got) != "1#" {
		t.Fatalf("digits %q, want %q", got, "1#")
	}
}

func TestParseInfoDTMF(t *testing.T) {
	tests := []struct {
		ct, body string
		want     byte
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=1\r\nDuration=160\r\n", '1', true},
		{"Application/DTMF-Relay", "signal= 2\nDuration=100", '2', true},
		{"application/dtmf-relay", "Signal=11\r\n", '#', true},
		{"application/dtmf", "5", '5', true},
		{"application/dtmf; charset=x", " * \r\n", '*', true},
		{"application/dtmf-relay", "Duration=160\r\n", 0, false},
		{"application/dtmf-relay", "Signal=12x", 0, false},
		{"application/dtmf", "", 0, false},
		{"text/plain", "1", 0, false},
		{"", "1", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseInfoDTMF(tc.ct, []byte(tc.body))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseInfoDTMF(%q, %q) = %q, %v", tc.ct, tc.body, got, err)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	offer := buildOffer(42, netip.MustParseAddrPort("127.0.0.1:6000"))
	a, err := parseAnswer(offer)
	if err != nil || a.Remote.String() != "127.0.0.1:6000" || a.Codec != ptPCMU || a.EventType != 101 {
		t.Fatalf("own offer parsed as %+v, %v", a, err)
	}
	sipp := "v=0\r\no=user1 53655765 2353687637 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n" +
		"m=audio 7000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\n"
	a, err = parseAnswer([]byte(sipp))
	if err != nil || a.Remote.String() != "10.0.0.2:7000" || a.Codec != ptPCMA || a.EventType != 96 {
		t.Fatalf("sipp answer parsed as %+v, %v", a, err)
	}
	for _, bad := range []string{
		"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n",
		"v=0\r\nm=audio 5000 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 18\r\n",
		"v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 0\r\n",
		"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n",
	} {
		if a, err := parseAnswer([]byte(bad)); err == nil {
			t.Errorf("parseAnswer(%q) accepted: %+v", bad, a)
		}
	}
}

func FuzzParseRTP(f *testing.F) {
	f.Add(AppendRTP(nil, RTPPacket{PayloadType: 101, Payload: []byte{1, 0x8a, 3, 0x20}}))
	f.Add([]byte{0xb1, 0xe5, 0, 7, 0, 0, 6, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 1, 0x8a, 0, 1, 2})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseRTP(b)
		if err != nil {
			return
		}
		if len(p.Payload) > len(b)-12 {
			t.Fatalf("payload of %d bytes from %d", len(p.Payload), len(b))
		}
		r := dtmfReceiver{payloadType: p.PayloadType}
		_ = r.packet(p)
		if ev, err := ParseDTMFEvent(p.Payload); err == nil {
			want := []byte{p.Payload[0], p.Payload[1] &^ 0x40, p.Payload[2], p.Payload[3]} // R bit is not kept
			if !bytes.Equal(AppendDTMFEvent(nil, ev), want) {
				t.Fatalf("event round trip %+v vs % x", ev, p.Payload[:4])
			}
		}
	})
}

func FuzzParseInfoDTMF(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=1\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Add("application/dtmf-relay; x=\"y\"", []byte("Signal=15"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		d, err := ParseInfoDTMF(ct, body)
		if err == nil && !bytes.ContainsRune([]byte("0123456789*#ABCD"), rune(d)) {
			t.Fatalf("digit %q", d)
		}
	})
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(buildOffer(1, netip.MustParseAddrPort("[::1]:4000")))
	f.Add([]byte("v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio 7000 RTP/AVP 8 96\r\na=rtpmap:96 telephone-event/8000\r\nm=audio 1 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseAnswer(b)
		if err == nil && (a.Remote.Port() == 0 || (a.Codec != ptPCMU && a.Codec != ptPCMA) || a.EventType > 127) {
			t.Fatalf("accepted %+v", a)
		}
	})
}

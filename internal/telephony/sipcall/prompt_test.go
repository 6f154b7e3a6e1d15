package sipcall

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"
)

// rms is the root mean square of samples, 0–32768.
func rms(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

// speechFloor is an RMS well above line noise and well below speech
// normalised to -3 dBFS peak (the shipped prompt is about 4000).
const speechFloor = 1000

// shippedULaw is the data chunk of the embedded prompt-en.wav.
func shippedULaw(t *testing.T) []byte {
	t.Helper()
	i := bytes.Index([]byte(promptWAV), []byte("data"))
	if i < 0 {
		t.Fatal("prompt-en.wav has no data chunk")
	}
	n := binary.LittleEndian.Uint32([]byte(promptWAV[i+4:]))
	return []byte(promptWAV[i+8 : i+8+int(n)])
}

func TestDefaultPrompt(t *testing.T) {
	if len(promptWAV) > 100<<10 {
		t.Errorf("prompt-en.wav is %d bytes, keep it under 100 KB", len(promptWAV))
	}
	p := DefaultPrompt()
	// "This is a login request from Assent. Press 1 to approve. Press any
	// other key to deny." spoken takes 5–7 s; the generator adds 0.35 s.
	if d := time.Duration(len(p.Samples)) * time.Second / sampleRate; d < 5*time.Second || d > 8*time.Second {
		t.Fatalf("prompt of %s", d)
	}
	lead := sampleRate / 5 // the generator keeps 250 ms of silence first
	if r := rms(p.Samples[:lead]); r > 50 {
		t.Errorf("first 200 ms: RMS %.0f, want silence", r)
	}
	if r := rms(p.Samples[lead:]); r < speechFloor {
		t.Errorf("speech RMS %.0f, want at least %d", r, speechFloor)
	}
	// Speech, not a tone: every second of the words has sound in it.
	for sec := 0; (sec+1)*sampleRate <= len(p.Samples)-lead; sec++ {
		if r := rms(p.Samples[lead+sec*sampleRate : lead+(sec+1)*sampleRate]); r < speechFloor/2 {
			t.Errorf("second %d of the speech: RMS %.0f", sec, r)
		}
	}

	// PCMU sends the shipped μ-law bytes unchanged (0x7f, μ-law's negative
	// zero, becomes 0xff, its positive zero).
	file := shippedULaw(t)
	u := p.encode(ptPCMU)
	if len(u) != len(file) {
		t.Fatalf("PCMU: %d bytes from %d", len(u), len(file))
	}
	for i := range u {
		if u[i] != file[i] && !(file[i] == 0x7f && u[i] == 0xff) {
			t.Fatalf("PCMU byte %d: %#x, the file has %#x", i, u[i], file[i])
		}
	}
	// PCMA carries the same samples within A-law's quantisation step
	// (16 below 512, then 1/16 of the magnitude at most).
	for i, c := range p.encode(ptPCMA) {
		s, got := int(p.Samples[i]), int(ALawDecode(c))
		if d := abs(got - s); d > 16+abs(s)/16 {
			t.Fatalf("PCMA sample %d: %d decodes to %d", i, s, got)
		}
	}
	// A second call gets its own copy.
	q := DefaultPrompt()
	q.Samples[lead] ^= 0x100
	if DefaultPrompt().Samples[lead] != p.Samples[lead] {
		t.Error("DefaultPrompt shares its samples between calls")
	}
}

// The callee hears the words: the RTP a loopback peer receives is the
// shipped μ-law audio in order, and loud once the leading silence is over.
func TestSendPromptCarriesSpeech(t *testing.T) {
	for _, codec := range []uint8{ptPCMU, ptPCMA} {
		ours := udp(t, "127.0.0.1:0")
		peer := udp(t, "127.0.0.1:0")
		ans := answer{Remote: netip.MustParseAddrPort(peer.LocalAddr().String()), Codec: codec, EventType: -1}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		p := DefaultPrompt()
		go func() { _ = sendMedia(ctx, ours, ans, p, Extension{}, nil, func() {}); close(done) }()
		heard := receiveAudio(t, peer, codec, 50) // 1 s
		cancel()
		<-done
		if want := p.decoded(codec)[:len(heard)]; !equalSamples(heard, want) {
			t.Errorf("codec %d: the peer heard other audio than the prompt", codec)
		}
		if r := rms(heard[sampleRate/4:]); r < speechFloor {
			t.Errorf("codec %d: RMS %.0f after the leading silence, want speech", codec, r)
		}
	}
}

// receiveAudio reads n G.711 packets of the given payload type from conn
// and returns them decoded, in sequence-number order.
func receiveAudio(t *testing.T, conn *net.UDPConn, codec uint8, n int) []int16 {
	t.Helper()
	got := make(map[uint16][]int16)
	var first uint16
	buf := make([]byte, 1500)
	for i := 0; i < n; i++ {
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		m, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("after %d packets: %v", i, err)
		}
		pk, err := ParseRTP(buf[:m])
		if err != nil || pk.PayloadType != codec {
			t.Fatalf("packet %d: %+v, %v", i, pk, err)
		}
		if pk.Marker {
			first = pk.SequenceNumber
		}
		s := make([]int16, len(pk.Payload))
		for j, c := range pk.Payload {
			if codec == ptPCMA {
				s[j] = ALawDecode(c)
			} else {
				s[j] = ULawDecode(c)
			}
		}
		got[pk.SequenceNumber] = s
	}
	var out []int16
	for i := 0; i < n; i++ {
		s, ok := got[first+uint16(i)]
		if !ok {
			t.Fatalf("packet %d of %d missing", i, n)
		}
		out = append(out, s...)
	}
	return out
}

package sipcall

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Extension is dialled once the callee answers: the extension behind a
// PBX's auto attendant ("Dial the extension now"), as Duo's phone fields
// extension, predelay and postdelay describe it.
type Extension struct {
	// Digits are the keys sent (0–9, *, #); "" dials nothing.
	Digits string
	// Predelay is the wait after the answer, before the first digit (the
	// attendant's greeting); Postdelay the wait after the last digit,
	// before the prompt (the extension ringing and being answered).
	Predelay, Postdelay time.Duration
}

// Bounds of an extension: Duo's 20 keys and an hour of delays at most.
const (
	maxExtensionDigits = 20
	maxExtensionDelay  = time.Hour
)

// Validate reports what makes e impossible to dial.
func (e Extension) Validate() error {
	var errs []error
	if len(e.Digits) > maxExtensionDigits || strings.Trim(e.Digits, "0123456789*#") != "" {
		errs = append(errs, fmt.Errorf("sip: extension %q: want at most %d keys 0-9, * and #", e.Digits, maxExtensionDigits))
	}
	for name, d := range map[string]time.Duration{"predelay": e.Predelay, "postdelay": e.Postdelay} {
		if d < 0 || d > maxExtensionDelay {
			errs = append(errs, fmt.Errorf("sip: extension %s %s: want 0 to %s", name, d, maxExtensionDelay))
		}
	}
	return errors.Join(errs...)
}

// duration is how long dialling e takes after the answer, so the wait for
// the callee's key starts once the prompt does.
func (e Extension) duration() time.Duration {
	if e.Digits == "" {
		return 0
	}
	return e.Predelay + time.Duration(len(e.Digits))*(digitOn+digitOff) + e.Postdelay
}

// Key timing of dialled digits: 100 ms of tone and 100 ms of pause, what
// PBXs detect reliably (ITU-T Q.24 asks for at least 40 ms of each).
const (
	digitOn  = 100 * time.Millisecond
	digitOff = 100 * time.Millisecond
	// dtmfVolume is RFC 4733's power level, -10 dBm0.
	dtmfVolume = 10
)

// eventCode is the RFC 4733 §3.2 code of a DTMF key.
func eventCode(k byte) uint8 {
	switch k {
	case '*':
		return 10
	case '#':
		return 11
	}
	return k - '0'
}

// sendInfo sends one key as SIP INFO (application/dtmf-relay) within the
// dialog: the fallback when the callee takes no telephone-event.
type sendInfo func(ctx context.Context, key byte) error

// rtpSender paces one RTP stream: every packet goes out on a 20 ms tick and
// the timestamp advances with the clock, whatever the packet carries.
type rtpSender struct {
	conn  *net.UDPConn
	dst   *net.UDPAddr
	tick  *time.Ticker
	pkt   RTPPacket
	buf   []byte
	clock uint32 // media time of the next tick
}

const frame = sampleRate / 50 // 160 samples = 20 ms

func newRTPSender(conn *net.UDPConn, ans answer) *rtpSender {
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	ts := binary.BigEndian.Uint32(rnd[2:])
	return &rtpSender{
		conn: conn, dst: net.UDPAddrFromAddrPort(ans.Remote), tick: time.NewTicker(20 * time.Millisecond),
		pkt: RTPPacket{
			PayloadType:    ans.Codec,
			SequenceNumber: binary.BigEndian.Uint16(rnd[0:]),
			SSRC:           binary.BigEndian.Uint32(rnd[6:]),
			Marker:         true,
		},
		buf: make([]byte, 0, 12+frame), clock: ts,
	}
}

// send writes one packet and waits for the next tick; false once ctx ended.
func (s *rtpSender) send(ctx context.Context, pt uint8, ts uint32, marker bool, payload []byte) bool {
	s.pkt.PayloadType, s.pkt.Timestamp, s.pkt.Payload = pt, ts, payload
	s.pkt.Marker = s.pkt.Marker || marker
	s.buf = AppendRTP(s.buf[:0], s.pkt)
	_, _ = s.conn.WriteToUDP(s.buf, s.dst) // a lost packet is a click, not a failure
	s.pkt.Marker = false
	s.pkt.SequenceNumber++
	s.clock += frame
	select {
	case <-ctx.Done():
		return false
	case <-s.tick.C:
		return true
	}
}

// audio sends d of the looped audio starting at *off.
func (s *rtpSender) audio(ctx context.Context, codec uint8, loop []byte, off *int, d time.Duration) bool {
	for n := int(d / (20 * time.Millisecond)); n > 0; n-- {
		if !s.send(ctx, codec, s.clock, false, loop[*off:*off+frame]) {
			return false
		}
		*off = (*off + frame) % (len(loop) - len(loop)%frame)
	}
	return true
}

// digit sends key as an RFC 4733 event: one packet per 20 ms with the
// event's start timestamp and the growing duration, the first marked, then
// the end packet three times (§2.5.1.4) with the whole duration.
func (s *rtpSender) digit(ctx context.Context, eventPT uint8, key byte) bool {
	start := s.clock
	tone := int(digitOn / (20 * time.Millisecond))
	var payload [4]byte
	for i := 1; i <= tone+2; i++ {
		ev := DTMFEvent{Event: eventCode(key), Volume: dtmfVolume, Duration: uint16(min(i, tone) * frame), End: i >= tone}
		if !s.send(ctx, eventPT, start, i == 1, AppendDTMFEvent(payload[:0], ev)) {
			return false
		}
	}
	return true
}

// digitTicks is how many 20 ms ticks digit takes: the tone and two more
// end packets.
const digitTicks = int(digitOn/(20*time.Millisecond)) + 2

// sendMedia is a call's outgoing audio: with an extension, silence for its
// predelay, the digits (RFC 4733 events, or SIP INFO when the callee takes
// no telephone-event) and silence for its postdelay; then arm (keys count
// from now on) and the prompt with a second of silence, again and again
// until ctx ends.
func sendMedia(ctx context.Context, conn *net.UDPConn, ans answer, prompt Prompt, ext Extension, info sendInfo, arm func()) error {
	s := newRTPSender(conn, ans)
	defer s.tick.Stop()
	silence := Prompt{Samples: make([]int16, sampleRate)}.encode(ans.Codec)
	off := 0
	if ext.Digits != "" {
		if !s.audio(ctx, ans.Codec, silence, &off, ext.Predelay) {
			return nil
		}
		for i := 0; i < len(ext.Digits); i++ {
			key := ext.Digits[i]
			pause := digitOn + digitOff
			if ans.EventType >= 0 {
				if !s.digit(ctx, uint8(ans.EventType), key) {
					return nil
				}
				pause -= time.Duration(digitTicks) * 20 * time.Millisecond
			} else if err := info(ctx, key); err != nil {
				return fmt.Errorf("sip: dialling the extension: %w", err)
			}
			if !s.audio(ctx, ans.Codec, silence, &off, pause) {
				return nil
			}
		}
		if !s.audio(ctx, ans.Codec, silence, &off, ext.Postdelay) {
			return nil
		}
		s.pkt.Marker = true // talkspurt after the events
	}
	arm()
	loop := append(prompt.encode(ans.Codec), silence...)
	off = 0
	for s.audio(ctx, ans.Codec, loop, &off, 20*time.Millisecond) {
	}
	return nil
}

// infoSender sends keys as SIP INFO in the dialog of dlg's INVITE, to the
// callee's Contact, as sipgo routes a BYE.
func infoSender(dlg interface {
	Do(context.Context, *sip.Request) (*sip.Response, error)
}, invite *sip.Request, answer *sip.Response) sendInfo {
	return func(ctx context.Context, key byte) error {
		target := invite.Recipient
		if c := answer.Contact(); c != nil {
			target = c.Address
		}
		req := sip.NewRequest(sip.INFO, *target.Clone())
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=%d\r\n", key, digitOn.Milliseconds()))
		ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		defer cancel()
		res, err := dlg.Do(ctx, req)
		if err != nil {
			return fmt.Errorf("INFO: %w", err)
		}
		if res.StatusCode != sip.StatusOK {
			return fmt.Errorf("INFO: %d %s", res.StatusCode, res.Reason)
		}
		return nil
	}
}

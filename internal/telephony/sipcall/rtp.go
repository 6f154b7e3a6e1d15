package sipcall

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RTPPacket is the part of an RTP packet (RFC 3550 §5.1) the engine uses.
type RTPPacket struct {
	PayloadType    uint8
	Marker         bool
	SequenceNumber uint16
	Timestamp      uint32
	SSRC           uint32
	Payload        []byte // aliases the parsed buffer
}

var errRTP = errors.New("rtp: malformed packet")

// ParseRTP parses an RTP packet from untrusted input: version 2, CSRC list,
// header extension and padding are honoured and bounds-checked.
func ParseRTP(b []byte) (RTPPacket, error) {
	var p RTPPacket
	if len(b) < 12 {
		return p, fmt.Errorf("%w: %d bytes", errRTP, len(b))
	}
	if b[0]>>6 != 2 {
		return p, fmt.Errorf("%w: version %d", errRTP, b[0]>>6)
	}
	padding := b[0]&0x20 != 0
	extension := b[0]&0x10 != 0
	cc := int(b[0] & 0x0f)
	p.Marker = b[1]&0x80 != 0
	p.PayloadType = b[1] & 0x7f
	p.SequenceNumber = binary.BigEndian.Uint16(b[2:])
	p.Timestamp = binary.BigEndian.Uint32(b[4:])
	p.SSRC = binary.BigEndian.Uint32(b[8:])
	off := 12 + 4*cc
	if off > len(b) {
		return p, fmt.Errorf("%w: CSRC list", errRTP)
	}
	if extension {
		if off+4 > len(b) {
			return p, fmt.Errorf("%w: extension header", errRTP)
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
		if off > len(b) {
			return p, fmt.Errorf("%w: extension length", errRTP)
		}
	}
	end := len(b)
	if padding {
		if end == off {
			return p, fmt.Errorf("%w: padding", errRTP)
		}
		pad := int(b[end-1])
		if pad == 0 || end-pad < off {
			return p, fmt.Errorf("%w: padding length", errRTP)
		}
		end -= pad
	}
	p.Payload = b[off:end]
	return p, nil
}

// AppendRTP appends the wire form of p (no CSRC, extension or padding).
func AppendRTP(dst []byte, p RTPPacket) []byte {
	var h [12]byte
	h[0] = 0x80
	h[1] = p.PayloadType & 0x7f
	if p.Marker {
		h[1] |= 0x80
	}
	binary.BigEndian.PutUint16(h[2:], p.SequenceNumber)
	binary.BigEndian.PutUint32(h[4:], p.Timestamp)
	binary.BigEndian.PutUint32(h[8:], p.SSRC)
	dst = append(dst, h[:]...)
	return append(dst, p.Payload...)
}

// DTMFEvent is an RFC 4733 §2.3 named telephone event.
type DTMFEvent struct {
	Event    uint8 // 0–9 digits, 10 '*', 11 '#', 12–15 A–D
	End      bool
	Volume   uint8
	Duration uint16
}

// ParseDTMFEvent parses the 4-byte payload of a telephone-event packet.
// Redundant trailing blocks (RFC 4733 §2.5.1.4 allows several events) are
// ignored: the first block is the current one.
func ParseDTMFEvent(payload []byte) (DTMFEvent, error) {
	if len(payload) < 4 {
		return DTMFEvent{}, fmt.Errorf("%w: telephone-event payload of %d bytes", errRTP, len(payload))
	}
	return DTMFEvent{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(payload[2:]),
	}, nil
}

// AppendDTMFEvent appends the 4-byte wire form of e.
func AppendDTMFEvent(dst []byte, e DTMFEvent) []byte {
	b1 := e.Volume & 0x3f
	if e.End {
		b1 |= 0x80
	}
	return append(dst, e.Event, b1, byte(e.Duration>>8), byte(e.Duration))
}

// EventDigit maps an RFC 4733 event code to its DTMF character, or 0 when
// the code is not a DTMF event (RFC 4733 §3.2: 0–15).
func EventDigit(code uint8) byte {
	const digits = "0123456789*#ABCD"
	if int(code) < len(digits) {
		return digits[code]
	}
	return 0
}

// dtmfReceiver turns a stream of telephone-event packets into key presses.
// One key press is reported once: an event is identified by its RTP
// timestamp (RFC 4733 §2.5.1.3: all packets of one event share the start
// timestamp), so retransmitted end packets (§2.5.1.4 sends three) and the
// start/update packets of the same event are not counted twice. A digit is
// reported on the first packet of the event, so a peer that loses its end
// packets still gets through.
type dtmfReceiver struct {
	payloadType uint8
	seen        bool
	lastTS      uint32
	lastSSRC    uint32
}

// packet returns the digit a packet starts, or 0.
func (r *dtmfReceiver) packet(p RTPPacket) byte {
	if p.PayloadType != r.payloadType {
		return 0
	}
	ev, err := ParseDTMFEvent(p.Payload)
	if err != nil {
		return 0
	}
	if r.seen && p.Timestamp == r.lastTS && p.SSRC == r.lastSSRC {
		return 0
	}
	d := EventDigit(ev.Event)
	if d == 0 {
		return 0
	}
	r.seen, r.lastTS, r.lastSSRC = true, p.Timestamp, p.SSRC
	return d
}

package telephony

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf16"
)

// SMPP sends through an SMSC over SMPP 3.4, directly: for each message it
// connects, binds as a transmitter (system_id Username, password
// Password), submits the message (submit_sm, to an international number,
// from From) and unbinds. No Go SMPP library is available to this build,
// so this is the few PDUs a transmitter needs, written from the SMPP 3.4
// specification (§4.1 bind_transmitter, §4.4 submit_sm, §4.2 unbind,
// §4.11 enquire_link); every PDU the SMSC sends is parsed by parsePDU.
type SMPP struct {
	c    Config
	addr string
}

// SMPP command IDs (SMPP 3.4 §5.1.2.1).
const (
	smppGenericNack     = 0x80000000
	smppBindTransmitter = 0x00000002
	smppSubmitSM        = 0x00000004
	smppUnbind          = 0x00000006
	smppEnquireLink     = 0x00000015
	smppDeliverSM       = 0x00000005
	smppResp            = 0x80000000
	smppMaxPDU          = 64 * 1024
	smppMaxShort        = 254
)

// ProviderSMPP names the direct SMPP provider.
const ProviderSMPP = "smpp"

func newSMPP(c Config) (*SMPP, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "smpp" || u.Host == "" || u.Port() == "" {
		return nil, errors.New("telephony: sms_url must be the SMSC's smpp://host:port")
	}
	if c.Username == "" || len(c.Username) > 15 || len(c.Password) > 8 {
		return nil, errors.New("telephony: sms_username (the system_id, at most 15 characters) is required with sms_provider = \"smpp\", and the password has at most 8")
	}
	return &SMPP{c: c, addr: u.Host}, nil
}

// Name is the provider's name in the telephony log.
func (s *SMPP) Name() string { return ProviderSMPP }

// pdu is one SMPP PDU.
type pdu struct {
	id, status, seq uint32
	body            []byte
}

func (p pdu) encode() []byte {
	b := make([]byte, 16, 16+len(p.body))
	binary.BigEndian.PutUint32(b[0:], uint32(16+len(p.body)))
	binary.BigEndian.PutUint32(b[4:], p.id)
	binary.BigEndian.PutUint32(b[8:], p.status)
	binary.BigEndian.PutUint32(b[12:], p.seq)
	return append(b, p.body...)
}

// parsePDU reads one PDU from its bytes (the length included).
func parsePDU(b []byte) (pdu, error) {
	if len(b) < 16 {
		return pdu{}, errors.New("smpp: short PDU")
	}
	n := binary.BigEndian.Uint32(b[0:])
	if n < 16 || int64(n) != int64(len(b)) {
		return pdu{}, fmt.Errorf("smpp: PDU length %d for %d bytes", n, len(b))
	}
	return pdu{id: binary.BigEndian.Uint32(b[4:]), status: binary.BigEndian.Uint32(b[8:]),
		seq: binary.BigEndian.Uint32(b[12:]), body: b[16:]}, nil
}

func readPDU(r io.Reader) (pdu, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return pdu{}, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n < 16 || n > smppMaxPDU {
		return pdu{}, fmt.Errorf("smpp: PDU length %d", n)
	}
	b := make([]byte, n)
	copy(b, head[:])
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return pdu{}, err
	}
	return parsePDU(b)
}

// cstr appends s as a C-Octet String.
func cstr(b []byte, s string) []byte { return append(append(b, s...), 0) }

// encodeText is the short message and its data_coding: the SMSC default
// alphabet (0) for ASCII, UCS2 (8) otherwise.
func encodeText(text string) ([]byte, byte) {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return []byte(text), 0
	}
	u := utf16.Encode([]rune(text))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.BigEndian.PutUint16(b[2*i:], c)
	}
	return b, 8
}

// submitBody is the body of a submit_sm to the E.164 number to.
func (s *SMPP) submitBody(to, text string) []byte {
	msg, coding := encodeText(text)
	var b []byte
	b = cstr(b, "")                    // service_type
	srcTON, srcNPI := byte(5), byte(0) // alphanumeric
	if strings.HasPrefix(s.c.From, "+") {
		srcTON, srcNPI = 1, 1
	}
	b = append(b, srcTON, srcNPI)
	b = cstr(b, strings.TrimPrefix(s.c.From, "+"))
	b = append(b, 1, 1) // dest_addr_ton international, npi ISDN (E.164)
	b = cstr(b, strings.TrimPrefix(to, "+"))
	b = append(b, 0, 0, 0)         // esm_class, protocol_id, priority_flag
	b = cstr(b, "")                // schedule_delivery_time
	b = cstr(b, "")                // validity_period
	b = append(b, 0, 0, coding, 0) // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
	if len(msg) <= smppMaxShort {
		b = append(b, byte(len(msg)))
		return append(b, msg...)
	}
	// Longer: an empty short_message and the message_payload TLV (0x0424).
	b = append(b, 0, 0x04, 0x24, byte(len(msg)>>8), byte(len(msg)))
	return append(b, msg...)
}

// SendSMS sends text to the E.164 number to.
func (s *SMPP) SendSMS(ctx context.Context, to, text string) error {
	if err := checkNumber(to); err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("telephony: smpp: %w", err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("telephony: smpp: %w", err)
	}
	r := bufio.NewReader(conn)
	seq := uint32(0)
	call := func(id uint32, body []byte) (pdu, error) {
		seq++
		if _, err := conn.Write(pdu{id: id, seq: seq, body: body}.encode()); err != nil {
			return pdu{}, err
		}
		for {
			p, err := readPDU(r)
			if err != nil {
				return pdu{}, err
			}
			switch {
			case p.id == id|smppResp && p.seq == seq:
				if p.status != 0 {
					return p, fmt.Errorf("%w: command 0x%08x status 0x%08x", ErrRefused, id, p.status)
				}
				return p, nil
			case p.id == smppGenericNack:
				return p, fmt.Errorf("%w: generic_nack status 0x%08x", ErrRefused, p.status)
			case p.id == smppEnquireLink || p.id == smppDeliverSM:
				// Answer the SMSC's keep-alives and deliveries; go on waiting.
				if _, err := conn.Write(pdu{id: p.id | smppResp, seq: p.seq, body: respBody(p.id)}.encode()); err != nil {
					return pdu{}, err
				}
			}
		}
	}
	var bind []byte
	bind = cstr(bind, s.c.Username)
	bind = cstr(bind, s.c.Password)
	bind = cstr(bind, "") // system_type
	bind = append(bind, 0x34, 0, 0)
	bind = cstr(bind, "") // address_range
	if _, err := call(smppBindTransmitter, bind); err != nil {
		return fmt.Errorf("telephony: smpp bind at %s: %w", s.addr, err)
	}
	if _, err := call(smppSubmitSM, s.submitBody(to, text)); err != nil {
		return fmt.Errorf("telephony: smpp submit_sm to %s: %w", Mask(to), err)
	}
	_, _ = call(smppUnbind, nil) // the message is accepted whatever unbind answers
	return nil
}

// respBody is the body of a response to a request the SMSC sent.
func respBody(id uint32) []byte {
	if id == smppDeliverSM {
		return []byte{0} // message_id: empty C-Octet String
	}
	return nil
}

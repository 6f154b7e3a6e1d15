// Package radiusmsg computes and verifies the RADIUS Message-Authenticator
// attribute (type 80, RFC 3579 §3.2, RFC 2869 §5.14) on top of
// layeh.com/radius, which can only get and set the raw attribute.
//
// Message-Authenticator = HMAC-MD5(secret, Code|Identifier|Length|
// Authenticator|Attributes) with its own 16-byte value zeroed while hashing.
// For Access-Request and Status-Server the Authenticator is the packet's
// random Request Authenticator; for a response it is the Request
// Authenticator of the request it answers (so the HMAC is computed before the
// Response Authenticator, which covers the HMAC); for Accounting-Request,
// Disconnect-Request and CoA-Request it is sixteen zero bytes (RFC 5176 §3.5).
//
// Every function puts Message-Authenticator FIRST among the attributes
// (BlastRADIUS hardening, draft-ietf-radext-deprecating-radius), and every
// comparison is constant-time.
package radiusmsg

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"

	"layeh.com/radius"
)

// Type is the attribute type of Message-Authenticator.
const Type radius.Type = 80

// Size is the length of the Message-Authenticator value.
const Size = 16

const headerLen = 20

// AddRequest places a Message-Authenticator as the first attribute of p, an
// Access-Request or Status-Server, replacing any existing one, and fills it in
// over p's current content. p must not change afterwards (other than being
// encoded): p.Encode() then yields a packet with a valid Message-Authenticator.
// User-Password must already be hidden with p.Authenticator, as the rfc2865
// setters do.
func AddRequest(p *radius.Packet) error {
	switch p.Code {
	case radius.CodeAccessRequest, radius.CodeStatusServer:
	default:
		return fmt.Errorf("radiusmsg: AddRequest on %v: only Access-Request and Status-Server carry their own authenticator", p.Code)
	}
	if len(p.Secret) == 0 {
		return errors.New("radiusmsg: empty secret")
	}
	putFirst(p)
	b, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("radiusmsg: encoding request: %w", err)
	}
	mac := compute(b, p.Authenticator, p.Secret, headerLen)
	copy(p.Attributes[0].Attribute, mac[:])
	return nil
}

// EncodeRequest is AddRequest followed by p.Encode.
func EncodeRequest(p *radius.Packet) ([]byte, error) {
	if err := AddRequest(p); err != nil {
		return nil, err
	}
	return p.Encode()
}

// VerifyRequest checks the Message-Authenticator of a request as received on
// the wire. present reports whether the packet carries the attribute; ok
// whether it is present exactly once, 16 bytes long and correct. A packet that
// cannot be parsed reports (false, false).
func VerifyRequest(raw, secret []byte) (present, ok bool) {
	if len(raw) < headerLen {
		return false, false
	}
	var auth [16]byte
	switch radius.Code(raw[0]) {
	case radius.CodeAccountingRequest, radius.CodeDisconnectRequest, radius.CodeCoARequest:
		// zero authenticator while hashing (RFC 5176 §3.5)
	default:
		copy(auth[:], raw[4:headerLen])
	}
	return verify(raw, auth, secret)
}

// SignResponse encodes resp, a reply to a request whose Request
// Authenticator was reqAuthenticator, with a Message-Authenticator as its
// first attribute (replacing any existing one) and a valid Response
// Authenticator. resp.Secret is the shared secret. resp's Attributes are
// updated to hold the computed Message-Authenticator and its Authenticator is
// set to reqAuthenticator.
func SignResponse(resp *radius.Packet, reqAuthenticator [16]byte) ([]byte, error) {
	switch resp.Code {
	case radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge,
		radius.CodeAccountingResponse, radius.CodeDisconnectACK, radius.CodeDisconnectNAK,
		radius.CodeCoAACK, radius.CodeCoANAK:
	default:
		return nil, fmt.Errorf("radiusmsg: SignResponse on %v: not a response code", resp.Code)
	}
	if len(resp.Secret) == 0 {
		return nil, errors.New("radiusmsg: empty secret")
	}
	resp.Authenticator = reqAuthenticator
	putFirst(resp)
	b, err := resp.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("radiusmsg: encoding response: %w", err)
	}
	mac := compute(b, reqAuthenticator, resp.Secret, headerLen)
	copy(b[headerLen+2:headerLen+2+Size], mac[:])
	copy(resp.Attributes[0].Attribute, mac[:])
	// Response Authenticator = MD5(Code|Id|Length|RequestAuth|Attributes|Secret);
	// b[4:20] still holds the request authenticator here.
	h := md5.New()
	h.Write(b)
	h.Write(resp.Secret)
	h.Sum(b[4:4:headerLen])
	return b, nil
}

// VerifyResponse checks the Message-Authenticator of a response as received
// on the wire, given the Request Authenticator of the request it answers.
// It does not check the Response Authenticator (radius.IsAuthenticResponse
// does). Results as for VerifyRequest.
func VerifyResponse(raw []byte, reqAuthenticator [16]byte, secret []byte) (present, ok bool) {
	return verify(raw, reqAuthenticator, secret)
}

// putFirst removes every Message-Authenticator from p and inserts a zeroed
// one in front.
func putFirst(p *radius.Packet) {
	attrs := make(radius.Attributes, 0, len(p.Attributes)+1)
	attrs = append(attrs, &radius.AVP{Type: Type, Attribute: make(radius.Attribute, Size)})
	for _, a := range p.Attributes {
		if a.Type != Type {
			attrs = append(attrs, a)
		}
	}
	p.Attributes = attrs
}

// verify finds the single Message-Authenticator in raw and compares it with
// the HMAC computed with auth in place of the header authenticator.
func verify(raw []byte, auth [16]byte, secret []byte) (present, ok bool) {
	if len(raw) < headerLen {
		return false, false
	}
	length := int(binary.BigEndian.Uint16(raw[2:4]))
	if length < headerLen || length > radius.MaxPacketLength || length > len(raw) {
		return false, false
	}
	raw = raw[:length] // octets beyond Length are padding (RFC 2865 §3)
	at := -1
	for off := headerLen; off < length; {
		if length-off < 2 {
			return present, false
		}
		l := int(raw[off+1])
		if l < 2 || off+l > length {
			return present, false
		}
		if radius.Type(raw[off]) == Type {
			if present || l != 2+Size {
				return true, false
			}
			present = true
			at = off + 2
		}
		off += l
	}
	if !present || len(secret) == 0 {
		return present, false
	}
	b := make([]byte, length)
	copy(b, raw)
	mac := compute(b, auth, secret, at-2)
	return true, hmac.Equal(mac[:], raw[at:at+Size])
}

// compute returns the HMAC-MD5 of b with its header authenticator replaced by
// auth and the Message-Authenticator value at b[maOff+2:] zeroed. b is
// modified.
func compute(b []byte, auth [16]byte, secret []byte, maOff int) [Size]byte {
	copy(b[4:headerLen], auth[:])
	clear(b[maOff+2 : maOff+2+Size])
	h := hmac.New(md5.New, secret)
	h.Write(b)
	var out [Size]byte
	h.Sum(out[:0])
	return out
}

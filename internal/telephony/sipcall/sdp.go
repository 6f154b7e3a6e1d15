package sipcall

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Payload types offered (RFC 3551 static types and a dynamic type for
// telephone-event, RFC 4733 §7.1.1).
const (
	ptPCMU          = 0
	ptPCMA          = 8
	ptTelephoneDflt = 101
)

// buildOffer writes the SDP offer (RFC 4566, RFC 3264): one audio stream
// with PCMU, PCMA and telephone-event 0-15.
func buildOffer(sessID uint64, addr netip.AddrPort) []byte {
	ipv := "IP4"
	if addr.Addr().Is6() {
		ipv = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\n")
	fmt.Fprintf(&b, "o=assent %d %d IN %s %s\r\n", sessID, sessID, ipv, addr.Addr())
	fmt.Fprintf(&b, "s=Assent\r\n")
	fmt.Fprintf(&b, "c=IN %s %s\r\n", ipv, addr.Addr())
	fmt.Fprintf(&b, "t=0 0\r\n")
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %d %d %d\r\n", addr.Port(), ptPCMU, ptPCMA, ptTelephoneDflt)
	fmt.Fprintf(&b, "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n")
	fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n", ptTelephoneDflt, ptTelephoneDflt)
	fmt.Fprintf(&b, "a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}

// answer is what the engine needs from the SDP answer.
type answer struct {
	Remote    netip.AddrPort // where to send RTP
	Codec     uint8          // ptPCMU or ptPCMA: the first of ours the answer lists
	EventType int            // telephone-event payload type, -1 when not accepted
}

var errSDP = errors.New("sdp: unusable answer")

// parseAnswer reads an SDP answer from untrusted input: the first audio
// stream, its connection address (media-level c= overrides session-level),
// the first codec we offered and the telephone-event payload type.
func parseAnswer(body []byte) (answer, error) {
	a := answer{EventType: -1}
	if len(body) > 16<<10 {
		return a, fmt.Errorf("%w: %d bytes", errSDP, len(body))
	}
	var sessAddr, mediaAddr netip.Addr
	port := -1
	var formats []int
	inAudio, done := false, false
	rtpmap := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() && !done {
		line := strings.TrimRight(sc.Text(), "\r")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'm':
			if port >= 0 { // a second stream ends the first
				done = true
				continue
			}
			f := strings.Fields(v)
			if len(f) < 4 || f[0] != "audio" || !strings.HasPrefix(f[2], "RTP/") {
				inAudio = false
				continue
			}
			p, err := strconv.Atoi(strings.SplitN(f[1], "/", 2)[0])
			if err != nil || p < 0 || p > 65535 {
				return a, fmt.Errorf("%w: media port %q", errSDP, f[1])
			}
			port, inAudio = p, true
			for _, s := range f[3:] {
				if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 128 {
					formats = append(formats, n)
				}
			}
		case 'c':
			f := strings.Fields(v)
			if len(f) < 3 || f[0] != "IN" {
				continue
			}
			ip, err := netip.ParseAddr(strings.SplitN(f[2], "/", 2)[0])
			if err != nil {
				continue
			}
			if inAudio {
				mediaAddr = ip
			} else if port < 0 {
				sessAddr = ip
			}
		case 'a':
			if !inAudio {
				continue
			}
			if rest, ok := strings.CutPrefix(v, "rtpmap:"); ok {
				num, enc, ok := strings.Cut(rest, " ")
				n, err := strconv.Atoi(num)
				if ok && err == nil {
					rtpmap[n] = strings.ToLower(strings.TrimSpace(enc))
				}
			}
		}
	}
	if port <= 0 {
		return a, fmt.Errorf("%w: no accepted audio stream", errSDP)
	}
	addr := mediaAddr
	if !addr.IsValid() {
		addr = sessAddr
	}
	if !addr.IsValid() {
		return a, fmt.Errorf("%w: no connection address", errSDP)
	}
	a.Remote = netip.AddrPortFrom(addr.Unmap(), uint16(port))
	codec := -1
	for _, f := range formats {
		enc := rtpmap[f]
		switch {
		case codec < 0 && (f == ptPCMU && (enc == "" || strings.HasPrefix(enc, "pcmu/"))):
			codec = ptPCMU
		case codec < 0 && (f == ptPCMA && (enc == "" || strings.HasPrefix(enc, "pcma/"))):
			codec = ptPCMA
		case a.EventType < 0 && strings.HasPrefix(enc, "telephone-event/"):
			a.EventType = f
		}
	}
	if codec < 0 {
		return a, fmt.Errorf("%w: neither PCMU nor PCMA accepted", errSDP)
	}
	a.Codec = uint8(codec)
	return a, nil
}

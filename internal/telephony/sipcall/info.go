package sipcall

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"
)

var errInfo = errors.New("sip info: no DTMF digit")

// ParseInfoDTMF extracts the key from the body of a SIP INFO request
// (RFC 6086 transport; the de-facto bodies used by Cisco, Asterisk and
// FreeSWITCH): application/dtmf-relay carries "Signal=1\r\nDuration=160",
// application/dtmf carries the bare key ("1"). The content type is compared
// without parameters and case-insensitively. Untrusted input: bounded size.
func ParseInfoDTMF(contentType string, body []byte) (byte, error) {
	if len(body) > 1024 {
		return 0, fmt.Errorf("%w: body of %d bytes", errInfo, len(body))
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, fmt.Errorf("%w: content type %q: %v", errInfo, contentType, err)
	}
	switch mt {
	case "application/dtmf-relay":
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "signal") {
				continue
			}
			return dtmfKey(strings.TrimSpace(v))
		}
		return 0, fmt.Errorf("%w: no Signal line", errInfo)
	case "application/dtmf":
		return dtmfKey(strings.TrimSpace(string(body)))
	default:
		return 0, fmt.Errorf("%w: content type %s", errInfo, mt)
	}
}

// dtmfKey accepts one DTMF character, or an RFC 4733 event number ("10" is
// '*', "11" '#'), as some gateways send.
func dtmfKey(v string) (byte, error) {
	switch {
	case len(v) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(v[0])):
		return strings.ToUpper(v)[0], nil
	case v == "10" || v == "11" || v == "12" || v == "13" || v == "14" || v == "15":
		return EventDigit(uint8(10 + v[1] - '0')), nil
	}
	return 0, fmt.Errorf("%w: signal %q", errInfo, v)
}

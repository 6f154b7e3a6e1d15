package authevents

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Syslog facilities and severities (RFC 5424 §6.2.1).
const (
	FacilityAuthPriv = 10 // security/authorization messages (private)

	SeverityNotice = 5
	SeverityInfo   = 6
)

// Header is the RFC 5424 header of one message; empty fields are sent as
// the NILVALUE "-".
type Header struct {
	Facility, Severity int
	Time               time.Time
	Hostname           string // at most 255 printable US-ASCII characters
	AppName            string // at most 48
	ProcID             string // at most 128
	MsgID              string // at most 32
}

// SDElement is one STRUCTURED-DATA element: [ID name="value" …].
type SDElement struct {
	ID     string
	Params [][2]string // name, value, in order
}

// Format returns the RFC 5424 SYSLOG-MSG of h, sd and msg. With bom the
// message is marked as UTF-8 by a leading byte-order mark (§6.4); without
// it the message is MSG-ANY. Header fields are cut to their maximum length
// and stripped of characters outside PRINTUSASCII; parameter values are
// escaped (§6.3.3).
func Format(h Header, sd []SDElement, msg string, bom bool) []byte {
	var b strings.Builder
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(h.Facility*8 + h.Severity))
	b.WriteString(">1 ")
	if h.Time.IsZero() {
		b.WriteByte('-')
	} else {
		// TIME-SECFRAC of at most 6 digits; UTC with "Z".
		b.WriteString(h.Time.UTC().Format("2006-01-02T15:04:05.999999Z07:00"))
	}
	for _, f := range []struct {
		v   string
		max int
	}{{h.Hostname, 255}, {h.AppName, 48}, {h.ProcID, 128}, {h.MsgID, 32}} {
		b.WriteByte(' ')
		b.WriteString(headerField(f.v, f.max))
	}
	b.WriteByte(' ')
	if len(sd) == 0 {
		b.WriteByte('-')
	}
	for _, e := range sd {
		b.WriteByte('[')
		b.WriteString(sdName(e.ID))
		for _, p := range e.Params {
			b.WriteByte(' ')
			b.WriteString(sdName(p[0]))
			b.WriteString(`="`)
			b.WriteString(sdEscape(p[1]))
			b.WriteByte('"')
		}
		b.WriteByte(']')
	}
	if msg != "" {
		b.WriteByte(' ')
		if bom {
			b.WriteString("\uFEFF")
		}
		b.WriteString(msg)
	}
	return []byte(b.String())
}

// headerField is v with only PRINTUSASCII (33–126), at most max long, or
// "-" when nothing is left.
func headerField(v string, max int) string {
	out := make([]byte, 0, min(len(v), max))
	for i := 0; i < len(v) && len(out) < max; i++ {
		if c := v[i]; c >= 33 && c <= 126 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return string(out)
}

// sdName is an SD-NAME: at most 32 PRINTUSASCII except = SP ] ".
func sdName(v string) string {
	out := make([]byte, 0, min(len(v), 32))
	for i := 0; i < len(v) && len(out) < 32; i++ {
		if c := v[i]; c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"' {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "x"
	}
	return string(out)
}

// sdEscape escapes '"', '\' and ']' in a PARAM-VALUE and replaces invalid
// UTF-8.
func sdEscape(v string) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
	return r.Replace(v)
}

// Target is where syslog messages go: udp://host:port (one datagram each,
// RFC 5426), tcp://host:port (octet-counted frames, RFC 6587 §3.4.1) or
// unix:///path (a datagram socket such as /dev/log).
type Target struct {
	Network string // udp, tcp or unixgram
	Addr    string
}

// ParseTarget parses the auth_events_syslog setting.
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return Target{}, fmt.Errorf("%q is not a syslog URL (udp://host:514, tcp://host:601 or unix:///dev/log)", s)
	}
	switch u.Scheme {
	case "udp", "tcp":
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return Target{}, fmt.Errorf("%q: give only %s://host:port", s, u.Scheme)
		}
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return Target{}, fmt.Errorf("%q: give the port, e.g. %s://127.0.0.1:%s", s, u.Scheme, map[string]string{"udp": "514", "tcp": "601"}[u.Scheme])
		}
		return Target{Network: u.Scheme, Addr: u.Host}, nil
	case "unix", "unixgram":
		if u.Host != "" || u.Path == "" {
			return Target{}, fmt.Errorf("%q: give an absolute path, e.g. unix:///dev/log", s)
		}
		return Target{Network: "unixgram", Addr: u.Path}, nil
	}
	return Target{}, fmt.Errorf("%q: the scheme must be udp, tcp or unix", s)
}

// syslogWriter sends formatted messages to a Target, reconnecting after
// an error.
type syslogWriter struct {
	t    Target
	conn net.Conn
}

func (w *syslogWriter) write(msg []byte) error {
	if w.conn == nil {
		c, err := net.DialTimeout(w.t.Network, w.t.Addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("syslog %s %s: %w", w.t.Network, w.t.Addr, err)
		}
		w.conn = c
	}
	frame := msg
	if w.t.Network == "tcp" {
		frame = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	_ = w.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := w.conn.Write(frame); err != nil {
		_ = w.conn.Close()
		w.conn = nil
		return fmt.Errorf("syslog %s %s: %w", w.t.Network, w.t.Addr, err)
	}
	return nil
}

func (w *syslogWriter) close() error {
	if w.conn == nil {
		return nil
	}
	return w.conn.Close()
}

package authevents

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// The examples of RFC 5424 §6.5: Format must give them byte for byte.
func TestFormatRFC5424Examples(t *testing.T) {
	t.Parallel()
	ts := time.Date(2003, 10, 11, 22, 14, 15, 3_000_000, time.UTC)
	for _, c := range []struct {
		name string
		h    Header
		sd   []SDElement
		msg  string
		bom  bool
		want string
	}{
		{"example 1", Header{Facility: 4, Severity: 2, Time: ts, Hostname: "mymachine.example.com", AppName: "su", MsgID: "ID47"},
			nil, "'su root' failed for lonvick on /dev/pts/8", true,
			"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF'su root' failed for lonvick on /dev/pts/8"},
		{"example 3", Header{Facility: 20, Severity: 5, Time: ts, Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47"},
			[]SDElement{{ID: "exampleSDID@32473", Params: [][2]string{{"iut", "3"}, {"eventSource", "Application"}, {"eventID", "1011"}}}},
			"An application event log entry...", true,
			"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \uFEFFAn application event log entry..."},
		{"example 4", Header{Facility: 20, Severity: 5, Time: ts, Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47"},
			[]SDElement{{ID: "exampleSDID@32473", Params: [][2]string{{"iut", "3"}, {"eventSource", "Application"}, {"eventID", "1011"}}},
				{ID: "examplePriority@32473", Params: [][2]string{{"class", "high"}}}}, "", false,
			"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]"},
		// §6.3.3: '"', '\' and ']' are escaped in values; header fields
		// lose what is not PRINTUSASCII; empty ones are "-".
		{"escapes", Header{Facility: 10, Severity: 6, Hostname: "a b\tc", AppName: strings.Repeat("x", 60)},
			[]SDElement{{ID: "x@1", Params: [][2]string{{"v", `a"b\c]d`}}}}, "m", false,
			"<86>1 - abc " + strings.Repeat("x", 48) + ` - - [x@1 v="a\"b\\c\]d"] m`},
	} {
		if got := string(Format(c.h, c.sd, c.msg, c.bom)); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in      string
		want    Target
		errPart string
	}{
		{"udp://127.0.0.1:514", Target{"udp", "127.0.0.1:514"}, ""},
		{"tcp://[::1]:601", Target{"tcp", "[::1]:601"}, ""},
		{"unix:///dev/log", Target{"unixgram", "/dev/log"}, ""},
		{"udp://127.0.0.1", Target{}, "port"},
		{"tcp://host:601/x", Target{}, "only"},
		{"unix://dev/log", Target{}, "absolute"},
		{"http://x:1", Target{}, "scheme"},
		{"127.0.0.1:514", Target{}, "not a syslog URL"},
		{"", Target{}, "not a syslog URL"},
	} {
		got, err := ParseTarget(c.in)
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%q: err %v, want one mentioning %q", c.in, err, c.errPart)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func sampleRows() []store.AuthLog {
	ts := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	return []store.AuthLog{
		{TxID: "tx1", Time: ts, IKey: "DIXXXXXXXXXXXXXXXXXX", UserID: "DU1", Username: "alice", Factor: "passcode",
			Result: "allow", Reason: "valid_passcode", IP: "192.0.2.1"},
		{TxID: "tx2", Time: ts.Add(time.Second), Username: "bob", Result: "deny", Reason: "user_not_enrolled"},
	}
}

// syslogRecord is a parsed RFC 5424 message (no structured data).
type syslogRecord struct {
	pri                                   int
	ts, host, app, procid, msgid, sd, msg string
}

func parseSyslog(t *testing.T, b []byte) syslogRecord {
	t.Helper()
	s := string(b)
	var r syslogRecord
	end := strings.IndexByte(s, '>')
	if !strings.HasPrefix(s, "<") || end < 2 || !strings.HasPrefix(s[end+1:], "1 ") {
		t.Fatalf("not an RFC 5424 message: %q", s)
	}
	r.pri, _ = strconv.Atoi(s[1:end])
	f := strings.SplitN(s[end+3:], " ", 7)
	if len(f) != 7 {
		t.Fatalf("missing header fields: %q", s)
	}
	r.ts, r.host, r.app, r.procid, r.msgid, r.sd, r.msg = f[0], f[1], f[2], f[3], f[4], f[5], f[6]
	if _, err := time.Parse(time.RFC3339Nano, r.ts); err != nil {
		t.Errorf("timestamp %q: %v", r.ts, err)
	}
	return r
}

func checkRecords(t *testing.T, recs []syslogRecord) {
	t.Helper()
	rows := sampleRows()
	if len(recs) != len(rows) {
		t.Fatalf("%d records, want %d", len(recs), len(rows))
	}
	for i, r := range recs {
		wantPri := 10*8 + 6
		if rows[i].Result != "allow" {
			wantPri = 10*8 + 5
		}
		if r.pri != wantPri || r.host != "idp.example" || r.app != "assent" || r.procid != strconv.Itoa(os.Getpid()) ||
			r.msgid != "auth" || r.sd != "-" {
			t.Errorf("record %d header: %+v", i, r)
		}
		var e Event
		if err := json.Unmarshal([]byte(r.msg), &e); err != nil {
			t.Fatalf("record %d MSG is not JSON: %v: %q", i, err, r.msg)
		}
		if e != FromLog(rows[i]) {
			t.Errorf("record %d: %+v, want %+v", i, e, FromLog(rows[i]))
		}
	}
}

func writeAll(t *testing.T, o Options) *Sink {
	t.Helper()
	o.Hostname = "idp.example"
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range sampleRows() {
		s.AuthEvent(l)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileJSONLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(`{"earlier":true}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := writeAll(t, Options{File: path})
	if s.Written() != 2 || s.Failed() != 0 || s.Dropped() != 0 {
		t.Errorf("written %d failed %d dropped %d", s.Written(), s.Failed(), s.Dropped())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != `{"earlier":true}` {
		t.Fatalf("file: %q (appended after the earlier line?)", b)
	}
	for i, l := range lines[1:] {
		var e Event
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if e != FromLog(sampleRows()[i]) {
			t.Errorf("line %d: %+v", i, e)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestSyslogUDP(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	writeAll(t, Options{Syslog: "udp://" + pc.LocalAddr().String()})
	checkRecords(t, readDatagrams(t, pc, 2))
}

func TestSyslogUnixgram(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	writeAll(t, Options{Syslog: "unix://" + path})
	checkRecords(t, readDatagrams(t, pc, 2))
}

func readDatagrams(t *testing.T, pc net.PacketConn, n int) []syslogRecord {
	t.Helper()
	var recs []syslogRecord
	buf := make([]byte, 64<<10)
	for range n {
		_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, parseSyslog(t, bytes.Clone(buf[:k])))
	}
	return recs
}

// TCP frames are octet-counted (RFC 6587 §3.4.1): "LEN SP MSG", no
// trailer, so a message may hold newlines.
func TestSyslogTCP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []syslogRecord, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var recs []syslogRecord
		for {
			lenStr, err := r.ReadString(' ')
			if err != nil {
				break
			}
			n, err := strconv.Atoi(strings.TrimSuffix(lenStr, " "))
			if err != nil {
				t.Errorf("frame length %q", lenStr)
				break
			}
			msg := make([]byte, n)
			if _, err := io.ReadFull(r, msg); err != nil {
				t.Errorf("short frame: %v", err)
				break
			}
			recs = append(recs, parseSyslog(t, msg))
		}
		got <- recs
	}()
	writeAll(t, Options{Syslog: "tcp://" + ln.Addr().String()})
	checkRecords(t, <-got)
}

// A receiver that is down costs events (counted), never a wait.
func TestSyslogDownCountsFailures(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := writeAll(t, Options{Syslog: "tcp://" + addr})
	if s.Failed() != 2 || s.Written() != 0 {
		t.Errorf("written %d failed %d", s.Written(), s.Failed())
	}
}

func TestFullQueueDrops(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := Open(Options{Syslog: "udp://" + pc.LocalAddr().String(), Queue: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		s.AuthEvent(sampleRows()[0])
	}
	_ = s.Close()
	if s.Dropped() == 0 || s.Dropped()+s.Written()+s.Failed() != 1000 {
		t.Errorf("written %d failed %d dropped %d", s.Written(), s.Failed(), s.Dropped())
	}
}

// Reopen after the file was renamed (logrotate without copytruncate): the
// events before it are in the old file, those after it in a new one.
func TestReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	s, err := Open(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	rows := sampleRows()
	s.AuthEvent(rows[0])
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	s.AuthEvent(rows[1])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]store.AuthLog{path + ".1": rows[0], path: rows[1]} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil || e != FromLog(want) || bytes.Count(b, []byte("\n")) != 1 {
			t.Errorf("%s: %q (%v)", file, b, err)
		}
	}
	// Without a file, Reopen does nothing.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s2, err := Open(Options{Syslog: "udp://" + pc.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Reopen(); err != nil {
		t.Error(err)
	}
	_ = s2.Close()
	s3, err := Open(Options{File: filepath.Join(dir, "other.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	_ = s3.Close()
	if err := s3.Reopen(); err == nil {
		t.Error("Reopen after Close succeeded")
	}
}

// Package authevents writes authentication events — the rows of the auth
// log, as they are committed — for a SIEM: as JSON lines appended to a
// file (auth_events_file) and/or as RFC 5424 syslog messages
// (auth_events_syslog). The request path only queues an event; one
// goroutine formats and writes. When the queue is full (the file's disk or
// the syslog receiver cannot keep up) events are dropped and counted,
// never waited for.
//
// An auth-log row holds no secret (no passcode, code or key), only who,
// when, how and the result; so do these events.
package authevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Event is one authentication event as written: a JSON object per line in
// the file, the message of a syslog record.
type Event struct {
	Time     time.Time `json:"time"`
	TxID     string    `json:"txid,omitempty"`
	IKey     string    `json:"ikey,omitempty"`
	UserID   string    `json:"user_id,omitempty"`
	Username string    `json:"username,omitempty"`
	Factor   string    `json:"factor,omitempty"`
	Device   string    `json:"device,omitempty"`
	Result   string    `json:"result"`
	Reason   string    `json:"reason,omitempty"`
	IP       string    `json:"ip,omitempty"`
	Hostname string    `json:"hostname,omitempty"`
}

// FromLog is the event of an auth-log row.
func FromLog(l store.AuthLog) Event {
	return Event{Time: l.Time.UTC(), TxID: l.TxID, IKey: l.IKey, UserID: l.UserID, Username: l.Username,
		Factor: l.Factor, Device: l.Device, Result: l.Result, Reason: l.Reason, IP: l.IP, Hostname: l.Hostname}
}

// Options say where events go; at least one of File and Syslog.
type Options struct {
	File   string // JSON lines appended to this file (created 0600)
	Syslog string // a syslog URL, see ParseTarget
	// Hostname is the syslog HOSTNAME; default os.Hostname.
	Hostname string
	Log      *slog.Logger // write errors, at most one line a minute
	// Queue is how many events may wait; default 4096.
	Queue int
}

// Sink writes events in the background. It implements auth.AuthEvents.
type Sink struct {
	q       chan Event
	done    chan struct{}
	dropped atomic.Uint64
	written atomic.Uint64
	failed  atomic.Uint64
	closed  sync.Once

	file     *os.File
	path     string
	reopen   chan chan error // see Reopen
	syslog   *syslogWriter
	hostname string
	pid      string
	log      *slog.Logger
	lastWarn time.Time
}

// Open opens the file and checks the syslog URL, then starts writing.
func Open(o Options) (*Sink, error) {
	if o.File == "" && o.Syslog == "" {
		return nil, errors.New("authevents: neither a file nor a syslog target")
	}
	queue := o.Queue
	if queue <= 0 {
		queue = 4096
	}
	s := &Sink{q: make(chan Event, queue), done: make(chan struct{}), hostname: o.Hostname,
		pid: strconv.Itoa(os.Getpid()), log: o.Log, path: o.File, reopen: make(chan chan error)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hostname == "" {
		s.hostname, _ = os.Hostname()
	}
	if o.Syslog != "" {
		t, err := ParseTarget(o.Syslog)
		if err != nil {
			return nil, fmt.Errorf("auth_events_syslog: %w", err)
		}
		s.syslog = &syslogWriter{t: t}
	}
	if o.File != "" {
		f, err := openFile(o.File)
		if err != nil {
			return nil, err
		}
		s.file = f
	}
	go s.run()
	return s, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth_events_file: %w", err)
	}
	return f, nil
}

// Reopen closes auth_events_file and opens it again by its name, after
// the events queued before it are written: logrotate's "create" mode (the
// file was renamed) on SIGHUP. On an error the old file is kept. After
// Close it fails.
func (s *Sink) Reopen() error {
	if s.path == "" {
		return nil
	}
	done := make(chan error, 1)
	select {
	case s.reopen <- done:
		return <-done
	case <-s.done:
		return errors.New("auth_events_file: closed")
	}
}

// AuthEvent queues the event of a committed auth-log row, or drops it
// when the queue is full.
func (s *Sink) AuthEvent(l store.AuthLog) {
	select {
	case s.q <- FromLog(l):
	default:
		s.dropped.Add(1)
	}
}

// Written, Failed and Dropped count events written (to every target),
// events a target failed to take, and events dropped with a full queue.
func (s *Sink) Written() uint64 { return s.written.Load() }
func (s *Sink) Failed() uint64  { return s.failed.Load() }
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Close writes the events queued and closes the targets. AuthEvent must
// not be called after it.
func (s *Sink) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.q)
		<-s.done
		if s.file != nil {
			err = s.file.Close()
		}
		if s.syslog != nil {
			err = errors.Join(err, s.syslog.close())
		}
	})
	return err
}

func (s *Sink) run() {
	defer close(s.done)
	for {
		var (
			e  Event
			ok bool
		)
		select {
		case e, ok = <-s.q:
		case done := <-s.reopen:
			done <- s.reopenFile()
			continue
		}
		if !ok {
			return
		}
		s.write(e)
	}
}

// reopenFile writes what is queued, then swaps the file.
func (s *Sink) reopenFile() error {
	for n := len(s.q); n > 0; n-- {
		if e, ok := <-s.q; ok {
			s.write(e)
		}
	}
	f, err := openFile(s.path)
	if err != nil {
		return err
	}
	old := s.file
	s.file = f
	return old.Close()
}

// write writes e to every target and counts it.
func (s *Sink) write(e Event) {
	line, err := json.Marshal(e)
	if err != nil { // cannot happen: strings and a time
		s.failed.Add(1)
		return
	}
	ok := true
	if s.file != nil {
		if _, err := s.file.Write(append(line, '\n')); err != nil {
			ok = false
			s.warn(err)
		}
	}
	if s.syslog != nil {
		if err := s.syslog.write(s.syslogMessage(e, line)); err != nil {
			// One retry on a new connection: a TCP receiver restarted.
			if err = s.syslog.write(s.syslogMessage(e, line)); err != nil {
				ok = false
				s.warn(err)
			}
		}
	}
	if ok {
		s.written.Add(1)
	} else {
		s.failed.Add(1)
	}
}

// syslogMessage is e as an RFC 5424 message: facility authpriv, severity
// info for an allow and notice otherwise, APP-NAME assent, MSGID auth, the
// JSON object as MSG.
func (s *Sink) syslogMessage(e Event, line []byte) []byte {
	sev := SeverityNotice
	if e.Result == "allow" {
		sev = SeverityInfo
	}
	return Format(Header{Facility: FacilityAuthPriv, Severity: sev, Time: e.Time, Hostname: s.hostname,
		AppName: "assent", ProcID: s.pid, MsgID: "auth"}, nil, string(line), false)
}

// warn logs a write error at most once a minute.
func (s *Sink) warn(err error) {
	if now := time.Now(); now.Sub(s.lastWarn) >= time.Minute {
		s.lastWarn = now
		s.log.Warn("auth events: write failed; events are counted in assent_auth_events_total{result=\"failed\"}", "err", err)
	}
}

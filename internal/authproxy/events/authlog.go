// Package events records what the authentication proxy decided: the
// auth-events log (one JSON object per line, like the Duo Authentication
// Proxy's authevents.log, so existing log shippers and SIEM parsers keep
// working) and Prometheus metrics on a registry of their own.
package events

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Authentication stages, as Duo's authevents.log names them.
const (
	StagePrimary   = "Primary authentication"
	StageSecondary = "Secondary authentication"
	StageUnknown   = "Unknown"
)

// Statuses, as Duo's authevents.log names them.
const (
	StatusAllow  = "Allow"
	StatusReject = "Reject"
	StatusError  = "Error"
)

// AuthEvent is one line of the auth-events log.
type AuthEvent struct {
	Time              time.Time
	Msg               string
	Username          string
	AuthStage         string // StagePrimary, StageSecondary or StageUnknown
	Status            string // StatusAllow, StatusReject or StatusError
	ClientIP          string
	ServerSection     string
	ServerSectionIKey string
	Factor            string
	Hostname          string
}

// timeLayout is the timestamp form of Duo's log: UTC, microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// line is the JSON shape. Keys are always present, in Duo's order; empty
// values are null, as in Duo's file, so parsers that test for null work.
type line struct {
	Timestamp         string  `json:"timestamp"`
	Msg               *string `json:"msg"`
	Username          *string `json:"username"`
	AuthStage         string  `json:"auth_stage"`
	Status            string  `json:"status"`
	ClientIP          *string `json:"client_ip"`
	ServerSection     *string `json:"server_section"`
	ServerSectionIKey *string `json:"server_section_ikey"`
	Factor            *string `json:"factor"`
	Hostname          *string `json:"hostname"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalJSON writes the event as one authevents.log object.
func (e AuthEvent) MarshalJSON() ([]byte, error) {
	stage := e.AuthStage
	if stage == "" {
		stage = StageUnknown
	}
	return json.Marshal(line{
		Timestamp:         e.Time.UTC().Format(timeLayout),
		Msg:               orNull(e.Msg),
		Username:          orNull(e.Username),
		AuthStage:         stage,
		Status:            e.Status,
		ClientIP:          orNull(e.ClientIP),
		ServerSection:     orNull(e.ServerSection),
		ServerSectionIKey: orNull(e.ServerSectionIKey),
		Factor:            orNull(e.Factor),
		Hostname:          orNull(e.Hostname),
	})
}

// AuthLog writes auth events, one JSON object per line. It is safe for
// concurrent use; each event is written with a single Write call, so a
// rotating file never splits a line.
type AuthLog struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewAuthLog writes events to w (usually a *RotatingFile).
func NewAuthLog(w io.Writer) *AuthLog {
	return &AuthLog{w: w, now: time.Now}
}

// Write records one event; a zero Time is set to now.
func (l *AuthLog) Write(e AuthEvent) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("auth events: encoding: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("auth events: %w", err)
	}
	return nil
}

package authproxy

import (
	"log/slog"
	"time"

	"github.com/assent-auth/assent/internal/authproxy/events"
	"github.com/assent-auth/assent/internal/authproxy/radiusd"
)

// observer turns what the RADIUS servers report into auth-event lines and
// metrics. One observer serves every socket.
type observer struct {
	log     *slog.Logger
	authLog *events.AuthLog // nil: log_auth_events is off
	metrics *events.Metrics
}

var _ radiusd.Observer = (*observer)(nil)

// Stage labels of the latency histogram.
const (
	stagePrimary = "primary"
	stagePreauth = "preauth"
	stageAuth    = "auth"
	stageTotal   = "total"
)

func (o *observer) Observe(e radiusd.Event) {
	o.metrics.Request(e.ServerSection, e.Result)
	for _, st := range []struct {
		name string
		d    time.Duration
	}{{stagePrimary, e.Primary}, {stagePreauth, e.Preauth}, {stageAuth, e.Auth}, {stageTotal, e.Total}} {
		if st.d > 0 {
			o.metrics.Stage(e.ServerSection, st.name, st.d)
		}
	}
	if e.FailOpen {
		o.metrics.FailOpen(e.ServerSection)
	}
	// A challenge decides nothing yet; Duo's file records decisions only.
	if o.authLog == nil || e.Status == "" {
		return
	}
	err := o.authLog.Write(events.AuthEvent{
		Time:              e.Time,
		Msg:               e.Msg,
		Username:          e.Username,
		AuthStage:         e.AuthStage,
		Status:            e.Status,
		ClientIP:          e.ClientIP,
		ServerSection:     e.ServerSection,
		ServerSectionIKey: e.ServerSectionIKey,
		Factor:            e.Factor,
		Hostname:          e.Hostname,
	})
	if err != nil {
		o.log.Error("cannot write the auth-events log", "err", err, "request_id", e.RequestID)
	}
}

func (o *observer) Dropped(reason string)       { o.metrics.Dropped(reason) }
func (o *observer) Duplicate(kind string)       { o.metrics.Duplicate(kind) }
func (o *observer) PendingChallenges(n int)     { o.metrics.SetPendingChallenges(n) }
func (o *observer) StatusServer(section string) { o.metrics.StatusServer(section) }

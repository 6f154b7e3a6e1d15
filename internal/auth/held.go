package auth

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-auth/assent/internal/logthrottle"
)

// DefaultMaxHeldRequests bounds the requests the core holds at once.
const DefaultMaxHeldRequests = 10000

// heldRetryAfter is what a request refused for the cap is told: held
// requests end within a push timeout or a status wait, most much sooner.
const heldRetryAfter = 5 * time.Second

// heldWarnEvery paces the warning about refused held requests.
const heldWarnEvery = 10 * time.Second

// HeldStats describes the requests the core holds while they wait for a
// device (synchronous pushes, auth_status long polls).
type HeldStats struct {
	Open    int    // held now
	Max     int    // the cap; 0 when there is none
	Refused uint64 // refused for the cap since the start
}

// heldGate counts held requests against Options.MaxHeldRequests. Each one
// keeps a goroutine, a connection and a broker subscription, so a flood of
// them could exhaust the server although every single one is legitimate.
type heldGate struct {
	open    atomic.Int64
	refused atomic.Uint64

	warnOnce sync.Once
	warn     *logthrottle.Logger
}

// hold reserves a place for a request about to wait, or refuses it with
// KindRateLimited when the cap is reached. The place is given back by its
// release (once, however often it is called), or by whoever took it over.
func (s *Service) hold() (*heldPlace, error) {
	g, limit := &s.held, int64(s.opts.MaxHeldRequests)
	for {
		n := g.open.Load()
		if limit > 0 && n >= limit {
			g.refused.Add(1)
			g.warnOnce.Do(func() { g.warn = logthrottle.New(s.opts.Logger, heldWarnEvery) })
			g.warn.Warn("held", "held requests at their limit: refusing more with 429",
				slog.Int64("max_held_requests", limit))
			return nil, rateLimited("too many requests are waiting for an answer; try again later", heldRetryAfter)
		}
		if g.open.CompareAndSwap(n, n+1) {
			return &heldPlace{g: g}, nil
		}
	}
}

// heldPlace is one place counted against MaxHeldRequests.
type heldPlace struct {
	g     *heldGate
	freed atomic.Bool
}

// release gives the place back, once.
func (p *heldPlace) release() {
	if p != nil && p.freed.CompareAndSwap(false, true) {
		p.g.open.Add(-1)
	}
}

// take hands the place over to a wait that outlives the caller: the
// returned place is released on its own, p's release becomes a no-op.
func (p *heldPlace) take() *heldPlace {
	if p == nil || !p.freed.CompareAndSwap(false, true) {
		return nil
	}
	return &heldPlace{g: p.g}
}

// HeldRequests reports the requests held now and those refused so far.
func (s *Service) HeldRequests() HeldStats {
	return HeldStats{Open: int(s.held.open.Load()), Max: max(s.opts.MaxHeldRequests, 0), Refused: s.held.refused.Load()}
}

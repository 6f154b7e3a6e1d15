package radiusd

import (
	"net/netip"
	"sync"
	"time"
)

// dropLog rate-limits the warnings about dropped packets to one line per
// reason and client address per interval: a NAS that retries a refused
// request every few seconds, or a flood from many ports of one address,
// cannot fill the log, yet every client that is refused shows up at once.
// The metrics still count every packet. Memory is bounded by max entries.
type dropLog struct {
	every time.Duration
	max   int

	mu sync.Mutex
	m  map[dropLogKey]*dropLogEntry
}

type dropLogKey struct {
	reason string
	addr   netip.Addr // zero when the source is unknown
}

type dropLogEntry struct {
	next       time.Time // no line before this
	suppressed int       // lines not written since the last one
}

// dropLogMax bounds the entries kept (one per reason and client address).
const dropLogMax = 10000

func newDropLog(every time.Duration) *dropLog {
	return &dropLog{every: every, max: dropLogMax, m: map[dropLogKey]*dropLogEntry{}}
}

// allow reports whether a line about reason and addr may be written now,
// and how many lines were suppressed since the last one written.
func (d *dropLog) allow(reason string, addr netip.Addr, now time.Time) (ok bool, suppressed int) {
	k := dropLogKey{reason: reason, addr: addr}
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.m[k]
	if e != nil && now.Before(e.next) {
		e.suppressed++
		return false, 0
	}
	if e == nil {
		if len(d.m) >= d.max {
			d.sweepLocked(now)
			if len(d.m) >= d.max {
				clear(d.m) // forgets some suppressed counts rather than grow
			}
		}
		e = &dropLogEntry{}
		d.m[k] = e
	}
	suppressed = e.suppressed
	e.next, e.suppressed = now.Add(d.every), 0
	return true, suppressed
}

// sweep forgets entries whose interval is over and that have nothing to
// report: the next packet of theirs is logged at once, as it would be.
func (d *dropLog) sweep(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweepLocked(now)
}

func (d *dropLog) sweepLocked(now time.Time) {
	for k, e := range d.m {
		if !now.Before(e.next) && e.suppressed == 0 {
			delete(d.m, k)
		}
	}
}

package radiusd

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"sync"
	"time"

	"layeh.com/radius"
)

// pendingKind is what an Access-Challenge asked for.
type pendingKind int

const (
	pendingPasscode pendingKind = iota + 1 // auto mode: "Enter passcode:"
	pendingPrompt                          // challenge mode: the factor menu
	pendingEnroll                          // challenge mode: enrollment text
)

// pending is an outstanding Access-Challenge (spec §4.4): bound to the
// section, source IP and User-Name, single use.
type pending struct {
	kind     pendingKind
	sec      *Section
	src      netip.Addr
	user     string
	expires  time.Time
	attrs    radius.Attributes // primary attributes for the final Accept
	mschap   bool
	client   string
	factors  map[string]string // prompt: menu keys → factor names
	promptRM string            // prompt: the Reply-Message, re-issued after sms
	txid     string            // prompt: the preauth's Verified Push txid
}

var errStoreFull = errors.New("too many pending challenges")

// stateStore holds pending challenges by State value.
type stateStore struct {
	mu  sync.Mutex
	m   map[string]*pending
	max int
	// lastFullSweep rate-limits the O(n) sweep a full store triggers, so a
	// flood of logins cannot turn each put into a scan of the whole map.
	lastFullSweep time.Time
}

func newStateStore(max int) *stateStore {
	return &stateStore{m: map[string]*pending{}, max: max}
}

// newState is 44 characters of base64 over 33 random bytes.
func newState() string {
	var b [33]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.StdEncoding.EncodeToString(b[:])
}

// put stores p under a fresh State. When the store is full it first drops
// expired entries; if still full the challenge is refused.
func (s *stateStore) put(p *pending, now time.Time) (string, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		if now.Sub(s.lastFullSweep) >= time.Second {
			s.lastFullSweep = now
			s.sweepLocked(now)
		}
		if len(s.m) >= s.max {
			return "", len(s.m), errStoreFull
		}
	}
	st := newState()
	s.m[st] = p
	return st, len(s.m), nil
}

// take returns and removes the challenge for state if it exists, has not
// expired, and was issued to the same section, source IP and user. A
// mismatch leaves the entry in place, so a forged reply from elsewhere
// cannot cancel the real user's login.
func (s *stateStore) take(state string, sec *Section, src netip.Addr, user string, now time.Time) (*pending, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[state]
	if !ok {
		return nil, len(s.m), false
	}
	if !now.Before(p.expires) {
		delete(s.m, state)
		return nil, len(s.m), false
	}
	if p.sec != sec || p.src != src || p.user != user {
		return nil, len(s.m), false
	}
	delete(s.m, state)
	return p, len(s.m), true
}

func (s *stateStore) sweep(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	return len(s.m)
}

func (s *stateStore) sweepLocked(now time.Time) {
	for k, p := range s.m {
		if !now.Before(p.expires) {
			delete(s.m, k)
		}
	}
}

package auth

import (
	"sync/atomic"

	"github.com/assent-auth/assent/internal/store"
)

// AuthEvents is told of every auth-log row once the transaction that wrote
// it has committed (a decision retried after a conflict is told once). It
// must return at once: it runs on the request's goroutine (see
// internal/authevents, which writes them as JSON lines or syslog).
type AuthEvents interface {
	AuthEvent(l store.AuthLog)
}

// AuthFactors are the factor labels of Stats.Results: the factors the
// auth log records ("none": a decision before any factor, e.g. preauth or
// a locked-out user; "other": a factor this list misses).
var AuthFactors = [...]string{"none", FactorPasscode, factorPushLog, factorBypassCode, factorDuoMobile,
	factorTOTPApp, factorHardware, factorYubiKeyCode, FactorWebAuthn, "other"}

// AuthResults are the result labels of Stats.Results.
var AuthResults = [...]string{ResultAllow, ResultDeny, "other"}

// PushOutcomes are the outcome labels of Stats.Pushes.
var PushOutcomes = [...]string{"sent", "approved", "denied", "fraud", "timeout"}

// Stats are the core's counters, read by the metrics (internal/server).
// Each is an atomic counter: counting costs a request an increment.
type Stats struct {
	results  [len(AuthFactors)][len(AuthResults)]atomic.Uint64
	pushes   [len(PushOutcomes)]atomic.Uint64
	lockouts atomic.Uint64
}

// Results is the count of auth-log rows with factor AuthFactors[f] and
// result AuthResults[r].
func (st *Stats) Results(f, r int) uint64 { return st.results[f][r].Load() }

// Pushes is the count of pushes with outcome PushOutcomes[o].
func (st *Stats) Pushes(o int) uint64 { return st.pushes[o].Load() }

// Lockouts is how many times a user was locked out (failed attempts at
// the threshold, or a push marked as fraud with FraudLockout).
func (st *Stats) Lockouts() uint64 { return st.lockouts.Load() }

// factorIndex is the index of a logged factor in AuthFactors.
func factorIndex(f string) int {
	switch f {
	case "":
		return 0
	case FactorPasscode:
		return 1
	case factorPushLog:
		return 2
	case factorBypassCode:
		return 3
	case factorDuoMobile:
		return 4
	case factorTOTPApp:
		return 5
	case factorHardware:
		return 6
	case factorYubiKeyCode:
		return 7
	case FactorWebAuthn:
		return 8
	}
	return len(AuthFactors) - 1 // "other"
}

func resultIndex(r string) int {
	switch r {
	case ResultAllow:
		return 0
	case ResultDeny:
		return 1
	}
	return 2
}

const (
	pushSent = iota
	pushApproved
	pushDenied
	pushFraud
	pushTimeout
)

// pushOutcome is the PushOutcomes index of a decided push's reason.
func pushOutcome(reason string) int {
	switch reason {
	case ReasonUserApproved:
		return pushApproved
	case ReasonUserMarkedFraud:
		return pushFraud
	case ReasonNoResponse:
		return pushTimeout
	}
	return pushDenied
}

// Stats are the service's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// logged counts a committed auth-log row and hands it to Options.Events.
func (s *Service) logged(l *store.AuthLog) {
	s.stats.results[factorIndex(l.Factor)][resultIndex(l.Result)].Add(1)
	if s.opts.Events != nil {
		s.opts.Events.AuthEvent(*l)
	}
}

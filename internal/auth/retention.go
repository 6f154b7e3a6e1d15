package auth

import (
	"context"
	"time"
)

// Retention defaults.
const (
	// DefaultRetainTransactions is how long push transactions and
	// activation codes are kept after they expire (auth_status and
	// enroll_status answer for them meanwhile).
	DefaultRetainTransactions = 7 * 24 * time.Hour
	// DefaultPurgeInterval is how often RunPurger purges.
	DefaultPurgeInterval = time.Hour
	// purgeFirstDelay is how soon after start RunPurger first purges (at
	// most; sooner when the interval is shorter).
	purgeFirstDelay = time.Minute
	// purgeBatch is how many rows one purge statement deletes at most, so
	// that requests waiting for the (SQLite: single) writer wait little.
	purgeBatch = 500
)

// Purged counts the rows a purge deleted.
type Purged struct {
	Transactions  int // push transactions expired longer ago than the retention
	Activations   int // activation codes expired longer ago than the retention
	OnetimeTokens int // expired portal links, authorization codes, assertion IDs
	AuthLog       int // auth-log rows older than their retention (if one is set)
	AdminSessions int // console sessions past their idle or absolute timeout
	UserSessions  int // self-service portal sessions past their timeouts
}

// Total is the number of rows deleted.
func (p Purged) Total() int {
	return p.Transactions + p.Activations + p.OnetimeTokens + p.AuthLog + p.AdminSessions + p.UserSessions
}

// Purge deletes what has outlived its use, so the database does not grow
// forever: transactions and activation codes that expired more than
// Options.RetainTransactions ago, expired one-time tokens, and (only when
// Options.RetainAuthLog is set) auth-log rows older than that. Every
// answered request keeps its auth-log row for as long as the setting says.
// It deletes in batches; on an error it returns what it deleted so far.
func (s *Service) Purge(ctx context.Context) (Purged, error) {
	now := s.now()
	var (
		p   Purged
		err error
	)
	if r := s.opts.RetainTransactions; r > 0 {
		before := now.Add(-r)
		if p.Transactions, err = purgeBatches(ctx, func(n int) (int, error) { return s.st.PurgeTransactions(ctx, before, n) }); err != nil {
			return p, wrap("purge transactions", err)
		}
		if p.Activations, err = purgeBatches(ctx, func(n int) (int, error) { return s.st.PurgeActivations(ctx, before, n) }); err != nil {
			return p, wrap("purge activations", err)
		}
	}
	if p.OnetimeTokens, err = purgeBatches(ctx, func(n int) (int, error) { return s.st.PurgeOnetime(ctx, now, n) }); err != nil {
		return p, wrap("purge one-time tokens", err)
	}
	created, seen := now.Add(-s.opts.AdminSessionTimeout), now.Add(-s.opts.AdminIdleTimeout)
	if p.AdminSessions, err = purgeBatches(ctx, func(n int) (int, error) { return s.st.PurgeAdminSessions(ctx, created, seen, n) }); err != nil {
		return p, wrap("purge admin sessions", err)
	}
	if p.UserSessions, err = purgeBatches(ctx, func(n int) (int, error) { return s.st.PurgeUserSessions(ctx, created, seen, n) }); err != nil {
		return p, wrap("purge user sessions", err)
	}
	if r := s.opts.RetainAuthLog; r > 0 {
		before := now.Add(-r)
		if p.AuthLog, err = purgeBatches(ctx, func(n int) (int, error) { return s.st.PurgeAuthLog(ctx, before, n) }); err != nil {
			return p, wrap("purge auth log", err)
		}
	}
	return p, nil
}

// purgeBatches calls purge until a batch comes back short.
func purgeBatches(ctx context.Context, purge func(limit int) (int, error)) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := purge(purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

// RunPurger purges shortly after it starts and then every
// Options.PurgeInterval, logging how many rows went, until ctx ends. The
// server runs it beside its listener; several nodes may run it at once.
func (s *Service) RunPurger(ctx context.Context) {
	t := time.NewTimer(min(purgeFirstDelay, s.opts.PurgeInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, err := s.Purge(ctx)
		if ctx.Err() != nil {
			return
		}
		log := s.opts.Logger.Debug
		if p.Total() > 0 {
			log = s.opts.Logger.Info
		}
		log("purged expired rows", "transactions", p.Transactions, "activations", p.Activations,
			"onetime_tokens", p.OnetimeTokens, "auth_log", p.AuthLog)
		if err != nil {
			s.opts.Logger.Warn("purge failed; retrying at the next interval", "err", err)
		}
		t.Reset(s.opts.PurgeInterval)
	}
}

package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// settingPushLimit is the store setting that, once an owner sets it in the
// console, overrides the configured rate_limit_pushes_per_user on every
// node: "N/duration" or "off".
const settingPushLimit = "push_limit_per_user"

// pushLimitCache is the pushes-per-user limit in force: the store setting
// if set, else the configured limit (Options.Limits, SetLimits on reload).
// It is re-read at most every thresholdRefresh, like the lockout threshold.
type pushLimitCache struct {
	mu         sync.Mutex
	configured ratelimit.Limit
	setting    string // "" when unset; else as stored
	read       time.Time
}

// PushLimit is the pushes-per-user limit in force, as "N/duration" or
// "off", and whether it is the store setting (else the configuration's).
func (s *Service) PushLimit(ctx context.Context) (string, bool) {
	s.refreshPushLimit(ctx)
	c := &s.pushLimit
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.setting != "" {
		return c.setting, true
	}
	per := (c.configured.Every * time.Duration(c.configured.Burst)).Round(time.Millisecond)
	return ratelimit.FormatRate(c.configured.Burst, per), false
}

// SetPushLimit sets the pushes-per-user limit for every node ("N/duration"
// or "off"), or clears the setting with "" so the configuration's holds
// again; in one transaction with its administrator-log row.
func (s *Service) SetPushLimit(ctx context.Context, rate string) error {
	if rate != "" {
		if _, _, err := ratelimit.ParseRate(rate); err != nil {
			return invalid("push_limit_per_user", err.Error())
		}
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		// "" is stored too: it reads as unset on every node.
		if err := q.PutSetting(ctx, settingPushLimit, rate); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "customer_update", "settings", map[string]any{"push_limit_per_user": rate})
	})
	if err != nil {
		return wrap("set push limit", err)
	}
	c := &s.pushLimit
	c.mu.Lock()
	c.setting, c.read = rate, s.opts.Now()
	c.mu.Unlock()
	s.applyPushLimit()
	s.opts.Logger.Info("push limit set", "push_limit_per_user", rate)
	return nil
}

// refreshPushLimit re-reads the setting when the cached value is older
// than thresholdRefresh; a failed read keeps the previous value.
func (s *Service) refreshPushLimit(ctx context.Context) {
	now := s.opts.Now()
	c := &s.pushLimit
	c.mu.Lock()
	fresh := !c.read.IsZero() && now.Sub(c.read) < thresholdRefresh && !now.Before(c.read)
	c.mu.Unlock()
	if fresh {
		return
	}
	v, err := s.st.GetSetting(ctx, settingPushLimit)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v = ""
	case err != nil:
		s.log(ctx).Warn("reading the push limit setting", "err", err)
		return
	}
	if _, _, perr := ratelimit.ParseRate(v); v != "" && perr != nil {
		s.log(ctx).Warn("ignoring an invalid push limit setting", "value", v, "err", perr)
		v = ""
	}
	c.mu.Lock()
	changed := c.setting != v
	c.setting, c.read = v, now
	c.mu.Unlock()
	if changed {
		s.applyPushLimit()
	}
}

// setConfiguredPushLimit records the configuration's limit (at start and
// on reload) and applies whichever limit is in force.
func (s *Service) setConfiguredPushLimit(l ratelimit.Limit) {
	c := &s.pushLimit
	c.mu.Lock()
	c.configured = l
	c.mu.Unlock()
	s.applyPushLimit()
}

// applyPushLimit gives the push limiter the limit in force.
func (s *Service) applyPushLimit() {
	c := &s.pushLimit
	c.mu.Lock()
	l := c.configured
	if c.setting != "" {
		if n, per, err := ratelimit.ParseRate(c.setting); err == nil {
			l = ratelimit.RateOf(n, per)
		}
	}
	c.mu.Unlock()
	s.lim.pushes.SetLimit(l)
}

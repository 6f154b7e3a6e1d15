package auth

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// settingLockoutThreshold is the store setting that, once set through the
// Admin API (POST /admin/v1/settings), overrides the configured lockout
// threshold on every node.
const settingLockoutThreshold = "lockout_threshold"

// thresholdRefresh is how often a node re-reads the setting: a change made
// on another node holds here within this time.
const thresholdRefresh = 10 * time.Second

// thresholdCache is the lockout threshold in force: the store setting if
// set, else Options.LockoutThreshold.
type thresholdCache struct {
	mu   sync.Mutex
	val  int       // 0: not read yet
	read time.Time // when val was read
}

// refreshThreshold re-reads the setting when the cached value is older
// than thresholdRefresh. It runs before a decision's write transaction,
// never inside it; a failed read keeps the previous value.
func (s *Service) refreshThreshold(ctx context.Context) {
	now := s.opts.Now()
	c := &s.threshold
	c.mu.Lock()
	fresh := c.val != 0 && now.Sub(c.read) < thresholdRefresh && !now.Before(c.read)
	c.mu.Unlock()
	if fresh {
		return
	}
	val := s.opts.LockoutThreshold
	v, err := s.st.GetSetting(ctx, settingLockoutThreshold)
	switch {
	case err == nil:
		if n, perr := strconv.Atoi(v); perr == nil && n > 0 {
			val = n
		}
	case !errors.Is(err, store.ErrNotFound):
		s.log(ctx).Warn("reading the lockout threshold setting", "err", err)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.val == 0 {
			c.val, c.read = val, now
		}
		return
	}
	c.mu.Lock()
	c.val, c.read = val, now
	c.mu.Unlock()
}

// lockoutThreshold is the threshold in force (negative: lockout is off);
// it reads no store.
func (s *Service) lockoutThreshold() int {
	c := &s.threshold
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.val == 0 {
		return s.opts.LockoutThreshold
	}
	return c.val
}

// LockoutThreshold is the lockout threshold in force: the Admin API's
// setting if one was made, else the configured one (negative: off).
func (s *Service) LockoutThreshold(ctx context.Context) int {
	s.refreshThreshold(ctx)
	return s.lockoutThreshold()
}

// SetLockoutThreshold sets the lockout threshold for every node (1–9999,
// Duo's range), overriding the configuration, in one transaction with its
// administrator-log row (Duo's action customer_update).
func (s *Service) SetLockoutThreshold(ctx context.Context, n int) error {
	if n < 1 || n > 9999 {
		return invalid("lockout_threshold", "must be 1 to 9999")
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.PutSetting(ctx, settingLockoutThreshold, strconv.Itoa(n)); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "customer_update", "settings", map[string]any{"lockout_threshold": n})
	})
	if err != nil {
		return wrap("set lockout threshold", err)
	}
	c := &s.threshold
	c.mu.Lock()
	c.val, c.read = n, s.opts.Now()
	c.mu.Unlock()
	s.opts.Logger.Info("lockout threshold set", "lockout_threshold", n)
	return nil
}

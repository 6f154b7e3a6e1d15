package sipcall

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// registerLoop keeps Config.Registrar's binding for our Contact fresh:
// REGISTER (answering a digest challenge), then again at 80 % of the expiry
// the registrar granted, or after 30 s when it failed. The first result is
// reported to Start; at the end the binding is removed (Expires: 0).
func (c *Caller) registerLoop(ctx context.Context) {
	first := true
	for {
		granted, err := c.register(ctx, c.cfg.RegisterExpiry)
		if first {
			c.regErr <- err
			first = false
		}
		next := granted * 4 / 5
		if err != nil {
			c.cfg.Logger.Warn("sip register", "registrar", c.cfg.Registrar, "err", err)
			next = 30 * time.Second
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			if err == nil {
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				_, _ = c.register(uctx, 0)
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// register sends one REGISTER and returns the expiry the registrar granted.
func (c *Caller) register(ctx context.Context, expiry time.Duration) (time.Duration, error) {
	aor := sip.Uri{Scheme: "sip", User: c.cfg.Username, Host: host(c.cfg.Registrar)}
	// The registrar is addressed directly, even with an outbound proxy:
	// a trunk provider's registrar and its call proxy may differ.
	ruri := sip.Uri{Scheme: "sip", Host: host(c.cfg.Registrar)}
	if _, p, err := net.SplitHostPort(c.cfg.Registrar); err == nil && p != strconv.Itoa(sip.DefaultPort(c.cfg.transport())) {
		ruri.Port, _ = strconv.Atoi(p)
	}
	c.withTransport(&ruri)
	req := sip.NewRequest(sip.REGISTER, ruri)
	c.sendOver(req)
	req.SetDestination(c.cfg.Registrar)
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	// RFC 3261 §10.2: one Call-ID for all registrations of a boot cycle.
	callID := sip.CallIDHeader(c.regCallID)
	req.AppendHeader(&callID)
	ct := c.dlgUA.ContactHDR.Clone()
	ct.Address.User = c.cfg.Username
	req.AppendHeader(ct)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expiry/time.Second))))

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.client.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("sip: REGISTER to %s: %w", c.cfg.Registrar, err)
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		res, err = c.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: c.cfg.Username, Password: c.cfg.Password})
		if err != nil {
			return 0, fmt.Errorf("sip: REGISTER to %s with credentials: %w", c.cfg.Registrar, err)
		}
	}
	if res.StatusCode != sip.StatusOK {
		return 0, fmt.Errorf("sip: REGISTER to %s: %d %s", c.cfg.Registrar, res.StatusCode, res.Reason)
	}
	granted := expiry
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 {
			granted = time.Duration(n) * time.Second
		}
	}
	if ch := res.Contact(); ch != nil {
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				granted = time.Duration(n) * time.Second
			}
		}
	}
	return max(granted, 10*time.Second), nil
}

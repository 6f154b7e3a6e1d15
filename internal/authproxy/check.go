package authproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/authproxy/duoclient"
)

// MaxClockDrift is how far the Auth API's clock may be from ours. Duo's
// connectivity tool uses the same bound: signed requests carry a date the
// server checks.
const MaxClockDrift = 60 * time.Second

// Check names, in the order the report lists them.
const (
	CheckListen     = "listen"
	CheckAuthAPI    = "auth_api"   // ping + clock drift
	CheckAuthAPIKey = "auth_check" // ikey/skey accepted
	CheckLDAP       = "ldap"       // connect, service bind, search
	CheckRADIUS     = "radius"     // Status-Server
	// CheckMessageAuthenticator reports, per client network (radius_ip_N),
	// whether its Access-Requests must carry a Message-Authenticator.
	// It reads the configuration only and passes either way.
	CheckMessageAuthenticator = "message_authenticator"
)

var checkOrder = map[string]int{CheckListen: 0, CheckAuthAPI: 1, CheckAuthAPIKey: 2, CheckLDAP: 3, CheckRADIUS: 4, CheckMessageAuthenticator: 5}

// CheckResult is one connectivity test.
type CheckResult struct {
	Check    string  `json:"check"`
	Section  string  `json:"section"`
	Target   string  `json:"target"`
	OK       bool    `json:"ok"`
	Detail   string  `json:"detail"`
	Seconds  float64 `json:"seconds"`
	sequence int
}

// CheckOptions tune Check.
type CheckOptions struct {
	// Timeout bounds each test (default 10 s; api_timeout when smaller).
	Timeout time.Duration
	// SkipListen leaves out the listen tests (a running proxy holds the
	// ports; the startup self-test runs before binding anyway).
	SkipListen bool
	Now        func() time.Time
}

// Check tests everything the configuration points at, concurrently: the
// Auth API of every server section (ping, clock drift, credentials), every
// ad_client host (connect, service-account bind, search), every
// radius_client host (Status-Server), and that every listen address can be
// bound; it also reports, per client network, whether Message-Authenticator
// is required (from the configuration; that row always passes). The
// results are in a stable order.
func Check(ctx context.Context, c *cfg.Config, opts CheckOptions) []CheckResult {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var (
		mu   sync.Mutex
		out  []CheckResult
		wg   sync.WaitGroup
		jobs int
	)
	// many runs f, which reports one result per target, with a timeout.
	many := func(check, section string, f func(ctx context.Context) []CheckResult) {
		jobs++
		n := jobs
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
			start := time.Now()
			rs := f(ctx)
			mu.Lock()
			defer mu.Unlock()
			for i, r := range rs {
				r.Check, r.Section, r.sequence = check, section, n*1000+i
				if r.Seconds == 0 {
					r.Seconds = time.Since(start).Seconds()
				}
				out = append(out, r)
			}
		})
	}
	run := func(check, section, target string, f func(ctx context.Context) (string, error)) {
		many(check, section, func(ctx context.Context) []CheckResult {
			detail, err := f(ctx)
			if err != nil {
				detail = err.Error()
			}
			return []CheckResult{{Target: target, OK: err == nil, Detail: detail}}
		})
	}

	if !opts.SkipListen {
		for _, s := range c.Sockets() {
			run(CheckListen, socketSections(s), "udp "+s.Addr, func(context.Context) (string, error) {
				conn, err := net.ListenPacket("udp", s.Addr)
				if err != nil {
					return "", fmt.Errorf("cannot bind: %w", err)
				}
				_ = conn.Close()
				return "can be bound", nil
			})
		}
	}
	for _, s := range c.Servers {
		// Each test has a client of its own, closed when it ends.
		newClient := func() (*duoclient.Client, error) { return duoclient.New(duoConfig(s, "", 1)) }
		target := s.APIHost
		if dc, err := newClient(); err == nil {
			target = dc.Host()
			dc.Close()
		}
		run(CheckAuthAPI, s.Name, "https://"+target, func(ctx context.Context) (string, error) {
			dc, err := newClient()
			if err != nil {
				return "", err
			}
			defer dc.Close()
			before := opts.Now()
			server, err := dc.Ping(ctx)
			if err != nil {
				return "", err
			}
			after := opts.Now()
			// The server's time has a resolution of one second; compare
			// with the middle of the round trip.
			drift := server.Sub(before.Add(after.Sub(before) / 2))
			if drift < 0 {
				drift = -drift
			}
			if drift > MaxClockDrift+time.Second {
				return "", fmt.Errorf("clock drift %s: more than %s; fix the time on this host or the server (NTP)", drift.Round(time.Second), MaxClockDrift)
			}
			return fmt.Sprintf("ping ok, clock drift %s", drift.Round(time.Second)), nil
		})
		run(CheckAuthAPIKey, s.Name, "ikey "+s.IKey, func(ctx context.Context) (string, error) {
			dc, err := newClient()
			if err != nil {
				return "", err
			}
			defer dc.Close()
			if err := dc.Check(ctx); err != nil {
				var de *duoclient.Error
				if errors.As(err, &de) && de.Class == duoclient.ClassClient {
					return "", fmt.Errorf("the Auth API refused the ikey/skey: %w", err)
				}
				return "", err
			}
			return "ikey and skey accepted", nil
		})
	}
	checkPrimaries(c, run, many)
	for _, s := range c.Servers {
		for _, n := range clientNetworks(s) {
			run(CheckMessageAuthenticator, s.Name, fmt.Sprintf("radius_ip_%d = %s", n.Index, n.Source),
				func(context.Context) (string, error) { return messageAuthenticatorDetail(n), nil })
		}
	}
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool {
		if oi, oj := checkOrder[out[i].Check], checkOrder[out[j].Check]; oi != oj {
			return oi < oj
		}
		return out[i].sequence < out[j].sequence
	})
	return out
}

// clientNetworks lists a section's networks once per radius_ip_N (a range
// gives several prefixes with the same settings).
func clientNetworks(s *cfg.Server) []cfg.Network {
	var out []cfg.Network
	for _, n := range s.Networks {
		if len(out) == 0 || out[len(out)-1].Index != n.Index {
			out = append(out, n)
		}
	}
	return out
}

// messageAuthenticatorDetail says whether a client network must send
// Message-Authenticator, and which setting decided it.
func messageAuthenticatorDetail(n cfg.Network) string {
	from := "Assent's default"
	if n.RequireMessageAuthenticatorKey != "" {
		from = fmt.Sprintf("%s = %t", n.RequireMessageAuthenticatorKey, n.RequireMessageAuthenticator)
	}
	if n.RequireMessageAuthenticator {
		return fmt.Sprintf("Message-Authenticator required (%s): requests without one are dropped", from)
	}
	return fmt.Sprintf("Message-Authenticator NOT required (%s): requests without one are accepted and can be forged "+
		"(BlastRADIUS, CVE-2024-3596); remove the setting once the NAS sends it", from)
}

// socketSections names the sections sharing one socket.
func socketSections(s cfg.Socket) string {
	names := ""
	for i, srv := range s.Servers {
		if i > 0 {
			names += ","
		}
		names += srv.Name
	}
	return names
}

// AllOK reports whether every check passed.
func AllOK(rs []CheckResult) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}

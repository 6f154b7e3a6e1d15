package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/tlsutil"
)

// SIGHUP: `assent serve` reads its configuration again and applies the
// keys config.Reloadable names while it keeps serving: connections stay
// open and requests held for a device (synchronous pushes, long polls)
// carry on. The certificate is read from disk again whether or not its
// file names changed (a renewed certificate at the same path), or, with
// the local CA, its directory is checked again (a server certificate
// copied in). Keys that need a restart are logged as warnings and keep
// their running values; a configuration with any problem changes nothing.

// reloadState is what Reload changes and what it compares against.
type reloadState struct {
	mu      sync.Mutex
	running config.Config // the configuration in force

	// inner is the handler behind the X-Forwarded-For reader; front is
	// the reader for the trusted_proxies in force, wrapping inner.
	inner http.Handler
	front atomic.Pointer[http.Handler]
	// activations is the edge limiter of wrong activation codes.
	activations *ratelimit.Named
}

// setTrustedProxies puts a reader of X-Forwarded-For for list in front.
func (s *Server) setTrustedProxies(list []string) error {
	proxies, err := httpapi.ParseTrustedProxies(list)
	if err != nil {
		return err
	}
	h := httpapi.Forwarded(proxies, s.reload.inner)
	s.reload.front.Store(&h)
	return nil
}

// Reload applies next, a configuration read again (SIGHUP): the reloadable
// keys take effect for new connections and requests; changed keys that need
// a restart are logged as warnings. If next has a problem (the certificate
// does not load, …), nothing changes and the error lists every problem.
// level, when not nil, is the log level to set.
func (s *Server) Reload(next config.Config, level *slog.LevelVar) error {
	s.reload.mu.Lock()
	defer s.reload.mu.Unlock()
	running := s.reload.running
	changes := config.Changes(running, next)

	// Switching between tls_cert and the local CA (or ACME) needs a restart.
	switchTLS := (running.TLSCert == "") != (next.TLSCert == "")
	var apply, restart []config.Change
	for _, c := range changes {
		if config.Reloadable(c.Key) && !(switchTLS && (c.Key == "tls_cert" || c.Key == "tls_key")) {
			apply = append(apply, c)
		} else {
			restart = append(restart, c)
		}
	}

	// Everything that can fail first.
	var problems []string
	if _, err := httpapi.ParseTrustedProxies(next.TrustedProxies); err != nil {
		problems = append(problems, err.Error())
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(next.LogLevel)); err != nil {
		problems = append(problems, fmt.Sprintf("log_level: %v", err))
	}
	if s.keyPair != nil && !switchTLS {
		// Loaded and swapped only when all else is right (see below); a
		// failed load here leaves the certificate served as it is.
		if err := checkKeyPair(next.TLSCert, next.TLSKey); err != nil {
			problems = append(problems, err.Error())
		}
	}
	applyMail, mailProblems := s.checkMailTemplates(next.MailTemplatesDir)
	problems = append(problems, mailProblems...)
	if len(problems) > 0 {
		return ReloadError(problems)
	}

	// Certificates: the one from tls_cert (same or new files), or the
	// local CA's directory checked again.
	switch {
	case s.keyPair != nil && !switchTLS:
		if err := s.keyPair.Reload(next.TLSCert, next.TLSKey); err != nil {
			return ReloadError([]string{err.Error()}) // changed on disk since the check
		}
		c := s.keyPair.Certificate().Leaf
		s.log.Info("tls certificate loaded", "file", next.TLSCert, "subject", c.Subject.String(),
			"serial", c.SerialNumber.Text(16), "not_after", c.NotAfter.UTC().Format(time.RFC3339))
	case s.local != nil:
		if err := s.local.Refresh(); err != nil {
			s.log.Error("local CA: keeping the current server certificate", "err", err)
		}
	}
	_ = s.setTrustedProxies(next.TrustedProxies) // parsed above
	applyMail()
	s.app.Core.SetPushTimeout(next.PushTimeout.Duration)
	s.app.Core.SetLimits(auth.Limits{
		PushesPerUser:             next.RateLimitPushesPerUser.Limit(),
		PasscodeFailuresPerUser:   next.RateLimitPasscodeFailuresPerUser.Limit(),
		PasscodeFailuresPerIP:     next.RateLimitPasscodeFailuresPerIP.Limit(),
		EnrollmentsPerIntegration: next.RateLimitEnrollmentsPerIntegration.Limit(),
	})
	s.badSignatures.SetLimit(next.RateLimitBadSignatures.Limit())
	s.app.Core.SetSMSLimits(next.RateLimitSMSPerUser.Limit(), next.RateLimitSMSGlobal.Limit())
	s.app.Core.SetCallLimits(next.RateLimitCallsPerUser.Limit(), next.RateLimitCallsGlobal.Limit())
	s.reload.activations.SetLimit(next.RateLimitActivationFailuresPerIP.Limit())
	if level != nil {
		level.Set(lvl)
	}
	// A rotated auth_events_file (logrotate's create, not copytruncate) is
	// opened again at its path.
	if ev := s.app.AuthEvents; ev != nil {
		if err := ev.Reopen(); err != nil {
			s.log.Error("auth_events_file: reopening after SIGHUP", "err", err)
		}
	}

	attrs := make([]any, 0, 2*len(apply))
	for _, c := range apply {
		attrs = append(attrs, c.Key, c.Old+" -> "+c.New)
	}
	if len(apply) == 0 {
		s.log.Info("configuration reloaded: no reloadable setting changed")
	} else {
		s.log.Info("configuration reloaded", attrs...)
	}
	for _, c := range restart {
		s.log.Warn("setting changed but needs a restart to take effect; the running value stays", "key", c.Key)
	}
	next = config.WithReloadable(running, next)
	if switchTLS {
		next.TLSCert, next.TLSKey = running.TLSCert, running.TLSKey
	}
	s.reload.running = next
	return nil
}

// checkKeyPair reports whether the certificate and key load.
func checkKeyPair(certFile, keyFile string) error {
	_, err := tlsutil.LoadKeyPair(certFile, keyFile)
	return err
}

// ReloadError lists the problems that kept a reload from applying.
type ReloadError []string

func (e ReloadError) Error() string {
	return "configuration not reloaded (" + plural(len(e), "problem") + "); the running configuration stays:\n  " +
		strings.Join(slices.Clone(e), "\n  ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

package tlsutil

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Local serves the server certificate of the local CA kept in a directory
// (<data_dir>/tls) and keeps it fresh while the server runs.
//
// With the CA key in the directory (online), it creates the CA on first
// use, issues a LeafValidity certificate and issues the next one when a
// third of its life is left; an expired CA is replaced, loudly. Without the
// key (kept offline, see `assent ca export --remove-key`), it serves the
// certificate issued elsewhere (`assent ca issue`), picks up a new one
// when it appears, and warns OfflineLeafWarning before it expires.
type Local struct {
	dir   string
	names Names
	now   func() time.Time
	log   *slog.Logger

	cert atomic.Pointer[tls.Certificate]

	mu     sync.Mutex // one refresh at a time; guards warned
	warned map[warning]time.Time
}

// LocalOptions configure OpenLocal.
type LocalOptions struct {
	// Dir holds the CA and the server certificate.
	Dir string
	// Hosts are the server's configured names (config.Hostnames()).
	Hosts []string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives renewals and warnings (default: discarded).
	Log *slog.Logger
}

// warning kinds, repeated at most once a day while the server runs.
type warning int

const (
	warnUnconstrained warning = iota
	warnCAExpiring
	warnLeafExpiring
)

const warnEvery = 24 * time.Hour

// OpenLocal prepares the certificate to serve. It fails, saying what to
// run, when the server must not start: a configured name outside the CA's
// constraints, or (with the CA key offline) a server certificate that is
// missing, expired, not the CA's, or lacks a configured name.
func OpenLocal(opts LocalOptions) (*Local, error) {
	names, err := NamesFor(opts.Hosts)
	if err != nil {
		return nil, err
	}
	l := &Local{dir: opts.Dir, names: names, now: opts.Now, log: opts.Log, warned: map[warning]time.Time{}}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if err := l.refresh(); err != nil {
		return nil, err
	}
	return l, nil
}

// EnsureLocalCA makes sure dir holds a local CA and a server certificate
// for hosts valid at now, and returns the files (for tests and tools that
// need a certificate once; the server uses OpenLocal).
func EnsureLocalCA(dir string, hosts []string, now time.Time) (Files, error) {
	if _, err := OpenLocal(LocalOptions{Dir: dir, Hosts: hosts, Now: func() time.Time { return now }}); err != nil {
		return Files{}, err
	}
	return FilesIn(dir), nil
}

// CAFile is the CA certificate clients must trust.
func (l *Local) CAFile() string { return FilesIn(l.dir).CACert }

// Certificate is the certificate served now.
func (l *Local) Certificate() *tls.Certificate { return l.cert.Load() }

// GetCertificate is tls.Config.GetCertificate: the current certificate,
// replaced atomically on renewal, so no restart is needed.
func (l *Local) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return l.cert.Load(), nil
}

// TLSConfig is the server's TLS configuration (see ServerConfig) serving
// the current certificate.
func (l *Local) TLSConfig() *tls.Config {
	c := baseConfig()
	c.GetCertificate = l.GetCertificate
	return c
}

// Run checks the certificate at every tick (time.NewTicker(CheckEvery).C
// in the server; tests send their own ticks after moving their clock) until
// ctx ends. A failed check keeps the current certificate and logs an error.
func (l *Local) Run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			if err := l.refresh(); err != nil {
				l.log.Error("local CA: keeping the current server certificate", "err", err)
			}
		}
	}
}

// Refresh checks the certificate now, as a tick of Run does (SIGHUP: a
// server certificate copied into the TLS directory is served at once). On
// an error the current certificate stays.
func (l *Local) Refresh() error { return l.refresh() }

// refresh loads (or creates) the CA, checks it, finds the certificate to
// serve and swaps it in.
func (l *Local) refresh() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ca, err := l.loadCA(now)
	if err != nil {
		return err
	}
	if err := l.checkCA(ca, now); err != nil {
		return err
	}
	var pair *tls.Certificate
	if ca.Key != nil {
		pair, err = l.onlineLeaf(ca, now)
	} else {
		pair, err = l.offlineLeaf(ca, now)
	}
	if err != nil {
		return err
	}
	if old := l.cert.Load(); old == nil || !bytes.Equal(old.Leaf.Raw, pair.Leaf.Raw) {
		l.cert.Store(pair)
		if old != nil {
			l.log.Info("serving a new server certificate", "cert_file", FilesIn(l.dir).Cert,
				"not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// loadCA reads the CA, creating it when there is none and replacing it
// when it has expired and its key is here.
func (l *Local) loadCA(now time.Time) (*CA, error) {
	ca, err := LoadCA(l.dir)
	if errors.Is(err, ErrNoCA) {
		ca, err = CreateCA(l.dir, l.names, now, CreateOptions{})
		if err != nil {
			return nil, err
		}
		l.log.Info("created a local CA; clients must trust its certificate", "ca_file", ca.CertFile,
			"names", strings.Join(l.names.List(), ","), "not_after", ca.Cert.NotAfter.UTC().Format(time.RFC3339))
		return ca, nil
	}
	if err != nil {
		return nil, err
	}
	if ca.Key != nil && !now.Before(ca.Cert.NotAfter) {
		expired := ca.Cert.NotAfter
		ca, err = CreateCA(l.dir, l.names, now, CreateOptions{Replace: true})
		if err != nil {
			return nil, err
		}
		l.log.Warn("THE LOCAL CA HAD EXPIRED AND WAS REPLACED: every client must now trust the new CA certificate "+
			"(pam_duo cafile, ca_certs, the Windows root store, …); until it does, it refuses this server",
			"ca_file", ca.CertFile, "expired", expired.UTC().Format(time.RFC3339),
			"not_after", ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return ca, nil
}

// checkCA refuses a CA that cannot certify the configured names and warns
// about an unconstrained or expiring one.
func (l *Local) checkCA(ca *CA, now time.Time) error {
	if !now.Before(ca.Cert.NotAfter) { // only offline: an online one was replaced
		return fmt.Errorf("the local CA %s expired on %s and its key is not here: where you keep the key, create a new CA "+
			"(assent ca create --dir DIR --force) and issue a server certificate (assent ca issue --ca-dir DIR), "+
			"copy ca.pem, server.pem and server-key.pem into %s, and make clients trust the new ca.pem",
			ca.CertFile, ca.Cert.NotAfter.UTC().Format(time.DateOnly), l.dir)
	}
	if !ca.Constrained() {
		l.warn(warnUnconstrained, now, "the local CA has no name constraints (it was created by an older Assent): "+
			"whoever obtains its key can impersonate any website to every machine that trusts it; "+
			"create a constrained CA with `assent ca create --force` and make clients trust the new ca.pem",
			"ca_file", ca.CertFile)
	} else if unc := ca.Uncovered(l.names); len(unc) > 0 {
		remedy := "create a CA for the configured names with `assent ca create --force`, then make clients trust the new " + ca.CertFile
		if ca.Key == nil {
			remedy = "where you keep the CA key, create a CA for them (assent ca create --dir DIR --force --name NAME), " +
				"issue a server certificate (assent ca issue --ca-dir DIR), copy ca.pem, server.pem and server-key.pem into " +
				l.dir + " and make clients trust the new ca.pem"
		}
		return fmt.Errorf("%w: the configured names (public_hostname, alt_hostnames) are not all covered; %s",
			&NotCoveredError{CAFile: ca.CertFile, Names: unc, Permitted: ca.Permitted()}, remedy)
	}
	if left := ca.Cert.NotAfter.Sub(now); left < CAExpiryWarning {
		msg := "the local CA expires soon: create a new one with `assent ca create --force` and make clients trust the new ca.pem " +
			"before then (an expired CA is replaced, and clients that still trust the old one refuse the server)"
		if ca.Key == nil {
			msg = "the local CA expires soon: where you keep its key, create a new one (assent ca create --dir DIR --force), " +
				"issue a server certificate from it and make clients trust the new ca.pem before then"
		}
		l.warn(warnCAExpiring, now, msg, "ca_file", ca.CertFile,
			"not_after", ca.Cert.NotAfter.UTC().Format(time.RFC3339), "days_left", int(left.Hours()/24))
	}
	return nil
}

// onlineLeaf returns the server certificate, issuing a new one when there
// is none usable or a third of its life is left.
func (l *Local) onlineLeaf(ca *CA, now time.Time) (*tls.Certificate, error) {
	reason := ""
	pair, err := readPair(l.dir)
	if err != nil {
		reason = "none usable"
	} else if err := ca.checkLeaf(pair.Leaf, l.names, now); err != nil {
		reason = err.Error()
	} else if life := pair.Leaf.NotAfter.Sub(pair.Leaf.NotBefore); life > LeafValidity+backdate {
		reason = "it lives longer than " + LeafValidity.String() + " (issued by an older Assent)"
	} else if pair.Leaf.NotAfter.Sub(now) <= life/3 {
		reason = "a third of its life is left"
	}
	if reason == "" {
		return pair, nil
	}
	leaf, err := ca.Issue(l.dir, l.names, now, LeafValidity)
	if err != nil {
		return nil, err
	}
	l.log.Info("issued a new server certificate", "reason", reason, "names", strings.Join(l.names.List(), ","),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return readPair(l.dir)
}

// offlineLeaf returns the server certificate issued where the CA key is
// kept, which the server cannot replace itself.
func (l *Local) offlineLeaf(ca *CA, now time.Time) (*tls.Certificate, error) {
	f := FilesIn(l.dir)
	remedy := "where you keep the CA key, run `assent ca issue --ca-dir DIR` and copy server.pem and server-key.pem into " + l.dir +
		" (or run it here with the CA directory mounted)"
	pair, err := readPair(l.dir)
	if err != nil {
		return nil, fmt.Errorf("the local CA's key is not in %s (kept offline), so the server cannot issue its own certificate, "+
			"and there is no usable one: %w; %s", l.dir, err, remedy)
	}
	if err := ca.checkLeaf(pair.Leaf, l.names, now); err != nil {
		return nil, fmt.Errorf("the server certificate %s cannot be used: %w; the CA key is kept offline, so %s", f.Cert, err, remedy)
	}
	if left := pair.Leaf.NotAfter.Sub(now); left < OfflineLeafWarning {
		l.warn(warnLeafExpiring, now, "the server certificate expires soon and the CA key is kept offline, so Assent cannot renew it: "+
			remedy, "cert_file", f.Cert, "not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339), "days_left", int(left.Hours()/24))
	}
	return pair, nil
}

// warn logs a warning, each kind at most once a day.
func (l *Local) warn(w warning, now time.Time, msg string, attrs ...any) {
	if last, ok := l.warned[w]; ok && now.Sub(last) < warnEvery {
		return
	}
	l.warned[w] = now
	l.log.Warn(msg, attrs...)
}

// Package acmecert obtains and renews the server's certificate from an
// ACME CA (Let's Encrypt, or an internal one such as step-ca) with
// golang.org/x/crypto/acme/autocert, which answers TLS-ALPN-01 on the
// server's own TLS port and HTTP-01 on a separate plain-HTTP listener.
//
// Certificates and the ACME account key live in a directory of the data
// directory (0700, files 0600), each entry sealed with the master key
// (internal/secrets, bound to its name): a copy of the directory, like a
// copy of the database, reveals no private key without the master key.
package acmecert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Challenges.
const (
	ChallengeTLSALPN = "tls-alpn-01"
	ChallengeHTTP    = "http-01"
)

// Sealer seals and opens cache entries (internal/secrets.Box).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// Options configure a Manager.
type Options struct {
	Directory string   // the CA's directory URL
	Email     string   // contact for the account; optional
	Challenge string   // ChallengeTLSALPN (default) or ChallengeHTTP
	CARoot    string   // PEM file of the CA that serves Directory; empty: the system roots
	Hosts     []string // names to certify (host or host:port; IP addresses are skipped)
	Dir       string   // where certificates and the account key are kept
	Box       Sealer
	Log       *slog.Logger
	// RenewBefore is how long before expiry to renew; 0: a third of the
	// certificate's lifetime (autocert's default).
	RenewBefore time.Duration
}

// Manager serves certificates obtained from the CA.
type Manager struct {
	m         *autocert.Manager
	challenge string
	hosts     []string
	log       *slog.Logger
}

// New checks o and prepares the manager; nothing is requested until the
// first TLS handshake (or Warm).
func New(o Options) (*Manager, error) {
	var errs []error
	if o.Directory == "" || !strings.HasPrefix(o.Directory, "https://") {
		errs = append(errs, errors.New("acme_directory: must be an https:// URL"))
	}
	switch o.Challenge {
	case "":
		o.Challenge = ChallengeTLSALPN
	case ChallengeTLSALPN, ChallengeHTTP:
	default:
		errs = append(errs, fmt.Errorf("acme_challenge: %q is not tls-alpn-01 or http-01", o.Challenge))
	}
	var hosts []string
	for _, h := range o.Hosts {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		if _, err := netip.ParseAddr(h); err == nil {
			continue // ACME CAs certify names here, not addresses
		}
		hosts = append(hosts, strings.ToLower(h))
	}
	if len(hosts) == 0 {
		errs = append(errs, errors.New("acme: public_hostname (or alt_hostnames) must name a DNS name to certify"))
	}
	client := &acme.Client{DirectoryURL: o.Directory, UserAgent: "assent"}
	if o.CARoot != "" {
		pem, err := os.ReadFile(o.CARoot)
		pool := x509.NewCertPool()
		if err != nil {
			errs = append(errs, fmt.Errorf("acme_ca_root: %w", err))
		} else if !pool.AppendCertsFromPEM(pem) {
			errs = append(errs, fmt.Errorf("acme_ca_root: %s holds no PEM certificate", o.CARoot))
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		client.HTTPClient = &http.Client{Transport: tr, Timeout: time.Minute}
	}
	if o.Box == nil {
		errs = append(errs, errors.New("acme: no sealer for the certificate cache"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	m := &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       sealedCache{dir: autocert.DirCache(o.Dir), box: o.Box},
		HostPolicy:  autocert.HostWhitelist(hosts...),
		Email:       o.Email,
		Client:      client,
		RenewBefore: o.RenewBefore,
	}
	return &Manager{m: m, challenge: o.Challenge, hosts: hosts, log: o.Log}, nil
}

// TLSConfig serves the CA's certificate; with TLS-ALPN-01 it also answers
// the CA's acme-tls/1 validation handshakes.
func (m *Manager) TLSConfig(base *tls.Config) *tls.Config {
	c := base.Clone()
	c.GetCertificate = m.getCertificate
	c.Certificates = nil
	if m.challenge == ChallengeTLSALPN {
		c.NextProtos = append(c.NextProtos, acme.ALPNProto)
	}
	return c
}

// getCertificate fills in the server name for clients that send none
// (IP-addressed requests, some old clients): the first host is served.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		h := *hello
		h.ServerName = m.hosts[0]
		hello = &h
	}
	c, err := m.m.GetCertificate(hello)
	if err != nil {
		m.log.Warn("acme: no certificate", "server_name", hello.ServerName, "err", err)
	}
	return c, err
}

// HTTPHandler answers HTTP-01 challenges (and redirects anything else to
// https); only for acme_challenge = http-01.
func (m *Manager) HTTPHandler() http.Handler { return m.m.HTTPHandler(nil) }

// Challenge is the configured challenge type.
func (m *Manager) Challenge() string { return m.challenge }

// Warm obtains (or loads) the certificate of the first host now, so that
// the first client does not wait for the CA and a misconfiguration shows
// at start-up in the log.
func (m *Manager) Warm(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		_, err := m.m.GetCertificate(&tls.ClientHelloInfo{ServerName: m.hosts[0],
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sealedCache seals every entry (certificates with their private keys,
// the account key) under the master key, bound to its name.
type sealedCache struct {
	dir autocert.DirCache
	box Sealer
}

func (c sealedCache) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := c.dir.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	plain, err := c.box.Open(b, []byte("acme:"+name))
	if err != nil {
		// Not sealed with this master key: obtain anew.
		return nil, autocert.ErrCacheMiss
	}
	return plain, nil
}

func (c sealedCache) Put(ctx context.Context, name string, data []byte) error {
	sealed, err := c.box.Seal(data, []byte("acme:"+name))
	if err != nil {
		return err
	}
	return c.dir.Put(ctx, name, sealed)
}

func (c sealedCache) Delete(ctx context.Context, name string) error { return c.dir.Delete(ctx, name) }

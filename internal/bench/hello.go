package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/assent-auth/assent/internal/tlsutil"
)

const helloBody = "hello\n"

// Hello is the ceiling the benchmarks compare Assent with: a bare Go
// HTTPS server answering "hello" on 127.0.0.1, with Assent's TLS settings
// (tlsutil.ServerConfig, an ECDSA P-256 certificate like the one Assent's
// local CA issues) and Assent's http.Server limits, but no routing,
// middleware, signature check or database.
type Hello struct {
	URL     string
	Addr    string
	RootCAs *x509.CertPool // trusts the self-signed certificate
	srv     *http.Server
	done    chan error
}

// StartHello starts the hello server on a random loopback port.
func StartHello() (*Hello, error) {
	cert, leaf, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hello{Addr: ln.Addr().String(), RootCAs: x509.NewCertPool(), done: make(chan error, 1)}
	h.URL = "https://" + h.Addr + "/"
	h.RootCAs.AddCert(leaf)
	tlsCfg := tlsutil.ServerConfig(cert)
	h.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, helloBody)
		}),
		TLSConfig: tlsCfg,
		// The limits Assent's server sets (internal/server).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      150 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { h.done <- h.srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	return h, nil
}

// TLSConfig is a client configuration trusting the server.
func (h *Hello) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: h.RootCAs}
}

// Close stops the server.
func (h *Hello) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.srv.Shutdown(ctx)
	if err != nil {
		_ = h.srv.Close()
	}
	if serr := <-h.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// selfSigned makes a one-day ECDSA P-256 certificate for 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "assent bench hello"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}

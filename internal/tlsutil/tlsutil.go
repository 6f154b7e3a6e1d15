// Package tlsutil runs the server's local certificate authority and builds
// the server's TLS configuration.
//
// The local CA is name-constrained to the names the server is configured
// with (plus localhost and the loopback addresses), lives three years and
// issues 30-day server certificates that the running server renews on its
// own (see Local). Its key may be kept on another machine: the server then
// serves the certificate issued there and warns before it expires.
package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside a TLS directory (<data_dir>/tls, or a CA directory
// kept elsewhere).
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
	CertFile   = "server.pem"
	KeyFile    = "server-key.pem"
)

// Lifetimes and warning periods.
const (
	// CAValidityYears is the life of a new CA: short enough that a stolen
	// key stops working, long enough that clients rarely re-import it.
	CAValidityYears = 3
	// LeafValidity is the life of a server certificate the server issues
	// itself; it is renewed when a third of it is left.
	LeafValidity = 30 * 24 * time.Hour
	// MaxLeafValidity bounds `assent ca issue --days` (the CA/Browser
	// Forum's limit).
	MaxLeafValidity = 397 * 24 * time.Hour
	// CAExpiryWarning is how long before the CA expires the server warns.
	CAExpiryWarning = 90 * 24 * time.Hour
	// OfflineLeafWarning is how long before a certificate issued by an
	// offline CA expires the server warns (it cannot renew it).
	OfflineLeafWarning = 10 * 24 * time.Hour
	// CheckEvery is how often the running server checks its certificate.
	CheckEvery = time.Hour

	backdate = time.Hour // tolerate clients whose clocks run slightly behind
)

// Files are the paths of the local CA certificate (to give to clients) and
// of the server certificate and key (to serve).
type Files struct {
	CACert, Cert, Key string
}

// FilesIn names the files in dir.
func FilesIn(dir string) Files {
	return Files{
		CACert: filepath.Join(dir, CACertFile),
		Cert:   filepath.Join(dir, CertFile),
		Key:    filepath.Join(dir, KeyFile),
	}
}

// Names are the DNS names and IP addresses a server certificate carries
// and a local CA is constrained to.
type Names struct {
	// Primary is the server certificate's common name: the first host
	// given, else localhost.
	Primary string
	DNS     []string
	IPs     []net.IP
}

// NamesFor returns the names for hosts (host names or IP literals,
// optionally with a :port, which is ignored) plus localhost, 127.0.0.1
// and ::1, which local clients use (duo_unix never matches an IP SAN, so
// the DNS name localhost is always there).
func NamesFor(hosts []string) (Names, error) {
	n := Names{Primary: "localhost", DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}}
	first := true
	for _, raw := range hosts {
		h := normalizeHost(raw)
		if h == "" {
			continue
		}
		if first {
			n.Primary, first = h, false
		}
		if a, err := netip.ParseAddr(h); err == nil {
			ip := net.IP(a.AsSlice())
			if !containsIP(n.IPs, ip) {
				n.IPs = append(n.IPs, ip)
			}
			continue
		}
		if strings.ContainsAny(h, " /\\@:*\t") {
			return Names{}, fmt.Errorf("tlsutil: %q is not a valid host name", raw)
		}
		if !containsFold(n.DNS, h) {
			n.DNS = append(n.DNS, h)
		}
	}
	return n, nil
}

// List is every name as text, DNS names first.
func (n Names) List() []string {
	out := append([]string(nil), n.DNS...)
	for _, ip := range n.IPs {
		out = append(out, ip.String())
	}
	return out
}

// normalizeHost strips a port, brackets, an IPv6 zone and a trailing dot,
// and lower-cases names. It returns "" for an empty or unspecified host.
func normalizeHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		a = a.WithZone("").Unmap()
		if a.IsUnspecified() {
			return ""
		}
		return a.String()
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func containsIP(list []net.IP, ip net.IP) bool {
	for _, x := range list {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// tls12Suites are the only TLS 1.2 suites offered: ECDHE key exchange
// (forward secrecy) with AEAD ciphers. Go's defaults still include CBC
// suites with SHA-1 MACs. TLS 1.3 suites are not configurable in Go and
// are all AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// baseConfig is TLS 1.2 or newer with modern suites only, Go's default
// curves, and ALPN for HTTP/2 and HTTP/1.1 (net/http's Server handles both
// when given this configuration).
func baseConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: append([]uint16(nil), tls12Suites...),
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// ServerConfig returns the server's TLS configuration serving cert (a
// real certificate from tls_cert, or a test's).
func ServerConfig(cert tls.Certificate) *tls.Config {
	c := baseConfig()
	c.Certificates = []tls.Certificate{cert}
	return c
}

// LoadKeyPair loads a PEM certificate (chain) and its private key.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsutil: loading TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("tlsutil: %s: %w", certFile, err)
		}
	}
	return cert, nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlsutil: generating serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // never zero
}

func marshalKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: encoding key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// ReadCert reads the first certificate of a PEM file.
func ReadCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no CERTIFICATE block", path)
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return cert, nil
		}
	}
}

// ReadKey reads the first private key of a PEM file.
func ReadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no private key block", path)
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: unsupported key type %T", path, key)
		}
		return signer, nil
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// WriteFileAtomic writes data to a temporary file in the same directory
// and renames it over path, so readers see the old or the new content.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("tlsutil: writing %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("tlsutil: writing %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("tlsutil: writing %s: %w", path, err)
	}
	SyncDir(dir)
	return nil
}

// SyncDir flushes a directory's entries (after a rename or a removal);
// best effort.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Package tlsutil creates the server's local certificate authority and
// certificate on first start, and builds the server's TLS configuration.
package tlsutil

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the directory given to EnsureLocalCA.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
	CertFile   = "server.pem"
	KeyFile    = "server-key.pem"
)

const (
	caValidityYears = 10
	serverValidity  = 397 * 24 * time.Hour
	renewBefore     = 30 * 24 * time.Hour
	backdate        = time.Hour // tolerate clients whose clocks run slightly behind
)

// Files are the paths of the local CA certificate (to give to clients) and
// of the server certificate and key (to serve).
type Files struct {
	CACert, Cert, Key string
}

// EnsureLocalCA makes sure dir holds a local CA and a server certificate
// signed by it, valid at now for localhost, 127.0.0.1, ::1 and every entry
// of hosts (host names or IP literals, optionally with a :port, which is
// ignored).
//
// The first call creates the CA (ECDSA P-256, ten years) and the server
// certificate (ECDSA P-256, 397 days). Later calls reuse the CA, and reuse
// the server certificate unless it expires within 30 days, is not signed by
// the CA, does not match its key, or lacks a name in hosts; then a new one
// is issued. Files are replaced atomically. A CA that exists but cannot be
// read is an error, never silently replaced; an expired CA is replaced.
func EnsureLocalCA(dir string, hosts []string, now time.Time) (Files, error) {
	files := Files{
		CACert: filepath.Join(dir, CACertFile),
		Cert:   filepath.Join(dir, CertFile),
		Key:    filepath.Join(dir, KeyFile),
	}
	dnsNames, ips, err := sanList(hosts)
	if err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, fmt.Errorf("tlsutil: creating %s: %w", dir, err)
	}

	caKeyPath := filepath.Join(dir, CAKeyFile)
	caCert, caKey, err := loadCA(files.CACert, caKeyPath, now)
	if err != nil {
		return Files{}, err
	}
	if caCert == nil {
		caCert, caKey, err = createCA(files.CACert, caKeyPath, now)
		if err != nil {
			return Files{}, err
		}
	}

	if serverCertUsable(files.Cert, files.Key, caCert, dnsNames, ips, now) {
		return files, nil
	}
	cn := "localhost"
	if len(hosts) > 0 {
		if h := normalizeHost(hosts[0]); h != "" {
			cn = h
		}
	}
	if err := issueServerCert(files.Cert, files.Key, caCert, caKey, cn, dnsNames, ips, now); err != nil {
		return Files{}, err
	}
	return files, nil
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

// sanList returns the DNS and IP SANs for hosts, always including
// localhost, 127.0.0.1 and ::1 (duo_unix never matches an IP SAN, so the
// DNS name localhost must always be there).
func sanList(hosts []string) ([]string, []net.IP, error) {
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, raw := range hosts {
		h := normalizeHost(raw)
		if h == "" {
			continue
		}
		if a, err := netip.ParseAddr(h); err == nil {
			ip := net.IP(a.AsSlice())
			if !containsIP(ips, ip) {
				ips = append(ips, ip)
			}
			continue
		}
		if strings.ContainsAny(h, " /\\@:\t") {
			return nil, nil, fmt.Errorf("tlsutil: %q is not a valid host name", raw)
		}
		if !containsFold(dnsNames, h) {
			dnsNames = append(dnsNames, h)
		}
	}
	return dnsNames, ips, nil
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

func loadCA(certPath, keyPath string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	if errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if certErr != nil || keyErr != nil {
		return nil, nil, fmt.Errorf("tlsutil: local CA incomplete (%s and %s must both exist; remove both to create a new CA): %w",
			certPath, keyPath, errors.Join(certErr, keyErr))
	}
	cert, err := readCert(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: reading local CA: %w", err)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: reading local CA key: %w", err)
	}
	if !cert.IsCA || !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, nil, fmt.Errorf("tlsutil: %s and %s are not a matching CA certificate and key (remove both to create a new CA)", certPath, keyPath)
	}
	if !now.Before(cert.NotAfter) {
		return nil, nil, nil // expired: useless to every client, make a new one
	}
	return cert, key, nil
}

func createCA(certPath, keyPath string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: generating CA key: %w", err)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, nil, fmt.Errorf("tlsutil: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Assent local CA " + hex.EncodeToString(suffix),
			Organization: []string{"Assent"},
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// serverCertUsable reports whether the existing server certificate can be
// kept: it parses, matches its key, is signed by ca, is valid at now and for
// at least renewBefore more, and names every requested host.
func serverCertUsable(certPath, keyPath string, ca *x509.Certificate, dnsNames []string, ips []net.IP, now time.Time) bool {
	cert, err := readCert(certPath)
	if err != nil {
		return false
	}
	key, err := readKey(keyPath)
	if err != nil || !publicKeysEqual(cert.PublicKey, key.Public()) {
		return false
	}
	if cert.CheckSignatureFrom(ca) != nil || !bytes.Equal(cert.RawIssuer, ca.RawSubject) {
		return false
	}
	if now.Before(cert.NotBefore) || !now.Add(renewBefore).Before(cert.NotAfter) {
		return false
	}
	for _, n := range dnsNames {
		if !containsFold(cert.DNSNames, n) {
			return false
		}
	}
	for _, ip := range ips {
		if !containsIP(cert.IPAddresses, ip) {
			return false
		}
	}
	return true
}

func issueServerCert(certPath, keyPath string, ca *x509.Certificate, caKey crypto.Signer, cn string, dnsNames []string, ips []net.IP, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tlsutil: generating server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	notAfter := now.Add(serverValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Assent"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("tlsutil: creating server certificate: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return err
	}
	// Key first: if we stop in between, the next call sees a mismatched
	// pair and issues again.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
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

func readCert(path string) (*x509.Certificate, error) {
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

func readKey(path string) (crypto.Signer, error) {
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

// writeFileAtomic writes data to a temporary file in the same directory and
// renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
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
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// LoadKeyPair loads a PEM certificate (chain) and its private key.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsutil: loading TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// ServerConfig returns a TLS configuration serving cert: TLS 1.2 or newer,
// Go's default cipher suites and curves, and ALPN for HTTP/2 and HTTP/1.1
// (net/http's Server handles both when given this configuration).
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

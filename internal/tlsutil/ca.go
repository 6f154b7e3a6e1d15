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
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Errors a caller may want to tell apart.
var (
	// ErrNoCA: the directory holds neither ca.pem nor ca-key.pem.
	ErrNoCA = errors.New("no CA")
	// ErrCAExists: CreateCA would replace an existing CA.
	ErrCAExists = errors.New("a CA already exists")
	// ErrKeyOffline: the CA's key is not in its directory.
	ErrKeyOffline = errors.New("the CA key is not here")
)

// CA is a certificate authority read from a directory.
type CA struct {
	Cert *x509.Certificate
	// Key is nil when the key is kept elsewhere (offline).
	Key      crypto.Signer
	CertFile string
	KeyFile  string
}

// CreateOptions tune CreateCA.
type CreateOptions struct {
	// Replace an existing CA (its clients must then trust the new one).
	Replace bool
}

// CreateCA creates a CA in dir (ca.pem and ca-key.pem, mode 0600) that may
// certify only names: an ECDSA P-256 key, CAValidityYears of life, and a
// critical name-constraints extension that every client checks, so that
// its key cannot impersonate other websites to machines that trust it. Its
// extended key usage is limited to TLS server authentication (no code or
// mail signing). An existing CA is an error (ErrCAExists) unless
// opts.Replace.
func CreateCA(dir string, names Names, now time.Time, opts CreateOptions) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if !opts.Replace {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Lstat(p); err == nil {
				return nil, fmt.Errorf("tlsutil: %s: %w", p, ErrCAExists)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsutil: creating %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: generating CA key: %w", err)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("tlsutil: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Assent local CA " + hex.EncodeToString(suffix),
			Organization: []string{"Assent"},
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(CAValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		// Both lists are non-empty, so DNS names and IP addresses are
		// both restricted (an empty list would leave its type open).
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         names.DNS,
		PermittedIPRanges:           hostRanges(names.IPs),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(certPath, certPEM(der), 0o644); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertFile: certPath, KeyFile: keyPath}, nil
}

// hostRanges turns addresses into single-address ranges (/32, /128).
func hostRanges(ips []net.IP) []*net.IPNet {
	out := make([]*net.IPNet, 0, len(ips))
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			out = append(out, &net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)})
		} else {
			out = append(out, &net.IPNet{IP: ip.To16(), Mask: net.CIDRMask(128, 128)})
		}
	}
	return out
}

// LoadCA reads the CA in dir. Without ca-key.pem the CA is offline (Key is
// nil); without either file the error is ErrNoCA. A key without its
// certificate, unreadable files or a mismatched pair are errors: a CA that
// clients may trust is never silently replaced.
func LoadCA(dir string) (*CA, error) {
	ca := &CA{CertFile: filepath.Join(dir, CACertFile), KeyFile: filepath.Join(dir, CAKeyFile)}
	_, certErr := os.Stat(ca.CertFile)
	_, keyErr := os.Stat(ca.KeyFile)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("tlsutil: %s: %w", dir, ErrNoCA)
	case certErr != nil:
		return nil, fmt.Errorf("tlsutil: local CA incomplete: %s exists but not %s (put the CA certificate back, or remove the key to create a new CA): %w",
			ca.KeyFile, ca.CertFile, certErr)
	}
	cert, err := ReadCert(ca.CertFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: reading local CA: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("tlsutil: %s is not a CA certificate", ca.CertFile)
	}
	ca.Cert = cert
	if errors.Is(keyErr, fs.ErrNotExist) {
		return ca, nil
	}
	key, err := ReadKey(ca.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: reading local CA key: %w", err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("tlsutil: %s and %s are not a matching CA certificate and key", ca.CertFile, ca.KeyFile)
	}
	ca.Key = key
	return ca, nil
}

// Constrained reports whether the CA restricts both the DNS names and the
// IP addresses it may certify (a CA from an older Assent restricts none).
func (ca *CA) Constrained() bool {
	return len(ca.Cert.PermittedDNSDomains) > 0 && len(ca.Cert.PermittedIPRanges) > 0
}

// Permitted lists the CA's permitted names as text (nil when unconstrained).
func (ca *CA) Permitted() []string {
	out := append([]string(nil), ca.Cert.PermittedDNSDomains...)
	for _, r := range ca.Cert.PermittedIPRanges {
		if ones, bits := r.Mask.Size(); ones == bits {
			out = append(out, r.IP.String())
		} else {
			out = append(out, r.String())
		}
	}
	return out
}

// Uncovered returns the names the CA's name constraints do not allow, in
// the order of names.List.
func (ca *CA) Uncovered(names Names) []string {
	var out []string
	for _, d := range names.DNS {
		if !dnsAllowed(ca.Cert, d) {
			out = append(out, d)
		}
	}
	for _, ip := range names.IPs {
		if !ipAllowed(ca.Cert, ip) {
			out = append(out, ip.String())
		}
	}
	return out
}

// dnsAllowed applies RFC 5280 DNS name constraints the way Go and OpenSSL
// do: "example.com" allows the name and its subdomains, ".example.com"
// only subdomains; exclusions win; no permitted list allows all.
func dnsAllowed(c *x509.Certificate, name string) bool {
	for _, ex := range c.ExcludedDNSDomains {
		if domainMatches(name, ex) {
			return false
		}
	}
	if len(c.PermittedDNSDomains) == 0 {
		return true
	}
	for _, p := range c.PermittedDNSDomains {
		if domainMatches(name, p) {
			return true
		}
	}
	return false
}

func domainMatches(name, constraint string) bool {
	name, constraint = strings.ToLower(name), strings.ToLower(constraint)
	if constraint == "" {
		return true
	}
	if strings.HasPrefix(constraint, ".") {
		return strings.HasSuffix(name, constraint)
	}
	return name == constraint || strings.HasSuffix(name, "."+constraint)
}

func ipAllowed(c *x509.Certificate, ip net.IP) bool {
	for _, ex := range c.ExcludedIPRanges {
		if rangeContains(ex, ip) {
			return false
		}
	}
	if len(c.PermittedIPRanges) == 0 {
		return true
	}
	for _, p := range c.PermittedIPRanges {
		if rangeContains(p, ip) {
			return true
		}
	}
	return false
}

// rangeContains is Contains for addresses of the range's family only
// (name constraints never match an IPv4 address against an IPv6 range).
func rangeContains(r *net.IPNet, ip net.IP) bool {
	if (len(r.IP) == net.IPv4len) != (ip.To4() != nil) {
		return false
	}
	return r.Contains(ip)
}

// NotCoveredError is returned when a CA may not certify some names.
type NotCoveredError struct {
	CAFile    string
	Names     []string // the names outside the constraints
	Permitted []string // what the CA may certify
}

func (e *NotCoveredError) Error() string {
	return fmt.Sprintf("the CA %s may not certify %s (its name constraints allow only %s)",
		e.CAFile, strings.Join(e.Names, ", "), strings.Join(e.Permitted, ", "))
}

// Issue writes a new server certificate and key for names into dir
// (server.pem, server-key.pem; the key first, mode 0600), valid for
// validity from now but never beyond the CA. It refuses names outside the
// CA's constraints (*NotCoveredError), an expired CA and an offline key
// (ErrKeyOffline).
func (ca *CA) Issue(dir string, names Names, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	if ca.Key == nil {
		return nil, fmt.Errorf("tlsutil: %s: %w", ca.KeyFile, ErrKeyOffline)
	}
	if !now.Before(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("tlsutil: the CA %s expired on %s", ca.CertFile, ca.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	if unc := ca.Uncovered(names); len(unc) > 0 {
		return nil, &NotCoveredError{CAFile: ca.CertFile, Names: unc, Permitted: ca.Permitted()}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsutil: creating %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: generating server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names.Primary, Organization: []string{"Assent"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names.DNS,
		IPAddresses:           names.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: creating server certificate: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	// Key first: a reader that sees the new key with the old certificate
	// finds a mismatched pair and ignores it (or issues again).
	if err := WriteFileAtomic(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(filepath.Join(dir, CertFile), certPEM(der), 0o644); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// IssuedBy reports whether cert was signed by the CA.
func (ca *CA) IssuedBy(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, ca.Cert.RawSubject) && cert.CheckSignatureFrom(ca.Cert) == nil
}

// checkLeaf says why a server certificate cannot be served with this CA
// for names at now, or returns nil.
func (ca *CA) checkLeaf(cert *x509.Certificate, names Names, now time.Time) error {
	switch {
	case !ca.IssuedBy(cert):
		return fmt.Errorf("it was not issued by the CA %s", ca.CertFile)
	case now.Before(cert.NotBefore):
		return fmt.Errorf("it is not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	case !now.Before(cert.NotAfter):
		return fmt.Errorf("it expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if missing := missingNames(cert, names); len(missing) > 0 {
		return fmt.Errorf("it does not name %s", strings.Join(missing, ", "))
	}
	return nil
}

// missingNames lists names the certificate does not carry.
func missingNames(cert *x509.Certificate, names Names) []string {
	var out []string
	for _, n := range names.DNS {
		if !containsFold(cert.DNSNames, n) {
			out = append(out, n)
		}
	}
	for _, ip := range names.IPs {
		if !containsIP(cert.IPAddresses, ip) {
			out = append(out, ip.String())
		}
	}
	return out
}

// readPair loads a server certificate and its key from dir.
func readPair(dir string) (*tls.Certificate, error) {
	f := FilesIn(dir)
	cert, err := LoadKeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, err
	}
	return &cert, nil
}

package tlsutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// constrainedCA creates a CA for mfa.example.com and 192.0.2.10 (plus
// localhost and the loopback addresses) valid at the real time, since
// openssl checks validity against its own clock.
func constrainedCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := t.TempDir()
	names, err := NamesFor([]string{"mfa.example.com:8443", "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := CreateCA(dir, names, time.Now(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ca, dir
}

// leafCase is a server certificate an attacker with the CA key might sign.
type leafCase struct {
	name    string
	cn      string
	dns     []string
	ips     []string
	inside  bool   // every name is one Assent serves
	checkAs string // the name a client connects to
}

var leafCases = []leafCase{
	{name: "served name", cn: "mfa.example.com", dns: []string{"mfa.example.com"}, inside: true, checkAs: "mfa.example.com"},
	{name: "localhost and loopback", cn: "localhost", dns: []string{"localhost"}, ips: []string{"127.0.0.1", "::1"}, inside: true, checkAs: "localhost"},
	{name: "served IP", cn: "mfa.example.com", ips: []string{"192.0.2.10"}, inside: true, checkAs: "192.0.2.10"},
	{name: "another website", cn: "www.bank.example", dns: []string{"www.bank.example"}, checkAs: "www.bank.example"},
	{name: "parent domain", cn: "example.com", dns: []string{"example.com"}, checkAs: "example.com"},
	{name: "look-alike suffix", cn: "evilmfa.example.com", dns: []string{"evilmfa.example.com"}, checkAs: "evilmfa.example.com"},
	{name: "served name plus another", cn: "mfa.example.com", dns: []string{"mfa.example.com", "login.microsoftonline.com"}, checkAs: "login.microsoftonline.com"},
	{name: "another IP", cn: "10.1.2.3", ips: []string{"10.1.2.3"}, checkAs: "10.1.2.3"},
	{name: "neighbouring IP", cn: "192.0.2.11", ips: []string{"192.0.2.11"}, checkAs: "192.0.2.11"},
	{name: "IPv6 address", cn: "2001:db8::1", ips: []string{"2001:db8::1"}, checkAs: "2001:db8::1"},
	{name: "common name only", cn: "www.bank.example", checkAs: "www.bank.example"},
}

// signDirectly signs a leaf with the CA key read from disk, bypassing
// CA.Issue and its checks, the way a thief of ca-key.pem would.
func signDirectly(t *testing.T, caDir string, lc leafCase) string {
	t.Helper()
	caCert, err := ReadCert(filepath.Join(caDir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ReadKey(filepath.Join(caDir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: lc.cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     lc.dns,
	}
	for _, ip := range lc.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(path, certPEM(der), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// signWithOpenSSL has openssl itself sign a CSR with the CA key.
func signWithOpenSSL(t *testing.T, caDir string, lc leafCase) string {
	t.Helper()
	dir := t.TempDir()
	var sans []string
	for _, d := range lc.dns {
		sans = append(sans, "DNS:"+d)
	}
	for _, ip := range lc.ips {
		sans = append(sans, "IP:"+ip)
	}
	req := []string{"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(dir, "key.pem"), "-subj", "/CN=" + lc.cn, "-out", filepath.Join(dir, "csr.pem")}
	if len(sans) > 0 {
		req = append(req, "-addext", "subjectAltName="+strings.Join(sans, ","))
	}
	openssl(t, req...)
	leaf := filepath.Join(dir, "leaf.pem")
	openssl(t, "x509", "-req", "-in", filepath.Join(dir, "csr.pem"), "-CA", filepath.Join(caDir, CACertFile),
		"-CAkey", filepath.Join(caDir, CAKeyFile), "-set_serial", "4242", "-days", "1", "-copy_extensions", "copy", "-out", leaf)
	return leaf
}

func requireOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	testutil.Require(t, "openssl", err == nil)
	return path
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runOpenSSL(t, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func runOpenSSL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, requireOpenSSL(t), args...).CombinedOutput()
	return string(out), err
}

// TestNameConstraintsBindRealClients signs leaves for names inside and
// outside the CA's constraints directly with its key (by Go and by
// openssl) and checks that Go's verifier and `openssl verify` accept only
// the served names: a stolen CA key cannot impersonate other websites.
func TestNameConstraintsBindRealClients(t *testing.T) {
	requireOpenSSL(t)
	_, caDir := constrainedCA(t)
	caFile := filepath.Join(caDir, CACertFile)
	roots := x509.NewCertPool()
	roots.AddCert(mustCert(t, caFile))

	signers := map[string]func(*testing.T, string, leafCase) string{"go": signDirectly, "openssl": signWithOpenSSL}
	for _, lc := range leafCases {
		for _, signer := range []string{"go", "openssl"} {
			t.Run(lc.name+"/signed by "+signer, func(t *testing.T) {
				leafFile := signers[signer](t, caDir, lc)
				leaf := mustCert(t, leafFile)

				_, goErr := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: lc.checkAs,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
				if lc.inside && goErr != nil {
					t.Errorf("Go: a leaf for a served name was refused: %v", goErr)
				}
				if !lc.inside && goErr == nil {
					t.Errorf("Go: a leaf for %s verified", lc.checkAs)
				}

				out, err := runOpenSSL(t, "verify", "-purpose", "sslserver", "-CAfile", caFile, leafFile)
				if lc.inside && (err != nil || !strings.Contains(out, ": OK")) {
					t.Errorf("openssl verify refused a leaf for a served name: %v\n%s", err, out)
				}
				if !lc.inside {
					if err == nil || strings.Contains(out, ": OK") {
						t.Errorf("openssl verify accepted a leaf for %s:\n%s", lc.checkAs, out)
					} else if !strings.Contains(out, "subtree violation") && !strings.Contains(out, "name constraint") {
						t.Errorf("openssl verify refused for another reason than the name constraints:\n%s", out)
					}
				}
			})
		}
	}
}

// TestCANotForOtherUses: the CA's extended key usage limits it to TLS
// servers, so its key cannot sign code or mail that a machine trusting it
// would accept.
func TestCANotForOtherUses(t *testing.T) {
	ca, _ := constrainedCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Totally Legit Software"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err == nil {
		t.Error("a code-signing certificate from the local CA verified")
	}
}

// TestIssueRefusesOutsideNames: Assent's own issuing refuses names the CA
// may not certify, with an error that names them.
func TestIssueRefusesOutsideNames(t *testing.T) {
	ca, _ := constrainedCA(t)
	for _, tc := range []struct {
		hosts []string
		bad   []string
	}{
		{[]string{"mfa.example.com"}, nil},
		{[]string{"MFA.example.com.:443", "192.0.2.10"}, nil},
		{[]string{"www.bank.example"}, []string{"www.bank.example"}},
		{[]string{"mfa.example.com", "example.com", "10.0.0.1"}, []string{"example.com", "10.0.0.1"}},
		{[]string{"[2001:db8::1]:8443"}, []string{"2001:db8::1"}},
	} {
		names, err := NamesFor(tc.hosts)
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		leaf, err := ca.Issue(out, names, time.Now(), LeafValidity)
		if tc.bad == nil {
			if err != nil {
				t.Errorf("Issue(%v): %v", tc.hosts, err)
			}
			continue
		}
		var nc *NotCoveredError
		if !errors.As(err, &nc) || !slices.Equal(nc.Names, tc.bad) {
			t.Errorf("Issue(%v) = %v, %v; want a NotCoveredError for %v", tc.hosts, leaf, err, tc.bad)
			continue
		}
		for _, want := range append(tc.bad, "mfa.example.com", "name constraints") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Issue(%v): error %q does not mention %q", tc.hosts, err, want)
			}
		}
		if _, err := os.Stat(filepath.Join(out, CertFile)); err == nil {
			t.Errorf("Issue(%v) wrote a certificate", tc.hosts)
		}
	}
}

func TestUncovered(t *testing.T) {
	ca, _ := constrainedCA(t)
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"mfa.example.com", true},
		{"sub.mfa.example.com", true}, // RFC 5280: a DNS constraint covers its subdomains
		{"xmfa.example.com", false},
		{"example.com", false},
		{"localhost", true},
		{"192.0.2.10", true},
		{"192.0.2.1", false},
		{"::ffff:192.0.2.10", true}, // normalised to 192.0.2.10
		{"::2", false},
	} {
		names := Names{}
		if ip := net.ParseIP(tc.host); ip != nil {
			names.IPs = []net.IP{ip}
		} else {
			names.DNS = []string{tc.host}
		}
		if got := len(ca.Uncovered(names)) == 0; got != tc.ok {
			t.Errorf("covered(%s) = %v, want %v", tc.host, got, tc.ok)
		}
	}
}

package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func ensure(t *testing.T, dir string, hosts []string, now time.Time) Files {
	t.Helper()
	f, err := EnsureLocalCA(dir, hosts, now)
	if err != nil {
		t.Fatalf("EnsureLocalCA(%v): %v", hosts, err)
	}
	return f
}

func mustCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := ReadCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verify(t *testing.T, f Files, name string, at time.Time) error {
	t.Helper()
	caPEM, err := os.ReadFile(f.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem has no certificate")
	}
	_, err = mustCert(t, f.Cert).Verify(x509.VerifyOptions{
		DNSName:     name,
		Roots:       roots,
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func TestFreshCreation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "tls")
	f := ensure(t, dir, []string{"assent.example.com:8443", "192.0.2.10"}, t0)

	if f.CACert != filepath.Join(dir, "ca.pem") || f.Cert != filepath.Join(dir, "server.pem") || f.Key != filepath.Join(dir, "server-key.pem") {
		t.Errorf("unexpected paths %+v", f)
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{"ca-key.pem": 0o600, "server-key.pem": 0o600, ".": 0o700} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s mode %04o, want %04o", name, fi.Mode().Perm(), want)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"ca-key.pem", "ca.pem", "server-key.pem", "server.pem"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}

	ca := mustCert(t, f.CACert)
	if !ca.IsCA || !ca.BasicConstraintsValid || !strings.HasPrefix(ca.Subject.CommonName, "Assent local CA ") || len(ca.Subject.CommonName) <= len("Assent local CA ") {
		t.Errorf("CA: IsCA=%v CN=%q", ca.IsCA, ca.Subject.CommonName)
	}
	if ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("CA key usage %v", ca.KeyUsage)
	}
	if !slices.Equal(ca.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("CA extended key usage %v, want server authentication only", ca.ExtKeyUsage)
	}
	if !slices.Equal(ca.PermittedDNSDomains, []string{"localhost", "assent.example.com"}) || !ca.PermittedDNSDomainsCritical {
		t.Errorf("CA permitted DNS %v (critical %v)", ca.PermittedDNSDomains, ca.PermittedDNSDomainsCritical)
	}
	var ranges []string
	for _, r := range ca.PermittedIPRanges {
		ranges = append(ranges, r.String())
	}
	if !slices.Equal(ranges, []string{"127.0.0.1/32", "::1/128", "192.0.2.10/32"}) {
		t.Errorf("CA permitted IP ranges %v", ranges)
	}
	if ca.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key %v", ca.PublicKeyAlgorithm)
	}
	if !ca.NotAfter.Equal(t0.AddDate(3, 0, 0)) {
		t.Errorf("CA valid until %v, want three years", ca.NotAfter)
	}
	critical := map[string]bool{}
	for _, e := range ca.Extensions {
		critical[e.Id.String()] = e.Critical
	}
	if !critical["2.5.29.19"] {
		t.Error("basicConstraints not critical")
	}
	if !critical["2.5.29.30"] {
		t.Error("nameConstraints missing or not critical")
	}

	leaf := mustCert(t, f.Cert)
	if leaf.IsCA || leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("leaf IsCA=%v alg=%v", leaf.IsCA, leaf.PublicKeyAlgorithm)
	}
	if leaf.Subject.CommonName != "assent.example.com" {
		t.Errorf("leaf CN %q", leaf.Subject.CommonName)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("leaf EKU %v", leaf.ExtKeyUsage)
	}
	if !slices.Equal(leaf.DNSNames, []string{"localhost", "assent.example.com"}) {
		t.Errorf("DNS SANs %v", leaf.DNSNames)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"127.0.0.1", "::1", "192.0.2.10"}) {
		t.Errorf("IP SANs %v", ips)
	}
	if got := leaf.NotAfter.Sub(t0); got != 30*24*time.Hour {
		t.Errorf("leaf validity from now %v", got)
	}

	for _, name := range []string{"localhost", "127.0.0.1", "::1", "assent.example.com", "192.0.2.10"} {
		if err := verify(t, f, name, t0); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	for _, name := range []string{"example.com", "10.0.0.1"} {
		if err := verify(t, f, name, t0); err == nil {
			t.Errorf("verify %s: unexpectedly valid", name)
		}
	}
	if _, err := LoadKeyPair(f.Cert, f.Key); err != nil {
		t.Error(err)
	}
}

func TestDefaultCN(t *testing.T) {
	dir := t.TempDir()
	f := ensure(t, dir, nil, t0)
	leaf := mustCert(t, f.Cert)
	if leaf.Subject.CommonName != "localhost" || !slices.Equal(leaf.DNSNames, []string{"localhost"}) || len(leaf.IPAddresses) != 2 {
		t.Errorf("CN %q DNS %v IP %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
}

func TestReuse(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"assent.example.com"}
	f := ensure(t, dir, hosts, t0)
	ca1, leaf1 := mustCert(t, f.CACert), mustCert(t, f.Cert)

	// Same hosts, two weeks later, hosts given differently (port, case, subset).
	for _, h := range [][]string{hosts, {"ASSENT.example.com:443"}, nil, {"localhost", "127.0.0.1:8443", "[::1]:8443"}} {
		ensure(t, dir, h, t0.Add(14*24*time.Hour))
		if ca2 := mustCert(t, f.CACert); ca2.SerialNumber.Cmp(ca1.SerialNumber) != 0 {
			t.Fatalf("hosts %v: CA re-created", h)
		}
		if leaf2 := mustCert(t, f.Cert); leaf2.SerialNumber.Cmp(leaf1.SerialNumber) != 0 {
			t.Fatalf("hosts %v: server certificate re-issued", h)
		}
	}
}

func TestNewHostOutsideConstraintsRefused(t *testing.T) {
	dir := t.TempDir()
	f := ensure(t, dir, []string{"a.example.com"}, t0)
	ca1, leaf1 := mustCert(t, f.CACert), mustCert(t, f.Cert)

	hosts := []string{"a.example.com", "b.example.com:8443", "[2001:db8::5]:443"}
	_, err := EnsureLocalCA(dir, hosts, t0)
	for _, want := range []string{"b.example.com", "2001:db8::5", "assent ca create --force", "ca.pem"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("names outside the CA's constraints: error %v, want it to mention %q", err, want)
		}
	}
	var nc *NotCoveredError
	if !errors.As(err, &nc) || !slices.Equal(nc.Names, []string{"b.example.com", "2001:db8::5"}) {
		t.Errorf("error %v: want a NotCoveredError for b.example.com and 2001:db8::5", err)
	}
	if mustCert(t, f.CACert).SerialNumber.Cmp(ca1.SerialNumber) != 0 || mustCert(t, f.Cert).SerialNumber.Cmp(leaf1.SerialNumber) != 0 {
		t.Fatal("a refused start changed the CA or the server certificate")
	}

	// The remedy: a new CA for the names (what `assent ca create --force` does).
	names, err := NamesFor(hosts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateCA(dir, names, t0, CreateOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	f = ensure(t, dir, hosts, t0)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "a.example.com", "b.example.com", "2001:db8::5"} {
		if err := verify(t, f, name, t0); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
}

func TestReissueAtAThirdLeft(t *testing.T) {
	dir := t.TempDir()
	f := ensure(t, dir, nil, t0)
	leaf1 := mustCert(t, f.Cert)
	third := leaf1.NotAfter.Sub(leaf1.NotBefore) / 3

	ensure(t, dir, nil, leaf1.NotAfter.Add(-third-time.Minute))
	if mustCert(t, f.Cert).SerialNumber.Cmp(leaf1.SerialNumber) != 0 {
		t.Fatal("re-issued with more than a third of its life left")
	}
	later := leaf1.NotAfter.Add(-third)
	ensure(t, dir, nil, later)
	leaf2 := mustCert(t, f.Cert)
	if leaf2.SerialNumber.Cmp(leaf1.SerialNumber) == 0 {
		t.Fatal("not re-issued with a third of its life left")
	}
	if err := verify(t, f, "localhost", later.Add(25*24*time.Hour)); err != nil {
		t.Errorf("renewed certificate: %v", err)
	}
}

func TestReissueWhenNotSignedByCA(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	f := ensure(t, dir, nil, t0)
	g := ensure(t, other, nil, t0)
	// Put a certificate from another CA in place.
	for _, p := range [][2]string{{g.Cert, f.Cert}, {g.Key, f.Key}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := verify(t, f, "localhost", t0); err == nil {
		t.Fatal("foreign certificate verified")
	}
	ensure(t, dir, nil, t0)
	if err := verify(t, f, "localhost", t0); err != nil {
		t.Errorf("after re-issue: %v", err)
	}
}

func TestReissueWhenKeyMissing(t *testing.T) {
	dir := t.TempDir()
	f := ensure(t, dir, nil, t0)
	if err := os.Remove(f.Key); err != nil {
		t.Fatal(err)
	}
	ensure(t, dir, nil, t0)
	if _, err := LoadKeyPair(f.Cert, f.Key); err != nil {
		t.Error(err)
	}
}

func TestBrokenCAIsNotReplaced(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
	}{
		{"garbage key", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CAKeyFile), "garbage") }},
		{"garbage certificate", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CACertFile), "garbage") }},
		{"key without certificate", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, CACertFile)); err != nil {
				t.Fatal(err)
			}
		}},
		{"key of another CA", func(t *testing.T, dir string) {
			other := t.TempDir()
			ensure(t, other, nil, t0)
			b, err := os.ReadFile(filepath.Join(other, CAKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, CAKeyFile), string(b))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ensure(t, dir, nil, t0)
			tc.break_(t, dir)
			before := snapshot(t, dir)
			if _, err := EnsureLocalCA(dir, nil, t0); err == nil {
				t.Error("no error")
			}
			if after := snapshot(t, dir); !maps.Equal(before, after) {
				t.Error("the CA directory changed")
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot maps every file in dir to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func TestExpiredCAReplaced(t *testing.T) {
	dir := t.TempDir()
	f := ensure(t, dir, nil, t0)
	ca1 := mustCert(t, f.CACert)
	at := ca1.NotAfter.Add(time.Hour)
	ensure(t, dir, nil, at)
	if mustCert(t, f.CACert).SerialNumber.Cmp(ca1.SerialNumber) == 0 {
		t.Fatal("expired CA kept")
	}
	if err := verify(t, f, "localhost", at); err != nil {
		t.Error(err)
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM:8443":  "example.com",
		"example.com.":      "example.com",
		"[::1]:443":         "::1",
		"::1":               "::1",
		"[2001:DB8::1]":     "2001:db8::1",
		"fe80::1%eth0":      "fe80::1",
		"127.0.0.1:18443":   "127.0.0.1",
		"::ffff:192.0.2.1":  "192.0.2.1",
		":8443":             "",
		"0.0.0.0:443":       "",
		"[::]:443":          "",
		"  spaced.example ": "spaced.example",
	} {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := EnsureLocalCA(t.TempDir(), []string{"bad host/name"}, t0); err == nil {
		t.Error("invalid host accepted")
	}
}

func TestLoadKeyPairError(t *testing.T) {
	_, err := LoadKeyPair("/nonexistent/server.pem", "/nonexistent/server-key.pem")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/server.pem") {
		t.Errorf("error %v", err)
	}
}

func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f := ensure(t, dir, []string{"assent.test"}, now)
	cert, err := LoadKeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ServerConfig(cert)
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Proto)
		}),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	caPEM, err := os.ReadFile(f.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	for _, name := range []string{"localhost", "127.0.0.1", "assent.test"} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: name, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Errorf("handshake as %s: %v", name, err)
			continue
		}
		if v := conn.ConnectionState().Version; v < tls.VersionTLS12 {
			t.Errorf("version %x", v)
		}
		conn.Close()
	}
	if conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("TLS 1.1 accepted")
	}
	if conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "localhost"}); err == nil {
		conn.Close()
		t.Error("verified without trusting ca.pem")
	}

	// HTTP/1.1 and HTTP/2 through net/http.
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://localhost:" + port + "/")
		if err != nil {
			t.Fatalf("GET (h2=%v): %v", h2, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "HTTP/1.1"
		if h2 {
			want = "HTTP/2.0"
		}
		if string(body) != want {
			t.Errorf("h2=%v: served %q, want %q", h2, body, want)
		}
		tr.CloseIdleConnections()
	}
}

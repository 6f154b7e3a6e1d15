package tlsutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// serveTLS accepts connections with cfg and completes their handshakes
// until the test ends.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = c.Write([]byte("hello\n"))
				}
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestModernSuitesOnly: TLS 1.2 offers only ECDHE with AES-GCM or
// ChaCha20-Poly1305; a client offering only CBC-SHA1 suites (which Go's
// defaults still accept) fails the handshake, while normal clients still connect.
func TestModernSuitesOnly(t *testing.T) {
	f := newLocalFixture(t, "mfa.example.com")
	l := f.mustOpen(t)
	roots := x509.NewCertPool()
	roots.AddCert(mustCert(t, l.CAFile()))

	for _, c := range l.TLSConfig().CipherSuites {
		name := tls.CipherSuiteName(c)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("offered TLS 1.2 suite %s", name)
		}
	}
	if cfg := ServerConfig(*l.Certificate()); !slices.Equal(cfg.CipherSuites, tls12Suites) || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("ServerConfig: suites %v, min version %x", cfg.CipherSuites, cfg.MinVersion)
	}

	addr := serveTLS(t, l.TLSConfig())
	for _, tc := range []struct {
		name   string
		max    uint16
		suites []uint16
		ok     bool
	}{
		{"TLS 1.3", tls.VersionTLS13, nil, true},
		{"TLS 1.2, Go's defaults", tls.VersionTLS12, nil, true},
		{"TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, true},
		{"TLS 1.2, ECDHE-ECDSA-CHACHA20-POLY1305", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, true},
		{"TLS 1.2, ECDHE-ECDSA-AES128-SHA (CBC, SHA-1)", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, false},
		{"TLS 1.2, ECDHE-ECDSA-AES256-SHA (CBC, SHA-1)", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost",
				MaxVersion: tc.max, CipherSuites: tc.suites, Time: f.clock.Now})
			if err == nil {
				conn.Close()
			}
			if tc.ok && err != nil {
				t.Errorf("handshake failed: %v", err)
			}
			if !tc.ok && err == nil {
				t.Errorf("handshake succeeded")
			}
		})
	}
}

// TestOpenSSLSuites runs `openssl s_client` against the server's TLS
// configuration: a CBC-SHA1 suite over TLS 1.2 is refused, the defaults
// and TLS 1.3 connect.
func TestOpenSSLSuites(t *testing.T) {
	requireOpenSSL(t)
	l := newLocalFixture(t, "localhost").mustOpen(t)
	addr := serveTLS(t, l.TLSConfig())
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}, false},
		{[]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA"}, false},
		{[]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, true},
		{[]string{"-tls1_2"}, true},
		{[]string{"-tls1_3"}, true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, ok := sClient(t, addr, l.CAFile(), tc.args...)
			if ok != tc.ok {
				t.Errorf("openssl s_client %s: connected %v, want %v\n%s", strings.Join(tc.args, " "), ok, tc.ok, out)
			}
		})
	}
}

// sClient runs openssl s_client and reports whether the handshake
// completed with a verified certificate.
func sClient(t *testing.T, addr, caFile string, args ...string) (string, bool) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, requireOpenSSL(t), append([]string{"s_client", "-connect", net.JoinHostPort(host, port),
		"-servername", "localhost", "-verify_hostname", "localhost", "-verify_return_error", "-CAfile", caFile}, args...)...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	s := string(out)
	return s, err == nil && strings.Contains(s, "Verify return code: 0 (ok)") && !strings.Contains(s, "Cipher is (NONE)")
}

package acmecert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/acme/autocert"

	"github.com/assent-auth/assent/internal/secrets"
)

func box(t *testing.T, b byte) *secrets.Box {
	t.Helper()
	x, err := secrets.New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestNewValidation(t *testing.T) {
	dir := t.TempDir()
	good := Options{Directory: "https://ca.example/directory", Hosts: []string{"mfa.example.com:8443", "10.0.0.1"},
		Dir: filepath.Join(dir, "acme"), Box: box(t, 1)}
	m, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.hosts) != 1 || m.hosts[0] != "mfa.example.com" || m.Challenge() != ChallengeTLSALPN {
		t.Errorf("hosts %v (IP addresses and ports dropped), challenge %q", m.hosts, m.Challenge())
	}
	if info, err := os.Stat(good.Dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v %v", info, err)
	}
	if c := m.TLSConfig(baseTLS()); !strings.Contains(strings.Join(c.NextProtos, ","), "acme-tls/1") || c.GetCertificate == nil {
		t.Errorf("TLS config for tls-alpn-01: %v", c.NextProtos)
	}
	bad := Options{Directory: "http://ca.example", Challenge: "dns-01", Hosts: []string{"192.0.2.1"},
		CARoot: filepath.Join(dir, "missing.pem"), Dir: dir}
	_, err = New(bad)
	for _, want := range []string{"acme_directory", "acme_challenge", "DNS name", "acme_ca_root", "sealer"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	http01 := good
	http01.Challenge = ChallengeHTTP
	m, err = New(http01)
	if err != nil {
		t.Fatal(err)
	}
	if c := m.TLSConfig(baseTLS()); strings.Contains(strings.Join(c.NextProtos, ","), "acme-tls/1") {
		t.Errorf("http-01 offers acme-tls/1: %v", c.NextProtos)
	}
}

// Every cache entry is sealed, bound to its name, and written 0600; an
// entry sealed under another master key is a miss (obtained anew).
func TestSealedCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := sealedCache{dir: autocert.DirCache(dir), box: box(t, 1)}
	secret := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret\n-----END EC PRIVATE KEY-----\n")
	if err := c.Put(ctx, "acme_account+key", secret); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "acme_account+key"))
	if err != nil || bytes.Contains(raw, []byte("PRIVATE KEY")) || bytes.Contains(raw, []byte("secret")) {
		t.Fatalf("stored entry is not sealed: %q %v", raw, err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "acme_account+key")); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	got, err := c.Get(ctx, "acme_account+key")
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Get: %q %v", got, err)
	}
	// Bound to its name: a file renamed is not accepted.
	if err := os.Rename(filepath.Join(dir, "acme_account+key"), filepath.Join(dir, "mfa.example.com")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "mfa.example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Errorf("entry under another name: %v", err)
	}
	other := sealedCache{dir: autocert.DirCache(dir), box: box(t, 2)}
	if err := c.Put(ctx, "x", secret); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "x"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Errorf("another master key: %v", err)
	}
	if err := c.Delete(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "x"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Errorf("after Delete: %v", err)
	}
}

func baseTLS() *tls.Config { return &tls.Config{NextProtos: []string{"h2", "http/1.1"}} }

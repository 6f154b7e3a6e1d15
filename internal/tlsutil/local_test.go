package tlsutil

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// logBuffer collects log lines while the renewal goroutine writes them.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Take returns what was logged since the last call.
func (l *logBuffer) Take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

type localFixture struct {
	dir   string
	hosts []string
	clock *testutil.Clock
	logs  *logBuffer
}

func newLocalFixture(t *testing.T, hosts ...string) *localFixture {
	return &localFixture{dir: t.TempDir(), hosts: hosts, clock: testutil.NewClock(time.Now().Truncate(time.Second)), logs: &logBuffer{}}
}

func (f *localFixture) open() (*Local, error) {
	return OpenLocal(LocalOptions{Dir: f.dir, Hosts: f.hosts, Now: f.clock.Now,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
}

func (f *localFixture) mustOpen(t *testing.T) *Local {
	t.Helper()
	l, err := f.open()
	if err != nil {
		t.Fatalf("OpenLocal: %v", err)
	}
	return l
}

// run starts the renewal loop; tick returns once the check it triggered
// has finished (the unbuffered channel's second send waits for the loop
// to come back for it).
func (f *localFixture) run(t *testing.T, l *Local) (tick func()) {
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, ticks) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() {
		ticks <- f.clock.Now()
		ticks <- f.clock.Now()
	}
}

// served makes a real TLS handshake with the configuration and returns the
// certificate the server presented, verified at the fixture's clock.
func served(t *testing.T, cfg *tls.Config, caFile string, now func() time.Time) *x509.Certificate {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(mustCert(t, caFile))
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", Time: now})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestRenewalWhileRunning drives the renewal goroutine with the injected
// clock: the certificate is replaced when a third of its life is left,
// swapped into the running TLS configuration, and what is served stays
// valid for months without a restart.
func TestRenewalWhileRunning(t *testing.T) {
	f := newLocalFixture(t, "mfa.example.com")
	l := f.mustOpen(t)
	cfg := l.TLSConfig()
	tick := f.run(t, l)
	caFile := l.CAFile()

	first := served(t, cfg, caFile, f.clock.Now)
	if got := first.NotAfter.Sub(f.clock.Now()); got != LeafValidity {
		t.Fatalf("first certificate lives %v, want %v", got, LeafValidity)
	}
	third := first.NotAfter.Sub(first.NotBefore) / 3
	f.logs.Take()

	for _, tc := range []struct {
		at      time.Time
		renewed bool
	}{
		{f.clock.Now().Add(time.Hour), false},
		{first.NotAfter.Add(-third - time.Minute), false},
		{first.NotAfter.Add(-third + time.Minute), true},
	} {
		before := l.Certificate().Leaf
		f.clock.Set(tc.at)
		tick()
		got := served(t, cfg, caFile, f.clock.Now)
		logs := f.logs.Take()
		if renewed := !got.Equal(before); renewed != tc.renewed {
			t.Fatalf("at %v (%v before expiry): renewed=%v, want %v\n%s", tc.at, first.NotAfter.Sub(tc.at), renewed, tc.renewed, logs)
		}
		if tc.renewed {
			if got.NotAfter.Sub(tc.at) != LeafValidity {
				t.Errorf("renewed certificate lives %v from now", got.NotAfter.Sub(tc.at))
			}
			if !strings.Contains(logs, "issued a new server certificate") || !strings.Contains(logs, "a third of its life is left") ||
				!strings.Contains(logs, "serving a new server certificate") {
				t.Errorf("renewal not logged:\n%s", logs)
			}
			if disk := mustCert(t, FilesIn(f.dir).Cert); !disk.Equal(got) {
				t.Error("the served certificate is not the one on disk")
			}
		}
	}

	// Four months of daily checks: always at least a third of a life left.
	serials := map[string]bool{}
	for day := 0; day < 120; day++ {
		f.clock.Set(f.clock.Now().Add(24 * time.Hour))
		tick()
		leaf := l.Certificate().Leaf
		serials[leaf.SerialNumber.String()] = true
		if left := leaf.NotAfter.Sub(f.clock.Now()); left < LeafValidity/3-24*time.Hour {
			t.Fatalf("day %d: the served certificate has only %v left", day, left)
		}
	}
	if n := len(serials); n < 5 || n > 7 {
		t.Errorf("%d certificates in 120 days, want about one every 20 days", n)
	}
	if logs := f.logs.Take(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "level=WARN") {
		t.Errorf("unexpected warnings:\n%s", logs)
	}
}

// takeKeyOffline removes the CA key, as `assent ca export --remove-key` does.
func takeKeyOffline(t *testing.T, dir string) *CA {
	t.Helper()
	ca, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(ca.KeyFile); err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestOfflineKey(t *testing.T) {
	otherCA := func(t *testing.T) string {
		dir := t.TempDir()
		ensure(t, dir, nil, time.Now())
		return dir
	}
	copyFile := func(t *testing.T, from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		write(t, to, string(b))
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, f *localFixture, leaf *x509.Certificate)
		errs   []string // empty: starts
		warn   string
		// localhostOnly: the CA covers mfa.example.com, the certificate
		// names only localhost and the loopback addresses.
		localhostOnly bool
	}{
		{name: "valid certificate", change: func(t *testing.T, f *localFixture, leaf *x509.Certificate) {
			f.clock.Set(leaf.NotAfter.Add(-11 * 24 * time.Hour))
		}},
		{name: "expires within 10 days", change: func(t *testing.T, f *localFixture, leaf *x509.Certificate) {
			f.clock.Set(leaf.NotAfter.Add(-9 * 24 * time.Hour))
		}, warn: "assent ca issue"},
		{name: "expired", change: func(t *testing.T, f *localFixture, leaf *x509.Certificate) {
			f.clock.Set(leaf.NotAfter.Add(time.Minute))
		}, errs: []string{"expired", "assent ca issue --ca-dir"}},
		{name: "from another CA", change: func(t *testing.T, f *localFixture, leaf *x509.Certificate) {
			o := FilesIn(otherCA(t))
			copyFile(t, o.Cert, FilesIn(f.dir).Cert)
			copyFile(t, o.Key, FilesIn(f.dir).Key)
		}, errs: []string{"not issued by the CA", "assent ca issue"}},
		{name: "key not matching", change: func(t *testing.T, f *localFixture, leaf *x509.Certificate) {
			copyFile(t, FilesIn(otherCA(t)).Key, FilesIn(f.dir).Key)
		}, errs: []string{"private key does not match", "assent ca issue"}},
		{name: "no certificate", change: func(t *testing.T, f *localFixture, leaf *x509.Certificate) {
			if err := os.Remove(FilesIn(f.dir).Cert); err != nil {
				t.Fatal(err)
			}
		}, errs: []string{"no usable one", "assent ca issue"}},
		{name: "a configured name missing", localhostOnly: true,
			errs: []string{"does not name mfa.example.com", "assent ca issue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLocalFixture(t, "mfa.example.com")
			if tc.localhostOnly {
				names, _ := NamesFor(f.hosts)
				ca, err := CreateCA(f.dir, names, f.clock.Now(), CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				localOnly, _ := NamesFor(nil)
				if _, err := ca.Issue(f.dir, localOnly, f.clock.Now(), LeafValidity); err != nil {
					t.Fatal(err)
				}
			} else {
				f.mustOpen(t)
			}
			takeKeyOffline(t, f.dir)
			leaf := mustCert(t, FilesIn(f.dir).Cert)
			if tc.change != nil {
				tc.change(t, f, leaf)
			}
			before := snapshot(t, f.dir)
			f.logs.Take()

			l, err := f.open()
			logs := f.logs.Take()
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("OpenLocal: %v", err)
				}
				if got := l.Certificate().Leaf; !got.Equal(leaf) {
					t.Error("not serving the existing certificate")
				}
			} else {
				if err == nil {
					t.Fatal("started")
				}
				for _, want := range tc.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			}
			if tc.warn == "" && strings.Contains(logs, "level=WARN") {
				t.Errorf("unexpected warning:\n%s", logs)
			}
			if tc.warn != "" && (!strings.Contains(logs, "level=WARN") || !strings.Contains(logs, tc.warn)) {
				t.Errorf("no warning mentioning %q:\n%s", tc.warn, logs)
			}
			if after := snapshot(t, f.dir); len(after) != len(before) || after[CertFile] != before[CertFile] || after[KeyFile] != before[KeyFile] {
				t.Error("the server changed its certificate without the CA key")
			}
			if _, err := os.Stat(filepath.Join(f.dir, CAKeyFile)); err == nil {
				t.Error("a CA key appeared")
			}
		})
	}
}

// TestOfflinePicksUpIssued: with the key offline, a running server serves
// the certificate `assent ca issue` put into its directory at the next
// check, and keeps serving the old one while the new one is incomplete.
func TestOfflinePicksUpIssued(t *testing.T) {
	f := newLocalFixture(t, "mfa.example.com")
	f.mustOpen(t)
	caDir := t.TempDir()
	for _, name := range []string{CACertFile, CAKeyFile} {
		b, _ := os.ReadFile(filepath.Join(f.dir, name))
		write(t, filepath.Join(caDir, name), string(b))
	}
	takeKeyOffline(t, f.dir)
	l := f.mustOpen(t)
	tick := f.run(t, l)
	old := l.Certificate().Leaf

	f.clock.Set(old.NotAfter.Add(-5 * 24 * time.Hour))
	tick()
	if logs := f.logs.Take(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "assent ca issue") {
		t.Errorf("no warning 5 days before expiry:\n%s", logs)
	}
	tick()
	if logs := f.logs.Take(); strings.Contains(logs, "level=WARN") {
		t.Errorf("warned again within a day:\n%s", logs)
	}

	// Half-written: a new key with the old certificate is not served.
	otherKey := FilesIn(t.TempDir())
	ensure(t, filepath.Dir(otherKey.Key), nil, f.clock.Now())
	b, _ := os.ReadFile(otherKey.Key)
	write(t, FilesIn(f.dir).Key, string(b))
	tick()
	if !l.Certificate().Leaf.Equal(old) {
		t.Fatal("swapped to a mismatched pair")
	}
	if logs := f.logs.Take(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "keeping the current server certificate") {
		t.Errorf("a bad pair was not logged:\n%s", logs)
	}

	ca, err := LoadCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := NamesFor(f.hosts)
	issued, err := ca.Issue(f.dir, names, f.clock.Now(), 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tick()
	if got := served(t, l.TLSConfig(), l.CAFile(), f.clock.Now); !got.Equal(issued) {
		t.Fatal("the newly issued certificate is not served")
	}
	if got := l.Certificate().Leaf; !got.Equal(issued) {
		t.Fatal("the newly issued certificate is not current")
	}
}

// legacyCA writes a CA like the ones Assent created before name
// constraints: ten years, no constraints, no extended key usage.
func legacyCA(t *testing.T, dir string, now time.Time) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "Assent local CA 0ld0ld00", Organization: []string{"Assent"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := marshalKey(key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, CAKeyFile), string(keyPEM))
	write(t, filepath.Join(dir, CACertFile), string(certPEM(der)))
	// Its 397-day server certificate.
	ca, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := NamesFor(nil)
	if _, err := ca.Issue(dir, names, now, 397*24*time.Hour); err != nil {
		t.Fatal(err)
	}
}

func TestLegacyUnconstrainedCA(t *testing.T) {
	f := newLocalFixture(t, "mfa.example.com", "203.0.113.7")
	legacyCA(t, f.dir, f.clock.Now())
	ca1 := mustCert(t, FilesIn(f.dir).CACert)

	for start := 0; start < 2; start++ {
		l := f.mustOpen(t)
		logs := f.logs.Take()
		if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "no name constraints") ||
			!strings.Contains(logs, "impersonate any website") || !strings.Contains(logs, "assent ca create --force") {
			t.Errorf("start %d: no warning about the unconstrained CA:\n%s", start, logs)
		}
		if !mustCert(t, FilesIn(f.dir).CACert).Equal(ca1) {
			t.Fatal("the CA was replaced: its clients would break")
		}
		leaf := l.Certificate().Leaf
		if got := leaf.NotAfter.Sub(leaf.NotBefore); got > LeafValidity+time.Hour {
			t.Errorf("start %d: serving a certificate that lives %v", start, got)
		}
		if err := verify(t, FilesIn(f.dir), "mfa.example.com", f.clock.Now()); err != nil {
			t.Error(err)
		}
		if start == 1 {
			tick := f.run(t, l)
			for h := 0; h < 23; h++ {
				f.clock.Set(f.clock.Now().Add(time.Hour))
				tick()
			}
			if logs := f.logs.Take(); strings.Contains(logs, "level=WARN") {
				t.Errorf("warned more than once a day while running:\n%s", logs)
			}
			f.clock.Set(f.clock.Now().Add(2 * time.Hour))
			tick()
			if logs := f.logs.Take(); !strings.Contains(logs, "no name constraints") {
				t.Errorf("no daily warning:\n%s", logs)
			}
		}
	}
}

func TestCAExpiry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  time.Duration // how long before the CA's expiry the server starts
		offline bool
		warn    string
		err     string
		replace bool
	}{
		{name: "91 days left", before: 91 * 24 * time.Hour},
		{name: "89 days left", before: 89 * 24 * time.Hour, warn: "the local CA expires soon"},
		{name: "89 days left, key offline", before: 89 * 24 * time.Hour, offline: true, warn: "assent ca create --dir"},
		{name: "expired", before: -time.Minute, warn: "THE LOCAL CA HAD EXPIRED AND WAS REPLACED", replace: true},
		{name: "expired, key offline", before: -time.Minute, offline: true, err: "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLocalFixture(t, "mfa.example.com")
			f.mustOpen(t)
			ca1 := mustCert(t, FilesIn(f.dir).CACert)
			f.clock.Set(ca1.NotAfter.Add(-tc.before))
			if tc.offline {
				// A certificate still valid then, issued where the key is.
				ca, _ := LoadCA(f.dir)
				names, _ := NamesFor(f.hosts)
				if _, err := ca.Issue(f.dir, names, f.clock.Now().Add(-24*time.Hour), LeafValidity); err != nil {
					t.Fatal(err)
				}
				takeKeyOffline(t, f.dir)
			}
			f.logs.Take()
			l, err := f.open()
			logs := f.logs.Take()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to mention %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.warn == "" && strings.Contains(logs, "level=WARN") {
				t.Errorf("unexpected warning:\n%s", logs)
			}
			if tc.warn != "" && (!strings.Contains(logs, "level=WARN") || !strings.Contains(logs, tc.warn)) {
				t.Errorf("no warning mentioning %q:\n%s", tc.warn, logs)
			}
			ca2 := mustCert(t, FilesIn(f.dir).CACert)
			if replaced := !ca2.Equal(ca1); replaced != tc.replace {
				t.Errorf("CA replaced: %v, want %v", replaced, tc.replace)
			}
			if err := verify(t, FilesIn(f.dir), "mfa.example.com", f.clock.Now()); err != nil {
				t.Errorf("certificate on disk: %v", err)
			}
			if !l.Certificate().Leaf.Equal(mustCert(t, FilesIn(f.dir).Cert)) {
				t.Error("not serving the certificate on disk")
			}
		})
	}
}

func TestUncoveredNameRefusedAtStart(t *testing.T) {
	f := newLocalFixture(t, "mfa.example.com")
	f.mustOpen(t)
	f.hosts = append(f.hosts, "vpn.example.org:443")
	_, err := f.open()
	for _, want := range []string{"vpn.example.org", "assent ca create --force", "ca.pem", "alt_hostnames"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	// The same with the key offline: the remedy is on the CA's machine.
	takeKeyOffline(t, f.dir)
	_, err = f.open()
	for _, want := range []string{"vpn.example.org", "assent ca create --dir", "assent ca issue"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("key offline: error %v does not mention %q", err, want)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/tlsutil"
)

// runCA runs the command tree with args (plus --data-dir and the server's
// names) and returns stdout and the error.
func runCA(t *testing.T, dataDir string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	root := newRoot(e)
	root.SetArgs(append(args, "--data-dir", dataDir, "--public-hostname", "mfa.example.com:8443"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if stderr.Len() > 0 {
		t.Logf("assent %s: stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func certAt(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := tlsutil.ReadCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifies reports whether dir's server.pem verifies for name against
// dir's ca.pem.
func verifies(t *testing.T, dir, name string) error {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(certAt(t, filepath.Join(dir, tlsutil.CACertFile)))
	_, err := certAt(t, filepath.Join(dir, tlsutil.CertFile)).Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
	return err
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestCACommands walks the life of a CA whose key ends up off the server:
// create, refuse to overwrite, replace, show, export, remove the key,
// issue from the exported CA, and the refusals on the way.
func TestCACommands(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	tlsDir := filepath.Join(data, "tls")
	offline := filepath.Join(base, "usb")
	other := filepath.Join(base, "other-ca")

	steps := []struct {
		name  string
		args  []string
		err   []string // the error must mention each; nil: success
		out   []string // stdout must mention each
		check func(t *testing.T)
	}{
		{name: "create", args: []string{"ca", "create"},
			out: []string{"may certify only: localhost, mfa.example.com, 127.0.0.1, ::1", filepath.Join(tlsDir, "ca.pem"),
				filepath.Join(tlsDir, "ca-key.pem"), "Clients must trust"},
			check: func(t *testing.T) {
				ca := certAt(t, filepath.Join(tlsDir, "ca.pem"))
				if !slices.Equal(ca.PermittedDNSDomains, []string{"localhost", "mfa.example.com"}) || !ca.PermittedDNSDomainsCritical {
					t.Errorf("CA constraints %v", ca.PermittedDNSDomains)
				}
				if got := mode(t, filepath.Join(tlsDir, "ca-key.pem")); got != 0o600 {
					t.Errorf("ca-key.pem mode %04o", got)
				}
				if err := verifies(t, tlsDir, "mfa.example.com"); err != nil {
					t.Errorf("server certificate: %v", err)
				}
			}},
		{name: "create refuses to overwrite", args: []string{"ca", "create"}, err: []string{"already exists", "--force"}},
		{name: "create --force replaces", args: []string{"ca", "create", "--force", "--name", "10.0.0.5"},
			out: []string{"10.0.0.5", "replaces the previous one", "must now trust the new"},
			check: func(t *testing.T) {
				if err := verifies(t, tlsDir, "10.0.0.5"); err != nil {
					t.Errorf("server certificate for --name: %v", err)
				}
			}},
		{name: "show", args: []string{"ca", "show"},
			out: []string{"online: " + filepath.Join(tlsDir, "ca-key.pem"), "localhost, mfa.example.com, 127.0.0.1, ::1, 10.0.0.5", "(critical)",
				"29 days left", "issued by the CA  yes"}},
		{name: "export keeps the key", args: []string{"ca", "export", "--out", offline},
			out: []string{filepath.Join(offline, "ca-key.pem"), "--remove-key"},
			check: func(t *testing.T) {
				if !exists(filepath.Join(tlsDir, "ca-key.pem")) {
					t.Error("the key was removed without --remove-key")
				}
			}},
		{name: "export refuses its own directory", args: []string{"ca", "export", "--out", tlsDir, "--remove-key"}, err: []string{"choose another"},
			check: func(t *testing.T) {
				if !exists(filepath.Join(tlsDir, "ca-key.pem")) {
					t.Error("the key was removed")
				}
			}},
		{name: "export --remove-key", args: []string{"ca", "export", "--out", offline, "--remove-key"},
			out: []string{"Removed the CA key", "assent ca issue --ca-dir " + offline},
			check: func(t *testing.T) {
				if exists(filepath.Join(tlsDir, "ca-key.pem")) {
					t.Error("the key is still in the data directory")
				}
				if got := mode(t, filepath.Join(offline, "ca-key.pem")); got != 0o600 {
					t.Errorf("exported key mode %04o", got)
				}
				if readFile(t, filepath.Join(offline, "ca.pem")) != readFile(t, filepath.Join(tlsDir, "ca.pem")) {
					t.Error("exported ca.pem differs")
				}
				// The server starts with the key offline.
				if _, err := tlsutil.OpenLocal(tlsutil.LocalOptions{Dir: tlsDir, Hosts: []string{"mfa.example.com:8443"}}); err != nil {
					t.Errorf("serving with the key offline: %v", err)
				}
			}},
		{name: "show --json offline", args: []string{"ca", "show", "--json"}, check: nil},
		{name: "export without a key", args: []string{"ca", "export", "--out", filepath.Join(base, "again")}, err: []string{"not in", "already exported"}},
		{name: "issue needs the key", args: []string{"ca", "issue", "--ca-dir", tlsDir}, err: []string{"not its key"}},
		{name: "issue refuses outside names", args: []string{"ca", "issue", "--ca-dir", offline, "--name", "www.bank.example"},
			err: []string{"may not certify www.bank.example", "assent ca create --dir " + offline}},
		{name: "issue refuses 398 days", args: []string{"ca", "issue", "--ca-dir", offline, "--days", "398"}, err: []string{"--days"}},
		{name: "issue", args: []string{"ca", "issue", "--ca-dir", offline, "--days", "60"},
			out: []string{"localhost, mfa.example.com, 127.0.0.1, ::1", filepath.Join(tlsDir, "server.pem")},
			check: func(t *testing.T) {
				leaf := certAt(t, filepath.Join(tlsDir, "server.pem"))
				if d := time.Until(leaf.NotAfter); d < 59*24*time.Hour || d > 60*24*time.Hour {
					t.Errorf("issued for %v", d)
				}
				if err := verifies(t, tlsDir, "mfa.example.com"); err != nil {
					t.Error(err)
				}
				if exists(filepath.Join(tlsDir, "ca-key.pem")) {
					t.Error("issue put a CA key into the data directory")
				}
			}},
		{name: "create elsewhere", args: []string{"ca", "create", "--dir", other, "--name", "vpn.example.org"},
			out: []string{"vpn.example.org", "assent ca issue --ca-dir " + other},
			check: func(t *testing.T) {
				if exists(filepath.Join(other, "server.pem")) {
					t.Error("create --dir issued a server certificate")
				}
			}},
		{name: "issue from another CA to --out", args: []string{"ca", "issue", "--ca-dir", other, "--out", filepath.Join(base, "for-server")},
			out: []string{"Copy these three files"},
			check: func(t *testing.T) {
				if err := verifies(t, filepath.Join(base, "for-server"), "mfa.example.com"); err != nil {
					t.Error(err)
				}
			}},
		{name: "issue refuses where another CA's key is", args: []string{"ca", "issue", "--ca-dir", offline, "--out", other},
			err: []string{"key of another CA"}},
	}
	for _, st := range steps {
		before := readDir(t, tlsDir)
		out, err := runCA(t, data, st.args...)
		if st.err == nil && err != nil {
			t.Fatalf("%s: assent %s: %v\n%s", st.name, strings.Join(st.args, " "), err, out)
		}
		if st.err != nil {
			if err == nil {
				t.Fatalf("%s: assent %s succeeded:\n%s", st.name, strings.Join(st.args, " "), out)
			}
			for _, want := range st.err {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q does not mention %q", st.name, err, want)
				}
			}
			if after := readDir(t, tlsDir); !slices.Equal(before, after) {
				t.Errorf("%s: a refused command changed %s", st.name, tlsDir)
			}
		}
		for _, want := range st.out {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output does not mention %q:\n%s", st.name, want, out)
			}
		}
		if st.name == "show --json offline" {
			var s caShowJSON
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("show --json: %v\n%s", err, out)
			}
			if s.KeyOnline || !s.NameConstraint || s.Server == nil || !s.Server.IssuedBy ||
				!slices.Equal(s.PermittedNames, []string{"localhost", "mfa.example.com", "127.0.0.1", "::1", "10.0.0.5"}) ||
				s.NotAfter.Sub(s.NotBefore) < 3*365*24*time.Hour || s.NotAfter.Sub(s.NotBefore) > 3*366*24*time.Hour+time.Hour {
				t.Errorf("show --json: %+v", s)
			}
		}
		if st.check != nil {
			st.check(t)
		}
	}
}

// readDir lists a directory's files with their contents.
func readDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name()+"\n"+readFile(t, filepath.Join(dir, e.Name())))
	}
	return out
}

func TestCAShowWithoutCA(t *testing.T) {
	_, err := runCA(t, t.TempDir(), "ca", "show")
	if err == nil || !strings.Contains(err.Error(), "no local CA") {
		t.Errorf("error %v", err)
	}
}

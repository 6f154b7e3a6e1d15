package tlsutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A KeyPair serves the files it loaded, serves new ones after Reload, and
// keeps serving the old ones when new ones do not load.
func TestKeyPairReload(t *testing.T) {
	now := time.Now()
	a, err := EnsureLocalCA(filepath.Join(t.TempDir(), "a"), []string{"localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureLocalCA(filepath.Join(t.TempDir(), "b"), []string{"localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := LoadKeyPairFiles(a.Cert, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	served := func() []byte {
		c, err := kp.TLSConfig().GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificate[0]
	}
	first := served()
	if err := kp.Reload(b.Cert, b.Key); err != nil {
		t.Fatal(err)
	}
	second := served()
	if bytes.Equal(first, second) {
		t.Fatal("Reload did not change the certificate served")
	}
	if c, k := kp.Files(); c != b.Cert || k != b.Key {
		t.Errorf("Files() = %s %s after Reload", c, k)
	}
	// A key that does not match, then a file that is not PEM: refused.
	if err := kp.Reload(b.Cert, a.Key); err == nil {
		t.Error("Reload with a key that does not match the certificate succeeded")
	}
	broken := filepath.Join(t.TempDir(), "broken.pem")
	if err := os.WriteFile(broken, []byte("half a certif"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kp.Reload(broken, b.Key); err == nil {
		t.Error("Reload with a broken file succeeded")
	}
	if !bytes.Equal(served(), second) || kp.Certificate().Leaf == nil {
		t.Error("a failed Reload changed the certificate served")
	}
}

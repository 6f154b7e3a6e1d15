package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestTelephonyCredential: a provider's token stored with `assent telephony
// credential set` (never on the command line) is what the SMS provider is
// then called with, listed by name only, and gone after `clear`; a
// password file, when configured, wins.
func TestTelephonyCredential(t *testing.T) {
	var (
		mu   sync.Mutex
		auth []string
	)
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer provider.Close()
	dir := newInstallation(t)
	environ := []string{"ASSENT_SMS_PROVIDER=http", "ASSENT_SMS_URL=" + provider.URL, "ASSENT_SMS_FROM=+15555550001"}
	run := func(environ []string, args ...string) (string, error) {
		t.Helper()
		return runAssentEnv(t, environ, append(args, "--data-dir", dir)...)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"telephony", "credential", "set", "sms"}, "--file is required"},
		{[]string{"telephony", "credential", "set", "fax", "--file", tokenFile}, "unknown provider"},
		{[]string{"telephony", "credential", "set", "sms", "--file", filepath.Join(dir, "missing")}, "no such file"},
	} {
		if _, err := run(nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("assent %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if out, err := run(nil, "telephony", "credential", "list"); err != nil || !strings.Contains(out, "No stored credentials") {
		t.Fatalf("list before: %q %v", out, err)
	}
	if out, err := run(nil, "telephony", "credential", "set", "sms", "--file", tokenFile); err != nil || strings.Contains(out, "s3cret") {
		t.Fatalf("set: %q %v", out, err)
	}
	if out, err := run(nil, "telephony", "credential", "list"); err != nil || strings.TrimSpace(out) != "sms" {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err := run(environ, "telephony", "test-sms", "+15555550100"); err != nil {
		t.Fatalf("test-sms with the stored token: %v", err)
	}
	// A configured password file wins over the stored credential.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(append(environ, "ASSENT_SMS_PASSWORD_FILE="+pwFile), "telephony", "test-sms", "+15555550100"); err != nil {
		t.Fatalf("test-sms with a password file: %v", err)
	}
	if _, err := run(nil, "telephony", "credential", "clear", "sms"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(environ, "telephony", "test-sms", "+15555550100"); err != nil {
		t.Fatalf("test-sms without a credential: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"Bearer s3cret-token", "Bearer from-file", ""}
	if strings.Join(auth, "|") != strings.Join(want, "|") {
		t.Errorf("the provider was called with %q, want %q", auth, want)
	}
	// The administrator log rows (without the secret) are checked by
	// auth.TestCredentials: rows become readable only once their second ends.
}

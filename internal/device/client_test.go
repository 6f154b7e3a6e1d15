package device

import (
	"context"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
)

func sign(t testing.TB, k *rsa.PrivateKey, canon string) []byte {
	t.Helper()
	h := sha512.Sum512([]byte(canon))
	sig, err := rsa.SignPKCS1v15(nil, k, cryptoSHA512, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestParseCode(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		in, code, host string
		bad            bool
	}{
		{in: "duo://ABCDEFGHIJ0123456789-" + b64("api-12345678.duosecurity.com"), code: "ABCDEFGHIJ0123456789", host: "api-12345678.duosecurity.com"},
		{in: "ABCDEFGHIJ0123456789-" + b64("localhost:8443"), code: "ABCDEFGHIJ0123456789", host: "localhost:8443"},
		{in: "<ABCDEFGHIJ0123456789-" + b64("a.example") + ">", code: "ABCDEFGHIJ0123456789", host: "a.example"},
		{in: " duo://X-" + base64.StdEncoding.EncodeToString([]byte("ab")) + "\n", code: "X", host: "ab"}, // padded
		{in: "ABCDEFGHIJ0123456789", bad: true},
		{in: "duo://-" + b64("a.example"), bad: true},
		{in: "CODE-!!!!", bad: true},
		{in: "CODE-" + b64("evil.example/path"), bad: true},
	} {
		code, host, err := ParseCode(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %q %q", tc.in, code, host)
			} else if strings.Contains(err.Error(), "ABCDEFGHIJ") {
				t.Errorf("%q: the error quotes the code: %v", tc.in, err)
			}
			continue
		}
		if err != nil || code != tc.code || host != tc.host {
			t.Errorf("%q: %q %q %v, want %q %q", tc.in, code, host, err, tc.code, tc.host)
		}
	}
}

// writeCA saves the httptest server's certificate as a CA file, so the
// client is tested with the trust setup `assent device --ca` uses.
func (f *fixture) writeCA(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	c, err := Activate(ctx, f.enroll(t, "alice"), ActivateOptions{CAFile: f.writeCA(t), Key: testKeys()[2]})
	if err != nil {
		t.Fatal(err)
	}
	c.Now = f.clock.Now
	if c.Host != f.host || c.CustomerName != "Assent" || c.HOTPCounter != 0 {
		t.Errorf("client %+v", c)
	}
	file := filepath.Join(t.TempDir(), "device.json")
	if err := c.Save(file); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, %v", fi.Mode(), err)
	}
	c, err = Load(file)
	if err != nil {
		t.Fatal(err)
	}
	c.Now = f.clock.Now

	for _, approve := range []bool{true, false} {
		txid := f.push(t, "")
		list, err := c.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].TxID != txid || list[0].Attr("Username") != "alice" || list[0].Attr("Application") != "VPN" {
			t.Fatalf("pending %+v", list)
		}
		if err := c.Answer(ctx, txid, approve); err != nil {
			t.Fatal(err)
		}
		want := auth.ResultDeny
		if approve {
			want = auth.ResultAllow
		}
		if st := f.status(t, txid); st.Result != want {
			t.Errorf("approve=%v: status %+v", approve, st)
		}
	}
	if list, err := c.Pending(ctx); err != nil || len(list) != 0 {
		t.Errorf("answered pushes still pending: %v %v", list, err)
	}
}

// TestClientSyncPush acts as the phone for a synchronous push: the auth
// request waits in the core until the client approves.
func TestClientSyncPush(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan auth.AuthResult, 1)
	go func() {
		res, err := f.core.Auth(ctx, auth.AuthRequest{
			Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: auth.FactorPush, Device: "auto",
		})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var list []Transaction
	for len(list) == 0 {
		var err error
		if list, err = c.Pending(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Answer(ctx, list[0].TxID, true); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.Result != auth.ResultAllow || res.TxID != list[0].TxID {
		t.Errorf("auth %+v", res)
	}
}

func TestPasscode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "device.json")
	check := func(code, want string) {
		t.Helper()
		res, err := f.core.Auth(ctx, auth.AuthRequest{
			Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: auth.FactorPasscode, Passcode: code,
		})
		if err != nil || res.Result != want {
			t.Errorf("passcode %s: %+v %v, want %s", code, res, err, want)
		}
	}
	p0, err := c.Passcode()
	if err != nil {
		t.Fatal(err)
	}
	if c.HOTPCounter != 1 || len(p0) != 6 {
		t.Fatalf("code %q counter %d", p0, c.HOTPCounter)
	}
	check(p0, auth.ResultAllow)
	check(p0, auth.ResultDeny) // spent
	if err := c.Save(file); err != nil {
		t.Fatal(err)
	}
	c2, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := c2.Passcode()
	if err != nil || c2.HOTPCounter != 2 || p1 == p0 {
		t.Fatalf("after reload: %q %d %v", p1, c2.HOTPCounter, err)
	}
	check(p1, auth.ResultAllow)
}

// TestHOTPVector pins Duo's key convention (the ASCII bytes of the secret)
// with RFC 4226's own test secret, whose ASCII bytes are the RFC key.
func TestHOTPVector(t *testing.T) {
	t.Parallel()
	for counter, want := range []string{"755224", "287082", "359152", "969429"} {
		got, err := HOTP("12345678901234567890", int64(counter))
		if err != nil || got != want {
			t.Errorf("counter %d: %q %v, want %s", counter, got, err, want)
		}
	}
	if _, err := HOTP("", 0); err == nil {
		t.Error("empty secret accepted")
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"notjson": "{",
		"nokey":   `{"host":"h","pkey":"DP1"}`,
		"badkey":  `{"host":"h","pkey":"DP1","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file loaded")
	}
}

// TestActivateErrorHidesCode: a transport error names the request URL,
// whose path holds the activation code; the error must not.
func TestActivateErrorHidesCode(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close() // nothing listens there now
	const code = "SECRETCODE0123456789"
	_, err = Activate(context.Background(), "duo://"+code+"-"+base64.RawStdEncoding.EncodeToString([]byte(host)),
		ActivateOptions{Key: testKeys()[0]})
	if err == nil {
		t.Fatal("activation against a closed port succeeded")
	}
	if strings.Contains(err.Error(), code) || !strings.Contains(err.Error(), "/push/v2/activation/[redacted]") {
		t.Errorf("error %q: want the URL with the code redacted", err)
	}
}

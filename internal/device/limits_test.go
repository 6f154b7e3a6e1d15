package device

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
)

// countingCore is stubCore that counts device lookups.
type countingCore struct {
	stubCore
	lookups *atomic.Int64
	seen    *atomic.Int64
}

func (c countingCore) DeviceSeen(context.Context, store.Device) {
	if c.seen != nil {
		c.seen.Add(1)
	}
}

func (c countingCore) DeviceKey(ctx context.Context, id string) (store.Device, *rsa.PublicKey, error) {
	c.lookups.Add(1)
	return c.stubCore.DeviceKey(ctx, id)
}

type limitFixture struct {
	h       http.Handler
	client  *Client
	lookups atomic.Int64
	seen    atomic.Int64
}

func newLimitFixture(t *testing.T, burst int) *limitFixture {
	t.Helper()
	key := testKeys()[0]
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := &limitFixture{client: &Client{Host: "assent.example", PKey: "DPSTUB", Key: key, Now: clock}}
	mux := http.NewServeMux()
	(&API{Core: countingCore{stubCore{key: &key.PublicKey}, &f.lookups, &f.seen}, Hosts: []string{"assent.example"}, Now: clock,
		Failures: ratelimit.NewNamed("rate_limit_bad_signatures", ratelimit.Limit{Every: time.Minute, Burst: burst}, ratelimit.Options{Now: clock})}).Register(mux)
	f.h = httpapi.Middleware(slogDiscard, mux)
	return f
}

// send serves r from remote and returns the status, the Duo code, the
// Retry-After header and the body bytes read.
func (f *limitFixture) send(t *testing.T, r *http.Request, remote string) (status, code int, retry string, read int64) {
	t.Helper()
	var n atomic.Int64
	if r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = testutil.CountingBody{R: strings.NewReader(string(body)), N: &n}
		r.ContentLength = int64(len(body))
	}
	r.RemoteAddr = remote
	r.RequestURI = r.URL.RequestURI()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var env struct {
		Code int `json:"code"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("not a Duo envelope: %d %s", w.Code, w.Body)
	}
	return w.Code, env.Code, w.Header().Get("Retry-After"), n.Load()
}

func (f *limitFixture) signed(t *testing.T, method, path string, params url.Values) *http.Request {
	t.Helper()
	r, err := f.client.NewRequest(context.Background(), method, path, params)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDeviceSeenOnlyWhenSigned: "last seen" is a write, so only a correctly
// signed request may cause it; forged ones knowing only the device id never
// reach the store's write path.
func TestDeviceSeenOnlyWhenSigned(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t, 100)
	const info = "/push/v2/device/info"
	for range 5 {
		forged := f.signed(t, "GET", info, nil)
		forged.URL.RawQuery = "x=1"
		if status, _, _, _ := f.send(t, forged, "203.0.113.9:1000"); status != 401 {
			t.Fatalf("forged request: HTTP %d, want 401", status)
		}
	}
	if n := f.seen.Load(); n != 0 {
		t.Fatalf("forged requests recorded the device as seen %d times", n)
	}
	if status, _, _, _ := f.send(t, f.signed(t, "GET", info, nil), "203.0.113.9:1000"); status != 200 {
		t.Fatalf("good request: HTTP %d", status)
	}
	if n := f.seen.Load(); n != 1 {
		t.Fatalf("a good request recorded the device as seen %d times, want 1", n)
	}
}

// TestDeviceFailureLimit: failed device signatures (bad signature, unknown
// device, bad or missing date) use up the client address's budget; a
// blocked address is answered 429/42901 before any lookup, even for a good
// request; other addresses and successes are not affected.
func TestDeviceFailureLimit(t *testing.T) {
	t.Parallel()
	const burst = 4
	f := newLimitFixture(t, burst)
	const info = "/push/v2/device/info"
	attacker, other := "203.0.113.9:1000", "198.51.100.1:2000"
	for range 3 * burst {
		if status, _, _, _ := f.send(t, f.signed(t, "GET", info, nil), attacker); status != 200 {
			t.Fatalf("good request: HTTP %d", status)
		}
	}
	forged := f.signed(t, "GET", info, nil)
	forged.URL.RawQuery = "x=1"
	pk := f.client.PKey
	f.client.PKey = "DPUNKNOWN"
	unknown := f.signed(t, "GET", info, nil)
	f.client.PKey = pk
	stale := f.signed(t, "GET", info, nil)
	stale.Header.Set("X-Duo-Date", "Mon, 23 Nov 2026 11:00:00 -0000")
	undated := f.signed(t, "GET", info, nil)
	undated.Header.Del("X-Duo-Date")
	for i, r := range []*http.Request{forged, unknown, stale, undated} {
		if status, code, _, _ := f.send(t, r, attacker); status != 401 {
			t.Fatalf("failure %d: HTTP %d %d, want 401", i, status, code)
		}
	}
	before := f.lookups.Load()
	for _, r := range []*http.Request{f.signed(t, "GET", info, nil), f.signed(t, "POST", "/push/v2/device/registration", url.Values{"token": {"t"}})} {
		status, code, retry, read := f.send(t, r, attacker)
		if status != 429 || code != 42901 || retry == "" || read != 0 {
			t.Errorf("blocked address: HTTP %d %d Retry-After %q, %d bytes read; want 429 42901 with Retry-After, nothing read", status, code, retry, read)
		}
	}
	if n := f.lookups.Load() - before; n != 0 {
		t.Errorf("a blocked address caused %d device lookups", n)
	}
	if status, code, _, _ := f.send(t, f.signed(t, "GET", info, nil), other); status != 200 {
		t.Errorf("another address: HTTP %d %d", status, code)
	}
}

// TestDeviceBodies: device bodies are tiny; anything bigger, or of another
// type, is refused, and nothing is read for an unknown device or a bad date.
func TestDeviceBodies(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t, 1000)
	const reg = "/push/v2/device/registration"
	huge := url.Values{"token": {strings.Repeat("t", MaxBody)}}
	over := f.signed(t, "POST", reg, huge)
	xml := f.signed(t, "POST", reg, url.Values{"token": {"t"}})
	xml.Header.Set("Content-Type", "text/xml")
	pk := f.client.PKey
	f.client.PKey = "DPUNKNOWN"
	unknown := f.signed(t, "POST", reg, huge)
	f.client.PKey = pk
	stale := f.signed(t, "POST", reg, huge)
	stale.Header.Set("X-Duo-Date", "Mon, 23 Nov 2026 11:00:00 -0000")
	activation, _ := http.NewRequest("POST", "https://assent.example/push/v2/activation/CODE", strings.NewReader(huge.Encode()))
	activation.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, tc := range []struct {
		name         string
		r            *http.Request
		status, code int
		mayRead      bool
	}{
		{"registration", f.signed(t, "POST", reg, url.Values{"token": {strings.Repeat("t", 4000)}}), 200, 0, true},
		{"over the limit", over, 413, 41301, false},
		{"text/xml", xml, 401, 40106, false},
		{"unknown device", unknown, 401, 40102, false},
		{"stale date", stale, 401, 40105, false},
		{"activation over the limit", activation, 413, 41301, false},
	} {
		status, code, _, read := f.send(t, tc.r, "192.0.2.1:1")
		if status != tc.status || code != tc.code || (!tc.mayRead && read > 0) {
			t.Errorf("%s: HTTP %d %d, %d bytes read; want %d %d", tc.name, status, code, read, tc.status, tc.code)
		}
	}
}

// TestActivationFitsMaxBody measures an activation as Duo Mobile sends it,
// with every device field seen in the wild and a 4096-bit key (twice the
// usual size): it must fit MaxBody with room to spare.
func TestActivationFitsMaxBody(t *testing.T) {
	t.Parallel()
	// A 4096-bit modulus; it need not be a real key to be encoded.
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 4096))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, 4095, 1)
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	params := url.Values{
		"pubkey": {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, "pkpush": {"rsa-sha512"},
		"customer_protocol": {"1"}, "jailbroken": {"false"}, "architecture": {"arm64"}, "region": {"US"},
		"app_id": {"com.duosecurity.duomobile"}, "app_version": {"4.108.0"}, "app_build_number": {"410800"},
		"full_disk_encryption": {"true"}, "passcode_status": {"true"}, "platform": {"Android"}, "version": {"15"},
		"manufacturer": {"Google"}, "model": {"Pixel 9 Pro XL"}, "language": {"en"}, "security_patch_level": {"2026-11-05"},
		"device_name": {"Alice's work phone, the one with the cracked screen"}, "notification_status": {"true"},
		"touchid_status": {"true"}, "ble_status": {"true"}, "build_version": {"AP4A.261105.001"},
	}
	size := len(params.Encode())
	t.Logf("activation body with a 4096-bit key and all device fields: %d bytes (MaxBody %d)", size, MaxBody)
	if size > MaxBody/2 {
		t.Errorf("a real activation (%d bytes) does not fit MaxBody (%d) with room to spare", size, MaxBody)
	}
	// And the server takes it (the stub core knows no activation code).
	f := newLimitFixture(t, 10)
	r, _ := http.NewRequest("POST", "https://assent.example/push/v2/activation/CODE?customer_protocol=1", strings.NewReader(params.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, code, _, _ := f.send(t, r, "192.0.2.1:1"); status != 404 || code != 40403 {
		t.Errorf("activation: HTTP %d %d, want 404 40403 (read, then refused for the code)", status, code)
	}
}

// TestSignedDigest: the digest signedDigest reads out of a signature is
// the one crypto/rsa verifies, and anything else is refused.
func TestSignedDigest(t *testing.T) {
	t.Parallel()
	for i, key := range testKeys() {
		msg := []byte(fmt.Sprintf("date\nGET\nassent.example\n/push/v2/device/info\nkey=%d", i))
		h := sha512.Sum512(msg)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA512, h[:])
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := signedDigest(&key.PublicKey, sig); !ok || !bytes.Equal(d, h[:]) {
			t.Errorf("key %d: a good signature gives %x, %v", i, d, ok)
		}
		h256 := sha256.Sum256(msg)
		sig256, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h256[:])
		if err != nil {
			t.Fatal(err)
		}
		other := testKeys()[(i+1)%len(testKeys())]
		tampered := bytes.Clone(sig)
		tampered[len(tampered)/2] ^= 1
		beyond := new(big.Int).Add(key.N, big.NewInt(1)).FillBytes(make([]byte, len(sig)))
		for name, bad := range map[string][]byte{
			"SHA-256 signature": sig256, "tampered": tampered, "short": sig[1:], "long": append([]byte{0}, sig...),
			"zero": make([]byte, len(sig)), "not below N": beyond,
		} {
			if d, ok := signedDigest(&key.PublicKey, bad); ok {
				t.Errorf("key %d, %s: accepted, digest %x", i, name, d)
			}
		}
		if _, ok := signedDigest(&other.PublicKey, sig); ok {
			t.Errorf("key %d: another key's signature accepted", i)
		}
		for name, k := range map[string]*rsa.PublicKey{
			"e = 1": {N: key.N, E: 1}, "even e": {N: key.N, E: 65536},
		} {
			if _, ok := signedDigest(k, sig); ok {
				t.Errorf("key %d, %s: accepted", i, name)
			}
		}
		// Whatever it reads out, crypto/rsa agrees on.
		for range 200 {
			junk := make([]byte, len(sig))
			_, _ = rand.Read(junk)
			if d, ok := signedDigest(&key.PublicKey, junk); ok && rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA512, d, junk) != nil {
				t.Errorf("key %d: signedDigest read %x out of junk that crypto/rsa refuses", i, d)
			}
		}
	}
}

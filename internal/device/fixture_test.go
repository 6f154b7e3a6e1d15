package device

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/testutil"
)

// Device keys are slow to generate under -race; the tests share a few.
var testKeys = sync.OnceValue(func() [3]*rsa.PrivateKey {
	var ks [3]*rsa.PrivateKey
	for i := range ks {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ks[i] = k
	}
	return ks
})

func pubPEM(t testing.TB, k *rsa.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

var slogDiscard = slog.New(slog.DiscardHandler)

var testLogo = []byte("\x89PNG\r\n\x1a\nnot really a logo")

// fixture is a core on a temporary SQLite store behind the device API,
// served over TLS by httptest, with an Auth API integration and user alice.
type fixture struct {
	core  *auth.Service
	clock *testutil.Clock
	srv   *httptest.Server
	host  string // 127.0.0.1:port, the public hostname
	in    store.Integration
}

// newFixture starts the fixture; configure (optional) adjusts the API
// before it is registered.
func newFixture(t *testing.T, configure ...func(*API)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clock: testutil.NewClock(time.Now().UTC().Truncate(time.Second))}
	f.srv = httptest.NewUnstartedServer(nil)
	f.host = f.srv.Listener.Addr().String()
	f.core = auth.New(st, box, auth.Options{Now: f.clock.Now, APIHostname: f.host,
		StatusWait: 50 * time.Millisecond})
	mux := http.NewServeMux()
	api := &API{Core: f.core, Logo: testLogo, Hosts: []string{f.host}, Now: f.clock.Now}
	for _, c := range configure {
		c(api)
	}
	api.Register(mux)
	f.srv.Config.Handler = httpapi.Middleware(slogDiscard, mux)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	if f.in, _, err = f.core.CreateIntegration(ctx, auth.NewIntegration{Name: "VPN", Type: store.TypeAuthAPI}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.core.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	return f
}

// enroll issues an activation code (duo://…) for username.
func (f *fixture) enroll(t *testing.T, username string) string {
	t.Helper()
	e, err := f.core.Enroll(context.Background(), auth.EnrollRequest{Username: username})
	if err != nil {
		t.Fatal(err)
	}
	return e.ActivationCode
}

// device activates a client for username with test key i. Pushes go to
// a user's first device, so tests give each user one device.
func (f *fixture) device(t *testing.T, username string, i int) *Client {
	t.Helper()
	c, err := Activate(context.Background(), f.enroll(t, username), ActivateOptions{
		Name: "test phone", HTTPClient: f.srv.Client(), Key: testKeys()[i],
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Now = f.clock.Now
	return c
}

// push starts an async push to alice's first device and returns its txid.
func (f *fixture) push(t *testing.T, pushinfo string) string {
	t.Helper()
	res, err := f.core.Auth(context.Background(), auth.AuthRequest{
		Request: auth.Request{Integration: f.in, Username: "alice", IP: "192.0.2.7", Hostname: "laptop"},
		Factor:  auth.FactorPush, Device: "auto", Async: true, PushInfo: pushinfo,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.TxID
}

func (f *fixture) status(t *testing.T, txid string) auth.Status {
	t.Helper()
	st, err := f.core.AuthStatus(context.Background(), f.in, txid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// do sends req and returns the HTTP status and the decoded envelope.
func (f *fixture) do(t *testing.T, req *http.Request) (int, envelope) {
	t.Helper()
	status, env, _ := f.send(t, req)
	return status, env
}

// send is do that also returns the answer's headers.
func (f *fixture) send(t *testing.T, req *http.Request) (int, envelope, http.Header) {
	t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("HTTP %d, not JSON: %s", resp.StatusCode, b)
	}
	env.raw = string(b)
	return resp.StatusCode, env, resp.Header
}

type envelope struct {
	Stat          string          `json:"stat"`
	Response      json.RawMessage `json:"response"`
	Code          int             `json:"code"`
	Message       string          `json:"message"`
	MessageDetail string          `json:"message_detail"`
	raw           string
}

func (f *fixture) url(path string) string { return "https://" + f.host + path }

func formPost(t *testing.T, u, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

package universal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/testutil"
)

// testHost is the public hostname the fixture's API serves as.
const testHost = "assent.example.test"

// fixture is the Universal Prompt API over a real core and SQLite store,
// with one universal integration (ikey/skey) and one of another type.
type fixture struct {
	api        *API
	core       *auth.Service
	st         store.Store
	clock      *testutil.Clock
	mux        *http.ServeMux
	ikey, skey string
	other      string // an authapi integration's ikey
	otherSKey  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, clock: testutil.NewClock(time.Now().UTC().Truncate(time.Second))}
	f.core = auth.New(st, box, auth.Options{Now: f.clock.Now, APIHostname: testHost})
	in, skey, err := f.core.CreateIntegration(ctx, auth.NewIntegration{Name: "Web portal", Type: store.TypeUniversal})
	if err != nil {
		t.Fatal(err)
	}
	f.ikey, f.skey = in.IKey, skey
	other, oskey, err := f.core.CreateIntegration(ctx, auth.NewIntegration{Name: "VPN", Type: store.TypeAuthAPI})
	if err != nil {
		t.Fatal(err)
	}
	f.other, f.otherSKey = other.IKey, oskey
	f.api = &API{Core: f.core, Tokens: st, Hasher: box, Hosts: []string{testHost}, Now: f.clock.Now,
		Logger: slog.New(slog.DiscardHandler)}
	f.mux = http.NewServeMux()
	f.mux.HandleFunc(PathHealthCheck, f.api.healthCheck)
	f.mux.HandleFunc(PathToken, f.api.token)
	return f
}

// sign makes an HS512 JWT with golang-jwt's own signer (not the code under
// test), or with another method when given.
func sign(t testing.TB, claims jwt.MapClaims, secret string, method ...jwt.SigningMethod) string {
	t.Helper()
	m := jwt.SigningMethod(jwt.SigningMethodHS512)
	if len(method) > 0 {
		m = method[0]
	}
	var key any = []byte(secret)
	if m == jwt.SigningMethodNone {
		key = jwt.UnsafeAllowNoneSignatureType
	}
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertion is a client assertion as the SDKs make it for path.
func (f *fixture) assertion(t testing.TB, path string, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := f.clock.Now()
	c := jwt.MapClaims{
		"iss": f.ikey,
		"sub": f.ikey,
		"aud": "https://" + testHost + path,
		"jti": rand.Text(), // as random as the SDKs' 36 characters
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return sign(t, c, f.skey)
}

// post sends a form POST to path with params in the body, or in the query
// when inQuery (as duo_universal_python does).
func (f *fixture) post(t testing.TB, path string, params url.Values, inQuery bool) (*http.Response, map[string]any) {
	t.Helper()
	var req *http.Request
	if inQuery {
		req = httptest.NewRequest(http.MethodPost, "https://"+testHost+path+"?"+params.Encode(), nil)
	} else {
		req = httptest.NewRequest(http.MethodPost, "https://"+testHost+path, strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: not JSON (%d): %s", path, resp.StatusCode, body)
	}
	return resp, m
}

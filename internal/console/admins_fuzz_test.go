package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/console"
	"github.com/assent-auth/assent/internal/passhash"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/webauthnrp"
)

// FuzzConsoleKeyForms posts arbitrary security-key answers (the JSON
// go-webauthn parses) and sealed ceremony states to the sign-in and setup
// forms of a console with security keys on: never a 5xx, never a session
// cookie, and the pending administrator's setup link never used.
func FuzzConsoleKeyForms(f *testing.F) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "assent.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	rp, err := webauthnrp.New(webauthnrp.Settings{Hostname: "assent.example"})
	if err != nil {
		f.Fatal(err)
	}
	core := auth.New(st, box, auth.Options{WebAuthn: rp, AdminPasswordCost: passhash.Params{Memory: 64, Time: 1, Threads: 1}})
	_, link, err := core.CreateAdmin(context.Background(), "pending@example.com", "", store.RoleOwner)
	if err != nil {
		f.Fatal(err)
	}
	// A sealed setup ceremony of the right purpose and administrator, so
	// the fuzzer gets past the seal to go-webauthn's parsers.
	k, err := core.BeginAdminSetupKey(context.Background(), link.Token)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	(&console.Console{Core: core, CSRFKey: box.Pepper("console csrf"), Host: "assent.example"}).Register(mux)
	sealed := b64(k.Sealed)
	f.Add("setup", "a long enough password", sealed, `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`)
	f.Add("setup", "a long enough password", sealed, `{}`)
	f.Add("login", "a long enough password", sealed, `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`)
	f.Add("login", "", "", "")
	f.Add("setup", "a long enough password", "%%", "null")
	f.Fuzz(func(t *testing.T, page, password, sealed, response string) {
		path := "/admin/login"
		if page == "setup" {
			path = "/admin/setup/" + link.Token
		}
		form := url.Values{"method": {"webauthn"}, "email": {"pending@example.com"}, "password": {password}, "sealed": {sealed}, "response": {response}}
		req := httptest.NewRequest("POST", "https://assent.example"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %s: %d\n%s", path, w.Code, w.Body)
		}
		if c := w.Header().Get("Set-Cookie"); strings.Contains(c, console.CookieName+"=") && !strings.Contains(c, "Max-Age=0") {
			t.Fatalf("POST %s set a session cookie: %s", path, c)
		}
		if w.Code == http.StatusSeeOther && page == "setup" {
			t.Fatalf("setup completed with answer %q", response)
		}
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

package console_test

import (
	"bytes"
	"context"
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
)

// fuzzConsole is the console over a real core and SQLite store, with one
// owner set up (setup link used) and one pending (link unused).
func fuzzConsole(f *testing.F) (http.Handler, string) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "assent.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	core := auth.New(st, box, auth.Options{AdminPasswordCost: passhash.Params{Memory: 64, Time: 1, Threads: 1}})
	_, link, err := core.CreateAdmin(context.Background(), "pending@example.com", "", store.RoleOwner)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	(&console.Console{Core: core, CSRFKey: box.Pepper("console csrf"), Host: "assent.example"}).Register(mux)
	return mux, link.Token
}

// FuzzConsolePublicForms posts arbitrary sign-in and setup forms, with
// arbitrary Origin and Sec-Fetch-Site headers: never a 5xx, never a
// session cookie (nobody here holds a second factor), cross-site posts
// always refused, and the pending administrator's link never used.
func FuzzConsolePublicForms(f *testing.F) {
	h, token := fuzzConsole(f)
	f.Add("login", "pending@example.com", "a long enough password", "123456", "", "", "")
	f.Add("setup", "", "a long enough password", "000000", "AAAA", "https://assent.example", "same-origin")
	f.Add("setup", "x", "short", "1", "%%%", "null", "cross-site")
	f.Add("login", "\x00@\xff", "", "", "", "https://evil.example", "")
	f.Fuzz(func(t *testing.T, page, email, password, code, sealed, origin, site string) {
		path := "/admin/login"
		if page == "setup" {
			path = "/admin/setup/" + token
		}
		form := url.Values{"email": {email}, "password": {password}, "code": {code}, "sealed": {sealed}}
		req := httptest.NewRequest("POST", "https://assent.example"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %s: %d\n%s", path, w.Code, w.Body)
		}
		if c := w.Header().Get("Set-Cookie"); strings.Contains(c, console.CookieName+"=") && !strings.Contains(c, "Max-Age=0") {
			t.Fatalf("POST %s set a session cookie: %s", path, c)
		}
		if (site != "" && site != "same-origin") && w.Code != http.StatusForbidden {
			t.Fatalf("a %s post answered %d", site, w.Code)
		}
		if w.Code == http.StatusSeeOther && page == "setup" {
			t.Fatalf("setup completed with code %q", code)
		}
	})
}

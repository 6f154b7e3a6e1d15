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
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// FuzzPortalPublicForms posts arbitrary sign-in forms to the portal
// (username, passcode, a security key's sealed state and answer), with
// arbitrary Origin and Sec-Fetch-Site headers: never a 5xx, never a
// session cookie (nobody here holds a second factor: the one user's only
// method is an app whose secret the fuzzer does not know), cross-site
// posts always refused.
func FuzzPortalPublicForms(f *testing.F) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "assent.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	core := auth.New(st, box, auth.Options{})
	if _, err := core.CreateUser(context.Background(), "alice"); err != nil {
		f.Fatal(err)
	}
	if _, err := core.AddTOTPApp(context.Background(), "alice", auth.NewTOTPApp{Confirmed: true}); err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	(&console.Console{Core: core, CSRFKey: box.Pepper("console csrf"), Host: "assent.example", Box: box}).Register(mux)

	f.Add("passcode", "alice", "123456", "", "", "", "")
	f.Add("key", "alice", "", "AAAA", `{"id":"x"}`, "https://assent.example", "same-origin")
	f.Add("login", "nobody", "", "", "", "null", "cross-site")
	f.Add("passcode", "\x00\xff", "%%%", "", "", "https://evil.example", "")
	f.Add("enroll", "alice", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, page, username, passcode, state, response, origin, site string) {
		path := "/my/login"
		switch page {
		case "passcode", "key":
			path += "/" + page
		case "enroll":
			path = "/my/enroll/" + url.PathEscape(passcode)
		}
		form := url.Values{"username": {username}, "passcode": {passcode}, "state": {state}, "response": {response}}
		req := httptest.NewRequest("POST", "https://assent.example"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %s: %d\n%s", path, w.Code, w.Body)
		}
		if c := w.Header().Get("Set-Cookie"); strings.Contains(c, console.PortalCookieName+"=") && !strings.Contains(c, "Max-Age=0") {
			t.Fatalf("POST %s set a session cookie: %s", path, c)
		}
		if (site != "" && site != "same-origin") && w.Code != http.StatusForbidden {
			t.Fatalf("a %s post answered %d", site, w.Code)
		}
	})
}

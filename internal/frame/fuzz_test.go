package frame_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/username"
	"github.com/assent-auth/assent/pkg/duoweb"
)

// FuzzFrame loads the Web SDK frame with arbitrary query strings and form
// bodies, and with correctly signed sig_requests for arbitrary usernames
// and parent pages: never a 5xx, never an AUTH message (no user here may
// pass without a second factor), and for a signed request a prompt page
// exactly when the parent page has a web origin and the username is one
// Assent accepts, framable only by that origin.
func FuzzFrame(f *testing.F) {
	s := prompttest.New(f, prompttest.Options{})
	in, skey := s.Integration(f, store.TypeWebSDK, store.PolicyEnroll)
	s.Enroll(f, "alice")
	sdk := duoweb.SDK{Now: s.Clock.Now}
	sig, err := sdk.SignRequest(in.IKey, skey, akey, "alice")
	if err != nil {
		f.Fatal(err)
	}
	tx, _, _ := strings.Cut(sig, ":")
	f.Add("tx="+url.QueryEscape(tx)+"&parent="+url.QueryEscape(parentPage)+"&v=2.9", "", "alice", parentPage, false)
	f.Add("tx="+tx+"&parent="+parentPage, "", "bob", "https://evil.example/", true)
	f.Add("", "tx="+url.QueryEscape(tx)+"&parent=about:blank", "alice", "about:blank", false)
	f.Add("tx=TX|%zz|&parent=javascript:alert(1)", "", "Ålice|x", "http://[::1]:80/", true)
	handler := s.Server.Config.Handler
	f.Fuzz(func(t *testing.T, rawQuery, form, user, parent string, post bool) {
		// Arbitrary requests (the seeds' tx may still verify).
		w := frameRequest(handler, rawQuery, form, post)
		if w.Code >= 500 || strings.Contains(w.Body.String(), "AUTH|") {
			t.Fatalf("HTTP %d:\n%s", w.Code, w.Body)
		}

		// A correctly signed request for user, framed by parent.
		sig, err := sdk.SignRequest(in.IKey, skey, akey, user)
		if err != nil {
			return // a username Duo's SDKs refuse
		}
		tx, _, _ := strings.Cut(sig, ":")
		// Encoded as Duo-Web-v2.js does (encodeURIComponent: space is
		// %20; the frame keeps "+", a base64 character, as it is).
		q := strings.ReplaceAll(url.Values{"tx": {tx}, "parent": {parent}, "v": {"2.9"}}.Encode(), "+", "%20")
		if post {
			w = frameRequest(handler, "", q, true)
		} else {
			w = frameRequest(handler, q, "", false)
		}
		origin, perr := prompt.ParentOrigin(in, parent)
		// A username Assent refuses (empty after trimming, unassigned
		// code points; see package username) gets an error page, as a
		// parent without a web origin does.
		_, uerr := username.Normalize(user)
		checkFrame(t, w, origin, perr == nil && parent != "", uerr == nil)
	})
}

func frameRequest(h http.Handler, rawQuery, form string, post bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "https://assent.example/frame/web/v1/auth", nil)
	if post {
		r = httptest.NewRequest(http.MethodPost, "https://assent.example/frame/web/v1/auth", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.URL.RawQuery = rawQuery
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkFrame checks the answer to a correctly signed request: a prompt
// page framable by origin only when signed (the parent page has a web
// origin), an error page otherwise; for a username Assent refuses, the
// prompt shows only the refusal.
func checkFrame(t *testing.T, w *httptest.ResponseRecorder, origin string, signed, validUser bool) {
	t.Helper()
	body := w.Body.String()
	if w.Code >= 500 || strings.Contains(body, "AUTH|") {
		t.Fatalf("HTTP %d:\n%s", w.Code, body)
	}
	p := &prompttest.Page{Status: w.Code, Header: w.Header(), Body: body}
	if !signed {
		if w.Code == http.StatusOK || p.Session() != "" {
			t.Fatalf("a request without a parent origin got a prompt (HTTP %d, state %q)", w.Code, p.State())
		}
		return
	}
	if !validUser {
		if w.Code != http.StatusOK || p.State() != "refused" || p.Session() != "" {
			t.Fatalf("a signed request for a refused username got HTTP %d, state %q, session %v", w.Code, p.State(), p.Session() != "")
		}
	} else if w.Code != http.StatusOK || p.Session() == "" {
		t.Fatalf("a signed request got HTTP %d, state %q", w.Code, p.State())
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors "+origin+";") && !strings.HasSuffix(csp, "frame-ancestors "+origin) {
		t.Fatalf("prompt for parent origin %s framable by: %q", origin, csp)
	}
}

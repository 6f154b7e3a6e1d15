package prompt_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/store"
)

// fuzzActions are the prompt's POST actions that answer at once (status
// and enroll_status are long polls) and the enrollment portal.
var fuzzActions = []string{"/prompt/choose", "/prompt/push", "/prompt/check", "/prompt/passcode", "/prompt/sms", "/prompt/call",
	"/prompt/enroll", "/prompt/enrolled", "/portal/enroll/"}

// FuzzPromptAction posts arbitrary forms to the prompt's actions, with a
// genuine sealed state (a user with a device, one who must enroll) or an
// arbitrary one, arbitrary Origin and Sec-Fetch-Site headers, URL-encoded
// or multipart: never a 5xx, never a finished login (nobody here can
// produce a second factor), and cross-site posts always refused.
func FuzzPromptAction(f *testing.F) {
	fx := newFixture(f, store.PolicyEnroll)
	fx.s.Enroll(f, "alice")
	sessions := []string{fx.start(f, "alice").Session(), fx.start(f, "newbie").Session()}
	for i, s := range sessions {
		if s == "" {
			f.Fatalf("no sealed state on the start page of session %d", i)
		}
	}
	self := "https://" + fx.s.Host
	for i := range fuzzActions {
		f.Add(uint8(i), uint8(0), "", "auto", "123456", self, "same-origin", false)
	}
	f.Add(uint8(3), uint8(1), "", "", "999999999", "null", "same-origin", true)
	f.Add(uint8(1), uint8(2), "AQ", "DPXXXXXXXXXXXXXXXXXX", "", "https://evil.example", "cross-site", false)
	f.Add(uint8(6), uint8(2), "tok", "", "", "", "", false)
	handler := fx.s.Server.Config.Handler
	f.Fuzz(func(t *testing.T, action, sessionKind uint8, rawSession, device, passcode, origin, site string, multi bool) {
		path := fuzzActions[int(action)%len(fuzzActions)]
		if strings.HasSuffix(path, "/") {
			path += url.PathEscape(rawSession)
		}
		session := rawSession
		if k := int(sessionKind) % 3; k < len(sessions) {
			session = sessions[k]
		}
		fields := map[string]string{"session": session, "device": device, "passcode": passcode}
		var body bytes.Buffer
		ctype := "application/x-www-form-urlencoded"
		if multi {
			mw := multipart.NewWriter(&body)
			for k, v := range fields {
				_ = mw.WriteField(k, v)
			}
			_ = mw.Close()
			ctype = mw.FormDataContentType()
		} else {
			form := url.Values{}
			for k, v := range fields {
				form.Set(k, v)
			}
			body.WriteString(form.Encode())
		}
		r := httptest.NewRequest(http.MethodPost, self+"/", &body)
		u, err := url.Parse(self + path)
		if err != nil {
			return
		}
		r.URL, r.RequestURI = u, ""
		r.Header.Set("Content-Type", ctype)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		fx.rec.mu.Lock()
		before := len(fx.rec.outcomes)
		fx.rec.mu.Unlock()
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("POST %s: HTTP %d\n%s", path, w.Code, w.Body)
		}
		fx.rec.mu.Lock()
		finished := len(fx.rec.outcomes) > before
		fx.rec.mu.Unlock()
		if finished {
			t.Fatalf("POST %s %v finished a login without a second factor", path, fields)
		}
		crossSite := (site != "" && site != "same-origin") ||
			(origin != "" && origin != self && !(origin == "null" && site == "same-origin"))
		if crossSite && strings.HasPrefix(path, "/prompt/") && w.Code != http.StatusForbidden {
			t.Fatalf("cross-site POST %s (Origin %q, Sec-Fetch-Site %q): HTTP %d", path, origin, site, w.Code)
		}
	})
}

package prompt_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/store"
)

// startWith starts a universal prompt for user with cookies.
func (f *fixture) startWith(t *testing.T, user string, cookies ...*http.Cookie) int {
	t.Helper()
	rr := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "https://"+f.s.Host+"/oauth/v1/authorize", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	err := f.s.Prompt.Start(rr, req, prompt.Session{Kind: prompt.KindUniversal, IKey: f.in.IKey, Username: user,
		Data: map[string]string{"redirect_uri": "https://rp.example:9000/cb", "state": "abc"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return rr.Code
}

// TestRememberedBrowser: with trusted_device_days, a second factor sets an
// HttpOnly, Secure cookie for the integration; the next visit within the
// days skips the prompt (factor remembered_device, logged as such), another
// user is asked, and after expiry the user is asked again.
func TestRememberedBrowser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, store.PolicyEnroll)
	d := f.s.Enroll(t, "alice")
	f.s.Enroll(t, "bob")
	p := f.start(t, "alice")
	done := f.s.Action(t, p, "/prompt/passcode", "passcode", d.Passcode(t))
	if done.Status != http.StatusFound || strings.Contains(strings.Join(done.Header.Values("Set-Cookie"), ";"), "assent_rd_") {
		t.Fatalf("without the policy: %d, cookies %q", done.Status, done.Header.Values("Set-Cookie"))
	}

	days := 1
	if _, err := f.s.Core.ChangePolicy(ctx, auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{RememberDays: &days}}); err != nil {
		t.Fatal(err)
	}
	p = f.start(t, "alice")
	done = f.s.Action(t, p, "/prompt/passcode", "passcode", d.Passcode(t))
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: done.Header}).Cookies() {
		if c.Name == "assent_rd_"+f.in.IKey {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.Value == "" {
		t.Fatalf("after a passcode with trusted_device_days=1: cookie %+v", cookie)
	}
	if left := time.Until(cookie.Expires); cookie.MaxAge <= 0 || left > 48*time.Hour {
		t.Errorf("cookie expiry %v (max-age %d)", cookie.Expires, cookie.MaxAge)
	}

	if code := f.startWith(t, "alice", cookie); code != http.StatusFound {
		t.Fatalf("second visit: %d, want the prompt skipped", code)
	}
	if _, o := f.rec.last(t); o.Factor != prompt.FactorRemembered || o.Status != "allow" || o.Username != "alice" {
		t.Errorf("second visit outcome %+v", o)
	}
	rows, err := f.s.Store.ListAuthLog(ctx, store.AuthLogFilter{Limit: 1})
	if err != nil || len(rows) != 1 || rows[0].Reason != auth.ReasonRememberedDevice || rows[0].Result != "allow" {
		t.Errorf("auth log of the second visit: %+v %v", rows, err)
	}
	if code := f.startWith(t, "bob", cookie); code == http.StatusFound {
		t.Error("bob with alice's cookie skipped the prompt")
	}
	f.s.Clock.Advance(25 * time.Hour)
	if code := f.startWith(t, "alice", cookie); code == http.StatusFound {
		t.Error("after the day passed, the prompt was skipped")
	}
}

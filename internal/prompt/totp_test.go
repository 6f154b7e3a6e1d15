package prompt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Authenticator apps through the prompt's HTTP actions, with codes from
// internal/otp (the browser's part, with oathtool, is in
// internal/e2e/browser_totp_test.go).

var reQR = regexp.MustCompile(`id="totp-qr" data-testid="totp-qr" src="data:image/png;base64,([^"]+)"`)

// appKey checks a totp-add page (QR code inline, key, settings, data:
// images allowed by this page's CSP only) and returns the key it shows.
func appKey(t *testing.T, p *prompttest.Page) []byte {
	t.Helper()
	if p.Status != http.StatusOK || p.State() != "totp-add" {
		t.Fatalf("status %d, state %q, want totp-add\n%s", p.Status, p.State(), p.Body)
	}
	m := reQR.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no inline QR code\n%s", p.Body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("the QR code is not a PNG: %v", err)
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:;") {
		t.Errorf("CSP of the app page: %s", csp)
	}
	if strings.Contains(p.Body, "otpauth") || strings.Contains(p.Body, "/frame/qr") {
		t.Error("the key URI is in the page or a URL")
	}
	for _, want := range []string{"Google Authenticator", "Microsoft Authenticator", "Aegis", "2FAS", "1Password", "Bitwarden",
		"SHA1, 6 digits, every 30 seconds"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	key := p.Text("totp-key")
	if !regexp.MustCompile(`^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$`).MatchString(key) {
		t.Fatalf("key %q is not grouped base32", key)
	}
	secret, err := otp.DecodeBase32(strings.ReplaceAll(key, " ", ""))
	if err != nil || len(secret) != 20 {
		t.Fatalf("key %q: %v", key, err)
	}
	return secret
}

func code(s *prompttest.Stack, secret []byte, d time.Duration) string {
	return otp.TOTP(secret, s.Clock.Now().Add(d), 30, 6, otp.SHA1)
}

// Inline enrollment in the prompt: add → wrong code → right code → the app
// counts → log in with its next code (the confirming one is spent).
func TestTOTPInlineEnrollAndLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	intro := f.start(t, "tess")
	if intro.State() != "enroll-intro" || !intro.Has("totp-add-button") {
		t.Fatalf("state %q\n%s", intro.State(), intro.Body)
	}
	if strings.Contains(intro.Body, "Duo Mobile") {
		t.Error("the prompt names Duo Mobile")
	}
	if csp := intro.Header.Get("Content-Security-Policy"); strings.Contains(csp, "data:") {
		t.Errorf("a page without an inline QR code allows data: images: %s", csp)
	}
	add := f.s.Action(t, intro, "/prompt/totp/add")
	secret := appKey(t, add)

	// Not yet confirmed: tess is still not enrolled, and no code logs in.
	if p := f.start(t, "tess"); p.State() != "enroll-intro" {
		t.Fatalf("unconfirmed app counts: state %q", p.State())
	}

	for _, bad := range []string{"000000", ""} {
		p := f.s.Action(t, add, "/prompt/totp/confirm", "code", bad)
		secretAgain := appKey(t, p)
		if !bytes.Equal(secretAgain, secret) {
			t.Fatal("the page after a wrong code shows another key")
		}
		if !strings.Contains(p.Body, `class="msg error"`) || !strings.Contains(p.Text("status"), "code") {
			t.Errorf("wrong code %q: status %q", bad, p.Text("status"))
		}
	}
	c0 := code(f.s, secret, 0)
	choose := f.s.Action(t, add, "/prompt/totp/confirm", "code", c0)
	if choose.State() != "choose" || !strings.Contains(choose.Text("status"), "Authenticator app added") {
		t.Fatalf("after confirming: state %q, status %q\n%s", choose.State(), choose.Text("status"), choose.Body)
	}
	if !strings.Contains(choose.Body, "Enter a code from your authenticator app or token") {
		t.Errorf("the choose page does not ask for the app's code\n%s", choose.Body)
	}
	if !regexp.MustCompile(`id="passcode"[^>]*data-preselected`).MatchString(choose.Body) {
		t.Error("the code entry is not preselected")
	}
	// The confirmed page cannot be confirmed again, nor show the key again.
	if p := f.s.Action(t, add, "/prompt/totp/confirm", "code", "123456"); p.State() == "totp-add" {
		t.Error("the setup page came back after the app was confirmed")
	}
	// The confirming code is spent.
	if p := f.s.Action(t, choose, "/prompt/passcode", "passcode", c0); p.State() != "choose" || p.Status != http.StatusOK {
		t.Fatalf("the confirming code logged in again: %d %q", p.Status, p.State())
	}
	f.s.Clock.Advance(30 * time.Second)
	p := f.s.Action(t, choose, "/prompt/passcode", "passcode", code(f.s, secret, 0))
	if p.Status != http.StatusFound {
		t.Fatalf("login with the next code: %d %q %q", p.Status, p.State(), p.Text("status"))
	}
	_, o := f.rec.last(t)
	if o.Factor != prompt.FactorPasscode || o.Username != "tess" {
		t.Errorf("outcome %+v", o)
	}
	if m := f.s.Core.LastMethod(context.Background(), o.UserID); m != "passcode" {
		t.Errorf("last method %q", m)
	}
}

// The portal: the link is used by "Add an authenticator app"; the app
// counts after its first code; the next link of that user is refused.
func TestTOTPPortal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	ctx := context.Background()
	tok, _, err := f.s.Core.EnrollLinkToken(ctx, "uma")
	if err != nil {
		t.Fatal(err)
	}
	start := f.s.Get(t, "/portal/enroll/"+tok)
	if !start.Has("totp-add-button") || strings.Contains(start.Body, "Duo Mobile") {
		t.Fatalf("portal start\n%s", start.Body)
	}
	add := f.s.Post(t, "/portal/enroll/"+tok, url.Values{"kind": {"totp"}})
	secret := appKey(t, add)
	if add.Has("choose-button") {
		t.Error("the portal offers a way back into a prompt")
	}
	// A portal state can confirm an app, not start one in a prompt.
	if p := f.s.Action(t, add, "/prompt/totp/add"); p.Status != http.StatusBadRequest {
		t.Errorf("/prompt/totp/add with a portal state: %d", p.Status)
	}
	if p := f.s.Get(t, "/portal/enroll/"+tok); p.Status != http.StatusNotFound {
		t.Errorf("the link still works after use: %d", p.Status)
	}
	done := f.s.Action(t, add, "/prompt/totp/confirm", "code", code(f.s, secret, 0))
	if done.State() != "enrolled" || !strings.Contains(done.Text("status"), "authenticator app is ready") {
		t.Fatalf("state %q, status %q", done.State(), done.Text("status"))
	}
	tok2, _, err := f.s.Core.EnrollLinkToken(ctx, "uma")
	if err != nil {
		t.Fatal(err)
	}
	if p := f.s.Post(t, "/portal/enroll/"+tok2, url.Values{"kind": {"totp"}}); p.Status != http.StatusConflict {
		t.Errorf("a new link of a user with an app: %d %q", p.Status, p.Text("status"))
	}
	pre := f.start(t, "uma")
	if pre.State() != "choose" || pre.Has("totp-add-button") {
		t.Errorf("enrolled user: state %q", pre.State())
	}
}

// Wrong first codes count like wrong passcodes.
func TestTOTPConfirmRateLimited(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := prompttest.New(t, prompttest.Options{Finishers: map[string]prompt.Finisher{prompt.KindUniversal: rec},
		Limits: auth.Limits{PasscodeFailuresPerUser: ratelimit.Limit{Every: time.Hour, Burst: 2}}})
	in, _ := s.Integration(t, store.TypeUniversal, store.PolicyEnroll)
	f := &fixture{s: s, rec: rec, in: in}
	add := f.s.Action(t, f.start(t, "vic"), "/prompt/totp/add")
	secret := appKey(t, add)
	for range 2 {
		appKey(t, f.s.Action(t, add, "/prompt/totp/confirm", "code", "111111"))
	}
	p := f.s.Action(t, add, "/prompt/totp/confirm", "code", code(s, secret, 0))
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(p.Text("status"), "Too many attempts") {
		t.Fatalf("third code: %d %q", p.Status, p.Text("status"))
	}
	// The page stays, with its key, for when the limit allows again.
	p.Status = http.StatusOK
	if !bytes.Equal(appKey(t, p), secret) {
		t.Error("the refused page shows another key")
	}
	if pre := f.start(t, "vic"); pre.State() != "enroll-intro" {
		t.Errorf("the app counts after a refused code: %q", pre.State())
	}
}

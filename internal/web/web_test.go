package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func render(t *testing.T, p Page, hd Headers) *httptest.ResponseRecorder {
	t.Helper()
	rr := httptest.NewRecorder()
	if err := Render(rr, http.StatusOK, p, hd); err != nil {
		t.Fatalf("Render(%s): %v", p.State, err)
	}
	return rr
}

// Every state renders, with the ids the browser tests use, and every form
// control has a label.
func TestStates(t *testing.T) {
	t.Parallel()
	one := []Device{{ID: "DP1", Name: "Phone"}}
	two := []Device{{ID: "DP1", Name: "Phone"}, {ID: "DP2", Name: "Tablet <2>"}}
	for _, tc := range []struct {
		p   Page
		ids []string
	}{
		{Page{State: StateChoose, Devices: one, Push: true, Passcode: true}, []string{"push-button", "passcode", "passcode-button", "device-name"}},
		{Page{State: StateChoose, Devices: two, Push: true, Passcode: true}, []string{"push-button", "device", "passcode"}},
		{Page{State: StateChoose, Passcode: true}, []string{"passcode", "passcode-button"}},
		{Page{State: StatePushed}, []string{"check-button", "choose-button", "status"}},
		{Page{State: StateEnrollIntro}, []string{"enroll-button"}},
		{Page{State: StateEnrollQR, ActivationCode: "duo://x-y", QRURL: "/frame/qr?value=duo%3A%2F%2Fx-y"}, []string{"qr", "activation-code", "enrolled-button"}},
		{Page{State: StateEnrolled, Portal: true}, []string{"status"}},
		{Page{State: StateRefused, Message: "no"}, []string{"status"}},
		{Page{State: StateError, Message: "bad"}, []string{"status"}},
		{Page{State: StatePortal, PortalToken: "abc", Portal: true}, []string{"portal-start-button"}},
		{Page{State: StateDone, ParentMessage: "AUTH|a|b", ParentOrigin: "https://app.example"}, []string{"status"}},
		{Page{State: StateChoose, Devices: one, Push: true, Passcode: true, WebAuthn: true, WebAuthnOptions: `{"challenge":"x"}`},
			[]string{"push-button", "webauthn-button", "webauthn-form", "passcode"}},
		{Page{State: StateEnrollIntro, WebAuthn: true}, []string{"enroll-button", "webauthn-register-button", "webauthn-name"}},
		{Page{State: StatePortal, PortalToken: "abc", Portal: true, WebAuthn: true}, []string{"portal-start-button", "webauthn-register-button", "webauthn-name"}},
		{Page{State: StateWebAuthnCreate, WebAuthnOptions: `{"challenge":"x"}`, WebAuthnName: "Key"}, []string{"webauthn-create-button", "webauthn-create-form", "choose-button"}},
	} {
		tc.p.Title, tc.p.Session, tc.p.Username = "Title", "sealed", "alice"
		body := render(t, tc.p, Headers{}).Body.String()
		if !strings.Contains(body, `data-state="`+tc.p.State+`"`) {
			t.Errorf("%s: no data-state", tc.p.State)
		}
		for _, id := range tc.ids {
			if !strings.Contains(body, `id="`+id+`"`) {
				t.Errorf("%s: no element #%s", tc.p.State, id)
			}
		}
		for _, m := range regexp.MustCompile(`<(?:input|select)[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(body, -1) {
			if !strings.Contains(body, `<label for="`+m[1]+`"`) {
				t.Errorf("%s: #%s has no label", tc.p.State, m[1])
			}
		}
		if strings.Contains(body, "<script>") || regexp.MustCompile(` (on[a-z]+|style)=`).MatchString(body) {
			t.Errorf("%s: inline script or style", tc.p.State)
		}
		if strings.Contains(body, "Tablet <2>") {
			t.Errorf("%s: device name not escaped", tc.p.State)
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	rr := render(t, Page{State: StateError}, Headers{FrameAncestors: []string{"https://a.example", "https://b.example"},
		FormTargets: []string{"https://rp.example"}})
	h := rr.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'",
		"form-action 'self' https://rp.example", "frame-ancestors https://a.example https://b.example"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("X-Frame-Options") != "" || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("headers %v", h)
	}
	h = render(t, Page{State: StateError}, Headers{}).Header()
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("unframed page headers %v", h)
	}
}

func TestAssets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{AssetPrefix + "prompt.js", 200, "text/javascript; charset=utf-8"},
		{AssetPrefix + "prompt.css", 200, "text/css; charset=utf-8"},
		{AssetPrefix + "nope.js", 404, ""},
		{AssetPrefix, 404, ""},
	} {
		rr := httptest.NewRecorder()
		Assets().ServeHTTP(rr, httptest.NewRequest("GET", tc.path, nil))
		if rr.Code != tc.status || (tc.ctype != "" && rr.Header().Get("Content-Type") != tc.ctype) {
			t.Errorf("%s: %d %q", tc.path, rr.Code, rr.Header().Get("Content-Type"))
		}
	}
	if u := assetURL("prompt.js"); !regexp.MustCompile(`^/prompt/assets/prompt\.js\?v=[0-9a-f]{12}$`).MatchString(u) {
		t.Errorf("asset URL %q", u)
	}
}

// The method used last comes first and is preselected; the options travel
// in a data attribute, escaped, for webauthn.js (no inline script).
func TestWebAuthnChoose(t *testing.T) {
	t.Parallel()
	one := []Device{{ID: "DP1", Name: "Phone"}}
	opts := `{"challenge":"c<h>","rpId":"localhost"}`
	for _, tc := range []struct {
		last        string
		first       string // the form shown first
		preselected string // the control marked data-preselected (last of them)
	}{
		{"", "push-form", "push-button"},
		{"push", "push-form", "push-button"},
		{"webauthn", "webauthn-form", "webauthn-button"},
		{"passcode", "passcode-form", "passcode"},
	} {
		body := render(t, Page{Title: "T", State: StateChoose, Session: "s", Devices: one, Push: true, Passcode: true,
			WebAuthn: true, WebAuthnOptions: opts, LastMethod: tc.last}, Headers{}).Body.String()
		first, at := "", len(body)
		for _, f := range []string{"push-form", "webauthn-form", "passcode-form"} {
			if i := strings.Index(body, `id="`+f+`"`); i >= 0 && i < at {
				first, at = f, i
			}
		}
		if first != tc.first {
			t.Errorf("last %q: %s comes first, want %s", tc.last, first, tc.first)
		}
		pre := regexp.MustCompile(`id="([^"]+)"[^>]*data-preselected`).FindAllStringSubmatch(body, -1)
		if len(pre) == 0 || pre[len(pre)-1][1] != tc.preselected {
			t.Errorf("last %q: preselected %v, want %s", tc.last, pre, tc.preselected)
		}
		if !strings.Contains(body, `data-webauthn-get="{&#34;challenge&#34;:&#34;c&lt;h&gt;&#34;,&#34;rpId&#34;:&#34;localhost&#34;}"`) {
			t.Errorf("options not in the form's data attribute, escaped:\n%s", body)
		}
		if !strings.Contains(body, "/prompt/assets/webauthn.js?v=") {
			t.Error("webauthn.js not loaded")
		}
	}
	// Without a key, no WebAuthn script or button.
	body := render(t, Page{Title: "T", State: StateChoose, Session: "s", Devices: one, Push: true, Passcode: true}, Headers{}).Body.String()
	if strings.Contains(body, "webauthn") {
		t.Error("a user without keys is offered one")
	}
}

func TestGroupKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"ABC", "ABC"},
		{"ABCD", "ABCD"},
		{"ABCDE", "ABCD E"},
		{"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"},
	} {
		if got := GroupKey(tc.in); got != tc.want {
			t.Errorf("GroupKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Only the authenticator-app page allows data: images (its inline QR
// code); the app page shows the key, the settings and the app names.
func TestTOTPPage(t *testing.T) {
	t.Parallel()
	pg := Page{Title: "T", State: StateTOTPAdd, Session: "s", TOTP: &TOTPSetup{QR: "data:image/png;base64,iVBOR+w==",
		Key: "ABCD EFGH", Algorithm: "SHA1", Digits: 6, Period: 30, Issuer: "Assent", Account: "alice"}}
	rr := render(t, pg, Headers{DataImages: true})
	body := rr.Body.String()
	if csp := rr.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:;") {
		t.Errorf("CSP %s", csp)
	}
	if !strings.Contains(body, `src="data:image/png;base64,iVBOR&#43;w=="`) {
		t.Errorf("the QR code's data: URL was not kept\n%s", body)
	}
	for _, want := range []string{"ABCD EFGH", "SHA1, 6 digits, every 30 seconds", "Google Authenticator", "Bitwarden", `id="totp-code"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if csp := render(t, Page{Title: "T", State: StateChoose}, Headers{}).Header().Get("Content-Security-Policy"); strings.Contains(csp, "data:") {
		t.Errorf("CSP of another page allows data: %s", csp)
	}
	// A choose page for a user with an app or token asks for its code.
	body = render(t, Page{Title: "T", State: StateChoose, Passcode: true, TokenCodes: true}, Headers{}).Body.String()
	if !strings.Contains(body, "Enter a code from your authenticator app or token") {
		t.Errorf("choose page with tokens\n%s", body)
	}
}

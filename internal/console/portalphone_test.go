package console_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

var reProofCode = regexp.MustCompile(`\b([0-9]{6})\b`)

// TestPortalAddNumber: a user adds a phone number by typing back the code
// texted to it; wrong input and wrong codes are explained in the form;
// the new phone then receives SMS passcodes and can be renamed and
// removed like any method.
func TestPortalAddNumber(t *testing.T) {
	sms := testutil.StartSMSCapture(t)
	clock := testutil.NewClock(time.Now())
	s := assenttest.Start(t, assenttest.Options{Now: clock.Now, Flags: sms.Flags()})
	secret := app(t, s, "alice", "Phone")
	b := newBrowser(t, s, clock)
	b.mySignIn("alice", secret)
	html, csrf := b.home()
	if !strings.Contains(html, `action="/my/add/number"`) {
		t.Fatal("no phone number offered with SMS configured")
	}
	status, html, _ := b.do("GET", "/my/add/number", nil)
	if status != 200 || !strings.Contains(html, `action="/my/add/number"`) {
		t.Fatalf("number form: %d %s", status, html)
	}

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"no number", url.Values{"number": {""}}, 400, "Enter the phone number"},
		{"letters", url.Values{"number": {"+44 twenty"}}, 400, "The phone number must be a phone number"},
		{"bad extension", url.Values{"number": {"+442079460958"}, "extension": {"x1"}}, 400, "The extension must be at most 20 digits"},
		{"no csrf", url.Values{"number": {"+442079460958"}, "csrf": {"bad"}}, 403, ""},
	} {
		if tc.form.Get("csrf") == "" {
			tc.form.Set("csrf", csrf)
		}
		status, html, _ := b.do("POST", "/my/add/number", tc.form)
		if status != tc.status || !strings.Contains(html, tc.want) {
			t.Errorf("%s: %d, want %d with %q:\n%s", tc.name, status, tc.status, tc.want, html)
		}
	}
	if n := len(sms.Messages()); n != 0 {
		t.Fatalf("%d messages sent for refused numbers", n)
	}

	status, html, _ = b.do("POST", "/my/add/number", url.Values{"csrf": {csrf}, "number": {"+44 20 7946 0958"}, "name": {"Work mobile"}})
	if status != 200 || !strings.Contains(html, "XXX-XXX-0958") || strings.Contains(html, "7946") {
		t.Fatalf("code step: %d %s", status, html)
	}
	msg := sms.Wait(t, 1)[0]
	code := find(t, reProofCode, msg.Body)
	if msg.To != "+442079460958" {
		t.Fatalf("message to %q", msg.To)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	status, html, _ = b.do("POST", "/my/add/number/confirm", url.Values{"csrf": {csrf}, "code": {wrong}})
	if status != 400 || !strings.Contains(html, auth.ErrPhoneProofWrong.Detail) || !strings.Contains(html, "XXX-XXX-0958") {
		t.Fatalf("wrong code: %d %s", status, html)
	}
	status, _, h := b.do("POST", "/my/add/number/confirm", url.Values{"csrf": {csrf}, "code": {code}})
	if status != 303 || h.Get("Location") != "/my/?done=number" {
		t.Fatalf("right code: %d %v", status, h)
	}
	html, _ = b.home()
	if !strings.Contains(html, "Phone number (text messages)") || !strings.Contains(html, "XXX-XXX-0958") || !strings.Contains(html, "Work mobile") {
		t.Fatalf("home after adding: %s", html)
	}
	status, html, _ = b.do("POST", "/my/add/number/confirm", url.Values{"csrf": {csrf}, "code": {code}})
	if status != 400 || !strings.Contains(html, auth.ErrPhoneProofGone.Detail) {
		t.Errorf("the code again: %d %s", status, html)
	}

	// The new phone is a method: rename it, then remove it.
	var id string
	html, _ = b.home()
	for mid := range methods(html) {
		if strings.HasPrefix(mid, "DP") {
			id = mid
		}
	}
	if id == "" {
		t.Fatalf("no phone among the methods: %s", html)
	}
	status, _, _ = b.do("POST", "/my/methods/"+id+"/rename", url.Values{"csrf": {csrf}, "name": {"Desk"}})
	if status != 303 {
		t.Fatalf("rename: %d", status)
	}
	status, _, _ = b.do("POST", "/my/methods/"+id+"/remove", url.Values{"csrf": {csrf}})
	if status != 303 {
		t.Fatalf("remove: %d", status)
	}
	if html, _ := b.home(); strings.Contains(html, id) {
		t.Errorf("the phone is still listed after its removal")
	}
}

// TestPortalNoSMS: without an SMS provider the portal offers no phone
// number and refuses its pages.
func TestPortalNoSMS(t *testing.T) {
	s, clock := start(t)
	secret := app(t, s, "alice", "Phone")
	b := newBrowser(t, s, clock)
	b.mySignIn("alice", secret)
	html, csrf := b.home()
	if strings.Contains(html, "/my/add/number") {
		t.Error("a phone number is offered without SMS")
	}
	if status, _, _ := b.do("GET", "/my/add/number", nil); status != 404 {
		t.Errorf("number form without SMS: %d", status)
	}
	if status, _, _ := b.do("POST", "/my/add/number", url.Values{"csrf": {csrf}, "number": {"+442079460958"}}); status != 404 {
		t.Errorf("sending without SMS: %d", status)
	}
}

// TestConsoleAddUserNumber: an administrator gives a user a phone number
// from the user page, proving both factors again outside the
// re-authentication window; a help-desk administrator cannot; without SMS
// the form is not offered.
func TestConsoleAddUserNumber(t *testing.T) {
	sms := testutil.StartSMSCapture(t)
	clock := testutil.NewClock(time.Now())
	s := assenttest.Start(t, assenttest.Options{Now: clock.Now, Flags: sms.Flags()})
	u, err := s.App.Core.CreateUser(t.Context(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	adm := newBrowser(t, s, clock)
	adm.setUp("owner@example.com", store.RoleOwner)
	page := "/admin/users/" + u.ID
	status, html, _ := adm.do("GET", page, nil)
	if status != 200 || !strings.Contains(html, `id="add-phone-number"`) {
		t.Fatalf("user page: %d, offers a phone number: %v", status, strings.Contains(html, `id="add-phone-number"`))
	}
	csrf := find(t, reCSRF, html)
	post := func(form url.Values) (int, string) {
		form.Set("csrf", csrf)
		status, html, _ := adm.do("POST", page+"/phones", form)
		return status, html
	}
	// Past the re-authentication window: the password and a code first.
	clock.Advance(6 * time.Minute)
	clock.Advance(30 * time.Second)
	if status, html := post(url.Values{"number": {"+442079460958"}, "password": {"wrong"}, "code": {adm.code()}}); status != 401 ||
		!strings.Contains(html, "password or code") || !strings.Contains(html, `442079460958"`) {
		t.Fatalf("wrong password: %d", status)
	}
	clock.Advance(30 * time.Second)
	if status, html := post(url.Values{"number": {"+44 letters"}, "password": {password}, "code": {adm.code()}}); status != 400 ||
		!strings.Contains(html, "The phone number must be a phone number") {
		t.Fatalf("bad number: %d %s", status, html)
	}
	// Within the window now: no password needed.
	status, html = post(url.Values{"number": {"+44 20 7946 0958"}, "name": {"Desk"}})
	if status != 303 {
		t.Fatalf("add a number: %d %s", status, html)
	}
	_, html, _ = adm.do("GET", page+"?done=phone-added", nil)
	if !strings.Contains(html, "XXX-XXX-0958") || strings.Contains(html, "2079460958") || !strings.Contains(html, "receives SMS passcodes") {
		t.Errorf("user page after adding: %s", html)
	}
	devs, err := s.App.Core.Devices(t.Context(), u.ID)
	if err != nil || len(devs) != 1 || devs[0].Number != "+442079460958" || devs[0].Name != "Desk" {
		t.Fatalf("devices: %+v %v", devs, err)
	}
	// A landline (added with the CLI or the Admin API) is shown as one.
	landline := "landline"
	if _, err := s.App.Core.AddUserNumber(t.Context(), "bob", auth.PhoneFields{Number: sp("+15555550142"), Type: &landline}); err != nil {
		t.Fatal(err)
	}
	if _, html, _ = adm.do("GET", page, nil); !strings.Contains(html, `landline <span data-testid="device-number">XXX-XXX-0142</span>`) {
		t.Errorf("the landline on the user page: %s", html)
	}

	// A help-desk administrator sees no form and is refused.
	hd := newBrowser(t, s, clock)
	hd.setUp("helpdesk@example.com", store.RoleHelpDesk)
	_, html, _ = hd.do("GET", page, nil)
	if strings.Contains(html, `id="add-phone-number"`) {
		t.Error("help desk is offered the phone number form")
	}
	if status, _, _ := hd.do("POST", page+"/phones", url.Values{"csrf": {find(t, reCSRF, html)}, "number": {"+15555550100"}}); status != 403 {
		t.Errorf("help desk adds a number: %d", status)
	}

	// Without SMS: no form.
	s2, clock2 := start(t)
	u2, err := s2.App.Core.CreateUser(t.Context(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	adm2 := newBrowser(t, s2, clock2)
	adm2.setUp("owner@example.com", store.RoleOwner)
	if _, html, _ := adm2.do("GET", "/admin/users/"+u2.ID, nil); strings.Contains(html, `id="add-phone-number"`) {
		t.Error("the phone number form is offered without SMS")
	}
}

func sp(s string) *string { return &s }

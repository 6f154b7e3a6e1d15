package adminapi_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// TestSendSMSActivation: with an SMS provider, send_sms_activation texts
// the activation link (and first the installation link with install=1),
// honouring Duo's <acturl>/<insturl> templates and valid_secs; the code in
// the text activates the phone. send_sms_installation texts the install
// link. Refusals answer Duo's 40002 and send nothing.
func TestSendSMSActivation(t *testing.T) {
	sms := testutil.StartSMSCapture(t)
	flags := sms.Flags()
	flags["rate_limit_sms_per_user"] = "4/1h"
	s := assenttest.Start(t, assenttest.Options{Flags: flags})
	ikey, skey := integration(t, s, store.TypeAdminAPI, "all")
	do := func(method, path string, params url.Values) (int, envelope) {
		return call(t, s, ikey, skey, 5, method, path, params)
	}
	u, err := s.App.Core.CreateUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	status, e := do("POST", "/admin/v1/phones", url.Values{"number": {"+15555550100"}, "type": {"mobile"}, "platform": {"google android"}})
	p := okResp[phoneOut](t, "add_phone", status, e)
	status, e = do("POST", "/admin/v1/phones", url.Values{"type": {"mobile"}})
	noNumber := okResp[phoneOut](t, "add_phone without a number", status, e)
	for _, id := range []string{p.PhoneID, noNumber.PhoneID} {
		if status, e := do("POST", "/admin/v1/users/"+u.ID+"/phones", url.Values{"phone_id": {id}}); status != 200 {
			t.Fatalf("add_user_phone: %d %+v", status, e)
		}
	}

	for _, tc := range []struct {
		name, path string
		params     url.Values
		want       string
	}{
		{"activation_msg without <acturl>", p.PhoneID + "/send_sms_activation", url.Values{"activation_msg": {"hello"}}, "<acturl>"},
		{"installation_msg without <insturl>", p.PhoneID + "/send_sms_activation", url.Values{"install": {"1"}, "installation_msg": {"hi"}}, "<insturl>"},
		{"installation without <insturl>", p.PhoneID + "/send_sms_installation", url.Values{"installation_msg": {"hi"}}, "<insturl>"},
		{"valid_secs", p.PhoneID + "/send_sms_activation", url.Values{"valid_secs": {"0"}}, "valid_secs"},
		{"no number", noNumber.PhoneID + "/send_sms_activation", nil, "no number"},
		{"no number, installation", noNumber.PhoneID + "/send_sms_installation", nil, "no number"},
	} {
		status, e := do("POST", "/admin/v1/phones/"+tc.path, tc.params)
		if status != 400 || e.Code != 40002 || !strings.Contains(e.Message+" "+e.Detail, tc.want) {
			t.Errorf("%s: %d %+v, want 40002 about %q", tc.name, status, e, tc.want)
		}
	}
	if n := len(sms.Messages()); n != 0 {
		t.Fatalf("%d messages sent by refused requests", n)
	}

	status, e = do("POST", "/admin/v1/phones/"+p.PhoneID+"/send_sms_activation", url.Values{"valid_secs": {"3600"}, "install": {"1"},
		"activation_msg": {"Activate: <acturl> now"}, "installation_msg": {"Install: <insturl>"}})
	act := okResp[struct {
		Barcode string `json:"activation_barcode"`
		ActMsg  string `json:"activation_msg"`
		InstMsg string `json:"installation_msg"`
		Valid   int    `json:"valid_secs"`
	}](t, "send_sms_activation", status, e)
	msgs := sms.Wait(t, 2)
	install := "https://" + s.Host + "/app/"
	if act.Valid != 3600 || act.InstMsg != "Install: "+install || !strings.HasPrefix(act.ActMsg, "Activate: "+install+"#activate=") ||
		!strings.HasSuffix(act.ActMsg, " now") || !strings.Contains(act.Barcode, "/frame/qr?value=") {
		t.Fatalf("send_sms_activation = %+v", act)
	}
	if msgs[0].To != "+15555550100" || msgs[0].Body != act.InstMsg || msgs[1].Body != act.ActMsg {
		t.Fatalf("messages %+v, want the installation then the activation message", msgs)
	}
	link, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(act.ActMsg, "Activate: "), " now"))
	if err != nil {
		t.Fatal(err)
	}
	frag, _ := url.ParseQuery(link.Fragment)
	ph, err := device.Activate(t.Context(), frag.Get("activate"), device.ActivateOptions{CAFile: s.CAFile, Name: "Pixel", Platform: "Android"})
	if err != nil || ph.PKey != p.PhoneID {
		t.Fatalf("activate with the texted link: %+v %v", ph, err)
	}

	// Default messages; send_sms_installation.
	status, e = do("POST", "/admin/v1/phones/"+p.PhoneID+"/send_sms_installation", nil)
	inst := okResp[struct {
		InstMsg string `json:"installation_msg"`
	}](t, "send_sms_installation", status, e)
	if msgs := sms.Wait(t, 3); !strings.Contains(inst.InstMsg, install) || msgs[2].Body != inst.InstMsg {
		t.Fatalf("send_sms_installation = %+v, texted %+v", inst, msgs[2])
	}
	// rate_limit_sms_per_user = 4/1h: the fourth message goes, a fifth
	// (here, the second of an activation with install=1) is refused.
	status, e = do("POST", "/admin/v1/phones/"+p.PhoneID+"/send_sms_activation", url.Values{"install": {"1"}})
	if status != 429 {
		t.Errorf("over the SMS limit: %d %+v", status, e)
	}
	if n := len(sms.Wait(t, 4)); n != 4 {
		t.Errorf("%d messages, want 4", n)
	}
	rows, err := s.App.Core.TelephonyLog(t.Context(), time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0].Context != auth.TelephonyAdministrator || rows[0].Phone != "XXX-XXX-0100" {
		t.Errorf("telephony log: %+v", rows)
	}
}

package adminapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

type phoneOut struct {
	PhoneID      string   `json:"phone_id"`
	Activated    bool     `json:"activated"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Platform     string   `json:"platform"`
	Number       string   `json:"number"`
	Extension    string   `json:"extension"`
	Capabilities []string `json:"capabilities"`
	Users        []struct {
		UserID string `json:"user_id"`
	} `json:"users"`
}

func okResp[T any](t *testing.T, what string, status int, e envelope) T {
	t.Helper()
	var v T
	if status != 200 || e.Stat != "OK" {
		t.Fatalf("%s: %d %+v", what, status, e)
	}
	if err := json.Unmarshal(e.Response, &v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, e.Response)
	}
	return v
}

// TestPhonesBeforeActivation: a phone created, renamed and given to a user
// through the Admin API is listed as not activated, activates through its
// activation link with the device API, keeps its phone_id, and then
// answers pushes; SMS endpoints say SMS is not configured.
func TestPhonesBeforeActivation(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, "all")
	do := func(method, path string, params url.Values) (int, envelope) {
		return call(t, s, ikey, skey, 5, method, path, params)
	}
	u, err := s.App.Core.CreateUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}

	status, e := do("POST", "/admin/v1/phones", url.Values{"number": {"555-555-0100"}, "extension": {"7"}, "type": {"mobile"},
		"platform": {"google android"}, "predelay": {"1"}, "postdelay": {"2"}})
	p := okResp[phoneOut](t, "add_phone", status, e)
	if !strings.HasPrefix(p.PhoneID, "DP") || p.Activated || p.Type != "Mobile" || p.Platform != "Google Android" ||
		p.Number != "+15555550100" || p.Extension != "7" || len(p.Capabilities) != 0 || len(p.Users) != 0 {
		t.Errorf("add_phone = %+v", p)
	}
	if status, e := do("POST", "/admin/v1/phones", url.Values{"type": {"pager"}}); status != 400 || e.Code != 40002 || !strings.Contains(e.Detail, "type") {
		t.Errorf("add_phone pager: %d %+v", status, e)
	}
	status, e = do("POST", "/admin/v1/phones/"+p.PhoneID, url.Values{"name": {"alice's phone"}})
	if got := okResp[phoneOut](t, "update_phone", status, e); got.Name != "alice's phone" || got.Number != "+15555550100" {
		t.Errorf("update_phone = %+v", got)
	}
	status, e = do("GET", "/admin/v1/phones", url.Values{"number": {"+15555550100"}})
	if got := okResp[[]phoneOut](t, "get_phones_by_number", status, e); len(got) != 1 || got[0].PhoneID != p.PhoneID {
		t.Errorf("get_phones_by_number = %+v", got)
	}
	status, e = do("POST", "/admin/v1/phones/"+p.PhoneID+"/activation_url", nil)
	if status != 400 || e.Code != 40002 || !strings.Contains(e.Detail, "no user") {
		t.Errorf("activation_url before add_user_phone: %d %+v", status, e)
	}

	status, e = do("POST", "/admin/v1/users/"+u.ID+"/phones", url.Values{"phone_id": {p.PhoneID}})
	if status != 200 || string(e.Response) != `""` {
		t.Fatalf("add_user_phone: %d %+v", status, e)
	}
	status, e = do("GET", "/admin/v1/users/"+u.ID+"/phones", nil)
	if got := okResp[[]phoneOut](t, "get_user_phones", status, e); len(got) != 1 || got[0].PhoneID != p.PhoneID || got[0].Activated {
		t.Errorf("get_user_phones = %+v", got)
	}
	status, e = do("GET", "/admin/v1/users/"+u.ID, nil)
	if got := okResp[struct {
		IsEnrolled bool       `json:"is_enrolled"`
		Phones     []phoneOut `json:"phones"`
	}](t, "get_user", status, e); got.IsEnrolled || len(got.Phones) != 1 {
		t.Errorf("get_user with a pending phone = %+v, want not enrolled", got)
	}

	for _, path := range []string{"send_sms_activation", "send_sms_installation", "send_sms_passcodes"} {
		status, e := do("POST", "/admin/v1/phones/"+p.PhoneID+"/"+path, nil)
		if status != 400 || e.Code != 40002 || !strings.Contains(e.Detail, "SMS is not configured") {
			t.Errorf("%s: %d %+v", path, status, e)
		}
	}
	if status, e := do("POST", "/admin/v1/phones/DPNOSUCHPHONE0000000/send_sms_activation", nil); status != 404 {
		t.Errorf("send_sms_activation of an unknown phone: %d %+v", status, e)
	}

	status, e = do("POST", "/admin/v1/phones/"+p.PhoneID+"/activation_url", url.Values{"valid_secs": {"3600"}, "install": {"1"}})
	act := okResp[struct {
		URL     string `json:"activation_url"`
		Barcode string `json:"activation_barcode"`
		Install string `json:"installation_url"`
		Valid   int    `json:"valid_secs"`
	}](t, "create_activation_url", status, e)
	link, err := url.Parse(act.URL)
	if err != nil || link.Path != "/app/" || act.Valid != 3600 || act.Install != "https://"+s.Host+"/app/" {
		t.Fatalf("create_activation_url = %+v", act)
	}
	if bu, err := url.Parse(act.Barcode); err != nil || bu.Path != "/frame/qr" || bu.Query().Get("value") != act.URL {
		t.Errorf("activation_barcode %q does not hold the link", act.Barcode)
	}
	frag, _ := url.ParseQuery(link.Fragment)
	// The same link as the enrollment's app_link: the Assent Authenticator activates from it.
	if code := frag.Get("activate"); !strings.HasPrefix(code, "duo://") || act.URL != "https://"+s.Host+"/app/#activate="+url.QueryEscape(code) {
		t.Errorf("activation_url %q is not the app link of a duo:// code", act.URL)
	}
	phone, err := device.Activate(t.Context(), frag.Get("activate"), device.ActivateOptions{CAFile: s.CAFile, Name: "Pixel"})
	if err != nil {
		t.Fatalf("activate with the link's code: %v", err)
	}
	if phone.PKey != p.PhoneID {
		t.Errorf("activated device %s, want the phone's ID %s", phone.PKey, p.PhoneID)
	}
	status, e = do("GET", "/admin/v1/phones/"+p.PhoneID, nil)
	got := okResp[phoneOut](t, "get_phone_by_id", status, e)
	if !got.Activated || got.Name != "alice's phone" || len(got.Users) != 1 || got.Users[0].UserID != u.ID || len(got.Capabilities) == 0 {
		t.Errorf("phone after activation = %+v", got)
	}

	// A push to it, approved on it.
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	ch := assenttest.AnswerNext(t.Context(), phone, true, 0)
	status, e = call(t, s, aikey, askey, 2, "POST", "/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"push"}, "device": {p.PhoneID}})
	if res := okResp[struct {
		Result string `json:"result"`
	}](t, "push", status, e); res.Result != "allow" {
		t.Errorf("push to the activated phone: %+v", res)
	}
	assenttest.Received(t, ch)

	// Verification push: the code from the answer, typed on the phone.
	if status, e := do("POST", "/admin/v1/users/"+u.ID+"/send_verification_push", nil); status != 400 || !strings.Contains(e.Detail, "phone_id") {
		t.Errorf("send_verification_push without phone_id: %d %+v", status, e)
	}
	status, e = do("POST", "/admin/v1/users/"+u.ID+"/send_verification_push", url.Values{"phone_id": {p.PhoneID}})
	vp := okResp[struct {
		PushID string `json:"push_id"`
		Code   string `json:"confirmation_code"`
	}](t, "send_verification_push", status, e)
	result := func() string {
		t.Helper()
		status, e := do("GET", "/admin/v1/users/"+u.ID+"/verification_push_response", url.Values{"push_id": {vp.PushID}})
		return okResp[struct {
			Result string `json:"result"`
		}](t, "verification_push_response", status, e).Result
	}
	if r := result(); r != "waiting" {
		t.Errorf("before the answer: %q, want waiting", r)
	}
	tx, err := assenttest.WaitPush(t.Context(), phone)
	if err != nil || tx.TxID != vp.PushID || !strings.Contains(tx.Summary, "Identity verification") {
		t.Fatalf("the phone sees %+v %v", tx, err)
	}
	if _, err := phone.AnswerWith(t.Context(), tx.TxID, device.AnswerApprove, vp.Code); err != nil {
		t.Fatal(err)
	}
	if r := result(); r != "approve" {
		t.Errorf("after approval: %q, want approve", r)
	}
	if status, e := do("GET", "/admin/v1/users/"+u.ID+"/verification_push_response", url.Values{"push_id": {"00000000-0000-4000-8000-000000000000"}}); status != 404 {
		t.Errorf("unknown push_id: %d %+v", status, e)
	}

	status, e = do("DELETE", "/admin/v1/phones/"+p.PhoneID, nil)
	if status != 200 {
		t.Errorf("delete_phone: %d %+v", status, e)
	}
	if status, _ := do("GET", "/admin/v1/phones/"+p.PhoneID, nil); status != 404 {
		t.Errorf("deleted phone: %d", status)
	}
}

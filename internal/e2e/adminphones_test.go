package e2e

import (
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

type pyPhone struct {
	PhoneID      string   `json:"phone_id"`
	Activated    bool     `json:"activated"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Platform     string   `json:"platform"`
	Number       string   `json:"number"`
	Extension    string   `json:"extension"`
	Capabilities []string `json:"capabilities"`
	Users        []struct {
		UserID   string `json:"user_id"`
		Username string `json:"username"`
	} `json:"users"`
}

// TestPythonDuoClientAdminPhones drives phones before activation and
// verification pushes with Debian's python3-duo-client: add_phone,
// update_phone, add_user_phone, create_activation_url; the phone then
// activates through the device API with the link's code and keeps its
// phone_id, answers a push of the Auth API, and answers two verification
// pushes (approve with the confirmation code, deny) that
// verification_push_response reports. SMS endpoints say SMS is not
// configured. On SQLite and PostgreSQL.
func TestPythonDuoClientAdminPhones(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			testPythonDuoClientAdminPhones(t, py, startServer(t, serverOptions{engine: e}))
		})
	}
}

func testPythonDuoClientAdminPhones(t *testing.T, py string, ts *testServer) {
	admIKey, admSKey := ts.adminIntegration(t, "all")
	authIKey, authSKey := ts.authAPI(t)
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_admin_phones.py"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(phase string, extra ...string) map[string]pyCall {
		t.Helper()
		out := map[string]pyCall{}
		runJSON(t, 90*time.Second, &out, py, []string{script}, append([]string{
			"DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port), "DUO_CA=" + ts.CAFile,
			"DUO_ADMIN_IKEY=" + admIKey, "DUO_ADMIN_SKEY=" + admSKey,
			"DUO_AUTH_IKEY=" + authIKey, "DUO_AUTH_SKEY=" + authSKey, "DUO_PHASE=" + phase,
		}, extra...), "")
		return out
	}
	refused := func(out map[string]pyCall, key, want string) {
		t.Helper()
		if out[key].Error == "" || !strings.Contains(out[key].Error, want) {
			t.Errorf("%s: %+v, want an error saying %q", key, out[key], want)
		}
	}

	// Setup: the phone exists, named and given to its user, before any device.
	out := run("setup")
	var user struct {
		UserID string `json:"user_id"`
	}
	out["add_user"].decode(t, "add_user", &user)
	var phone, updated pyPhone
	out["add_phone"].decode(t, "add_phone", &phone)
	if !strings.HasPrefix(phone.PhoneID, "DP") || phone.Activated || phone.Type != "Mobile" || phone.Platform != "Google Android" ||
		phone.Number != "+15555550142" || phone.Extension != "9" || len(phone.Users) != 0 {
		t.Errorf("add_phone = %+v", phone)
	}
	var landline pyPhone
	out["add_landline"].decode(t, "add_landline", &landline)
	if landline.Type != "Landline" || landline.Number != "+15555550143" || landline.Activated || len(landline.Users) != 0 {
		t.Errorf("add_phone type=Landline = %+v", landline)
	}
	out["update_phone"].decode(t, "update_phone", &updated)
	if updated.PhoneID != phone.PhoneID || updated.Name != "py phone" || updated.Number != phone.Number {
		t.Errorf("update_phone = %+v", updated)
	}
	refused(out, "activation_no_user", "no user")
	if out["add_user_phone"].Error != "" || string(out["add_user_phone"].OK) != `""` {
		t.Errorf("add_user_phone = %+v", out["add_user_phone"])
	}
	var userPhones, byNumber, all []pyPhone
	out["get_user_phones"].decode(t, "get_user_phones", &userPhones)
	if len(userPhones) != 1 || userPhones[0].PhoneID != phone.PhoneID || userPhones[0].Activated {
		t.Errorf("get_user_phones = %+v, want the phone, not activated", userPhones)
	}
	out["get_phones_by_number"].decode(t, "get_phones_by_number", &byNumber)
	if len(byNumber) != 1 || byNumber[0].PhoneID != phone.PhoneID || len(byNumber[0].Users) != 1 || byNumber[0].Users[0].UserID != user.UserID {
		t.Errorf("get_phones_by_number = %+v", byNumber)
	}
	out["get_phones"].decode(t, "get_phones", &all)
	// Pending phones first (the landline, without a user), then devices
	// (the phone: with a number and a user, it is a phone without an app).
	if len(all) != 2 || all[0].PhoneID != landline.PhoneID || all[1].PhoneID != phone.PhoneID {
		t.Errorf("get_phones = %+v", all)
	}
	refused(out, "send_sms_activation", "SMS is not configured")
	refused(out, "send_sms_installation", "SMS is not configured")
	var act struct {
		URL     string `json:"activation_url"`
		Barcode string `json:"activation_barcode"`
		Install string `json:"installation_url"`
		Valid   int    `json:"valid_secs"`
	}
	out["create_activation_url"].decode(t, "create_activation_url", &act)
	link, err := url.Parse(act.URL)
	if err != nil || link.Scheme != "https" || link.Path != "/app/" || act.Valid != 3600 || !strings.HasSuffix(act.Install, "/app/") ||
		!strings.Contains(act.Barcode, "/frame/qr?value=") {
		t.Fatalf("create_activation_url = %+v", act)
	}

	// The phone activates through the device API with the code of the link
	// (what the Assent Authenticator does with #activate=…).
	frag, _ := url.ParseQuery(link.Fragment)
	ph, err := device.Activate(testCtx(t), frag.Get("activate"), device.ActivateOptions{CAFile: ts.CAFile, Name: "Pixel 8", Platform: "Android"})
	if err != nil {
		t.Fatalf("activate with the code of activation_url: %v", err)
	}
	if ph.PKey != phone.PhoneID {
		t.Errorf("the activated device is %s, want the phone_id %s", ph.PKey, phone.PhoneID)
	}

	// A push of the Auth API, approved on the phone; then two verification pushes.
	ch := assenttest.AnswerNext(testCtx(t), ph, true, 0)
	ids := []string{"DUO_USER_ID=" + user.UserID, "DUO_PHONE_ID=" + phone.PhoneID}
	out = run("push", ids...)
	assenttest.Received(t, ch)
	var authRes pyAuth
	out["auth_push"].decode(t, "auth push", &authRes)
	if authRes.Result != "allow" {
		t.Errorf("push to the activated phone: %+v", authRes)
	}
	var got pyPhone
	out["get_phone_by_id"].decode(t, "get_phone_by_id", &got)
	if got.PhoneID != phone.PhoneID || !got.Activated || got.Name != "py phone" || len(got.Capabilities) == 0 {
		t.Errorf("get_phone_by_id after activation = %+v", got)
	}
	var gotUser struct {
		IsEnrolled bool      `json:"is_enrolled"`
		Phones     []pyPhone `json:"phones"`
	}
	out["get_user"].decode(t, "get_user_by_id", &gotUser)
	if !gotUser.IsEnrolled || len(gotUser.Phones) != 1 || gotUser.Phones[0].PhoneID != phone.PhoneID {
		t.Errorf("get_user_by_id after activation = %+v", gotUser)
	}
	refused(out, "verification_no_phone", "phone_id")
	type vpush struct {
		PushID string `json:"push_id"`
		Code   string `json:"confirmation_code"`
	}
	var vp1, vp2 vpush
	out["send_verification_push_1"].decode(t, "send_verification_push", &vp1)
	out["send_verification_push_2"].decode(t, "send_verification_push", &vp2)
	var waiting struct {
		Result string `json:"result"`
	}
	out["waiting"].decode(t, "verification_push_response before the answer", &waiting)
	if waiting.Result != "waiting" || len(vp1.Code) != 6 {
		t.Errorf("before the answer: %+v (code %q)", waiting, vp1.Code)
	}
	pending, err := ph.Pending(testCtx(t))
	if err != nil || len(pending) != 2 {
		t.Fatalf("the phone sees %+v %v, want both verification pushes", pending, err)
	}
	for _, tx := range pending {
		if !strings.Contains(tx.Summary, "Identity verification") {
			t.Errorf("the phone shows %q, want an identity verification", tx.Summary)
		}
		answer, code := device.AnswerApprove, vp1.Code
		if tx.TxID == vp2.PushID {
			answer, code = device.AnswerDeny, ""
		}
		if _, err := ph.AnswerWith(testCtx(t), tx.TxID, answer, code); err != nil {
			t.Fatal(err)
		}
	}
	out = run("result", append(ids, "DUO_PUSH_IDS="+vp1.PushID+","+vp2.PushID)...)
	for key, want := range map[string]string{"result_1": "approve", "result_2": "deny"} {
		var r struct {
			PushID string `json:"push_id"`
			Result string `json:"result"`
		}
		out[key].decode(t, "get_verification_push_response", &r)
		if r.Result != want {
			t.Errorf("%s = %+v, want %s", key, r, want)
		}
	}
	if out["delete_phone"].Error != "" {
		t.Errorf("delete_phone: %s", out["delete_phone"].Error)
	}
	refused(out, "get_deleted_phone", "404")
}

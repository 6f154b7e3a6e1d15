package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/duosig"
)

// adminCall signs one Admin API request (v5, as duo_client sends) and
// returns the response of Duo's envelope.
func (ts *testServer) adminCall(t *testing.T, ikey, skey, method, path string, params url.Values, out any) error {
	t.Helper()
	sg := duosig.Signer{IKey: ikey, SKey: skey, Host: ts.Host, Version: 5}
	req, err := sg.NewRequest(testCtx(t), method, path, params)
	if err != nil {
		return err
	}
	resp, err := ts.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Stat     string          `json:"stat"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Stat != "OK" {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(env.Response, out)
}

// TestBrowserAdminPhoneActivation: a phone created and given to its user
// through the Admin API is activated by the Assent Authenticator (headless
// Chromium) opening create_activation_url's link, keeps its phone_id, and
// answers a help desk's verification push in the app with the
// confirmation code the help desk reads out.
func TestBrowserAdminPhoneActivation(t *testing.T) {
	t.Parallel()
	node, dir := browserPartners(t)
	ts := startServer(t, serverOptions{engine: SQLite, flags: map[string]string{"push_timeout": "30s"}})
	ikey, skey := ts.adminIntegration(t, "all")
	pikey, pskey := ts.pushIntegration(t, "Hooks")
	rp := startRelyingParty(t, node, dir, ts.Host, pikey, pskey)

	var user struct {
		UserID string `json:"user_id"`
	}
	var phone struct {
		PhoneID   string `json:"phone_id"`
		Activated bool   `json:"activated"`
		Name      string `json:"name"`
	}
	var act struct {
		URL string `json:"activation_url"`
	}
	for _, c := range []struct {
		method, path string
		params       url.Values
		out          any
	}{
		{"POST", "/admin/v1/users", url.Values{"username": {"app-phone-user"}}, &user},
		{"POST", "/admin/v1/phones", url.Values{"name": {"help desk phone"}, "platform": {"google android"}}, &phone},
	} {
		if err := ts.adminCall(t, ikey, skey, c.method, c.path, c.params, c.out); err != nil {
			t.Fatal(err)
		}
	}
	var empty string
	if err := ts.adminCall(t, ikey, skey, "POST", "/admin/v1/users/"+user.UserID+"/phones", url.Values{"phone_id": {phone.PhoneID}}, &empty); err != nil {
		t.Fatal(err)
	}
	if err := ts.adminCall(t, ikey, skey, "POST", "/admin/v1/phones/"+phone.PhoneID+"/activation_url", nil, &act); err != nil {
		t.Fatal(err)
	}

	var pushID string
	hookSend := rp.hookValue(func(string) (string, error) {
		var vp struct {
			PushID string `json:"push_id"`
			Code   string `json:"confirmation_code"`
		}
		err := ts.adminCall(t, ikey, skey, "POST", "/admin/v1/users/"+user.UserID+"/send_verification_push", url.Values{"phone_id": {phone.PhoneID}}, &vp)
		pushID = vp.PushID
		return vp.Code, err
	})
	var result string
	hookResult := rp.hook(func(string) error {
		var r struct {
			Result string `json:"result"`
		}
		err := ts.adminCall(t, ikey, skey, "GET", "/admin/v1/users/"+user.UserID+"/verification_push_response", url.Values{"push_id": {pushID}}, &r)
		result = r.Result
		return err
	})
	const selCode = `[data-testid="pending"] [data-testid="stepup-code"]`
	sc := scenario{
		SPKI:   servedSPKI(t, ts.IPHost, "localhost", ts.caPool(t)),
		Device: "Pixel 7",
		Steps: []step{
			{"do": "goto", "url": "https://" + ts.Host + "/app/"},
			{"do": "waitVisible", "sel": `#main[data-state="ready"]`},
			// The administrator's link, opened on the phone.
			{"do": "goto", "url": act.URL},
			{"do": "waitText", "text": "Activated: this phone now answers requests", "shot": "activated"},
			{"do": "hook", "url": hookSend, "as": "code"},
			{"do": "waitVisible", "sel": selCode},
			{"do": "read", "sel": `[data-testid="pending"] li`, "as": "pushText", "shot": "verification-push"},
			{"do": "fill", "sel": selCode, "valueFrom": "code"},
			{"do": "click", "sel": `[data-testid="approve"]`},
			{"do": "waitText", "text": "Approved."},
			{"do": "hook", "url": hookResult},
		},
	}
	res := runBrowser(t, node, dir, sc, rp.CAFile, false)
	if len(res.PageErrors) > 0 {
		t.Errorf("page errors: %q", res.PageErrors)
	}
	text := res.str(t, "pushText")
	for _, want := range []string{"Identity verification request", "help desk", "not a login", "app-phone-user", "Type the code your help desk reads to you"} {
		if !strings.Contains(text, want) {
			t.Errorf("the app shows %q, missing %q", text, want)
		}
	}
	if result != "approve" {
		t.Errorf("verification_push_response after the app approved: %q, want approve", result)
	}
	if err := ts.adminCall(t, ikey, skey, "GET", "/admin/v1/phones/"+phone.PhoneID, nil, &phone); err != nil || !phone.Activated || phone.Name != "help desk phone" {
		t.Errorf("the phone after the app activated it: %+v %v", phone, err)
	}
}

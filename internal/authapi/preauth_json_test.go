package authapi_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authapi"
)

// preauthMap is how preauth answers were built before PreauthJSON used
// structs: a map, whose keys encoding/json sorts, as Duo's answers are.
func preauthMap(res auth.PreauthResult) map[string]any {
	out := map[string]any{"result": res.Result, "status_msg": res.StatusMsg}
	if res.Result == auth.ResultAuth {
		devices := make([]map[string]any, 0, len(res.Devices))
		for _, d := range res.Devices {
			caps := d.Capabilities
			if caps == nil {
				caps = []string{}
			}
			devices = append(devices, map[string]any{"device": d.ID, "type": d.Type, "number": d.Number,
				"name": d.Name, "display_name": d.DisplayName, "capabilities": caps})
		}
		out["devices"] = devices
	}
	if res.Result == auth.ResultEnroll {
		out["enroll_portal_url"] = res.EnrollPortalURL
	}
	if res.Prompt != nil {
		out["prompt"] = map[string]any{"text": res.Prompt.Text, "factors": res.Prompt.Factors}
	}
	if len(res.Groups) > 0 {
		out["groups"] = res.Groups
	}
	return out
}

// TestPreauthJSON: the answer's bytes are what the map gave, key order,
// present and absent keys and escaping included.
func TestPreauthJSON(t *testing.T) {
	t.Parallel()
	phone := auth.Device{ID: "DPXXXXXXXXXXXXXXXXXX", Type: "phone", Number: "XXX-XXX-1234", Name: "Alice's <phone> & \u2028",
		DisplayName: "iOS (XXX-XXX-1234)", Capabilities: []string{"auto", "push", "mobile_otp"}}
	token := auth.Device{ID: "DTXXXXXXXXXXXXXXXXXX", Type: "token", Name: "ȳubikey"}
	prompt := &auth.Prompt{Text: "Duo two-factor login\n\n 1. Push\n", Factors: map[string]string{"1": "push1", "default": "push1", "2": "passcode"}}
	for _, res := range []auth.PreauthResult{
		{Result: auth.ResultAuth, StatusMsg: "Account is active", Devices: []auth.Device{phone, token}},
		{Result: auth.ResultAuth, StatusMsg: "Account is active", Devices: []auth.Device{phone}, Prompt: prompt},
		{Result: auth.ResultAuth, StatusMsg: "Account is active"},
		{Result: auth.ResultEnroll, StatusMsg: "Enroll an authentication device to proceed", EnrollPortalURL: "https://mfa.example.com/portal/enroll/x?a=1&b=2"},
		{Result: auth.ResultEnroll, StatusMsg: "Enroll"},
		{Result: auth.ResultAllow, StatusMsg: "Allowing bypass user", Devices: []auth.Device{phone}},
		{Result: auth.ResultAuth, StatusMsg: "Account is active", Devices: []auth.Device{phone}, Groups: []string{"Admins", "VPN <users>"}},
		{Result: auth.ResultAllow, StatusMsg: "Allowing bypass user", Groups: []string{}},
		{Result: auth.ResultDeny, StatusMsg: "Your account is disabled", Prompt: prompt},
	} {
		got, want := encode(t, authapi.PreauthJSON(res)), encode(t, preauthMap(res))
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", res.Result, got, want)
		}
	}
}

// encode is writeJSON's encoding.
func encode(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

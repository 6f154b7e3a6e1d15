package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// TestSMSKannel sends SMS passcodes through a real Kannel (bearerbox and
// smsbox, with the test SMSC fakesmsc as the carrier), driven by Debian's
// python3-duo-client: factor=sms sends a batch, the test reads it at the
// fake SMSC, logs in with a code, and the same code then fails. The
// per-user limit then refuses the third message and nothing more reaches
// the SMSC.
func TestSMSKannel(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	k := testutil.StartKannel(t)
	pwFile := filepath.Join(t.TempDir(), "sms-password")
	if err := os.WriteFile(pwFile, []byte(k.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, serverOptions{engine: SQLite, flags: map[string]string{
		"sms_provider": "kannel", "sms_url": k.SendSMSURL, "sms_username": k.Username, "sms_password_file": pwFile,
		"sms_from": "Assent", "sms_batch": "3", "rate_limit_sms_per_user": "2/1h",
	}})
	ikey, skey := ts.authAPI(t)
	ts.user(t, "smsuser", 0)
	if _, err := ts.App.Core.AddNumberPhone(testCtx(t), "smsuser", "+1 555 555 0142", "", ""); err != nil {
		t.Fatal(err)
	}
	call := telephonyScript(t, py, ikey, skey, ts.Port, ts.CAFile, "smsuser")

	var pre struct {
		Result  string `json:"result"`
		Devices []struct {
			Device       string   `json:"device"`
			Type         string   `json:"type"`
			Number       string   `json:"number"`
			Capabilities []string `json:"capabilities"`
			SMSNextCode  string   `json:"sms_nextcode"`
		} `json:"devices"`
	}
	call("preauth").decode(t, "preauth", &pre)
	if pre.Result != "auth" || len(pre.Devices) != 1 || pre.Devices[0].Number != "XXX-XXX-0142" ||
		strings.Join(pre.Devices[0].Capabilities, ",") != "sms" || pre.Devices[0].Type != "phone" {
		t.Fatalf("preauth: %+v", pre)
	}

	var a pyAuth
	call("sms").decode(t, "auth factor=sms", &a)
	if a != (pyAuth{"deny", "sent", "New SMS passcodes sent."}) {
		t.Fatalf("factor=sms: %+v", a)
	}
	msg := k.WaitMessages(t, 1)[0]
	codes := regexp.MustCompile(`\b[0-9]{7}\b`).FindAllString(msg.Text, -1)
	if !strings.HasSuffix(msg.To, "15555550142") || msg.From != "Assent" || len(codes) != 3 {
		t.Fatalf("the fake SMSC got %+v", msg)
	}
	call("preauth").decode(t, "preauth", &pre)
	if pre.Devices[0].SMSNextCode != "1" {
		t.Errorf("sms_nextcode = %q, want 1", pre.Devices[0].SMSNextCode)
	}

	call("passcode", codes[0]).decode(t, "passcode", &a)
	if a != (pyAuth{"allow", "allow", "Success. Logging you in..."}) {
		t.Fatalf("login with an SMS passcode: %+v", a)
	}
	call("passcode", codes[0]).decode(t, "passcode again", &a)
	if a != (pyAuth{"deny", "deny", "Incorrect passcode. Please try again."}) {
		t.Fatalf("the same SMS passcode again: %+v", a)
	}
	call("preauth").decode(t, "preauth", &pre)
	if pre.Devices[0].SMSNextCode != "2" {
		t.Errorf("sms_nextcode after one use = %q, want 2", pre.Devices[0].SMSNextCode)
	}

	// rate_limit_sms_per_user = 2/1h: the second message goes, the third is
	// refused (429) and never reaches the SMSC.
	call("sms").decode(t, "second factor=sms", &a)
	k.WaitMessages(t, 2)
	if third := call("sms"); third.Error == "" || !strings.Contains(third.Error, "429") {
		t.Fatalf("third factor=sms: %+v, want a 429 error", third)
	}
	time.Sleep(2 * time.Second)
	if n := len(k.Messages()); n != 2 {
		t.Fatalf("%d messages reached the SMSC, want 2", n)
	}

	// The telephony log has the two messages, numbers masked.
	rows, err := ts.App.Core.TelephonyLog(testCtx(t), time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rows)
	if len(rows) != 2 || strings.Contains(string(b), "5550142") || rows[0].Phone != "XXX-XXX-0142" || rows[0].Provider != "kannel" {
		t.Fatalf("telephony log: %s", b)
	}

	// The Admin API's v2 telephony log (duo_api_golang, as duo_log_sync
	// reads it) returns them, one page at a time.
	aikey, askey := ts.adminIntegration(t, "read-log", "settings")
	c := goAdmin(t, ts, aikey, askey)
	now := time.Now().UnixMilli()
	params := url.Values{"mintime": {strconv.FormatInt(now-600_000, 10)}, "maxtime": {strconv.FormatInt(now+1000, 10)}, "limit": {"1"}}
	var items []map[string]any
	for page := 0; page < 3; page++ {
		resp, body, err := c.SignedCall(http.MethodGet, "/admin/v2/logs/telephony", params)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("telephony log v2: %v %s", err, body)
		}
		var v struct {
			Response struct {
				Items    []map[string]any `json:"items"`
				Metadata struct {
					NextOffset *string `json:"next_offset"`
				} `json:"metadata"`
			} `json:"response"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		items = append(items, v.Response.Items...)
		if v.Response.Metadata.NextOffset == nil {
			break
		}
		params.Set("next_offset", *v.Response.Metadata.NextOffset)
	}
	if len(items) != 2 || items[0]["type"] != "sms" || items[0]["context"] != "authentication" || items[0]["phone"] != "XXX-XXX-0142" ||
		items[0]["credits"] != float64(1) || items[0]["txid"] == "" {
		t.Fatalf("telephony log v2 items: %v", items)
	}

	// Duo's settings object names the SMS settings.
	resp, body, err := c.SignedCall(http.MethodGet, "/admin/v1/settings", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("settings: %v %s", err, body)
	}
	var set struct {
		Response map[string]any `json:"response"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	if set.Response["sms_batch"] != float64(3) || set.Response["sms_expiration"] != float64(60) || set.Response["sms_message"] != "" {
		t.Errorf("settings: %v", set.Response)
	}
}

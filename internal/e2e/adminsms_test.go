package e2e

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// TestPythonDuoClientAdminSMS: Debian's python3-duo-client's Admin class
// against the real binary (`assent serve` with the http SMS provider
// pointed at a loopback capture): send_sms_activation texts the
// installation and activation links with Duo's <insturl>/<acturl>
// templates, send_sms_installation the install link, send_sms_passcodes
// (through json_api_call: Debian's client has no method for it) a batch of
// passcodes; a template without its placeholder (400) and an unknown
// phone (404) are refused as Duo refuses them.
func TestPythonDuoClientAdminSMS(t *testing.T) {
	t.Parallel()
	py := testutil.Python3(t)
	sms := testutil.StartSMSCapture(t)
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{Env: []string{"ASSENT_SMS_PROVIDER=http", "ASSENT_SMS_URL=" + sms.URL}})
	r := mustCLI(t, bin, "integration", "create", "--type", "adminapi", "--name", "py admin", "--grant", "all", "--json", "--data-dir", srv.DataDir)
	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
		t.Fatalf("integration create: %v\n%s", err, r.stdout)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_admin_sms.py"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]pyCall{}
	runJSON(t, 90*time.Second, &out, py, []string{script}, []string{"DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(srv.Port),
		"DUO_CA=" + srv.CAFile, "DUO_ADMIN_IKEY=" + in.IKey, "DUO_ADMIN_SKEY=" + in.SKey}, "")

	if e := out["bad_template"].Error; !strings.Contains(e, "400 Invalid request parameters") || !strings.Contains(e, "<acturl>") {
		t.Errorf("activation_msg without <acturl>: %+v", out["bad_template"])
	}
	if e := out["unknown_phone"].Error; !strings.Contains(e, "404") {
		t.Errorf("unknown phone: %+v", out["unknown_phone"])
	}
	var act struct {
		Barcode string `json:"activation_barcode"`
		ActMsg  string `json:"activation_msg"`
		InstMsg string `json:"installation_msg"`
		Valid   int    `json:"valid_secs"`
	}
	out["activation"].decode(t, "send_sms_activation_to_phone", &act)
	install := "https://" + srv.Host + "/app/"
	if act.Valid != 7200 || act.InstMsg != "Get the app: "+install || !strings.HasPrefix(act.ActMsg, "Then open "+install+"#activate=") ||
		!strings.Contains(act.Barcode, "/frame/qr?value=") {
		t.Fatalf("send_sms_activation_to_phone = %+v", act)
	}
	var inst struct {
		InstMsg string `json:"installation_msg"`
	}
	out["installation"].decode(t, "send_sms_installation", &inst)
	// send_sms_passcodes: the phone has a number and a user: a batch.
	if out["passcodes_pending"].Error != "" || string(out["passcodes_pending"].OK) != `""` {
		t.Errorf("send_sms_passcodes = %+v", out["passcodes_pending"])
	}
	msgs := sms.Wait(t, 4)
	want := []string{act.InstMsg, act.ActMsg, inst.InstMsg}
	for i, w := range want {
		if msgs[i].To != "+15555550155" || msgs[i].Body != w {
			t.Errorf("message %d = %+v, want %q", i, msgs[i], w)
		}
	}
	if !strings.Contains(msgs[3].Body, "SMS passcodes: ") {
		t.Errorf("passcodes message = %+v", msgs[3])
	}
	link, err := url.Parse(strings.TrimPrefix(act.ActMsg, "Then open "))
	if err != nil || !strings.HasPrefix(link.Fragment, "activate=") {
		t.Errorf("texted link %q: %v", act.ActMsg, err)
	}
}

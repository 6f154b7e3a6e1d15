package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/testutil"
)

// testBinaryRateLimits floods one user with pushes through Debian's
// python3-duo-client against the assent binary with its default limits
// (5 pushes, then one a minute): the client receives 429/42901.
func testBinaryRateLimits(t *testing.T, bin string) {
	py := testutil.Python3(t)
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{})
	host, caFile := srv.Host, srv.CAFile
	dd := []string{"--data-dir", srv.DataDir}

	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	r := mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "Flooded", "--json"}, dd...)...)
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || in.IKey == "" {
		t.Fatalf("integration create --json: %v\n%s", err, r.stdout)
	}
	var en struct {
		ActivationCode string `json:"activation_code"`
	}
	r = mustCLI(t, bin, append([]string{"user", "enroll", "pushy", "--json"}, dd...)...)
	if err := json.Unmarshal([]byte(r.stdout), &en); err != nil || en.ActivationCode == "" {
		t.Fatalf("user enroll --json: %v\n%s", err, r.stdout)
	}
	phone, err := device.Activate(testCtx(t), en.ActivationCode, device.ActivateOptions{CAFile: caFile, Name: "flooded phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}

	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_ratelimit.py"))
	if err != nil {
		t.Fatal(err)
	}
	hostname, port, _ := strings.Cut(host, ":")
	var calls []struct {
		OK     *struct{ TxID string } `json:"ok"`
		Error  string                 `json:"error"`
		Status int                    `json:"status"`
		Data   *duoEnvelope           `json:"data"`
	}
	runJSON(t, 60*time.Second, &calls, py, []string{script}, []string{
		"DUO_IKEY=" + in.IKey, "DUO_SKEY=" + in.SKey, "DUO_HOST=" + hostname, "DUO_PORT=" + port,
		"DUO_CA=" + caFile, "DUO_USERNAME=pushy", "DUO_PUSHES=" + strconv.Itoa(8),
	}, "")
	if len(calls) != 8 {
		t.Fatalf("%d calls reported, want 8", len(calls))
	}
	for i, c := range calls {
		if i < 5 {
			if c.OK == nil || c.Error != "" {
				t.Errorf("push %d: %+v, want a txid", i+1, c)
			}
			continue
		}
		if c.Status != http.StatusTooManyRequests || c.Data == nil || c.Data.Code != 42901 ||
			!strings.Contains(c.Error, "Received 429 Too many requests (too many pushes") {
			t.Errorf("push %d: %+v, want duo_client's error for 429/42901", i+1, c)
		}
	}
	if list, err := phone.Pending(testCtx(t)); err != nil || len(list) != 5 {
		t.Errorf("the phone has %d pushes (%v), want the 5 allowed", len(list), err)
	}
	if log := srv.Output(); !strings.Contains(log, `msg="rate limit reached"`) || !strings.Contains(log, "limit=rate_limit_pushes_per_user") {
		t.Errorf("the server did not warn about the flood:\n%s", log)
	}
}

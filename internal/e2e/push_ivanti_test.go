package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// ivantiRequest sends, byte for byte, the request of the Identity Director
// password-reset script in docs/ivanti-password-reset.md: a form body in
// PowerShell's order, X-Duo-Date "ddd, dd MMM yyyy HH:mm:ss -0000" in
// UTC, signature v2 with HMAC-SHA1 over the host without its port, and
// the header written "Basic: <base64>". It is signed here with crypto/hmac
// rather than internal/duosig so the test does not share the server's
// canonicalization.
func ivantiRequest(t *testing.T, ts *testServer, ikey, skey string) (int, []byte) {
	t.Helper()
	const (
		path = "/auth/v2/auth"
		body = "device=auto&factor=push&type=Password%20reset&username=carol"
	)
	date := time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05") + " -0000"
	// The parameters are already sorted and RFC 3986-encoded: the
	// canonical parameter line is the body.
	canon := strings.Join([]string{date, "POST", "localhost", path, body}, "\n")
	mac := hmac.New(sha1.New, []byte(skey))
	mac.Write([]byte(canon))
	sig := hex.EncodeToString(mac.Sum(nil))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://localhost:%d%s", ts.Port, path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.17763.1852")
	req.Header.Set("X-Duo-Date", date)
	req.Header.Set("Authorization", "Basic: "+base64.StdEncoding.EncodeToString([]byte(ikey+":"+sig)))
	resp, err := ts.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp.StatusCode, b
}

// TestPushIvantiPowerShell approves and denies the push of Ivanti Identity
// Director's password-reset script.
func TestPushIvantiPowerShell(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{})
	const appName = "Identity Director password reset"
	ikey, skey := ts.pushIntegration(t, appName)
	phone := ts.ActivatePhone(t, "carol")
	ctx := testCtx(t)

	for _, c := range []struct {
		approve                   bool
		result, status, statusMsg string
	}{
		{true, "allow", "allow", "Success. Logging you in..."},
		{false, "deny", "deny", "Login request denied."},
	} {
		ch := assenttest.AnswerNext(ctx, phone, c.approve, 0)
		code, body := ivantiRequest(t, ts, ikey, skey)
		env := decodeEnvelope(t, body)
		if code != http.StatusOK || env.Stat != "OK" {
			t.Fatalf("approve=%v: HTTP %d %s", c.approve, code, body)
		}
		a := assenttest.Received(t, ch)
		var res struct {
			Result    string `json:"result"`
			Status    string `json:"status"`
			StatusMsg string `json:"status_msg"`
		}
		if err := json.Unmarshal(env.Response, &res); err != nil {
			t.Fatalf("approve=%v: %v: %s", c.approve, err, body)
		}
		// The script prints $Answer.response.result and the Run Book compares it to "allow".
		if res.Result != c.result || res.Status != c.status || res.StatusMsg != c.statusMsg {
			t.Errorf("approve=%v: response %+v, want result %q status %q %q", c.approve, res, c.result, c.status, c.statusMsg)
		}
		if a.Tx.Type != "Password reset" || a.Tx.Summary != "Password reset request for "+appName || a.Tx.Attr("Username") != "carol" {
			t.Errorf("the phone showed type %q summary %q username %q", a.Tx.Type, a.Tx.Summary, a.Tx.Attr("Username"))
		}
	}
	got, _ := ts.pushLog(t, ikey)
	if want := map[pushLogKey]int{
		{"duo_push", "allow", "user_approved"}: 1,
		{"duo_push", "deny", "user_denied"}:    1,
	}; !maps.Equal(got, want) {
		t.Errorf("auth log %v, want %v", got, want)
	}
}

package universal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/prompt/prompttest"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// nodeUniversal runs tests/partners/node/universal_client.js, which drives
// the real npm @duosecurity/duo_universal 3.0.0 client.
type nodeUniversal struct {
	node, script, dir string
	env               []string
}

type nodeResult struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Inner  string          `json:"inner"`
}

func newNodeUniversal(t *testing.T, srv *assenttest.Server, clientID, secret, redirect string) *nodeUniversal {
	t.Helper()
	node, err := exec.LookPath("node")
	testutil.Require(t, "node (apt nodejs)", err == nil)
	dir, err := filepath.Abs(filepath.Join("..", "..", "tests", "partners", "node"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(dir, "node_modules", "@duosecurity", "duo_universal", "package.json"))
	testutil.Require(t, "tests/partners/node/node_modules (npm ci in tests/partners/node)", err == nil)
	return &nodeUniversal{node: node, script: filepath.Join(dir, "universal_client.js"), dir: dir, env: []string{
		"DUO_CLIENT_ID=" + clientID, "DUO_CLIENT_SECRET=" + secret, "DUO_API_HOST=" + srv.Host,
		"DUO_REDIRECT_URL=" + redirect, "DUO_CA=" + srv.CAFile,
	}}
}

func (n *nodeUniversal) run(t *testing.T, action string, env ...string) nodeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.node, n.script, action)
	cmd.Dir = n.dir
	cmd.Env = append(append(os.Environ(), n.env...), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node universal_client.js %s: %v\n%s", action, err, stderr.Bytes())
	}
	var r nodeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node universal_client.js %s printed %q: %v", action, out, err)
	}
	return r
}

// must is r's result, failing the test if the SDK refused.
func (r nodeResult) must(t *testing.T, what string, v any) {
	t.Helper()
	if !r.OK {
		t.Fatalf("%s: the SDK failed: %s (%s)", what, r.Error, r.Inner)
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, r.Result)
	}
}

// browser plays the user's browser through the prompt over HTTP (the
// browser tests do the same with Chromium).
type browser struct {
	srv    *assenttest.Server
	client *http.Client
}

func (b *browser) do(t *testing.T, method, u string, form url.Values) *prompttest.Page {
	t.Helper()
	var req *http.Request
	var err error
	if form != nil {
		req, err = http.NewRequest(method, u, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://"+b.srv.Host)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
	} else {
		req, err = http.NewRequest(method, u, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return &prompttest.Page{Status: resp.StatusCode, Header: resp.Header, Body: body.String()}
}

func (b *browser) action(t *testing.T, from *prompttest.Page, path string, fields ...string) *prompttest.Page {
	t.Helper()
	form := url.Values{"session": {from.Session()}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.do(t, http.MethodPost, "https://"+b.srv.Host+path, form)
}

// login follows an authorize URL through the prompt with a passcode (or,
// when passcode is "", a push the phone approves) and returns where the
// prompt redirected the browser.
func (b *browser) login(t *testing.T, authURL, passcode string, answered <-chan assenttest.PushAnswer) *url.URL {
	t.Helper()
	page := b.do(t, http.MethodGet, authURL, nil)
	if page.Status != 200 || page.State() != "choose" {
		t.Fatalf("authorize page: %d state %q: %.300s", page.Status, page.State(), page.Body)
	}
	if passcode != "" {
		page = b.action(t, page, "/prompt/passcode", "passcode", passcode)
	} else {
		page = b.action(t, page, "/prompt/push")
		if page.State() != "pushed" {
			t.Fatalf("push: state %q message %q", page.State(), page.Text("message"))
		}
		assenttest.Received(t, answered)
		page = b.action(t, page, "/prompt/check")
	}
	if page.Status != http.StatusFound {
		t.Fatalf("login did not finish: %d state %q message %q", page.Status, page.State(), page.Text("message"))
	}
	loc, err := url.Parse(page.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestNodeUniversal drives Assent with the official Node.js Universal
// Prompt SDK: health check, createAuthUrl, the prompt (push and passcode),
// exchangeAuthorizationCodeFor2FAResult; a replayed code, a wrong client
// secret and a mismatched username are refused.
func TestNodeUniversal(t *testing.T) {
	t.Parallel()
	srv := assenttest.Start(t, assenttest.Options{})
	ctx := assenttest.Ctx(t)
	in, secret, err := srv.App.Core.CreateIntegration(ctx, auth.NewIntegration{Name: "Intranet", Type: store.TypeUniversal})
	if err != nil {
		t.Fatal(err)
	}
	const redirect = "https://app.example.test/duo-callback"
	sdk := newNodeUniversal(t, srv, in.IKey, secret, redirect)
	phone := srv.ActivatePhone(t, "alice")
	codes := srv.BypassCodes(t, "alice", 3, 1)
	b := &browser{srv: srv, client: &http.Client{
		Timeout:       30 * time.Second,
		Transport:     srv.Client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}

	// healthCheck.
	var health struct {
		Stat     string `json:"stat"`
		Response struct {
			Timestamp int64 `json:"timestamp"`
		} `json:"response"`
	}
	sdk.run(t, "health").must(t, "healthCheck", &health)
	if health.Stat != "OK" || time.Since(time.Unix(health.Response.Timestamp, 0)).Abs() > time.Minute {
		t.Errorf("healthCheck: %+v", health)
	}

	// createAuthUrl → the prompt → a push approved → the redirect.
	state := "node-state-" + strings.Repeat("s", 30)
	var authURL string
	sdk.run(t, "authurl", "DUO_USERNAME=alice", "DUO_STATE="+state).must(t, "createAuthUrl", &authURL)
	if !strings.HasPrefix(authURL, "https://"+srv.Host+"/oauth/v1/authorize?") {
		t.Fatalf("createAuthUrl: %s", authURL)
	}
	answered := assenttest.AnswerNext(ctx, phone, true, 0)
	loc := b.login(t, authURL, "", answered)
	if loc.Scheme+"://"+loc.Host+loc.Path != redirect || loc.Query().Get("state") != state || loc.Query().Get("duo_code") == "" {
		t.Fatalf("redirect: %s", loc)
	}
	code := loc.Query().Get("duo_code")

	// exchangeAuthorizationCodeFor2FAResult returns the user.
	var tok struct {
		PreferredUsername string `json:"preferred_username"`
		Aud               string `json:"aud"`
		Iss               string `json:"iss"`
		AuthResult        struct {
			Result, Status string
		} `json:"auth_result"`
		AuthContext struct {
			Factor string `json:"factor"`
			TxID   string `json:"txid"`
			User   struct {
				Name string `json:"name"`
			} `json:"user"`
		} `json:"auth_context"`
	}
	sdk.run(t, "exchange", "DUO_CODE="+code, "DUO_USERNAME=alice").must(t, "exchange", &tok)
	if tok.PreferredUsername != "alice" || tok.Aud != in.IKey || tok.Iss != "https://"+srv.Host+"/oauth/v1/token" ||
		tok.AuthResult.Result != "allow" || tok.AuthContext.Factor != "duo_push" || tok.AuthContext.User.Name != "alice" {
		t.Errorf("token: %+v", tok)
	}

	// The same code again: refused by the server.
	if r := sdk.run(t, "exchange", "DUO_CODE="+code, "DUO_USERNAME=alice"); r.OK || !strings.Contains(r.Error, "invalid_grant") {
		t.Errorf("replayed code: %+v", r)
	}

	// A wrong client secret: the server refuses the assertion; the code is
	// not used up, so the right secret still gets it.
	sdk.run(t, "authurl", "DUO_USERNAME=alice", "DUO_STATE="+state).must(t, "createAuthUrl", &authURL)
	code = b.login(t, authURL, codes[0], nil).Query().Get("duo_code")
	wrong := &nodeUniversal{node: sdk.node, script: sdk.script, dir: sdk.dir,
		env: append(append([]string(nil), sdk.env...), "DUO_CLIENT_SECRET="+strings.Repeat("W", 40))}
	if r := wrong.run(t, "exchange", "DUO_CODE="+code, "DUO_USERNAME=alice"); r.OK || !strings.Contains(r.Error, "invalid_client") {
		t.Errorf("wrong client secret: %+v", r)
	}
	if r := wrong.run(t, "health"); r.OK || !strings.Contains(r.Error, "invalid_client") {
		t.Errorf("health check with a wrong client secret: %+v", r)
	}
	sdk.run(t, "exchange", "DUO_CODE="+code, "DUO_USERNAME=alice").must(t, "exchange after the wrong secret", &tok)

	// A token for alice presented as bob's: the SDK refuses it.
	sdk.run(t, "authurl", "DUO_USERNAME=alice", "DUO_STATE="+state).must(t, "createAuthUrl", &authURL)
	code = b.login(t, authURL, codes[1], nil).Query().Get("duo_code")
	if r := sdk.run(t, "exchange", "DUO_CODE="+code, "DUO_USERNAME=bob"); r.OK || !strings.Contains(r.Error, "username") {
		t.Errorf("mismatched username: %+v", r)
	}

	// A request for bob cannot be completed as alice: bob's prompt is bob's.
	sdk.run(t, "authurl", "DUO_USERNAME=bob", "DUO_STATE="+state).must(t, "createAuthUrl", &authURL)
	page := b.do(t, http.MethodGet, authURL, nil)
	if page.Status != 200 || page.State() == "choose" || page.Header.Get("Location") != "" {
		t.Errorf("bob (not enrolled) got %d state %q", page.Status, page.State())
	}
}

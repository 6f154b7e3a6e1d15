package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/tlsutil"
	"github.com/assent-auth/assent/pkg/duoweb"
)

// The browser tests' harness: a relying-party web application served by the
// test (HTTPS, its own local CA) that signs a login page for Duo-Web-v2.js
// and verifies what the page posts back, and a runner for
// tests/partners/node/browser_driver.js, which drives headless Chromium with
// playwright-core.
//
// Chromium trusts Assent's and the relying party's certificates through
// --ignore-certificate-errors-spki-list with the SHA-256 hashes of their
// public keys: Chromium's own pinning-style trust for exactly these keys,
// with no certificate database to build and every other certificate still
// checked. (It is honoured because the driver gives Chromium its own
// --user-data-dir.)

// artifactsEnv names the directory the screenshots go to.
const artifactsEnv = "ASSENT_ARTIFACTS_DIR"

// browserPartners returns node and the tests/partners/node directory after
// checking that Chromium and playwright-core are installed.
func browserPartners(t *testing.T) (node, dir string) {
	t.Helper()
	node, dir = nodePartners(t)
	_, err := os.Stat(chromiumPath())
	testutil.Require(t, "chromium (apt chromium) at "+chromiumPath(), err == nil)
	for _, p := range []string{"playwright-core", "@duosecurity/duo_web", "@duosecurity/duo_universal"} {
		_, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json"))
		testutil.Require(t, "npm "+p+" (npm ci in tests/partners/node)", err == nil)
	}
	return node, dir
}

func chromiumPath() string {
	if p := os.Getenv("ASSENT_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// artifactsDir is where screenshots go: $ASSENT_ARTIFACTS_DIR, or
// test-artifacts/browser under the repository root (git-ignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(artifactsEnv); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	return filepath.Join(testutil.RepoRoot(t), "test-artifacts", "browser")
}

// spkiHash is the base64 SHA-256 of a certificate's SubjectPublicKeyInfo,
// the form --ignore-certificate-errors-spki-list takes.
func spkiHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(h[:])
}

// servedSPKI dials addr as serverName, verifies the chain against pool and
// returns the SPKI hashes of every certificate of the verified chains.
func servedSPKI(t *testing.T, addr, serverName string, pool *x509.CertPool) []string {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{RootCAs: pool, ServerName: serverName}}
	conn, err := d.DialContext(testCtx(t), "tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer conn.Close()
	seen := map[string]bool{}
	var out []string
	for _, chain := range conn.(*tls.Conn).ConnectionState().VerifiedChains {
		for _, c := range chain {
			if h := spkiHash(c); !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// rpPost is one sig_response the login page posted, with both verdicts.
type rpPost struct {
	SigResponse string
	GoUser      string // pkg/duoweb.VerifyResponse; "" when refused
	GoErr       error
	NPMUser     string // npm duo_web verify_response; "" for null
	NPMErr      error  // running node failed
}

// rpLogin is one login page the test set up.
type rpLogin struct {
	username   string
	sigRequest string
	// hold keeps the page (and the prompt's last state) on screen: the
	// page's own #duo_form, which Duo-Web-v2.js fills in and submits,
	// targets a second iframe instead of the whole page.
	hold  bool
	posts chan rpPost
}

// relyingParty is the web application under the prompt: what a WordPress
// plugin or an internal portal does with an official Duo Web SDK.
type relyingParty struct {
	t          *testing.T
	URL        string   // https://127.0.0.1:PORT
	SPKI       []string // its certificate chain, for Chromium
	CAFile     string   // its CA, for the driver's own requests (hooks)
	assentHost string   // data-host: Assent's host:port
	ikey, skey string
	akey       string // the application's own secret (40+ characters)
	node, dir  string
	duoJS      []byte // the real Duo-Web-v2.js from npm

	mu     sync.Mutex
	logins map[string]*rpLogin
	hooks  map[string]func(body string) (string, error)
	seq    int
}

// startRelyingParty serves the relying party on a random loopback port
// with a certificate from a fresh local CA, until the test ends.
func startRelyingParty(t *testing.T, node, dir, assentHost, ikey, skey string) *relyingParty {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "node_modules", "@duosecurity", "duo_web", "js", "Duo-Web-v2.js"))
	if err != nil {
		t.Fatalf("the npm package's Duo-Web-v2.js: %v", err)
	}
	rp := &relyingParty{
		t: t, assentHost: assentHost, ikey: ikey, skey: skey,
		akey: "rpAppKey" + strings.Repeat("0123456789", 4), node: node, dir: dir, duoJS: js,
		logins: map[string]*rpLogin{}, hooks: map[string]func(string) (string, error){},
	}
	files, err := tlsutil.EnsureLocalCA(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatalf("relying party CA: %v", err)
	}
	cert, err := tlsutil.LoadKeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /Duo-Web-v2.js", rp.serveJS)
	mux.HandleFunc("GET /login/{id}", rp.serveLogin)
	mux.HandleFunc("POST /post/{id}", rp.servePost)
	mux.HandleFunc("POST /hook/{id}", rp.serveHook)
	mux.HandleFunc("GET /universal/callback", rp.serveCallback)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	rp.URL = "https://" + ln.Addr().String()
	rp.CAFile = files.CACert
	rp.SPKI = servedSPKI(t, ln.Addr().String(), "127.0.0.1", testutil.CAPool(t, files.CACert))
	return rp
}

// login registers a login page for username whose iframe carries
// sigRequest; it returns the page's URL and the login.
func (rp *relyingParty) login(username, sigRequest string, hold bool) (string, *rpLogin) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.seq++
	id := fmt.Sprintf("l%d", rp.seq)
	l := &rpLogin{username: username, sigRequest: sigRequest, hold: hold, posts: make(chan rpPost, 4)}
	rp.logins[id] = l
	return rp.URL + "/login/" + id, l
}

// hook registers fn to run when the driver posts to the returned URL.
func (rp *relyingParty) hook(fn func(body string) error) string {
	return rp.hookValue(func(body string) (string, error) { return "ok", fn(body) })
}

// hookValue registers fn to run when the driver posts to the returned URL;
// what fn returns is the answer, which a hook step with "as" keeps as an
// output (e.g. a code the test computed for the page to type).
func (rp *relyingParty) hookValue(fn func(body string) (string, error)) string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.seq++
	id := fmt.Sprintf("h%d", rp.seq)
	rp.hooks[id] = fn
	return rp.URL + "/hook/" + id
}

func (rp *relyingParty) serveJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(rp.duoJS)
}

// loginPage is the Duo Web SDK v2 page layout from Duo's documentation:
// an iframe with data-host / data-sig-request / data-post-action and the
// script, which fills in the iframe's src on DOMContentLoaded.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example app: second factor</title>
<style>body{font-family:sans-serif;margin:16px} #duo_iframe{width:100%;min-width:304px;max-width:620px;height:560px;border:1px solid #ccc}</style>
</head><body>
<h1>Example app</h1>
<p id="rp-user">Signing in {{.User}}</p>
<iframe id="duo_iframe" title="Two-factor authentication" allow="publickey-credentials-get https://{{.Host}}; publickey-credentials-create https://{{.Host}}" data-host="{{.Host}}" data-sig-request="{{.Sig}}" data-post-action="{{.Action}}"></iframe>
{{if .Hold}}<form id="duo_form" target="rp_result"></form>
<iframe name="rp_result" id="rp_result" title="Result"></iframe>{{end}}
<script src="/Duo-Web-v2.js"></script>
</body></html>`))

var resultPage = template.Must(template.New("result").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example app: result</title></head><body>
{{if .User}}<h1 id="rp-result" data-user="{{.User}}">Logged in as {{.User}}</h1>{{else}}<h1 id="rp-result" data-user="">Second factor failed</h1>
<p id="rp-error">{{.Error}}</p>{{end}}
</body></html>`))

func (rp *relyingParty) get(id string) *rpLogin {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.logins[id]
}

func (rp *relyingParty) serveLogin(w http.ResponseWriter, r *http.Request) {
	l := rp.get(r.PathValue("id"))
	if l == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, map[string]any{
		"User": l.username, "Host": rp.assentHost, "Sig": l.sigRequest, "Action": "/post/" + r.PathValue("id"), "Hold": l.hold,
	})
}

// servePost verifies the posted sig_response with pkg/duoweb and with the
// npm package, records both verdicts and logs the user in only if both
// accept it for the same user.
func (rp *relyingParty) servePost(w http.ResponseWriter, r *http.Request) {
	l := rp.get(r.PathValue("id"))
	if l == nil {
		http.NotFound(w, r)
		return
	}
	sig := r.PostFormValue("sig_response")
	p := rpPost{SigResponse: sig}
	p.GoUser, p.GoErr = duoweb.VerifyResponse(rp.ikey, rp.skey, rp.akey, sig)
	p.NPMUser, p.NPMErr = rp.npmVerify(r.Context(), sig)
	user := ""
	if p.GoErr == nil && p.NPMErr == nil && p.GoUser == p.NPMUser {
		user = p.GoUser
	}
	select {
	case l.posts <- p:
	default:
		rp.t.Errorf("login %s: more posts than expected", r.PathValue("id"))
	}
	msg := ""
	if e, ok := strings.CutPrefix(sig, "ERR|"); ok {
		msg, _, _ = strings.Cut(e, ":")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = resultPage.Execute(w, map[string]string{"User": user, "Error": msg})
}

func (rp *relyingParty) serveHook(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	fn := rp.hooks[r.PathValue("id")]
	rp.mu.Unlock()
	if fn == nil {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	v, err := fn(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, v)
}

// serveCallback is the Universal Prompt redirect_uri: it only shows that the
// browser arrived; the driver reads duo_code and state from the URL and
// exchanges the code with the npm client, as an application's server would.
func (rp *relyingParty) serveCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Callback</title></head><body><h1 id=\"rp-callback\">Back at the application</h1><p>state %s</p></body></html>",
		template.HTMLEscapeString(r.URL.Query().Get("state")))
}

// npmSign signs a login request with the npm package's sign_request.
func (rp *relyingParty) npmSign(t *testing.T, username string) string {
	t.Helper()
	var out struct {
		SigRequest string `json:"sig_request"`
	}
	runJSON(t, 30*time.Second, &out, rp.node, []string{filepath.Join(rp.dir, "browser_duoweb.js"), "sign"},
		[]string{"DUO_IKEY=" + rp.ikey, "DUO_SKEY=" + rp.skey, "DUO_AKEY=" + rp.akey, "DUO_USERNAME=" + username}, rp.dir)
	if !strings.HasPrefix(out.SigRequest, "TX|") {
		t.Fatalf("npm sign_request: %q", out.SigRequest)
	}
	return out.SigRequest
}

// npmVerify runs the npm package's verify_response.
func (rp *relyingParty) npmVerify(ctx context.Context, sig string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rp.node, filepath.Join(rp.dir, "browser_duoweb.js"), "verify")
	cmd.Env = append(os.Environ(), "DUO_IKEY="+rp.ikey, "DUO_SKEY="+rp.skey, "DUO_AKEY="+rp.akey, "DUO_SIG_RESPONSE="+sig)
	cmd.Dir = rp.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm verify_response: %w: %s", err, stderr.String())
	}
	var out struct {
		User *string `json:"user"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return "", fmt.Errorf("npm verify_response printed %q: %w", stdout.String(), err)
	}
	if out.User == nil {
		return "", nil
	}
	return *out.User, nil
}

// nextPost waits (bounded) for the page's post.
func (l *rpLogin) nextPost(t *testing.T) rpPost {
	t.Helper()
	select {
	case p := <-l.posts:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("the login page posted no sig_response")
	}
	return rpPost{}
}

// noPost asserts the page posted nothing.
func (l *rpLogin) noPost(t *testing.T) {
	t.Helper()
	select {
	case p := <-l.posts:
		t.Errorf("the login page posted %q", p.SigResponse)
	default:
	}
}

// step is one action of browser_driver.js (see the list at its top).
type step map[string]any

// universalConfig configures the driver's duo_universal clients.
type universalConfig struct {
	Host     string               `json:"host"`
	CA       string               `json:"ca"`
	Redirect string               `json:"redirect"`
	Clients  map[string]uniClient `json:"clients"`
}

type uniClient struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// scenario is the driver's input.
type scenario struct {
	Name      string           `json:"name"`
	Artifacts string           `json:"artifacts"`
	SPKI      []string         `json:"spki"`
	Viewport  map[string]int   `json:"viewport,omitempty"`
	Device    string           `json:"device,omitempty"` // a playwright device descriptor, e.g. "Pixel 7"
	TimeoutMs int              `json:"timeoutMs"`
	Universal *universalConfig `json:"universal,omitempty"`
	Steps     []step           `json:"steps"`
}

// driverResult is the driver's output.
type driverResult struct {
	OK         bool                       `json:"ok"`
	Error      string                     `json:"error"`
	FailedStep *int                       `json:"failedStep"`
	Outputs    map[string]json.RawMessage `json:"outputs"`
	URL        string                     `json:"url"`
	Text       string                     `json:"text"`
	FrameText  string                     `json:"frameText"`
	Shots      []string                   `json:"shots"`
	Console    []string                   `json:"console"`
	PageErrors []string                   `json:"pageErrors"`
	Timings    []string                   `json:"timings"`
}

// str returns a string output.
func (r driverResult) str(t *testing.T, name string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(r.Outputs[name], &s); err != nil {
		t.Fatalf("driver output %s: %v (%s)", name, err, r.Outputs[name])
	}
	return s
}

// runBrowser runs one scenario and fails the test if the driver could not
// finish it (unless the caller wants to inspect a failure: mayFail). extraCA
// is a CA file node itself trusts (the relying party's, for hooks).
func runBrowser(t *testing.T, node, dir string, sc scenario, extraCA string, mayFail bool) driverResult {
	t.Helper()
	if sc.Artifacts == "" {
		sc.Artifacts = artifactsDir(t)
	}
	if sc.TimeoutMs == 0 {
		sc.TimeoutMs = 15000
	}
	if sc.Name == "" {
		sc.Name = strings.NewReplacer("/", "-").Replace(t.Name())
	}
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "scenario.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var res driverResult
	var env []string
	if extraCA != "" {
		env = append(env, "NODE_EXTRA_CA_CERTS="+extraCA)
	}
	runJSON(t, 90*time.Second, &res, node, []string{filepath.Join(dir, "browser_driver.js"), f}, env, dir)
	t.Logf("browser scenario %s: %.1fs, %d screenshots in %s", sc.Name, time.Since(start).Seconds(), len(res.Shots), filepath.Join(sc.Artifacts, sc.Name))
	if !res.OK && !mayFail {
		step := -1
		if res.FailedStep != nil {
			step = *res.FailedStep
		}
		var sb strings.Builder
		if step >= 0 && step < len(sc.Steps) {
			sj, _ := json.Marshal(sc.Steps[step])
			fmt.Fprintf(&sb, "failed step %d: %s\n", step, sj)
		}
		t.Fatalf("browser scenario failed: %s\n%spage %s\npage text: %q\nframe text: %q\nconsole: %q\npage errors: %q\ntimings: %q",
			res.Error, sb.String(), res.URL, res.Text, res.FrameText, res.Console, res.PageErrors, res.Timings)
	}
	return res
}

// startExampleApp builds examples/websdk and runs it against the server
// with one user, as its README says; it returns the application's URL.
func startExampleApp(t *testing.T, assentHost, ikey, skey, caFile, user, password string) string {
	t.Helper()
	bin := testutil.GoBuild(t, "./examples/websdk", t.TempDir(), "websdk")

	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--assent", assentHost, "--ca", caFile, "--user", user+":"+password)
	// The keys come from the environment, as the README suggests.
	cmd.Env = append(os.Environ(), "ASSENT_IKEY="+ikey, "ASSENT_SKEY="+skey)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the example app: %v", err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Example application on "); ok {
				urls <- strings.TrimSuffix(rest, "/")
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // graceful shutdown
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the example app exited with %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("the example app did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("example app log:\n%s", stderr.String())
		}
	})
	select {
	case u := <-urls:
		// The startup check's log line travels on stderr, a separate pipe.
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), "Assent answers"); {
			if time.Now().After(deadline) {
				t.Errorf("the example app did not reach Assent at startup:\n%s", stderr.String())
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return u
	case err := <-exited:
		t.Fatalf("the example app exited: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the example app did not start:\n%s", stderr.String())
	}
	return ""
}

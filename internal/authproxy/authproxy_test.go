package authproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/authproxy/events"
	"github.com/assent-auth/assent/internal/authproxy/radiusd"
	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

const (
	testIKey = "DIAAAAAAAAAAAAAAAAAA"
	testSKey = "0123456789012345678901234567890123456789"
)

// parse parses an authproxy.cfg written for a test in dir.
func parse(t *testing.T, dir, text string) *cfg.Config {
	t.Helper()
	c, _, err := cfg.Parse(filepath.Join(dir, "authproxy.cfg"), strings.NewReader(text))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return c
}

// duoOnly is a one-section configuration on port.
func duoOnly(apiHost, ca string, port int, extra string) string {
	return fmt.Sprintf(`[main]
%s
[radius_server_duo_only]
ikey = %s
skey = %s
api_host = %s
http_ca_certs_file = %s
radius_ip_1 = 127.0.0.1
radius_secret_1 = s3cret
interface = 127.0.0.1
port = %d
`, extra, testIKey, testSKey, apiHost, ca, port)
}

func TestLookupAttr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want radiusd.Attr
		ok   bool
	}{
		{"Calling-Station-Id", radiusd.Attr{Type: 31}, true},
		{"calling-station-id", radiusd.Attr{Type: 31}, true},
		{" Class ", radiusd.Attr{Type: 25}, true},
		{"Filter-Id", radiusd.Attr{Type: 11}, true},
		{"Framed-IPv6-Address", radiusd.Attr{Type: 168}, true},
		{"PaloAlto-Client-Source-IP", radiusd.Attr{Type: 26, Vendor: 25461, VendorType: 7}, true},
		{"MS-CHAP2-Success", radiusd.Attr{Type: 26, Vendor: 311, VendorType: 26}, true},
		{"No-Such-Attribute", radiusd.Attr{}, false},
		{"", radiusd.Attr{}, false},
	}
	for _, tt := range tests {
		got, err := lookupAttr(tt.name)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("lookupAttr(%q) = %+v, %v; want %+v, ok %v", tt.name, got, err, tt.want, tt.ok)
		}
	}
	// The default and the PaloAlto alias of client_ip_attr must resolve.
	for _, name := range []string{cfg.DefaultClientIPAttr, cfg.PaloAltoClientIPAttr} {
		if _, err := lookupAttr(name); err != nil {
			t.Errorf("cfg's %q: %v", name, err)
		}
	}
}

func TestPasswordDecoder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		codec string
		in    []byte
		want  string
		ok    bool
	}{
		{"latin-1", []byte("p\xe4ss"), "päss", true},
		{"cp1252", []byte("\x80uro"), "€uro", true},
		{"cp1252", []byte("\x81"), "", false}, // undefined in cp1252
		{"ascii", []byte("plain"), "plain", true},
		{"ascii", []byte("p\xe4ss"), "", false},
	}
	for _, tt := range tests {
		dec, err := passwordDecoder(tt.codec)
		if err != nil {
			t.Fatalf("%s: %v", tt.codec, err)
		}
		got, err := dec(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s(%q) = %q, %v; want %q, ok %v", tt.codec, tt.in, got, err, tt.want, tt.ok)
		}
	}
	if dec, err := passwordDecoder("utf-8"); dec != nil || err != nil {
		t.Errorf("utf-8 should use radiusd's strict decoder (nil), got %v, %v", dec != nil, err)
	}
	if _, err := passwordDecoder("ebcdic"); err == nil {
		t.Error("an unknown codec was accepted")
	}
}

func TestSectionMapping(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := parse(t, dir, `[radius_client]
host = 127.0.0.1
secret = up
pass_through_attr_names = Class, Filter-Id

[radius_server_challenge]
ikey = `+testIKey+`
skey = `+testSKey+`
api_host = mfa.example.com:8443
radius_ip_1 = 10.0.0.0/8
radius_secret_1 = wide
radius_ip_2 = 10.1.2.3
radius_secret_2 = narrow
require_message_authenticator_1 = false
client = radius_client
failmode = secure
prompt_format = short
enroll_challenge = false
exempt_username_1 = svc
client_ip_attr = paloalto
pass_through_attr_names = Class
pw_codec = latin-1
`)
	s := c.Servers[0]
	sec, err := section(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Name != "radius_server_challenge" || sec.Mode != radiusd.ModeChallenge || sec.IKey != testIKey ||
		sec.Failmode != "secure" || sec.PromptFormat != "short" || sec.EnrollChallenge ||
		len(sec.Exempt) != 1 || sec.Exempt[0] != "svc" {
		t.Errorf("section mapped wrongly: %+v", sec)
	}
	if sec.ClientIPAttr != (radiusd.Attr{Type: 26, Vendor: 25461, VendorType: 7}) {
		t.Errorf("client_ip_attr = %+v", sec.ClientIPAttr)
	}
	if len(sec.PassThrough) != 1 || sec.PassThrough[0] != (radiusd.Attr{Type: 25}) {
		t.Errorf("pass_through_attr_names = %+v", sec.PassThrough)
	}
	if len(sec.Networks) != 2 || string(sec.Networks[0].Secret) != "wide" || sec.Networks[0].RequireMessageAuthenticator ||
		sec.Networks[0].Index != 1 || string(sec.Networks[1].Secret) != "narrow" || !sec.Networks[1].RequireMessageAuthenticator ||
		sec.Networks[1].Index != 2 {
		t.Errorf("networks = %+v", sec.Networks)
	}
	if got, err := sec.DecodePassword([]byte("\xe9")); err != nil || got != "é" {
		t.Errorf("pw_codec latin-1: %q, %v", got, err)
	}
	if err := Validate(c); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateReportsWhatCannotBeBuilt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// cfg checks the syntax of attribute names; whether Assent knows them
	// is found when the sections are built.
	c := parse(t, dir, duoOnly("localhost:1", "", 1812, "")+"client_ip_attr = X-Not-An-Attribute\n"+
		"\n[radius_client]\nhost = 127.0.0.1\nsecret = s\npass_through_attr_names = Class,Y-Unknown\n"+
		"\n[radius_server_auto]\nikey = "+testIKey+"\nskey = "+testSKey+"\napi_host = localhost:1\n"+
		"radius_ip_1 = 127.0.0.1\nradius_secret_1 = s\nport = 1813\nclient = radius_client\n")
	err := Validate(c)
	if err == nil {
		t.Fatal("Validate accepted unknown attribute names")
	}
	for _, want := range []string{"X-Not-An-Attribute", "Y-Unknown", "radius_server_duo_only", "radius_client"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate's error lacks %q: %v", want, err)
		}
	}
}

func TestOpenLogging(t *testing.T) {
	t.Parallel()
	t.Run("file and stderr, JSON, auth events", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "log")
		var stderr bytes.Buffer
		l, err := OpenLogging(cfg.Main{LogDir: dir, LogFile: true, LogStdout: true, LogFormat: "json",
			LogAuthEvents: true, LogMaxSize: 1 << 20, LogMaxFiles: 2}, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		l.Logger.Info("hello", "k", "v")
		l.Logger.Debug("hidden")
		if err := l.AuthEvents.Write(events.AuthEvent{Username: "alice", Status: events.StatusAllow}); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(filepath.Join(dir, "authproxy.log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{string(file), stderr.String()} {
			var m map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil || m["msg"] != "hello" || m["k"] != "v" {
				t.Errorf("log line %q (%v)", out, err)
			}
		}
		ev, err := os.ReadFile(filepath.Join(dir, "authevents.log"))
		if err != nil || !strings.Contains(string(ev), `"username":"alice"`) {
			t.Errorf("auth events %q, %v", ev, err)
		}
		if strings.Contains(stderr.String(), "alice") {
			t.Error("auth events reached stderr (Duo keeps them out of stdout)")
		}
	})
	t.Run("no sink: stderr, debug", func(t *testing.T) {
		t.Parallel()
		var stderr bytes.Buffer
		l, err := OpenLogging(cfg.Main{LogDir: filepath.Join(t.TempDir(), "unused"), Debug: true}, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		l.Logger.Debug("shown")
		if !strings.Contains(stderr.String(), "level=DEBUG msg=shown") || l.AuthEvents != nil {
			t.Errorf("stderr %q, auth events %v", stderr.String(), l.AuthEvents)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(l.Sinks[0]), "unused")); err == nil {
			t.Error("log_dir created although no file is written")
		}
	})
	t.Run("unwritable log_dir", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenLogging(cfg.Main{LogDir: filepath.Join(file, "log"), LogFile: true}, io.Discard); err == nil {
			t.Error("a log_dir below a file was accepted")
		}
	})
}

// TestProxyLifecycle runs a duo_only proxy against a real Assent: Listen
// binds the socket and the metrics port, Serve answers, a taken port is an
// error that leaves nothing open, and cancelling stops it.
func TestProxyLifecycle(t *testing.T) {
	t.Parallel()
	as := assenttest.Start(t, assenttest.Options{})
	ikey, skey := as.AuthAPI(t, "lifecycle", store.PolicyEnroll)
	as.User(t, "alice")
	code := as.BypassCodes(t, "alice", 1, 0)[0]

	dir := t.TempDir()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	conn.Close()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	text := strings.NewReplacer(testIKey, ikey, testSKey, skey).Replace(
		duoOnly(as.Host, as.CAFile, port, "metrics_listen = "+metricsAddr+"\nlog_auth_events = true\nlog_dir = "+filepath.Join(dir, "log")))
	c := parse(t, dir, text)

	// A taken port: Listen fails and releases the metrics port.
	blocker, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("port %d was taken meanwhile: %v", port, err)
	}
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	p, err := New(c, Options{Logger: logger, ShutdownGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Listen(); err == nil || !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Fatalf("Listen on a taken port: %v", err)
	}
	if ln, err := net.Listen("tcp", metricsAddr); err != nil {
		t.Errorf("the metrics port is still held after a failed Listen: %v", err)
	} else {
		ln.Close()
	}
	p.Close()
	blocker.Close()

	p, err = New(c, Options{Logger: logger, ShutdownGrace: time.Second, Hostname: "unit"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	if got := p.Addrs(); len(got) != 1 || got[0].String() != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Errorf("Addrs = %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()

	// One Access-Request with the layeh client.
	req := radius.New(radius.CodeAccessRequest, []byte("s3cret"))
	req.Add(1, radius.Attribute("alice"))
	pw, err := radius.NewUserPassword([]byte(code), req.Secret, req.Authenticator[:])
	if err != nil {
		t.Fatal(err)
	}
	req.Add(2, pw)
	// Required by default (BlastRADIUS).
	if err := radiusmsg.AddRequest(req); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	resp, err := radius.Exchange(rctx, req, fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("exchange: %v\n%s", err, logs.String())
	}
	if resp.Code != radius.CodeAccessAccept {
		t.Errorf("answer %v, want Access-Accept", resp.Code)
	}

	mresp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(body), `assent_authproxy_requests_total{result="accept",section="radius_server_duo_only"} 1`) ||
		!strings.Contains(string(body), "\nassent_authproxy_requests_in_flight 0\n") {
		t.Errorf("metrics:\n%s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the cancellation")
	}
	// The socket is released.
	if c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		t.Errorf("the RADIUS port is still held after Serve returned: %v", err)
	} else {
		c.Close()
	}
	ev, err := os.ReadFile(filepath.Join(dir, "log", "authevents.log"))
	if err != nil || !strings.Contains(string(ev), `"hostname":"unit"`) || !strings.Contains(string(ev), `"status":"Allow"`) {
		t.Errorf("auth events %q, %v", ev, err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	as := assenttest.Start(t, assenttest.Options{})
	ikey, skey := as.AuthAPI(t, "check", store.PolicyEnroll)
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // the subtests run after this function returns
	takenPort := taken.LocalAddr().(*net.UDPAddr).Port
	free := func() int {
		c, _ := net.ListenPacket("udp", "127.0.0.1:0")
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}()
	dir := t.TempDir()
	good := strings.NewReplacer(testIKey, ikey, testSKey, skey).Replace(duoOnly(as.Host, as.CAFile, free, ""))

	t.Run("all good", func(t *testing.T) {
		t.Parallel()
		rs := Check(context.Background(), parse(t, dir, good), CheckOptions{})
		if !AllOK(rs) || len(rs) != 4 {
			t.Fatalf("results: %+v", rs)
		}
		for i, want := range []string{CheckListen, CheckAuthAPI, CheckAuthAPIKey, CheckMessageAuthenticator} {
			if rs[i].Check != want {
				t.Errorf("result %d is %s, want %s", i, rs[i].Check, want)
			}
		}
		if r := rs[3]; r.Target != "radius_ip_1 = 127.0.0.1" || r.Detail != "Message-Authenticator required (Assent's default): requests without one are dropped" {
			t.Errorf("Message-Authenticator row: %+v", r)
		}
		// The Auth API's time has a resolution of one second.
		if d := rs[1].Detail; d != "ping ok, clock drift 0s" && d != "ping ok, clock drift 1s" {
			t.Errorf("ping detail %q", rs[1].Detail)
		}
	})
	t.Run("clock drift", func(t *testing.T) {
		t.Parallel()
		rs := Check(context.Background(), parse(t, dir, good), CheckOptions{SkipListen: true,
			Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }})
		if AllOK(rs) || rs[0].Check != CheckAuthAPI || rs[0].OK || !strings.Contains(rs[0].Detail, "clock drift 1m59s") && !strings.Contains(rs[0].Detail, "clock drift 2m0s") {
			t.Errorf("results: %+v", rs)
		}
	})
	t.Run("port taken, wrong skey", func(t *testing.T) {
		t.Parallel()
		bad := strings.NewReplacer(testIKey, ikey).Replace(duoOnly(as.Host, as.CAFile, takenPort, ""))
		rs := Check(context.Background(), parse(t, dir, bad), CheckOptions{})
		byCheck := map[string]CheckResult{}
		for _, r := range rs {
			byCheck[r.Check] = r
		}
		if r := byCheck[CheckListen]; r.OK || !strings.Contains(r.Detail, "cannot bind") {
			t.Errorf("listen: %+v", r)
		}
		if r := byCheck[CheckAuthAPI]; !r.OK {
			t.Errorf("ping needs no valid key: %+v", r)
		}
		if r := byCheck[CheckAuthAPIKey]; r.OK || !strings.Contains(r.Detail, "refused the ikey/skey") {
			t.Errorf("check with a wrong skey: %+v", r)
		}
	})
	t.Run("Auth API down", func(t *testing.T) {
		t.Parallel()
		closed := testutil.FreePort(t)
		down := strings.NewReplacer(testIKey, ikey, testSKey, skey).Replace(
			duoOnly(fmt.Sprintf("localhost:%d", closed), as.CAFile, free, ""))
		rs := Check(context.Background(), parse(t, dir, down), CheckOptions{SkipListen: true, Timeout: 5 * time.Second})
		if len(rs) != 3 || rs[0].OK || rs[1].OK || rs[2].Check != CheckMessageAuthenticator {
			t.Errorf("results: %+v", rs)
		}
	})
}

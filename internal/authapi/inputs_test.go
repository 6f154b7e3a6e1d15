package authapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// wireAnswer is a Duo envelope as a client reads it, from JSON or BSON.
type wireAnswer struct {
	status   int
	Stat     string          `json:"stat" bson:"stat"`
	Code     int             `json:"code" bson:"code"`
	Message  string          `json:"message" bson:"message"`
	Detail   string          `json:"message_detail" bson:"message_detail"`
	Response json.RawMessage `json:"response" bson:"-"`
}

// wire signs and sends one request to a running server as a Duo client
// does (v2 for /auth/v2, v1 for /rest/v1) and decodes the answer.
func wire(t *testing.T, srv *assenttest.Server, ikey, skey, method, path string, params url.Values) wireAnswer {
	t.Helper()
	version := 2
	if strings.HasPrefix(path, "/rest/v1/") {
		version = 1
	}
	s := duosig.Signer{IKey: ikey, SKey: skey, Host: srv.Host, Version: version, Digest: duosig.SHA512}
	req, err := s.NewRequest(assenttest.Ctx(t), method, path, params)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := wireAnswer{status: resp.StatusCode}
	if strings.HasSuffix(path, ".bson") {
		var env struct {
			Stat    string `bson:"stat"`
			Code    int32  `bson:"code"`
			Message string `bson:"message"`
			Detail  string `bson:"message_detail"`
		}
		if err := bson.Unmarshal(body, &env); err != nil {
			t.Fatalf("%s %s: answer is not BSON: %v: %q", method, path, err, body)
		}
		a.Stat, a.Code, a.Message, a.Detail = env.Stat, int(env.Code), env.Message, env.Detail
		return a
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v: %q", method, path, err, body)
	}
	return a
}

// wantInvalid checks for Duo's 400/40002 naming param in message_detail,
// with a reason containing why.
func (a wireAnswer) wantInvalid(t *testing.T, what, param, why string) {
	t.Helper()
	if a.status != http.StatusBadRequest || a.Stat != "FAIL" || a.Code != 40002 ||
		!strings.HasPrefix(a.Detail, param+": ") || !strings.Contains(a.Detail, why) {
		t.Errorf("%s: HTTP %d %s %d %q %q, want 400 FAIL 40002 with message_detail %q…%q",
			what, a.status, a.Stat, a.Code, a.Message, a.Detail, param+": ", why)
	}
}

// TestKelvinSignIsNotKarl is issue 9's defect 7: usernames were folded with
// strings.ToLower, so "\u212Aarl" (KELVIN SIGN) reached user karl, used his
// bypass code and could be created as a second karl. PRECIS refuses it.
func TestKelvinSignIsNotKarl(t *testing.T) {
	t.Parallel()
	srv := assenttest.Start(t, assenttest.Options{})
	ikey, skey := srv.AuthAPI(t, "app", "")
	srv.User(t, "karl")
	codes := srv.BypassCodes(t, "karl", 2, 1)
	const kelvin = "\u212Aarl"

	for _, tc := range []struct {
		path   string
		params url.Values
	}{
		{"/auth/v2/preauth", url.Values{"username": {kelvin}}},
		{"/auth/v2/auth", url.Values{"username": {kelvin}, "factor": {"passcode"}, "passcode": {codes[0]}}},
		{"/auth/v2/enroll", url.Values{"username": {kelvin}}},
		{"/rest/v1/preauth", url.Values{"user": {kelvin}}},
		{"/rest/v1/preauth.bson", url.Values{"user": {kelvin}}},
		{"/rest/v1/auth.bson", url.Values{"user": {kelvin}, "factor": {"passcode"}, "code": {codes[0]}}},
	} {
		wire(t, srv, ikey, skey, http.MethodPost, tc.path, tc.params).wantInvalid(t, tc.path, "username", "U+212A")
	}

	// Every ordinary spelling reaches karl, and the code was not spent above.
	a := wire(t, srv, ikey, skey, http.MethodPost, "/auth/v2/auth",
		url.Values{"username": {"ＫＡＲＬ"}, "factor": {"passcode"}, "passcode": {codes[0]}})
	var res struct{ Result string }
	if err := json.Unmarshal(a.Response, &res); a.Stat != "OK" || err != nil || res.Result != "allow" {
		t.Errorf("auth as fullwidth KARL with karl's code: %d %s %q (%v), want allow", a.Code, a.Stat, a.Response, err)
	}
	var enrolled struct {
		UserID   string `json:"user_id"`
		Username string `json:"username"`
	}
	a = wire(t, srv, ikey, skey, http.MethodPost, "/auth/v2/enroll", url.Values{"username": {"KARL"}})
	if err := json.Unmarshal(a.Response, &enrolled); a.Stat != "OK" || err != nil || enrolled.Username != "karl" {
		t.Errorf("enroll KARL: %s %q (%v), want karl's enrollment", a.Stat, a.Response, err)
	}

	// Creation: the Kelvin name is refused, a name equal to karl's after
	// normalisation is a conflict naming karl.
	ctx := assenttest.Ctx(t)
	if _, err := srv.App.Core.CreateUser(ctx, kelvin); !auth.IsKind(err, auth.KindInvalid) || !strings.Contains(err.Error(), "U+212A") {
		t.Errorf("CreateUser(%+q) = %v, want an invalid username naming U+212A", kelvin, err)
	}
	if _, err := srv.App.Core.CreateUser(ctx, "ＫＡＲＬ"); !auth.IsKind(err, auth.KindConflict) || !strings.Contains(err.Error(), `"karl"`) {
		t.Errorf("CreateUser(ＫＡＲＬ) = %v, want a conflict naming karl", err)
	}
	users, err := srv.App.Core.Users(ctx)
	if err != nil || len(users) != 1 {
		t.Errorf("users after the refused creations: %v, %v; want only karl", users, err)
	}
}

// TestInputLimits is issue 9's defect 10 (input part): ipaddr, hostname,
// type, display_username, pushinfo and username were stored unvalidated
// (a 100 KB hostname, ipaddr "not-an-ip"; 100 KB bodies are now refused
// with 413 before they are read). Each is refused with 40002
// naming the parameter, on v2 and on the legacy v1 (JSON and BSON), and
// nothing reaches the auth log.
func TestInputLimits(t *testing.T) {
	t.Parallel()
	srv := assenttest.Start(t, assenttest.Options{})
	ikey, skey := srv.AuthAPI(t, "app", "")
	srv.User(t, "alice")
	code := srv.BypassCodes(t, "alice", 1, 0)[0]
	// Over every field's limit, within the routes' body limits (a 100 KB
	// value is refused before it is read: 413, see TestBodyLimitsAndContentType).
	big := strings.Repeat("h", 4<<10)

	preauth := func(k, v string) url.Values { return url.Values{"username": {"alice"}, k: {v}} }
	auth := func(k, v string) url.Values {
		return url.Values{"username": {"alice"}, "factor": {"passcode"}, "passcode": {code}, k: {v}}
	}
	v1 := func(k, v string) url.Values {
		return url.Values{"user": {"alice"}, "factor": {"passcode"}, "code": {code}, k: {v}}
	}
	for _, tc := range []struct {
		name, path string
		params     url.Values
		param, why string
	}{
		{"ipaddr not an IP", "/auth/v2/preauth", preauth("ipaddr", "not-an-ip"), "ipaddr", "IPv4 or IPv6"},
		{"ipaddr with a port", "/auth/v2/auth", auth("ipaddr", "192.0.2.1:443"), "ipaddr", "IPv4 or IPv6"},
		{"ipaddr with a netmask", "/auth/v2/auth", auth("ipaddr", "192.0.2.0/24"), "ipaddr", "IPv4 or IPv6"},
		{"ipaddr 4 KB", "/auth/v2/preauth", preauth("ipaddr", big), "ipaddr", "IPv4 or IPv6"},
		{"hostname 4 KB", "/auth/v2/preauth", preauth("hostname", big), "hostname", "longer than 255"},
		{"hostname 4 KB on auth", "/auth/v2/auth", auth("hostname", big), "hostname", "longer than 255"},
		{"hostname with a newline", "/auth/v2/auth", auth("hostname", "vpn1\nforged log line"), "hostname", "control characters"},
		{"hostname not UTF-8", "/auth/v2/preauth", preauth("hostname", "vpn\xff"), "hostname", "UTF-8"},
		{"type too long", "/auth/v2/auth", auth("type", strings.Repeat("t", 101)), "type", "longer than 100"},
		{"display_username too long", "/auth/v2/auth", auth("display_username", strings.Repeat("d", 129)), "display_username", "longer than 128"},
		{"pushinfo 20,000 bytes", "/auth/v2/auth", auth("pushinfo", "a="+strings.Repeat("b", 19998)), "pushinfo", "less than 20,000 bytes"},
		{"pushinfo not URL-encoded", "/auth/v2/auth", auth("pushinfo", "from=100%zz"), "pushinfo", "URL-encoded"},
		{"username too long", "/auth/v2/preauth", url.Values{"username": {strings.Repeat("u", 129)}}, "username", "longer than 128"},
		{"username 4 KB", "/auth/v2/auth", url.Values{"username": {big}, "factor": {"push"}}, "username", "longer than 128"},
		{"username with a control character", "/auth/v2/preauth", url.Values{"username": {"ali\x07ce"}}, "username", "control characters"},
		{"v1 ipaddr", "/rest/v1/auth.json", v1("ipaddr", "not-an-ip"), "ipaddr", "IPv4 or IPv6"},
		{"v1 hostname", "/rest/v1/auth.bson", v1("hostname", big), "hostname", "longer than 255"},
		{"v1 pushinfo", "/rest/v1/auth", v1("pushinfo", "%"), "pushinfo", "URL-encoded"},
		{"v1 preauth hostname", "/rest/v1/preauth.bson", url.Values{"user": {"alice"}, "hostname": {big}}, "hostname", "longer than 255"},
	} {
		wire(t, srv, ikey, skey, http.MethodPost, tc.path, tc.params).wantInvalid(t, tc.name, tc.param, tc.why)
	}
	if rows := srv.AuthLog(t, ikey); len(rows) != 0 {
		t.Errorf("refused requests left %d auth-log rows", len(rows))
	}

	// At the limits, values are accepted and stored (ipaddr canonical).
	a := wire(t, srv, ikey, skey, http.MethodPost, "/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"passcode"},
		"passcode": {code}, "ipaddr": {"2001:DB8::0:1"}, "hostname": {strings.Repeat("h", 255)},
		"type": {strings.Repeat("t", 100)}, "display_username": {strings.Repeat("é", 128)},
		"pushinfo": {"a=" + strings.Repeat("b", 19997)}})
	if a.Stat != "OK" {
		t.Fatalf("auth at the limits: %d %s %s", a.Code, a.Message, a.Detail)
	}
	// A zone names an interface of the client's host: dropped. (An
	// unknown user's preauth is logged, as a deny.)
	a = wire(t, srv, ikey, skey, http.MethodPost, "/auth/v2/preauth", url.Values{"username": {"stranger"}, "ipaddr": {"fe80::1%eth0"}})
	if a.Stat != "OK" {
		t.Fatalf("preauth with a zoned ipaddr: %d %s %s", a.Code, a.Message, a.Detail)
	}
	ips := map[string]int{}
	for _, r := range srv.AuthLog(t, ikey) {
		ips[r.IP] = len(r.Hostname)
	}
	if len(ips) != 2 || ips["2001:db8::1"] != 255 || ips["fe80::1"] != 0 {
		t.Errorf("auth log IPs and hostname lengths %v, want 2001:db8::1 with the 255-character hostname and fe80::1", ips)
	}
}

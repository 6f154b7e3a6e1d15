package authapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authapi"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/httpapi"
)

// captured is a request as an eavesdropper (or a log) kept it: it can be
// sent again, byte for byte, to another path if the attacker likes.
type captured struct {
	method string
	header http.Header
	body   []byte
	url    *url.URL
}

func capture(t *testing.T, r *http.Request) captured {
	t.Helper()
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			t.Fatal(err)
		}
	}
	return captured{method: r.Method, header: r.Header.Clone(), body: body, url: r.URL}
}

// replay sends the captured request again, to path if not empty.
func (c captured) replay(t *testing.T, path string) *http.Request {
	t.Helper()
	u := *c.url
	if path != "" {
		u.Path = path
	}
	r, err := http.NewRequest(c.method, u.String(), bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header = c.header.Clone()
	r.Host = apiHost
	return r
}

// TestV1Replay: a version-1 request signs no date, so whoever captures one
// can send it again at any time. It is refused on the Auth API v2 (40104
// without a date; a bad signature with a fresh, unsigned date added), and
// accepted on the legacy /rest/v1 routes, which old duo_unix needs, and
// from integrations marked legacy.
func TestV1Replay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	if _, err := f.svc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}

	// duo_unix 1.11 style: v1, SHA1, no Date header.
	enroll := capture(t, f.request(t, f.ikey, f.skey, http.MethodPost, "/auth/v2/enroll", url.Values{"username": {"mallory"}}))
	if a := do(t, enroll.replay(t, ""), false); a.status != 401 || a.Code != httpapi.CodeMissingTimestamp || a.Message != "Missing request timestamp" {
		t.Errorf("v1 enroll on /auth/v2: HTTP %d %d %q, want 401 40104 Missing request timestamp", a.status, a.Code, a.Message)
	}
	fresh := enroll.replay(t, "")
	fresh.Header.Set("Date", time.Now().UTC().Format(duosig.DateFormat))
	if a := do(t, fresh, false); a.status != 401 || a.Code != httpapi.CodeBadSignature {
		t.Errorf("v1 enroll with a fresh date added: HTTP %d %d %q, want 401 40103", a.status, a.Code, a.Message)
	}

	// The legacy routes accept the same kind of request, again and again.
	for _, sfx := range suffixes {
		pre := capture(t, f.request(t, f.ikey, f.skey, http.MethodPost, "/rest/v1/preauth"+sfx, url.Values{"user": {"alice"}}))
		for i := range 2 {
			if a := do(t, pre.replay(t, ""), sfx == ".bson"); a.status != 200 || a.Stat != "OK" {
				t.Errorf("v1 preauth%s on /rest/v1, send %d: HTTP %d %d %q", sfx, i+1, a.status, a.Code, a.Message)
			}
		}
	}

	// An integration marked legacy accepts version 1 everywhere.
	yes := true
	if _, err := f.svc.UpdateIntegration(ctx, f.ikey, auth.IntegrationUpdate{LegacySignatures: &yes}); err != nil {
		t.Fatal(err)
	}
	if a := do(t, enroll.replay(t, ""), false); a.status != 200 || a.Stat != "OK" {
		t.Errorf("v1 enroll from a legacy integration: HTTP %d %d %q %q", a.status, a.Code, a.Message, a.Detail)
	}
}

// TestBodyLimitsAndContentType: Auth API bodies are small and must be a
// form or JSON; the answer comes in the route's encoding.
func TestBodyLimitsAndContentType(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	if _, err := f.svc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	codes := f.bypassCodes(t, "alice", 2)
	v2 := func(path string, params url.Values) *http.Request {
		return f.v2Request(t, http.MethodPost, path, params)
	}
	withType := func(r *http.Request, ct string) *http.Request {
		r.Header.Set("Content-Type", ct)
		return r
	}
	// Duo's pushinfo must be less than 20,000 bytes; the longest one,
	// escaped again in a form body, still fits auth's limit.
	pushinfo := "k=v" + strings.Repeat("%3D", 6665) + "x"
	for _, tc := range []struct {
		name         string
		req          *http.Request
		bson         bool
		status, code int
	}{
		{"19,999-byte pushinfo", v2("/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"passcode"},
			"passcode": {codes[0]}, "pushinfo": {pushinfo}}), false, 200, 0},
		{"auth over its limit", v2("/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"passcode"},
			"passcode": {codes[1]}, "pushinfo": {strings.Repeat("x", authapi.MaxAuthBody)}}), false, 413, httpapi.CodeTooLarge},
		{"preauth over its limit", v2("/auth/v2/preauth", url.Values{"username": {"alice"},
			"hostname": {strings.Repeat("h", authapi.MaxSmallBody)}}), false, 413, httpapi.CodeTooLarge},
		{"v1 preauth over its limit", v2("/rest/v1/preauth.bson", url.Values{"user": {"alice"},
			"hostname": {strings.Repeat("h", authapi.MaxSmallBody)}}), true, 413, httpapi.CodeTooLarge},
		{"text/xml", withType(v2("/auth/v2/preauth", url.Values{"username": {"alice"}}), "text/xml"), false, 401, httpapi.CodeBadContentType},
		{"text/plain on BSON", withType(v2("/rest/v1/preauth.bson", url.Values{"user": {"alice"}}), "text/plain"), true, 401, httpapi.CodeBadContentType},
		{"multipart on JSON v1", withType(v2("/rest/v1/preauth.json", url.Values{"user": {"alice"}}), "multipart/form-data; boundary=b"), false, 401, httpapi.CodeBadContentType},
	} {
		a := do(t, tc.req, tc.bson)
		if a.status != tc.status || (tc.code != 0 && a.Code != tc.code) {
			t.Errorf("%s: HTTP %d %d %q %q, want %d %d", tc.name, a.status, a.Code, a.Message, a.Detail, tc.status, tc.code)
		}
		if tc.code == httpapi.CodeBadContentType && a.Message != "Invalid content type" {
			t.Errorf("%s: message %q", tc.name, a.Message)
		}
	}
}

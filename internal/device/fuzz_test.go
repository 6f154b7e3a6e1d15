package device

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzDeviceAuth: the parsing of a device request's Authorization header,
// date and parameters, and the canonicalization of what it signed, never
// panic, and every answer is a Duo envelope. Seeds include one correctly
// signed request so the fuzzer starts past the signature check.
func FuzzDeviceAuth(f *testing.F) {
	key := testKeys()[0]
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	date := now.Format(dateFormat)
	canon := date + "\nGET\nassent.example\n/push/v2/device/info\nakey=DA1&x=a+b"
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte("DPSTUB:"+base64.StdEncoding.EncodeToString(sign(f, key, canon))))
	f.Add("GET", "/push/v2/device/info", "akey=DA1&x=a+b", "", good, date)
	f.Add("POST", "/push/v2/device/registration", "", "token=GCM%3Ax&akey=", good, "Tue, 1 Dec 2026 00:00 GMT")
	f.Add("POST", "/push/v2/device/transactions/x", "answer=approve", "%zz", "basic: Og==", "")
	f.Add("GET", "/push/v2/device/transactions", "a=%zz", "", "Basic "+base64.StdEncoding.EncodeToString([]byte("DPSTUB:!!")), "x")
	h := stubHandler(&key.PublicKey, now)
	f.Fuzz(func(t *testing.T, method, path, query, body, authz, date string) {
		// The pure functions first, with the raw inputs.
		_, _, _ = parseAuthorization(authz)
		q, _ := url.ParseQuery(query)
		form, _ := url.ParseQuery(body)
		hosts := candidateHosts([]string{authz, date})
		cands := candidateDigests(signedRequest{Date: date, Method: method, Path: path,
			Hosts: hosts, Query: q, Form: form, RawQuery: query, RawForm: body})
		if len(hosts) > 0 && len(cands) == 0 || len(cands) > maxCandidates {
			t.Fatalf("%d candidates for %d hosts", len(cands), len(hosts))
		}
		_ = pushInfo(query)

		// Then the whole device API.
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u := &url.URL{Scheme: "https", Host: "assent.example", Path: path, RawQuery: query}
		req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", authz)
		req.Header.Set("X-Duo-Date", date)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code/100 == 3 {
			return // the mux redirects unclean paths before any handler runs
		}
		var env struct {
			Stat string `json:"stat"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || (env.Stat != "OK" && env.Stat != "FAIL") {
			t.Fatalf("%d answer is not a Duo envelope: %q", w.Code, w.Body)
		}
	})
}

// FuzzParseCode: activation codes come from a QR code or a link anyone can
// craft. ParseCode never panics; what it accepts names a plain host, and a
// code built from its parts parses back to them.
func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"duo://AbCdEf0123456789ABCD-bG9jYWxob3N0Ojg0NDM", "<x-YQ>", "x-YQ==", "-", "duo://-", "a-_-8", " c-bG9jYWxob3N0 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, host, err := ParseCode(s)
		if err != nil {
			if code != "" || host != "" {
				t.Fatalf("%q: error %v with %q, %q", s, err, code, host)
			}
			return
		}
		if code == "" || host == "" || strings.ContainsAny(host, "/?#@ \t\r\n") || strings.Contains(code, "-") {
			t.Fatalf("%q parsed to code %q, host %q", s, code, host)
		}
		again := "duo://" + code + "-" + strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(host)), "=")
		if c2, h2, err := ParseCode(again); err != nil || c2 != code || h2 != host {
			t.Fatalf("%q → %q, %q → %q → %q, %q, %v", s, code, host, again, c2, h2, err)
		}
	})
}

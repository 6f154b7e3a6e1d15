package duosig

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"", "Basic", "Basic: ", "basic:",
		Authorization(vecIKey, "075d37d4c57312e3de480b2e0d7713c72a635bd1"),
		"Basic: " + strings.TrimRight(Authorization(vecIKey, strings.Repeat("ab", 64))[6:], "="),
		"Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MWJmZmI4OTI0MzQ4ZjdkYjdkYTllN2Q3ZDc0OWRlZDkzYWFmZDAyZDhlOTA0OTYwZGE3Yjk2YzU3NTEwMjIwMTg1YTY0YTI4MjdlZThmMjRhYzVkMzA4MDJhOWVlOTdlNTlkZTQ0YjMwNGIxODI0MmYwZDU5NmQxNWE4MTIyYWY=",
	} {
		f.Add(s)
	}
	f.Add("Basic  " + Authorization(vecIKey, strings.Repeat("AB", 20))[6:])
	f.Add("Basic junk\u00a0" + Authorization(vecIKey, strings.Repeat("ab", 20))[6:])
	f.Fuzz(func(t *testing.T, h string) {
		c, err := ParseAuthorization(h)
		// The shortcut for "Basic <token>" agrees with splitting in fields.
		if c0, err0 := parseAuthorizationFields(h); c0 != c || err0 != err {
			t.Fatalf("%q: %+v, %v; split in fields: %+v, %v", h, c, err, c0, err0)
		}
		if err != nil {
			if err != ErrMissingCredentials {
				t.Fatalf("error %v", err)
			}
			return
		}
		if c.IKey == "" || strings.Contains(c.IKey, ":") || (len(c.Signature) != 40 && len(c.Signature) != 128) ||
			c.Signature != strings.ToLower(c.Signature) || !isHex(c.Signature) {
			t.Fatalf("bad credentials %+v", c)
		}
		// What we parse, we can write and parse back identically.
		c2, err := ParseAuthorization(Authorization(c.IKey, c.Signature))
		if err != nil || c2 != c {
			t.Fatalf("round trip %+v -> %+v, %v", c, c2, err)
		}
	})
}

// parseAuthorizationFields is ParseAuthorization without its shortcut for
// the usual header.
func parseAuthorizationFields(h string) (Credentials, error) {
	fields := strings.Fields(h)
	var tok string
	switch {
	case len(fields) == 0:
		return Credentials{}, ErrMissingCredentials
	case len(fields) == 1:
		f := fields[0]
		if len(f) < 6 || !strings.EqualFold(f[:6], "basic:") {
			return Credentials{}, ErrMissingCredentials
		}
		tok = f[6:]
	default:
		if !strings.EqualFold(strings.TrimSuffix(fields[0], ":"), "basic") {
			return Credentials{}, ErrMissingCredentials
		}
		tok = fields[len(fields)-1]
	}
	return parseCredentials(tok)
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{
		"Tue, 21 Aug 2012 17:29:18 -0000", "Tue, 21 Aug 2012 17:29:18 GMT", "21 Aug 12 17:29 +05:30",
		"Tuesday, 21-Aug-12 17:29:18 GMT", "Sat, 31 Dec 9999 23:59:60 EST+9959 (x(y))", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseDate(s)
		if err != nil || tm.Year() < 1900 || tm.Year() > 9999 {
			return
		}
		// The parsed instant survives formatting and re-parsing.
		back, err := ParseDate(tm.Format(DateFormat))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, tm, tm.Format(DateFormat), back, err)
		}
	})
}

// FuzzVerify checks that Verify never panics on arbitrary input and that
// whatever request Canonicalize signs, Verify accepts.
func FuzzVerify(f *testing.F) {
	f.Add("POST", "/auth/v2/auth", "API.example.com:8443", "a=b+c&d=%20", []byte(`{"x":1}`), "Tue, 21 Aug 2012 17:29:18 -0000", "Basic: x", true, 5)
	f.Add("get", "/auth/v2/check", "localhost", "", []byte(nil), "Tue, 21 Aug 2012 17:29:18 GMT",
		Authorization(vecIKey, "075d37d4c57312e3de480b2e0d7713c72a635bd1"), false, 1)
	f.Add("PUT", "/admin/v1/users/DU%2B", "[::1]:1", "x=1&x=2;y", []byte("u=%ZZ&v=1"), "garbage", "", false, 2)
	now := time.Date(2012, 8, 21, 17, 29, 18, 0, time.UTC)
	v := Verifier{Hosts: []string{"api.example.com:8443"}, Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, method, path, host, rawQuery string, body []byte, date, auth string, isJSON bool, version int) {
		q, _ := url.ParseQuery(rawQuery)
		var form url.Values
		if !isJSON {
			form, _ = url.ParseQuery(string(body))
		}
		h := http.Header{"Date": {date}, "X-Duo-Foo": {rawQuery}}
		in := Incoming{Method: method, Path: path, Query: q, Form: form, Body: body, JSONBody: isJSON, Header: h}
		v := v
		v.Hosts = []string{"api.example.com:8443", host}

		// Arbitrary credentials: must not panic.
		if c, err := ParseAuthorization(auth); err == nil {
			_ = v.Verify(in, c, testSKey, WithUndatedV1)
		}
		_ = v.Verify(in, Credentials{IKey: "x", Signature: auth}, testSKey, DatedOnly)

		// Correctly signed for a configured name: must verify.
		if host == "" {
			return // no configured name is empty
		}
		h.Set("Date", "Tue, 21 Aug 2012 17:29:18 -0000")
		r := Request{Method: method, Host: host, Path: path, Date: h.Get("Date"), Body: body, XDuoHeaders: h}
		version = []int{1, 2, 4, 5}[uint(version)%4]
		if version <= 2 {
			r.Params = url.Values{}
			for k, vs := range q {
				r.Params[k] = append(r.Params[k], vs...)
			}
			for k, vs := range form {
				r.Params[k] = append(r.Params[k], vs...)
			}
		} else {
			r.Params = q
		}
		canon, err := Canonicalize(version, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []Digest{SHA1, SHA512} {
			if version >= 4 && d == SHA1 {
				continue
			}
			c, err := ParseAuthorization(Authorization(testIKey, Sign(d, testSKey, canon)))
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(in, c, testSKey, WithUndatedV1); err != nil {
				t.Fatalf("v%d %v: %v\ncanonical %q", version, d, err, canon)
			}
			// Version 1 signs no date: refused where only dated versions are.
			if err := v.Verify(in, c, testSKey, DatedOnly); (err == nil) == (version == 1) {
				t.Fatalf("v%d %v DatedOnly: %v\ncanonical %q", version, d, err, canon)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	now := time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)
	// As the server verifies: with a pool of keyed HMACs.
	v := Verifier{Hosts: []string{cfgHost}, Now: func() time.Time { return now }, MACs: &MACPool{}}
	utc := fmtDate(now, time.UTC)
	form := url.Values{"username": {"alice"}, "factor": {"push"}, "device": {"auto"}, "display_username": {"Alice Example"}, "ipaddr": {"192.0.2.1"}}
	cases := []struct {
		name string
		req  clientReq
	}{ // all WithUndatedV1, as on the legacy routes
		{"go-v2-sha512-form", clientReq{version: 2, digest: SHA512, signedHost: cfgHost, dateHeader: "Date", date: utc,
			method: "POST", path: "/auth/v2/auth", form: form}},
		{"duo_unix-v2-sha1-form", clientReq{version: 2, digest: SHA1, signedHost: cfgHost, dateHeader: "Date", date: utc,
			method: "POST", path: "/auth/v2/auth", form: form}},
		{"go-v2-sha512-barehost", clientReq{version: 2, digest: SHA512, signedHost: bareHost, dateHeader: "Date", date: utc,
			method: "POST", path: "/auth/v2/auth", form: form}},
		{"python-v5-json", clientReq{version: 5, digest: SHA512, signedHost: bareHost, dateHeader: "Date", date: utc,
			method: "POST", path: "/auth/v2/auth", body: []byte(`{"device":"auto","factor":"push","username":"alice"}`)}},
		{"duo_unix-v1-sha1-nodate", clientReq{version: 1, digest: SHA1, signedHost: bareHost,
			method: "POST", path: "/rest/v1/auth", form: form}},
		{"reject-wrong-key-v2", clientReq{version: 2, digest: SHA512, signedHost: cfgHost, dateHeader: "Date", date: utc,
			method: "POST", path: "/auth/v2/auth", form: form, skey: strings.Repeat("x", 40)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			in, auth := c.req.build(b)
			cred, err := ParseAuthorization(auth)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				err = v.Verify(in, cred, testSKey, WithUndatedV1)
			}
			if (err != nil) != (c.req.skey != "") {
				b.Fatal(err)
			}
		})
	}
}

package duosig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSignerRoundTrip sends Signer requests over real HTTPS to a server
// that verifies them with NewIncoming, ParseAuthorization and Verify.
func TestSignerRoundTrip(t *testing.T) {
	t.Parallel()
	var seen struct {
		params url.Values
		ctype  string
	}
	var host string // the server's address, as configured
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		in := NewIncoming(r, body)
		cred, err := ParseAuthorization(r.Header.Get("Authorization"))
		if err == nil {
			v := Verifier{Hosts: []string{"api.example.com", host}}
			err = v.Verify(in, cred, testSKey, WithUndatedV1)
		}
		var e *Error
		if errors.As(err, &e) {
			w.WriteHeader(e.Status)
			fmt.Fprintf(w, `{"stat":"FAIL","code":%d,"message":%q}`, e.Code, e.Message)
			return
		}
		seen.params = url.Values{}
		for _, p := range []url.Values{in.Query, in.Form} {
			for k, vs := range p {
				seen.params[k] = append(seen.params[k], vs...)
			}
		}
		if in.JSONBody {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			for k, v := range m {
				switch v := v.(type) {
				case string:
					seen.params.Add(k, v)
				case []any:
					for _, x := range v {
						seen.params.Add(k, x.(string))
					}
				}
			}
		}
		seen.ctype = r.Header.Get("Content-Type")
		fmt.Fprint(w, `{"stat":"OK","response":{}}`)
	}))
	host = srv.Listener.Addr().String()
	srv.StartTLS()
	defer srv.Close()
	params := url.Values{
		"username": {"alice smith+x@example.com"},
		"weird":    {"a&b=c;d ~!*'()%20/?#\u00e9\u2603"},
		"multi":    {"2", "1"},
	}
	for _, version := range []int{0, 1, 2, 4, 5} {
		for _, digest := range []Digest{SHA1, SHA512} {
			for _, method := range []string{"GET", "POST", "DELETE", "PUT", "PATCH"} {
				for _, path := range []string{"/auth/v2/check", "/admin/v1/users/DU%2Bx%40y"} {
					name := fmt.Sprintf("v%d/%v/%s%s", version, digest, method, path)
					s := Signer{IKey: testIKey, SKey: testSKey, Host: host, Version: version, Digest: digest}
					req, err := s.NewRequest(context.Background(), method, path, params)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if req.URL.EscapedPath() != path {
						t.Errorf("%s: wire path %q", name, req.URL.EscapedPath())
					}
					resp, err := srv.Client().Do(req)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("%s: %d %s", name, resp.StatusCode, body)
						continue
					}
					if CanonParams(seen.params) != CanonParams(params) {
						t.Errorf("%s: server saw %v", name, seen.params)
					}
				}
			}
		}
	}
	// A wrong key is rejected with Duo's envelope.
	s := Signer{IKey: testIKey, SKey: strings.Repeat("k", 40), Host: host}
	req, _ := s.NewRequest(context.Background(), "GET", "/auth/v2/check", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"code":40103`) {
		t.Errorf("wrong key: %d %s", resp.StatusCode, body)
	}
}

func TestSignerShape(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2012, 8, 21, 17, 29, 18, 0, time.FixedZone("", -4*3600)) }
	ctx := context.Background()
	params := url.Values{"realname": {"First Last"}, "username": {"root"}}

	s := Signer{IKey: vecIKey, SKey: vecSKey, Host: vecHost, Now: now}
	req, err := s.NewRequest(ctx, "post", "/accounts/v1/account/list", params)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	date := "Tue, 21 Aug 2012 21:29:18 +0000"
	canon := date + "\nPOST\n" + vecHost + "\n/accounts/v1/account/list\nrealname=First%20Last&username=root"
	checks := []struct{ name, got, want string }{
		{"url", req.URL.String(), "https://" + vecHost + "/accounts/v1/account/list"},
		{"method", req.Method, "POST"},
		{"body", string(body), "realname=First%20Last&username=root"},
		{"content-type", req.Header.Get("Content-Type"), "application/x-www-form-urlencoded"},
		{"date", req.Header.Get("Date"), date},
		{"auth", req.Header.Get("Authorization"), Authorization(vecIKey, Sign(SHA512, vecSKey, canon))},
	}

	s.Version = 5
	s.Digest = SHA1 // ignored: v5 is always SHA512
	req, err = s.NewRequest(ctx, "POST", "/accounts/v1/account/list", params)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(req.Body)
	canon5 := date + "\nPOST\n" + vecHost + "\n/accounts/v1/account/list\n\n" + sha512Hex(body) + "\n" + emptySHA512
	checks = append(checks, []struct{ name, got, want string }{
		{"v5 body", string(body), `{"realname":"First Last","username":"root"}`},
		{"v5 content-type", req.Header.Get("Content-Type"), "application/json"},
		{"v5 query", req.URL.RawQuery, ""},
		{"v5 auth", req.Header.Get("Authorization"), Authorization(vecIKey, Sign(SHA512, vecSKey, canon5))},
	}...)

	req, err = s.NewRequest(ctx, "GET", "/auth/v2/check", params)
	if err != nil {
		t.Fatal(err)
	}
	checks = append(checks, struct{ name, got, want string }{"v5 GET query", req.URL.RawQuery, "realname=First%20Last&username=root"})
	if req.Body != nil && req.Body != http.NoBody {
		t.Error("GET has a body")
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q want %q", c.name, c.got, c.want)
		}
	}

	for _, bad := range []struct {
		s    Signer
		path string
	}{
		{Signer{Host: vecHost, Version: 3}, "/x"},
		{Signer{Host: ""}, "/x"},
		{Signer{Host: "a/b"}, "/x"},
		{Signer{Host: vecHost}, "x"},
		{Signer{Host: vecHost}, "/x?y=1"},
		{Signer{Host: vecHost}, "/x#f"},
		{Signer{Host: vecHost}, "//evil/x"},
	} {
		if _, err := bad.s.NewRequest(ctx, "GET", bad.path, nil); err == nil {
			t.Errorf("NewRequest(%+v, %q) succeeded", bad.s, bad.path)
		}
	}
}

package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestForwarded(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTrustedProxies([]string{"nginx"}); err == nil {
		t.Error("a name accepted as a trusted proxy")
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no header", "192.0.2.1:5000", nil, "192.0.2.1:5000"},
		{"trusted proxy", "192.0.2.1:5000", []string{"198.51.100.7"}, "198.51.100.7:0"},
		{"untrusted peer: header ignored", "203.0.113.9:5000", []string{"198.51.100.7"}, "203.0.113.9:5000"},
		{"spoofed entries left of the client", "192.0.2.1:5000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7:0"},
		{"chain of trusted proxies", "192.0.2.1:5000", []string{"198.51.100.7, 10.1.2.3", "10.9.9.9"}, "198.51.100.7:0"},
		{"IPv6 proxy and client", "[2001:db8::1]:443", []string{"2001:db8:1::5"}, "[2001:db8:1::5]:0"},
		{"garbage", "192.0.2.1:5000", []string{"not-an-ip"}, "192.0.2.1:5000"},
		{"only trusted entries", "192.0.2.1:5000", []string{"10.0.0.1"}, "10.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := Forwarded(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("RemoteAddr %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzForwarded(f *testing.F) {
	for _, s := range []string{"198.51.100.7", "1.2.3.4, 10.0.0.1", "", ",,,", "::1, [::2]", "not an ip"} {
		f.Add(s)
	}
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.0/8", "127.0.0.1"})
	f.Fuzz(func(t *testing.T, xff string) {
		h := Forwarded(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("X-Forwarded-For", xff)
		h.ServeHTTP(httptest.NewRecorder(), r)
	})
}

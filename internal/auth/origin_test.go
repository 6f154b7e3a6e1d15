package auth

import "testing"

func TestNormalizeOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://App.Example.com", "https://app.example.com"},
		{"https://app.example.com/", "https://app.example.com"},
		{"https://app.example.com:443", "https://app.example.com"},
		{"http://localhost:80", "http://localhost"},
		{"http://localhost:8080", "http://localhost:8080"},
		{" https://app.example:8443 ", "https://app.example:8443"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"https://app.example/login", ""},
		{"https://app.example?x=1", ""},
		{"https://app.example#f", ""},
		{"https://user@app.example", ""},
		{"ftp://app.example", ""},
		{"app.example", ""},
		{"javascript:alert(1)", ""},
		{"", ""},
	} {
		got, err := NormalizeOrigin(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

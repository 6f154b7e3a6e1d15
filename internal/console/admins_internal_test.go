package console

import (
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/admin/account": "/admin/account",
		"/admin/admins":  "/admin/admins",
		"/admin/users/DUAAAAAAAAAAAAAAAAAA/delete": "/admin/users/DUAAAAAAAAAAAAAAAAAA/delete",
		"":                               "/admin/",
		"https://evil.example/":          "/admin/",
		"//evil.example/admin/":          "/admin/",
		"/admin//evil.example":           "/admin/",
		"/admin/\\evil.example":          "/admin/",
		"/admin/../portal":               "/admin/",
		"/admin/account?x=1":             "/admin/",
		"/admin/v1/users":                "/admin/",
		"/admin/admins\r\nSet-Cookie: x": "/admin/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeNext: whatever the "next" of the re-authentication page, the
// redirect stays on the console's pages.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/admin/account", "//x", "/admin//x", "/admin/\\x", "https://x/", "/admin/v2/x", "/admin/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := safeNext(in)
		if !strings.HasPrefix(out, "/admin/") || strings.Contains(out, "//") || strings.ContainsAny(out, "\\?#\r\n") ||
			strings.Contains(out, "/..") || (out != "/admin/" && out != in) {
			t.Fatalf("safeNext(%q) = %q", in, out)
		}
	})
}

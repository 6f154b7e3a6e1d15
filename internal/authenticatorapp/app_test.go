package authenticatorapp

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

type fixedKey string

func (k fixedKey) VAPIDPublicKey() string { return string(k) }

func TestLink(t *testing.T) {
	got := Link("assent.example.com", "duo://ABCDEFGHIJKLMNOPQRST-YXNzZW50LmV4YW1wbGUuY29t")
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "assent.example.com" || u.Path != "/app/" || u.RawQuery != "" {
		t.Errorf("Link = %q: want https://assent.example.com/app/ with the code in the fragment only", got)
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil || frag.Get("activate") != "duo://ABCDEFGHIJKLMNOPQRST-YXNzZW50LmV4YW1wbGUuY29t" {
		t.Errorf("fragment %q (%v) does not carry the code", u.Fragment, err)
	}
}

func TestServe(t *testing.T) {
	mux := http.NewServeMux()
	New(fixedKey("BPUBKEY")).Register(mux)
	off := http.NewServeMux()
	New(nil).Register(off)
	tests := []struct {
		name, method, path string
		mux                *http.ServeMux
		status             int
		ctype, contains    string
	}{
		{"index", "GET", "/app/", mux, 200, "text/html; charset=utf-8", `<script src="/app/app.js" defer></script>`},
		{"redirect", "GET", "/app", mux, 301, "", ""},
		{"script", "GET", "/app/app.js", mux, 200, "text/javascript; charset=utf-8", "crypto.subtle"},
		{"worker", "GET", "/app/sw.js", mux, 200, "text/javascript; charset=utf-8", "showNotification"},
		{"manifest", "GET", "/app/manifest.webmanifest", mux, 200, "application/manifest+json", `"start_url": "/app/"`},
		{"icon", "GET", "/app/icon-512.png", mux, 200, "image/png", "\x89PNG"},
		{"vapid", "GET", "/app/vapid-public-key", mux, 200, "text/plain; charset=utf-8", "BPUBKEY"},
		{"vapid off", "GET", "/app/vapid-public-key", off, 404, "", ""},
		{"unknown", "GET", "/app/nope.js", mux, 404, "", ""},
		{"index by name", "GET", "/app/index.html", mux, 404, "", ""},
		{"post", "POST", "/app/", mux, 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.mux.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); csp != CSP || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q", csp)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

// TestNoInlineScript keeps index.html within the CSP: no inline script,
// style or event handler.
func TestNoInlineScript(t *testing.T) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, bad := range []string{"<script>", "<style", " onclick=", " onload=", " style="} {
		if strings.Contains(s, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
}

func TestManifestIcons(t *testing.T) {
	b, err := static.ReadFile("static/manifest.webmanifest")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Icons []struct{ Src, Sizes string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	h := New(nil)
	for _, ic := range m.Icons {
		data, ok := h.files[strings.TrimPrefix(ic.Src, "/app/")]
		if !ok {
			t.Errorf("manifest icon %s is not served", ic.Src)
			continue
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", ic.Src, err)
			continue
		}
		if got := img.Bounds().Dx(); ic.Sizes != itoa(got)+"x"+itoa(got) {
			t.Errorf("%s is %dx%d, manifest says %s", ic.Src, got, img.Bounds().Dy(), ic.Sizes)
		}
	}
}

// TestCSP: the app may call other https servers' device APIs (accounts of
// several Assent servers), and nothing else is loosened.
func TestCSP(t *testing.T) {
	rec := httptest.NewRecorder()
	New(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/app/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"connect-src": "'self' https:", "script-src": "'self'", "style-src": "'self'", "default-src": "'none'",
		"frame-ancestors": "'none'", "worker-src": "'self'", "img-src": "'self' data:",
	} {
		if got := directives[name]; got != want {
			t.Errorf("%s %q, want %q (CSP %q)", name, got, want, csp)
		}
	}
}

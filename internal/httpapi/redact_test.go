package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessLogRedactsPaths sends requests through the Middleware and a
// real ServeMux and reads the access log: wildcard segments (the secrets)
// are redacted, everything else stays readable.
func TestAccessLogRedactsPaths(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /portal/enroll/{token...}", ok)
	mux.Handle("/push/v2/activation/{code...}", ok)
	mux.Handle("/push/v2/device/transactions/{urgid}", ok)
	mux.Handle("GET /exact/{id}/{$}", ok)
	mux.Handle("/auth/v2/preauth", ok)
	mux.Handle("/", http.NotFoundHandler())

	const secret = "S3cretT0kenValue9876"
	for _, tc := range []struct {
		method, target, want string
	}{
		{"GET", "/portal/enroll/" + secret, "/portal/enroll/" + Redacted},
		{"GET", "/portal/enroll/" + secret + "/", "/portal/enroll/" + Redacted},
		{"GET", "/portal/enroll/x/" + secret, "/portal/enroll/" + Redacted},
		{"GET", "/portal//enroll/" + secret, "/portal/enroll/" + Redacted}, // redirected to the clean path
		{"POST", "/push/v2/activation/" + secret + "?customer_protocol=1", "/push/v2/activation/" + Redacted},
		{"POST", "/push/v2/activation/" + secret + "%2Fx", "/push/v2/activation/" + Redacted},
		{"POST", "/push/v2/device/transactions/" + secret, "/push/v2/device/transactions/" + Redacted},
		{"GET", "/exact/" + secret + "/", "/exact/" + Redacted + "/"},
		{"POST", "/auth/v2/preauth?passcode=" + secret, "/auth/v2/preauth"},
		{"GET", "/nowhere/else", "/nowhere/else"},
	} {
		var logs bytes.Buffer
		h := Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), mux)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.target, nil))
		var line struct {
			Path string `json:"path"`
		}
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatalf("%s %s: log %q: %v", tc.method, tc.target, logs.String(), err)
		}
		if line.Path != tc.want {
			t.Errorf("%s %s: logged path %q, want %q", tc.method, tc.target, line.Path, tc.want)
		}
		if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "S3cret") {
			t.Errorf("%s %s: the secret was logged: %s", tc.method, tc.target, logs.String())
		}
	}
}

func TestRedactPattern(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{
		"":                              "",
		"/":                             "",
		"POST /prompt/push":             "",
		"GET /portal/enroll/{token...}": "/portal/enroll/" + Redacted,
		"example.com/a/{b}/c":           "/a/" + Redacted + "/c",
		"GET  /a/{b}/{$}":               "/a/" + Redacted + "/",
		"GET {x}":                       "",
	} {
		if got := redactPattern(pattern); got != want {
			t.Errorf("redactPattern(%q) = %q, want %q", pattern, got, want)
		}
	}
}

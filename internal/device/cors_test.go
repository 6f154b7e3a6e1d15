package device

import (
	"context"
	"net/http"
	"testing"
)

// originTransport adds an Origin header to every request and records the
// answers' CORS headers, as a browser running the app from another
// server would send and read them.
type originTransport struct {
	origin string
	base   http.RoundTripper
	seen   []http.Header
}

func (o *originTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Origin", o.origin)
	resp, err := o.base.RoundTrip(r)
	if err == nil {
		o.seen = append(o.seen, resp.Header.Clone())
	}
	return resp, err
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(a *API) { a.WebPush = nopWebPush{} })
	tests := []struct {
		name, path, origin, method string
		allow                      bool
	}{
		{"activation", "/push/v2/activation/ABC-xyz", "https://app.example", "POST", true},
		{"transactions", "/push/v2/device/transactions", "https://app.example:8443", "GET", true},
		{"answer", "/push/v2/device/transactions/tx1", "https://app.example", "POST", true},
		{"info", "/push/v2/device/info", "https://app.example", "GET", true},
		{"webpush", "/push/v2/device/webpush", "https://app.example", "POST", true},
		{"http origin", "/push/v2/device/info", "http://app.example", "GET", false},
		{"null origin", "/push/v2/device/info", "null", "GET", false},
		{"origin with path", "/push/v2/device/info", "https://app.example/x", "GET", false},
		{"origin with user", "/push/v2/device/info", "https://u@app.example", "GET", false},
		{"registration is not for the app", "/push/v2/device/registration", "https://app.example", "POST", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodOptions, f.url(tt.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", tt.method)
			req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-duo-date")
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("Access-Control-Allow-Credentials sent: %q", h.Get("Access-Control-Allow-Credentials"))
			}
			if !tt.allow {
				if got := h.Get("Access-Control-Allow-Origin"); got != "" || resp.StatusCode == http.StatusNoContent {
					t.Errorf("HTTP %d, Allow-Origin %q for a refused origin or endpoint", resp.StatusCode, got)
				}
				return
			}
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("preflight HTTP %d, want 204", resp.StatusCode)
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":  tt.origin,
				"Access-Control-Allow-Methods": tt.method,
				"Access-Control-Allow-Headers": "Authorization, X-Duo-Date, Content-Type",
				"Access-Control-Max-Age":       CORSMaxAge,
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if vary := h.Values("Vary"); len(vary) == 0 || vary[0] != "Origin" {
				t.Errorf("Vary %q, want Origin first", vary)
			}
		})
	}
}

type nopWebPush struct{}

func (nopWebPush) Register(context.Context, string, string, string, string) error { return nil }

// TestCORSSignedRequests: a device whose requests carry an https Origin
// (the app served by another server) activates, lists and answers a push,
// and every answer lets that origin read it, without credentials.
func TestCORSSignedRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ot := &originTransport{origin: "https://other.example", base: f.srv.Client().Transport}
	hc := &http.Client{Transport: ot}
	c, err := Activate(context.Background(), f.enroll(t, "alice"), ActivateOptions{Name: "app", HTTPClient: hc, Key: testKeys()[0]})
	if err != nil {
		t.Fatal(err)
	}
	c.Now = f.clock.Now
	txid := f.push(t, "")
	txs, err := c.Pending(context.Background())
	if err != nil || len(txs) != 1 {
		t.Fatalf("Pending: %v, %v", txs, err)
	}
	if err := c.Answer(context.Background(), txid, true); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, txid); st.Result != "allow" {
		t.Errorf("push ended %+v, want allow", st)
	}
	if len(ot.seen) < 3 {
		t.Fatalf("%d answers seen, want activation, list and answer", len(ot.seen))
	}
	for i, h := range ot.seen {
		if h.Get("Access-Control-Allow-Origin") != "https://other.example" || h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("answer %d: Allow-Origin %q, Allow-Credentials %q", i, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"))
		}
	}
}

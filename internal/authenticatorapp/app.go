// Package authenticatorapp serves the Assent Authenticator at /app/: an
// installable web app (manifest, icons, service worker) that activates
// through the device API (/push/v2) like any Duo-compatible authenticator,
// answers pushes and shows HOTP passcodes. Its files are embedded; plain
// JavaScript, no build step. With a Notifier it also offers Web Push (the
// VAPID public key at /app/vapid-public-key).
package authenticatorapp

import (
	"bytes"
	"embed"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/httpapi"
)

//go:embed static
var static embed.FS

// CSP is the app's Content-Security-Policy: nothing inline, nothing loaded
// from elsewhere; fetch may reach any https origin, because the app holds
// accounts of other Assent servers and calls their device APIs (which
// answer CORS, see internal/device).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' https:; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Link is the https link the enrollment QR code carries: it opens the app,
// which activates with the duo:// code in the fragment. A fragment never
// reaches a server, so the code stays out of access logs.
func Link(host, activationCode string) string {
	return "https://" + host + "/app/#activate=" + url.QueryEscape(activationCode)
}

// VAPIDKeyer gives the Web Push application server key (base64url, the
// uncompressed P-256 point) the app subscribes with.
type VAPIDKeyer interface {
	VAPIDPublicKey() string
}

// Handler serves the app.
type Handler struct {
	// VAPID is nil when Web Push is off; the app then polls only.
	VAPID VAPIDKeyer

	files map[string][]byte
}

// New builds the handler with its icons drawn.
func New(v VAPIDKeyer) *Handler {
	h := &Handler{VAPID: v, files: map[string][]byte{}}
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err == nil {
			h.files[strings.TrimPrefix(p, "static/")] = b
		}
		return err
	})
	for _, size := range []int{180, 192, 512} {
		h.files["icon-"+itoa(size)+".png"] = Icon(size)
	}
	return h
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for n > 0 || i == len(b) {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".png":         "image/png",
	".webmanifest": "application/manifest+json",
}

// Register adds /app/ to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/app", http.RedirectHandler("/app/", http.StatusMovedPermanently))
	mux.Handle("/app/", h)
}

// ServeHTTP serves the app's files; /app/ is index.html.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", http.MethodGet)
		httpapi.WriteError(w, &httpapi.Error{Status: http.StatusMethodNotAllowed, Code: httpapi.CodeMethodNotAllowed, Message: "Method not allowed"})
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/app/")
	if name == "" {
		name = "index.html"
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	// Revalidate always: the service worker keeps the offline copy.
	hd.Set("Cache-Control", "no-cache")
	if name == "vapid-public-key" {
		if h.VAPID == nil {
			httpapi.WriteError(w, httpapi.ErrNotFound)
			return
		}
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(h.VAPID.VAPIDPublicKey()))
		return
	}
	b, ok := h.files[name]
	if !ok || name == "index.html" && r.URL.Path != "/app/" {
		httpapi.WriteError(w, httpapi.ErrNotFound)
		return
	}
	if name == "sw.js" {
		hd.Set("Service-Worker-Allowed", "/app/")
	}
	hd.Set("Content-Type", contentTypes[path.Ext(name)])
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// Icon draws the app icon at size×size: a white check mark on Assent blue,
// kept inside the maskable safe zone (the central 80%).
func Icon(size int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	blue := color.NRGBA{0x1d, 0x4e, 0xd8, 0xff}
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	for y := range size {
		for x := range size {
			img.Set(x, y, blue)
		}
	}
	// The check: two thick strokes, (0.30,0.52)→(0.44,0.66)→(0.72,0.36).
	f := float64(size)
	thick := 0.07 * f
	stroke := func(x0, y0, x1, y1 float64) {
		x0, y0, x1, y1 = x0*f, y0*f, x1*f, y1*f
		for y := range size {
			for x := range size {
				px, py := float64(x)+.5, float64(y)+.5
				dx, dy := x1-x0, y1-y0
				t := ((px-x0)*dx + (py-y0)*dy) / (dx*dx + dy*dy)
				t = max(0, min(1, t))
				ex, ey := px-(x0+t*dx), py-(y0+t*dy)
				if ex*ex+ey*ey <= thick*thick/4 {
					img.Set(x, y, white)
				}
			}
		}
	}
	stroke(0.30, 0.52, 0.44, 0.66)
	stroke(0.44, 0.66, 0.72, 0.36)
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// Package web holds the server-rendered pages shared by the hosted prompt
// (Web SDK v2 frame, Universal Prompt) and the enrollment portal: one
// html/template set and small static assets (CSS, plain JS), embedded in
// the binary, and the security headers every page carries.
//
// Pages have no inline script or style, so the Content-Security-Policy can
// be strict: everything comes from the server's own origin.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// AssetPrefix is where Assets is mounted.
const AssetPrefix = "/prompt/assets/"

// templates are parsed once; they are immutable afterwards.
var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"asset": assetURL,
}).ParseFS(templateFS, "templates/*.html"))

// assetVersions maps an asset name to a short hash of its content, so asset
// URLs change with the binary and can be cached for long.
var assetVersions = AssetVersions(staticFS)

// AssetVersions maps each file under static/ in fsys to a short hash of its
// content, for asset URLs (…?v=hash) that change with the binary and can
// therefore be cached for long.
func AssetVersions(fsys fs.FS) map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return m
}

// AssetURL is the versioned URL of one of the prompt's static files (the
// self-service portal uses webauthn.js too).
func AssetURL(name string) string { return assetURL(name) }

func assetURL(name string) string {
	return AssetPrefix + name + "?v=" + assetVersions[name]
}

// Device is one authentication device offered on a page.
type Device struct {
	ID   string
	Name string
}

// Page is everything a page template can show. State selects the view.
type Page struct {
	Title string
	// State is one of the State* constants; it is also the data-state
	// attribute of <main>, which the script and browser tests key on.
	State    string
	Session  string // the sealed prompt state, posted back by every form
	Username string
	Devices  []Device
	// Message is the status line (role=status, aria-live); MessageKind is
	// "info", "error" or "success".
	Message     string
	MessageKind string
	// VerifyCode is the Verified Push code the waiting page shows (the
	// authenticator asks for it before it approves).
	VerifyCode string
	// Enrollment.
	ActivationCode string // duo://…
	AppLink        string // https://<host>/app/#activate=…, what the QR code holds
	QRURL          string
	// ParentMessage is posted to ParentOrigin with window.parent.postMessage
	// by the page's script (Web SDK v2: AUTH|… or ERR|…).
	ParentMessage string
	ParentOrigin  string
	// PortalToken is the enrollment-portal link's token (portal start page).
	PortalToken string
	// Portal marks pages of the enrollment portal.
	Portal bool
	// Passcode offers the passcode form; Push the push form.
	Passcode bool
	Push     bool
	// WebAuthn offers "Use a security key or passkey" (choose) or
	// "Add a security key or passkey" (enroll-intro, portal-start).
	WebAuthn bool
	// WebAuthnOptions is the JSON "publicKey" member for
	// navigator.credentials.get (choose) or .create (webauthn-create);
	// webauthn.js reads it from a data attribute (no inline script).
	WebAuthnOptions string
	// WebAuthnName is the name the user gave the key being added.
	WebAuthnName string
	// LastMethod is the method the user last logged in with (webauthn,
	// push, passcode): shown first and preselected.
	LastMethod string
	// TokenCodes: the user has an authenticator app or a hardware token,
	// so the passcode form asks for their code.
	TokenCodes bool
	// SMSDevices are the phones that can be sent SMS passcodes (with the
	// passcode form): one "Text me passcodes" button each.
	SMSDevices []Device
	// CallDevices are the phones that can be called (factor=phone): one
	// "Call me" button each.
	CallDevices []Device
	// TOTP is the authenticator app being set up (StateTOTPAdd).
	TOTP *TOTPSetup
	// ManageDevices links the choose page to the self-service portal
	// (/my/, in a new tab: the prompt may be framed): the integration's
	// self_service_allowed.
	ManageDevices bool
}

// TOTPSetup is what a user needs to add an authenticator app: the QR code
// and, for manual entry, the key and its settings. The page that shows it
// must allow data: images (Headers.DataImages).
type TOTPSetup struct {
	// QR is a data:image/png URL of the otpauth:// URI (rendered by the
	// server: the URI holds the secret and must never be in a URL that
	// could reach a log).
	QR template.URL
	// Key is the secret in base32, in groups of four for reading.
	Key       string
	Algorithm string // SHA1, SHA256, SHA512
	Digits    int
	Period    int // seconds
	Issuer    string
	Account   string
}

// GroupKey writes a base32 key in groups of four characters, as apps show
// keys for manual entry (they ignore the spaces).
func GroupKey(key string) string {
	var b strings.Builder
	for i, r := range key {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Page states.
const (
	StateChoose      = "choose"       // devices, push and passcode
	StatePushed      = "pushed"       // waiting for the device's answer
	StateEnrollIntro = "enroll-intro" // the user has no device yet
	StateEnrollQR    = "enroll-qr"    // QR code, waiting for activation
	StateEnrolled    = "enrolled"     // portal: device added
	StateRefused     = "refused"      // the core refused the user (disabled, locked out, deny policy)
	StateError       = "error"        // bad or expired request
	StatePortal      = "portal-start" // portal: confirm before using the link
	StateDone        = "done"         // authenticated; the finisher takes over
	// StateWebAuthnCreate: touch the new security key (navigator.credentials.create).
	StateWebAuthnCreate = "webauthn-create"
	// StateTOTPAdd: scan the QR code (or type the key), then enter a first code.
	StateTOTPAdd = "totp-add"
)

// Headers says who may frame a page and where its forms may lead.
type Headers struct {
	// FrameAncestors are the origins that may frame the page; empty: none.
	FrameAncestors []string
	// FormTargets are origins, besides the page's own, that form
	// submissions may end at (a redirect after a POST counts).
	FormTargets []string
	// DataImages allows data: URLs in img-src: only the page showing an
	// authenticator app's QR code, rendered inline by the server, needs it.
	DataImages bool
}

// SetHeaders sets the security headers of a page: a strict CSP (own origin
// only, no inline script), frame-ancestors, no caching, no referrer.
func SetHeaders(h http.Header, hd Headers) {
	ancestors := "'none'"
	if len(hd.FrameAncestors) > 0 {
		ancestors = strings.Join(hd.FrameAncestors, " ")
	} else {
		h.Set("X-Frame-Options", "DENY")
	}
	forms := "'self'"
	if len(hd.FormTargets) > 0 {
		forms += " " + strings.Join(hd.FormTargets, " ")
	}
	img := "'self'"
	if hd.DataImages {
		img += " data:"
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src "+img+"; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action "+forms+"; frame-ancestors "+ancestors)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// Render writes p with status and the security headers of hd. Rendering
// into a buffer first means a template error never leaves half a page.
func Render(w http.ResponseWriter, status int, p Page, hd Headers) error {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "page.html", p); err != nil {
		return err
	}
	SetHeaders(w.Header(), hd)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// Assets serves the embedded static files under AssetPrefix. Their URLs
// carry a content hash, so they may be cached for a long time.
func Assets() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	return http.StripPrefix(AssetPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean("/" + r.URL.Path)[1:]
		if _, ok := assetVersions[name]; !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		files.ServeHTTP(w, r)
	}))
}

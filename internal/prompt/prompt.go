// Package prompt serves the hosted authentication prompt shared by the Web
// SDK v2 frame (internal/frame) and the Universal Prompt
// (internal/universal), and the enrollment portal behind preauth's
// enroll_portal_url.
//
// A prompt shows one user the ways to authenticate (push with live status,
// passcode, security key), enrolls a user who has nothing yet (an
// authenticator app, a security key, or an `assent device` activation
// code), and, once the core has allowed the user, hands over to
// the entry's Finisher (Web SDK: post AUTH|… to the parent page; Universal:
// redirect with a one-time code). Every decision goes through the core
// (auth.Service), so policies, lockout and the auth log apply.
//
// The prompt keeps no server-side state: its state travels in the pages,
// sealed with the master key (AES-256-GCM, purpose-bound associated data,
// an expiry), so any node behind a load balancer can continue it and no
// cookie is needed (third-party iframes often get none).
package prompt

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
)

// Session kinds: they select the Finisher.
const (
	KindWebSDK    = "websdk"
	KindUniversal = "universal"
)

// DefaultSessionTTL is how long a prompt can be used after it starts (long
// enough to install an authenticator app and enroll).
const DefaultSessionTTL = 15 * time.Minute

// Session is one prompt shown to one user. The entry that starts it fills
// it in; it travels sealed inside the pages and comes back to the Finisher.
type Session struct {
	Kind     string    `json:"k"` // KindWebSDK or KindUniversal (selects the Finisher)
	IKey     string    `json:"i"` // the integration
	Username string    `json:"u"` // exactly as the application sent it
	Expires  time.Time `json:"e"` // zero: Start sets now + SessionTTL
	// Parent is the Web SDK parent page URL; the postMessage target origin
	// and, without configured allowed origins, frame-ancestors derive from it.
	Parent string `json:"p,omitempty"`
	// Data is entry-specific (universal: redirect_uri, state, nonce, …).
	// For KindUniversal, the origin of Data["redirect_uri"] is allowed as a
	// form target (CSP form-action), since the Finisher redirects there
	// after a form post.
	Data map[string]string `json:"d,omitempty"`
}

// Outcome is a successful authentication, as the Finisher receives it.
type Outcome struct {
	Username   string // Session.Username, as the application sent it
	UserID     string // DU…; empty for an unknown user let in by the new-user policy
	Factor     string // FactorPush, FactorPhoneCall, FactorPasscode, FactorWebAuthn, FactorBypassUser or FactorAllowUnenrolled
	DeviceID   string // the device that approved or whose passcode was used; may be empty
	DeviceName string
	TxID       string    // the core's transaction ID, when there is one
	Result     string    // always "allow"
	Status     string    // the core's status: allow, bypass, …
	StatusMsg  string    // the core's status message, e.g. "Success. Logging you in..."
	AuthTime   time.Time // when the core allowed the user
	IP         string    // the browser's address as the server saw it
}

// Outcome factors.
const (
	FactorPush            = "duo_push"
	FactorPasscode        = "passcode"
	FactorBypassUser      = "bypass_user"      // user status "bypass"
	FactorAllowUnenrolled = "allow_unenrolled" // new-user policy "allow"
	FactorWebAuthn        = "webauthn"         // a security key or passkey
	FactorPhoneCall       = "phone_call"       // a phone-callback call, key 1
)

// Finisher renders what happens after a successful authentication (Web
// SDK: a page posting AUTH|… to the parent; Universal: a redirect with a
// one-time code). It writes the whole response. An error means nothing was
// written; the prompt then shows a generic error page.
type Finisher interface {
	Finish(w http.ResponseWriter, r *http.Request, s Session, o Outcome) error
}

// Core is what the prompt needs from the auth core; *auth.Service has it.
type Core interface {
	Integration(ctx context.Context, ikey string) (store.Integration, string, error)
	Preauth(ctx context.Context, req auth.PreauthRequest) (auth.PreauthResult, error)
	Auth(ctx context.Context, req auth.AuthRequest) (auth.AuthResult, error)
	AuthStatus(ctx context.Context, in store.Integration, txid string) (auth.Status, error)
	Enroll(ctx context.Context, req auth.EnrollRequest) (auth.Enrollment, error)
	EnrollStatus(ctx context.Context, userID, activationCode string) (string, error)
	Devices(ctx context.Context, nameOrID string) ([]store.Device, error)
	RedeemEnrollLink(ctx context.Context, token string) (auth.Enrollment, error)
	EnrollLink(ctx context.Context, token string) (auth.EnrollLinkInfo, error)
	ClaimOnce(ctx context.Context, kind, key string, ttl time.Duration) error

	// Security keys and passkeys, and the method used last.
	WebAuthnEnabled() bool
	BeginWebAuthnLogin(ctx context.Context, req auth.Request, topOrigin string) (auth.WebAuthnCeremony, error)
	WebAuthnLogin(ctx context.Context, req auth.WebAuthnLoginRequest) (auth.WebAuthnResult, error)
	BeginWebAuthnRegistration(ctx context.Context, req auth.WebAuthnRegistrationRequest) (auth.WebAuthnCeremony, error)
	FinishWebAuthnRegistration(ctx context.Context, req auth.WebAuthnRegistration) (store.WebAuthnCredential, error)
	LastMethod(ctx context.Context, userID string) string
	RememberCore

	// Authenticator apps a user adds (unconfirmed until a first code).
	BeginTOTPApp(ctx context.Context, req auth.TOTPAppRequest) (auth.TOTPEnrollment, error)
	PendingTOTPApp(ctx context.Context, user, tokenID string) (auth.TOTPEnrollment, error)
	ConfirmTOTPAppFrom(ctx context.Context, ip, user, tokenID, code string) error
	RememberMethod(ctx context.Context, userID, method string)
}

var _ Core = (*auth.Service)(nil)

// Prompt serves the prompt pages and their actions.
type Prompt struct {
	Core Core
	Box  *secrets.Box
	// Host is the public host[:port]; actions must come from https://Host.
	Host string
	// Finishers by Session.Kind.
	Finishers map[string]Finisher
	// SessionTTL: 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	Now        func() time.Time // nil: time.Now
	Logger     *slog.Logger     // nil: discard
	// ActivationLimit bounds wrong, expired or used enrollment-portal links
	// per client address (rate_limit_activation_failures_per_ip, shared
	// with the device API's activation codes); nil limits nothing.
	ActivationLimit *ratelimit.Named
}

// Start renders the first page of a prompt for s: the user's devices, inline
// enrollment, the reason a user is refused, or, for a user the core lets in
// without a second factor, straight the Finisher. If Start returns an
// error, nothing was written and the caller shows its own error page (e.g.
// with RenderError).
func (p *Prompt) Start(w http.ResponseWriter, r *http.Request, s Session) error {
	return p.start(w, r, s)
}

// Register adds the prompt's action routes (/prompt/…), its assets
// (/prompt/assets/…) and the enrollment portal (/portal/enroll/…) to mux.
func (p *Prompt) Register(mux *http.ServeMux) { p.register(mux) }

// RenderError writes a full error page with the prompt's look and security
// headers. frameAncestors lists the origins that may frame it (nil: none).
func RenderError(w http.ResponseWriter, r *http.Request, status int, title, message string, frameAncestors []string) {
	renderError(w, r, status, title, message, frameAncestors)
}

package prompt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authenticatorapp"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
)

// Texts shown on the pages.
const (
	titleLogin    = "Verify it's you"
	titleEnroll   = "Set up a way to log in"
	titleRefused  = "Access denied"
	titleError    = "Cannot continue"
	titleEnrolled = "All set"

	msgExpired     = "This login prompt has expired. Go back to the application and log in again."
	msgBadState    = "This login prompt is not valid. Go back to the application and log in again."
	msgCrossSite   = "This request did not come from the login prompt."
	msgInternal    = "Something went wrong on the server. Try again in a moment."
	msgNoPasscode  = "Enter a passcode."
	msgBadFormat   = "That is not a valid passcode."
	msgEnrolledNow = "Device added. Now log in with it."
	msgNotYet      = "The device has not been activated yet."
	msgCodeExpired = "The activation code has expired. Start again."
	msgPushFailed  = "Could not send a push to that device."
	msgFinishedTx  = "This login was already completed."
)

// enrollWait is how long enroll_status holds a request while the code is
// unused; the device activates on its own time, so the page asks again.
const enrollWait = 20 * time.Second

func (p *Prompt) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Prompt) log(r *http.Request) *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return httpapi.Logger(r.Context())
}

func (p *Prompt) ttl() time.Duration {
	if p.SessionTTL > 0 {
		return p.SessionTTL
	}
	return DefaultSessionTTL
}

// typeFor is the integration type each kind of session needs.
func typeFor(kind string) store.IntegrationType {
	switch kind {
	case KindWebSDK:
		return store.TypeWebSDK
	case KindUniversal:
		return store.TypeUniversal
	}
	return ""
}

func (p *Prompt) start(w http.ResponseWriter, r *http.Request, s Session) error {
	if _, ok := p.Finishers[s.Kind]; !ok || typeFor(s.Kind) == "" {
		return fmt.Errorf("prompt: no finisher for session kind %q", s.Kind)
	}
	if s.IKey == "" || s.Username == "" {
		return errors.New("prompt: session without integration or username")
	}
	in, _, err := p.Core.Integration(r.Context(), s.IKey)
	if err != nil {
		return fmt.Errorf("prompt: integration: %w", err)
	}
	if in.Type != typeFor(s.Kind) {
		return fmt.Errorf("prompt: integration %s is of type %s, not %s", in.IKey, in.Type, typeFor(s.Kind))
	}
	if s.Kind == KindWebSDK {
		if _, err := ParentOrigin(in, s.Parent); err != nil {
			return err
		}
	}
	if s.Expires.IsZero() {
		s.Expires = p.now().Add(p.ttl())
	}
	httpapi.SetIKey(r.Context(), in.IKey)
	return p.begin(w, r, state{Session: s}, in, "", "")
}

// ParentOrigin returns the origin of a Web SDK parent page URL, which must
// be one of the integration's allowed origins when it has any.
func ParentOrigin(in store.Integration, parent string) (string, error) {
	origin, err := auth.NormalizeOrigin(originOf(parent))
	if err != nil {
		return "", fmt.Errorf("prompt: parent page %q has no web origin", parent)
	}
	if len(in.AllowedOrigins) > 0 && !slices.Contains(in.AllowedOrigins, origin) {
		return "", fmt.Errorf("prompt: parent origin %s is not among the integration's allowed origins", origin)
	}
	return origin, nil
}

// FrameAncestors are the origins that may frame a Web SDK prompt: the
// integration's allowed origins when it has any, else the parent page's
// origin (nil if it has none).
func FrameAncestors(in store.Integration, parent string) []string {
	if len(in.AllowedOrigins) > 0 {
		return in.AllowedOrigins
	}
	if o, err := ParentOrigin(in, parent); err == nil {
		return []string{o}
	}
	return nil
}

// originOf cuts a URL down to scheme://host[:port].
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// headers are the security headers of a state's pages.
func (p *Prompt) headers(st state, in store.Integration) web.Headers {
	switch st.Kind {
	case KindWebSDK:
		return web.Headers{FrameAncestors: FrameAncestors(in, st.Parent)}
	case KindUniversal:
		if o, err := auth.NormalizeOrigin(originOf(st.Data["redirect_uri"])); err == nil {
			return web.Headers{FormTargets: []string{o}}
		}
	}
	return web.Headers{}
}

// render seals st into the page and writes it.
func (p *Prompt) render(w http.ResponseWriter, st state, in store.Integration, pg web.Page) error {
	return p.renderStatus(w, http.StatusOK, st, in, pg)
}

// renderStatus is render with another status than 200.
func (p *Prompt) renderStatus(w http.ResponseWriter, status int, st state, in store.Integration, pg web.Page) error {
	sealed, err := p.seal(st)
	if err != nil {
		return err
	}
	pg.Session = sealed
	if pg.Username == "" {
		pg.Username = st.Username
	}
	if pg.MessageKind == "" {
		pg.MessageKind = "info"
	}
	pg.Portal = st.Kind == kindPortal
	pg.ManageDevices = !pg.Portal && pg.State == web.StateChoose && auth.SelfServiceAllowed(in)
	hd := p.headers(st, in)
	// Only an authenticator app's page has an inline (data:) QR code.
	hd.DataImages = pg.TOTP != nil
	return web.Render(w, status, pg, hd)
}

func renderError(w http.ResponseWriter, r *http.Request, status int, title, message string, frameAncestors []string) {
	_ = web.Render(w, status, web.Page{Title: title, State: web.StateError, Message: message, MessageKind: "error"},
		web.Headers{FrameAncestors: frameAncestors})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	// The core refuses an ipaddr that is not an address; a listener that
	// has none to give (a Unix socket) leaves it out instead.
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	return a.WithZone("").String()
}

func request(st state, in store.Integration, r *http.Request) auth.Request {
	return auth.Request{Integration: in, Username: st.Username, IP: clientIP(r)}
}

// begin asks the core what the user may do and shows it: the devices, the
// enrollment, the refusal, or (allowed without a second factor) the
// Finisher. msg is shown on the page (kind "error", "info", "success").
func (p *Prompt) begin(w http.ResponseWriter, r *http.Request, st state, in store.Integration, msg, kind string) error {
	st.TxID, st.Device, st.EnrollUser, st.EnrollCode = "", "", "", ""
	st.WebAuthnSession, st.WebAuthnChallenge, st.WebAuthnName = nil, "", ""
	st.TOTPToken = ""
	res, err := p.Core.Preauth(r.Context(), auth.PreauthRequest{Request: request(st, in, r), NoEnrollPortal: true, Browser: true,
		TrustedDeviceToken: rememberedToken(r, in)})
	var ae *auth.Error
	if errors.As(err, &ae) {
		// A username the core cannot take (e.g. too long): nothing to offer.
		return p.render(w, st, in, web.Page{Title: titleRefused, State: web.StateRefused, Message: ae.Error(), MessageKind: "error"})
	}
	if err != nil {
		return err
	}
	st.UserID = res.UserID
	switch res.Result {
	case auth.ResultAllow:
		o := Outcome{UserID: res.UserID, Status: auth.ResultAllow, StatusMsg: res.StatusMsg, Factor: FactorAllowUnenrolled}
		if ro, ok := rememberedOutcome(res); ok {
			o = ro
		}
		if res.Reason() == auth.ReasonBypassUser {
			o.Status, o.Factor = "bypass", FactorBypassUser
		}
		return p.finish(w, r, st, in, o)
	case auth.ResultEnroll:
		return p.render(w, st, in, web.Page{Title: titleEnroll, State: web.StateEnrollIntro, Message: msg, MessageKind: kind,
			WebAuthn: p.Core.WebAuthnEnabled()})
	case auth.ResultAuth:
		pg := web.Page{Title: titleLogin, State: web.StateChoose, Message: msg, MessageKind: kind, Passcode: true}
		keys := false
		for _, d := range res.Devices {
			if slices.Contains(d.Capabilities, auth.FactorPush) {
				pg.Devices = append(pg.Devices, web.Device{ID: d.ID, Name: d.DisplayName})
			}
			if slices.Contains(d.Capabilities, auth.FactorPhone) {
				pg.CallDevices = append(pg.CallDevices, web.Device{ID: d.ID, Name: d.Number})
			}
			if slices.Contains(d.Capabilities, auth.FactorSMS) {
				pg.SMSDevices = append(pg.SMSDevices, web.Device{ID: d.ID, Name: d.Number})
			}
			keys = keys || d.Type == auth.DeviceWebAuthn
			pg.TokenCodes = pg.TokenCodes || d.Type == auth.DeviceToken
		}
		pg.Push = len(pg.Devices) > 0
		if keys {
			p.offerWebAuthn(r, &st, in, &pg)
		}
		pg.LastMethod = p.Core.LastMethod(r.Context(), res.UserID)
		return p.render(w, st, in, pg)
	}
	return p.render(w, st, in, web.Page{Title: titleRefused, State: web.StateRefused, Message: res.StatusMsg, MessageKind: "error"})
}

// finish hands a successful authentication to the session's Finisher.
func (p *Prompt) finish(w http.ResponseWriter, r *http.Request, st state, in store.Integration, o Outcome) error {
	f, ok := p.Finishers[st.Kind]
	if !ok {
		return fmt.Errorf("prompt: no finisher for session kind %q", st.Kind)
	}
	o.Username, o.Result, o.IP = st.Username, auth.ResultAllow, clientIP(r)
	if o.AuthTime.IsZero() {
		o.AuthTime = p.now()
	}
	p.log(r).Info("prompt authenticated", "ikey", in.IKey, "user_id", o.UserID, "factor", o.Factor, "kind", st.Kind)
	p.remember(w, r, st, in, o)
	return f.Finish(w, r, st.Session, o)
}

// sameOrigin is the CSRF check of every action: a browser names where a
// POST comes from (Origin, Sec-Fetch-Site); both must say "this server"
// when present. The sealed state is the second line: a cross-site page
// cannot read it.
func (p *Prompt) sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	// Under the pages' Referrer-Policy no-referrer, browsers send
	// "Origin: null" with form POSTs (Fetch: serializing a request origin);
	// Sec-Fetch-Site, which pages cannot forge, vouches for those.
	if o == "null" && site == "same-origin" {
		return true
	}
	return o == "" || o == "https://"+r.Host || (p.Host != "" && o == "https://"+p.Host)
}

// handler is one prompt action. st is valid and unexpired; in is the
// session's integration (zero for the portal).
type handler func(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error

// action wraps a handler with the CSRF check, the state and the
// integration, and turns errors into error pages. portalOK admits
// enrollment-portal states.
func (p *Prompt) action(h handler, portalOK bool, asJSON bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, msg string, hd web.Headers) {
			if asJSON {
				writeJSON(w, status, map[string]any{"state": "error", "message": msg, "kind": "error"})
				return
			}
			renderError(w, r, status, titleError, msg, hd.FrameAncestors)
		}
		if !p.sameOrigin(r) {
			fail(http.StatusForbidden, msgCrossSite, web.Headers{})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := parseForm(r); err != nil {
			fail(http.StatusBadRequest, msgBadState, web.Headers{})
			return
		}
		st, openErr := p.open(r.PostForm.Get("session"))
		if errors.Is(openErr, errBadState) || (openErr == nil && st.Kind == kindPortal && !portalOK) {
			fail(http.StatusBadRequest, msgBadState, web.Headers{})
			return
		}
		var in store.Integration
		if st.Kind != kindPortal {
			var err error
			in, err = p.integration(r.Context(), st)
			if err != nil {
				p.log(r).Warn("prompt: integration unavailable", "ikey", st.IKey, "err", err)
				fail(http.StatusBadRequest, msgBadState, web.Headers{})
				return
			}
			httpapi.SetIKey(r.Context(), in.IKey)
		}
		if errors.Is(openErr, errExpiredState) {
			fail(http.StatusBadRequest, msgExpired, p.headers(st, in))
			return
		}
		if err := h(w, r, st, in); err != nil {
			if r.Context().Err() != nil {
				return // the browser left
			}
			var ae *auth.Error
			if errors.As(err, &ae) && ae.Kind == auth.KindRateLimited {
				// The core refused a push, passcode or enrollment.
				if asJSON {
					setRetryAfter(w, ae.RetryAfter)
					writeJSON(w, http.StatusTooManyRequests, map[string]any{"state": "error", "message": tooManyMessage(ae.RetryAfter), "kind": "error"})
					return
				}
				renderTooMany(w, r, ae.RetryAfter, p.headers(st, in))
				return
			}
			p.log(r).Error("prompt action failed", "path", httpapi.LogPath(r), "err", err)
			fail(http.StatusInternalServerError, msgInternal, p.headers(st, in))
		}
	})
}

// integration returns the session's integration, which must still exist
// and be of the session's type.
func (p *Prompt) integration(ctx context.Context, st state) (store.Integration, error) {
	in, _, err := p.Core.Integration(ctx, st.IKey)
	if err != nil {
		return store.Integration{}, err
	}
	if in.Type != typeFor(st.Kind) {
		return store.Integration{}, fmt.Errorf("integration %s is of type %s", in.IKey, in.Type)
	}
	return in, nil
}

// parseForm reads url-encoded and multipart bodies (FormData posts the
// latter).
func parseForm(r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return r.ParseMultipartForm(64 << 10)
	}
	return r.ParseForm()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Prompt) register(mux *http.ServeMux) {
	if p.ActivationLimit == nil {
		p.ActivationLimit = ratelimit.NewNamed("activation", ratelimit.Limit{}, ratelimit.Options{})
	}
	mux.Handle("POST /prompt/choose", p.action(p.choose, false, false))
	mux.Handle("POST /prompt/push", p.action(p.push, false, false))
	mux.Handle("POST /prompt/status", p.action(p.status, false, true))
	mux.Handle("POST /prompt/check", p.action(p.check, false, false))
	mux.Handle("POST /prompt/passcode", p.action(p.passcode, false, false))
	mux.Handle("POST /prompt/sms", p.action(p.sms, false, false))
	mux.Handle("POST /prompt/call", p.action(p.call, false, false))
	mux.Handle("POST /prompt/enroll", p.action(p.enroll, false, false))
	mux.Handle("POST /prompt/enroll_status", p.action(p.enrollStatus, true, true))
	mux.Handle("POST /prompt/enrolled", p.action(p.enrolled, true, false))
	mux.Handle("POST /prompt/webauthn", p.action(p.webauthnLogin, false, false))
	mux.Handle("POST /prompt/webauthn/register", p.action(p.webauthnRegister, false, false))
	mux.Handle("POST /prompt/webauthn/registered", p.action(p.webauthnRegistered, true, false))
	mux.Handle("POST /prompt/totp/add", p.action(p.totpAdd, false, false))
	mux.Handle("POST /prompt/totp/confirm", p.action(p.totpConfirm, true, false))
	mux.Handle("GET "+web.AssetPrefix, web.Assets())
	// The token is a bearer secret: a {…} wildcard keeps it out of the
	// access log (httpapi.LogPath), "..." even from near misses, and every
	// method reaches it (with a method in the pattern, other methods would
	// fall through to the catch-all route, which logs the path as sent).
	mux.HandleFunc("/portal/enroll/{token...}", p.portal)
}

// choose shows the ways to log in again (e.g. "Other options" while a push
// is pending).
func (p *Prompt) choose(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	return p.begin(w, r, st, in, "", "")
}

// push sends an asynchronous push and shows the waiting page.
func (p *Prompt) push(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	device := r.PostForm.Get("device")
	if device == "" {
		device = "auto"
	}
	res, err := p.Core.Auth(r.Context(), auth.AuthRequest{Request: request(st, in, r), Factor: auth.FactorPush,
		Device: device, Async: true, Type: "Login"})
	if auth.IsKind(err, auth.KindInvalid) || auth.IsKind(err, auth.KindNotFound) {
		return p.begin(w, r, st, in, msgPushFailed, "error")
	}
	if err != nil {
		return err
	}
	st.TxID, st.Device, st.Call = res.TxID, device, false
	msg := "Pushed a login request to your device…"
	if res.VerifyCode != "" {
		msg = "Pushed a login request to your device… Enter the code below in your authenticator app."
	}
	return p.render(w, st, in, web.Page{Title: titleLogin, State: web.StatePushed,
		Message: msg, MessageKind: "info", VerifyCode: res.VerifyCode})
}

// status is the long poll behind the waiting page: it answers when the
// push is answered or after the core's wait (about 30 s).
func (p *Prompt) status(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	if st.TxID == "" {
		writeJSON(w, http.StatusOK, map[string]any{"state": "deny", "message": ""})
		return nil
	}
	s, err := p.Core.AuthStatus(r.Context(), in, st.TxID)
	if auth.IsKind(err, auth.KindInvalid) {
		writeJSON(w, http.StatusOK, map[string]any{"state": "deny", "message": ""})
		return nil
	}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Kind == auth.KindRateLimited {
		// Too many requests wait already: the page polls again later.
		secs := max(int((ae.RetryAfter+time.Second-1)/time.Second), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"state": "waiting", "message": ""})
		return nil
	}
	if errors.Is(err, auth.ErrCallFailed) {
		writeJSON(w, http.StatusOK, map[string]any{"state": "deny", "message": msgCallFailed, "kind": "error"})
		return nil
	}
	if err != nil {
		return err
	}
	kind := "info"
	switch s.Result {
	case auth.ResultAllow:
		kind = "success"
	case auth.ResultDeny:
		kind = "error"
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": s.Result, "status": s.Status, "message": s.StatusMsg, "kind": kind,
		"code": s.VerifyCode})
	return nil
}

// check decides a pushed login: the Finisher on approval, the choices again
// (with the reason) on denial or timeout.
func (p *Prompt) check(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	if st.TxID == "" {
		return p.begin(w, r, st, in, "", "")
	}
	s, err := p.Core.AuthStatus(r.Context(), in, st.TxID)
	if auth.IsKind(err, auth.KindInvalid) {
		return p.begin(w, r, st, in, msgPushFailed, "error")
	}
	if auth.IsKind(err, auth.KindRateLimited) {
		// Still waiting, and too many others wait: back to polling.
		return p.render(w, st, in, web.Page{Title: titleLogin, State: web.StatePushed,
			Message: "Pushed a login request to your device…", MessageKind: "info"})
	}
	if errors.Is(err, auth.ErrCallFailed) {
		return p.begin(w, r, st, in, msgCallFailed, "error")
	}
	if err != nil {
		return err
	}
	switch s.Result {
	case auth.ResultAllow:
	case auth.ResultDeny:
		return p.begin(w, r, st, in, s.StatusMsg, "error")
	default:
		return p.render(w, st, in, web.Page{Title: titleLogin, State: web.StatePushed, Message: s.StatusMsg,
			VerifyCode: s.VerifyCode})
	}
	// One approval finishes one login: a replayed page gets nothing.
	if err := p.Core.ClaimOnce(r.Context(), "prompt_finish", st.TxID, st.Expires.Sub(p.now())+time.Minute); err != nil {
		if errors.Is(err, auth.ErrAlreadyClaimed) {
			return p.render(w, st, in, web.Page{Title: titleError, State: web.StateError, Message: msgFinishedTx, MessageKind: "error"})
		}
		return err
	}
	o := Outcome{UserID: st.UserID, Factor: FactorPush, DeviceID: st.Device, TxID: st.TxID, Status: s.Status, StatusMsg: s.StatusMsg}
	method := "push"
	if st.Call {
		o.Factor, method = FactorPhoneCall, "phone"
	}
	p.Core.RememberMethod(r.Context(), st.UserID, method)
	if devices, err := p.Core.Devices(r.Context(), auth.LookupUsername(in, st.Username)); err == nil {
		for i, d := range devices {
			// "auto" pushes to the first device, as the core does.
			if d.ID == st.Device || (st.Device == "auto" && i == 0) {
				o.DeviceID, o.DeviceName = d.ID, d.Name
				break
			}
		}
	}
	return p.finish(w, r, st, in, o)
}

// passcode checks a passcode (HOTP or bypass code) through the core.
func (p *Prompt) passcode(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	code := strings.TrimSpace(r.PostForm.Get("passcode"))
	if code == "" {
		return p.begin(w, r, st, in, msgNoPasscode, "error")
	}
	res, err := p.Core.Auth(r.Context(), auth.AuthRequest{Request: request(st, in, r), Factor: auth.FactorPasscode, Passcode: code})
	if auth.IsKind(err, auth.KindInvalid) {
		return p.begin(w, r, st, in, msgBadFormat, "error")
	}
	if err != nil {
		return err
	}
	if res.Result != auth.ResultAllow {
		// begin shows a refusal instead if this attempt locked the user out.
		return p.begin(w, r, st, in, res.StatusMsg, "error")
	}
	o := Outcome{UserID: st.UserID, Factor: FactorPasscode, TxID: res.TxID, Status: res.Status, StatusMsg: res.StatusMsg}
	if res.Status == "bypass" {
		o.Factor = FactorBypassUser
	} else {
		p.Core.RememberMethod(r.Context(), st.UserID, "passcode")
	}
	return p.finish(w, r, st, in, o)
}

// enroll creates an activation code for a user the core says must enroll,
// and shows it.
func (p *Prompt) enroll(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	// Browser: a user with only a security key is enrolled here, and must
	// not be able to add a device without logging in.
	res, err := p.Core.Preauth(r.Context(), auth.PreauthRequest{Request: request(st, in, r), NoEnrollPortal: true, Browser: true})
	if err != nil || res.Result != auth.ResultEnroll {
		return p.begin(w, r, st, in, "", "") // no longer the case: show what is
	}
	// The code dies with the prompt at the latest.
	valid := min(auth.PromptEnrollValid, st.Expires.Sub(p.now()))
	e, err := p.Core.Enroll(r.Context(), auth.EnrollRequest{Username: auth.LookupUsername(in, st.Username), Valid: max(valid, time.Second), IKey: in.IKey})
	if err != nil {
		return err
	}
	st.EnrollUser, st.EnrollCode = e.UserID, e.ActivationCode
	return p.showCode(w, st, in, "")
}

func (p *Prompt) showCode(w http.ResponseWriter, st state, in store.Integration, msg string) error {
	if msg == "" {
		msg = "Waiting for the device to be activated…"
	}
	// The QR code opens the Assent Authenticator, which activates with the
	// duo:// code in the link's fragment; the code itself stays shown for
	// Duo-compatible clients and the command line.
	link := authenticatorapp.Link(p.Host, st.EnrollCode)
	return p.render(w, st, in, web.Page{Title: titleEnroll, State: web.StateEnrollQR, Message: msg,
		ActivationCode: st.EnrollCode, AppLink: link, QRURL: "/frame/qr?value=" + url.QueryEscape(link)})
}

// enrollStatus is the poll behind the QR page: it holds the request for up
// to enrollWait while the code is unused.
func (p *Prompt) enrollStatus(w http.ResponseWriter, r *http.Request, st state, _ store.Integration) error {
	if st.EnrollCode == "" {
		writeJSON(w, http.StatusOK, map[string]any{"state": auth.EnrollInvalid})
		return nil
	}
	deadline := time.Now().Add(enrollWait)
	for {
		s, err := p.Core.EnrollStatus(r.Context(), st.EnrollUser, st.EnrollCode)
		if err != nil {
			return err
		}
		if s != auth.EnrollWaiting || time.Now().After(deadline) {
			msg := ""
			if s == auth.EnrollSuccess {
				msg = "Device activated."
			}
			writeJSON(w, http.StatusOK, map[string]any{"state": s, "message": msg, "kind": "success"})
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// enrolled continues after the activation: to the login (prompt) or to the
// confirmation (portal).
func (p *Prompt) enrolled(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	s := auth.EnrollInvalid
	if st.EnrollCode != "" {
		var err error
		if s, err = p.Core.EnrollStatus(r.Context(), st.EnrollUser, st.EnrollCode); err != nil {
			return err
		}
	}
	switch {
	case s == auth.EnrollWaiting:
		return p.showCode(w, st, in, msgNotYet)
	case s == auth.EnrollSuccess && st.Kind == kindPortal:
		st.EnrollCode = ""
		return p.render(w, st, in, web.Page{Title: titleEnrolled, State: web.StateEnrolled, MessageKind: "success",
			Message: "Your device is ready. You can close this page and log in to your application."})
	case s == auth.EnrollSuccess:
		return p.begin(w, r, st, in, msgEnrolledNow, "success")
	case st.Kind == kindPortal:
		return p.render(w, st, in, web.Page{Title: titleError, State: web.StateError, Message: msgCodeExpired + " Ask for a new enrollment link.", MessageKind: "error"})
	}
	return p.begin(w, r, st, in, msgCodeExpired, "error")
}

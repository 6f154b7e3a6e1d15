package prompt

import (
	"errors"
	"net/http"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
)

// Security keys and passkeys (WebAuthn) in the prompt and the portal.
//
// Where the ceremony's state lives: go-webauthn's SessionData (challenge,
// allowed credentials, user handle, expiry) goes into the prompt's sealed
// state, like everything else the prompt remembers (state.go). It is
// AES-GCM sealed with the master key and purpose-bound, so the browser
// can neither read nor alter it, any node behind a load balancer can
// finish the ceremony, and no server-side record has to be written for a
// page that may never be used (the choose page offers a key to every user
// who has one). What sealing alone does not give is single use: the same
// page could be posted twice. The core therefore claims each login
// challenge once (a one-time record, written only when an answer comes
// back) before it verifies the assertion, so a replayed assertion is
// refused even for passkeys without a signature counter. A registration
// replayed would only try to store the same credential ID again, which the
// store refuses (unique).
//
// The page carries the options for navigator.credentials in a data
// attribute; webauthn.js (a static asset: the CSP allows no inline
// script) calls the browser and posts the answer as JSON.

// Texts of the WebAuthn pages.
const (
	titleAddKey     = "Add a security key or passkey"
	msgKeyAdded     = "Security key added. Now log in with it."
	msgKeyFailed    = "The security key could not be used. Try again."
	msgNoKeyAnswer  = "The browser sent no answer from the security key. Try again."
	msgKeysOff      = "Security keys are not available on this server."
	msgPortalKeyAdd = "Your security key or passkey is ready. You can close this page and log in to your application."
)

// topOrigin is the origin of the page framing the prompt: the Web SDK's
// parent page (the browser reports it in the ceremony's client data), or
// "" when the prompt is the top-level page.
func (p *Prompt) topOrigin(st state, in store.Integration) string {
	if st.Kind == KindWebSDK {
		if o, err := ParentOrigin(in, st.Parent); err == nil {
			return o
		}
	}
	return ""
}

// offerWebAuthn starts a login ceremony for the choose page: the options
// go on the page, the session into its sealed state. A failure only hides
// the button (the user still has the other methods).
func (p *Prompt) offerWebAuthn(r *http.Request, st *state, in store.Integration, pg *web.Page) {
	if !p.Core.WebAuthnEnabled() {
		return
	}
	c, err := p.Core.BeginWebAuthnLogin(r.Context(), request(*st, in, r), p.topOrigin(*st, in))
	if err != nil {
		p.log(r).Warn("prompt: cannot offer security keys", "err", err)
		return
	}
	st.WebAuthnSession, st.WebAuthnChallenge = c.Session, c.Challenge
	pg.WebAuthn, pg.WebAuthnOptions = true, string(c.Options)
}

// webauthnLogin checks the browser's answer to the choose page's login
// ceremony through the core: the Finisher on success, the choices again
// (with the reason) otherwise.
func (p *Prompt) webauthnLogin(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	resp := r.PostForm.Get("response")
	if resp == "" || st.WebAuthnChallenge == "" {
		return p.begin(w, r, st, in, msgNoKeyAnswer, "error")
	}
	res, err := p.Core.WebAuthnLogin(r.Context(), auth.WebAuthnLoginRequest{Request: request(st, in, r),
		Session: st.WebAuthnSession, Challenge: st.WebAuthnChallenge, Response: []byte(resp), TopOrigin: p.topOrigin(st, in)})
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Kind == auth.KindInvalid {
		return p.begin(w, r, st, in, ae.Detail+".", "error")
	}
	if err != nil {
		return err
	}
	if res.Result != auth.ResultAllow {
		return p.begin(w, r, st, in, res.StatusMsg, "error")
	}
	return p.finish(w, r, st, in, Outcome{UserID: st.UserID, Factor: FactorWebAuthn, DeviceID: res.Credential.ID,
		DeviceName: res.Credential.Name, TxID: res.TxID, Status: res.Status, StatusMsg: res.StatusMsg})
}

// webauthnRegister begins adding a key for a user the core says must
// enroll (inline enrollment), and shows the page that asks for it.
func (p *Prompt) webauthnRegister(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	res, err := p.Core.Preauth(r.Context(), auth.PreauthRequest{Request: request(st, in, r), NoEnrollPortal: true, Browser: true})
	if err != nil || res.Result != auth.ResultEnroll {
		return p.begin(w, r, st, in, "", "") // no longer the case: show what is
	}
	return p.startRegistration(w, r, st, in, auth.LookupUsername(in, st.Username), in.IKey)
}

// startRegistration shows the "touch your key" page for username.
func (p *Prompt) startRegistration(w http.ResponseWriter, r *http.Request, st state, in store.Integration, username, ikey string) error {
	if !p.Core.WebAuthnEnabled() {
		return p.registrationFailed(w, r, st, in, msgKeysOff)
	}
	name, err := auth.CheckWebAuthnName(r.PostForm.Get("name"))
	if err != nil {
		return p.registrationFailed(w, r, st, in, "The key's name "+err.Error()+".")
	}
	c, err := p.Core.BeginWebAuthnRegistration(r.Context(), auth.WebAuthnRegistrationRequest{Username: username, IKey: ikey,
		TopOrigin: p.topOrigin(st, in)})
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Kind == auth.KindInvalid {
		return p.registrationFailed(w, r, st, in, ae.Detail+".")
	}
	if err != nil {
		return err
	}
	st.EnrollUser, st.WebAuthnSession, st.WebAuthnName = c.UserID, c.Session, name
	return p.render(w, st, in, web.Page{Title: titleAddKey, State: web.StateWebAuthnCreate, WebAuthnOptions: string(c.Options),
		WebAuthnName: name, Message: "Ready to add your key.", MessageKind: "info"})
}

// registrationFailed shows why a key could not be added: the portal's
// error page, or the prompt's choices.
func (p *Prompt) registrationFailed(w http.ResponseWriter, r *http.Request, st state, in store.Integration, msg string) error {
	if st.Kind == kindPortal {
		return p.render(w, st, in, web.Page{Title: titleError, State: web.StateError, Message: msg + " Ask for a new enrollment link.", MessageKind: "error"})
	}
	return p.begin(w, r, st, in, msg, "error")
}

// webauthnRegistered stores the key the browser created: then the login
// (prompt) or the confirmation (portal).
func (p *Prompt) webauthnRegistered(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	resp := r.PostForm.Get("response")
	if resp == "" || len(st.WebAuthnSession) == 0 || st.EnrollUser == "" {
		return p.registrationFailed(w, r, st, in, msgNoKeyAnswer)
	}
	_, err := p.Core.FinishWebAuthnRegistration(r.Context(), auth.WebAuthnRegistration{UserID: st.EnrollUser,
		Name: st.WebAuthnName, Session: st.WebAuthnSession, Response: []byte(resp), TopOrigin: p.topOrigin(st, in)})
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Kind != auth.KindRateLimited {
		return p.registrationFailed(w, r, st, in, ae.Detail+".")
	}
	if err != nil {
		return err
	}
	if st.Kind == kindPortal {
		st.WebAuthnSession, st.EnrollUser = nil, ""
		return p.render(w, st, in, web.Page{Title: titleEnrolled, State: web.StateEnrolled, MessageKind: "success", Message: msgPortalKeyAdd})
	}
	return p.begin(w, r, st, in, msgKeyAdded, "success")
}

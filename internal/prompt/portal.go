package prompt

import (
	"errors"
	"net/http"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
)

// The enrollment portal: preauth's enroll_portal_url. GET shows whom the
// link is for and uses nothing, so link scanners and previews cannot spend
// it; the button (POST) uses the link and shows the QR code. Both count a
// wrong, expired or used link against the client's address
// (ActivationLimit) and refuse an address out of tokens before any lookup.

const msgBadLink = "This enrollment link is invalid, has expired or was already used. Log in to your application again to get a new one, or ask your administrator."

// portal serves /portal/enroll/{token...}: GET (and HEAD) show the page,
// POST starts the enrollment.
func (p *Prompt) portal(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.portalPage(w, r)
	case http.MethodPost:
		p.portalStart(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		renderError(w, r, http.StatusMethodNotAllowed, titleError, "Method not allowed.", nil)
	}
}

func (p *Prompt) portalPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	addr, ok := p.beginPortal(w, r)
	if !ok {
		return
	}
	wrongLink := false
	defer func() { p.ActivationLimit.End(addr, wrongLink) }()
	info, err := p.Core.EnrollLink(r.Context(), token)
	wrongLink = errors.Is(err, auth.ErrEnrollLinkInvalid)
	if err != nil {
		p.portalError(w, r, err)
		return
	}
	_ = web.Render(w, http.StatusOK, web.Page{Title: titleEnroll, State: web.StatePortal, Username: info.Username,
		Portal: true, PortalToken: token, MessageKind: "info", WebAuthn: p.Core.WebAuthnEnabled()}, web.Headers{})
}

func (p *Prompt) portalStart(w http.ResponseWriter, r *http.Request) {
	if !p.sameOrigin(r) {
		renderError(w, r, http.StatusForbidden, titleError, msgCrossSite, nil)
		return
	}
	addr, ok := p.beginPortal(w, r)
	if !ok {
		return
	}
	wrongLink := false
	defer func() { p.ActivationLimit.End(addr, wrongLink) }()
	e, err := p.Core.RedeemEnrollLink(r.Context(), r.PathValue("token"))
	wrongLink = errors.Is(err, auth.ErrEnrollLinkInvalid)
	if err != nil {
		p.portalError(w, r, err)
		return
	}
	st := state{Session: Session{Kind: kindPortal, Username: e.Username, Expires: p.now().Add(auth.PromptEnrollValid)},
		EnrollUser: e.UserID, EnrollCode: e.ActivationCode}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := parseForm(r); err != nil {
		renderError(w, r, http.StatusBadRequest, titleError, msgBadState, nil)
		return
	}
	if r.PostForm.Get("kind") == "totp" {
		// An authenticator app: the link is used all the same.
		st.EnrollCode = ""
		if err := p.startTOTP(w, r, st, store.Integration{}, e.Username, ""); err != nil {
			p.log(r).Error("enrollment portal", "err", err)
			renderError(w, r, http.StatusInternalServerError, titleError, msgInternal, nil)
		}
		return
	}
	if r.PostForm.Get("kind") == "webauthn" {
		// A security key instead of a device: the link is used all the
		// same (one enrollment per link).
		st.EnrollCode = ""
		if err := p.startRegistration(w, r, st, store.Integration{}, e.Username, ""); err != nil {
			p.log(r).Error("enrollment portal", "err", err)
			renderError(w, r, http.StatusInternalServerError, titleError, msgInternal, nil)
		}
		return
	}
	if err := p.showCode(w, st, store.Integration{}, ""); err != nil {
		p.log(r).Error("enrollment portal", "err", err)
		renderError(w, r, http.StatusInternalServerError, titleError, msgInternal, nil)
	}
}

func (p *Prompt) portalError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *auth.Error
	switch {
	case errors.Is(err, auth.ErrEnrollLinkInvalid):
		renderError(w, r, http.StatusNotFound, titleError, msgBadLink, nil)
	case errors.As(err, &ae):
		renderError(w, r, http.StatusConflict, titleError, ae.Detail, nil)
	default:
		p.log(r).Error("enrollment portal", "err", err)
		renderError(w, r, http.StatusInternalServerError, titleError, msgInternal, nil)
	}
}

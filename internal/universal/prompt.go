package universal

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/store"
)

// Keys of prompt.Session.Data for a universal session.
const (
	dataRedirectURI = "redirect_uri"
	dataState       = "state"
	dataNonce       = "nonce"
	dataCodeParams  = "code_params" // space-separated: "duo_code", "code" or both
)

// authorize answers GET /oauth/v1/authorize: it verifies the application's
// request and shows the prompt. A request that does not verify gets an
// error page, never a redirect: its redirect_uri is not trustworthy.
func (a *API) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		prompt.RenderError(w, r, http.StatusMethodNotAllowed, "Method not allowed", "Open this page with GET.", nil)
		return
	}
	req, aerr := a.parseAuthorize(r.Context(), r.URL.RawQuery)
	if aerr != nil {
		a.logger(r.Context()).Info("universal: authorize refused", "reason", aerr.msg)
		prompt.RenderError(w, r, aerr.status, "This login request cannot be completed", aerr.msg+" Return to the application and try again.", nil)
		return
	}
	s := prompt.Session{
		Kind:     prompt.KindUniversal,
		IKey:     req.Client.IKey,
		Username: req.Username,
		Data: map[string]string{
			dataRedirectURI: req.RedirectURI,
			dataState:       req.State,
			dataCodeParams:  strings.Join(req.CodeParams, " "),
		},
	}
	if req.Nonce != "" {
		s.Data[dataNonce] = req.Nonce
	}
	if err := a.Prompt.Start(w, r, s); err != nil {
		a.logger(r.Context()).Error("universal: start prompt", "client_id", req.Client.IKey, "err", err)
		prompt.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "The login prompt could not be shown. Try again in a moment.", nil)
	}
}

// Finish is the prompt's Finisher for universal sessions: it stores a
// single-use authorization code for the outcome and redirects the browser
// to the application's redirect_uri with the code and the state.
func (a *API) Finish(w http.ResponseWriter, r *http.Request, s prompt.Session, o prompt.Outcome) error {
	ctx := r.Context()
	if s.Kind != prompt.KindUniversal {
		return errors.New("universal: not a universal session")
	}
	redirect, state := s.Data[dataRedirectURI], s.Data[dataState]
	if redirect == "" || state == "" {
		return errors.New("universal: session without redirect_uri or state")
	}
	in, _, err := a.Core.Integration(ctx, s.IKey)
	if err != nil {
		return err
	}
	if in.Type != store.TypeUniversal {
		return errors.New("universal: the session's integration is not a universal one")
	}
	authTime := o.AuthTime
	if authTime.IsZero() {
		authTime = a.now()
	}
	factor, reason := describe(o.Factor)
	g := grant{
		ClientID:    in.IKey,
		RedirectURI: redirect,
		Username:    s.Username,
		UserKey:     o.UserID,
		Nonce:       s.Data[dataNonce],
		AuthTime:    authTime.Unix(),
		TxID:        o.TxID,
		Result:      "allow",
		Status:      o.Status,
		StatusMsg:   o.StatusMsg,
		Factor:      factor,
		Reason:      reason,
		AppName:     in.Name,
		DeviceKey:   o.DeviceID,
		DeviceName:  o.DeviceName,
		IP:          o.IP,
		UserAgent:   r.UserAgent(),
	}
	if o.UserID != "" {
		groups, err := a.Core.UserGroups(ctx, o.UserID)
		if err != nil {
			return err
		}
		for _, gr := range groups {
			g.Groups = append(g.Groups, gr.Name)
		}
	}
	if g.Status == "" {
		g.Status = "allow"
	}
	if g.StatusMsg == "" {
		g.StatusMsg = "Login Successful"
	}
	code, err := a.issueCode(ctx, g)
	if err != nil {
		return err
	}
	params := strings.Fields(s.Data[dataCodeParams])
	if len(params) == 0 {
		params = []string{"duo_code", "code"}
	}
	to, err := redirectURL(redirect, params, code, state)
	if err != nil {
		return err
	}
	a.logger(ctx).Info("universal: code issued", "client_id", in.IKey, "username", s.Username, "txid", o.TxID,
		"expires", a.now().Add(a.codeTTL()).Format(time.RFC3339))
	// The code is in the URL: keep it out of Referer headers and caches.
	h := w.Header()
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// describe maps a prompt factor to the id_token's auth_context factor and
// reason, in the vocabulary of Duo's authentication log.
func describe(f string) (factor, reason string) {
	switch f {
	case prompt.FactorPush:
		return "duo_push", "user_approved"
	case prompt.FactorPhoneCall:
		return "phone_call", "user_approved"
	case prompt.FactorPasscode:
		return "passcode", "valid_passcode"
	case prompt.FactorWebAuthn:
		return "webauthn_credential", "user_approved"
	case prompt.FactorBypassUser:
		return "not_available", "bypass_user"
	case prompt.FactorAllowUnenrolled:
		return "not_available", "allow_unenrolled_user"
	}
	return f, ""
}

var _ prompt.Finisher = (*API)(nil)

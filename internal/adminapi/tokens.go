package adminapi

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Hardware tokens (Duo's /admin/v1/tokens) and WebAuthn credentials
// (/admin/v1/webauthncredentials). Authenticator apps are Assent's own and
// not listed: Duo has no such object.

// tokenRef is a token as listed inside a user.
type tokenRef struct {
	Serial   string `json:"serial"`
	TokenID  string `json:"token_id"`
	TotpStep *int   `json:"totp_step"`
	Type     string `json:"type"`
}

// tokenJSON is Duo's token object: its admins (Assent has no administrator
// accounts, so none) and its user, if assigned.
type tokenJSON struct {
	tokenRef
	Admins []any     `json:"admins"`
	Users  []userRef `json:"users"`
}

func tokenRefOf(t store.Token) tokenRef {
	r := tokenRef{Serial: t.Serial, TokenID: t.ID, Type: string(t.Kind)}
	if t.Kind.TOTP() {
		step := t.Period
		r.TotpStep = &step
	}
	return r
}

func refOf(u store.User) userRef {
	return userRef{UserID: u.ID, Username: u.Username, RealName: u.Profile.RealName, Email: u.Profile.Email, Status: string(u.Status)}
}

func (a *API) tokenJSON(ctx context.Context, t store.Token) (tokenJSON, error) {
	j := tokenJSON{tokenRef: tokenRefOf(t), Admins: []any{}, Users: []userRef{}}
	if t.UserID != "" {
		u, err := a.Core.User(ctx, t.UserID)
		if err != nil && !auth.IsKind(err, auth.KindNotFound) {
			return tokenJSON{}, err
		}
		if err == nil {
			j.Users = append(j.Users, refOf(u))
		}
	}
	return j, nil
}

// hardwareTokens keeps a user's hardware tokens (not their apps).
func hardwareTokens(list []store.Token) []store.Token {
	var out []store.Token
	for _, t := range list {
		if t.Kind.Hardware() {
			out = append(out, t)
		}
	}
	return out
}

// listTokens is GET /admin/v1/tokens: every token, or with type and serial
// the one matching (duo_client's get_tokens_by_serial: a list of 0 or 1).
func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	v := c.Params.Values
	p, err := parsePaging(v, defaultListLimit, maxListLimit)
	if err != nil {
		return err
	}
	typ, serial := v.Get("type"), v.Get("serial")
	var list []store.Token
	switch {
	case (typ == "") != (serial == ""):
		return httpapi.InvalidParams("type, serial: give both or neither")
	case serial != "":
		t, err := a.Core.HardwareToken(r.Context(), serial)
		if err != nil && !auth.IsKind(err, auth.KindNotFound) {
			return err
		}
		if err == nil && string(t.Kind) == typ {
			list = []store.Token{t}
		}
	default:
		if list, err = a.Core.HardwareTokens(r.Context()); err != nil {
			return err
		}
	}
	page := window(list, p)
	out := make([]tokenJSON, 0, len(page))
	for _, t := range page {
		j, err := a.tokenJSON(r.Context(), t)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(page), len(list)))
	return nil
}

// hexParam decodes a hex parameter ("" → nil).
func hexParam(v url.Values, key string) ([]byte, error) {
	s := strings.TrimSpace(v.Get(key))
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, httpapi.InvalidParams(key + ": must be hexadecimal")
	}
	return b, nil
}

// parseNewToken reads a token to create (POST /admin/v1/tokens); every
// problem is a 40002 naming the parameter. The core checks the values.
func parseNewToken(v url.Values) (auth.NewToken, error) {
	nt := auth.NewToken{Kind: store.TokenKind(v.Get("type")), Serial: v.Get("serial"), Algorithm: v.Get("algorithm")}
	if nt.Kind == "" {
		return auth.NewToken{}, httpapi.InvalidParams("type")
	}
	if nt.Serial == "" {
		return auth.NewToken{}, httpapi.InvalidParams("serial")
	}
	var err error
	if nt.Secret, err = hexParam(v, "secret"); err != nil {
		return auth.NewToken{}, err
	}
	if s := v.Get("counter"); s != "" {
		if !nt.Kind.HOTP() {
			return auth.NewToken{}, httpapi.InvalidParams("counter: only for h6 and h8 tokens")
		}
		if nt.Counter, err = strconv.ParseUint(s, 10, 64); err != nil {
			return auth.NewToken{}, httpapi.InvalidParams("counter")
		}
	}
	if s := v.Get("totp_step"); s != "" {
		if nt.Kind != store.TokenT6 && nt.Kind != store.TokenT8 {
			return auth.NewToken{}, httpapi.InvalidParams("totp_step: only for t6 and t8 tokens")
		}
		if nt.Step, err = strconv.Atoi(s); err != nil {
			return auth.NewToken{}, httpapi.InvalidParams("totp_step")
		}
	}
	if nt.Kind == store.TokenYubiKey {
		if nt.PrivateID, err = hexParam(v, "private_id"); err != nil {
			return auth.NewToken{}, err
		}
		if nt.AESKey, err = hexParam(v, "aes_key"); err != nil {
			return auth.NewToken{}, err
		}
		nt.PublicID = v.Get("public_id")
		if nt.PublicID == "" {
			nt.PublicID = nt.Serial
		}
	} else if v.Get("private_id") != "" || v.Get("aes_key") != "" || v.Get("public_id") != "" {
		return auth.NewToken{}, httpapi.InvalidParams("private_id, aes_key, public_id: only for yk tokens")
	}
	return nt, nil
}

// createToken is POST /admin/v1/tokens: type (h6, h8, t6, t8, yk), serial,
// and secret (hex) with counter (HOTP) or totp_step (TOTP), or private_id
// and aes_key (hex) for a YubiKey. A YubiKey's public ID is public_id (an
// Assent extension) or, as Duo's serial, the serial when it is modhex.
func (a *API) createToken(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	nt, err := parseNewToken(c.Params.Values)
	if err != nil {
		return err
	}
	added, err := a.Core.AddTokens(r.Context(), []auth.NewToken{nt})
	if err != nil {
		return err
	}
	j, err := a.tokenJSON(r.Context(), added[0])
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, j)
	return nil
}

// token finds the hardware token named by the path's token_id.
func (a *API) token(r *http.Request) (store.Token, error) {
	return a.Core.HardwareTokenByID(r.Context(), r.PathValue("token_id"))
}

func (a *API) getToken(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	t, err := a.token(r)
	if err != nil {
		return err
	}
	j, err := a.tokenJSON(r.Context(), t)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, j)
	return nil
}

// deleteToken answers "" as Duo does, also for a token already gone.
func (a *API) deleteToken(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	t, err := a.token(r)
	if auth.IsKind(err, auth.KindNotFound) {
		httpapi.WriteOK(w, "")
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Core.DeleteToken(r.Context(), t.Serial); err != nil && !auth.IsKind(err, auth.KindNotFound) {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// resyncToken is POST /admin/v1/tokens/{id}/resync with three consecutive
// codes, code1 to code3; it answers "".
func (a *API) resyncToken(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	t, err := a.token(r)
	if err != nil {
		return err
	}
	var codes []string
	for _, k := range []string{"code1", "code2", "code3"} {
		s := strings.TrimSpace(c.Params.Get(k))
		if s == "" {
			return httpapi.InvalidParams(k)
		}
		codes = append(codes, s)
	}
	if _, err := a.Core.ResyncToken(r.Context(), t.Serial, codes...); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// userTokens is GET /admin/v1/users/{id}/tokens: the user's hardware tokens.
func (a *API) userTokens(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	hardware := func(ctx context.Context, userID string) ([]store.Token, error) {
		all, err := a.Core.UserTokens(ctx, userID)
		return hardwareTokens(all), err
	}
	return userSubList(a, w, r, c, hardware, func(t store.Token, u store.User) tokenJSON {
		return tokenJSON{tokenRef: tokenRefOf(t), Admins: []any{}, Users: []userRef{refOf(u)}}
	})
}

// addUserToken is POST /admin/v1/users/{id}/tokens with token_id: assigns
// the token to the user (taking it from any other user, as Duo allows one
// user per token in Assent); answers "".
func (a *API) addUserToken(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	id := c.Params.Get("token_id")
	if id == "" {
		return httpapi.InvalidParams("token_id")
	}
	t, err := a.Core.HardwareTokenByID(r.Context(), id)
	if auth.IsKind(err, auth.KindNotFound) {
		return httpapi.InvalidParams("token_id: no hardware token with that ID")
	}
	if err != nil {
		return err
	}
	if _, err := a.Core.AssignToken(r.Context(), t.Serial, u.ID); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// deleteUserToken unassigns one of the user's tokens; answers "".
func (a *API) deleteUserToken(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	t, err := a.token(r)
	if err != nil {
		return err
	}
	if t.UserID != u.ID {
		return httpapi.ErrNotFound
	}
	if _, err := a.Core.AssignToken(r.Context(), t.Serial, ""); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// webauthnRef is Duo's WebAuthn credential as listed inside a user.
type webauthnRef struct {
	CredentialName string `json:"credential_name"`
	DateAdded      int64  `json:"date_added"`
	Label          string `json:"label"`
	WebAuthnKey    string `json:"webauthnkey"`
}

// webauthnJSON is the credential with its user (the top-level endpoints).
type webauthnJSON struct {
	webauthnRef
	Admin *struct{} `json:"admin"`
	User  *userRef  `json:"user"`
}

func webauthnRefOf(c store.WebAuthnCredential) webauthnRef {
	label := "Security Key"
	if c.BackupEligible {
		label = "Passkey"
	}
	return webauthnRef{CredentialName: c.Name, DateAdded: c.Created.Unix(), Label: label, WebAuthnKey: c.ID}
}

func (a *API) webauthnJSON(ctx context.Context, c store.WebAuthnCredential) (webauthnJSON, error) {
	j := webauthnJSON{webauthnRef: webauthnRefOf(c)}
	u, err := a.Core.User(ctx, c.UserID)
	if err != nil && !auth.IsKind(err, auth.KindNotFound) {
		return webauthnJSON{}, err
	}
	if err == nil {
		ref := refOf(u)
		j.User = &ref
	}
	return j, nil
}

func (a *API) userWebAuthn(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	return userSubList(a, w, r, c, a.Core.WebAuthnCredentials, func(cr store.WebAuthnCredential, _ store.User) webauthnRef { return webauthnRefOf(cr) })
}

// listWebAuthn is GET /admin/v1/webauthncredentials: every user's.
func (a *API) listWebAuthn(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p, err := parsePaging(c.Params.Values, defaultListLimit, 500)
	if err != nil {
		return err
	}
	list, err := a.Core.WebAuthnCredentials(r.Context(), "")
	if err != nil {
		return err
	}
	page := window(list, p)
	out := make([]webauthnJSON, 0, len(page))
	for _, cr := range page {
		j, err := a.webauthnJSON(r.Context(), cr)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(page), len(list)))
	return nil
}

func (a *API) getWebAuthn(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	cr, err := a.Core.WebAuthnCredential(r.Context(), r.PathValue("webauthnkey"))
	if err != nil {
		return err
	}
	j, err := a.webauthnJSON(r.Context(), cr)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, j)
	return nil
}

// deleteWebAuthn answers "" as Duo does, also for a credential already gone.
func (a *API) deleteWebAuthn(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	cr, err := a.Core.WebAuthnCredential(r.Context(), r.PathValue("webauthnkey"))
	if auth.IsKind(err, auth.KindNotFound) {
		httpapi.WriteOK(w, "")
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Core.RemoveWebAuthnCredential(r.Context(), cr.UserID, cr.ID); err != nil && !auth.IsKind(err, auth.KindNotFound) {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

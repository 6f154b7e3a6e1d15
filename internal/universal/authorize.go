package universal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Limits of the authorize request's claims. State: the SDKs make 36
// characters and check 22–1024 (duo_universal_python 16–1024, the minimum
// accepted here); nonce: duo_universal_python checks 17–1023.
const (
	minStateLen    = 16
	maxStateLen    = 1024
	maxNonceLen    = 1024
	maxUsernameLen = 512
	maxRedirectLen = 2048
)

// requestClaims are the claims of the authorize request JWT. exp may be an
// integer or a float (duo_universal_python), aud a string or an array
// (duo_universal_golang's jwx) or absent (duo_universal_java), iss absent
// (duo_universal_java).
type requestClaims struct {
	jwt.RegisteredClaims
	ResponseType        string `json:"response_type"`
	Scope               string `json:"scope"`
	ClientID            string `json:"client_id"`
	RedirectURI         string `json:"redirect_uri"`
	State               string `json:"state"`
	DuoUname            string `json:"duo_uname"`
	Nonce               string `json:"nonce"`
	UseDuoCodeAttribute any    `json:"use_duo_code_attribute"`
}

// authzRequest is a verified authorize request.
type authzRequest struct {
	Client      store.Integration
	RedirectURI string
	State       string
	Username    string
	Nonce       string
	// CodeParam names the redirect's code parameter: "duo_code" when the
	// request asked for use_duo_code_attribute, "code" when it refused it,
	// both when it did not say.
	CodeParams []string
}

// authzError is an authorize request that cannot be served. It is shown on
// an error page: without a verified request there is no redirect URI to
// send the user back to safely.
type authzError struct {
	status int
	msg    string // for the user and the application's developer
}

func (e *authzError) Error() string { return e.msg }

func badAuthz(msg string) *authzError { return &authzError{status: http.StatusBadRequest, msg: msg} }

// parseAuthorize verifies GET /oauth/v1/authorize?response_type=code&client_id=…&request=<JWT>.
// Only the verified JWT is trusted for redirect_uri, state, duo_uname and
// client_id; duo_universal_java leaves the query's redirect_uri unencoded,
// so the query is read leniently and only for client_id, request and (for
// duo_universal_python) nonce.
func (a *API) parseAuthorize(ctx context.Context, rawQuery string) (*authzRequest, *authzError) {
	// ParseQuery keeps what it could parse when some pair is malformed.
	q, _ := url.ParseQuery(rawQuery)
	request := q.Get("request")
	if request == "" {
		return nil, badAuthz("The request parameter is missing.")
	}
	if rt := q.Get("response_type"); rt != "" && rt != "code" {
		return nil, badAuthz("The response_type must be code.")
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		clientID = peekIssuer(request)
	}
	if clientID == "" {
		return nil, badAuthz("The client_id parameter is missing.")
	}
	in, secret, err := a.Core.Integration(ctx, clientID)
	if auth.IsKind(err, auth.KindNotFound) {
		return nil, badAuthz("The client_id is not known to this server.")
	}
	if err != nil {
		a.logger(ctx).Error("universal: look up client", "client_id", clientID, "err", err)
		return nil, &authzError{status: http.StatusInternalServerError, msg: "The server could not look up the application."}
	}
	if in.Type != store.TypeUniversal {
		return nil, badAuthz("The client_id is not a Universal Prompt application.")
	}
	var c requestClaims
	if err := parseHS512(request, secret, a.lifetime(), &c); err != nil {
		return nil, badAuthz("The request could not be verified: " + err.Error() + ".")
	}
	switch {
	case c.ClientID != "" && !equal(c.ClientID, in.IKey):
		return nil, badAuthz("The request's client_id does not match.")
	case c.Issuer != "" && !equal(c.Issuer, in.IKey):
		return nil, badAuthz("The request's iss does not match the client_id.")
	case len(c.Audience) > 0 && matchURL(c.Audience, hostVariants(a.Hosts), "") == "":
		return nil, badAuthz("The request's aud does not name this server (https://" + a.issuerHost() + ").")
	case c.ResponseType != "" && c.ResponseType != "code":
		return nil, badAuthz("The request's response_type must be code.")
	case c.Scope != "" && !hasScope(c.Scope, "openid"):
		return nil, badAuthz("The request's scope must include openid.")
	}
	n := utf8.RuneCountInString(c.State)
	if n < minStateLen || n > maxStateLen {
		return nil, badAuthz("The request's state must be 16 to 1024 characters long.")
	}
	if c.DuoUname == "" || len(c.DuoUname) > maxUsernameLen || !utf8.ValidString(c.DuoUname) {
		return nil, badAuthz("The request's duo_uname is missing or invalid.")
	}
	if err := a.checkRedirect(c.RedirectURI); err != nil {
		return nil, badAuthz("The request's redirect_uri is not acceptable: " + err.Error() + ".")
	}
	nonce := c.Nonce
	if nonce == "" {
		// duo_universal_python sends the nonce beside the request, not in
		// it. Unsigned, but it is only echoed to this client, whose check
		// it can only make fail.
		nonce = q.Get("nonce")
	}
	if len(nonce) > maxNonceLen {
		return nil, badAuthz("The nonce is too long.")
	}
	return &authzRequest{
		Client:      in,
		RedirectURI: c.RedirectURI,
		State:       c.State,
		Username:    c.DuoUname,
		Nonce:       nonce,
		CodeParams:  codeParams(c.UseDuoCodeAttribute),
	}, nil
}

func hasScope(scopes, want string) bool {
	for _, s := range strings.Fields(scopes) {
		if s == want {
			return true
		}
	}
	return false
}

// codeParams reads use_duo_code_attribute: a JSON boolean from every SDK,
// accepted as a string too.
func codeParams(v any) []string {
	switch t := v.(type) {
	case bool:
		if t {
			return []string{"duo_code"}
		}
		return []string{"code"}
	case string:
		switch strings.ToLower(t) {
		case "true", "1":
			return []string{"duo_code"}
		case "false", "0":
			return []string{"code"}
		}
	}
	// Not said: give both, so old and new callbacks find their code.
	return []string{"duo_code", "code"}
}

// checkRedirect accepts absolute https URLs without fragments (OAuth 2.0
// §3.1.2). http is accepted for loopback hosts only (localhost, 127.0.0.0/8,
// ::1), as RFC 8252 §7.3 does, so applications can be developed locally:
// a code sent there never crosses a network in clear text. The URI is
// signed by the client secret, so only the application chooses it.
func (a *API) checkRedirect(raw string) error {
	if raw == "" {
		return errors.New("it is missing")
	}
	if len(raw) > maxRedirectLen {
		return errors.New("it is too long")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("it is not an absolute URL")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("it has a fragment")
	}
	if u.User != nil {
		return errors.New("it has user information")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("it must use https")
	}
	return errors.New("it must use https")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redirectURL is the application's callback with the code and state added
// to the query it already has.
func redirectURL(redirectURI string, params []string, code, state string) (string, error) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for _, p := range params {
		q.Set(p, code)
	}
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

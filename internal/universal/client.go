package universal

import (
	"context"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// oauthError is an answer of the health check or token endpoint.
type oauthError struct {
	status int
	code   string // OAuth error code: invalid_client, invalid_grant, …
	desc   string // error_description / message_detail, safe to show
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func invalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_client", desc: desc}
}

func invalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func invalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: desc}
}

var errServer = &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: "The server could not complete the request."}

// assertionClaims are a client assertion's claims (RFC 7523 as the SDKs
// make them: iss = sub = client_id, aud = the endpoint URL, jti, exp).
type assertionClaims struct {
	jwt.RegisteredClaims
}

// client is a client authenticated by its assertion.
type client struct {
	in       store.Integration
	secret   string
	audience string // the endpoint URL as the client spelled it
	jti      string
	expires  time.Time
}

// authenticateClient checks the client_assertion JWT sent to the endpoint
// at path: signed HS512 with the client secret of client_id (or, when no
// client_id is given, of the client the assertion names), iss and sub equal
// to client_id, aud naming this endpoint on one of the public hosts,
// unexpired and with a jti.
func (a *API) authenticateClient(ctx context.Context, clientID, assertion, path string) (*client, *oauthError) {
	if assertion == "" {
		return nil, invalidClient("The client_assertion parameter is missing.")
	}
	if clientID == "" {
		clientID = peekIssuer(assertion)
		if clientID == "" {
			return nil, invalidClient("The client_id parameter is missing.")
		}
	}
	in, secret, err := a.Core.Integration(ctx, clientID)
	if auth.IsKind(err, auth.KindNotFound) {
		return nil, invalidClient("The provided client_id is invalid.")
	}
	if err != nil {
		a.logger(ctx).Error("universal: look up client", "client_id", clientID, "err", err)
		return nil, errServer
	}
	if in.Type != store.TypeUniversal {
		return nil, invalidClient("The client is not a Universal Prompt application.")
	}
	var c assertionClaims
	if err := parseHS512(assertion, secret, a.lifetime(), &c); err != nil {
		return nil, invalidClient("The provided client_assertion was invalid: " + err.Error() + ".")
	}
	if !equal(c.Issuer, in.IKey) {
		return nil, invalidClient("Invalid Client assertion: The `iss` claim must match the supplied client_id")
	}
	if !equal(c.Subject, in.IKey) {
		return nil, invalidClient("Invalid Client assertion: The `sub` claim must match the supplied client_id")
	}
	aud := matchURL(c.Audience, hostVariants(a.Hosts), path)
	if aud == "" {
		return nil, invalidClient("Invalid Client assertion: The `aud` claim must name this endpoint, https://" + a.issuerHost() + path)
	}
	if c.ID == "" {
		return nil, invalidClient("Invalid Client assertion: The `jti` claim is missing.")
	}
	// parseHS512 bounded exp (DefaultMaxJWTLifetime), which also keeps the
	// table of seen assertion IDs small.
	return &client{in: in, secret: secret, audience: aud, jti: c.ID, expires: c.ExpiresAt.Time}, nil
}

// useAssertion records the assertion's jti so the same assertion cannot
// authenticate a second token request (RFC 7523 §3, item 7). The claim
// lasts as long as the assertion could still verify.
func (a *API) useAssertion(ctx context.Context, c *client) *oauthError {
	ttl := c.expires.Add(Leeway + time.Second).Sub(a.now())
	err := a.Core.ClaimOnce(ctx, kindJTI, c.in.IKey+"|"+c.jti, ttl)
	if auth.IsKind(err, auth.KindConflict) {
		return invalidClient("Invalid Client assertion: The `jti` claim was already used.")
	}
	if err != nil {
		a.logger(ctx).Error("universal: record client assertion", "client_id", c.in.IKey, "err", err)
		return errServer
	}
	return nil
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

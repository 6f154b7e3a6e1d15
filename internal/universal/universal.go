// Package universal serves Duo's Universal Prompt (Web SDK v4) for
// integrations of type "universal": the OIDC-style endpoints
// /oauth/v1/health_check, /oauth/v1/authorize and /oauth/v1/token that the
// official duo_universal SDKs (Go, Python, Node.js, Java) call, with the
// client_id being the integration key and the client_secret its secret key.
//
// The browser leg reuses the shared prompt pages (package prompt): authorize
// verifies the application's signed request and starts a prompt session;
// when the user has authenticated, the prompt calls Finish, which stores a
// single-use authorization code and redirects the browser back to the
// application, which exchanges the code at the token endpoint for an HS512
// id_token describing the authentication.
package universal

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/store"
)

// Endpoint paths.
const (
	PathHealthCheck = "/oauth/v1/health_check"
	PathAuthorize   = "/oauth/v1/authorize"
	PathToken       = "/oauth/v1/token"
)

// DefaultCodeTTL is how long an authorization code can be exchanged. The
// application's callback exchanges it at once; a minute covers slow
// networks while keeping a leaked code nearly useless (it is also bound to
// the client, its secret and the redirect URI, and single-use).
const DefaultCodeTTL = 60 * time.Second

// TokenLifetime is the id_token's lifetime and the access token's
// expires_in. The SDKs only check exp (with 60 s leeway) right after the
// exchange; the access token opens nothing at Assent.
const TokenLifetime = time.Hour

// Core is what the endpoints need from the auth core (auth.Service):
// integrations with their plaintext secret keys (a missing one is an
// auth.KindNotFound error), and single-use claims for client assertion IDs.
type Core interface {
	Integration(ctx context.Context, ikey string) (store.Integration, string, error)
	ClaimOnce(ctx context.Context, kind, key string, ttl time.Duration) error
	// UserGroups lists the groups a user is in (auth_context.user.groups).
	UserGroups(ctx context.Context, user string) ([]store.Group, error)
}

// Tokens stores single-use tokens with a payload (store.Store): the
// authorization codes.
type Tokens interface {
	PutOnetime(ctx context.Context, o store.Onetime) error
	TakeOnetime(ctx context.Context, kind string, hash []byte, now time.Time) (store.Onetime, error)
}

// Hasher makes the keyed hashes codes are stored under (secrets.Box), so
// a database dump yields no usable code.
type Hasher interface {
	KeyedHash(purpose string, parts ...string) []byte
}

// Kinds of single-use tokens (and hash purposes).
const (
	kindCode = "oauth_code"
	kindJTI  = "oauth_jti"
)

// Starter starts a prompt session (prompt.Prompt).
type Starter interface {
	Start(w http.ResponseWriter, r *http.Request, s prompt.Session) error
}

// API is the Universal Prompt edge.
type API struct {
	Core   Core
	Tokens Tokens
	Hasher Hasher
	// Prompt shows the shared prompt pages for an authorize request; the
	// server registers API as its Finisher for prompt.KindUniversal.
	Prompt Starter
	// Hosts are the public host[:port] names clients use as api_host; the
	// first is the canonical one. Audiences must name one of them.
	Hosts []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CodeTTL is the authorization codes' lifetime; 0 means DefaultCodeTTL.
	CodeTTL time.Duration
	// ClockSkew is how far the application's clock may be ahead of
	// Assent's: iat and nbf may be this far ahead, exp this much beyond
	// MaxJWTLifetime. 0 means Leeway.
	ClockSkew time.Duration
	// MaxJWTLifetime is how far ahead a request JWT or client assertion may
	// expire (plus ClockSkew); 0 means DefaultMaxJWTLifetime.
	MaxJWTLifetime time.Duration
	// Logger receives operational events; nil means the request logger.
	Logger *slog.Logger
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) codeTTL() time.Duration {
	if a.CodeTTL > 0 {
		return a.CodeTTL
	}
	return DefaultCodeTTL
}

// issuerHost is the canonical host for URLs Assent builds itself.
func (a *API) issuerHost() string {
	if len(a.Hosts) > 0 {
		return a.Hosts[0]
	}
	return ""
}

// Register adds the /oauth/v1 routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	if a.Core == nil || a.Tokens == nil || a.Hasher == nil || a.Prompt == nil || len(a.Hosts) == 0 {
		panic("universal: API needs Core, Tokens, Hasher, Prompt and Hosts")
	}
	mux.HandleFunc(PathHealthCheck, a.healthCheck)
	mux.HandleFunc(PathToken, a.token)
	mux.HandleFunc(PathAuthorize, a.authorize)
}

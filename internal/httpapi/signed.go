package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/store"
)

// IntegrationLookup finds an integration and its plaintext secret key.
type IntegrationLookup interface {
	Integration(ctx context.Context, ikey string) (store.Integration, string, error)
}

// Call is a verified request: who signed it and what it asked.
type Call struct {
	Integration store.Integration
	Params      *Params
}

// HandlerFunc serves a verified call. A returned error is rendered with
// Duo's envelope by Render.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, c *Call) error

// Signer checks Duo HMAC signatures on incoming requests.
type Signer struct {
	Lookup   IntegrationLookup
	Verifier duosig.Verifier
}

var errWrongType = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "Access forbidden", Detail: "Wrong integration type for this API."}

// Require wraps h so it runs only for requests correctly signed by an
// integration of one of the given types; errors are answered as JSON.
func (s *Signer) Require(types []store.IntegrationType, h HandlerFunc) http.Handler {
	return s.require(types, h, Render)
}

// require is Require with the error renderer of the route's encoding.
func (s *Signer) require(types []store.IntegrationType, h HandlerFunc, render func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.verify(w, r)
		if err == nil && !slices.Contains(types, c.Integration.Type) {
			err = errWrongType
		}
		if err == nil {
			SetIKey(r.Context(), c.Integration.IKey)
			err = h(w, r, c)
		}
		if err != nil {
			render(w, r, err)
		}
	})
}

func (s *Signer) verify(w http.ResponseWriter, r *http.Request) (*Call, error) {
	cred, err := duosig.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	in, skey, err := s.Lookup.Integration(r.Context(), cred.IKey)
	if auth.IsKind(err, auth.KindNotFound) {
		return nil, duosig.ErrUnknownIKey
	}
	if err != nil {
		return nil, err
	}
	p, err := ReadParams(w, r)
	if err != nil {
		return nil, err
	}
	err = s.Verifier.Verify(duosig.Incoming{
		Method:     r.Method,
		Path:       rawPath(r),
		HostHeader: r.Host,
		Query:      p.Query,
		Form:       p.Form,
		Body:       p.Body,
		JSONBody:   p.JSONBody,
		Header:     r.Header,
	}, cred, skey)
	if err != nil {
		return nil, err
	}
	return &Call{Integration: in, Params: p}, nil
}

// rawPath is the path exactly as the client sent it, without the query:
// clients sign the escaped form.
func rawPath(r *http.Request) string {
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// Render answers err with Duo's JSON envelope (see AsError).
func Render(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, AsError(r, err))
}

func fromAuth(e *auth.Error) *Error {
	switch e.Kind {
	case auth.KindNotFound:
		return ErrNotFound
	case auth.KindConflict:
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "Invalid request parameters", Detail: e.Error()}
	case auth.KindRateLimited:
		return TooManyRequests(e.Error(), e.RetryAfter)
	}
	// Duo names the offending parameter in message_detail; Assent adds why.
	return InvalidParams(e.Error())
}

// Handle adapts a HandlerFunc that needs no signature (ping) to http.Handler.
func Handle(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			Render(w, r, err)
		}
	})
}

// logAttrs is filled in by handlers so the access log can name the caller.
type logAttrs struct {
	ikey string
}

type ctxKey int

const (
	keyLogger ctxKey = iota
	keyAttrs
)

// SetIKey records the integration key of the request for the access log.
func SetIKey(ctx context.Context, ikey string) {
	if a, ok := ctx.Value(keyAttrs).(*logAttrs); ok {
		a.ikey = ikey
	}
}

// Logger returns the request-scoped logger (with the request ID).
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

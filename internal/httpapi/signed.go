package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// IntegrationLookup finds an integration and its plaintext secret key.
type IntegrationLookup interface {
	Integration(ctx context.Context, ikey string) (store.Integration, string, error)
}

// PreviousSecrets is implemented by lookups whose integrations may have a
// rotated-out secret key that still verifies during its grace period.
type PreviousSecrets interface {
	PreviousSecret(in store.Integration) (string, bool)
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
	// Failures is spent on every failed signature (unknown integration
	// key, missing or bad date, bad signature) from a client address; a
	// client whose bucket is empty is answered 429 before anything is
	// looked up. nil: no limit.
	Failures *ratelimit.Named
}

// Route says what one signed route accepts.
type Route struct {
	// Types are the integration types that may call the route.
	Types []store.IntegrationType
	// MaxBody bounds the request body in bytes; 0 means MaxBodyBytes.
	MaxBody int64
	// Versions is duosig.WithUndatedV1 on the legacy routes (/rest/v1),
	// else duosig.DatedOnly. Integrations marked LegacySignatures get
	// WithUndatedV1 on every route.
	Versions duosig.Versions
}

var errWrongType = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "Access forbidden", Detail: "Wrong integration type for this API."}

// Require wraps h so it runs only for requests correctly signed by an
// integration of one of rt's types; errors are answered as JSON.
func (s *Signer) Require(rt Route, h HandlerFunc) http.Handler {
	return s.require(rt, h, Render)
}

// require is Require with the error renderer of the route's encoding.
func (s *Signer) require(rt Route, h HandlerFunc, render func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.verify(w, r, rt)
		if err == nil {
			SetIKey(r.Context(), c.Integration.IKey)
			err = h(w, r, c)
		} else {
			// Say why at debug level: a client that signs differently from
			// all the known ones is found here.
			Logger(r.Context()).Debug("signed request rejected", "err", err)
		}
		if err != nil {
			render(w, r, err)
		}
	})
}

// verify authenticates r, cheapest rejection first, so that a request that
// fails early costs the server almost nothing: the Authorization header,
// the client's failure budget, the integration (existence and type, so a
// Web SDK key, which browsers see, gets no further on the Auth API), the
// date; only then is the body read, within rt's limit, and the signature
// checked over a fixed set of canonical forms.
func (s *Signer) verify(w http.ResponseWriter, r *http.Request, rt Route) (*Call, error) {
	cred, err := duosig.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	client := ClientKey(r)
	if blocked, retry := s.Failures.Blocked(client); blocked {
		s.Failures.Warn(Logger(r.Context()), client, retry)
		return nil, TooManyRequests("too many failed signatures from this address", retry)
	}
	fail := func(err error) (*Call, error) {
		s.Failures.Fail(client)
		return nil, err
	}
	in, skey, err := s.Lookup.Integration(r.Context(), cred.IKey)
	if auth.IsKind(err, auth.KindNotFound) {
		return fail(duosig.ErrUnknownIKey)
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(rt.Types, in.Type) {
		return nil, errWrongType
	}
	vers := rt.Versions
	if in.LegacySignatures {
		vers = duosig.WithUndatedV1
	}
	if _, err := s.Verifier.CheckDate(r.Header, vers); err != nil {
		return fail(err)
	}
	limit := rt.MaxBody
	if limit <= 0 {
		limit = MaxBodyBytes
	}
	p, err := ReadParamsLimit(w, r, limit)
	if err != nil {
		return nil, err
	}
	req := duosig.Incoming{
		Method:   r.Method,
		Path:     rawPath(r),
		Query:    p.Query,
		Form:     p.Form,
		Body:     p.Body,
		JSONBody: p.JSONBody,
		Header:   r.Header,
	}
	err = s.Verifier.Verify(req, cred, skey, vers)
	if errors.Is(err, duosig.ErrBadSignature) && len(in.PrevSecretEnc) > 0 {
		// During a rotation's grace period the previous secret key verifies
		// too (each comparison is constant-time; which key matched is not a
		// secret).
		if ps, ok := s.Lookup.(PreviousSecrets); ok {
			if prev, ok := ps.PreviousSecret(in); ok {
				err = s.Verifier.Verify(req, cred, prev, vers)
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	return &Call{Integration: in, Params: p}, nil
}

// ClientKey is the rate-limit key of r's client: its IP address from
// RemoteAddr, IPv6 addresses cut to their /64 (one host's usual share, so
// a client cannot step around the limit through its own addresses).
// Behind a reverse proxy every client has the proxy's key.
func ClientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
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

type ctxKey int

const keyState ctxKey = iota // *requestState, set by Middleware

// SetIKey records the integration key of the request for the access log.
func SetIKey(ctx context.Context, ikey string) {
	if st, ok := ctx.Value(keyState).(*requestState); ok {
		st.ikey = ikey
	}
}

// Logger returns the request-scoped logger (with the request ID).
func Logger(ctx context.Context) *slog.Logger {
	if st, ok := ctx.Value(keyState).(*requestState); ok {
		return st.log
	}
	return slog.Default()
}

// detachedLogger is Logger for a request that outlives its handler: the
// same records, from a logger that does not point into the request's
// state (Logger's does, and would keep the request, its connection's
// buffers and net/http's response alive while a detached request waits).
func detachedLogger(ctx context.Context) *slog.Logger {
	if st, ok := ctx.Value(keyState).(*requestState); ok {
		return slog.New(&requestHandler{Handler: st.handler.Handler, id: st.handler.id})
	}
	return slog.Default()
}

package frame

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/prompt"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
	"github.com/assent-auth/assent/pkg/duoweb"
)

// The Web SDK v2 frame: Duo-Web-v2.js (and v1) load
// /frame/web/v1/auth?tx=<TX half>&parent=<page URL>&v=<version> in an
// iframe. The frame checks the TX half with the integration's secret key,
// shows the prompt, and finally posts AUTH|… (or ERR|…) to the parent page.

// AuthLifetime is how long the AUTH answer is valid; the SDKs only check
// now < expiry, and Duo's own answers live as long as a TX half.
const AuthLifetime = duoweb.DuoExpire

// Session.Data key: the prefix of the answer (AUTH, or ENROLL for a
// sign_enroll_request).
const dataAnswer = "answer"

// Integrations is what the frame needs from the core.
type Integrations interface {
	Integration(ctx context.Context, ikey string) (store.Integration, string, error)
}

// Starter starts a prompt (prompt.Prompt).
type Starter interface {
	Start(w http.ResponseWriter, r *http.Request, s prompt.Session) error
}

// WebSDK serves the Web SDK v2 frame and is the prompt's Finisher for
// prompt.KindWebSDK sessions.
type WebSDK struct {
	Core   Integrations
	Prompt Starter
	Now    func() time.Time // nil: time.Now
}

var _ prompt.Finisher = (*WebSDK)(nil)

func (f *WebSDK) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Register adds the frame's route. Duo's JS loads it with GET; POST (a
// form with the same fields) is accepted too.
func (f *WebSDK) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /frame/web/v1/auth", f.serve)
	mux.HandleFunc("POST /frame/web/v1/auth", f.serve)
}

// Messages posted as ERR|…; Duo-Web-v2.js accepts only [\w\s.()] after the
// bar.
const (
	errMissing  = "This login request is incomplete."
	errInvalid  = "This login request is invalid."
	errExpired  = "This login request has expired. Log in again."
	errWrongApp = "This integration cannot use the Web SDK prompt."
	errInternal = "The login prompt could not be shown. Try again later."
)

var errText = regexp.MustCompile(`^[\w\s.()]+$`)

func (f *WebSDK) serve(w http.ResponseWriter, r *http.Request) {
	q := frameQuery(r)
	if q.tx == "" || q.parent == "" {
		f.fail(w, r, http.StatusBadRequest, errMissing, q.parent, store.Integration{})
		return
	}
	peek, err := duoweb.PeekValue(q.tx)
	if err != nil {
		f.fail(w, r, http.StatusBadRequest, errInvalid, q.parent, store.Integration{})
		return
	}
	in, skey, err := f.Core.Integration(r.Context(), peek.IKey)
	switch {
	case auth.IsKind(err, auth.KindNotFound):
		f.fail(w, r, http.StatusBadRequest, errInvalid, q.parent, store.Integration{})
		return
	case err != nil:
		httpapi.Logger(r.Context()).Error("web sdk frame: integration", "err", err)
		f.fail(w, r, http.StatusInternalServerError, errInternal, q.parent, store.Integration{})
		return
	}
	httpapi.SetIKey(r.Context(), in.IKey)
	if in.Type != store.TypeWebSDK {
		f.fail(w, r, http.StatusForbidden, errWrongApp, q.parent, store.Integration{})
		return
	}
	answer := duoweb.PrefixAuth
	if peek.Prefix == duoweb.PrefixEnrollRequest {
		answer = duoweb.PrefixEnroll
	}
	v, err := duoweb.VerifyValue(skey, q.tx, peek.Prefix, in.IKey, f.now())
	if err == nil && peek.Prefix != duoweb.PrefixTX && peek.Prefix != duoweb.PrefixEnrollRequest {
		err = duoweb.ErrInvalid // e.g. an APP or AUTH value signed with the skey
	}
	switch {
	case errors.Is(err, duoweb.ErrExpired):
		f.fail(w, r, http.StatusBadRequest, errExpired, q.parent, in)
		return
	case err != nil:
		f.fail(w, r, http.StatusBadRequest, errInvalid, q.parent, in)
		return
	}
	if _, err := prompt.ParentOrigin(in, q.parent); err != nil {
		// Not a page this integration may be framed by: tell nobody.
		prompt.RenderError(w, r, http.StatusForbidden, "Cannot continue",
			"This page may not show the login prompt.", in.AllowedOrigins)
		return
	}
	err = f.Prompt.Start(w, r, prompt.Session{Kind: prompt.KindWebSDK, IKey: in.IKey, Username: v.Username,
		Parent: q.parent, Data: map[string]string{dataAnswer: answer}})
	if err != nil {
		httpapi.Logger(r.Context()).Error("web sdk frame: start prompt", "err", err)
		f.fail(w, r, http.StatusInternalServerError, errInternal, q.parent, in)
	}
}

// fail shows an error page that also posts ERR|msg to the parent page (so
// Duo-Web-v2.js hands it to the application), never AUTH. The parent
// origin is untrusted here, but an error is nothing to keep from it.
func (f *WebSDK) fail(w http.ResponseWriter, r *http.Request, status int, msg, parent string, in store.Integration) {
	origin, err := prompt.ParentOrigin(in, parent)
	pg := web.Page{Title: "Cannot continue", State: web.StateError, Message: msg, MessageKind: "error"}
	hd := web.Headers{FrameAncestors: prompt.FrameAncestors(in, parent)}
	if err == nil && errText.MatchString(msg) {
		pg.ParentMessage, pg.ParentOrigin = "ERR|"+msg, origin
	}
	_ = web.Render(w, status, pg, hd)
}

// Finish posts the signed answer to the parent page: AUTH|b64(user|ikey|
// exp)|hmac, exactly what verify_response expects, and Duo-Web-v2.js
// submits it with the APP half as sig_response.
func (f *WebSDK) Finish(w http.ResponseWriter, r *http.Request, s prompt.Session, o prompt.Outcome) error {
	in, skey, err := f.Core.Integration(r.Context(), s.IKey)
	if err != nil {
		return err
	}
	origin, err := prompt.ParentOrigin(in, s.Parent)
	if err != nil {
		return err
	}
	prefix := s.Data[dataAnswer]
	if prefix != duoweb.PrefixEnroll {
		prefix = duoweb.PrefixAuth
	}
	msg := duoweb.Value{Prefix: prefix, Username: s.Username, IKey: in.IKey,
		Expires: f.now().Add(AuthLifetime)}.Sign(skey)
	return web.Render(w, http.StatusOK, web.Page{Title: "Logging you in", State: web.StateDone, Username: s.Username,
		Message: "Success. Logging you in…", MessageKind: "success", ParentMessage: msg, ParentOrigin: origin},
		web.Headers{FrameAncestors: prompt.FrameAncestors(in, s.Parent)})
}

type frameParams struct{ tx, parent, v string }

// frameQuery reads tx, parent and v. Duo-Web-v2.js 2.9 encodes both with
// encodeURIComponent, 2.3–2.8 only parent, 2.1–2.2 neither; so the raw
// query is cut by hand: "+" in a raw base64 tx stays "+", and an unencoded
// parent (with its own ? and &) runs up to "&v=".
func frameQuery(r *http.Request) frameParams {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil && r.PostForm.Get("tx") != "" {
			return frameParams{tx: r.PostForm.Get("tx"), parent: r.PostForm.Get("parent"), v: r.PostForm.Get("v")}
		}
	}
	return parseFrameQuery(r.URL.RawQuery)
}

// maxFrameQuery bounds the raw query: a TX half and a page URL.
const maxFrameQuery = 16 << 10

func parseFrameQuery(raw string) frameParams {
	if len(raw) > maxFrameQuery {
		return frameParams{}
	}
	var p frameParams
	rest := raw
	txAt := paramStart(rest, "tx")
	if i := txAt; i >= 0 {
		v := rest[i+len("tx="):]
		if j := strings.IndexByte(v, '&'); j >= 0 {
			v = v[:j]
		}
		p.tx = unescape(v)
	}
	if i := paramStart(rest, "parent"); i >= 0 {
		v := rest[i+len("parent="):]
		if j := strings.LastIndex(v, "&v="); j >= 0 {
			p.v = unescape(v[j+len("&v="):])
			v = v[:j]
		}
		if txAt > i {
			// tx follows parent (jQuery.param in Web SDK v1, or a form
			// encoder sorting keys: parent, tx, v): parent ends there.
			if j := strings.Index(v, "&tx="); j >= 0 {
				v = v[:j]
			}
		}
		p.parent = unescape(v)
	} else if i := paramStart(rest, "v"); i >= 0 {
		p.v = unescape(strings.SplitN(rest[i+2:], "&", 2)[0])
	}
	return p
}

// paramStart finds name= at the start of the query or after an "&".
func paramStart(q, name string) int {
	if strings.HasPrefix(q, name+"=") {
		return 0
	}
	if i := strings.Index(q, "&"+name+"="); i >= 0 {
		return i + 1
	}
	return -1
}

// unescape decodes %XX but keeps "+" (a base64 character, not a space).
func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

package authapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/httpapi"
)

// The legacy Auth API v1 (/rest/v1/*) is what deployed duo_unix releases
// before 2.2 speak: 1.x before 1.12 (Debian 12's login_duo and pam_duo
// 1.11.3) call /rest/v1/<name>.bson and need BSON answers; 1.12–2.1 call
// <name>.json; the Python AuthV1 class calls the bare names. The handlers
// below only translate: the v1 parameters and answers are mapped onto the
// same core calls as v2.

// v1Prefix is where the legacy API lives.
const v1Prefix = "/rest/v1/"

// v1Format is the encoding of one v1 route, chosen by its suffix: JSON for
// ".json" and the bare name, BSON for ".bson". Errors use the same format
// as answers, since a client that asked for BSON cannot read JSON.
type v1Format struct {
	bson bool
}

func (f v1Format) ok(w http.ResponseWriter, resp any) {
	if f.bson {
		httpapi.WriteOKBSON(w, resp)
		return
	}
	httpapi.WriteOK(w, resp)
}

func (f v1Format) fail(w http.ResponseWriter, r *http.Request, err error) {
	if f.bson {
		httpapi.RenderBSON(w, r, err)
		return
	}
	httpapi.Render(w, r, err)
}

// v1Handler serves one verified v1 call and writes its answer with out.
type v1Handler func(w http.ResponseWriter, r *http.Request, c *httpapi.Call, out v1Format) error

// registerV1 adds /rest/v1/{ping,check,logo,preauth,auth,status}, each
// also with the .json and .bson suffixes.
func (a *API) registerV1(mux *http.ServeMux, s *httpapi.Signer) {
	routes := []struct {
		name, method string
		signed       bool
		h            v1Handler
	}{
		{"ping", http.MethodGet, false, a.v1Ping},
		{"check", http.MethodGet, true, a.v1Check},
		{"logo", http.MethodGet, true, a.v1Logo},
		{"preauth", http.MethodPost, true, a.v1Preauth},
		{"auth", http.MethodPost, true, a.v1Auth},
		{"status", http.MethodGet, true, a.v1Status},
	}
	for _, rt := range routes {
		// duo_unix before 2.0.4 signs with version 1, which covers no
		// date: these routes accept it from any integration (a captured
		// request can be replayed here, and only here).
		route := httpapi.Route{Types: authTypes, MaxBody: MaxSmallBody, Versions: duosig.WithUndatedV1}
		if rt.name == "auth" {
			route.MaxBody = MaxAuthBody
		}
		for _, suffix := range []string{"", ".json", ".bson"} {
			f := v1Format{bson: suffix == ".bson"}
			h := rt.h
			var handler http.Handler
			switch {
			case !rt.signed:
				// ping answers whether or not the client signed it.
				handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if err := h(w, r, nil, f); err != nil {
						f.fail(w, r, err)
					}
				})
			case f.bson:
				handler = s.RequireBSON(route, func(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
					return h(w, r, c, f)
				})
			default:
				handler = s.Require(route, func(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
					return h(w, r, c, f)
				})
			}
			mux.Handle(v1Prefix+rt.name+suffix, v1Only(rt.method, f, handler))
		}
	}
	// Unknown v1 names still get an answer the caller can parse.
	mux.Handle(v1Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := v1Format{bson: strings.HasSuffix(r.URL.Path, ".bson")}
		f.fail(w, r, httpapi.ErrNotFound)
	}))
}

// v1Only is only for v1 routes: the 405 comes in the route's format.
func v1Only(method string, f v1Format, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			f.fail(w, r, &httpapi.Error{Status: http.StatusMethodNotAllowed, Code: httpapi.CodeMethodNotAllowed, Message: "Method not allowed"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (a *API) v1Ping(w http.ResponseWriter, r *http.Request, _ *httpapi.Call, out v1Format) error {
	out.ok(w, "pong")
	return nil
}

func (a *API) v1Check(w http.ResponseWriter, r *http.Request, _ *httpapi.Call, out v1Format) error {
	out.ok(w, "valid")
	return nil
}

func (a *API) v1Logo(w http.ResponseWriter, r *http.Request, c *httpapi.Call, _ v1Format) error {
	return a.logo(w, r, c)
}

// v1Request reads the v1 user parameters: v1 names the user `user` (v2:
// `username`) and has no user_id.
func v1Request(c *httpapi.Call) (auth.Request, error) {
	p := c.Params
	user := p.Get("user")
	if user == "" {
		return auth.Request{}, httpapi.InvalidParams("user: is required")
	}
	return auth.Request{
		Integration: c.Integration,
		Username:    user,
		IP:          p.Get("ipaddr"),
		Hostname:    p.Get("hostname"),
	}, nil
}

// v1Preauth answers in v1's shape: for result "auth" the menu text as a
// plain `prompt` string and `factors` beside it (duo_unix maps the typed
// choice through factors, "1" → "push1"); for other results the message in
// `status`, which duo_unix prints.
func (a *API) v1Preauth(w http.ResponseWriter, r *http.Request, c *httpapi.Call, out v1Format) error {
	req, err := v1Request(c)
	if err != nil {
		return err
	}
	// failmode (open/closed) only tells the server what the client does
	// when the server fails; nothing here depends on it.
	res, err := a.Core.Preauth(r.Context(), auth.PreauthRequest{Request: req, TextPrompt: true})
	if err != nil {
		return err
	}
	out.ok(w, PreauthV1(res))
	return nil
}

// PreauthV1 renders a preauth result in the legacy v1 shape.
func PreauthV1(res auth.PreauthResult) map[string]any {
	resp := map[string]any{"result": res.Result}
	switch res.Result {
	case auth.ResultAuth:
		text, factors := "", map[string]string{}
		if res.Prompt != nil {
			text = res.Prompt.Text
			if res.Prompt.Factors != nil {
				factors = res.Prompt.Factors
			}
		}
		resp["prompt"] = text
		resp["factors"] = factors
	case auth.ResultEnroll:
		// duo_unix shows only `status` before giving up, so it must say
		// where to enroll.
		status := res.StatusMsg
		if res.EnrollPortalURL != "" {
			status += ": " + res.EnrollPortalURL
		}
		resp["status"] = status
	default:
		resp["status"] = res.StatusMsg
	}
	return resp
}

// v1Auth maps v1's factors onto the core:
//
//   - factor=auto&auto=<choice> (what duo_unix sends): the choice is a
//     factor name from the preauth menu (push1, phone2, …) or a typed
//     passcode, exactly v2's factor=prompt&prompt=<choice>; without `auto`
//     it is v2's factor=auto;
//   - factor=passcode&code=<passcode>;
//   - factor=push|phone|sms&phone=phoneN: device N of the user, as the
//     prompt factor pushN/phoneN/smsN.
func (a *API) v1Auth(w http.ResponseWriter, r *http.Request, c *httpapi.Call, out v1Format) error {
	p := c.Params
	req, err := v1Request(c)
	if err != nil {
		return err
	}
	async, err := p.Bool("async")
	if err != nil {
		return err
	}
	ar := auth.AuthRequest{Request: req, Async: async, PushInfo: p.Get("pushinfo")}
	switch factor := p.Get("factor"); factor {
	case "auto":
		if choice := p.Get("auto"); choice != "" {
			ar.Factor, ar.Prompt = auth.FactorPrompt, choice
		} else {
			ar.Factor, ar.Device = auth.FactorAuto, "auto"
		}
	case "passcode":
		code := p.Get("code")
		if code == "" {
			return httpapi.InvalidParams("code: is required with factor=passcode")
		}
		ar.Factor, ar.Passcode = auth.FactorPasscode, code
	case "push", "phone", "sms":
		phone := p.Get("phone")
		if phone == "" {
			ar.Factor, ar.Device = factor, "auto"
			break
		}
		n, ok := phoneIndex(phone)
		if !ok {
			return httpapi.InvalidParams("phone: must be phone1, phone2, …")
		}
		ar.Factor, ar.Prompt = auth.FactorPrompt, factor+strconv.Itoa(n)
	case "":
		return httpapi.InvalidParams("factor: is required")
	default:
		return httpapi.InvalidParams("factor: must be auto, passcode, push, phone or sms")
	}
	if !async {
		return a.answerAuth(w, r, ar, func(w http.ResponseWriter, res auth.AuthResult) {
			out.ok(w, map[string]any{"result": res.Result, "status": res.StatusMsg})
		}, out.fail)
	}
	res, err := a.Core.Auth(r.Context(), ar)
	if err != nil {
		return err
	}
	out.ok(w, map[string]any{"txid": res.TxID})
	return nil
}

// phoneIndex parses v1's phoneN (1-based device position).
func phoneIndex(s string) (int, bool) {
	num, ok := strings.CutPrefix(s, "phone")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}

// v1Status long-polls like v2's auth_status. While the transaction waits,
// the answer has only `status`: v1 clients treat the presence of `result`
// as the end (duo_unix rejects any result other than allow or deny).
func (a *API) v1Status(w http.ResponseWriter, r *http.Request, c *httpapi.Call, out v1Format) error {
	st, err := a.Core.AuthStatus(r.Context(), c.Integration, c.Params.Get("txid"))
	if err != nil {
		return err
	}
	resp := map[string]any{"status": st.StatusMsg}
	if st.Result == auth.ResultAllow || st.Result == auth.ResultDeny {
		resp["result"] = st.Result
	}
	out.ok(w, resp)
	return nil
}

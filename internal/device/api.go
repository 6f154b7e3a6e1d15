// Package device speaks the Duo Mobile device protocol (/push/v2/*, spec
// §5): activation of authenticator devices and the RSA-signed requests with
// which they list and answer pushes. The server side (API) parses and
// formats and leaves decisions to the auth core; the client side (Client)
// is the `assent device` command-line authenticator, which tests also use
// to act as a phone.
package device

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/webpush"
)

// Core is what the device API needs from the domain core.
type Core interface {
	Activate(ctx context.Context, req auth.ActivateRequest) (auth.Activation, error)
	DeviceKey(ctx context.Context, deviceID string) (store.Device, *rsa.PublicKey, error)
	DeviceSeen(ctx context.Context, d store.Device)
	Pending(ctx context.Context, deviceID string) ([]auth.PendingPush, error)
	AnswerPush(ctx context.Context, deviceID, txid string, a auth.PushAnswer) (string, error)
	RegisterPushToken(ctx context.Context, deviceID, token string) error
}

var _ Core = (*auth.Service)(nil)

// WebPushRegistrar stores a device's Web Push subscription (a
// *webpush.Notifier); an invalid one is an error wrapping
// webpush.ErrInvalid.
type WebPushRegistrar interface {
	Register(ctx context.Context, deviceID, endpoint, p256dh, auth string) error
}

// DefaultCustomerName is what devices show when API.CustomerName is empty;
// it matches the core's default.
const DefaultCustomerName = "Assent"

// API serves /push/v2.
type API struct {
	Core Core
	// Logo is the PNG sent to activating devices as customer_logo.
	Logo []byte
	// LogoFrom, when set, returns a logo uploaded in the console, sent
	// instead of Logo; nil or empty: Logo.
	LogoFrom func(ctx context.Context) []byte
	// CustomerName is shown by /push/v2/device/info and on pushes; the
	// activation answer carries the core's own name.
	CustomerName string
	// Hosts are the server's configured names (config.Hostnames()); a
	// device must sign one of them, with or without its port.
	Hosts []string
	// Window is the accepted clock skew; 0 means duosig.DefaultWindow.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ActivationLimit bounds wrong activation codes per client address
	// (rate_limit_activation_failures_per_ip); nil limits nothing.
	ActivationLimit *ratelimit.Named
	// Failures is spent on every failed device signature (unknown device,
	// missing or bad date, bad signature) from a client address; a client
	// whose bucket is empty is answered 429 before anything is looked up.
	// nil: no limit. The server shares it with the Auth API's signer.
	Failures *ratelimit.Named
	// WebPush registers the Web Push subscriptions of the Assent
	// Authenticator (POST /push/v2/device/webpush); nil: not served.
	WebPush WebPushRegistrar

	logo64 string
	hosts  []string // candidate host lines, from Hosts
}

// MaxBody bounds every device API body: what devices send is tiny (an
// activation is a public key and a few short device fields, about 1.5 KB
// with a 4096-bit key; answers and registrations well under 1 KB), and it
// is what an unauthenticated client can make the server read.
const MaxBody = 8 << 10

// Register adds the device routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	if a.CustomerName == "" {
		a.CustomerName = DefaultCustomerName
	}
	if a.Window <= 0 {
		a.Window = duosig.DefaultWindow
	}
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.ActivationLimit == nil {
		a.ActivationLimit = ratelimit.NewNamed("activation", ratelimit.Limit{}, ratelimit.Options{})
	}
	a.logo64 = base64.StdEncoding.EncodeToString(a.Logo)
	a.hosts = candidateHosts(a.Hosts)
	// The code is a bearer secret: a {…} wildcard keeps it out of the access
	// log (httpapi.LogPath), "..." even from near misses.
	mux.Handle("/push/v2/activation/{code...}", cors(http.MethodPost, only(http.MethodPost, httpapi.Handle(a.activate))))
	mux.Handle("/push/v2/device/transactions", cors(http.MethodGet, only(http.MethodGet, a.signed(a.transactions))))
	mux.Handle("/push/v2/device/transactions/{urgid}", cors(http.MethodPost, only(http.MethodPost, a.signed(a.answer))))
	mux.Handle("/push/v2/device/registration", only(http.MethodPost, a.signed(a.registration)))
	mux.Handle("/push/v2/device/info", cors(http.MethodGet, only(http.MethodGet, a.signed(a.info))))
	if a.WebPush != nil {
		mux.Handle("/push/v2/device/webpush", cors(http.MethodPost, only(http.MethodPost, a.signed(a.webPush))))
	}
}

// CORSMaxAge is how long a browser may cache a device API preflight.
const CORSMaxAge = "600"

// cors lets the Assent Authenticator served by another Assent server call
// this one's device endpoints (an app holding accounts of several servers):
// it echoes an https:// Origin and answers the preflight for the method
// the endpoint takes with the headers the app sends.
//
// This is safe because nothing here rides on ambient credentials: the
// device API uses no cookies and no HTTP authentication a browser would
// add by itself (Allow-Credentials is never sent, so a browser sends none
// anyway). Every device request is signed with the device's private RSA key
// (Authorization and X-Duo-Date, checked against the registered public key
// and the clock window) or, for an activation, carries the single-use
// activation code in its path. A page of any origin can build exactly the
// same requests with a plain HTTP client; CORS only lets a page read the
// answers to requests it could sign or codes it already holds.
func cors(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if !corsOrigin(origin) {
			h.ServeHTTP(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Add("Vary", "Origin")
		if r.Method != http.MethodOptions {
			h.ServeHTTP(w, r)
			return
		}
		hd.Add("Vary", "Access-Control-Request-Method")
		hd.Add("Vary", "Access-Control-Request-Headers")
		hd.Set("Access-Control-Allow-Methods", method)
		hd.Set("Access-Control-Allow-Headers", "Authorization, X-Duo-Date, Content-Type")
		hd.Set("Access-Control-Max-Age", CORSMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}

// corsOrigin reports whether origin is a serialized https origin
// (https://host[:port], nothing after it).
func corsOrigin(origin string) bool {
	rest, ok := strings.CutPrefix(origin, "https://")
	if !ok || rest == "" || len(origin) > 300 {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "https" && u.Host == rest && u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == ""
}

// only answers other methods with Duo's envelope rather than the mux's
// plain-text 405, so every client can parse the answer.
func only(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			httpapi.WriteError(w, &httpapi.Error{Status: http.StatusMethodNotAllowed, Code: httpapi.CodeMethodNotAllowed, Message: "Method not allowed"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// errUnknownActivation is the answer duo-hotp documents; the HTTP status is
// not known publicly, 404 matches the code's 404xx class.
var errUnknownActivation = &httpapi.Error{Status: http.StatusNotFound, Code: 40403, Message: "Unknown activation code"}

type activationResponse struct {
	AKey             string `json:"akey"`
	CustomerLogo     string `json:"customer_logo"`
	CustomerName     string `json:"customer_name"`
	HasBackupRestore bool   `json:"has_backup_restore"`
	HOTPSecret       string `json:"hotp_secret"`
	PKey             string `json:"pkey"`
	UseTOTP          bool   `json:"use_totp"`
}

// activate registers a device. It is unsigned: the activation code is the
// credential. Clients send parameters in the query, a form body or both;
// device-description fields other than the name and platform are ignored.
// An address that sent too many wrong codes is refused (429) before any
// code is looked up.
func (a *API) activate(w http.ResponseWriter, r *http.Request) error {
	addr := ratelimit.AddrKey(r.RemoteAddr)
	if ok, retry := a.ActivationLimit.Begin(addr); !ok {
		a.ActivationLimit.Warn(httpapi.Logger(r.Context()), addr, retry)
		return httpapi.TooManyRequests("too many wrong activation codes from this address; try again later", retry)
	}
	wrongCode := false
	defer func() { a.ActivationLimit.End(addr, wrongCode) }()
	p, err := httpapi.ReadParamsLimit(w, r, MaxBody)
	if err != nil {
		return err
	}
	pubkey := p.Get("pubkey")
	if pubkey == "" {
		return httpapi.InvalidParams("pubkey: is required")
	}
	if pk := p.Get("pkpush"); pk != "" && !strings.EqualFold(pk, "rsa-sha512") {
		return httpapi.InvalidParams("pkpush: must be rsa-sha512")
	}
	name := p.Get("device_name")
	if name == "" {
		name = p.Get("model")
	}
	act, err := a.Core.Activate(r.Context(), auth.ActivateRequest{
		Code:      r.PathValue("code"),
		PublicKey: pubkey,
		Name:      name,
		Platform:  p.Get("platform"),
	})
	if errors.Is(err, auth.ErrUnknownActivation) {
		wrongCode = true
		return errUnknownActivation
	}
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, activationResponse{
		AKey:         act.AKey,
		CustomerLogo: a.customerLogo(r.Context()),
		CustomerName: act.CustomerName,
		HOTPSecret:   act.HOTPSecret,
		PKey:         act.Device.ID,
	})
	return nil
}

// deviceHandler serves a request signed by dev.
type deviceHandler func(w http.ResponseWriter, r *http.Request, dev store.Device, p *httpapi.Params) error

// signed wraps h so it runs only for requests signed by an activated
// device (spec §5.3).
func (a *API) signed(h deviceHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dev, p, err := a.authenticate(w, r)
		if err == nil {
			err = h(w, r, dev, p)
		} else {
			// Say why at debug level: a client that signs differently from
			// all the known ones is found here.
			httpapi.Logger(r.Context()).Debug("device request rejected", "err", err)
		}
		if err != nil {
			httpapi.Render(w, r, err)
		}
	})
}

// ErrDeviceNotRegistered answers a request signed by a device the server
// does not know: removed by an administrator (or with its user), or never
// activated here. It keeps the status and code of an unknown key (401,
// 40102), which clients treat as credentials no longer valid, and says in
// words what happened and what to do.
var ErrDeviceNotRegistered = &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeBadIKey,
	Message: "Device is not registered",
	Detail:  "this device is no longer registered with this server (it was removed, or was never activated here); activate it again with a new activation code"}

// authenticate checks the date and the RSA signature of a device request
// and returns the device and its parameters, cheapest rejection first: the
// Authorization header, the client's failure budget, the date (so replayed
// or stale requests cost no store access), the device; only then is the
// body read, within MaxBody, and the signature checked over a fixed set of
// canonical strings.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (store.Device, *httpapi.Params, error) {
	pkey, sig, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return store.Device{}, nil, duosig.ErrMissingCredentials
	}
	client := httpapi.ClientKey(r)
	if blocked, retry := a.Failures.Blocked(client); blocked {
		a.Failures.Warn(httpapi.Logger(r.Context()), client, retry)
		return store.Device{}, nil, httpapi.TooManyRequests("too many failed signatures from this address", retry)
	}
	fail := func(err error) (store.Device, *httpapi.Params, error) {
		a.Failures.Fail(client)
		return store.Device{}, nil, err
	}
	date := duosig.DateHeader(r.Header)
	if err := checkDate(date, a.Now(), a.Window); err != nil {
		return fail(err)
	}
	dev, key, err := a.Core.DeviceKey(r.Context(), pkey)
	if auth.IsKind(err, auth.KindNotFound) {
		return fail(ErrDeviceNotRegistered)
	}
	if err != nil {
		return store.Device{}, nil, err
	}
	p, err := httpapi.ReadParamsLimit(w, r, MaxBody)
	if err != nil {
		return store.Device{}, nil, err
	}
	sr := signedRequest{
		Date:     date,
		Method:   r.Method,
		Path:     rawPath(r),
		Hosts:    a.hosts,
		Query:    p.Query,
		Form:     p.Form,
		RawQuery: r.URL.RawQuery,
	}
	if p.Form != nil {
		sr.RawForm = string(p.Body)
	}
	if !verifySignature(key, sig, sr) {
		return fail(duosig.ErrBadSignature)
	}
	a.Core.DeviceSeen(r.Context(), dev)
	return dev, p, nil
}

// rawPath is the path exactly as the client sent it: clients sign what
// they send.
func rawPath(r *http.Request) string {
	if p, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(p, "/") {
		return p
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// Transaction is a push as devices receive it (spec §5.4).
type Transaction struct {
	// Attributes are [label, value] pairs shown to the user.
	Attributes [][]string `json:"attributes"`
	Expiration int64      `json:"expiration"`
	Summary    string     `json:"summary"`
	Time       int64      `json:"time"`
	Type       string     `json:"type"`
	// TxID is the urgid the device answers, the Auth API's txid.
	TxID string `json:"urgid"`
	// StepUpCodeInfo is present for a Verified Push: the device must ask
	// for the code shown on the login screen (never sent here) and send it
	// back as step_up_code.
	StepUpCodeInfo *StepUpCodeInfo `json:"step_up_code_info,omitempty"`
}

// StepUpCodeInfo says how long a Verified Push code is (Duo's shape).
type StepUpCodeInfo struct {
	NumDigits int `json:"num_digits"`
}

// Attr returns the value of the first attribute labelled label, or "".
func (t Transaction) Attr(label string) string {
	for _, kv := range t.Attributes {
		if len(kv) == 2 && kv[0] == label {
			return kv[1]
		}
	}
	return ""
}

type transactionsResponse struct {
	Transactions []Transaction `json:"transactions"`
}

func (a *API) transactions(w http.ResponseWriter, r *http.Request, dev store.Device, _ *httpapi.Params) error {
	list, err := a.Core.Pending(r.Context(), dev.ID)
	if err != nil {
		return err
	}
	out := transactionsResponse{Transactions: make([]Transaction, 0, len(list))}
	for _, p := range list {
		out.Transactions = append(out.Transactions, a.transaction(p))
	}
	httpapi.WriteOK(w, out)
	return nil
}

// transaction renders a pending push with what Duo Mobile shows: who, for
// which application, when and from where, then the integration's pushinfo.
func (a *API) transaction(p auth.PendingPush) Transaction {
	typ := p.Type
	if typ == "" {
		typ = "Login"
	}
	summary := typ + " request"
	if p.IntegrationName != "" {
		summary += " for " + p.IntegrationName
	}
	attrs := [][]string{
		{"Username", p.Username},
		{"Organization", a.CustomerName},
	}
	if p.IntegrationName != "" {
		attrs = append(attrs, []string{"Application", p.IntegrationName})
	}
	attrs = append(attrs, []string{"Time", p.Created.UTC().Format(time.RFC1123)})
	if p.IP != "" {
		attrs = append(attrs, []string{"IP Address", p.IP})
	}
	if p.Hostname != "" {
		attrs = append(attrs, []string{"Hostname", p.Hostname})
	}
	attrs = append(attrs, pushInfo(p.PushInfo)...)
	t := Transaction{
		Attributes: attrs,
		Expiration: p.Expires.Unix(),
		Summary:    summary,
		Time:       p.Created.Unix(),
		Type:       typ,
		TxID:       p.ID,
	}
	if p.StepUpDigits > 0 {
		t.StepUpCodeInfo = &StepUpCodeInfo{NumDigits: p.StepUpDigits}
	}
	return t
}

// pushInfo decodes Duo's URL-encoded pushinfo into [key, value] pairs in
// the order the integration gave them; undecodable pieces are shown as
// they are rather than dropped.
func pushInfo(s string) [][]string {
	var out [][]string
	for piece := range strings.SplitSeq(s, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		out = append(out, []string{k, v})
	}
	return out
}

type answerResponse struct {
	Result string `json:"result"`
}

// Answers a device sends (answer=…). Duo Mobile's fraud report is not
// publicly characterised; Assent's clients send answer=fraud.
const (
	AnswerApprove = "approve"
	AnswerDeny    = "deny"
	AnswerFraud   = "fraud"
)

// MaxStepUpCode bounds the step_up_code parameter.
const MaxStepUpCode = 16

// answer records approve, deny or fraud ("This wasn't me"). duo-ext's UI
// sends "reject" for deny. A Verified Push approval carries the code in
// step_up_code; a wrong or missing one denies the push, and the answer's
// result says so ("deny"). Other parameters (akey, txId…) are signed but
// unused.
func (a *API) answer(w http.ResponseWriter, r *http.Request, dev store.Device, p *httpapi.Params) error {
	var ans auth.PushAnswer
	switch strings.ToLower(p.Get("answer")) {
	case AnswerApprove:
		ans.Approve = true
	case AnswerDeny, "reject":
	case AnswerFraud:
		ans.Fraud = true
	default:
		return httpapi.InvalidParams("answer: must be approve, deny or fraud")
	}
	ans.Code = p.Get("step_up_code")
	if len(ans.Code) > MaxStepUpCode {
		return httpapi.InvalidParams("step_up_code: is too long")
	}
	state, err := a.Core.AnswerPush(r.Context(), dev.ID, r.PathValue("urgid"), ans)
	if err != nil {
		return err
	}
	res := answerResponse{Result: AnswerDeny}
	switch state {
	case store.TxAllow:
		res.Result = AnswerApprove
	case store.TxFraud:
		res.Result = AnswerFraud
	}
	httpapi.WriteOK(w, res)
	return nil
}

func (a *API) registration(w http.ResponseWriter, r *http.Request, dev store.Device, p *httpapi.Params) error {
	token := p.Get("token")
	if token == "" {
		return httpapi.InvalidParams("token: is required")
	}
	if err := a.Core.RegisterPushToken(r.Context(), dev.ID, token); err != nil {
		return err
	}
	httpapi.WriteOK(w, struct{}{})
	return nil
}

// Info is the answer of /push/v2/device/info. Duo's body is not publicly
// characterised; this one is kept small.
type Info struct {
	CustomerName string `json:"customer_name"`
	Name         string `json:"name"`
	Platform     string `json:"platform"`
	PKey         string `json:"pkey"`
}

func (a *API) info(w http.ResponseWriter, r *http.Request, dev store.Device, _ *httpapi.Params) error {
	httpapi.WriteOK(w, Info{CustomerName: a.CustomerName, Name: dev.Name, Platform: dev.Platform, PKey: dev.ID})
	return nil
}

// webPush registers the device's Web Push subscription (Assent's own
// call, signed like the others): endpoint, p256dh and auth as the
// browser's PushSubscription gives them.
func (a *API) webPush(w http.ResponseWriter, r *http.Request, dev store.Device, p *httpapi.Params) error {
	err := a.WebPush.Register(r.Context(), dev.ID, p.Get("endpoint"), p.Get("p256dh"), p.Get("auth"))
	if errors.Is(err, webpush.ErrInvalid) {
		return httpapi.InvalidParams(strings.TrimPrefix(err.Error(), "webpush: "))
	}
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, struct{}{})
	return nil
}

// customerLogo is the logo an activating device gets, base64.
func (a *API) customerLogo(ctx context.Context) string {
	if a.LogoFrom != nil {
		if b := a.LogoFrom(ctx); len(b) > 0 {
			return base64.StdEncoding.EncodeToString(b)
		}
	}
	return a.logo64
}

// Package authapi serves Duo's Auth API v2 (/auth/v2/*): ping, check, logo,
// preauth and auth. It parses and formats; the auth core decides.
package authapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Core is what the Auth API needs from the domain core.
type Core interface {
	Preauth(ctx context.Context, req auth.PreauthRequest) (auth.PreauthResult, error)
	Auth(ctx context.Context, req auth.AuthRequest) (auth.AuthResult, error)
	StartAuth(ctx context.Context, req auth.AuthRequest) (auth.AuthResult, *auth.Held, error)
	AuthStatus(ctx context.Context, in store.Integration, txid string) (auth.Status, error)
	Enroll(ctx context.Context, req auth.EnrollRequest) (auth.Enrollment, error)
	EnrollStatus(ctx context.Context, userID, activationCode string) (string, error)
}

// API serves /auth/v2.
type API struct {
	Core Core
	// Logo is the PNG returned by /auth/v2/logo; nil answers Duo's
	// "Logo not found".
	Logo []byte
	Now  func() time.Time

	// LogoFrom, when set, returns a logo uploaded in the console, which is
	// served instead of Logo; nil or empty: Logo.
	LogoFrom func(ctx context.Context) []byte
	// APIHostname is the public host[:port], for activation URLs.
	APIHostname string
	// Detacher, when set, holds synchronous pushes without their serving
	// goroutine (see held.go); nil: they wait in their handler.
	Detacher *httpapi.Detacher
}

var authTypes = []store.IntegrationType{store.TypeAuthAPI}

// Body limits: every Auth API body is small, and the limit is what an
// unauthenticated client can make the server read before the signature is
// checked.
const (
	// MaxAuthBody is for auth, whose pushinfo Duo limits to 20,000 bytes;
	// 64 KiB holds that even with every byte percent-escaped again in a
	// form body.
	MaxAuthBody = 64 << 10
	// MaxSmallBody is for every other route: a username, an address, a
	// hostname, a code.
	MaxSmallBody = 8 << 10
)

var (
	small    = httpapi.Route{Types: authTypes, MaxBody: MaxSmallBody}
	authCall = httpapi.Route{Types: authTypes, MaxBody: MaxAuthBody}
)

// Register adds the Auth API routes (v2, and the legacy v1) to mux.
func (a *API) Register(mux *http.ServeMux, s *httpapi.Signer) {
	mux.Handle("/auth/v2/ping", only(http.MethodGet, httpapi.Handle(a.ping)))
	mux.Handle("/auth/v2/check", only(http.MethodGet, s.Require(small, a.check)))
	mux.Handle("/auth/v2/logo", only(http.MethodGet, s.Require(small, a.logo)))
	mux.Handle("/auth/v2/preauth", only(http.MethodPost, s.Require(small, a.preauth)))
	mux.Handle("/auth/v2/auth", only(http.MethodPost, s.Require(authCall, a.auth)))
	mux.Handle("/auth/v2/auth_status", only(http.MethodGet, s.Require(small, a.authStatus)))
	mux.Handle("/auth/v2/enroll", only(http.MethodPost, s.Require(small, a.enroll)))
	mux.Handle("/auth/v2/enroll_status", only(http.MethodPost, s.Require(small, a.enrollStatus)))
	// The legacy v1 API, for deployed duo_unix releases before 2.2.
	a.registerV1(mux, s)
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

type timeResponse struct {
	Time int64 `json:"time"`
}

// ping is unsigned for most clients; duo_unix ≥ 2.1 signs it and uses the
// time to correct its clock, so it must be the real time.
func (a *API) ping(w http.ResponseWriter, r *http.Request) error {
	httpapi.WriteOK(w, timeResponse{Time: a.Now().Unix()})
	return nil
}

func (a *API) check(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	httpapi.WriteOK(w, timeResponse{Time: a.Now().Unix()})
	return nil
}

func (a *API) logo(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	logo := a.Logo
	if a.LogoFrom != nil {
		if b := a.LogoFrom(r.Context()); len(b) > 0 {
			logo = b
		}
	}
	if len(logo) == 0 {
		return &httpapi.Error{Status: http.StatusBadRequest, Code: httpapi.CodeInvalidParams, Message: "Logo not found"}
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(logo)
	return nil
}

func request(c *httpapi.Call) auth.Request {
	p := c.Params
	return auth.Request{
		Integration: c.Integration,
		Username:    p.Get("username"),
		UserID:      p.Get("user_id"),
		IP:          p.Get("ipaddr"),
		Hostname:    p.Get("hostname"),
	}
}

func (a *API) preauth(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	textPrompt, err := c.Params.Bool("text_prompt")
	if err != nil {
		return err
	}
	verified, err := c.Params.Bool("client_supports_verified_push")
	if err != nil {
		return err
	}
	res, err := a.Core.Preauth(r.Context(), auth.PreauthRequest{Request: request(c), TextPrompt: textPrompt,
		VerifiedPush: verified, TrustedDeviceToken: c.Params.Get("trusted_device_token")})
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, PreauthJSON(res))
	return nil
}

// PreauthJSON renders a preauth result in Duo's shape. Its fields are in
// the sorted order of Duo's keys (and encoding/json writes struct fields
// in order, without the sorting and boxing a map would cost). devices is
// present exactly for result "auth", enroll_portal_url for "enroll".
func PreauthJSON(res auth.PreauthResult) any {
	out := preauthResponse{Result: res.Result, StatusMsg: res.StatusMsg}
	if res.Result == auth.ResultAuth {
		devices := make([]preauthDevice, 0, len(res.Devices))
		for _, d := range res.Devices {
			caps := d.Capabilities
			if caps == nil {
				caps = []string{}
			}
			devices = append(devices, preauthDevice{Capabilities: caps, Device: d.ID, DisplayName: d.DisplayName,
				Name: d.Name, Number: d.Number, SMSNextCode: d.SMSNextCode, Type: d.Type})
		}
		out.Devices = &devices
	}
	if res.Result == auth.ResultEnroll {
		out.EnrollPortalURL = &res.EnrollPortalURL
	}
	if res.Prompt != nil {
		out.Prompt = &preauthPrompt{Factors: res.Prompt.Factors, Text: res.Prompt.Text}
	}
	out.TxID, out.VerificationCode = res.TxID, res.VerifyCode
	out.Groups = res.Groups
	return out
}

type preauthResponse struct {
	Devices         *[]preauthDevice `json:"devices,omitempty"`
	EnrollPortalURL *string          `json:"enroll_portal_url,omitempty"`
	// Groups, beyond Duo's published API, names the user's groups: Duo's
	// authentication proxy reads them for the duo_only Class attribute.
	Groups    []string       `json:"groups,omitempty"`
	Prompt    *preauthPrompt `json:"prompt,omitempty"`
	Result    string         `json:"result"`
	StatusMsg string         `json:"status_msg"`
	// TxID announces a Verified Push (client_supports_verified_push=1);
	// VerificationCode, beyond Duo, is its code, also in prompt.text, for
	// clients that build their own prompt (assent authproxy's short
	// prompt_format).
	TxID             string `json:"txid,omitempty"`
	VerificationCode string `json:"verification_code,omitempty"`
}

type preauthDevice struct {
	Capabilities []string `json:"capabilities"`
	Device       string   `json:"device"`
	DisplayName  string   `json:"display_name"`
	Name         string   `json:"name"`
	Number       string   `json:"number"`
	SMSNextCode  string   `json:"sms_nextcode,omitempty"`
	Type         string   `json:"type"`
}

type preauthPrompt struct {
	Factors map[string]string `json:"factors"`
	Text    string            `json:"text"`
}

type authResponse struct {
	Result    string `json:"result"`
	Status    string `json:"status"`
	StatusMsg string `json:"status_msg"`
	// TrustedDeviceToken, as Duo's, when the policy remembers devices.
	TrustedDeviceToken string `json:"trusted_device_token,omitempty"`
}

func (a *API) auth(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p := c.Params
	async, err := p.Bool("async")
	if err != nil {
		return err
	}
	req := auth.AuthRequest{
		Request:         request(c),
		Factor:          p.Get("factor"),
		Passcode:        p.Get("passcode"),
		Prompt:          p.Get("prompt"),
		Device:          p.Get("device"),
		Async:           async,
		Type:            p.Get("type"),
		DisplayUsername: p.Get("display_username"),
		PushInfo:        p.Get("pushinfo"),
		TxID:            p.Get("txid"),
	}
	if !async {
		return a.answerAuth(w, r, req, writeAuthResult, httpapi.Render) // see held.go
	}
	res, err := a.Core.Auth(r.Context(), req)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, map[string]string{"txid": res.TxID})
	return nil
}

type authStatusResponse struct {
	AuthDelayed bool   `json:"auth_delayed"`
	Result      string `json:"result"`
	Status      string `json:"status"`
	StatusMsg   string `json:"status_msg"`
	// TrustedDeviceToken, as Duo's, once an async auth was allowed by a
	// second factor and the policy remembers devices.
	TrustedDeviceToken string `json:"trusted_device_token,omitempty"`
}

// authStatus long-polls: it answers when the transaction changes or after
// about 30 s, as duo_unix (20 polls at most) and Duo's docs expect.
func (a *API) authStatus(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	st, err := a.Core.AuthStatus(r.Context(), c.Integration, c.Params.Get("txid"))
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, authStatusResponse{Result: st.Result, Status: st.Status, StatusMsg: st.StatusMsg,
		TrustedDeviceToken: st.TrustedDeviceToken})
	return nil
}

type enrollResponse struct {
	ActivationBarcode string `json:"activation_barcode"`
	ActivationCode    string `json:"activation_code"`
	ActivationURL     string `json:"activation_url"`
	// BypassCodes is present when the request asked for bypass_codes.
	BypassCodes []string `json:"bypass_codes,omitempty"`
	Expiration  int64    `json:"expiration"`
	UserID      string   `json:"user_id"`
	Username    string   `json:"username"`
}

func (a *API) enroll(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p := c.Params
	var valid time.Duration
	if v := p.Get("valid_secs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return httpapi.InvalidParams("valid_secs: must be a whole number of seconds, at least 1")
		}
		valid = time.Duration(n) * time.Second
	}
	// bypass_codes (duo_client_python's enroll) is a count of codes to
	// issue with the activation code; the answer lists them.
	var codes int
	if v := p.Get("bypass_codes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return httpapi.InvalidParams("bypass_codes: must be a whole number of codes (0 to 10)")
		}
		codes = n
	}
	e, err := a.Core.Enroll(r.Context(), auth.EnrollRequest{Username: auth.LookupUsername(c.Integration, p.Get("username")), Valid: valid, IKey: c.Integration.IKey, BypassCodes: codes})
	if err != nil {
		return err
	}
	barcode := QRURL(a.APIHostname, e.ActivationCode)
	httpapi.WriteOK(w, enrollResponse{
		ActivationBarcode: barcode,
		ActivationCode:    e.ActivationCode,
		// There is no app store to send a phone to: the URL shows the code.
		ActivationURL: barcode,
		BypassCodes:   e.BypassCodes,
		Expiration:    e.Expires.Unix(),
		UserID:        e.UserID,
		Username:      e.Username,
	})
	return nil
}

// QRURL is the address of the QR image holding value.
func QRURL(host, value string) string {
	return "https://" + host + "/frame/qr?" + url.Values{"value": {value}}.Encode()
}

func (a *API) enrollStatus(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	st, err := a.Core.EnrollStatus(r.Context(), c.Params.Get("user_id"), c.Params.Get("activation_code"))
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, st)
	return nil
}

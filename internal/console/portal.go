package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authenticatorapp"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
)

// The users' self-service portal at /my/ (issue 15). It shares the
// console's machinery: sessions in the store behind a __Host- cookie
// (its own name, its own table), the CSRF token derived from the session,
// the same-origin check of forms, the strict CSP, the sign-in rate limit
// (per address and per username here). A user signs in with a second
// factor they have (a passcode of any kind, a push, a security key) or a
// fresh enrollment link; every refusal reads the same, so the pages tell
// nobody whether a username exists or what it has.

// PortalCore is what the portal asks of the core.
type PortalCore interface {
	StartUserSession(ctx context.Context, userID, ip string) (string, error)
	UserSession(ctx context.Context, token string) (auth.UserSessionInfo, error)
	UserSessionReauthenticated(ctx context.Context, s store.UserSession) error
	EndUserSession(ctx context.Context, token string) error
	PortalPasscode(ctx context.Context, req auth.Request, passcode string) (store.User, error)
	PortalPush(ctx context.Context, req auth.Request) (string, error)
	PortalPushStatus(ctx context.Context, txid string) (string, store.User, error)
	PortalEnrollLink(ctx context.Context, token string) (store.User, error)
	EnrollLink(ctx context.Context, token string) (auth.EnrollLinkInfo, error)
	UserMethods(ctx context.Context, userID string) ([]auth.Method, error)
	RenameUserMethod(ctx context.Context, userID, methodID, name string) error
	SetDefaultMethod(ctx context.Context, userID, methodID string) error
	RemoveUserMethod(ctx context.Context, userID, methodID string) error
	ReportLoginFraud(ctx context.Context, userID string, logID int64) (store.AuthLog, error)
	Enroll(ctx context.Context, req auth.EnrollRequest) (auth.Enrollment, error)
	BeginTOTPApp(ctx context.Context, req auth.TOTPAppRequest) (auth.TOTPEnrollment, error)
	PendingTOTPApp(ctx context.Context, user, tokenID string) (auth.TOTPEnrollment, error)
	ConfirmTOTPAppFrom(ctx context.Context, ip, user, tokenID, code string) error
	WebAuthnEnabled() bool
	PortalKeyCeremony(ctx context.Context, req auth.Request) (auth.WebAuthnCeremony, error)
	WebAuthnLogin(ctx context.Context, req auth.WebAuthnLoginRequest) (auth.WebAuthnResult, error)
	BeginWebAuthnRegistration(ctx context.Context, req auth.WebAuthnRegistrationRequest) (auth.WebAuthnCeremony, error)
	FinishWebAuthnRegistration(ctx context.Context, req auth.WebAuthnRegistration) (store.WebAuthnCredential, error)
	SMSEnabled() bool
	SendPhoneProof(ctx context.Context, userID, number, extension, name string) (auth.PhoneProofSent, error)
	PendingPhoneProof(ctx context.Context, userID string) (auth.PhoneProofSent, error)
	ConfirmPhoneProof(ctx context.Context, userID, code string) (store.Device, error)
}

// PortalCookieName is the portal's session cookie; PortalPushCookie holds
// a sign-in push's sealed txid while the page waits for the answer.
const (
	PortalCookieName = "__Host-assent-my"
	PortalPushCookie = "__Host-assent-my-push"
)

// portalWait is how long the push page waits for an answer.
const portalWait = 75 * time.Second

// Messages of the portal. msgSignInFailed is every refused sign-in.
const (
	msgSignInFailed = "That did not work. Check the username and try again, or use another method."
	msgReverify     = "That did not work. Try again, or use another method."
	msgSignedOut    = "You are signed out."
)

func (c *Console) portalRoutes() []route {
	return []route{
		{"GET /my/{$}", c.my(c.myHome)},
		{"GET /my/login", c.myPublic(c.myLoginPage)},
		{"POST /my/login", c.myPublic(c.myLoginUser)},
		{"POST /my/login/passcode", c.myPublic(c.myLoginPasscode)},
		{"POST /my/login/key", c.myPublic(c.myLoginKey)},
		{"POST /my/login/push", c.myPublic(c.myLoginPush)},
		{"GET /my/login/push", c.myPublic(c.myLoginPushWait)},
		{"GET /my/enroll/{token}", c.myPublic(c.myEnrollPage)},
		{"POST /my/enroll/{token}", c.myPublic(c.myEnroll)},
		{"POST /my/logout", c.my(c.myLogout)},
		{"POST /my/methods/{id}/rename", c.my(c.myRename)},
		{"POST /my/methods/{id}/default", c.my(c.myDefault)},
		{"GET /my/methods/{id}/remove", c.my(c.myRemovePage)},
		{"POST /my/methods/{id}/remove", c.my(c.myRemove)},
		{"POST /my/add/app", c.my(c.myAddApp)},
		{"POST /my/add/app/confirm", c.my(c.myConfirmApp)},
		{"POST /my/add/key", c.my(c.myAddKey)},
		{"POST /my/add/key/done", c.my(c.myKeyAdded)},
		{"POST /my/add/phone", c.my(c.myAddPhone)},
		{"GET /my/add/number", c.my(c.myAddNumberPage)},
		{"POST /my/add/number", c.my(c.mySendNumberCode)},
		{"POST /my/add/number/confirm", c.my(c.myConfirmNumber)},
		{"POST /my/logins/{id}/report", c.my(c.myReport)},
		{"/my/", c.myPublic(func(w http.ResponseWriter, r *http.Request, p *myPage) error { return errNotFound })},
	}
}

// myPage is what every portal template gets.
type myPage struct {
	Title, Page          string
	Message, MessageKind string
	User                 store.User
	CSRF                 string
	Username             string
	// Sign-in and re-verification: the security key's options (real,
	// or a decoy for a user without keys) and their sealed ceremony.
	KeyOptions string
	KeyState   string
	WebAuthn   bool
	Methods    []auth.Method
	Logins     []loginView
	Method     *auth.Method
	Recent     bool
	// Adding: an authenticator app's QR and key, a phone's activation.
	QR         template.URL
	Secret     string
	TokenID    string
	Activation string
	AppLink    string
	KeyName    string
	// SMS: a phone number can be added (an SMS provider is configured).
	SMS        bool
	PhoneForm  phoneNumberForm
	Refresh    int // seconds: the push page reloads itself (no script)
	EnrollLink string
	// Script is the URL of the prompt's webauthn.js.
	Script string

	session auth.UserSessionInfo
	token   string
	dataImg bool
}

type myHandler func(w http.ResponseWriter, r *http.Request, p *myPage) error

// myPublic serves a portal page without a session; forms posted there
// must come from this server.
func (c *Console) myPublic(h myHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &myPage{WebAuthn: c.Core.WebAuthnEnabled()}
		if r.Method == http.MethodPost && !c.sameOrigin(r) {
			c.myFail(w, r, p, errCSRF)
			return
		}
		if err := h(w, r, p); err != nil {
			c.myFail(w, r, p, err)
		}
	})
}

// my serves a page to a signed-in user; a POST must carry the session's
// CSRF token. Changes are logged with the actor "user:<username>".
func (c *Console) my(h myHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &myPage{WebAuthn: c.Core.WebAuthnEnabled()}
		ck, err := r.Cookie(PortalCookieName)
		if err == nil {
			p.session, err = c.Core.UserSession(r.Context(), ck.Value)
		}
		if err != nil {
			if err != http.ErrNoCookie && !auth.IsKind(err, auth.KindNotFound) {
				c.myFail(w, r, p, err)
				return
			}
			clearNamedCookie(w, PortalCookieName)
			http.Redirect(w, r, "/my/login", http.StatusSeeOther)
			return
		}
		p.token, p.User, p.Recent = ck.Value, p.session.User, p.session.Recent
		p.CSRF = c.csrfFor("portal csrf", ck.Value)
		if r.Method == http.MethodPost {
			if !c.sameOrigin(r) || !c.csrfMatches(r, "portal csrf", ck.Value) {
				c.myFail(w, r, p, errCSRF)
				return
			}
		}
		ctx := auth.WithActor(r.Context(), auth.Actor{Who: "user:" + p.User.Username, IP: clientIP(r)})
		if err := h(w, r.WithContext(ctx), p); err != nil {
			c.myFail(w, r, p, err)
		}
	})
}

func (c *Console) myRender(w http.ResponseWriter, status int, name string, p *myPage) error {
	p.Script = web.AssetURL("webauthn.js")
	return writePage(w, status, name, p, p.dataImg)
}

func (c *Console) myFail(w http.ResponseWriter, r *http.Request, p *myPage, err error) {
	status, title := c.errorPage(r, "portal", err)
	p.Title, p.Page, p.Message, p.MessageKind = title, "error", "", ""
	_ = c.myRender(w, status, "my-error", p)
}

// Sign-in.

func (c *Console) myLoginPage(w http.ResponseWriter, r *http.Request, p *myPage) error {
	p.Title, p.Page = "Sign in", "login"
	if r.URL.Query().Get("done") == "logout" {
		p.Message, p.MessageKind = msgSignedOut, "success"
	}
	return c.myRender(w, http.StatusOK, "my-login", p)
}

// myKeys are the rate limit's keys of a sign-in: the client's address
// and the username (as typed, case-folded).
func myKeys(r *http.Request, username string) []string {
	return []string{"my-ip:" + ratelimit.AddrKey(clientIP(r)), "my-user:" + strings.ToLower(strings.TrimSpace(username))}
}

func formUsername(r *http.Request) (string, error) {
	u := strings.TrimSpace(r.PostFormValue("username"))
	if u == "" || len(u) > 256 {
		return "", &auth.Error{Kind: auth.KindInvalid, Param: "username", Detail: "Enter your username."}
	}
	return u, nil
}

// myLoginUser is the second step: the ways to prove who you are, the
// same for every username.
func (c *Console) myLoginUser(w http.ResponseWriter, r *http.Request, p *myPage) error {
	username, err := formUsername(r)
	if err != nil {
		p.Title, p.Page, p.Message, p.MessageKind = "Sign in", "login", err.(*auth.Error).Detail, "error"
		return c.myRender(w, http.StatusBadRequest, "my-login", p)
	}
	return c.myVerifyPage(w, r, p, username, http.StatusOK, "", "")
}

// myVerifyPage shows the ways to sign in for username, with a message.
func (c *Console) myVerifyPage(w http.ResponseWriter, r *http.Request, p *myPage, username string, status int, msg, kind string) error {
	p.Title, p.Page, p.Username, p.Message, p.MessageKind = "Verify it's you", "verify", username, msg, kind
	if err := c.offerKey(r, p, auth.PortalRequest(username, "", clientIP(r))); err != nil {
		return err
	}
	return c.myRender(w, status, "my-verify", p)
}

// keyState is a WebAuthn ceremony's state, sealed into the page.
type keyState struct {
	Session   []byte    `json:"s,omitempty"`
	Challenge string    `json:"c,omitempty"`
	User      string    `json:"u"` // username (sign-in) or user ID (session)
	Name      string    `json:"n,omitempty"`
	Expires   time.Time `json:"e"`
}

const keyStateAD = "portal webauthn"

func (c *Console) sealKey(k keyState) (string, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	sealed, err := c.Box.Seal(b, []byte(keyStateAD))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (c *Console) openKey(r *http.Request, user string) (keyState, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("state"))
	if err != nil {
		return keyState{}, false
	}
	b, err := c.Box.Open(raw, []byte(keyStateAD))
	if err != nil {
		return keyState{}, false
	}
	var k keyState
	if json.Unmarshal(b, &k) != nil || k.User != user || !c.now().Before(k.Expires) {
		return keyState{}, false
	}
	return k, true
}

func (c *Console) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// offerKey puts a security-key login ceremony on the page (for a user
// without keys, or unknown, the core's decoy).
func (c *Console) offerKey(r *http.Request, p *myPage, req auth.Request) error {
	if !p.WebAuthn {
		return nil
	}
	user := req.Username
	if user == "" {
		user = req.UserID
	}
	cer, err := c.Core.PortalKeyCeremony(r.Context(), req)
	if err != nil {
		return err
	}
	p.KeyOptions = string(cer.Options)
	p.KeyState, err = c.sealKey(keyState{Session: cer.Session, Challenge: cer.Challenge, User: user, Expires: c.now().Add(5 * time.Minute)})
	return err
}

// signedIn starts a session and goes to the portal's first page.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request, u store.User) error {
	token, err := c.Core.StartUserSession(r.Context(), u.ID, clientIP(r))
	if err != nil {
		return err
	}
	setNamedCookie(w, PortalCookieName, token)
	http.Redirect(w, r, "/my/", http.StatusSeeOther)
	return nil
}

// refused renders the verify page again after a failed sign-in and
// counts the failure.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, p *myPage, username string, keys []string) error {
	c.failed(keys...)
	if err := c.limited(keys...); err != nil {
		return err
	}
	return c.myVerifyPage(w, r, p, username, http.StatusUnauthorized, msgSignInFailed, "error")
}

func (c *Console) myLoginPasscode(w http.ResponseWriter, r *http.Request, p *myPage) error {
	username, err := formUsername(r)
	if err != nil {
		return err
	}
	keys := myKeys(r, username)
	if err := c.limited(keys...); err != nil {
		return err
	}
	u, err := c.Core.PortalPasscode(r.Context(), auth.PortalRequest(username, "", clientIP(r)), r.PostFormValue("passcode"))
	if errors.Is(err, auth.ErrPortalLogin) {
		return c.refused(w, r, p, username, keys)
	}
	if err != nil {
		return err
	}
	return c.signedIn(w, r, u)
}

func (c *Console) myLoginKey(w http.ResponseWriter, r *http.Request, p *myPage) error {
	username, err := formUsername(r)
	if err != nil {
		return err
	}
	keys := myKeys(r, username)
	if err := c.limited(keys...); err != nil {
		return err
	}
	k, ok := c.openKey(r, username)
	if !ok || k.Challenge == "" || r.PostFormValue("response") == "" {
		return c.refused(w, r, p, username, keys)
	}
	req := auth.PortalRequest(username, "", clientIP(r))
	res, err := c.Core.WebAuthnLogin(r.Context(), auth.WebAuthnLoginRequest{Request: req, Session: k.Session,
		Challenge: k.Challenge, Response: []byte(r.PostFormValue("response"))})
	if auth.IsKind(err, auth.KindRateLimited) {
		return err
	}
	if err != nil || res.Result != auth.ResultAllow {
		if err != nil && !auth.IsKind(err, auth.KindInvalid) {
			return err
		}
		return c.refused(w, r, p, username, keys)
	}
	return c.signedIn(w, r, store.User{ID: res.Credential.UserID})
}

// pushState is a sign-in push, sealed into a short-lived cookie: only the
// browser that asked can finish it.
type pushState struct {
	TxID     string    `json:"t"`
	Username string    `json:"u"`
	Expires  time.Time `json:"e"`
}

const pushStateAD = "portal push"

func (c *Console) myLoginPush(w http.ResponseWriter, r *http.Request, p *myPage) error {
	username, err := formUsername(r)
	if err != nil {
		return err
	}
	keys := myKeys(r, username)
	if err := c.limited(keys...); err != nil {
		return err
	}
	txid, err := c.Core.PortalPush(r.Context(), auth.PortalRequest(username, "", clientIP(r)))
	if err != nil {
		return err
	}
	b, _ := json.Marshal(pushState{TxID: txid, Username: username, Expires: c.now().Add(portalWait)})
	sealed, err := c.Box.Seal(b, []byte(pushStateAD))
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: PortalPushCookie, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: int(portalWait / time.Second)})
	http.Redirect(w, r, "/my/login/push", http.StatusSeeOther)
	return nil
}

func (c *Console) myLoginPushWait(w http.ResponseWriter, r *http.Request, p *myPage) error {
	var ps pushState
	ck, err := r.Cookie(PortalPushCookie)
	if err == nil {
		var raw, b []byte
		if raw, err = base64.RawURLEncoding.DecodeString(ck.Value); err == nil {
			if b, err = c.Box.Open(raw, []byte(pushStateAD)); err == nil {
				err = json.Unmarshal(b, &ps)
			}
		}
	}
	if err != nil || ps.Username == "" {
		http.Redirect(w, r, "/my/login", http.StatusSeeOther)
		return nil
	}
	result := ""
	var u store.User
	if ps.TxID != "" {
		if result, u, err = c.Core.PortalPushStatus(r.Context(), ps.TxID); err != nil {
			return err
		}
	}
	if result == "" && !c.now().Before(ps.Expires) {
		result = auth.ResultDeny
	}
	switch result {
	case auth.ResultAllow:
		clearNamedCookie(w, PortalPushCookie)
		return c.signedIn(w, r, u)
	case auth.ResultDeny:
		clearNamedCookie(w, PortalPushCookie)
		keys := myKeys(r, ps.Username)
		c.failed(keys...)
		return c.myVerifyPage(w, r, p, ps.Username, http.StatusUnauthorized, msgSignInFailed, "error")
	}
	p.Title, p.Page, p.Username, p.Refresh = "Check your phone", "push", ps.Username, 3
	p.Message, p.MessageKind = "If this account has a phone with push, a request was sent to it. Approve it to sign in; this page moves on by itself.", "info"
	return c.myRender(w, http.StatusOK, "my-push", p)
}

// Enrollment link: GET shows what it is without using it (link
// scanners), the button uses it.
func (c *Console) myEnrollPage(w http.ResponseWriter, r *http.Request, p *myPage) error {
	key := "my-ip:" + ratelimit.AddrKey(clientIP(r))
	if err := c.limited(key); err != nil {
		return err
	}
	info, err := c.Core.EnrollLink(r.Context(), r.PathValue("token"))
	if errors.Is(err, auth.ErrEnrollLinkInvalid) {
		c.failed(key)
	}
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Username, p.EnrollLink = "Set up a way to log in", "enroll", info.Username, r.PathValue("token")
	return c.myRender(w, http.StatusOK, "my-enroll", p)
}

func (c *Console) myEnroll(w http.ResponseWriter, r *http.Request, p *myPage) error {
	key := "my-ip:" + ratelimit.AddrKey(clientIP(r))
	if err := c.limited(key); err != nil {
		return err
	}
	u, err := c.Core.PortalEnrollLink(r.Context(), r.PathValue("token"))
	if errors.Is(err, auth.ErrEnrollLinkInvalid) {
		c.failed(key)
	}
	if err != nil {
		return err
	}
	return c.signedIn(w, r, u)
}

func (c *Console) myLogout(w http.ResponseWriter, r *http.Request, p *myPage) error {
	if err := c.Core.EndUserSession(r.Context(), p.token); err != nil {
		return err
	}
	clearNamedCookie(w, PortalCookieName)
	http.Redirect(w, r, "/my/login?done=logout", http.StatusSeeOther)
	return nil
}

// Signed in.

var myDone = map[string]string{
	"renamed": "The name was changed.",
	"default": "Your default method was changed: it is offered first when you log in.",
	"removed": "The method was removed.",
	"app":     "Your authenticator app was added.",
	"key":     "Your security key was added.",
	"phone":   "When the app shows it is activated, it appears here.",
	"number":  "Your phone number was added: it can receive passcodes by text message.",
	"report":  "Thank you. The login was reported to your administrators as not made by you.",
}

// RecentAuthentications is in Core already (the console's user page).

func (c *Console) myHome(w http.ResponseWriter, r *http.Request, p *myPage) error {
	var err error
	if p.Methods, err = c.Core.UserMethods(r.Context(), p.User.ID); err != nil {
		return err
	}
	rows, err := c.Core.RecentAuthentications(r.Context(), p.User.ID, auth.PortalRecentLogins)
	if err != nil {
		return err
	}
	p.Logins = loginViews(rows)
	p.Title, p.Page, p.SMS = "Your sign-in methods", "home", c.Core.SMSEnabled()
	if m, ok := myDone[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	if len(p.Methods) == 0 && p.Message == "" {
		p.Message, p.MessageKind = "You have no way to log in yet: add one below.", "info"
	}
	return c.myRender(w, http.StatusOK, "my-home", p)
}

// loginView is a row of the recent logins: an allowed login may be
// reported once (a later fraud row of the same transaction says it was).
type loginView struct {
	store.AuthLog
	App                  string
	Reportable, Reported bool
}

func loginViews(rows []store.AuthLog) []loginView {
	reported := map[string]bool{}
	for _, r := range rows {
		if r.Result == auth.ResultFraud && r.TxID != "" {
			reported[r.TxID] = true
		}
	}
	out := make([]loginView, 0, len(rows))
	for _, r := range rows {
		v := loginView{AuthLog: r, App: r.IKey}
		if r.IKey == auth.PortalIKey {
			v.App = "This portal"
		}
		if r.Result == auth.ResultAllow {
			v.Reported = reported[r.TxID]
			v.Reportable = !v.Reported
		}
		out = append(out, v)
	}
	return out
}

// methodID is the {id} of a path: a device, token or key ID.
func methodID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) != 20 || !(strings.HasPrefix(id, "DP") || strings.HasPrefix(id, "DH") || strings.HasPrefix(id, "DW")) {
		return "", errNotFound
	}
	return id, nil
}

func (c *Console) myRename(w http.ResponseWriter, r *http.Request, p *myPage) error {
	id, err := methodID(r)
	if err != nil {
		return err
	}
	if err := c.Core.RenameUserMethod(r.Context(), p.User.ID, id, r.PostFormValue("name")); err != nil {
		return err
	}
	http.Redirect(w, r, "/my/?done=renamed", http.StatusSeeOther)
	return nil
}

func (c *Console) myDefault(w http.ResponseWriter, r *http.Request, p *myPage) error {
	id, err := methodID(r)
	if err != nil {
		return err
	}
	if err := c.Core.SetDefaultMethod(r.Context(), p.User.ID, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/my/?done=default", http.StatusSeeOther)
	return nil
}

func (c *Console) loadMethod(r *http.Request, p *myPage) error {
	id, err := methodID(r)
	if err != nil {
		return err
	}
	if p.Methods, err = c.Core.UserMethods(r.Context(), p.User.ID); err != nil {
		return err
	}
	for i := range p.Methods {
		if p.Methods[i].ID == id && p.Methods[i].Removable {
			p.Method = &p.Methods[i]
			return nil
		}
	}
	return errNotFound
}

// removePage asks to confirm, and, unless the user proved a second
// factor within the re-verification window, for one now.
func (c *Console) removePage(w http.ResponseWriter, r *http.Request, p *myPage, status int) error {
	p.Title, p.Page = "Remove "+p.Method.Name, "remove"
	if !p.Recent {
		if err := c.offerKey(r, p, auth.PortalRequest("", p.User.ID, clientIP(r))); err != nil {
			return err
		}
	}
	return c.myRender(w, status, "my-remove", p)
}

func (c *Console) myRemovePage(w http.ResponseWriter, r *http.Request, p *myPage) error {
	if err := c.loadMethod(r, p); err != nil {
		return err
	}
	if len(p.Methods) < 2 {
		p.Message, p.MessageKind = auth.ErrLastMethod.Detail, "error"
	}
	return c.removePage(w, r, p, http.StatusOK)
}

func (c *Console) myRemove(w http.ResponseWriter, r *http.Request, p *myPage) error {
	if err := c.loadMethod(r, p); err != nil {
		return err
	}
	if !p.Recent {
		keys := myKeys(r, p.User.Username)
		if err := c.limited(keys...); err != nil {
			return err
		}
		if !c.reverify(r, p) {
			c.failed(keys...)
			p.Message, p.MessageKind = msgReverify, "error"
			return c.removePage(w, r, p, http.StatusUnauthorized)
		}
		if err := c.Core.UserSessionReauthenticated(r.Context(), p.session.Session); err != nil {
			return err
		}
		p.Recent = true
	}
	err := c.Core.RemoveUserMethod(r.Context(), p.User.ID, p.Method.ID)
	if errors.Is(err, auth.ErrLastMethod) {
		p.Message, p.MessageKind = auth.ErrLastMethod.Detail, "error"
		return c.removePage(w, r, p, http.StatusConflict)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/my/?done=removed", http.StatusSeeOther)
	return nil
}

// reverify checks the second factor posted with a dangerous action: a
// passcode or a security key's answer.
func (c *Console) reverify(r *http.Request, p *myPage) bool {
	req := auth.PortalRequest("", p.User.ID, clientIP(r))
	if pc := strings.TrimSpace(r.PostFormValue("passcode")); pc != "" {
		u, err := c.Core.PortalPasscode(r.Context(), req, pc)
		return err == nil && u.ID == p.User.ID
	}
	k, ok := c.openKey(r, p.User.ID)
	if !ok || k.Challenge == "" || r.PostFormValue("response") == "" {
		return false
	}
	res, err := c.Core.WebAuthnLogin(r.Context(), auth.WebAuthnLoginRequest{Request: req, Session: k.Session,
		Challenge: k.Challenge, Response: []byte(r.PostFormValue("response"))})
	return err == nil && res.Result == auth.ResultAllow && res.Credential.UserID == p.User.ID
}

// Adding methods.

func (c *Console) myAddApp(w http.ResponseWriter, r *http.Request, p *myPage) error {
	e, err := c.Core.BeginTOTPApp(r.Context(), auth.TOTPAppRequest{Username: p.User.Username, Name: strings.TrimSpace(r.PostFormValue("name"))})
	if err != nil {
		return err
	}
	return c.appPage(w, p, e, http.StatusOK)
}

func (c *Console) appPage(w http.ResponseWriter, p *myPage, e auth.TOTPEnrollment, status int) error {
	png, err := qrcode.Encode(e.URI, qrcode.Medium, 256)
	if err != nil {
		return err
	}
	p.Title, p.Page, p.dataImg = "Add an authenticator app", "add-app", true
	p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	p.Secret, p.TokenID = e.SecretBase32, e.Token.ID
	return c.myRender(w, status, "my-add-app", p)
}

func (c *Console) myConfirmApp(w http.ResponseWriter, r *http.Request, p *myPage) error {
	tokenID := r.PostFormValue("token")
	err := c.Core.ConfirmTOTPAppFrom(r.Context(), clientIP(r), p.User.ID, tokenID, strings.TrimSpace(r.PostFormValue("code")))
	if auth.IsKind(err, auth.KindInvalid) {
		e, perr := c.Core.PendingTOTPApp(r.Context(), p.User.ID, tokenID)
		if perr != nil {
			return perr
		}
		p.Message, p.MessageKind = "That code is not right. Enter the code the app shows now.", "error"
		return c.appPage(w, p, e, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/my/?done=app", http.StatusSeeOther)
	return nil
}

func (c *Console) myAddKey(w http.ResponseWriter, r *http.Request, p *myPage) error {
	name, err := auth.CheckWebAuthnName(r.PostFormValue("name"))
	if err != nil {
		return &auth.Error{Kind: auth.KindInvalid, Param: "name", Detail: "The key's name " + err.Error() + "."}
	}
	cer, err := c.Core.BeginWebAuthnRegistration(r.Context(), auth.WebAuthnRegistrationRequest{Username: p.User.Username})
	if err != nil {
		return err
	}
	if p.KeyState, err = c.sealKey(keyState{Session: cer.Session, User: p.User.ID, Name: name, Expires: c.now().Add(5 * time.Minute)}); err != nil {
		return err
	}
	p.Title, p.Page, p.KeyOptions, p.KeyName = "Add a security key", "add-key", string(cer.Options), name
	return c.myRender(w, http.StatusOK, "my-add-key", p)
}

func (c *Console) myKeyAdded(w http.ResponseWriter, r *http.Request, p *myPage) error {
	k, ok := c.openKey(r, p.User.ID)
	if !ok || len(k.Session) == 0 || r.PostFormValue("response") == "" {
		return &auth.Error{Kind: auth.KindInvalid, Detail: "The browser sent no answer from the security key. Try again."}
	}
	if _, err := c.Core.FinishWebAuthnRegistration(r.Context(), auth.WebAuthnRegistration{UserID: p.User.ID, Name: k.Name,
		Session: k.Session, Response: []byte(r.PostFormValue("response"))}); err != nil {
		return err
	}
	http.Redirect(w, r, "/my/?done=key", http.StatusSeeOther)
	return nil
}

func (c *Console) myAddPhone(w http.ResponseWriter, r *http.Request, p *myPage) error {
	e, err := c.Core.Enroll(r.Context(), auth.EnrollRequest{Username: p.User.Username, Valid: auth.PromptEnrollValid})
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Activation = "Add a phone", "add-phone", e.ActivationCode
	p.AppLink = authenticatorapp.Link(c.Host, e.ActivationCode)
	png, err := qrcode.Encode(p.AppLink, qrcode.Medium, 256)
	if err != nil {
		return err
	}
	p.QR, p.dataImg = template.URL("data:image/png;base64,"+base64.StdEncoding.EncodeToString(png)), true
	return c.myRender(w, http.StatusOK, "my-add-phone", p)
}

func (c *Console) myReport(w http.ResponseWriter, r *http.Request, p *myPage) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return errNotFound
	}
	if _, err := c.Core.ReportLoginFraud(r.Context(), p.User.ID, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/my/?done=report", http.StatusSeeOther)
	return nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// The users' self-service portal (/my/, issue 15): a user signs in with a
// second factor they already have (or a fresh enrollment link), then
// manages their own methods. Every sign-in goes through the same decision
// as an application's (Auth, WebAuthnLogin), so lockout, rate limits and
// the auth log apply; the log rows carry PortalIKey. Changes a user makes
// are written to the administrator log with the actor "user:<username>"
// (the portal puts it in the context), so administrators see them.

// PortalIKey is the auth log's integration key of portal sign-ins: not a
// real integration, so no application's policy or limit is spent.
const PortalIKey = "portal"

// portalIntegration is what the portal's sign-ins authenticate against:
// unknown users are refused (never created or let in).
var portalIntegration = store.Integration{IKey: PortalIKey, Name: "Self-service portal", NewUserPolicy: store.PolicyDeny}

// ErrPortalLogin is every refused portal sign-in, whatever the reason
// (unknown user, wrong code, no such method, locked out): the message
// tells nobody whether the username exists.
var ErrPortalLogin = &Error{Kind: KindInvalid, Detail: "That did not work. Check the username and try again, or use another method."}

// ErrLastMethod refuses to remove a user's only way to log in.
var ErrLastMethod = &Error{Kind: KindConflict, Detail: "This is your only way to log in: add another one before removing it."}

// UserSessionInfo is a signed-in portal session and its user.
type UserSessionInfo struct {
	User    store.User
	Session store.UserSession
	// Recent reports whether the user proved a second factor within the
	// re-verification window (removing a method needs it).
	Recent bool
}

// ErrUserSessionInvalid is a missing, unknown or expired portal session.
var ErrUserSessionInvalid = &Error{Kind: KindNotFound, Detail: "not signed in, or the session expired"}

func (s *Service) userSessionHash(token string) []byte {
	return s.box.KeyedHash("user session", token)
}

// StartUserSession creates a portal session for a user who just proved a
// second factor, and returns the browser's token.
func (s *Service) StartUserSession(ctx context.Context, userID, ip string) (string, error) {
	token, err := randomToken()
	if err != nil {
		return "", wrap("start user session", err)
	}
	now := s.now()
	err = s.st.CreateUserSession(ctx, store.UserSession{Hash: s.userSessionHash(token), UserID: userID,
		Created: now, LastSeen: now, Reauth: now, IP: ip})
	if err != nil {
		return "", wrap("start user session", err)
	}
	return token, nil
}

// UserSession returns the portal session of a browser's token. The
// portal's sessions keep the console's idle and absolute timeouts and
// re-authentication window; a session of a user since disabled or locked
// out ends.
func (s *Service) UserSession(ctx context.Context, token string) (UserSessionInfo, error) {
	if token == "" || len(token) > 128 {
		return UserSessionInfo{}, ErrUserSessionInvalid
	}
	sess, err := s.st.GetUserSession(ctx, s.userSessionHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return UserSessionInfo{}, ErrUserSessionInvalid
	}
	if err != nil {
		return UserSessionInfo{}, wrap("user session", err)
	}
	now := s.now()
	end := func() (UserSessionInfo, error) {
		if err := s.st.DeleteUserSession(ctx, sess.Hash); err != nil && !errors.Is(err, store.ErrNotFound) {
			return UserSessionInfo{}, wrap("user session", err)
		}
		return UserSessionInfo{}, ErrUserSessionInvalid
	}
	if !now.Before(sess.Created.Add(s.opts.AdminSessionTimeout)) || !now.Before(sess.LastSeen.Add(s.opts.AdminIdleTimeout)) {
		return end()
	}
	u, err := s.st.GetUser(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return UserSessionInfo{}, ErrUserSessionInvalid
	}
	if err != nil {
		return UserSessionInfo{}, wrap("user session", err)
	}
	status, err := s.EffectiveStatus(ctx, s.st, u)
	if err != nil {
		return UserSessionInfo{}, err
	}
	if status == store.StatusDisabled || status == store.StatusLockedOut {
		return end()
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		sess.LastSeen = now
		if err := s.st.TouchUserSession(ctx, sess); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return UserSessionInfo{}, ErrUserSessionInvalid
			}
			return UserSessionInfo{}, wrap("user session", err)
		}
	}
	return UserSessionInfo{User: u, Session: sess, Recent: now.Before(sess.Reauth.Add(s.opts.AdminReauthWindow))}, nil
}

// UserSessionReauthenticated records that the session's user proved a
// second factor again now.
func (s *Service) UserSessionReauthenticated(ctx context.Context, sess store.UserSession) error {
	now := s.now()
	sess.LastSeen, sess.Reauth = now, now
	if err := s.st.TouchUserSession(ctx, sess); err != nil {
		return wrap("user re-verification", err)
	}
	return nil
}

// EndUserSession signs a browser out of the portal.
func (s *Service) EndUserSession(ctx context.Context, token string) error {
	err := s.st.DeleteUserSession(ctx, s.userSessionHash(token))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return wrap("end user session", err)
	}
	return nil
}

// PortalRequest is the auth request of a portal sign-in or
// re-verification for username (or userID) from ip.
func PortalRequest(username, userID, ip string) Request {
	return Request{Integration: portalIntegration, Username: username, UserID: userID, IP: ip}
}

// PortalPasscode signs a user in with a passcode (authenticator app,
// hardware token, device passcode or bypass code) and returns the user.
// Any refusal is ErrPortalLogin; a rate limit is KindRateLimited.
func (s *Service) PortalPasscode(ctx context.Context, req Request, passcode string) (store.User, error) {
	req.Integration = portalIntegration
	if strings.TrimSpace(passcode) == "" {
		return store.User{}, ErrPortalLogin
	}
	u, err := s.portalUser(ctx, req)
	if err != nil {
		return store.User{}, err
	}
	res, err := s.Auth(ctx, AuthRequest{Request: req, Factor: FactorPasscode, Passcode: strings.TrimSpace(passcode)})
	if err != nil {
		if IsKind(err, KindRateLimited) {
			return store.User{}, err
		}
		if IsKind(err, KindInvalid) {
			return store.User{}, ErrPortalLogin
		}
		return store.User{}, err
	}
	if res.Result != ResultAllow || u.ID == "" {
		return store.User{}, ErrPortalLogin
	}
	return u, nil
}

// portalUser reads the user of a sign-in: zero for an unknown one (the
// decision still runs and logs), and the user in status bypass refused
// outright (bypass lets an application in without a second factor; the
// portal must always see one).
func (s *Service) portalUser(ctx context.Context, req Request) (store.User, error) {
	r, err := req.check()
	if err != nil {
		return store.User{}, ErrPortalLogin
	}
	u, known, err := lookup(ctx, s.st, r.ref())
	if err != nil {
		return store.User{}, wrap("portal sign-in", err)
	}
	if known && u.Status == store.StatusBypass {
		return store.User{}, ErrPortalLogin
	}
	return u, nil
}

// PortalPush sends a push to the user's first push-capable device and
// returns its txid, for PortalPushStatus; "" (and no error) when the user
// is unknown or has no such device, so the portal waits the same way.
func (s *Service) PortalPush(ctx context.Context, req Request) (string, error) {
	req.Integration = portalIntegration
	u, err := s.portalUser(ctx, req)
	if err != nil || u.ID == "" {
		return "", err
	}
	res, err := s.Auth(ctx, AuthRequest{Request: req, Factor: FactorPush, Device: "auto", Async: true,
		Type: "Self-service portal"})
	if err != nil {
		if IsKind(err, KindRateLimited) {
			return "", err
		}
		return "", nil
	}
	return res.TxID, nil
}

// PortalPushStatus is the state of a portal push: ResultAllow with the
// user, ResultDeny, or "" while it waits.
func (s *Service) PortalPushStatus(ctx context.Context, txid string) (string, store.User, error) {
	st, err := s.AuthStatus(ctx, portalIntegration, txid)
	if IsKind(err, KindNotFound) {
		return ResultDeny, store.User{}, nil
	}
	if err != nil {
		return "", store.User{}, err
	}
	switch st.Result {
	case ResultAllow:
		t, err := s.st.GetTransaction(ctx, txid)
		if err != nil {
			return "", store.User{}, wrap("portal push", err)
		}
		u, err := s.st.GetUser(ctx, t.UserID)
		if err != nil {
			return "", store.User{}, wrap("portal push", err)
		}
		return ResultAllow, u, nil
	case ResultDeny:
		return ResultDeny, store.User{}, nil
	}
	return "", store.User{}, nil
}

// PortalEnrollLink signs in with a fresh enrollment link (a user with no
// method yet): the link is used up, the user created if new.
func (s *Service) PortalEnrollLink(ctx context.Context, token string) (store.User, error) {
	e, err := s.RedeemEnrollLink(ctx, token)
	if err != nil {
		return store.User{}, err
	}
	u, err := s.st.GetUser(ctx, e.UserID)
	if err != nil {
		return store.User{}, wrap("portal enroll link", err)
	}
	return u, nil
}

// MethodKind is the kind of a user's method in the portal.
type MethodKind string

// The kinds of methods.
const (
	MethodKindDevice   MethodKind = "device"   // a phone or desktop app activated with a code (push, passcodes)
	MethodKindTOTPApp  MethodKind = "totp_app" // an authenticator app (RFC 6238)
	MethodKindToken    MethodKind = "token"    // a hardware token assigned by an administrator
	MethodKindWebAuthn MethodKind = "webauthn" // a security key or passkey
)

// Method is one way a user logs in, as the portal lists it.
type Method struct {
	ID     string
	Kind   MethodKind
	Name   string
	Detail string // platform, token serial, …
	// Number is a phone's number, masked (XXX-XXX-1234); NumberOnly: the
	// phone has a number and no app (it receives SMS passcodes).
	Number     string
	NumberOnly bool
	Created    time.Time
	LastUsed   time.Time
	Default    bool
	// Removable: the user may remove it (hardware tokens belong to the
	// administrators, who assign them).
	Removable bool
}

// promptMethod is the hosted prompt's method of a kind (LastMethod).
func (k MethodKind) promptMethod() string {
	switch k {
	case MethodKindDevice:
		return "push"
	case MethodKindWebAuthn:
		return FactorWebAuthn
	}
	return FactorPasscode
}

// UserMethods lists a user's methods: devices, confirmed authenticator
// apps and tokens, security keys, in that order.
func (s *Service) UserMethods(ctx context.Context, userID string) ([]Method, error) {
	return userMethods(ctx, s.st, userID)
}

func userMethods(ctx context.Context, q store.Queries, userID string) ([]Method, error) {
	def, err := q.GetDefaultMethod(ctx, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, wrap("methods", err)
	}
	var out []Method
	devs, err := q.ListDevices(ctx, userID)
	if err != nil {
		return nil, wrap("methods", err)
	}
	for _, d := range devs {
		out = append(out, Method{ID: d.ID, Kind: MethodKindDevice, Name: d.Name, Detail: d.Platform, Created: d.Created,
			LastUsed: d.LastSeen, Removable: true, Number: MaskNumber(d.Number), NumberOnly: d.Number != "" && !hasApp(d)})
	}
	toks, err := q.ListTokens(ctx, userID)
	if err != nil {
		return nil, wrap("methods", err)
	}
	for _, t := range toks {
		if !t.Confirmed {
			continue
		}
		m := Method{ID: t.ID, Kind: MethodKindToken, Name: t.Name, Detail: t.Serial, Created: t.Created, LastUsed: t.LastUsed}
		if t.Kind == store.TokenTOTPApp {
			m.Kind, m.Removable = MethodKindTOTPApp, true
		}
		out = append(out, m)
	}
	keys, err := q.ListWebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, wrap("methods", err)
	}
	for _, k := range keys {
		out = append(out, Method{ID: k.ID, Kind: MethodKindWebAuthn, Name: k.Name, Created: k.Created, LastUsed: k.LastUsed, Removable: true})
	}
	for i := range out {
		out[i].Default = out[i].ID == def
	}
	return out, nil
}

func findMethod(list []Method, id string) (Method, bool) {
	for _, m := range list {
		if m.ID == id {
			return m, true
		}
	}
	return Method{}, false
}

var errNoMethod = notFound("no such method")

// MaxMethodName bounds a method's name.
const MaxMethodName = 64

// RenameUserMethod renames one of the user's methods.
func (s *Service) RenameUserMethod(ctx context.Context, userID, methodID, name string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxMethodName {
		return invalid("name", fmt.Sprintf("must have 1 to %d characters", MaxMethodName))
	}
	if err := checkText("name", name, MaxMethodName); err != nil {
		return err
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		list, err := userMethods(ctx, q, userID)
		if err != nil {
			return err
		}
		m, ok := findMethod(list, methodID)
		if !ok {
			return errNoMethod
		}
		switch m.Kind {
		case MethodKindDevice:
			d, err := q.GetDevice(ctx, m.ID)
			if err != nil {
				return err
			}
			d.Name = name
			err = q.UpdateDevice(ctx, d)
			if err != nil {
				return err
			}
		case MethodKindWebAuthn:
			if err := q.RenameWebAuthnCredential(ctx, m.ID, name); err != nil {
				return err
			}
		default:
			t, err := q.GetToken(ctx, m.ID)
			if err != nil {
				return err
			}
			t.Name = name
			if err := q.UpdateToken(ctx, t); err != nil {
				return err
			}
		}
		return s.adminLogIfActor(ctx, q, "method_rename", userID, map[string]any{"method": m.ID, "kind": m.Kind, "name": name})
	})
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	if err != nil {
		return wrap("rename method", err)
	}
	return nil
}

// SetDefaultMethod makes one of the user's methods the default: the
// hosted prompt offers its kind first.
func (s *Service) SetDefaultMethod(ctx context.Context, userID, methodID string) error {
	list, err := s.UserMethods(ctx, userID)
	if err != nil {
		return err
	}
	m, ok := findMethod(list, methodID)
	if !ok {
		return errNoMethod
	}
	if err := s.st.SetDefaultMethod(ctx, userID, m.ID, s.now()); err != nil {
		return wrap("default method", err)
	}
	return nil
}

// defaultPromptMethod is the prompt method of the user's default method
// ("" if none is set or it is gone).
func (s *Service) defaultPromptMethod(ctx context.Context, userID string) string {
	id, err := s.st.GetDefaultMethod(ctx, userID)
	if err != nil {
		return ""
	}
	switch {
	case strings.HasPrefix(id, ids.Device):
		// A phone number without an app takes passcodes (texted), not pushes.
		if d, err := s.st.GetDevice(ctx, id); err == nil && !hasApp(d) {
			return FactorPasscode
		}
		return MethodKindDevice.promptMethod()
	case strings.HasPrefix(id, ids.WebAuthn):
		return MethodKindWebAuthn.promptMethod()
	case strings.HasPrefix(id, ids.Token):
		return MethodKindTOTPApp.promptMethod()
	}
	return ""
}

// RemoveUserMethod removes one of the user's methods, never the last one
// (checked in the same transaction as the removal, so two removals at
// once cannot take both of the last two).
func (s *Service) RemoveUserMethod(ctx context.Context, userID, methodID string) error {
	var removed Method
	err := s.st.InTx(ctx, func(q store.Queries) error {
		list, err := userMethods(ctx, q, userID)
		if err != nil {
			return err
		}
		m, ok := findMethod(list, methodID)
		if !ok || !m.Removable {
			return errNoMethod
		}
		if len(list) < 2 {
			return ErrLastMethod
		}
		switch m.Kind {
		case MethodKindDevice:
			err = q.DeleteDevice(ctx, m.ID)
		case MethodKindWebAuthn:
			err = q.DeleteWebAuthnCredential(ctx, m.ID)
		default:
			err = q.DeleteToken(ctx, m.ID)
		}
		if err != nil {
			return err
		}
		if m.Default {
			if err := q.SetDefaultMethod(ctx, userID, "", s.now()); err != nil {
				return err
			}
		}
		removed = m
		return s.adminLogIfActor(ctx, q, "method_delete", userID, map[string]any{"method": m.ID, "kind": m.Kind, "name": m.Name})
	})
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	if err != nil {
		return wrap("remove method", err)
	}
	s.opts.Logger.Info("user removed a method in the portal", "user_id", userID, "method", removed.ID, "kind", removed.Kind)
	return nil
}

// ReportLoginFraud records that a user did not make one of their recent
// logins (an auth-log row of theirs, allowed): a new auth-log row with
// result "fraud" and reason user_marked_fraud for the same transaction,
// and an administrator-log row, both in one transaction, and a warning
// in the server log (as a push marked as fraud). A login is reported once.
func (s *Service) ReportLoginFraud(ctx context.Context, userID string, logID int64) (store.AuthLog, error) {
	rows, err := s.RecentAuthentications(ctx, userID, PortalRecentLogins)
	if err != nil {
		return store.AuthLog{}, err
	}
	var orig store.AuthLog
	for _, r := range rows {
		if r.ID == logID && r.Result == ResultAllow {
			orig = r
		}
	}
	if orig.ID == 0 {
		return store.AuthLog{}, notFound("no such login")
	}
	if err := s.ClaimOnce(ctx, "login_fraud_report", fmt.Sprint(logID), 366*24*time.Hour); err != nil {
		if errors.Is(err, ErrAlreadyClaimed) {
			return store.AuthLog{}, &Error{Kind: KindConflict, Detail: "This login was already reported."}
		}
		return store.AuthLog{}, err
	}
	a := actorOf(ctx)
	row := store.AuthLog{TxID: orig.TxID, Time: s.now(), IKey: orig.IKey, UserID: orig.UserID, Username: orig.Username,
		Factor: orig.Factor, Device: orig.Device, Result: ResultFraud, Reason: ReasonUserMarkedFraud, IP: orig.IP,
		Hostname: orig.Hostname, Groups: orig.Groups}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		r := row
		if err := q.AppendAuthLog(ctx, &r); err != nil {
			return err
		}
		row = r
		return s.adminLog(ctx, q, "login_reported_fraud", orig.Username, map[string]any{"txid": orig.TxID,
			"auth_log_id": orig.ID, "login_time": orig.Time.Unix(), "login_ip": orig.IP, "ikey": orig.IKey})
	})
	if err != nil {
		return store.AuthLog{}, wrap("report login", err)
	}
	s.logged(&row)
	s.opts.Logger.Warn("login reported as fraud by the user", "txid", orig.TxID, "user_id", orig.UserID,
		"ikey", orig.IKey, "login_ip", orig.IP, "reporter_ip", a.IP)
	return row, nil
}

// ResultFraud is the auth log's result of a login the user reported.
const ResultFraud = "fraud"

// PortalRecentLogins is how many recent logins the portal shows.
const PortalRecentLogins = 20

// PortalKeyCeremony starts a security-key sign-in (or re-verification)
// for the portal. A user who is unknown or has no key gets a decoy made
// the same way (a credential ID derived from the username, stable across
// visits), with no challenge to answer: the page looks the same, and the
// browser then reports that no registered key answered, as it does for a
// key of another account.
func (s *Service) PortalKeyCeremony(ctx context.Context, req Request) (WebAuthnCeremony, error) {
	req.Integration = portalIntegration
	c, err := s.BeginWebAuthnLogin(ctx, req, "")
	if !errors.Is(err, errNoCredentials) {
		return c, err
	}
	name := req.Username
	if name == "" {
		name = req.UserID
	}
	fake := append(s.box.KeyedHash("portal decoy key", "1", strings.ToLower(name)), s.box.KeyedHash("portal decoy key", "2", strings.ToLower(name))...)
	cred := store.WebAuthnCredential{CredentialID: fake, Transports: []string{"usb", "nfc"}}
	opts, _, _, err := s.opts.WebAuthn.BeginLogin(WebAuthnUser{ID: "DU" + strings.Repeat("0", 18), Username: name}, []store.WebAuthnCredential{cred}, "")
	if err != nil {
		return WebAuthnCeremony{}, wrap("webauthn decoy", err)
	}
	return WebAuthnCeremony{Options: opts}, nil
}

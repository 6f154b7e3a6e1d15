package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/passhash"
	"github.com/assent-auth/assent/internal/store"
)

// Console administrators: accounts with a role, a password (Argon2id) and
// a required authenticator app (TOTP, its secret sealed with the master
// key), created by `assent admin create` with a one-time setup link, and
// their sessions. Every change is written in one transaction with its
// administrator-log row. The console (an edge) asks AdminMay before each
// action; the rules live here so every edge applies the same ones.

// Defaults for the console's Options.
const (
	DefaultAdminSetupTTL       = 24 * time.Hour
	DefaultAdminIdleTimeout    = 30 * time.Minute
	DefaultAdminSessionTimeout = 12 * time.Hour
	DefaultAdminReauthWindow   = 5 * time.Minute
	// MinAdminPassword is the shortest password an administrator may set
	// (NIST SP 800-63B: at least 8; a console on the network deserves more).
	MinAdminPassword = 12
	maxAdminPassword = 256
)

func (o *Options) adminDefaults() {
	if o.AdminSetupTTL <= 0 {
		o.AdminSetupTTL = DefaultAdminSetupTTL
	}
	if o.AdminIdleTimeout <= 0 {
		o.AdminIdleTimeout = DefaultAdminIdleTimeout
	}
	if o.AdminSessionTimeout <= 0 {
		o.AdminSessionTimeout = DefaultAdminSessionTimeout
	}
	if o.AdminReauthWindow <= 0 {
		o.AdminReauthWindow = DefaultAdminReauthWindow
	}
	if o.AdminPasswordCost == (passhash.Params{}) {
		o.AdminPasswordCost = passhash.Default
	}
}

// Permission is a kind of action in the console.
type Permission int

const (
	// PermRead: see users, devices, logs (every role).
	PermRead Permission = iota + 1
	// PermHelpDesk: lock, unlock, issue bypass codes, send enrollment,
	// remove a user's device.
	PermHelpDesk
	// PermManage: create, disable and delete users; groups, applications,
	// hardware tokens.
	PermManage
	// PermOwner: administrators and settings.
	PermOwner
)

// AdminMay reports whether an administrator of role may do what perm
// covers.
func AdminMay(role store.AdminRole, perm Permission) bool {
	switch role {
	case store.RoleOwner:
		return true
	case store.RoleAdministrator:
		return perm <= PermManage
	case store.RoleHelpDesk:
		return perm <= PermHelpDesk
	case store.RoleReadOnly:
		return perm == PermRead
	}
	return false
}

// ParseAdminRole accepts a role's name ("help desk", "help-desk" and
// "help_desk" alike).
func ParseAdminRole(s string) (store.AdminRole, error) {
	r := store.AdminRole(strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s))))
	if slices.Contains(store.AdminRoles, r) {
		return r, nil
	}
	return "", invalid("role", "must be one of owner, administrator, help_desk, read_only")
}

// normalizeEmail checks an administrator's e-mail address and lower-cases
// it (addresses are compared without case, as Duo does).
func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 {
		return "", invalid("email", "must be an e-mail address such as alice@example.com")
	}
	return strings.ToLower(s), nil
}

// ErrAdminSetupInvalid is a setup link that is unknown, used or expired.
var ErrAdminSetupInvalid = &Error{Kind: KindNotFound, Detail: "this setup link is invalid, used or expired; ask an owner for a new one (assent admin reset)"}

// ErrAdminLogin is every failed sign-in or re-authentication: it does not
// say which of e-mail, password or code was wrong.
var ErrAdminLogin = &Error{Kind: KindInvalid, Detail: "the e-mail address, password or code is not right"}

// ErrAdminLastOwner refuses to remove the last owner.
var ErrAdminLastOwner = &Error{Kind: KindConflict, Detail: "the last owner cannot be removed or demoted; make another administrator owner first"}

const onetimeAdminSetup = "admin_setup"

func (s *Service) adminSetupHash(token string) []byte {
	return s.box.KeyedHash("onetime "+onetimeAdminSetup, token)
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// AdminSetupLink is a one-time setup token and when it expires.
type AdminSetupLink struct {
	Token   string
	Expires time.Time
}

// CreateAdmin adds an administrator without password or second factor and
// returns its one-time setup token, in one transaction with the
// administrator-log row.
func (s *Service) CreateAdmin(ctx context.Context, email, name string, role store.AdminRole) (store.Admin, AdminSetupLink, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return store.Admin{}, AdminSetupLink{}, err
	}
	if !slices.Contains(store.AdminRoles, role) {
		return store.Admin{}, AdminSetupLink{}, invalid("role", "must be one of owner, administrator, help_desk, read_only")
	}
	if len(name) > 200 {
		return store.Admin{}, AdminSetupLink{}, invalid("name", "at most 200 characters")
	}
	a := store.Admin{ID: ids.New(ids.Admin), Email: email, Name: strings.TrimSpace(name), Role: role, Created: s.now()}
	var link AdminSetupLink
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateAdmin(ctx, a); err != nil {
			return err
		}
		if link, err = s.putAdminSetup(ctx, q, a.ID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_create", a.Email, map[string]any{"admin_id": a.ID, "role": a.Role, "name": a.Name})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.Admin{}, AdminSetupLink{}, &Error{Kind: KindConflict, Param: "email", Detail: "an administrator with this e-mail address exists"}
	}
	if err != nil {
		return store.Admin{}, AdminSetupLink{}, wrap("create admin", err)
	}
	s.opts.Logger.Info("administrator created", "admin_id", a.ID, "role", a.Role)
	return a, link, nil
}

func (s *Service) putAdminSetup(ctx context.Context, q store.Queries, adminID string) (AdminSetupLink, error) {
	token, err := randomToken()
	if err != nil {
		return AdminSetupLink{}, err
	}
	now := s.now()
	link := AdminSetupLink{Token: token, Expires: now.Add(s.opts.AdminSetupTTL)}
	return link, q.PutOnetime(ctx, store.Onetime{Hash: s.adminSetupHash(token), Kind: onetimeAdminSetup,
		Payload: []byte(adminID), Expires: link.Expires, Created: now})
}

// ResetAdmin clears an administrator's password and second factor, ends
// its sessions and returns a new setup link (a lost phone, a forgotten
// password).
func (s *Service) ResetAdmin(ctx context.Context, emailOrID string) (store.Admin, AdminSetupLink, error) {
	var (
		a    store.Admin
		link AdminSetupLink
	)
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if a, err = s.admin(ctx, q, emailOrID); err != nil {
			return err
		}
		a.PasswordHash, a.TOTPSecretEnc, a.TOTPLastStep = "", nil, 0
		if err := q.UpdateAdmin(ctx, a); err != nil {
			return err
		}
		if _, err := q.DeleteAdminSessionsOf(ctx, a.ID); err != nil {
			return err
		}
		if _, err := q.DeleteAdminWebAuthnOf(ctx, a.ID); err != nil {
			return err
		}
		a.Keys = 0
		if link, err = s.putAdminSetup(ctx, q, a.ID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_reset", a.Email, map[string]any{"admin_id": a.ID})
	})
	if err != nil {
		return store.Admin{}, AdminSetupLink{}, adminErr("reset admin", err)
	}
	return a, link, nil
}

func adminErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no such administrator")
	}
	return wrap(op, err)
}

// admin finds an administrator by ID or e-mail.
func (s *Service) admin(ctx context.Context, q store.Queries, emailOrID string) (store.Admin, error) {
	if strings.HasPrefix(emailOrID, ids.Admin) && !strings.Contains(emailOrID, "@") {
		return q.GetAdmin(ctx, emailOrID)
	}
	return q.GetAdminByEmail(ctx, strings.ToLower(strings.TrimSpace(emailOrID)))
}

// Admin returns an administrator by ID or e-mail.
func (s *Service) Admin(ctx context.Context, emailOrID string) (store.Admin, error) {
	a, err := s.admin(ctx, s.st, emailOrID)
	if err != nil {
		return store.Admin{}, adminErr("admin", err)
	}
	return a, nil
}

// Admins lists the administrators by e-mail.
func (s *Service) Admins(ctx context.Context) ([]store.Admin, error) {
	list, err := s.st.ListAdmins(ctx)
	if err != nil {
		return nil, wrap("list admins", err)
	}
	return list, nil
}

// DeleteAdmin deletes an administrator and its sessions; never the last
// owner who has finished setup.
func (s *Service) DeleteAdmin(ctx context.Context, emailOrID string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		a, err := s.admin(ctx, q, emailOrID)
		if err != nil {
			return err
		}
		if a.Role == store.RoleOwner && !a.Pending() {
			if err := s.otherOwner(ctx, q, a.ID); err != nil {
				return err
			}
		}
		if err := q.DeleteAdmin(ctx, a.ID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_delete", a.Email, map[string]any{"admin_id": a.ID, "role": a.Role})
	})
	return adminErr("delete admin", err)
}

func (s *Service) otherOwner(ctx context.Context, q store.Queries, id string) error {
	list, err := q.ListAdmins(ctx)
	if err != nil {
		return err
	}
	for _, o := range list {
		if o.ID != id && o.Role == store.RoleOwner && !o.Pending() {
			return nil
		}
	}
	return ErrAdminLastOwner
}

// AdminSetupInfo is what a setup page shows: whom the link is for, and a
// fresh authenticator-app secret (sealed for the form that confirms it).
type AdminSetupInfo struct {
	Admin        store.Admin
	Expires      time.Time
	Secret       []byte
	SecretBase32 string
	URI          string // otpauth://totp/… for the QR code
	Sealed       []byte // the secret sealed for this administrator's setup
}

func adminSetupAD(adminID string) []byte { return []byte("admin setup " + adminID) }

// BeginAdminSetup reads a setup link (without using it) and makes a new
// authenticator-app secret for it.
func (s *Service) BeginAdminSetup(ctx context.Context, token string) (AdminSetupInfo, error) {
	a, o, err := s.setupAdmin(ctx, s.st, token)
	if err != nil {
		return AdminSetupInfo{}, err
	}
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return AdminSetupInfo{}, wrap("admin setup", err)
	}
	sealed, err := s.box.Seal(secret, adminSetupAD(a.ID))
	if err != nil {
		return AdminSetupInfo{}, wrap("admin setup", err)
	}
	key := otp.Key{Type: otp.TypeTOTP, Issuer: s.opts.TOTPIssuer + " console", Account: a.Email, Secret: secret,
		Algorithm: otp.SHA1, Digits: otp.DefaultDigits, Period: otp.DefaultPeriod}
	return AdminSetupInfo{Admin: a, Expires: o.Expires, Secret: secret, SecretBase32: otp.EncodeBase32(secret),
		URI: key.URI(), Sealed: sealed}, nil
}

// ReopenAdminSetup is BeginAdminSetup for a form posted back with a
// mistake: it keeps the secret the form carried (the app already holds
// it) when that opens for this link's administrator, else makes a new one.
func (s *Service) ReopenAdminSetup(ctx context.Context, token string, sealed []byte) (AdminSetupInfo, error) {
	info, err := s.BeginAdminSetup(ctx, token)
	if err != nil {
		return AdminSetupInfo{}, err
	}
	secret, err := s.box.Open(sealed, adminSetupAD(info.Admin.ID))
	if err != nil || len(secret) != 20 {
		return info, nil
	}
	key := otp.Key{Type: otp.TypeTOTP, Issuer: s.opts.TOTPIssuer + " console", Account: info.Admin.Email, Secret: secret,
		Algorithm: otp.SHA1, Digits: otp.DefaultDigits, Period: otp.DefaultPeriod}
	info.Secret, info.SecretBase32, info.URI, info.Sealed = secret, otp.EncodeBase32(secret), key.URI(), sealed
	return info, nil
}

func (s *Service) setupAdmin(ctx context.Context, q store.Queries, token string) (store.Admin, store.Onetime, error) {
	if token == "" || len(token) > 128 {
		return store.Admin{}, store.Onetime{}, ErrAdminSetupInvalid
	}
	o, err := q.GetOnetime(ctx, onetimeAdminSetup, s.adminSetupHash(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Admin{}, store.Onetime{}, ErrAdminSetupInvalid
	}
	if err != nil {
		return store.Admin{}, store.Onetime{}, wrap("admin setup", err)
	}
	a, err := q.GetAdmin(ctx, string(o.Payload))
	if errors.Is(err, store.ErrNotFound) {
		return store.Admin{}, store.Onetime{}, ErrAdminSetupInvalid // deleted since
	}
	if err != nil {
		return store.Admin{}, store.Onetime{}, wrap("admin setup", err)
	}
	return a, o, nil
}

// CheckAdminPassword refuses passwords an administrator may not set.
func CheckAdminPassword(pw string) error {
	switch n := len([]rune(pw)); {
	case n < MinAdminPassword:
		return invalid("password", "at least 12 characters")
	case len(pw) > maxAdminPassword:
		return invalid("password", "at most 256 bytes")
	}
	return nil
}

// CompleteAdminSetup uses a setup link: it sets the password and the
// authenticator app whose sealed secret BeginAdminSetup made, once a code
// of that app proves it was added. Link, password, secret and the
// administrator-log row are written in one transaction.
func (s *Service) CompleteAdminSetup(ctx context.Context, token, password string, sealed []byte, code string) (store.Admin, error) {
	if err := CheckAdminPassword(password); err != nil {
		return store.Admin{}, err
	}
	a, _, err := s.setupAdmin(ctx, s.st, token)
	if err != nil {
		return store.Admin{}, err
	}
	secret, err := s.box.Open(sealed, adminSetupAD(a.ID))
	if err != nil {
		return store.Admin{}, invalid("secret", "the setup form is damaged or from another link; reload the page")
	}
	now := s.opts.Now()
	step, ok := matchTOTP(secret, strings.TrimSpace(code), now, 0)
	if !ok {
		return store.Admin{}, invalid("code", "the code does not match; check the phone's clock and type the code the app shows now")
	}
	hash, err := passhash.Hash(password, s.opts.AdminPasswordCost)
	if err != nil {
		return store.Admin{}, wrap("admin setup", err)
	}
	enc, err := s.box.Seal(secret, []byte(a.ID))
	if err != nil {
		return store.Admin{}, wrap("admin setup", err)
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if _, err := q.TakeOnetime(ctx, onetimeAdminSetup, s.adminSetupHash(token), s.now()); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrAdminSetupInvalid
			}
			return err
		}
		cur, err := q.GetAdmin(ctx, a.ID)
		if err != nil {
			return err
		}
		cur.PasswordHash, cur.TOTPSecretEnc, cur.TOTPLastStep, cur.LastLogin = hash, enc, int64(step), s.now()
		a = cur
		if err := q.UpdateAdmin(ctx, cur); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_setup", a.Email, map[string]any{"admin_id": a.ID, "factor": "totp"})
	})
	if err != nil {
		return store.Admin{}, adminErr("admin setup", err)
	}
	return a, nil
}

// matchTOTP finds the step, within one of now's, whose code is code and
// which is after last.
func matchTOTP(secret []byte, code string, now time.Time, last int64) (uint64, bool) {
	cur := otp.Step(now, otp.DefaultPeriod)
	from := max(cur-1, uint64(last)+1)
	if cur+1 < from {
		return 0, false
	}
	return otp.FindCounter(secret, from, int(cur+1-from+1), code, otp.Params{Digits: otp.DefaultDigits, Algorithm: otp.SHA1})
}

// dummyHash is a hash with the configured costs that no password
// matches, made once: a sign-in with an unknown e-mail verifies it, so it
// takes as long as one with a wrong password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		secret, _ := randomToken()
		s.dummy, _ = passhash.Hash(secret, s.opts.AdminPasswordCost)
	})
	return s.dummy
}

// AdminSignIn checks an administrator's password and authenticator-app
// code. A code is accepted once. Success and failure are written to the
// administrator log (Duo's admin_login and admin_login_error).
func (s *Service) AdminSignIn(ctx context.Context, email, password, code string) (store.Admin, error) {
	a, err := s.st.GetAdminByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Admin{}, wrap("admin sign-in", err)
	}
	return s.checkAdmin(ctx, a, err == nil, password, code, "admin_login")
}

// AdminReauth checks the password and a new code of a signed-in
// administrator before a dangerous action.
func (s *Service) AdminReauth(ctx context.Context, adminID, password, code string) (store.Admin, error) {
	a, err := s.st.GetAdmin(ctx, adminID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Admin{}, wrap("admin re-authentication", err)
	}
	return s.checkAdmin(ctx, a, err == nil, password, code, "admin_reauth")
}

func (s *Service) checkAdmin(ctx context.Context, a store.Admin, found bool, password, code, action string) (store.Admin, error) {
	hash := s.dummyHash()
	if found && a.PasswordHash != "" {
		hash = a.PasswordHash
	}
	pwOK, err := passhash.Verify(password, hash)
	if err != nil {
		return store.Admin{}, wrap(action, err)
	}
	fail := func(reason string) (store.Admin, error) {
		if found {
			_ = s.st.InTx(ctx, func(q store.Queries) error {
				return s.adminLog(ctx, q, action+"_error", a.Email, map[string]any{"admin_id": a.ID, "reason": reason})
			})
		}
		return store.Admin{}, ErrAdminLogin
	}
	if !found || a.Pending() {
		return fail("unknown or not set up")
	}
	if !pwOK {
		return fail("wrong password")
	}
	if !a.HasTOTP() {
		return fail("no authenticator app")
	}
	secret, err := s.box.Open(a.TOTPSecretEnc, []byte(a.ID))
	if err != nil {
		return store.Admin{}, wrap(action, err)
	}
	step, ok := matchTOTP(secret, strings.TrimSpace(code), s.opts.Now(), a.TOTPLastStep)
	if !ok {
		return fail("wrong or used code")
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.AdvanceAdminTOTP(ctx, a.ID, int64(step), s.now()); err != nil {
			return err
		}
		return s.adminLog(ctx, q, action, a.Email, map[string]any{"admin_id": a.ID, "factor": "totp"})
	})
	if errors.Is(err, store.ErrConflict) {
		return fail("wrong or used code") // used by a concurrent sign-in
	}
	if err != nil {
		return store.Admin{}, wrap(action, err)
	}
	if passhash.NeedsRehash(a.PasswordHash, s.opts.AdminPasswordCost) {
		if h, err := passhash.Hash(password, s.opts.AdminPasswordCost); err == nil {
			a.PasswordHash = h
			a.TOTPLastStep, a.LastLogin = int64(step), s.now()
			if err := s.st.UpdateAdmin(ctx, a); err != nil {
				s.opts.Logger.Warn("administrator password rehash failed", "admin_id", a.ID, "err", err)
			}
		}
	}
	a.TOTPLastStep, a.LastLogin = int64(step), s.now()
	return a, nil
}

// AdminSessionInfo is a signed-in session and its administrator.
type AdminSessionInfo struct {
	Admin   store.Admin
	Session store.AdminSession
	// Recent reports whether the administrator proved both factors within
	// the re-authentication window (dangerous actions need it).
	Recent bool
}

// ErrAdminSessionInvalid is a missing, unknown or expired session.
var ErrAdminSessionInvalid = &Error{Kind: KindNotFound, Detail: "not signed in, or the session expired"}

func (s *Service) adminSessionHash(token string) []byte {
	return s.box.KeyedHash("admin session", token)
}

// StartAdminSession creates a session for a signed-in administrator and
// returns the browser's token.
func (s *Service) StartAdminSession(ctx context.Context, adminID, ip string) (string, error) {
	token, err := randomToken()
	if err != nil {
		return "", wrap("start admin session", err)
	}
	now := s.now()
	err = s.st.CreateAdminSession(ctx, store.AdminSession{Hash: s.adminSessionHash(token), AdminID: adminID,
		Created: now, LastSeen: now, Reauth: now, IP: ip})
	if err != nil {
		return "", wrap("start admin session", err)
	}
	return token, nil
}

// touchEvery limits the writes of a busy session: LastSeen is written at
// most once a minute, which the idle timeout does not notice.
const touchEvery = time.Minute

// AdminSession returns the session of a browser's token, refusing it
// after the idle or the absolute timeout (and deleting it then).
func (s *Service) AdminSession(ctx context.Context, token string) (AdminSessionInfo, error) {
	if token == "" || len(token) > 128 {
		return AdminSessionInfo{}, ErrAdminSessionInvalid
	}
	sess, err := s.st.GetAdminSession(ctx, s.adminSessionHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return AdminSessionInfo{}, ErrAdminSessionInvalid
	}
	if err != nil {
		return AdminSessionInfo{}, wrap("admin session", err)
	}
	now := s.now()
	if !now.Before(sess.Created.Add(s.opts.AdminSessionTimeout)) || !now.Before(sess.LastSeen.Add(s.opts.AdminIdleTimeout)) {
		if err := s.st.DeleteAdminSession(ctx, sess.Hash); err != nil && !errors.Is(err, store.ErrNotFound) {
			return AdminSessionInfo{}, wrap("admin session", err)
		}
		return AdminSessionInfo{}, ErrAdminSessionInvalid
	}
	a, err := s.st.GetAdmin(ctx, sess.AdminID)
	if errors.Is(err, store.ErrNotFound) {
		return AdminSessionInfo{}, ErrAdminSessionInvalid
	}
	if err != nil {
		return AdminSessionInfo{}, wrap("admin session", err)
	}
	if a.Pending() { // reset since
		return AdminSessionInfo{}, ErrAdminSessionInvalid
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		sess.LastSeen = now
		if err := s.st.TouchAdminSession(ctx, sess); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return AdminSessionInfo{}, ErrAdminSessionInvalid
			}
			return AdminSessionInfo{}, wrap("admin session", err)
		}
	}
	return AdminSessionInfo{Admin: a, Session: sess, Recent: now.Before(sess.Reauth.Add(s.opts.AdminReauthWindow))}, nil
}

// AdminSessionReauthenticated records that the session's administrator
// proved both factors again now.
func (s *Service) AdminSessionReauthenticated(ctx context.Context, sess store.AdminSession) error {
	now := s.now()
	sess.LastSeen, sess.Reauth = now, now
	if err := s.st.TouchAdminSession(ctx, sess); err != nil {
		return wrap("admin re-authentication", err)
	}
	return nil
}

// EndAdminSession signs a browser out.
func (s *Service) EndAdminSession(ctx context.Context, token string) error {
	err := s.st.DeleteAdminSession(ctx, s.adminSessionHash(token))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return wrap("end admin session", err)
	}
	return nil
}

// Dashboard is what the console's first page shows.
type Dashboard struct {
	store.ConsoleCounts
	// Results counts the auth log's last 24 hours by result (allow,
	// deny, fraud).
	Allowed, Denied, Fraud int
}

// ConsoleDashboard counts users by state, pending pushes and the last
// 24 hours of authentications.
func (s *Service) ConsoleDashboard(ctx context.Context) (Dashboard, error) {
	now := s.now()
	c, err := s.st.ConsoleCounts(ctx, now)
	if err != nil {
		return Dashboard{}, wrap("dashboard", err)
	}
	d := Dashboard{ConsoleCounts: c}
	sealed, err := s.sealLogs(ctx, store.LogAuth)
	if err != nil {
		return Dashboard{}, err
	}
	// One grouped read (see ConsoleAuthActivity); a fraud report is a
	// denial with its own reason.
	counts, err := s.st.CountAuthLog(ctx, now.Add(-24*time.Hour), sealed, 24*time.Hour)
	if err != nil {
		return Dashboard{}, wrap("dashboard", err)
	}
	var b AuthBucket
	for _, n := range counts {
		b.add(n.Result, n.Reason, n.N)
	}
	d.Allowed, d.Denied, d.Fraud = b.Allowed, b.Denied, b.Fraud
	return d, nil
}

// ConsoleUsers lists one page of users for the console's search.
func (s *Service) ConsoleUsers(ctx context.Context, q store.ConsoleUserQuery) ([]store.User, int, error) {
	list, n, err := s.st.ConsoleUsers(ctx, q)
	if err != nil {
		return nil, 0, wrap("console users", err)
	}
	return list, n, nil
}

// RecentAuthentications lists a user's newest auth-log rows.
func (s *Service) RecentAuthentications(ctx context.Context, userID string, limit int) ([]store.AuthLog, error) {
	rows, _, err := s.QueryAuthLog(ctx, store.AuthLogQuery{Min: time.Unix(0, 0), UserIDs: []string{userID}, Desc: true, Limit: limit})
	return rows, err
}

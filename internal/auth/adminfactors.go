package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/passhash"
	"github.com/assent-auth/assent/internal/store"
)

// Administrators' second factors besides the authenticator app: security
// keys and passkeys (WebAuthn), and what an owner or the administrator
// changes in the console (role, password, factors, sessions). As with
// users' keys, the protocol work is the WebAuthnRP's (the same relying
// party: its RP ID is the public hostname, which is the console's host);
// the core keeps the credentials, the sign counter (guarded), single use
// of each challenge and the administrator-log rows. The ceremony's state
// (go-webauthn's session data) is sealed with the master key for the
// page's form, bound to its purpose and its administrator, so no
// server-side record is written for a page that may never be posted.

// MaxAdminKeys bounds an administrator's security keys.
const MaxAdminKeys = 10

// AdminKeyCeremony is a begun registration or login of an
// administrator's security key: Options go to the browser
// (navigator.credentials), Sealed into the form that posts the answer.
type AdminKeyCeremony struct {
	Options []byte
	Sealed  []byte
}

// Purposes of a sealed ceremony.
const (
	keySetup    = "setup"
	keyRegister = "register"
	keySignIn   = "signin"
	keyReauth   = "reauth"
)

type adminCeremony struct {
	AdminID   string `json:"a"`
	Session   []byte `json:"s"`
	Challenge string `json:"c,omitempty"`
}

func adminCeremonyAD(purpose string) []byte { return []byte("admin webauthn " + purpose) }

var (
	// ErrAdminLastFactor refuses to remove an administrator's only second
	// factor.
	ErrAdminLastFactor = &Error{Kind: KindConflict, Detail: "this is your only second factor; add another one before removing it"}
	errAdminKeyForm    = &Error{Kind: KindInvalid, Param: "webauthn", Detail: "the security key form is damaged, expired or from another page; reload the page and try again"}
	errAdminKeyRefused = &Error{Kind: KindInvalid, Param: "webauthn", Detail: "the security key's answer was not accepted; try again"}
)

// AdminKeysEnabled reports whether administrators can use security keys
// (a relying party is configured: the public hostname is a DNS name).
func (s *Service) AdminKeysEnabled() bool { return s.opts.WebAuthn != nil }

func (s *Service) sealCeremony(purpose, adminID string, session []byte, challenge string) ([]byte, error) {
	b, err := json.Marshal(adminCeremony{AdminID: adminID, Session: session, Challenge: challenge})
	if err != nil {
		return nil, err
	}
	return s.box.Seal(b, adminCeremonyAD(purpose))
}

func (s *Service) openCeremony(purpose, adminID string, sealed []byte) (adminCeremony, error) {
	b, err := s.box.Open(sealed, adminCeremonyAD(purpose))
	var c adminCeremony
	if err != nil || json.Unmarshal(b, &c) != nil || len(c.Session) == 0 || (adminID != "" && c.AdminID != adminID) {
		return adminCeremony{}, errAdminKeyForm
	}
	return c, nil
}

func adminWebAuthnUser(a store.Admin) WebAuthnUser { return WebAuthnUser{ID: a.ID, Username: a.Email} }

// beginAdminKeyRegistration starts adding a key for a (existing keys
// excluded).
func (s *Service) beginAdminKeyRegistration(ctx context.Context, a store.Admin, purpose string) (AdminKeyCeremony, error) {
	if s.opts.WebAuthn == nil {
		return AdminKeyCeremony{}, errWebAuthnOff
	}
	existing, err := s.st.ListAdminWebAuthn(ctx, a.ID)
	if err != nil {
		return AdminKeyCeremony{}, wrap("security key registration", err)
	}
	if len(existing) >= MaxAdminKeys {
		return AdminKeyCeremony{}, invalid("webauthn", fmt.Sprintf("at most %d security keys per administrator; remove one first", MaxAdminKeys))
	}
	opts, sess, err := s.opts.WebAuthn.BeginRegistration(adminWebAuthnUser(a), existing, "")
	if err != nil {
		return AdminKeyCeremony{}, wrap("security key registration", err)
	}
	sealed, err := s.sealCeremony(purpose, a.ID, sess, "")
	if err != nil {
		return AdminKeyCeremony{}, wrap("security key registration", err)
	}
	return AdminKeyCeremony{Options: opts, Sealed: sealed}, nil
}

// finishAdminKeyRegistration verifies the browser's answer and returns the
// new credential, ready to store.
func (s *Service) finishAdminKeyRegistration(a store.Admin, purpose string, sealed, response []byte, name string) (store.WebAuthnCredential, error) {
	if s.opts.WebAuthn == nil {
		return store.WebAuthnCredential{}, errWebAuthnOff
	}
	name, err := checkAdminKeyName(name)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	c, err := s.openCeremony(purpose, a.ID, sealed)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	cred, err := s.opts.WebAuthn.FinishRegistration(adminWebAuthnUser(a), c.Session, response, "")
	if errors.Is(err, ErrWebAuthnRefused) {
		s.opts.Logger.Info("administrator security key registration refused", "admin_id", a.ID, "err", err)
		return store.WebAuthnCredential{}, errAdminKeyRefused
	}
	if err != nil {
		return store.WebAuthnCredential{}, wrap("security key registration", err)
	}
	now := s.now()
	cred.ID, cred.UserID, cred.Name, cred.Created = ids.New(ids.WebAuthn), a.ID, name, now
	return cred, nil
}

func checkAdminKeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return DefaultWebAuthnName, nil
	}
	if len([]rune(name)) > maxWebAuthnName || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", invalid("name", fmt.Sprintf("at most %d characters, no control characters", maxWebAuthnName))
	}
	return name, nil
}

// BeginAdminSetupKey starts registering a security key on a setup link's
// page (instead of an authenticator app).
func (s *Service) BeginAdminSetupKey(ctx context.Context, token string) (AdminKeyCeremony, error) {
	a, _, err := s.setupAdmin(ctx, s.st, token)
	if err != nil {
		return AdminKeyCeremony{}, err
	}
	return s.beginAdminKeyRegistration(ctx, a, keySetup)
}

// CompleteAdminSetupKey uses a setup link with a security key: the
// password, the key and the administrator-log row are written in one
// transaction with the link's use.
func (s *Service) CompleteAdminSetupKey(ctx context.Context, token, password string, sealed, response []byte, name string) (store.Admin, error) {
	if err := CheckAdminPassword(password); err != nil {
		return store.Admin{}, err
	}
	a, _, err := s.setupAdmin(ctx, s.st, token)
	if err != nil {
		return store.Admin{}, err
	}
	cred, err := s.finishAdminKeyRegistration(a, keySetup, sealed, response, name)
	if err != nil {
		return store.Admin{}, err
	}
	hash, err := passhash.Hash(password, s.opts.AdminPasswordCost)
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
		cur.PasswordHash, cur.TOTPSecretEnc, cur.TOTPLastStep, cur.LastLogin = hash, nil, 0, s.now()
		if err := q.UpdateAdmin(ctx, cur); err != nil {
			return err
		}
		if _, err := q.DeleteAdminWebAuthnOf(ctx, a.ID); err != nil {
			return err
		}
		if err := q.CreateAdminWebAuthn(ctx, cred); err != nil {
			return err
		}
		cur.Keys = 1
		a = cur
		return s.adminLog(ctx, q, "admin_setup", a.Email, map[string]any{"admin_id": a.ID, "factor": FactorWebAuthn, "webauthnkey": cred.ID})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.Admin{}, invalid("webauthn", "this security key is registered already")
	}
	if err != nil {
		return store.Admin{}, adminErr("admin setup", err)
	}
	return a, nil
}

// AdminKeys lists an administrator's security keys.
func (s *Service) AdminKeys(ctx context.Context, adminID string) ([]store.WebAuthnCredential, error) {
	list, err := s.st.ListAdminWebAuthn(ctx, adminID)
	if err != nil {
		return nil, wrap("admin security keys", err)
	}
	return list, nil
}

// BeginAdminKeyRegistration starts adding a security key to a signed-in
// administrator's account.
func (s *Service) BeginAdminKeyRegistration(ctx context.Context, adminID string) (AdminKeyCeremony, error) {
	a, err := s.st.GetAdmin(ctx, adminID)
	if err != nil {
		return AdminKeyCeremony{}, adminErr("security key registration", err)
	}
	return s.beginAdminKeyRegistration(ctx, a, keyRegister)
}

// AddAdminKey finishes BeginAdminKeyRegistration.
func (s *Service) AddAdminKey(ctx context.Context, adminID string, sealed, response []byte, name string) (store.WebAuthnCredential, error) {
	a, err := s.st.GetAdmin(ctx, adminID)
	if err != nil {
		return store.WebAuthnCredential{}, adminErr("add security key", err)
	}
	cred, err := s.finishAdminKeyRegistration(a, keyRegister, sealed, response, name)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateAdminWebAuthn(ctx, cred); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_factor_add", a.Email, map[string]any{"admin_id": a.ID, "factor": FactorWebAuthn, "webauthnkey": cred.ID, "name": cred.Name})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.WebAuthnCredential{}, invalid("webauthn", "this security key is registered already")
	}
	if err != nil {
		return store.WebAuthnCredential{}, adminErr("add security key", err)
	}
	return cred, nil
}

// RemoveAdminKey removes one of an administrator's security keys, never
// the last second factor.
func (s *Service) RemoveAdminKey(ctx context.Context, adminID, keyID string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		a, err := q.GetAdmin(ctx, adminID)
		if err != nil {
			return err
		}
		keys, err := q.ListAdminWebAuthn(ctx, adminID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(keys, func(k store.WebAuthnCredential) bool { return k.ID == keyID })
		if i < 0 {
			return notFound("no such security key")
		}
		if len(keys) == 1 && !a.HasTOTP() {
			return ErrAdminLastFactor
		}
		if err := q.DeleteAdminWebAuthn(ctx, keyID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_factor_delete", a.Email, map[string]any{"admin_id": a.ID, "factor": FactorWebAuthn, "webauthnkey": keyID, "name": keys[i].Name})
	})
	return adminErr("remove security key", err)
}

// BeginAdminTOTP makes a new authenticator-app secret for a signed-in
// administrator (sealed for the form that confirms it, as at setup).
func (s *Service) BeginAdminTOTP(ctx context.Context, adminID string) (AdminSetupInfo, error) {
	a, err := s.st.GetAdmin(ctx, adminID)
	if err != nil {
		return AdminSetupInfo{}, adminErr("authenticator app", err)
	}
	return s.newAdminTOTP(a, nil)
}

// ReopenAdminTOTP is BeginAdminTOTP for a form posted back with a
// mistake: the secret it carried is kept when it opens.
func (s *Service) ReopenAdminTOTP(ctx context.Context, adminID string, sealed []byte) (AdminSetupInfo, error) {
	a, err := s.st.GetAdmin(ctx, adminID)
	if err != nil {
		return AdminSetupInfo{}, adminErr("authenticator app", err)
	}
	secret, err := s.box.Open(sealed, adminSetupAD(a.ID))
	if err != nil || len(secret) != 20 {
		secret = nil
	}
	return s.newAdminTOTP(a, secret)
}

func (s *Service) newAdminTOTP(a store.Admin, secret []byte) (AdminSetupInfo, error) {
	if secret == nil {
		secret = make([]byte, 20)
		if _, err := rand.Read(secret); err != nil {
			return AdminSetupInfo{}, wrap("authenticator app", err)
		}
	}
	sealed, err := s.box.Seal(secret, adminSetupAD(a.ID))
	if err != nil {
		return AdminSetupInfo{}, wrap("authenticator app", err)
	}
	key := otp.Key{Type: otp.TypeTOTP, Issuer: s.opts.TOTPIssuer + " console", Account: a.Email, Secret: secret,
		Algorithm: otp.SHA1, Digits: otp.DefaultDigits, Period: otp.DefaultPeriod}
	return AdminSetupInfo{Admin: a, Secret: secret, SecretBase32: otp.EncodeBase32(secret), URI: key.URI(), Sealed: sealed}, nil
}

// AddAdminTOTP sets (or replaces) a signed-in administrator's
// authenticator app, once a code of it proves it was added.
func (s *Service) AddAdminTOTP(ctx context.Context, adminID string, sealed []byte, code string) error {
	secret, err := s.box.Open(sealed, adminSetupAD(adminID))
	if err != nil || len(secret) != 20 {
		return invalid("secret", "the form is damaged or from another page; reload the page")
	}
	step, ok := matchTOTP(secret, strings.TrimSpace(code), s.opts.Now(), 0)
	if !ok {
		return invalid("code", "the code does not match; check the phone's clock and type the code the app shows now")
	}
	enc, err := s.box.Seal(secret, []byte(adminID))
	if err != nil {
		return wrap("authenticator app", err)
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		a, err := q.GetAdmin(ctx, adminID)
		if err != nil {
			return err
		}
		replaced := a.HasTOTP()
		a.TOTPSecretEnc, a.TOTPLastStep = enc, int64(step)
		if err := q.UpdateAdmin(ctx, a); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_factor_add", a.Email, map[string]any{"admin_id": a.ID, "factor": "totp", "replaced": replaced})
	})
	return adminErr("authenticator app", err)
}

// RemoveAdminTOTP removes an administrator's authenticator app, never the
// last second factor.
func (s *Service) RemoveAdminTOTP(ctx context.Context, adminID string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		a, err := q.GetAdmin(ctx, adminID)
		if err != nil {
			return err
		}
		if !a.HasTOTP() {
			return notFound("no authenticator app is set up")
		}
		if a.Keys == 0 {
			return ErrAdminLastFactor
		}
		a.TOTPSecretEnc, a.TOTPLastStep = nil, 0
		if err := q.UpdateAdmin(ctx, a); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_factor_delete", a.Email, map[string]any{"admin_id": a.ID, "factor": "totp"})
	})
	return adminErr("remove authenticator app", err)
}

// ChangeAdminPassword sets a signed-in administrator's password (the
// console asks for a recent re-authentication first).
func (s *Service) ChangeAdminPassword(ctx context.Context, adminID, password string) error {
	if err := CheckAdminPassword(password); err != nil {
		return err
	}
	hash, err := passhash.Hash(password, s.opts.AdminPasswordCost)
	if err != nil {
		return wrap("change password", err)
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		a, err := q.GetAdmin(ctx, adminID)
		if err != nil {
			return err
		}
		a.PasswordHash = hash
		if err := q.UpdateAdmin(ctx, a); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_password_change", a.Email, map[string]any{"admin_id": a.ID})
	})
	return adminErr("change password", err)
}

// EndOtherAdminSessions signs an administrator out everywhere but in
// sess, and returns how many sessions ended.
func (s *Service) EndOtherAdminSessions(ctx context.Context, sess store.AdminSession) (int, error) {
	var n int
	err := s.st.InTx(ctx, func(q store.Queries) error {
		a, err := q.GetAdmin(ctx, sess.AdminID)
		if err != nil {
			return err
		}
		if n, err = q.DeleteAdminSessionsOf(ctx, sess.AdminID); err != nil {
			return err
		}
		if err := q.CreateAdminSession(ctx, sess); err != nil {
			return err
		}
		n = max(n-1, 0)
		return s.adminLog(ctx, q, "admin_sessions_end", a.Email, map[string]any{"admin_id": a.ID, "sessions": n})
	})
	return n, adminErr("end sessions", err)
}

// SetAdminRole changes an administrator's role; the last owner who has
// finished setup is never demoted.
func (s *Service) SetAdminRole(ctx context.Context, emailOrID string, role store.AdminRole) (store.Admin, error) {
	if !slices.Contains(store.AdminRoles, role) {
		return store.Admin{}, invalid("role", "must be one of owner, administrator, help_desk, read_only")
	}
	var a store.Admin
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if a, err = s.admin(ctx, q, emailOrID); err != nil {
			return err
		}
		if a.Role == role {
			return nil
		}
		if a.Role == store.RoleOwner && !a.Pending() {
			if err := s.otherOwner(ctx, q, a.ID); err != nil {
				return err
			}
		}
		from := a.Role
		a.Role = role
		if err := q.UpdateAdmin(ctx, a); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "admin_update", a.Email, map[string]any{"admin_id": a.ID, "role": role, "previous_role": from})
	})
	if err != nil {
		return store.Admin{}, adminErr("set admin role", err)
	}
	return a, nil
}

// checkAdminPasswordOnly verifies an administrator's password as
// checkAdmin does (the dummy hash for an unknown e-mail), logging a
// failure as action_error.
func (s *Service) checkAdminPasswordOnly(ctx context.Context, a store.Admin, found bool, password, action string) error {
	hash := s.dummyHash()
	if found && a.PasswordHash != "" {
		hash = a.PasswordHash
	}
	ok, err := passhash.Verify(password, hash)
	if err != nil {
		return wrap(action, err)
	}
	switch {
	case !found || a.Pending():
		return s.adminLoginFailed(ctx, a, found, action, "unknown or not set up")
	case !ok:
		return s.adminLoginFailed(ctx, a, found, action, "wrong password")
	}
	return nil
}

func (s *Service) adminLoginFailed(ctx context.Context, a store.Admin, found bool, action, reason string) error {
	if found {
		_ = s.st.InTx(ctx, func(q store.Queries) error {
			return s.adminLog(ctx, q, action+"_error", a.Email, map[string]any{"admin_id": a.ID, "reason": reason})
		})
	}
	return ErrAdminLogin
}

// errAdminNoKey: the password was right but the administrator has no
// security key (the form needs the app's code).
var errAdminNoKey = &Error{Kind: KindInvalid, Param: "code", Detail: "type the code from your authenticator app (no security key is registered)"}

// BeginAdminKeySignIn checks an administrator's password and starts a
// security-key login: the second step of a sign-in without a code.
func (s *Service) BeginAdminKeySignIn(ctx context.Context, email, password string) (AdminKeyCeremony, error) {
	a, err := s.st.GetAdminByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return AdminKeyCeremony{}, wrap("admin sign-in", err)
	}
	if err := s.checkAdminPasswordOnly(ctx, a, err == nil, password, "admin_login"); err != nil {
		return AdminKeyCeremony{}, err
	}
	if s.opts.WebAuthn == nil || a.Keys == 0 {
		// As any failed sign-in: an administrator without a key who left
		// the code empty does not learn that the password was right.
		return AdminKeyCeremony{}, s.adminLoginFailed(ctx, a, true, "admin_login", "no code and no security key")
	}
	return s.beginAdminKeyLogin(ctx, a, keySignIn)
}

// BeginAdminKeyReauth starts a security-key login for a signed-in
// administrator's re-authentication (the password goes with the answer).
func (s *Service) BeginAdminKeyReauth(ctx context.Context, adminID string) (AdminKeyCeremony, error) {
	a, err := s.st.GetAdmin(ctx, adminID)
	if err != nil {
		return AdminKeyCeremony{}, adminErr("admin re-authentication", err)
	}
	return s.beginAdminKeyLogin(ctx, a, keyReauth)
}

func (s *Service) beginAdminKeyLogin(ctx context.Context, a store.Admin, purpose string) (AdminKeyCeremony, error) {
	if s.opts.WebAuthn == nil || a.Keys == 0 {
		return AdminKeyCeremony{}, errAdminNoKey
	}
	creds, err := s.st.ListAdminWebAuthn(ctx, a.ID)
	if err != nil {
		return AdminKeyCeremony{}, wrap("admin security key", err)
	}
	if len(creds) == 0 {
		return AdminKeyCeremony{}, errAdminNoKey
	}
	opts, sess, challenge, err := s.opts.WebAuthn.BeginLogin(adminWebAuthnUser(a), creds, "")
	if err != nil {
		return AdminKeyCeremony{}, wrap("admin security key", err)
	}
	sealed, err := s.sealCeremony(purpose, a.ID, sess, challenge)
	if err != nil {
		return AdminKeyCeremony{}, wrap("admin security key", err)
	}
	return AdminKeyCeremony{Options: opts, Sealed: sealed}, nil
}

// FinishAdminKeySignIn checks the answer to BeginAdminKeySignIn's
// ceremony (the password was checked then; the sealed form proves it).
func (s *Service) FinishAdminKeySignIn(ctx context.Context, sealed, response []byte) (store.Admin, error) {
	c, err := s.openCeremony(keySignIn, "", sealed)
	if err != nil {
		return store.Admin{}, err
	}
	a, err := s.st.GetAdmin(ctx, c.AdminID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Admin{}, ErrAdminLogin
	}
	if err != nil {
		return store.Admin{}, wrap("admin sign-in", err)
	}
	return s.checkAdminKey(ctx, a, c, response, "admin_login")
}

// AdminReauthKey checks a signed-in administrator's password and security
// key before a dangerous action.
func (s *Service) AdminReauthKey(ctx context.Context, adminID, password string, sealed, response []byte) (store.Admin, error) {
	a, err := s.st.GetAdmin(ctx, adminID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Admin{}, wrap("admin re-authentication", err)
	}
	if err := s.checkAdminPasswordOnly(ctx, a, err == nil, password, "admin_reauth"); err != nil {
		return store.Admin{}, err
	}
	c, err := s.openCeremony(keyReauth, a.ID, sealed)
	if err != nil {
		return store.Admin{}, err
	}
	return s.checkAdminKey(ctx, a, c, response, "admin_reauth")
}

// checkAdminKey verifies an assertion: the challenge once, the signature
// against the administrator's keys, a counter that increases (a guarded
// write), then the administrator-log row.
func (s *Service) checkAdminKey(ctx context.Context, a store.Admin, c adminCeremony, response []byte, action string) (store.Admin, error) {
	if s.opts.WebAuthn == nil {
		return store.Admin{}, errWebAuthnOff
	}
	if a.Pending() {
		return store.Admin{}, s.adminLoginFailed(ctx, a, true, action, "not set up")
	}
	if err := s.ClaimOnce(ctx, "admin_webauthn_challenge", c.Challenge, webauthnChallengeTTL); err != nil {
		if errors.Is(err, ErrAlreadyClaimed) {
			return store.Admin{}, s.adminLoginFailed(ctx, a, true, action, "security key request used already")
		}
		return store.Admin{}, err
	}
	creds, err := s.st.ListAdminWebAuthn(ctx, a.ID)
	if err != nil {
		return store.Admin{}, wrap(action, err)
	}
	as, err := s.opts.WebAuthn.FinishLogin(adminWebAuthnUser(a), creds, c.Session, response, "")
	if errors.Is(err, ErrWebAuthnRefused) {
		s.opts.Logger.Info("administrator security key refused", "admin_id", a.ID, "err", err)
		return store.Admin{}, s.adminLoginFailed(ctx, a, true, action, "security key refused")
	}
	if err != nil {
		return store.Admin{}, wrap(action, err)
	}
	i := slices.IndexFunc(creds, func(k store.WebAuthnCredential) bool { return bytes.Equal(k.CredentialID, as.CredentialID) })
	if i < 0 {
		return store.Admin{}, s.adminLoginFailed(ctx, a, true, action, "security key refused")
	}
	key := creds[i]
	if as.CloneWarning {
		return store.Admin{}, s.adminLoginFailed(ctx, a, true, action, "security key counter did not increase")
	}
	now := s.now()
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.UseAdminWebAuthn(ctx, key.ID, key.SignCount, as.SignCount, as.BackupState, now); err != nil {
			return err
		}
		cur, err := q.GetAdmin(ctx, a.ID)
		if err != nil {
			return err
		}
		cur.LastLogin = now
		if err := q.UpdateAdmin(ctx, cur); err != nil {
			return err
		}
		a = cur
		return s.adminLog(ctx, q, action, a.Email, map[string]any{"admin_id": a.ID, "factor": FactorWebAuthn, "webauthnkey": key.ID})
	})
	if errors.Is(err, store.ErrConflict) {
		return store.Admin{}, s.adminLoginFailed(ctx, a, true, action, "security key counter did not increase")
	}
	if err != nil {
		return store.Admin{}, wrap(action, err)
	}
	return a, nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// WebAuthn: security keys, platform authenticators and passkeys, in the
// hosted prompt and the enrollment portal only (a browser must be there;
// it is not an Auth API factor).
//
// The protocol work (options, attestation and assertion verification) is
// done by a WebAuthnRP (internal/webauthnrp, on go-webauthn), which imports
// net/http and so stays outside the core. The core keeps what decides:
// who may register and log in, the credentials, the sign counter (a
// guarded write: a counter that does not increase is refused, as
// go-webauthn's CloneWarning signals), single use of each challenge, the
// failure count and lockout, the rate limits of passcodes, and the
// auth-log row, committed before the answer.

// FactorWebAuthn is the auth log's factor of a WebAuthn login.
const FactorWebAuthn = "webauthn"

// Auth-log reasons of WebAuthn logins.
const (
	ReasonValidWebAuthn   = "valid_webauthn_credential"
	ReasonInvalidWebAuthn = "invalid_webauthn_credential"
	// ReasonWebAuthnCounter: the signature counter did not increase (a
	// cloned authenticator, or a replayed assertion).
	ReasonWebAuthnCounter = "webauthn_counter_not_increased"
)

// Limits on what a user names a credential, and on how many a user has
// (each is listed in every login ceremony, inside the prompt's sealed
// state).
const (
	maxWebAuthnName = 64
	// MaxWebAuthnPerUser bounds a user's security keys and passkeys.
	MaxWebAuthnPerUser = 20
)

// DefaultWebAuthnName is a credential's name when the user gives none.
const DefaultWebAuthnName = "Security key"

// webauthnChallengeTTL is how long a used challenge is remembered: longer
// than any ceremony (the RP's timeout, the prompt's lifetime).
const webauthnChallengeTTL = 30 * time.Minute

// WebAuthnUser is the user a ceremony is for.
type WebAuthnUser struct {
	ID       string // DU…; the WebAuthn user handle
	Username string
}

// WebAuthnAssertion is a verified login assertion.
type WebAuthnAssertion struct {
	CredentialID []byte
	SignCount    uint32 // the authenticator's counter in this assertion
	// CloneWarning: the counter did not increase over the stored one (and
	// they are not both zero).
	CloneWarning bool
	BackupState  bool
	UserVerified bool
}

// ErrWebAuthnRefused wraps every verification failure of a WebAuthnRP: the
// browser's answer is not acceptable (as opposed to a server error).
var ErrWebAuthnRefused = errors.New("webauthn: refused")

// WebAuthnRP builds ceremonies and verifies the browser's answers. Options
// are the JSON "publicKey" member for navigator.credentials; sessions are
// opaque JSON the caller keeps where the browser cannot change them.
// topOrigin is the origin of the page framing the prompt, empty when the
// prompt is the top-level page.
type WebAuthnRP interface {
	BeginRegistration(u WebAuthnUser, existing []store.WebAuthnCredential, topOrigin string) (options, session []byte, err error)
	FinishRegistration(u WebAuthnUser, session, response []byte, topOrigin string) (store.WebAuthnCredential, error)
	BeginLogin(u WebAuthnUser, creds []store.WebAuthnCredential, topOrigin string) (options, session []byte, challenge string, err error)
	FinishLogin(u WebAuthnUser, creds []store.WebAuthnCredential, session, response []byte, topOrigin string) (WebAuthnAssertion, error)
}

// WebAuthnCeremony is a begun registration or login: Options go to the
// browser, Session and Challenge stay with the caller (the prompt seals
// them into its state) and come back with the answer.
type WebAuthnCeremony struct {
	Options   []byte
	Session   []byte
	Challenge string
	UserID    string
}

var (
	errWebAuthnOff     = &Error{Kind: KindInvalid, Detail: "security keys are not set up on this server"}
	errChallengeUsed   = &Error{Kind: KindInvalid, Param: "webauthn", Detail: "this security key request was already used; start again"}
	errNoCredentials   = &Error{Kind: KindInvalid, Param: "webauthn", Detail: "no security key or passkey is registered for this user"}
	errWebAuthnRefused = &Error{Kind: KindInvalid, Param: "webauthn", Detail: "the security key's answer was not accepted"}
)

// WebAuthnEnabled reports whether security keys can be used (a relying
// party is configured).
func (s *Service) WebAuthnEnabled() bool { return s.opts.WebAuthn != nil }

// WebAuthnCredential returns one credential.
func (s *Service) WebAuthnCredential(ctx context.Context, id string) (store.WebAuthnCredential, error) {
	c, err := s.st.GetWebAuthnCredential(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.WebAuthnCredential{}, notFound("no security key with that ID")
	}
	if err != nil {
		return store.WebAuthnCredential{}, wrap("webauthn credential", err)
	}
	return c, nil
}

// WebAuthnCredentials lists a user's credentials ("": every user's), by
// Created.
func (s *Service) WebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	c, err := s.st.ListWebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, wrap("webauthn credentials", err)
	}
	return c, nil
}

// RemoveWebAuthnCredential removes one of a user's credentials (a lost
// key); KindNotFound if the user has no such credential.
func (s *Service) RemoveWebAuthnCredential(ctx context.Context, nameOrID, id string) error {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return err
	}
	c, err := s.st.GetWebAuthnCredential(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.UserID != u.ID) {
		return notFound(fmt.Sprintf("%s has no security key %s", u.Username, id))
	}
	if err != nil {
		return wrap("remove security key", err)
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteWebAuthnCredential(ctx, id); err != nil {
			return err
		}
		return s.adminLogIfActor(ctx, q, "webauthncredential_delete", u.Username, map[string]any{"webauthnkey": id, "name": c.Name})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return wrap("remove security key", err)
	}
	s.opts.Logger.Info("webauthn credential removed", "user_id", u.ID, "credential", id)
	return nil
}

// WebAuthnRegistrationRequest begins adding a credential for Username
// (created, like Enroll does, when unknown). IKey is the integration whose
// prompt enrolls (rate limited like activation codes); empty for the
// portal.
type WebAuthnRegistrationRequest struct {
	Username  string
	IKey      string
	TopOrigin string
}

// BeginWebAuthnRegistration starts a registration ceremony.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, req WebAuthnRegistrationRequest) (WebAuthnCeremony, error) {
	if s.opts.WebAuthn == nil {
		return WebAuthnCeremony{}, errWebAuthnOff
	}
	if err := validateUsername(req.Username); err != nil {
		return WebAuthnCeremony{}, err
	}
	if err := s.allowEnrollment(ctx, req.IKey); err != nil {
		return WebAuthnCeremony{}, err
	}
	now := s.now()
	var u store.User
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		u, err = enrollingUser(ctx, q, req.Username, now)
		return err
	})
	if err != nil {
		return WebAuthnCeremony{}, wrap("webauthn registration", err)
	}
	existing, err := s.st.ListWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return WebAuthnCeremony{}, wrap("webauthn registration", err)
	}
	if len(existing) >= MaxWebAuthnPerUser {
		return WebAuthnCeremony{}, invalid("webauthn", fmt.Sprintf("at most %d security keys per user; remove one first", MaxWebAuthnPerUser))
	}
	opts, sess, err := s.opts.WebAuthn.BeginRegistration(WebAuthnUser{ID: u.ID, Username: u.Username}, existing, req.TopOrigin)
	if err != nil {
		return WebAuthnCeremony{}, wrap("webauthn registration", err)
	}
	return WebAuthnCeremony{Options: opts, Session: sess, UserID: u.ID}, nil
}

// WebAuthnRegistration is the browser's answer to a registration.
type WebAuthnRegistration struct {
	UserID    string // WebAuthnCeremony.UserID
	Name      string // chosen by the user; DefaultWebAuthnName if empty
	Session   []byte
	Response  []byte // the PublicKeyCredential as JSON
	TopOrigin string
}

// CheckWebAuthnName returns a credential name cleaned up, or an error a
// user can read.
func CheckWebAuthnName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return DefaultWebAuthnName, nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxWebAuthnName {
		return "", invalid("name", fmt.Sprintf("must be at most %d characters", maxWebAuthnName))
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", invalid("name", "must not contain control characters")
		}
	}
	return name, nil
}

// FinishWebAuthnRegistration verifies the answer and stores the credential.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, req WebAuthnRegistration) (store.WebAuthnCredential, error) {
	if s.opts.WebAuthn == nil {
		return store.WebAuthnCredential{}, errWebAuthnOff
	}
	name, err := CheckWebAuthnName(req.Name)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	u, err := s.st.GetUser(ctx, req.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.WebAuthnCredential{}, notFound("no such user")
	}
	if err != nil {
		return store.WebAuthnCredential{}, wrap("webauthn registration", err)
	}
	c, err := s.opts.WebAuthn.FinishRegistration(WebAuthnUser{ID: u.ID, Username: u.Username}, req.Session, req.Response, req.TopOrigin)
	if errors.Is(err, ErrWebAuthnRefused) {
		s.log(ctx).Warn("webauthn registration refused", "user_id", u.ID, "err", err)
		return store.WebAuthnCredential{}, errWebAuthnRefused
	}
	if err != nil {
		return store.WebAuthnCredential{}, wrap("webauthn registration", err)
	}
	c.ID, c.UserID, c.Name, c.Created = ids.New(ids.WebAuthn), u.ID, name, s.now()
	err = s.st.CreateWebAuthnCredential(ctx, c)
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.WebAuthnCredential{}, &Error{Kind: KindConflict, Param: "webauthn", Detail: "this security key is already registered"}
	}
	if err != nil {
		return store.WebAuthnCredential{}, wrap("webauthn registration", err)
	}
	s.opts.Logger.Info("webauthn credential registered", "user_id", u.ID, "credential", c.ID, "attestation", c.AttestationType)
	s.noticeDevice(ctx, u.ID, "security key", c.Name, "")
	return c, nil
}

// BeginWebAuthnLogin starts a login ceremony for an active user with
// credentials.
func (s *Service) BeginWebAuthnLogin(ctx context.Context, req Request, topOrigin string) (WebAuthnCeremony, error) {
	if s.opts.WebAuthn == nil {
		return WebAuthnCeremony{}, errWebAuthnOff
	}
	var err error
	if req, err = req.check(); err != nil {
		return WebAuthnCeremony{}, err
	}
	u, known, err := lookup(ctx, s.st, req.ref())
	if err != nil {
		return WebAuthnCeremony{}, wrap("webauthn login", err)
	}
	if !known {
		return WebAuthnCeremony{}, errNoCredentials
	}
	creds, err := s.st.ListWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return WebAuthnCeremony{}, wrap("webauthn login", err)
	}
	if len(creds) == 0 {
		return WebAuthnCeremony{}, errNoCredentials
	}
	opts, sess, ch, err := s.opts.WebAuthn.BeginLogin(WebAuthnUser{ID: u.ID, Username: u.Username}, creds, topOrigin)
	if err != nil {
		return WebAuthnCeremony{}, wrap("webauthn login", err)
	}
	return WebAuthnCeremony{Options: opts, Session: sess, Challenge: ch, UserID: u.ID}, nil
}

// WebAuthnLoginRequest is the browser's answer to a login ceremony.
type WebAuthnLoginRequest struct {
	Request
	Session   []byte
	Challenge string // WebAuthnCeremony.Challenge: each is accepted once
	Response  []byte // the PublicKeyCredential as JSON
	TopOrigin string
}

// WebAuthnResult is a WebAuthn login's decision.
type WebAuthnResult struct {
	AuthResult
	Credential store.WebAuthnCredential // the one that signed (allow only)
}

// webauthnDecision is one try's decision and its writes.
type webauthnDecision struct {
	res       WebAuthnResult
	log       store.AuthLog
	user      string
	outcome   outcome
	use       *store.WebAuthnCredential // counter to record: SignCount is the new one
	prev      uint32
	limited   error
	lockedOut bool // set by commitWebAuthn: it locked the user out
	threshold int  // the policy's lockout threshold: 0 the service's, negative off
}

// WebAuthnLogin decides a login by security key or passkey. Like a
// passcode, a failure counts towards lockout and the passcode rate limits
// (per user and per address); the auth-log row (factor "webauthn", the
// credential's ID as device) is committed before the answer.
func (s *Service) WebAuthnLogin(ctx context.Context, req WebAuthnLoginRequest) (WebAuthnResult, error) {
	if s.opts.WebAuthn == nil {
		return WebAuthnResult{}, errWebAuthnOff
	}
	var err error
	if req.Request, err = req.check(); err != nil {
		return WebAuthnResult{}, err
	}
	if req.Challenge == "" || len(req.Session) == 0 {
		return WebAuthnResult{}, invalid("webauthn", "no ceremony")
	}
	// One answer per challenge: a replayed assertion of a counter-less
	// passkey would otherwise pass again within the session's life.
	if err := s.ClaimOnce(ctx, "webauthn_challenge", req.Challenge, webauthnChallengeTTL); err != nil {
		if errors.Is(err, ErrAlreadyClaimed) {
			return WebAuthnResult{}, errChallengeUsed
		}
		return WebAuthnResult{}, err
	}
	var attempt passcodeAttempt
	committed := false
	defer func() { attempt.end(committed) }()
	s.refreshThreshold(ctx) // outside the write transaction, as decideAuth
	for try := 1; ; try++ {
		d, err := s.decideWebAuthn(ctx, req, &attempt)
		if err != nil {
			return WebAuthnResult{}, err
		}
		err = s.st.InTx(ctx, func(q store.Queries) error { return s.commitWebAuthn(ctx, q, d) })
		if err == nil {
			committed = true
			s.logged(&d.log)
			if d.lockedOut {
				s.stats.lockouts.Add(1)
			}
			attempt.failed = d.outcome == outcomeFailure
			if d.limited != nil {
				return WebAuthnResult{}, d.limited
			}
			return d.res, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return WebAuthnResult{}, wrap("webauthn login", err)
		}
		if try == maxDecisionTries {
			return WebAuthnResult{}, fmt.Errorf("%w (%d tries): %w", errContention, try, err)
		}
	}
}

func (s *Service) decideWebAuthn(ctx context.Context, req WebAuthnLoginRequest, attempt *passcodeAttempt) (*webauthnDecision, error) {
	u, known, err := lookup(ctx, s.st, req.ref())
	if err != nil {
		return nil, err
	}
	if !known {
		return nil, errNoCredentials
	}
	d := &webauthnDecision{log: s.logRow(req.Request, u)}
	d.log.Factor = FactorWebAuthn
	deny := func(status, msg, reason string) *webauthnDecision {
		d.res.AuthResult = AuthResult{Result: ResultDeny, Status: status, StatusMsg: msg, TxID: d.log.TxID}
		d.log.Result, d.log.Reason = ResultDeny, reason
		return d
	}
	effective, groups, err := s.statusAndGroups(ctx, s.st, u)
	if err != nil {
		return nil, err
	}
	d.log.Groups = groups
	// The policy's lockout threshold and automatic unlock, as for a
	// passcode (see decide).
	e := evaluate(req.Integration, groupIDs(groups))
	d.threshold = e.threshold
	if effective == store.StatusLockedOut {
		unlocked, err := s.autoUnlock(ctx, e, u)
		if err != nil {
			return nil, err
		}
		if unlocked.Status != u.Status {
			u = unlocked
			if effective, _, err = s.statusAndGroups(ctx, s.st, u); err != nil {
				return nil, err
			}
		}
	}
	switch effective {
	case store.StatusDisabled:
		return deny(ResultDeny, msgDisabled, ReasonUserDisabled), nil
	case store.StatusLockedOut:
		return deny("locked_out", msgLockedOut, ReasonLockedOut), nil
	}
	if err := s.beginPasscode(ctx, attempt, u, req.IP); err != nil {
		if IsKind(err, KindRateLimited) {
			d.limited = err
			deny(ResultDeny, "", ReasonRateLimited)
			return d, nil
		}
		return nil, err
	}
	creds, err := s.st.ListWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, errNoCredentials
	}
	fail := func(reason string) *webauthnDecision {
		d.user, d.outcome = u.ID, outcomeFailure
		return deny(ResultDeny, "The security key was not accepted.", reason)
	}
	a, err := s.opts.WebAuthn.FinishLogin(WebAuthnUser{ID: u.ID, Username: u.Username}, creds, req.Session, req.Response, req.TopOrigin)
	if err != nil && !errors.Is(err, ErrWebAuthnRefused) {
		return nil, err
	}
	var c *store.WebAuthnCredential
	for i := range creds {
		if string(creds[i].CredentialID) == string(a.CredentialID) {
			c = &creds[i]
			d.log.Device = c.ID // also when refused: the key it claims to be
			break
		}
	}
	if err != nil {
		s.log(ctx).Info("webauthn assertion refused", "user_id", u.ID, "credential", d.log.Device, "err", err)
		return fail(ReasonInvalidWebAuthn), nil
	}
	if c == nil {
		return fail(ReasonInvalidWebAuthn), nil
	}
	if a.CloneWarning {
		s.log(ctx).Warn("webauthn signature counter did not increase: refused (cloned key or replay)",
			"user_id", u.ID, "credential", c.ID, "stored", c.SignCount, "asserted", a.SignCount)
		return fail(ReasonWebAuthnCounter), nil
	}
	used := *c
	used.SignCount, used.BackupState, used.LastUsed = a.SignCount, a.BackupState, d.log.Time
	d.use, d.prev = &used, c.SignCount
	d.user, d.outcome = u.ID, outcomeSuccess
	d.res = WebAuthnResult{AuthResult: AuthResult{Result: ResultAllow, Status: ResultAllow, StatusMsg: msgSuccess, TxID: d.log.TxID},
		Credential: used}
	d.log.Result, d.log.Reason = ResultAllow, ReasonValidWebAuthn
	return d, nil
}

// commitWebAuthn writes the decision: the counter (guarded), the user's
// success or failure (lockout at the threshold), the last method, the log.
func (s *Service) commitWebAuthn(ctx context.Context, q store.Queries, d *webauthnDecision) error {
	d.lockedOut = false
	if d.use != nil {
		if err := q.UseWebAuthnCredential(ctx, d.use.ID, d.prev, d.use.SignCount, d.use.BackupState, d.log.Time); err != nil {
			return err
		}
	}
	switch d.outcome {
	case outcomeSuccess:
		if err := q.RecordSuccess(ctx, d.user, d.log.Time); err != nil {
			return err
		}
		if err := q.SetLastMethod(ctx, d.user, FactorWebAuthn, d.log.Time); err != nil {
			return conflictIfGone(err)
		}
	case outcomeFailure:
		n, err := q.RecordFailure(ctx, d.user)
		if err != nil {
			return err
		}
		t := s.lockoutThreshold()
		if d.threshold != 0 {
			t = d.threshold
		}
		if t > 0 && n >= t {
			if err := q.LockOut(ctx, d.user, fmt.Sprintf("%d consecutive failed authentication attempts", n), s.now()); err != nil {
				return err
			}
			s.opts.Logger.Warn("user locked out", "user_id", d.user, "failed_attempts", n)
			d.lockedOut = true
		}
	}
	return q.AppendAuthLog(ctx, &d.log)
}

// LastMethod is the method the hosted prompt offers first: the kind of
// the user's default method (set in the self-service portal), else the
// one they last logged in with ("" if none is known).
func (s *Service) LastMethod(ctx context.Context, userID string) string {
	if userID == "" {
		return ""
	}
	if m := s.defaultPromptMethod(ctx, userID); m != "" {
		return m // chosen in the self-service portal
	}
	m, err := s.st.GetLastMethod(ctx, userID)
	if err != nil {
		return ""
	}
	return m
}

// RememberMethod records the method a user just logged in with in the
// hosted prompt, so the next prompt preselects it. Best effort: the login
// has already been decided and logged.
func (s *Service) RememberMethod(ctx context.Context, userID, method string) {
	if userID == "" {
		return
	}
	if err := s.st.SetLastMethod(ctx, userID, method, s.now()); err != nil {
		s.log(ctx).Warn("could not record the last login method", "user_id", userID, "err", err)
	}
}

package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
)

// Authenticator apps a user adds in a browser (the enrollment portal, the
// prompt's inline enrollment): begin (an unconfirmed app, shown once as a
// QR code and a key), show again while unconfirmed, confirm with a first
// code under the passcode rate limits.

// TOTPAppRequest is a user adding an authenticator app in a browser.
type TOTPAppRequest struct {
	Username string
	// IKey spends an enrollment of the integration (inline enrollment in
	// the prompt); "" for the portal, whose single-use link already
	// bounds it.
	IKey string
	Name string
}

// BeginTOTPApp adds an unconfirmed authenticator app for a user, creating
// the user if the username is new (as device enrollment does). The user's
// other unconfirmed apps are removed: a user sets up one app at a time,
// and abandoned attempts must not pile up.
func (s *Service) BeginTOTPApp(ctx context.Context, req TOTPAppRequest) (TOTPEnrollment, error) {
	if err := validateUsername(req.Username); err != nil {
		return TOTPEnrollment{}, err
	}
	if err := s.allowEnrollment(ctx, req.IKey); err != nil {
		return TOTPEnrollment{}, err
	}
	now := s.now()
	var u store.User
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		u, err = enrollingUser(ctx, q, req.Username, now)
		return err
	})
	if err != nil {
		return TOTPEnrollment{}, wrap("add authenticator app: user", err)
	}
	list, err := s.st.ListTokens(ctx, u.ID)
	if err != nil {
		return TOTPEnrollment{}, wrap("add authenticator app", err)
	}
	for _, t := range list {
		if t.Kind == store.TokenTOTPApp && !t.Confirmed {
			if err := s.st.DeleteToken(ctx, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return TOTPEnrollment{}, wrap("add authenticator app: remove abandoned", err)
			}
		}
	}
	return s.AddTOTPApp(ctx, u.ID, NewTOTPApp{Name: req.Name})
}

// PendingTOTPApp shows an unconfirmed app's enrollment again (the page
// after a wrong first code). Once the app is confirmed its secret is never
// shown again: that is a not-found error.
func (s *Service) PendingTOTPApp(ctx context.Context, user, tokenID string) (TOTPEnrollment, error) {
	t, err := s.userToken(ctx, user, tokenID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if t.Kind != store.TokenTOTPApp || t.Confirmed {
		return TOTPEnrollment{}, notFound("no authenticator app waiting for its first code")
	}
	u, err := s.User(ctx, t.UserID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	secret, err := s.tokenSecret(t)
	if err != nil {
		return TOTPEnrollment{}, wrap("pending authenticator app", err)
	}
	alg, err := otp.ParseAlgorithm(t.Algorithm)
	if err != nil {
		return TOTPEnrollment{}, wrap("pending authenticator app", err)
	}
	key := otp.Key{Type: otp.TypeTOTP, Issuer: s.TOTPIssuer(ctx), Account: u.Username, Secret: secret,
		Algorithm: alg, Digits: t.Digits, Period: t.Period}
	return TOTPEnrollment{Token: t, Secret: secret, SecretBase32: otp.EncodeBase32(secret), URI: key.URI()}, nil
}

// ConfirmTOTPAppFrom is ConfirmTOTPApp for a user in a browser at ip: the
// first code counts against the same per-user and per-address limits as
// passcodes (a wrong one spends a token; over the limit, KindRateLimited
// before any check), so the confirmation page cannot be used to guess.
func (s *Service) ConfirmTOTPAppFrom(ctx context.Context, ip, user, tokenID, code string) error {
	u, err := s.User(ctx, user)
	if err != nil {
		return err
	}
	var a passcodeAttempt
	if err := s.beginPasscode(ctx, &a, u, ip); err != nil {
		return err
	}
	err = s.ConfirmTOTPApp(ctx, u.ID, tokenID, strings.TrimSpace(code))
	a.failed = errors.Is(err, ErrBadConfirmationCode)
	a.end(true)
	return err
}

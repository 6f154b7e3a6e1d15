package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
)

// Authenticator apps (TOTP) and hardware tokens: enrollment and
// administration. The passcode checks are in tokencheck.go.

// DefaultTOTPIssuer names the installation in authenticator apps.
const DefaultTOTPIssuer = "Assent"

// totpSecretLen is the length of an app's secret: 160 bits, as RFC 4226
// recommends and every app accepts.
const totpSecretLen = 20

// maxTokenName bounds the name a user gives an app.
const maxTokenName = 64

// NewTOTPApp describes an authenticator app to add. Zero values take the
// defaults every app supports: 6 digits, 30 seconds, SHA1.
type NewTOTPApp struct {
	Name      string // shown in lists and preauth; default "Authenticator app"
	Digits    int    // 6 or 8
	Period    int    // seconds, 15 to 300
	Algorithm string // SHA1, SHA256 or SHA512
	// Confirmed adds the app ready for use: an administrator adding an app
	// hands the URI over and vouches for it. Apps a user adds (portal,
	// prompt) count only after ConfirmTOTPApp.
	Confirmed bool
}

// TOTPEnrollment is a new authenticator app: what the user's app must be
// given, once. The secret is not shown again.
type TOTPEnrollment struct {
	Token  store.Token
	Secret []byte
	// SecretBase32 is the secret as apps take it for manual entry.
	SecretBase32 string
	// URI is the otpauth:// key URI the QR code holds.
	URI string
}

// AddTOTPApp creates an authenticator app for a user (name or ID) and
// returns its secret and key URI. Unless app.Confirmed, it does not count
// until ConfirmTOTPApp accepts a first code from it.
func (s *Service) AddTOTPApp(ctx context.Context, user string, app NewTOTPApp) (TOTPEnrollment, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	var errs []error
	name := strings.TrimSpace(app.Name)
	if name == "" {
		name = "Authenticator app"
	}
	if len(name) > maxTokenName {
		errs = append(errs, invalid("name", fmt.Sprintf("must be at most %d bytes", maxTokenName)))
	}
	if app.Digits == 0 {
		app.Digits = otp.DefaultDigits
	}
	if !otp.ValidDigits(app.Digits) {
		errs = append(errs, invalid("digits", "must be 6 or 8"))
	}
	if app.Period == 0 {
		app.Period = otp.DefaultPeriod
	}
	if app.Period < 15 || app.Period > 300 {
		errs = append(errs, invalid("period", "must be 15 to 300 seconds"))
	}
	alg, err := otp.ParseAlgorithm(app.Algorithm)
	if err != nil {
		errs = append(errs, invalid("algorithm", "must be SHA1, SHA256 or SHA512"))
	}
	if len(errs) > 0 {
		return TOTPEnrollment{}, errors.Join(errs...)
	}
	secret := make([]byte, totpSecretLen)
	_, _ = rand.Read(secret)
	now := s.now()
	t := store.Token{
		ID: ids.New(ids.Token), UserID: u.ID, Kind: store.TokenTOTPApp, Name: name,
		Algorithm: string(alg), Digits: app.Digits, Period: app.Period, Confirmed: app.Confirmed, Created: now,
		// Codes of steps before the app existed are never accepted.
		Counter: int64(otp.Step(now, app.Period)) - totpWindow,
	}
	if t.SecretEnc, err = s.box.Seal(secret, []byte(t.ID)); err != nil {
		return TOTPEnrollment{}, wrap("add authenticator app: seal", err)
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateToken(ctx, t); err != nil {
			return err
		}
		return s.adminLogIfActor(ctx, q, "totp_app_create", u.Username, map[string]any{"token_id": t.ID, "name": t.Name,
			"digits": t.Digits, "period": t.Period, "algorithm": t.Algorithm})
	})
	if err != nil {
		return TOTPEnrollment{}, wrap("add authenticator app", err)
	}
	s.opts.Logger.Info("authenticator app added", "user_id", u.ID, "token_id", t.ID, "confirmed", t.Confirmed)
	key := otp.Key{Type: otp.TypeTOTP, Issuer: s.TOTPIssuer(ctx), Account: u.Username, Secret: secret,
		Algorithm: alg, Digits: t.Digits, Period: t.Period}
	return TOTPEnrollment{Token: t, Secret: secret, SecretBase32: otp.EncodeBase32(secret), URI: key.URI()}, nil
}

// ErrBadConfirmationCode is a first code that does not match the new app.
var ErrBadConfirmationCode = &Error{Kind: KindInvalid, Param: "code",
	Detail: "that code does not match; check the app's clock and enter the current code"}

// ConfirmTOTPApp accepts a first code from a user's new authenticator app,
// after which the app counts. The code is spent like any other.
func (s *Service) ConfirmTOTPApp(ctx context.Context, user, tokenID, code string) error {
	t, err := s.userToken(ctx, user, tokenID)
	if err != nil {
		return err
	}
	if t.Kind != store.TokenTOTPApp {
		return notFound("no authenticator app with that ID")
	}
	if t.Confirmed {
		return nil
	}
	for range maxDecisionTries {
		use, ok, err := s.matchToken(t, strings.TrimSpace(code), s.now())
		if err != nil {
			return wrap("confirm authenticator app", err)
		}
		if !ok {
			return ErrBadConfirmationCode
		}
		use.Confirm = true
		err = s.st.AdvanceTokenCounter(ctx, use)
		if err == nil {
			s.opts.Logger.Info("authenticator app confirmed", "user_id", t.UserID, "token_id", t.ID)
			s.noticeDevice(ctx, t.UserID, "authenticator app", cmp.Or(t.Name, "Authenticator app"), "")
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return wrap("confirm authenticator app", err)
		}
		// Another request spent a code meanwhile: read again.
		if t, err = s.userToken(ctx, user, tokenID); err != nil {
			return err
		}
	}
	return wrap("confirm authenticator app", errContention)
}

// userToken reads one of a user's tokens.
func (s *Service) userToken(ctx context.Context, user, tokenID string) (store.Token, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return store.Token{}, err
	}
	t, err := s.st.GetToken(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.UserID != u.ID) {
		return store.Token{}, notFound("no token or app with that ID for " + u.Username)
	}
	if err != nil {
		return store.Token{}, wrap("get token", err)
	}
	return t, nil
}

// UserTokens lists a user's authenticator apps and assigned hardware
// tokens, oldest first.
func (s *Service) UserTokens(ctx context.Context, user string) ([]store.Token, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return nil, err
	}
	list, err := s.st.ListTokens(ctx, u.ID)
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	return list, nil
}

// RemoveTOTPApp deletes one of a user's authenticator apps.
func (s *Service) RemoveTOTPApp(ctx context.Context, user, tokenID string) error {
	t, err := s.userToken(ctx, user, tokenID)
	if err != nil {
		return err
	}
	if t.Kind != store.TokenTOTPApp {
		return invalid("device_id", "is a hardware token; unassign it with `assent token unassign`")
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteToken(ctx, t.ID); err != nil {
			return err
		}
		return s.adminLogIfActor(ctx, q, "totp_app_delete", user, map[string]any{"token_id": t.ID, "user_id": t.UserID, "name": t.Name})
	})
	if err != nil {
		return wrap("remove authenticator app", err)
	}
	s.opts.Logger.Info("authenticator app removed", "user_id", t.UserID, "token_id", t.ID)
	return nil
}

// NewToken is a hardware token to add, as Duo's Admin API and token
// import files describe it.
type NewToken struct {
	Kind   store.TokenKind // h6, h8, t6, t8 or yk
	Serial string
	Secret []byte // OATH secret (h6 … t8)
	// Counter is the first HOTP counter the token will show.
	Counter uint64
	// Step is a TOTP token's time step in seconds (Duo's totp_step); 0: 30.
	Step int
	// Algorithm of an OATH token; default SHA1.
	Algorithm string
	// YubiKey OTP: the public ID (modhex), private ID (6 bytes) and AES key (16 bytes).
	PublicID  string
	PrivateID []byte
	AESKey    []byte
}

var (
	serialRE = regexp.MustCompile(`^[A-Za-z0-9._:/+-]{1,64}$`)
	modhexRE = regexp.MustCompile(`^[cbdefghijklnrtuv]{2,32}$`)
)

// check validates nt and returns the token it stores (without secrets).
func (nt NewToken) check() (store.Token, error) {
	var errs []error
	bad := func(param, detail string) { errs = append(errs, invalid(param, detail)) }
	t := store.Token{Kind: nt.Kind, Serial: nt.Serial, Confirmed: true, Algorithm: string(otp.SHA1)}
	if !nt.Kind.Hardware() {
		bad("type", "must be h6, h8, t6, t8 or yk")
	}
	if !serialRE.MatchString(nt.Serial) {
		bad("serial", "must be 1 to 64 letters, digits or ._:/+-")
	}
	switch nt.Kind {
	case store.TokenH6, store.TokenH8, store.TokenT6, store.TokenT8:
		if len(nt.Secret) < 10 || len(nt.Secret) > 128 {
			bad("secret", "must be 10 to 128 bytes (20 to 256 hex digits)")
		}
		alg, err := otp.ParseAlgorithm(nt.Algorithm)
		if err != nil {
			bad("algorithm", "must be SHA1, SHA256 or SHA512")
		}
		t.Algorithm, t.Digits = string(alg), 6
		if nt.Kind == store.TokenH8 || nt.Kind == store.TokenT8 {
			t.Digits = 8
		}
		if nt.Kind.HOTP() {
			if nt.Counter > 1<<62 {
				bad("counter", "is too large")
			}
			t.Counter = int64(nt.Counter)
		} else {
			t.Period = nt.Step
			if t.Period == 0 {
				t.Period = otp.DefaultPeriod
			}
			if t.Period < 1 || t.Period > 300 {
				bad("totp_step", "must be 1 to 300 seconds")
			}
		}
		if nt.PublicID != "" || nt.PrivateID != nil || nt.AESKey != nil {
			bad("type", "public_id, private_id and aes_key are for yk tokens only")
		}
	case store.TokenYubiKey:
		if !modhexRE.MatchString(nt.PublicID) {
			bad("public_id", "must be 2 to 32 modhex characters (cbdefghijklnrtuv)")
		}
		if len(nt.PrivateID) != 6 {
			bad("private_id", "must be 6 bytes (12 hex digits)")
		}
		if len(nt.AESKey) != 16 {
			bad("aes_key", "must be 16 bytes (32 hex digits)")
		}
		if nt.Secret != nil {
			bad("secret", "is for OATH tokens; a yk token has an aes_key")
		}
		t.Digits = 0
	}
	return t, errors.Join(errs...)
}

// AddTokens adds hardware tokens, unassigned: all of them or, if any is
// invalid or its serial or public ID is taken, none, with every problem
// reported. Token import (CSV, PSKC) and `assent token add` both use it.
func (s *Service) AddTokens(ctx context.Context, list []NewToken) ([]store.Token, error) {
	var errs []error
	now := s.now()
	out := make([]store.Token, 0, len(list))
	seen := map[string]bool{}
	for i, nt := range list {
		t, err := nt.check()
		if err == nil && seen[nt.Serial] {
			err = invalid("serial", "appears twice")
		}
		seen[nt.Serial] = true
		if err != nil {
			errs = append(errs, fmt.Errorf("token %d (serial %q): %w", i+1, nt.Serial, err))
			continue
		}
		t.ID, t.Created = ids.New(ids.Token), now
		if nt.Kind == store.TokenYubiKey {
			t.PublicID = nt.PublicID
			if t.PrivateIDEnc, err = s.box.Seal(nt.PrivateID, []byte(t.ID+":private_id")); err == nil {
				t.AESKeyEnc, err = s.box.Seal(nt.AESKey, []byte(t.ID+":aes_key"))
			}
		} else {
			t.SecretEnc, err = s.box.Seal(nt.Secret, []byte(t.ID))
		}
		if err != nil {
			return nil, wrap("add tokens: seal", err)
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, &Error{Kind: KindInvalid, Detail: errors.Join(errs...).Error()}
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		for _, t := range out {
			if err := q.CreateToken(ctx, t); errors.Is(err, store.ErrAlreadyExists) {
				errs = append(errs, fmt.Errorf("serial %q: a token with this serial or public ID exists", t.Serial))
				continue
			} else if err != nil {
				return err
			}
			desc := map[string]any{"token_id": t.ID, "type": t.Kind}
			if t.Period != 0 {
				desc["totp_step"] = t.Period
			}
			if err := s.adminLog(ctx, q, "hardtoken_create", t.Serial, desc); err != nil {
				return err
			}
		}
		if len(errs) > 0 {
			return &Error{Kind: KindConflict, Detail: errors.Join(errs...).Error()}
		}
		return nil
	})
	var ae *Error
	if errors.As(err, &ae) {
		return nil, err
	}
	if err != nil {
		return nil, wrap("add tokens", err)
	}
	s.opts.Logger.Info("hardware tokens added", "count", len(out))
	return out, nil
}

// HardwareTokens lists every hardware token, by serial.
func (s *Service) HardwareTokens(ctx context.Context) ([]store.Token, error) {
	list, err := s.st.ListHardwareTokens(ctx)
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	return list, nil
}

// HardwareToken finds a hardware token by serial.
func (s *Service) HardwareToken(ctx context.Context, serial string) (store.Token, error) {
	t, err := s.st.GetTokenBySerial(ctx, serial)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, notFound("no hardware token with serial " + serial)
	}
	if err != nil {
		return store.Token{}, wrap("get token", err)
	}
	return t, nil
}

// AssignToken gives a hardware token to a user (name or ID); "" unassigns
// it. A token has one user at a time, as in Duo.
func (s *Service) AssignToken(ctx context.Context, serial, user string) (store.Token, error) {
	userID := ""
	if user != "" {
		u, err := s.User(ctx, user)
		if err != nil {
			return store.Token{}, err
		}
		userID = u.ID
	}
	var t store.Token
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if t, err = q.GetTokenBySerial(ctx, serial); err != nil {
			return err
		}
		prev := t.UserID
		t.UserID = userID
		if err := q.UpdateToken(ctx, t); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "hardtoken_update", t.Serial, map[string]any{"token_id": t.ID, "user_id": userID, "previous_user_id": prev})
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, notFound("no hardware token with serial " + serial)
	}
	if err != nil {
		return store.Token{}, wrap("assign token", err)
	}
	s.opts.Logger.Info("hardware token assigned", "token_id", t.ID, "user_id", userID)
	return t, nil
}

// DeleteToken deletes a hardware token.
func (s *Service) DeleteToken(ctx context.Context, serial string) error {
	t, err := s.HardwareToken(ctx, serial)
	if err != nil {
		return err
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteToken(ctx, t.ID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "hardtoken_delete", t.Serial, map[string]any{"token_id": t.ID, "type": t.Kind})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return wrap("delete token", err)
	}
	s.opts.Logger.Info("hardware token deleted", "token_id", t.ID)
	return nil
}

// HardwareTokenByID finds a hardware token by its ID (Duo's token_id).
func (s *Service) HardwareTokenByID(ctx context.Context, id string) (store.Token, error) {
	t, err := s.st.GetToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !t.Kind.Hardware()) {
		return store.Token{}, notFound("no hardware token with that ID")
	}
	if err != nil {
		return store.Token{}, wrap("get token", err)
	}
	return t, nil
}

// ErrResyncFailed is a resync whose codes were not found consecutive.
var ErrResyncFailed = &Error{Kind: KindInvalid, Param: "code1",
	Detail: "the codes were not found as consecutive codes of this token"}

// ResyncToken finds two (the CLI) or three (Duo's Admin API) consecutive codes of an OATH hardware token over
// a wider window than a login looks at, and moves the token's counter (or,
// for TOTP, its remembered drift) to follow them. The codes are spent.
func (s *Service) ResyncToken(ctx context.Context, serial string, codes ...string) (store.Token, error) {
	if len(codes) < 2 || len(codes) > 3 {
		return store.Token{}, invalid("code1", "give two or three consecutive codes")
	}
	for i := range codes {
		codes[i] = strings.TrimSpace(codes[i])
	}
	for range maxDecisionTries {
		t, err := s.HardwareToken(ctx, serial)
		if err != nil {
			return store.Token{}, err
		}
		if t.Kind == store.TokenYubiKey {
			return store.Token{}, invalid("serial", "a YubiKey needs no resync")
		}
		use, ok, err := s.resyncCodes(t, codes, s.now())
		if err != nil {
			return store.Token{}, wrap("resync token", err)
		}
		if !ok {
			return store.Token{}, ErrResyncFailed
		}
		err = s.st.InTx(ctx, func(q store.Queries) error {
			if err := q.AdvanceTokenCounter(ctx, use); err != nil {
				return err
			}
			return s.adminLog(ctx, q, "hardtoken_resync", t.Serial, map[string]any{"token_id": t.ID})
		})
		if err == nil {
			t.Counter, t.Drift, t.LastUsed = use.Next, use.Drift, use.At
			s.opts.Logger.Info("hardware token resynchronized", "token_id", t.ID, "counter", t.Counter, "drift", t.Drift)
			return t, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return store.Token{}, wrap("resync token", err)
		}
	}
	return store.Token{}, wrap("resync token", errContention)
}

// preauthToken describes an app or token as preauth lists it: as Duo
// lists tokens, type "token" with no capabilities (a passcode is always
// accepted).
func preauthToken(t store.Token) Device {
	name := t.Name
	switch {
	case t.Kind == store.TokenYubiKey:
		name = "YubiKey " + t.Serial
	case t.Kind.Hardware():
		name = "Token " + t.Serial
	}
	return Device{ID: t.ID, Type: DeviceToken, Name: name, DisplayName: name}
}

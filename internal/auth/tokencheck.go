package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
)

// Passcodes from authenticator apps and hardware tokens. The sources of a
// passcode, as the auth log's factor column records them (the same column
// holds "bypass_code" and "duo_mobile_passcode"; Duo's authentication log
// names hardware tokens and YubiKeys the same way).
const (
	factorBypassCode  = "bypass_code"
	factorDuoMobile   = "duo_mobile_passcode"
	factorTOTPApp     = "totp_app"
	factorHardware    = "hardware_token"
	factorYubiKeyCode = "yubikey_code"
)

// Windows of the token checks.
const (
	// totpWindow is how many time steps before and after the current one
	// a TOTP code is accepted in (RFC 6238 §5.2 recommends one).
	totpWindow = 1
	// maxTOTPDrift bounds the drift a hardware TOTP token's window follows
	// (its clock runs free; an app's phone keeps time by NTP, so an app's
	// window stays on the current step).
	maxTOTPDrift = 10
	// resyncWindow is how far ahead (HOTP counters) or around the current
	// step (TOTP) a resync looks for two consecutive codes.
	resyncWindow = 1000
)

// YubiKeyOTP decodes YubiKey OTPs (Yubico OTP: modhex public ID, then an
// AES-128 block with the private ID and counters). The installation wires
// an implementation; without one, YubiKey tokens accept nothing.
type YubiKeyOTP interface {
	// Parse splits an OTP into its public ID (modhex, as stored in
	// store.Token.PublicID) and the ciphertext, checking its shape.
	Parse(otp string) (publicID string, ciphertext []byte, err error)
	// Decrypt opens the ciphertext with the token's AES key, checks its
	// CRC, and returns the private ID and the counter to compare:
	// use counter << 8 | session counter.
	Decrypt(aesKey, ciphertext []byte) (privateID []byte, counter int64, err error)
}

// usableTokens reads the user's apps and tokens that may authenticate.
func (s *Service) usableTokens(ctx context.Context, userID string) ([]store.Token, error) {
	list, err := s.st.ListTokens(ctx, userID)
	if err != nil {
		return nil, err
	}
	usable := list[:0]
	for _, t := range list {
		if usableToken(t) {
			usable = append(usable, t)
		}
	}
	return usable, nil
}

// tokenParams are the code parameters of an OATH token.
func tokenParams(t store.Token) otp.Params {
	return otp.Params{Digits: t.Digits, Algorithm: otp.Algorithm(t.Algorithm)}
}

// tokenFactor is the auth-log source of a token's passcodes.
func tokenFactor(t store.Token) string {
	switch t.Kind {
	case store.TokenTOTPApp:
		return factorTOTPApp
	case store.TokenYubiKey:
		return factorYubiKeyCode
	}
	return factorHardware
}

// usableToken reports whether t may authenticate its user: assigned, and
// for an app confirmed with a first code.
func usableToken(t store.Token) bool {
	return t.UserID != "" && (t.Confirmed || t.Kind.Hardware())
}

func (s *Service) tokenSecret(t store.Token) ([]byte, error) {
	secret, err := s.box.Open(t.SecretEnc, []byte(t.ID))
	if err != nil {
		return nil, fmt.Errorf("open secret of token %s: %w", t.ID, err)
	}
	return secret, nil
}

// matchToken checks code against token t at now and returns the write that
// spends it: the counter after it (see store.Token.Counter) and the drift.
// A code at or before one already accepted never matches.
func (s *Service) matchToken(t store.Token, code string, now time.Time) (store.TokenUse, bool, error) {
	use := store.TokenUse{ID: t.ID, At: now, Drift: t.Drift}
	switch {
	case t.Kind == store.TokenYubiKey:
		return s.matchYubiKey(t, code, use)
	case len(code) != t.Digits:
		return use, false, nil
	}
	secret, err := s.tokenSecret(t)
	if err != nil {
		return use, false, err
	}
	p := tokenParams(t)
	if t.Kind.HOTP() {
		c, ok := otp.FindCounter(secret, uint64(max(t.Counter, 0)), hotpWindow, code, p)
		use.Next = int64(c) + 1
		return use, ok, nil
	}
	cur := int64(otp.Step(now, t.Period))
	center := cur
	if t.Kind.Hardware() {
		center += int64(min(max(t.Drift, -maxTOTPDrift), maxTOTPDrift))
	}
	from := max(center-totpWindow, t.Counter, 0)
	to := center + totpWindow
	if from > to {
		return use, false, nil
	}
	step, ok := otp.FindCounter(secret, uint64(from), int(to-from+1), code, p)
	use.Next, use.Drift = int64(step)+1, int(int64(step)-cur)
	return use, ok, nil
}

// matchYubiKey checks a YubiKey OTP: the token's public ID, its private ID
// inside the AES block, and a counter above every one accepted before.
func (s *Service) matchYubiKey(t store.Token, code string, use store.TokenUse) (store.TokenUse, bool, error) {
	yk := s.opts.YubiKey
	if yk == nil || t.PublicID == "" {
		return use, false, nil
	}
	public, ciphertext, err := yk.Parse(code)
	if err != nil || public != t.PublicID {
		return use, false, nil
	}
	key, err := s.box.Open(t.AESKeyEnc, []byte(t.ID+":aes_key"))
	if err != nil {
		return use, false, fmt.Errorf("open AES key of token %s: %w", t.ID, err)
	}
	wantPrivate, err := s.box.Open(t.PrivateIDEnc, []byte(t.ID+":private_id"))
	if err != nil {
		return use, false, fmt.Errorf("open private ID of token %s: %w", t.ID, err)
	}
	private, counter, err := yk.Decrypt(key, ciphertext)
	if err != nil || subtle.ConstantTimeCompare(private, wantPrivate) != 1 || counter < t.Counter {
		return use, false, nil
	}
	use.Next = counter + 1
	return use, true, nil
}

// resyncCodes finds two consecutive codes of an OATH token: for HOTP
// within resyncWindow counters ahead of the stored one, for TOTP within
// resyncWindow steps around now and after the last accepted step. The
// write moves the counter past the second code and, for TOTP, records the
// drift so the token's window follows its clock.
func (s *Service) resyncCodes(t store.Token, codes []string, now time.Time) (store.TokenUse, bool, error) {
	use := store.TokenUse{ID: t.ID, At: now}
	if t.Kind == store.TokenYubiKey || len(codes) < 2 {
		return use, false, nil
	}
	for _, c := range codes {
		if len(c) != t.Digits {
			return use, false, nil
		}
	}
	secret, err := s.tokenSecret(t)
	if err != nil {
		return use, false, err
	}
	p := tokenParams(t)
	from := uint64(max(t.Counter, 0))
	cur := int64(otp.Step(now, t.Period))
	if t.Kind.TOTP() {
		from = uint64(max(cur-resyncWindow, t.Counter, 0))
	}
	for c := from; c < from+2*resyncWindow; c++ {
		n := uint64(len(codes))
		match := true
		for i, code := range codes {
			if !otp.Equal(otp.HOTP(secret, c+uint64(i), p.Digits, p.Algorithm), code) {
				match = false
				break
			}
		}
		if match {
			use.Next = int64(c + n)
			if t.Kind.TOTP() {
				use.Drift = int(int64(c+n-1) - cur)
			}
			return use, true, nil
		}
		if t.Kind.HOTP() && c+1 >= from+resyncWindow {
			break
		}
	}
	return use, false, nil
}

package auth

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/assent-auth/assent/internal/store"
)

// settingTOTPIssuer is the store setting that, once set from the console,
// overrides the configured totp_issuer (Options.TOTPIssuer) on every node;
// "" means the configured one.
const settingTOTPIssuer = "totp_issuer"

// CheckTOTPIssuer checks an issuer name as the configuration does: 1 to 64
// bytes, no ':' (it separates the issuer from the account in apps), no
// control characters.
func CheckTOTPIssuer(name string) error {
	if n := len(name); n == 0 || n > 64 || !utf8.ValidString(name) || strings.TrimSpace(name) != name ||
		strings.ContainsFunc(name, func(r rune) bool { return r == ':' || r < 0x20 || r == 0x7f }) {
		return invalid("totp_issuer", "must be 1 to 64 characters without ':' (it separates the issuer from the user in apps)")
	}
	return nil
}

// TOTPIssuer is the issuer name new authenticator apps are given: the
// console's setting if one was made, else the configured one. Read when an
// app is added (rare), so it is not cached; a failed read falls back to the
// configured name.
func (s *Service) TOTPIssuer(ctx context.Context) string {
	v, err := s.st.GetSetting(ctx, settingTOTPIssuer)
	switch {
	case err == nil && v != "":
		return v
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.log(ctx).Warn("reading the TOTP issuer setting", "err", err)
	}
	return s.opts.TOTPIssuer
}

// SetTOTPIssuer sets the issuer name of new authenticator apps for every
// node, overriding the configuration ("" goes back to it), in one
// transaction with its administrator-log row (action customer_update, as
// the lockout threshold). Apps added before keep the name they were given.
func (s *Service) SetTOTPIssuer(ctx context.Context, name string) error {
	if name != "" {
		if err := CheckTOTPIssuer(name); err != nil {
			return err
		}
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.PutSetting(ctx, settingTOTPIssuer, name); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "customer_update", "settings", map[string]any{"totp_issuer": name})
	})
	if err != nil {
		return wrap("set TOTP issuer", err)
	}
	s.opts.Logger.Info("TOTP issuer set", "totp_issuer", name)
	return nil
}

// ConfiguredTOTPIssuer is the issuer name of the configuration, which
// applies while no setting overrides it.
func (s *Service) ConfiguredTOTPIssuer() string { return s.opts.TOTPIssuer }

// ConfiguredLockoutThreshold is the configuration's lockout threshold
// (negative: off), which applies while no setting overrides it.
func (s *Service) ConfiguredLockoutThreshold() int { return s.opts.LockoutThreshold }

package auth

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// Remembered devices (Duo's "Remembered devices" policy, the Auth API's
// trusted_device_token): after a second factor, a browser (a cookie set by
// the prompt) or an Auth API client (trusted_device_token) may skip the
// second factor for the same user and integration for the policy's
// trusted_device_days. The token is the user ID, the integration key and
// the expiry, with an HMAC-SHA256 under a key derived from the master key
// (secrets.Box.KeyedHash, purpose rememberPurpose): nothing is stored, a
// changed master key voids every token, and lowering the days to 0 voids
// them too. It is a bearer credential for one user and integration: the
// prompt keeps it in an HttpOnly, Secure cookie.

const rememberPurpose = "remembered-device"

// rememberMACLen is the length of the token's MAC (bytes, before base64).
const rememberMACLen = 32

// RememberToken issues a token for userID at in, valid for the policy's
// days (evaluated for the user's groups, IDs); "" when the policy does not
// remember devices.
func (s *Service) RememberToken(in store.Integration, userID string, groups []string) (string, time.Time) {
	days := evaluate(in, groups).rememberDays
	if days <= 0 || userID == "" {
		return "", time.Time{}
	}
	exp := s.now().Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Second)
	return s.rememberToken(userID, in.IKey, exp), exp
}

func (s *Service) rememberToken(userID, ikey string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	mac := s.box.KeyedHash(rememberPurpose, userID, ikey, e)[:rememberMACLen]
	return userID + "." + ikey + "." + e + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// rememberedUser checks token for in and returns the user ID it names;
// ok is false for a malformed, forged, foreign or expired token, or when
// the policy no longer remembers devices (days is the policy's value).
func (s *Service) rememberedUser(token string, in store.Integration, days int) (userID string, ok bool) {
	if days <= 0 || token == "" || len(token) > 200 {
		return "", false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[1] != in.IKey {
		return "", false
	}
	sec, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || strconv.FormatInt(sec, 10) != parts[2] {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(mac) != rememberMACLen {
		return "", false
	}
	want := s.box.KeyedHash(rememberPurpose, parts[0], parts[1], parts[2])[:rememberMACLen]
	if !hmac.Equal(mac, want) {
		return "", false
	}
	exp := time.Unix(sec, 0)
	now := s.now()
	// Expired, or issued for longer than the policy now allows.
	if !now.Before(exp) || exp.Sub(now) > time.Duration(days)*24*time.Hour {
		return "", false
	}
	return parts[0], true
}

// RememberUser issues a remembered-device token for the user named
// username (the prompt's user) at in; "" when the policy does not
// remember devices or the user is unknown.
func (s *Service) RememberUser(ctx context.Context, in store.Integration, username string) (string, time.Time, error) {
	u, _, err := s.st.GetUserAndDevices(ctx, username, "")
	if errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, wrap("remember device", err)
	}
	_, groups, err := s.statusAndGroups(ctx, s.st, u)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, exp := s.RememberToken(in, u.ID, groupIDs(groups))
	return tok, exp, nil
}

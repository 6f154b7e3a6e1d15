package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Enrollment-portal links: preauth's enroll_portal_url points at
// /portal/enroll/<token>, a single-use, expiring link that lets one user
// enroll one device. Only keyed hashes of tokens are stored.

// DefaultEnrollLinkTTL is how long an enrollment-portal link stays valid.
const DefaultEnrollLinkTTL = 24 * time.Hour

const (
	onetimeEnrollLink  = "enroll_link"
	onetimeEnrollIndex = "enroll_link_user" // a user's current link, sealed, to reuse it
	enrollLinkLen      = 32                 // base62 characters, about 190 bits
	maxEnrollLinkLen   = 64
)

// ErrEnrollLinkInvalid is an unknown, expired or already used portal link.
var ErrEnrollLinkInvalid = &Error{Kind: KindNotFound, Detail: "This enrollment link is invalid, has expired or was already used."}

// ErrAlreadyEnrolled refuses a portal link of a user who meanwhile has a
// device, an authenticator app, a hardware token or a security key: the
// link was meant for a first enrollment only.
var ErrAlreadyEnrolled = &Error{Kind: KindConflict, Detail: "This account already has a way to log in (a device, an authenticator app, a token or a security key). Ask your administrator to add another one."}

// EnrollLinkInfo describes a valid portal link.
type EnrollLinkInfo struct {
	Username string
	Expires  time.Time
}

type enrollLinkPayload struct {
	Username string `json:"u"`
}

func (s *Service) enrollLinkHash(token string) []byte {
	return s.box.KeyedHash("onetime "+onetimeEnrollLink, token)
}

// enrollIndexHash keys a user's current link by the normalised username,
// so every spelling of one user finds the same link.
func (s *Service) enrollIndexHash(normalized string) []byte {
	return s.box.KeyedHash("onetime "+onetimeEnrollIndex, normalized)
}

// EnrollLinkToken returns the token of a portal link for username. A user
// who already has a link with more than half its lifetime left gets that
// one again, so repeated preauths write nothing and mint at most one link
// per half lifetime.
func (s *Service) EnrollLinkToken(ctx context.Context, username string) (string, time.Time, error) {
	norm, err := normalizeUsername(username)
	if err != nil {
		return "", time.Time{}, err
	}
	ttl := s.opts.EnrollLinkTTL
	now := s.now()
	idx := s.enrollIndexHash(norm)
	if o, err := s.st.GetOnetime(ctx, onetimeEnrollIndex, idx, now); err == nil {
		if tok, err := s.box.Open(o.Payload, idx); err == nil {
			l, err := s.st.GetOnetime(ctx, onetimeEnrollLink, s.enrollLinkHash(string(tok)), now)
			if err == nil && l.Expires.Sub(now) > ttl/2 {
				return string(tok), l.Expires, nil
			}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, wrap("enroll link", err)
	}

	token := ids.Random(enrollLinkLen, skeyAlphabet)
	expires := now.Add(ttl)
	payload, err := json.Marshal(enrollLinkPayload{Username: username})
	if err != nil {
		return "", time.Time{}, wrap("enroll link", err)
	}
	sealed, err := s.box.Seal([]byte(token), idx)
	if err != nil {
		return "", time.Time{}, wrap("enroll link: seal", err)
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		// The previous link stays valid until it expires; the index now
		// names the new one.
		if _, err := q.TakeOnetime(ctx, onetimeEnrollIndex, idx, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := q.PutOnetime(ctx, store.Onetime{Hash: s.enrollLinkHash(token), Kind: onetimeEnrollLink,
			Payload: payload, Expires: expires, Created: now}); err != nil {
			return err
		}
		return q.PutOnetime(ctx, store.Onetime{Hash: idx, Kind: onetimeEnrollIndex,
			Payload: sealed, Expires: expires, Created: now})
	})
	if err != nil {
		return "", time.Time{}, wrap("enroll link", err)
	}
	s.opts.Logger.Info("enrollment link issued", "expires", expires)
	return token, expires, nil
}

// EnrollLink reports whom a portal link is for, without using it.
func (s *Service) EnrollLink(ctx context.Context, token string) (EnrollLinkInfo, error) {
	if token == "" || len(token) > maxEnrollLinkLen {
		return EnrollLinkInfo{}, ErrEnrollLinkInvalid
	}
	o, err := s.st.GetOnetime(ctx, onetimeEnrollLink, s.enrollLinkHash(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return EnrollLinkInfo{}, ErrEnrollLinkInvalid
	}
	if err != nil {
		return EnrollLinkInfo{}, wrap("enroll link", err)
	}
	var p enrollLinkPayload
	if err := json.Unmarshal(o.Payload, &p); err != nil || p.Username == "" {
		return EnrollLinkInfo{}, wrap("enroll link", errors.New("unreadable payload"))
	}
	return EnrollLinkInfo{Username: p.Username, Expires: o.Expires}, nil
}

// RedeemEnrollLink uses a portal link (once) and returns a new activation
// code for its user. A user who meanwhile has a device, or who is disabled
// or locked out, is refused, and the link stays unused.
func (s *Service) RedeemEnrollLink(ctx context.Context, token string) (Enrollment, error) {
	info, err := s.EnrollLink(ctx, token)
	if err != nil {
		return Enrollment{}, err
	}
	if err := s.checkEnrollable(ctx, info.Username); err != nil {
		return Enrollment{}, err
	}
	_, err = s.st.TakeOnetime(ctx, onetimeEnrollLink, s.enrollLinkHash(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return Enrollment{}, ErrEnrollLinkInvalid // used concurrently, or just expired
	}
	if err != nil {
		return Enrollment{}, wrap("redeem enroll link", err)
	}
	return s.Enroll(ctx, EnrollRequest{Username: info.Username, Valid: PromptEnrollValid})
}

// PromptEnrollValid is how long activation codes shown in a browser (the
// portal, the prompt) stay valid: the user is looking at them now.
const PromptEnrollValid = 30 * time.Minute

// checkEnrollable refuses users who may not enroll a first device.
func (s *Service) checkEnrollable(ctx context.Context, username string) error {
	u, err := s.st.GetUserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return wrap("enroll link: user", err)
	}
	status, err := s.EffectiveStatus(ctx, s.st, u)
	if err != nil {
		return err
	}
	switch status {
	case store.StatusDisabled:
		return &Error{Kind: KindInvalid, Detail: msgDisabled}
	case store.StatusLockedOut:
		return &Error{Kind: KindInvalid, Detail: msgLockedOut}
	}
	// Whatever preauth counts as an enrollment (preauthKnown) counts here:
	// devices, confirmed apps, assigned hardware tokens and security keys.
	// An app still waiting for its first code does not.
	list, err := s.st.ListDevices(ctx, u.ID)
	if err != nil {
		return wrap("enroll link: devices", err)
	}
	tokens, err := s.usableTokens(ctx, u.ID)
	if err != nil {
		return wrap("enroll link: tokens", err)
	}
	keys, err := s.st.ListWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return wrap("enroll link: security keys", err)
	}
	if len(list)+len(tokens)+len(keys) > 0 {
		return ErrAlreadyEnrolled
	}
	return nil
}

// ErrAlreadyClaimed is a second ClaimOnce of the same key.
var ErrAlreadyClaimed = &Error{Kind: KindConflict, Detail: "already used"}

// ClaimOnce records that key (of a kind: a finished prompt's txid, a JWT
// ID) was used, for ttl; a second claim within that time returns
// ErrAlreadyClaimed. Only a keyed hash of key is stored.
func (s *Service) ClaimOnce(ctx context.Context, kind, key string, ttl time.Duration) error {
	now := s.now()
	err := s.st.PutOnetime(ctx, store.Onetime{Hash: s.box.KeyedHash("onetime claim", kind, key), Kind: kind,
		Expires: now.Add(max(ttl, time.Second)), Created: now})
	if errors.Is(err, store.ErrAlreadyExists) {
		return ErrAlreadyClaimed
	}
	if err != nil {
		return wrap("claim "+kind, err)
	}
	return nil
}

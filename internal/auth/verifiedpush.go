package auth

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Verified Push (number matching): an integration with VerifiedPush on
// sends pushes that carry a short code. The waiting side (the prompt's
// waiting page, the Auth API's status message, the RADIUS challenge text)
// shows it; the device must send it back with its approval, and an
// approval with a wrong or missing code denies the push.
//
// The code is not stored: it is a keyed hash (under the master key's
// pepper) of the push's txid, so every node computes the same code, and
// the preauth answer can name the txid and show the code before the push
// exists (duo_unix 2.x, spec Appendix V). Knowing the txid (the device
// does: it is the urgid it answers) does not tell the code.

// Verified Push code lengths.
const (
	VerifiedPushOff     = 0
	VerifiedPushDigits  = 3 // as Duo's
	VerifiedPushDigits6 = 6
)

// ValidVerifiedPush reports whether n is a setting an integration may have.
func ValidVerifiedPush(n int) bool {
	return n == VerifiedPushOff || n == VerifiedPushDigits || n == VerifiedPushDigits6
}

const verifyCodePurpose = "verified-push-code"

// Auth-log reasons of pushes beyond approve, deny and no answer.
const (
	ReasonUserMarkedFraud         = "user_marked_fraud"
	ReasonInvalidVerificationCode = "invalid_verification_code"
)

// Status messages of Verified Push and fraud.
const (
	msgFraud        = "Login request reported as fraudulent."
	msgWrongCode    = "Incorrect verification code. Login request denied."
	msgVerifiedPush = "Please enter verification code %s into your authenticator app..."
)

// verifyCode is the code of the push txid with digits digits ("" for 0).
func (s *Service) verifyCode(txid string, digits int) string {
	if digits <= 0 {
		return ""
	}
	h := s.box.KeyedHash(verifyCodePurpose, txid)
	mod := uint64(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, binary.BigEndian.Uint64(h[:8])%mod)
}

// VerifyCode is the code the waiting side shows for a push of t ("" for a
// plain push).
func (s *Service) VerifyCode(t store.Transaction) string {
	return s.verifyCode(t.ID, t.StepUpDigits)
}

// codeMatches compares the device's code with the push's in constant time.
func (s *Service) codeMatches(t store.Transaction, code string) bool {
	want := s.verifyCode(t.ID, t.StepUpDigits)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(code))) == 1
}

// VerifiedPushTxID is a fresh txid for a Verified Push announced at preauth
// (duo_unix 2.x), with its code for the given digits.
func (s *Service) verifiedPushTxID(digits int) (txid, code string) {
	txid = ids.TxID()
	return txid, s.verifyCode(txid, digits)
}

// validTxID reports whether s is a txid as ids.TxID makes them (a
// lower-case UUID), so a client-sent one is safe to use as a key.
func validTxID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// codeShown remembers the verified pushes whose code auth_status already
// reported: the first auth_status of such a push answers at once (the user
// needs the code before answering), later ones hold as usual. It is kept
// per process; in a cluster a poll on another node shows the code once
// more, which is harmless.
type codeShown struct {
	mu   sync.Mutex
	seen map[string]time.Time // txid → its push's expiry
}

// first records txid and reports whether it was not recorded before.
func (c *codeShown) first(txid string, expires, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if _, ok := c.seen[txid]; ok {
		return false
	}
	if len(c.seen) >= 1024 {
		for id, exp := range c.seen {
			if now.After(exp) {
				delete(c.seen, id)
			}
		}
	}
	c.seen[txid] = expires
	return true
}

// pushCooldown refuses a push (KindRateLimited) while the user is cooling
// down: the user's last Options.PushCooldownAfter push decisions were all
// denials, fraud reports, wrong codes or pushes left unanswered, made
// within Options.PushCooldown of each other, with no successful login
// since. The refusal lasts until PushCooldown after the last of them. It
// reads the auth log on the read pool, before the write transaction.
func (s *Service) pushCooldown(ctx context.Context, u store.User, now time.Time) error {
	m, cool := s.opts.PushCooldownAfter, s.opts.PushCooldown
	if m <= 0 {
		return nil
	}
	// Denials that end a cool-down still running lie within 2×cool-down.
	rows, err := s.st.ListAuthLog(ctx, store.AuthLogFilter{UserID: u.ID, Since: now.Add(-2 * cool), Limit: 4 * m})
	if err != nil {
		return wrap("push cool-down", err)
	}
	var denials []time.Time
	for _, l := range rows { // newest first
		if l.Factor == FactorVerificationPush {
			continue // a help desk's identity check, not a login request
		}
		if l.Result == ResultAllow || len(denials) == m {
			break
		}
		switch l.Reason {
		case ReasonUserDenied, ReasonNoResponse, ReasonUserMarkedFraud, ReasonInvalidVerificationCode:
			denials = append(denials, l.Time)
		}
	}
	if len(denials) < m {
		return nil
	}
	last, first := denials[0], denials[m-1]
	until := last.Add(cool)
	if last.Sub(first) > cool || !now.Before(until) {
		return nil
	}
	s.log(ctx).Warn("push refused: user in push cool-down", "user_id", u.ID, "username", u.Username,
		"denied_in_a_row", m, "until", until.UTC().Format(time.RFC3339))
	return rateLimited(fmt.Sprintf("%d login requests in a row were denied or not answered; "+
		"push is paused for this user until %s", m, until.UTC().Format(time.RFC3339)), until.Sub(now))
}

package prompt

import (
	"context"
	"net/http"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Remembered devices (Duo's "Remembered devices" policy): after a second
// factor at an integration whose policy sets trusted_device_days, the
// prompt sets a cookie holding the core's signed token (user, integration,
// expiry; see auth.RememberToken) — HttpOnly, Secure, one per
// integration, expiring with the token. On the next visit within those
// days the prompt hands it to preauth, which lets the same user in without
// a second factor (logged as remembered_device); after it expires, or for
// another user, the prompt asks again.

// FactorRemembered is the Outcome.Factor of a login by a remembered
// browser.
const FactorRemembered = "remembered_device"

// RememberCore is what remembered devices need from the core.
type RememberCore interface {
	RememberUser(ctx context.Context, in store.Integration, username string) (string, time.Time, error)
}

// rememberCookie names an integration's remembered-device cookie.
func rememberCookie(ikey string) string { return "assent_rd_" + ikey }

// rememberedToken is the request's remembered-device token for in.
func rememberedToken(r *http.Request, in store.Integration) string {
	c, err := r.Cookie(rememberCookie(in.IKey))
	if err != nil {
		return ""
	}
	return c.Value
}

// remember sets the cookie after a second factor, when the policy
// remembers devices. A failure only costs the next visit a prompt.
func (p *Prompt) remember(w http.ResponseWriter, r *http.Request, st state, in store.Integration, o Outcome) {
	switch o.Factor {
	case FactorPush, FactorPasscode, FactorWebAuthn:
	default:
		return
	}
	tok, exp, err := p.Core.RememberUser(r.Context(), in, st.Username)
	if err != nil {
		p.log(r).Warn("remembered device", "ikey", in.IKey, "err", err)
		return
	}
	if tok == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: rememberCookie(in.IKey), Value: tok, Path: "/", Expires: exp,
		MaxAge: int(time.Until(exp) / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode})
}

// rememberedOutcome is the Outcome of a preauth that let a remembered
// browser in.
func rememberedOutcome(res auth.PreauthResult) (Outcome, bool) {
	if res.Result != auth.ResultAllow || res.Reason() != auth.ReasonRememberedDevice {
		return Outcome{}, false
	}
	return Outcome{UserID: res.UserID, Status: auth.ResultAllow, StatusMsg: res.StatusMsg, Factor: FactorRemembered}, true
}

package prompt

import (
	"net/http"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Messages of the SMS option.
const (
	msgSMSSent    = "New SMS passcodes sent. Enter one of them below."
	msgSMSLimited = "Too many text messages were sent; try again later or use another way."
	msgSMSFailed  = "The text message could not be sent; try again later or use another way."
)

// sms sends a batch of SMS passcodes to the chosen phone (Duo's
// factor=sms) and shows the login page again, for one of the codes.
func (p *Prompt) sms(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	device := r.PostForm.Get("device")
	if device == "" {
		device = "auto"
	}
	res, err := p.Core.Auth(r.Context(), auth.AuthRequest{Request: request(st, in, r), Factor: auth.FactorSMS, Device: device})
	switch {
	case auth.IsKind(err, auth.KindRateLimited):
		return p.begin(w, r, st, in, msgSMSLimited, "error")
	case err != nil:
		// An unknown phone, or the provider failed (logged by the core).
		p.log(r).Warn("prompt: sms passcodes not sent", "ikey", in.IKey, "user_id", st.UserID, "err", err)
		return p.begin(w, r, st, in, msgSMSFailed, "error")
	case res.Status != "sent":
		return p.begin(w, r, st, in, res.StatusMsg, "error")
	}
	return p.begin(w, r, st, in, msgSMSSent, "info")
}

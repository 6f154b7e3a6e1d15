package prompt

import (
	"fmt"
	"net/http"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
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

// Messages of the "Call me" option.
const (
	msgCalling     = "Calling %s… Answer and press 1 on your phone to log in."
	msgCallLimited = "Too many phone calls were placed; try again later or use another way."
	msgCallFailed  = "The phone call could not be placed; try again later or use another way."
)

// call places a phone-callback call to the chosen phone (Duo's
// factor=phone, asynchronous) and shows the waiting page a push shows:
// its long poll reports "Dialing…", "Answered…" and the result.
func (p *Prompt) call(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	device := r.PostForm.Get("device")
	if device == "" {
		device = "auto"
	}
	res, err := p.Core.Auth(r.Context(), auth.AuthRequest{Request: request(st, in, r), Factor: auth.FactorPhone,
		Device: device, Async: true, Type: "Login"})
	switch {
	case auth.IsKind(err, auth.KindRateLimited):
		return p.begin(w, r, st, in, msgCallLimited, "error")
	case err != nil:
		p.log(r).Warn("prompt: phone call not placed", "ikey", in.IKey, "user_id", st.UserID, "err", err)
		return p.begin(w, r, st, in, msgCallFailed, "error")
	}
	number := "your phone"
	if devices, err := p.Core.Devices(r.Context(), auth.LookupUsername(in, st.Username)); err == nil {
		for _, d := range devices {
			if d.ID == device || (device == "auto" && d.Number != "") {
				number = auth.MaskNumber(d.Number)
				break
			}
		}
	}
	st.TxID, st.Device, st.Call = res.TxID, device, true
	return p.render(w, st, in, web.Page{Title: titleLogin, State: web.StatePushed,
		Message: fmt.Sprintf(msgCalling, number), MessageKind: "info"})
}

package console

import (
	"errors"
	"net/http"
	"strings"
	"unicode"

	"github.com/assent-auth/assent/internal/auth"
)

// Adding a phone number in the portal: the user types the number, the
// core texts a code to it, the user types the code back and the number
// becomes a phone of theirs that receives SMS passcodes. Offered only when
// an SMS provider is configured.

// phoneNumberForm is what the number form keeps between tries.
type phoneNumberForm struct {
	Number, Extension, Name string
	// Masked is the number the code was sent to (the code step).
	Masked string
}

// msgSMSFailed is shown when the provider did not take the message (the
// cause is in the server log).
const msgSMSFailed = "The text message could not be sent. Check the number, or try again later."

func (c *Console) myAddNumberPage(w http.ResponseWriter, r *http.Request, p *myPage) error {
	if !c.Core.SMSEnabled() {
		return errNotFound
	}
	return c.numberPage(w, p, http.StatusOK)
}

func (c *Console) numberPage(w http.ResponseWriter, p *myPage, status int) error {
	p.Title, p.Page = "Add a phone number", "add-number"
	if p.PhoneForm.Masked != "" {
		p.Title, p.Page = "Enter the code", "add-number-code"
	}
	return c.myRender(w, status, "my-add-number", p)
}

var phoneFieldLabels = map[string]string{"number": "The phone number", "extension": "The extension", "name": "The name"}

// inlineError shows a refusal the user can act on in the form; other
// errors are returned.
func inlineError(p *myPage, err error) (int, error) {
	var e *auth.Error
	if !errors.As(err, &e) {
		return 0, err
	}
	p.Message, p.MessageKind = e.Detail, "error"
	switch e.Kind {
	case auth.KindInvalid:
		// The core's field checks read "must be …": name the field.
		if label, ok := phoneFieldLabels[e.Param]; ok && e.Detail != "" && unicode.IsLower([]rune(e.Detail)[0]) {
			p.Message = label + " " + e.Detail + "."
		}
		return http.StatusBadRequest, nil
	case auth.KindRateLimited:
		return http.StatusTooManyRequests, nil
	}
	return 0, err
}

func (c *Console) mySendNumberCode(w http.ResponseWriter, r *http.Request, p *myPage) error {
	if !c.Core.SMSEnabled() {
		return errNotFound
	}
	p.PhoneForm = phoneNumberForm{Number: strings.TrimSpace(r.PostFormValue("number")),
		Extension: strings.TrimSpace(r.PostFormValue("extension")), Name: strings.TrimSpace(r.PostFormValue("name"))}
	sent, err := c.Core.SendPhoneProof(r.Context(), p.User.ID, p.PhoneForm.Number, p.PhoneForm.Extension, p.PhoneForm.Name)
	if err != nil {
		status, err := inlineError(p, err)
		if err != nil {
			var e *auth.Error
			if errors.As(err, &e) {
				return err
			}
			if c.Logger != nil {
				c.Logger.ErrorContext(r.Context(), "portal: phone proof", "user_id", p.User.ID, "err", err)
			}
			p.Message, p.MessageKind, status = msgSMSFailed, "error", http.StatusBadGateway
		}
		return c.numberPage(w, p, status)
	}
	p.PhoneForm.Masked = sent.Masked
	p.Message, p.MessageKind = "A text message with a code was sent to "+sent.Masked+".", "info"
	return c.numberPage(w, p, http.StatusOK)
}

func (c *Console) myConfirmNumber(w http.ResponseWriter, r *http.Request, p *myPage) error {
	if !c.Core.SMSEnabled() {
		return errNotFound
	}
	_, err := c.Core.ConfirmPhoneProof(r.Context(), p.User.ID, r.PostFormValue("code"))
	switch {
	case err == nil:
		http.Redirect(w, r, "/my/?done=number", http.StatusSeeOther)
		return nil
	case errors.Is(err, auth.ErrPhoneProofWrong):
		sent, perr := c.Core.PendingPhoneProof(r.Context(), p.User.ID)
		if perr == nil {
			p.PhoneForm.Masked = sent.Masked
		}
	}
	status, err := inlineError(p, err)
	if err != nil {
		return err
	}
	return c.numberPage(w, p, status)
}

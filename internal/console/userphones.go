package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// The user page's phone numbers (issue 17): an administrator gives a user
// a phone number that receives SMS passcodes (as `assent telephony
// add-phone` does), after proving both factors again unless the session
// did within the re-authentication window: a number someone else reads is
// a way into the account. Offered when an SMS provider is configured.

// userPhonesCore is what this file asks of the core.
type userPhonesCore interface {
	SMSEnabled() bool
	AddNumberPhone(ctx context.Context, nameOrID, number, extension, name string) (store.Device, error)
}

func (c *Console) userPhoneRoutes() []route {
	return []route{
		{"POST /admin/users/{id}/phones", c.private(auth.PermManage, c.addUserNumber)},
	}
}

func (c *Console) addUserNumber(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	if !c.Core.SMSEnabled() {
		return errNotFound
	}
	form := phoneNumberForm{Number: strings.TrimSpace(r.PostFormValue("number")),
		Extension: strings.TrimSpace(r.PostFormValue("extension")), Name: strings.TrimSpace(r.PostFormValue("name"))}
	again := func(msg string, status int) error {
		v, err := c.loadUser(r)
		if err != nil {
			return err
		}
		if v.Extra != nil {
			v.Extra.Phone = form
		}
		p.Title, p.Page, p.Nav, p.User, p.Nonce = v.User.Username, "user", "users", v, nonce()
		p.Message, p.MessageKind = msg, "error"
		return c.render(w, status, "user", p)
	}
	ok, err := c.reauthenticated(r, p)
	if err != nil {
		return err
	}
	if !ok {
		return again(reauthFailed, http.StatusUnauthorized)
	}
	if _, err := c.Core.AddNumberPhone(r.Context(), id, form.Number, form.Extension, form.Name); err != nil {
		mp := &myPage{}
		status, err := inlineError(mp, err)
		if err != nil {
			return err
		}
		return again(mp.Message, status)
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done=phone-added", http.StatusSeeOther)
	return nil
}

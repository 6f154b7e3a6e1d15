package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// The user page's aliases, directory and enrollment e-mail (issues 15 and
// 16): an administrator adds and removes aliases; a user a directory
// manages says which; help desk sends the enrollment e-mail when the
// server sends e-mail.

// userExtrasCore is what this file asks of the core.
type userExtrasCore interface {
	UserAliases(ctx context.Context, nameOrID string) ([]string, error)
	AddUserAlias(ctx context.Context, nameOrID, alias string) ([]string, error)
	RemoveUserAlias(ctx context.Context, nameOrID, alias string) ([]string, error)
	UserDirectories(ctx context.Context, userID string) ([]store.DirectoryLink, error)
	MailConfigured() bool
	SendEnrollmentEmail(ctx context.Context, nameOrID string) (auth.EnrollmentEmail, error)
	EnrollmentLink(ctx context.Context, nameOrID string) (auth.EnrollmentEmail, error)
}

func (c *Console) userExtrasRoutes() []route {
	return []route{
		{"POST /admin/users/{id}/aliases", c.private(auth.PermManage, c.addAlias)},
		{"POST /admin/users/{id}/aliases/remove", c.private(auth.PermManage, c.removeAlias)},
		{"POST /admin/users/{id}/enroll-email", c.private(auth.PermHelpDesk, c.enrollEmail)},
		{"POST /admin/users/{id}/enroll-link", c.private(auth.PermHelpDesk, c.enrollLink)},
	}
}

// userExtras is what the user page shows of this file.
type userExtras struct {
	Aliases     []aliasRow
	Directories []string // the directories that manage the user
	Mail        bool     // the server sends e-mail
	Full        bool     // every alias position is taken
	// Link is an enrollment link just created, shown on this answer only.
	Link *auth.EnrollmentEmail
	// SMS: a phone number can be added (userphones.go); Phone is the form
	// shown again after a refusal.
	SMS   bool
	Phone phoneNumberForm
}

type aliasRow struct {
	Position int // 1–8, Duo's alias<N>
	Alias    string
}

func (c *Console) loadUserExtras(ctx context.Context, id string) (*userExtras, error) {
	list, err := c.Core.UserAliases(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &userExtras{Mail: c.Core.MailConfigured(), SMS: c.Core.SMSEnabled()}
	for i, a := range list {
		if a != "" {
			v.Aliases = append(v.Aliases, aliasRow{Position: i + 1, Alias: a})
		}
	}
	v.Full = len(v.Aliases) >= store.MaxAliases
	links, err := c.Core.UserDirectories(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		v.Directories = append(v.Directories, l.Directory)
	}
	return v, nil
}

func (c *Console) addAlias(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	if _, err := c.Core.AddUserAlias(r.Context(), id, strings.TrimSpace(r.PostFormValue("alias"))); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done=alias-added", http.StatusSeeOther)
	return nil
}

func (c *Console) removeAlias(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	if _, err := c.Core.RemoveUserAlias(r.Context(), id, r.PostFormValue("alias")); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done=alias-removed", http.StatusSeeOther)
	return nil
}

// enrollEmail sends the user their enrollment link; without an SMTP
// server the core's error says so (and the page shows no button).
func (c *Console) enrollEmail(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	if _, err := c.Core.SendEnrollmentEmail(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done=enroll-email", http.StatusSeeOther)
	return nil
}

// enrollLink creates an enrollment link and shows it on the answer, to be
// copied and handed over another way (a chat, a phone call, in person).
func (c *Console) enrollLink(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	link, err := c.Core.EnrollmentLink(r.Context(), id)
	if err != nil {
		return err
	}
	v, err := c.loadUser(r)
	if err != nil {
		return err
	}
	if v.Extra != nil {
		v.Extra.Link = &link
	}
	p.Title, p.Page, p.Nav, p.User, p.Nonce = v.User.Username, "user", "users", v, nonce()
	p.Message, p.MessageKind = "Enrollment link created: copy it below. It is shown only now.", "success"
	return c.render(w, http.StatusOK, "user", p)
}

package console

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Administrators (owner only), each administrator's own account, the
// re-authentication page, and security keys (WebAuthn) as an
// administrator's second factor at setup, sign-in and re-authentication.
//
// A security-key ceremony's options go on the page in a data attribute
// of its form; webauthn.js (a static asset: the CSP allows no inline
// script) calls navigator.credentials and posts the answer as JSON in the
// "response" field, with the ceremony's state sealed by the core in the
// "sealed" field. Every form is parsed with net/http's PostFormValue; the
// answer's JSON is parsed by go-webauthn (through the core's WebAuthnRP),
// whose parsers the webauthnrp fuzz targets cover.

// adminsCore is what these pages ask of the core.
type adminsCore interface {
	Admins(ctx context.Context) ([]store.Admin, error)
	Admin(ctx context.Context, emailOrID string) (store.Admin, error)
	CreateAdmin(ctx context.Context, email, name string, role store.AdminRole) (store.Admin, auth.AdminSetupLink, error)
	ResetAdmin(ctx context.Context, emailOrID string) (store.Admin, auth.AdminSetupLink, error)
	DeleteAdmin(ctx context.Context, emailOrID string) error
	SetAdminRole(ctx context.Context, emailOrID string, role store.AdminRole) (store.Admin, error)

	AdminKeysEnabled() bool
	BeginAdminSetupKey(ctx context.Context, token string) (auth.AdminKeyCeremony, error)
	CompleteAdminSetupKey(ctx context.Context, token, password string, sealed, response []byte, name string) (store.Admin, error)
	BeginAdminKeySignIn(ctx context.Context, email, password string) (auth.AdminKeyCeremony, error)
	FinishAdminKeySignIn(ctx context.Context, sealed, response []byte) (store.Admin, error)
	BeginAdminKeyReauth(ctx context.Context, adminID string) (auth.AdminKeyCeremony, error)
	AdminReauthKey(ctx context.Context, adminID, password string, sealed, response []byte) (store.Admin, error)

	AdminKeys(ctx context.Context, adminID string) ([]store.WebAuthnCredential, error)
	BeginAdminKeyRegistration(ctx context.Context, adminID string) (auth.AdminKeyCeremony, error)
	AddAdminKey(ctx context.Context, adminID string, sealed, response []byte, name string) (store.WebAuthnCredential, error)
	RemoveAdminKey(ctx context.Context, adminID, keyID string) error
	BeginAdminTOTP(ctx context.Context, adminID string) (auth.AdminSetupInfo, error)
	ReopenAdminTOTP(ctx context.Context, adminID string, sealed []byte) (auth.AdminSetupInfo, error)
	AddAdminTOTP(ctx context.Context, adminID string, sealed []byte, code string) error
	RemoveAdminTOTP(ctx context.Context, adminID string) error
	ChangeAdminPassword(ctx context.Context, adminID, password string) error
	EndOtherAdminSessions(ctx context.Context, sess store.AdminSession) (int, error)
}

func (c *Console) adminRoutes() []route {
	return []route{
		{"GET /admin/admins", c.private(auth.PermOwner, c.adminsPage)},
		{"POST /admin/admins", c.private(auth.PermOwner, c.createAdmin)},
		{"POST /admin/admins/{id}/role", c.private(auth.PermOwner, c.setAdminRole)},
		{"POST /admin/admins/{id}/reset", c.private(auth.PermOwner, c.resetAdmin)},
		{"POST /admin/admins/{id}/delete", c.private(auth.PermOwner, c.deleteAdmin)},
		{"GET /admin/account", c.private(auth.PermRead, c.accountPage)},
		{"POST /admin/account/password", c.private(auth.PermRead, c.changePassword)},
		{"POST /admin/account/keys", c.private(auth.PermRead, c.addKey)},
		{"POST /admin/account/keys/{id}/remove", c.private(auth.PermRead, c.removeKey)},
		{"POST /admin/account/totp", c.private(auth.PermRead, c.addTOTP)},
		{"POST /admin/account/totp/remove", c.private(auth.PermRead, c.removeTOTP)},
		{"POST /admin/account/sessions", c.private(auth.PermRead, c.endOtherSessions)},
		{"GET /admin/reauth", c.private(auth.PermRead, c.reauthPage)},
		{"POST /admin/reauth", c.private(auth.PermRead, c.reauth)},
	}
}

// adminsView is what the pages of this file show.
type adminsView struct {
	Admins []store.Admin
	Roles  []option
	// Link is a new setup link, shown once on the page that answers the
	// POST that made it.
	Link, LinkFor string
	// Key is a security-key ceremony: its options for webauthn.js, its
	// sealed state for the form.
	Key *keyView
	// Account page.
	Keys []store.WebAuthnCredential
	TOTP *setupView
	// CanRemove: the administrator has more than one second factor.
	CanRemove bool
	// Next is where the re-authentication page goes on success.
	Next        string
	KeysEnabled bool
}

type keyView struct {
	Options, Sealed string
}

func newKeyView(k auth.AdminKeyCeremony) *keyView {
	return &keyView{Options: string(k.Options), Sealed: base64.RawURLEncoding.EncodeToString(k.Sealed)}
}

func roleOptions(sel store.AdminRole) []option {
	var out []option
	for _, r := range store.AdminRoles {
		out = append(out, option{Value: string(r), Label: roleNames[r], Selected: r == sel})
	}
	return out
}

// formBytes decodes a base64url form field ("" or damaged: nil, which the
// core refuses as a damaged form).
func formBytes(r *http.Request, name string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(name))
	if err != nil {
		return nil
	}
	return b
}

// adminID reads the {id} of an administrator's path.
func adminIDParam(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) != 20 || !strings.HasPrefix(id, "DE") {
		return "", errNotFound
	}
	return id, nil
}

func (c *Console) setupURL(r *http.Request, token string) string {
	host := c.Host
	if host == "" {
		host = r.Host
	}
	return "https://" + host + "/admin/setup/" + token
}

// needRecent sends an administrator who has not proved both factors
// within the re-authentication window to the re-authentication page.
func needRecent(w http.ResponseWriter, r *http.Request, p *page, next string) bool {
	if p.Recent {
		return false
	}
	http.Redirect(w, r, "/admin/reauth?next="+next, http.StatusSeeOther)
	return true
}

// Administrators (owner only).

var adminDone = map[string]string{
	"role":    "The role was changed.",
	"deleted": "The administrator was deleted.",
}

func (c *Console) renderAdmins(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	list, err := c.Core.Admins(r.Context())
	if err != nil {
		return err
	}
	if p.Adm == nil {
		p.Adm = &adminsView{}
	}
	p.Adm.Admins, p.Adm.Roles = list, roleOptions(store.RoleReadOnly)
	p.Title, p.Page, p.Nav = "Administrators", "admins", "admins"
	return c.render(w, status, "admins", p)
}

func (c *Console) adminsPage(w http.ResponseWriter, r *http.Request, p *page) error {
	if m, ok := adminDone[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	return c.renderAdmins(w, r, p, http.StatusOK)
}

// createAdmin shows the new administrator's setup link once, on the page
// that answers the POST (never in a URL or a log).
func (c *Console) createAdmin(w http.ResponseWriter, r *http.Request, p *page) error {
	role, err := auth.ParseAdminRole(r.PostFormValue("role"))
	if err != nil {
		return err
	}
	a, link, err := c.Core.CreateAdmin(r.Context(), r.PostFormValue("email"), r.PostFormValue("name"), role)
	if err != nil {
		return err
	}
	p.Adm = &adminsView{Link: c.setupURL(r, link.Token), LinkFor: a.Email}
	p.Message, p.MessageKind = "Administrator "+a.Email+" added. Send them the setup link below; it is shown only now and works once, until "+link.Expires.UTC().Format("2006-01-02 15:04 UTC")+".", "success"
	return c.renderAdmins(w, r, p, http.StatusOK)
}

func (c *Console) setAdminRole(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := adminIDParam(r)
	if err != nil {
		return err
	}
	role, err := auth.ParseAdminRole(r.PostFormValue("role"))
	if err != nil {
		return err
	}
	if _, err := c.Core.SetAdminRole(r.Context(), id, role); err != nil {
		return err
	}
	if id == p.Admin.ID && role != store.RoleOwner {
		http.Redirect(w, r, "/admin/account?done=role", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/admin/admins?done=role", http.StatusSeeOther)
	return nil
}

func (c *Console) resetAdmin(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := adminIDParam(r)
	if err != nil {
		return err
	}
	if id == p.Admin.ID {
		return &auth.Error{Kind: auth.KindInvalid, Detail: "you cannot reset yourself here; change your password and factors on your account page"}
	}
	if needRecent(w, r, p, "/admin/admins") {
		return nil
	}
	a, link, err := c.Core.ResetAdmin(r.Context(), id)
	if err != nil {
		return err
	}
	p.Adm = &adminsView{Link: c.setupURL(r, link.Token), LinkFor: a.Email}
	p.Message, p.MessageKind = a.Email+" was reset and signed out. Send them the new setup link below; it is shown only now.", "success"
	return c.renderAdmins(w, r, p, http.StatusOK)
}

// deleteAdmin needs a recent re-authentication; the core refuses the last
// owner (so an owner deletes themself only while another owner exists).
func (c *Console) deleteAdmin(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := adminIDParam(r)
	if err != nil {
		return err
	}
	if needRecent(w, r, p, "/admin/admins") {
		return nil
	}
	if err := c.Core.DeleteAdmin(r.Context(), id); err != nil {
		return err
	}
	if id == p.Admin.ID {
		clearCookie(w)
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/admin/admins?done=deleted", http.StatusSeeOther)
	return nil
}

// Account.

var accountDone = map[string]string{
	"password": "Your password was changed.",
	"key":      "The security key was added.",
	"keyoff":   "The security key was removed.",
	"totp":     "The authenticator app was set up.",
	"totpoff":  "The authenticator app was removed.",
	"sessions": "Your other sessions were signed out.",
	"role":     "Your role was changed.",
}

func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, p *page, status int, totp *auth.AdminSetupInfo) error {
	ctx := r.Context()
	keys, err := c.Core.AdminKeys(ctx, p.Admin.ID)
	if err != nil {
		return err
	}
	if p.Adm == nil {
		p.Adm = &adminsView{}
	}
	p.Adm.Keys, p.Adm.KeysEnabled = keys, c.Core.AdminKeysEnabled()
	n := len(keys)
	if p.Admin.HasTOTP() {
		n++
	}
	p.Adm.CanRemove = n > 1
	if p.Recent {
		if p.Adm.KeysEnabled {
			k, err := c.Core.BeginAdminKeyRegistration(ctx, p.Admin.ID)
			if err == nil {
				p.Adm.Key = newKeyView(k)
				p.script = true
			} else if !auth.IsKind(err, auth.KindInvalid) {
				return err
			}
		}
		if totp == nil {
			info, err := c.Core.BeginAdminTOTP(ctx, p.Admin.ID)
			if err != nil {
				return err
			}
			totp = &info
		}
		if p.Adm.TOTP, err = c.setupView(*totp); err != nil {
			return err
		}
		p.dataImg = true
	}
	p.Title, p.Page, p.Nav = "Your account", "account", "account"
	return c.render(w, status, "account", p)
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, p *page) error {
	if m, ok := accountDone[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	return c.renderAccount(w, r, p, http.StatusOK, nil)
}

// accountError shows the account page again with the core's message for
// what the administrator got wrong.
func (c *Console) accountError(w http.ResponseWriter, r *http.Request, p *page, err error, totp *auth.AdminSetupInfo) error {
	var e *auth.Error
	if !errors.As(err, &e) || e.Kind == auth.KindNotFound {
		return err
	}
	p.Message, p.MessageKind = e.Error(), "error"
	status := http.StatusBadRequest
	if e.Kind == auth.KindConflict {
		status = http.StatusConflict
	}
	return c.renderAccount(w, r, p, status, totp)
}

func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, p *page) error {
	if needRecent(w, r, p, "/admin/account") {
		return nil
	}
	pw := r.PostFormValue("new_password")
	if pw != r.PostFormValue("new_password2") {
		return c.accountError(w, r, p, &auth.Error{Kind: auth.KindInvalid, Param: "password", Detail: "the two new passwords differ"}, nil)
	}
	if err := c.Core.ChangeAdminPassword(r.Context(), p.Admin.ID, pw); err != nil {
		return c.accountError(w, r, p, err, nil)
	}
	http.Redirect(w, r, "/admin/account?done=password", http.StatusSeeOther)
	return nil
}

func (c *Console) addKey(w http.ResponseWriter, r *http.Request, p *page) error {
	if needRecent(w, r, p, "/admin/account") {
		return nil
	}
	_, err := c.Core.AddAdminKey(r.Context(), p.Admin.ID, formBytes(r, "sealed"), []byte(r.PostFormValue("response")), r.PostFormValue("name"))
	if err != nil {
		return c.accountError(w, r, p, err, nil)
	}
	http.Redirect(w, r, "/admin/account?done=key", http.StatusSeeOther)
	return nil
}

func (c *Console) removeKey(w http.ResponseWriter, r *http.Request, p *page) error {
	if needRecent(w, r, p, "/admin/account") {
		return nil
	}
	if err := c.Core.RemoveAdminKey(r.Context(), p.Admin.ID, r.PathValue("id")); err != nil {
		return c.accountError(w, r, p, err, nil)
	}
	http.Redirect(w, r, "/admin/account?done=keyoff", http.StatusSeeOther)
	return nil
}

func (c *Console) addTOTP(w http.ResponseWriter, r *http.Request, p *page) error {
	if needRecent(w, r, p, "/admin/account") {
		return nil
	}
	sealed := formBytes(r, "sealed")
	if err := c.Core.AddAdminTOTP(r.Context(), p.Admin.ID, sealed, r.PostFormValue("code")); err != nil {
		info, ierr := c.Core.ReopenAdminTOTP(r.Context(), p.Admin.ID, sealed)
		if ierr != nil {
			return ierr
		}
		return c.accountError(w, r, p, err, &info)
	}
	http.Redirect(w, r, "/admin/account?done=totp", http.StatusSeeOther)
	return nil
}

func (c *Console) removeTOTP(w http.ResponseWriter, r *http.Request, p *page) error {
	if needRecent(w, r, p, "/admin/account") {
		return nil
	}
	if err := c.Core.RemoveAdminTOTP(r.Context(), p.Admin.ID); err != nil {
		return c.accountError(w, r, p, err, nil)
	}
	http.Redirect(w, r, "/admin/account?done=totpoff", http.StatusSeeOther)
	return nil
}

func (c *Console) endOtherSessions(w http.ResponseWriter, r *http.Request, p *page) error {
	if _, err := c.Core.EndOtherAdminSessions(r.Context(), p.session.Session); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/account?done=sessions", http.StatusSeeOther)
	return nil
}

// Re-authentication.

// safeNext keeps a redirect after re-authentication on the console.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/admin/") || strings.ContainsAny(s, "\\?#\r\n") || strings.Contains(s, "//") ||
		strings.Contains(s, "/..") || strings.HasPrefix(s, "/admin/v") && len(s) > 8 && s[8] >= '0' && s[8] <= '9' {
		return "/admin/"
	}
	return s
}

func (c *Console) renderReauth(w http.ResponseWriter, r *http.Request, p *page, next string, status int) error {
	p.Adm = &adminsView{Next: safeNext(next)}
	if p.Admin.Keys > 0 && c.Core.AdminKeysEnabled() {
		k, err := c.Core.BeginAdminKeyReauth(r.Context(), p.Admin.ID)
		if err != nil {
			return err
		}
		p.Adm.Key, p.script = newKeyView(k), true
	}
	p.Title, p.Page, p.Narrow = "Confirm it is you", "reauth", true
	return c.render(w, status, "reauth", p)
}

func (c *Console) reauthPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return c.renderReauth(w, r, p, r.URL.Query().Get("next"), http.StatusOK)
}

// reauth checks the password with a code or a security key's answer, and
// marks the session as recently re-authenticated.
func (c *Console) reauth(w http.ResponseWriter, r *http.Request, p *page) error {
	next := safeNext(r.PostFormValue("next"))
	keys := []string{"ip:" + ratelimit.AddrKey(clientIP(r)), "email:" + p.Admin.Email}
	if err := c.limited(keys...); err != nil {
		return err
	}
	var err error
	if resp := r.PostFormValue("response"); resp != "" {
		_, err = c.Core.AdminReauthKey(r.Context(), p.Admin.ID, r.PostFormValue("password"), formBytes(r, "sealed"), []byte(resp))
	} else {
		_, err = c.Core.AdminReauth(r.Context(), p.Admin.ID, r.PostFormValue("password"), r.PostFormValue("code"))
	}
	if err != nil {
		var e *auth.Error
		if !errors.As(err, &e) || e.Kind != auth.KindInvalid {
			return err
		}
		c.failed(keys...)
		p.Message, p.MessageKind = "The password, code or security key was not accepted.", "error"
		return c.renderReauth(w, r, p, next, http.StatusUnauthorized)
	}
	if err := c.Core.AdminSessionReauthenticated(r.Context(), p.session.Session); err != nil {
		return err
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// Security keys at sign-in and setup.

// loginKey is the sign-in's second step for an administrator who left the
// code empty: the password was right, the page asks for the key.
func (c *Console) loginKey(w http.ResponseWriter, r *http.Request, p *page, email string, keys []string) error {
	k, err := c.Core.BeginAdminKeySignIn(r.Context(), email, r.PostFormValue("password"))
	if err != nil {
		if errors.Is(err, auth.ErrAdminLogin) {
			c.failed(keys...)
			p.Email, p.Message, p.MessageKind = email, err.Error(), "error"
			return c.render(w, http.StatusUnauthorized, "login", p)
		}
		if auth.IsKind(err, auth.KindInvalid) {
			p.Email, p.Message, p.MessageKind = email, err.Error(), "error"
			return c.render(w, http.StatusBadRequest, "login", p)
		}
		return err
	}
	p.Adm, p.script, p.Email = &adminsView{Key: newKeyView(k)}, true, email
	p.Title, p.Page = "Use your security key", "loginkey"
	return c.render(w, http.StatusOK, "loginkey", p)
}

// loginKeyAnswer finishes loginKey's ceremony.
func (c *Console) loginKeyAnswer(w http.ResponseWriter, r *http.Request, p *page, keys []string) error {
	a, err := c.Core.FinishAdminKeySignIn(r.Context(), formBytes(r, "sealed"), []byte(r.PostFormValue("response")))
	if err != nil {
		var e *auth.Error
		if !errors.As(err, &e) || e.Kind != auth.KindInvalid {
			return err
		}
		c.failed(keys...)
		p.Email, p.Message, p.MessageKind = r.PostFormValue("email"), "The security key was not accepted. Sign in again.", "error"
		return c.render(w, http.StatusUnauthorized, "login", p)
	}
	token, err := c.Core.StartAdminSession(r.Context(), a.ID, clientIP(r))
	if err != nil {
		return err
	}
	setCookie(w, token)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	return nil
}

// setupKeyView adds the security-key choice to a setup page.
func (c *Console) setupKeyView(r *http.Request, p *page) error {
	if !c.Core.AdminKeysEnabled() {
		return nil
	}
	k, err := c.Core.BeginAdminSetupKey(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	p.Adm, p.script = &adminsView{Key: newKeyView(k)}, true
	return nil
}

// setupWithKey finishes a setup link with a security key.
func (c *Console) setupWithKey(w http.ResponseWriter, r *http.Request, p *page, limitKey string) error {
	token := r.PathValue("token")
	_, err := c.Core.CompleteAdminSetupKey(r.Context(), token, r.PostFormValue("password"), formBytes(r, "sealed"),
		[]byte(r.PostFormValue("response")), r.PostFormValue("name"))
	if auth.IsKind(err, auth.KindInvalid) {
		c.failed(limitKey)
		info, ierr := c.Core.BeginAdminSetup(r.Context(), token)
		if ierr != nil {
			return ierr
		}
		if p.Setup, ierr = c.setupView(info); ierr != nil {
			return ierr
		}
		if ierr := c.setupKeyView(r, p); ierr != nil {
			return ierr
		}
		p.Title, p.Page, p.dataImg, p.Message, p.MessageKind = "Set up your account", "setup", true, err.Error(), "error"
		return c.render(w, http.StatusBadRequest, "setup", p)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/login?done=setup", http.StatusSeeOther)
	return nil
}

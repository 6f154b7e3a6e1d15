package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Sign-in and setup.

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, p *page) error {
	p.Title, p.Page = "Sign in", "login"
	if r.URL.Query().Get("done") == "setup" {
		p.Message, p.MessageKind = "Your account is ready. Sign in with a new code from your app, or with your security key.", "success"
	}
	return c.render(w, http.StatusOK, "login", p)
}

// limited refuses a client (by address and by e-mail) that failed too
// often; failed records a failure.
func (c *Console) limited(keys ...string) error {
	if c.SignIns == nil {
		return nil
	}
	for _, k := range keys {
		if blocked, retry := c.SignIns.Blocked(k); blocked {
			return &auth.Error{Kind: auth.KindRateLimited, Detail: "too many failed attempts; try again in " + retry.Round(time.Second).String(), RetryAfter: retry}
		}
	}
	return nil
}

func (c *Console) failed(keys ...string) {
	if c.SignIns == nil {
		return
	}
	for _, k := range keys {
		c.SignIns.Fail(k)
	}
}

func (c *Console) login(w http.ResponseWriter, r *http.Request, p *page) error {
	p.Title, p.Page = "Sign in", "login"
	email := strings.TrimSpace(r.PostFormValue("email"))
	keys := []string{"ip:" + ratelimit.AddrKey(clientIP(r)), "email:" + strings.ToLower(email)}
	if err := c.limited(keys...); err != nil {
		return err
	}
	if r.PostFormValue("method") == "webauthn" {
		return c.loginKeyAnswer(w, r, p, keys)
	}
	if strings.TrimSpace(r.PostFormValue("code")) == "" && c.Core.AdminKeysEnabled() {
		return c.loginKey(w, r, p, email, keys)
	}
	a, err := c.Core.AdminSignIn(r.Context(), email, r.PostFormValue("password"), r.PostFormValue("code"))
	if errors.Is(err, auth.ErrAdminLogin) {
		c.failed(keys...)
		p.Email, p.Message, p.MessageKind = email, err.Error(), "error"
		return c.render(w, http.StatusUnauthorized, "login", p)
	}
	if err != nil {
		return err
	}
	token, err := c.Core.StartAdminSession(r.Context(), a.ID, clientIP(r))
	if err != nil {
		return err
	}
	setCookie(w, token)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	return nil
}

type setupView struct {
	auth.AdminSetupInfo
	SealedB64 string
	// QR is a data: URL built here, so marked safe for the img src
	// (html/template would replace a plain string's with "#ZgotmplZ").
	QR template.URL
}

func (c *Console) setupView(info auth.AdminSetupInfo) (*setupView, error) {
	png, err := qrcode.Encode(info.URI, qrcode.Medium, 256)
	if err != nil {
		return nil, err
	}
	return &setupView{AdminSetupInfo: info, SealedB64: base64.RawURLEncoding.EncodeToString(info.Sealed),
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))}, nil
}

func (c *Console) setupPage(w http.ResponseWriter, r *http.Request, p *page) error {
	info, err := c.Core.BeginAdminSetup(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	if p.Setup, err = c.setupView(info); err != nil {
		return err
	}
	if err := c.setupKeyView(r, p); err != nil {
		return err
	}
	p.Title, p.Page, p.dataImg = "Set up your account", "setup", true
	return c.render(w, http.StatusOK, "setup", p)
}

func (c *Console) setup(w http.ResponseWriter, r *http.Request, p *page) error {
	token := r.PathValue("token")
	key := "ip:" + ratelimit.AddrKey(clientIP(r))
	if err := c.limited(key); err != nil {
		return err
	}
	if r.PostFormValue("method") == "webauthn" {
		return c.setupWithKey(w, r, p, key)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("sealed"))
	if err != nil {
		sealed = nil
	}
	_, err = c.Core.CompleteAdminSetup(r.Context(), token, r.PostFormValue("password"), sealed, r.PostFormValue("code"))
	if auth.IsKind(err, auth.KindInvalid) {
		c.failed(key)
		// Show the same secret again, so the app already holding it works.
		info, ierr := c.Core.ReopenAdminSetup(r.Context(), token, sealed)
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

func (c *Console) logout(w http.ResponseWriter, r *http.Request, p *page) error {
	if err := c.Core.EndAdminSession(r.Context(), p.token); err != nil {
		return err
	}
	clearCookie(w)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
	return nil
}

// Dashboard and users.

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, p *page) error {
	d, err := c.Core.ConsoleDashboard(r.Context())
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.Dash = "Dashboard", "dashboard", "dashboard", &d
	if err := c.activity(r.Context(), p); err != nil { // activity.go
		return err
	}
	return c.render(w, http.StatusOK, "dashboard", p)
}

const usersPerPage = 50

var statusFilters = []option{
	{Value: "", Label: "Any status"},
	{Value: string(store.StatusActive), Label: "Active"},
	{Value: string(store.StatusLockedOut), Label: "Locked out"},
	{Value: string(store.StatusDisabled), Label: "Disabled"},
	{Value: string(store.StatusBypass), Label: "Bypass"},
	{Value: notEnrolledFilter, Label: "Not enrolled"},
}

// notEnrolledFilter is the status filter for users without a second factor.
const notEnrolledFilter = "not_enrolled"

func (c *Console) users(w http.ResponseWriter, r *http.Request, p *page) error {
	q := r.URL.Query()
	cq := store.ConsoleUserQuery{Search: strings.TrimSpace(q.Get("q")), Limit: usersPerPage}
	status := q.Get("status")
	for _, o := range statusFilters {
		sel := o.Value == status
		switch {
		case sel && o.Value == notEnrolledFilter:
			cq.NotEnrolled = true
		case sel:
			cq.Status = store.UserStatus(o.Value)
		}
		o.Selected = sel
		p.Statuses = append(p.Statuses, o)
	}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil && n > 0 {
		cq.Offset = n
	}
	groups, err := c.Core.Groups(r.Context())
	if err != nil {
		return err
	}
	group := q.Get("group")
	p.GroupFilter = append(p.GroupFilter, option{Value: "", Label: "Any group", Selected: group == ""})
	for _, g := range groups {
		sel := g.ID == group
		if sel {
			cq.GroupID = g.ID
		}
		p.GroupFilter = append(p.GroupFilter, option{Value: g.ID, Label: g.Name, Selected: sel})
	}
	if group != "" && cq.GroupID == "" {
		return &auth.Error{Kind: auth.KindNotFound, Detail: "no group with that ID"}
	}
	list, total, err := c.Core.ConsoleUsers(r.Context(), cq)
	if err != nil {
		return err
	}
	link := func(off int) string {
		v := url.Values{}
		if cq.Search != "" {
			v.Set("q", cq.Search)
		}
		if status != "" {
			v.Set("status", status)
		}
		if cq.GroupID != "" {
			v.Set("group", cq.GroupID)
		}
		if off > 0 {
			v.Set("offset", strconv.Itoa(off))
		}
		return "/admin/users?" + v.Encode()
	}
	if cq.Offset > 0 {
		p.Prev = link(max(cq.Offset-usersPerPage, 0))
	}
	if cq.Offset+len(list) < total {
		p.Next = link(cq.Offset + usersPerPage)
	}
	p.Title, p.Page, p.Nav, p.Users, p.Total, p.Query = "Users", "users", "users", list, total, cq.Search
	if m := q.Get("done"); m == "deleted" {
		p.Message, p.MessageKind = "The user was deleted.", "success"
	}
	return c.render(w, http.StatusOK, "users", p)
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, p *page) error {
	u, err := c.Core.CreateUser(r.Context(), strings.TrimSpace(r.PostFormValue("username")))
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users/"+u.ID+"?done=created", http.StatusSeeOther)
	return nil
}

// nonce is a random single-use form value.
func nonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type userView struct {
	User    store.User
	Devices []store.Device
	Tokens  []store.Token
	Keys    []store.WebAuthnCredential
	Groups  []store.Group
	Bypass  []store.BypassCode
	Auths   []store.AuthLog
	Extra   *userExtras // useraliases.go
}

// userID reads the {id} of a path: user IDs only (usernames may hold
// anything, IDs are what the pages link to).
func userID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) != 20 || !strings.HasPrefix(id, "DU") {
		return "", errNotFound
	}
	return id, nil
}

func (c *Console) loadUser(r *http.Request) (*userView, error) {
	id, err := userID(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	v := &userView{}
	if v.User, err = c.Core.User(ctx, id); err != nil {
		return nil, err
	}
	if v.Devices, err = c.Core.Devices(ctx, id); err != nil {
		return nil, err
	}
	if v.Tokens, err = c.Core.UserTokens(ctx, id); err != nil {
		return nil, err
	}
	if v.Keys, err = c.Core.WebAuthnCredentials(ctx, id); err != nil {
		return nil, err
	}
	if v.Groups, err = c.Core.UserGroups(ctx, id); err != nil {
		return nil, err
	}
	if v.Bypass, err = c.Core.BypassCodes(ctx, id); err != nil {
		return nil, err
	}
	if v.Auths, err = c.Core.RecentAuthentications(ctx, id, 20); err != nil {
		return nil, err
	}
	if v.Extra, err = c.loadUserExtras(ctx, id); err != nil {
		return nil, err
	}
	return v, nil
}

var doneMessages = map[string]string{
	"created":     "The user was added.",
	"status":      "The status was changed.",
	"revoked":     "The bypass code was revoked.",
	"unlocked":    "The user was unlocked.",
	"alias-added": "The alias was added.", "phone-added": "The phone number was added: it receives SMS passcodes.", "alias-removed": "The alias was removed.", "enroll-email": "The enrollment e-mail was sent.",
}

func (c *Console) user(w http.ResponseWriter, r *http.Request, p *page) error {
	v, err := c.loadUser(r)
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.User, p.Nonce = v.User.Username, "user", "users", v, nonce()
	if m, ok := doneMessages[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	return c.render(w, http.StatusOK, "user", p)
}

// setStatus: unlocking a locked-out user is help-desk work; any other
// change of status (disable, enable) needs PermManage.
func (c *Console) setStatus(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	u, err := c.Core.User(r.Context(), id)
	if err != nil {
		return err
	}
	status := store.UserStatus(r.PostFormValue("status"))
	unlock := u.Status == store.StatusLockedOut && status == store.StatusActive
	if !unlock && !p.May.Manage {
		return errForbidden
	}
	if _, err := c.Core.SetUserStatus(r.Context(), id, status); err != nil {
		return err
	}
	done := "status"
	if unlock {
		done = "unlocked"
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done="+done, http.StatusSeeOther)
	return nil
}

// issueBypass shows the new codes once, on the page that answers the
// POST (never in a URL, never stored in plaintext).
func (c *Console) issueBypass(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	n := auth.NewBypassCodes{Count: 10, Uses: 1}
	if s := r.PostFormValue("count"); s != "" {
		if n.Count, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return &auth.Error{Kind: auth.KindInvalid, Param: "count", Detail: "must be a number from 1 to 10"}
		}
	}
	if s := r.PostFormValue("uses"); s != "" {
		if n.Uses, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return &auth.Error{Kind: auth.KindInvalid, Param: "uses", Detail: "must be a number"}
		}
	}
	if s := r.PostFormValue("valid"); s != "" && s != "0" {
		if n.Valid, err = time.ParseDuration(s); err != nil || n.Valid < 0 {
			return &auth.Error{Kind: auth.KindInvalid, Param: "valid", Detail: "must be a duration"}
		}
	}
	if _, err := c.Core.User(r.Context(), id); err != nil {
		return err
	}
	status := http.StatusOK
	var codes auth.IssuedBypassCodes
	err = c.Core.ClaimOnce(r.Context(), "console_form", r.PostFormValue("nonce"), time.Hour)
	switch {
	case r.PostFormValue("nonce") == "" || errors.Is(err, auth.ErrAlreadyClaimed):
		status = http.StatusConflict
		p.Message, p.MessageKind = "This form was already sent: its codes are not shown again. Issue new ones below if needed.", "error"
	case err != nil:
		return err
	default:
		if codes, err = c.Core.IssueBypassCodes(r.Context(), id, n); err != nil {
			return err
		}
		p.Codes = &codes
		p.Message, p.MessageKind = "New bypass codes issued.", "success"
	}
	v, err := c.loadUser(r)
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.User, p.Nonce = v.User.Username, "user", "users", v, nonce()
	return c.render(w, status, "user", p)
}

func (c *Console) revokeBypass(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	code, err := c.Core.BypassCode(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	if code.UserID != id {
		return errNotFound
	}
	if err := c.Core.DeleteBypassCode(r.Context(), code.ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done=revoked", http.StatusSeeOther)
	return nil
}

func (c *Console) deletePage(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	u, err := c.Core.User(r.Context(), id)
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.User = "Delete "+u.Username, "delete", "users", &userView{User: u}
	return c.render(w, http.StatusOK, "delete", p)
}

// deleteUser needs the username typed again and, unless the administrator
// proved both factors within the re-authentication window, the password
// and a new code.
func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	u, err := c.Core.User(r.Context(), id)
	if err != nil {
		return err
	}
	again := func(msg string, status int) error {
		p.Title, p.Page, p.Nav, p.User, p.Message, p.MessageKind = "Delete "+u.Username, "delete", "users", &userView{User: u}, msg, "error"
		return c.render(w, status, "delete", p)
	}
	if !p.Recent {
		keys := []string{"ip:" + ratelimit.AddrKey(clientIP(r)), "email:" + p.Admin.Email}
		if err := c.limited(keys...); err != nil {
			return err
		}
		if _, err := c.Core.AdminReauth(r.Context(), p.Admin.ID, r.PostFormValue("password"), r.PostFormValue("code")); err != nil {
			if errors.Is(err, auth.ErrAdminLogin) {
				c.failed(keys...)
				return again("The password or code is not right.", http.StatusUnauthorized)
			}
			return err
		}
		if err := c.Core.AdminSessionReauthenticated(r.Context(), p.session.Session); err != nil {
			return err
		}
		p.Recent = true
	}
	if strings.TrimSpace(r.PostFormValue("confirm")) != u.Username {
		return again("Type the username exactly to confirm.", http.StatusBadRequest)
	}
	if err := c.Core.DeleteUser(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users?done=deleted", http.StatusSeeOther)
	return nil
}

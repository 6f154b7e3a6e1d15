package console

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// Applications (integrations), groups, hardware tokens and settings: the
// pages of apps.go, groups.go, tokens.go and settings.go.

// appsCore is what the applications, groups, tokens and settings pages ask
// of the core: the operations the Admin API and the CLI use. It has no way
// to read an integration's secret key: the console shows a secret only as
// CreateIntegration and RotateSecret return it, once.
type appsCore interface {
	Integrations(ctx context.Context) ([]store.Integration, error)
	CreateIntegration(ctx context.Context, n auth.NewIntegration) (store.Integration, string, error)
	UpdateIntegration(ctx context.Context, ikey string, u auth.IntegrationUpdate) (store.Integration, error)
	RotateSecret(ctx context.Context, ikey string, grace time.Duration) (store.Integration, string, error)
	DeleteIntegration(ctx context.Context, ikey string) error

	Groups(ctx context.Context) ([]store.Group, error)
	Group(ctx context.Context, idOrName string) (store.Group, error)
	CreateGroup(ctx context.Context, n auth.NewGroup) (store.Group, error)
	ModifyGroup(ctx context.Context, idOrName string, up auth.GroupUpdate) (store.Group, error)
	DeleteGroup(ctx context.Context, idOrName string) error
	AddGroupMember(ctx context.Context, group, user string) error
	RemoveGroupMember(ctx context.Context, group, user string) error
	GroupMembers(ctx context.Context, group string) ([]store.User, error)

	HardwareTokens(ctx context.Context) ([]store.Token, error)
	HardwareTokenByID(ctx context.Context, id string) (store.Token, error)
	AddTokens(ctx context.Context, list []auth.NewToken) ([]store.Token, error)
	AssignToken(ctx context.Context, serial, user string) (store.Token, error)
	ResyncToken(ctx context.Context, serial string, codes ...string) (store.Token, error)
	DeleteToken(ctx context.Context, serial string) error

	LockoutThreshold(ctx context.Context) int
	PushLimit(ctx context.Context) (string, bool)
	SetPushLimit(ctx context.Context, rate string) error
	ConfiguredLockoutThreshold() int
	SetLockoutThreshold(ctx context.Context, n int) error
	TOTPIssuer(ctx context.Context) string
	ConfiguredTOTPIssuer() string
	SetTOTPIssuer(ctx context.Context, name string) error
	Logo(ctx context.Context) []byte
	SetLogo(ctx context.Context, png []byte) error
}

// appsRoutes are the routes of these pages.
func (c *Console) appsRoutes() []route {
	return []route{
		{"GET /admin/applications", c.private(auth.PermRead, c.apps)},
		{"POST /admin/applications", c.private(auth.PermManage, c.createApp)},
		{"GET /admin/applications/{ikey}", c.private(auth.PermRead, c.app)},
		{"POST /admin/applications/{ikey}", c.private(auth.PermManage, c.editApp)},
		{"GET /admin/applications/{ikey}/rotate", c.private(auth.PermManage, c.rotatePage)},
		{"POST /admin/applications/{ikey}/rotate", c.private(auth.PermManage, c.rotateApp)},
		{"GET /admin/applications/{ikey}/delete", c.private(auth.PermManage, c.deleteAppPage)},
		{"POST /admin/applications/{ikey}/delete", c.private(auth.PermManage, c.deleteApp)},

		{"GET /admin/groups", c.private(auth.PermRead, c.groups)},
		{"POST /admin/groups", c.private(auth.PermManage, c.createGroup)},
		{"GET /admin/groups/{id}", c.private(auth.PermRead, c.group)},
		{"POST /admin/groups/{id}", c.private(auth.PermManage, c.editGroup)},
		{"POST /admin/groups/{id}/members", c.private(auth.PermManage, c.addMember)},
		{"POST /admin/groups/{id}/members/{user}/remove", c.private(auth.PermManage, c.removeMember)},
		{"POST /admin/groups/{id}/delete", c.private(auth.PermManage, c.deleteGroup)},

		{"GET /admin/tokens", c.private(auth.PermRead, c.tokens)},
		{"POST /admin/tokens/import", limitBody(maxImportBody, c.private(auth.PermManage, c.importTokens))},
		{"GET /admin/tokens/{id}", c.private(auth.PermRead, c.token)},
		{"POST /admin/tokens/{id}/assign", c.private(auth.PermManage, c.assignToken)},
		{"POST /admin/tokens/{id}/resync", c.private(auth.PermManage, c.resyncToken)},
		{"POST /admin/tokens/{id}/delete", c.private(auth.PermManage, c.deleteToken)},

		{"GET /admin/settings", c.private(auth.PermRead, c.settings)},
		{"POST /admin/settings", limitBody(auth.MaxLogoBytes+64<<10, c.private(auth.PermOwner, c.saveSettings))},
	}
}

// limitBody bounds what a form may send before anything reads it.
func limitBody(n int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h.ServeHTTP(w, r)
	})
}

// appsView is what the pages of this file show.
type appsView struct {
	// Applications.
	Apps []store.Integration
	App  *store.Integration
	// Secret is a secret key just created or rotated, shown on the page
	// that answers the POST and never again.
	Secret   string
	Host     string
	Types    []option
	Policies []option
	Grants   []option
	Pushes   []option
	Graces   []option
	Origins  string
	// Groups.
	Groups   []store.Group
	Group    *store.Group
	Members  []store.User
	Statuses []option
	// Tokens: each with its user's name.
	Tokens []tokenRow
	Token  *tokenRow
	// Settings.
	Settings *settingsView
}

type tokenRow struct {
	store.Token
	Username string
}

type settingsView struct {
	Lockout, ConfiguredLockout int
	Issuer, ConfiguredIssuer   string
	// PushLimit is the pushes-per-user limit in force ("N/duration" or
	// "off"); PushLimitSet: set here, else the configuration's.
	PushLimit    string
	PushLimitSet bool
	// Logo is the uploaded logo as a data: URL ("" when none).
	Logo template.URL
}

// userMessage is the message of an error the administrator caused (a
// form to correct), or "" for any other error.
func userMessage(err error) string {
	var e *auth.Error
	if errors.As(err, &e) && (e.Kind == auth.KindInvalid || e.Kind == auth.KindConflict) {
		return e.Error()
	}
	return ""
}

// reauthenticated checks the form's password and code unless the session
// proved both factors within the re-authentication window; false (and no
// error) when they are wrong. The failures count against the sign-in limit.
func (c *Console) reauthenticated(r *http.Request, p *page) (bool, error) {
	if p.Recent {
		return true, nil
	}
	keys := []string{"ip:" + ratelimit.AddrKey(clientIP(r)), "email:" + p.Admin.Email}
	if err := c.limited(keys...); err != nil {
		return false, err
	}
	if _, err := c.Core.AdminReauth(r.Context(), p.Admin.ID, r.PostFormValue("password"), r.PostFormValue("code")); err != nil {
		if errors.Is(err, auth.ErrAdminLogin) {
			c.failed(keys...)
			return false, nil
		}
		return false, err
	}
	if err := c.Core.AdminSessionReauthenticated(r.Context(), p.session.Session); err != nil {
		return false, err
	}
	p.Recent = true
	return true, nil
}

const reauthFailed = "The password or code is not right."

// once claims a single-use form's nonce: false when the form was already
// sent (a reload, the back button), whose answer must not be made again.
func (c *Console) once(r *http.Request) (bool, error) {
	n := r.PostFormValue("nonce")
	if n == "" {
		return false, nil
	}
	err := c.Core.ClaimOnce(r.Context(), "console_form", n, time.Hour)
	if errors.Is(err, auth.ErrAlreadyClaimed) {
		return false, nil
	}
	return err == nil, err
}

var typeLabels = map[store.IntegrationType]string{
	store.TypeAuthAPI: "Auth API", store.TypeAdminAPI: "Admin API",
	store.TypeWebSDK: "Web SDK v2", store.TypeUniversal: "Universal Prompt (OIDC)",
}

func appType(t store.IntegrationType) string {
	if l, ok := typeLabels[t]; ok {
		return l
	}
	return string(t)
}

var tokenLabels = map[store.TokenKind]string{
	"h6": "HOTP, 6 digits", "h8": "HOTP, 8 digits", "t6": "TOTP, 6 digits", "t8": "TOTP, 8 digits", "yk": "YubiKey OTP",
}

func tokenType(k store.TokenKind) string {
	if l, ok := tokenLabels[k]; ok {
		return l
	}
	return string(k)
}

var policyLabels = []option{
	{Value: string(store.PolicyEnroll), Label: "Ask them to enroll"},
	{Value: string(store.PolicyAllow), Label: "Let them in without a second factor"},
	{Value: string(store.PolicyDeny), Label: "Refuse them"},
}

var pushLabels = []option{
	{Value: "0", Label: "Off"},
	{Value: "3", Label: "3-digit code"},
	{Value: "6", Label: "6-digit code"},
}

var graceLabels = []option{
	{Value: "0", Label: "None: the old key stops now"},
	{Value: "1h", Label: "1 hour"},
	{Value: "24h", Label: "1 day"},
	{Value: "168h", Label: "1 week"},
	{Value: "720h", Label: "30 days"},
}

func selected(opts []option, v string) []option {
	out := slices.Clone(opts)
	for i := range out {
		out[i].Selected = out[i].Value == v
	}
	return out
}

func (c *Console) appForm(v *appsView, in store.Integration) {
	v.Policies = selected(policyLabels, string(in.NewUserPolicy))
	v.Pushes = selected(pushLabels, strconv.Itoa(in.VerifiedPush))
	v.Grants = nil
	for _, g := range store.AllGrants {
		v.Grants = append(v.Grants, option{Value: g, Label: g, Selected: slices.Contains(in.Grants, g)})
	}
	v.Origins = strings.Join(in.AllowedOrigins, "\n")
	v.Host = c.Host
}

func (c *Console) apps(w http.ResponseWriter, r *http.Request, p *page) error {
	list, err := c.Core.Integrations(r.Context())
	if err != nil {
		return err
	}
	return c.renderApps(w, r, p, list, http.StatusOK, store.Integration{Type: store.TypeAuthAPI, NewUserPolicy: store.PolicyEnroll})
}

func (c *Console) renderApps(w http.ResponseWriter, r *http.Request, p *page, list []store.Integration, status int, form store.Integration) error {
	v := &appsView{Apps: list}
	c.appForm(v, form)
	for _, t := range []store.IntegrationType{store.TypeAuthAPI, store.TypeWebSDK, store.TypeUniversal, store.TypeAdminAPI} {
		v.Types = append(v.Types, option{Value: string(t), Label: typeLabels[t], Selected: t == form.Type})
	}
	p.Title, p.Page, p.Nav, p.Apps, p.Nonce = "Applications", "applications", "applications", v, nonce()
	if r.URL.Query().Get("done") == "deleted" {
		p.Message, p.MessageKind = "The application was deleted.", "success"
	}
	return c.render(w, status, "applications", p)
}

// origins splits the allowed-origins text area (one per line, or
// separated by spaces or commas).
func origins(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ' ' || r == ',' || r == '\t' })
}

// createApp shows the new secret key once, on the page that answers the
// POST (never in a URL; a reload of that page creates nothing).
func (c *Console) createApp(w http.ResponseWriter, r *http.Request, p *page) error {
	vp, err := strconv.Atoi(r.PostFormValue("verified_push"))
	if err != nil {
		vp = -1
	}
	n := auth.NewIntegration{
		Name: strings.TrimSpace(r.PostFormValue("name")), Type: store.IntegrationType(r.PostFormValue("type")),
		NewUserPolicy: store.NewUserPolicy(r.PostFormValue("new_user_policy")), AllowedOrigins: origins(r.PostFormValue("allowed_origins")),
		Grants: r.PostForm["grant"], VerifiedPush: vp,
	}
	ok, err := c.once(r)
	if err != nil {
		return err
	}
	if !ok {
		p.Message, p.MessageKind = "This form was already sent: nothing was created again, and a secret key is never shown twice.", "error"
		list, err := c.Core.Integrations(r.Context())
		if err != nil {
			return err
		}
		return c.renderApps(w, r, p, list, http.StatusConflict, store.Integration{Type: store.TypeAuthAPI, NewUserPolicy: store.PolicyEnroll})
	}
	in, skey, err := c.Core.CreateIntegration(r.Context(), n)
	if msg := userMessage(err); msg != "" {
		p.Message, p.MessageKind = msg, "error"
		list, err := c.Core.Integrations(r.Context())
		if err != nil {
			return err
		}
		return c.renderApps(w, r, p, list, http.StatusBadRequest, store.Integration{Name: n.Name, Type: n.Type,
			NewUserPolicy: n.NewUserPolicy, AllowedOrigins: n.AllowedOrigins, Grants: n.Grants, VerifiedPush: max(vp, 0)})
	}
	if err != nil {
		return err
	}
	p.Message, p.MessageKind = "The application was created. Copy its secret key now: it is not shown again.", "success"
	return c.renderApp(w, p, in, skey, http.StatusOK)
}

// findApp reads the integration of the path's {ikey} (from the list: the
// console never reads a secret key).
func (c *Console) findApp(r *http.Request) (store.Integration, error) {
	ikey := r.PathValue("ikey")
	if len(ikey) != 20 || !strings.HasPrefix(ikey, "DI") {
		return store.Integration{}, errNotFound
	}
	list, err := c.Core.Integrations(r.Context())
	if err != nil {
		return store.Integration{}, err
	}
	for _, in := range list {
		if in.IKey == ikey {
			return in, nil
		}
	}
	return store.Integration{}, &auth.Error{Kind: auth.KindNotFound, Detail: "no application with that integration key"}
}

var appDone = map[string]string{
	"saved": "The changes were saved.",
}

func (c *Console) app(w http.ResponseWriter, r *http.Request, p *page) error {
	in, err := c.findApp(r)
	if err != nil {
		return err
	}
	if m, ok := appDone[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	return c.renderApp(w, p, in, "", http.StatusOK)
}

func (c *Console) renderApp(w http.ResponseWriter, p *page, in store.Integration, secret string, status int) error {
	v := &appsView{App: &in, Secret: secret}
	c.appForm(v, in)
	p.Title, p.Page, p.Nav, p.Apps = in.Name, "application", "applications", v
	return c.render(w, status, "application", p)
}

func (c *Console) editApp(w http.ResponseWriter, r *http.Request, p *page) error {
	in, err := c.findApp(r)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	policy := store.NewUserPolicy(r.PostFormValue("new_user_policy"))
	orig := origins(r.PostFormValue("allowed_origins"))
	legacy := r.PostFormValue("legacy_signatures") == "on"
	vp, err := strconv.Atoi(r.PostFormValue("verified_push"))
	if err != nil {
		vp = -1
	}
	u := auth.IntegrationUpdate{Name: &name, NewUserPolicy: &policy, AllowedOrigins: &orig, LegacySignatures: &legacy, VerifiedPush: &vp}
	if in.Type == store.TypeAdminAPI {
		grants := r.PostForm["grant"]
		u.Grants = &grants
	}
	_, err = c.Core.UpdateIntegration(r.Context(), in.IKey, u)
	if msg := userMessage(err); msg != "" {
		p.Message, p.MessageKind = msg, "error"
		in.Name, in.NewUserPolicy, in.AllowedOrigins, in.LegacySignatures = name, policy, orig, legacy
		return c.renderApp(w, p, in, "", http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/applications/"+in.IKey+"?done=saved", http.StatusSeeOther)
	return nil
}

func (c *Console) rotatePage(w http.ResponseWriter, r *http.Request, p *page) error {
	in, err := c.findApp(r)
	if err != nil {
		return err
	}
	return c.renderRotate(w, p, in, http.StatusOK)
}

func (c *Console) renderRotate(w http.ResponseWriter, p *page, in store.Integration, status int) error {
	v := &appsView{App: &in, Graces: selected(graceLabels, "24h")}
	p.Title, p.Page, p.Nav, p.Apps, p.Nonce = "New secret key for "+in.Name, "rotate", "applications", v, nonce()
	return c.render(w, status, "rotate", p)
}

// rotateApp gives the application a new secret key after the
// re-authentication, and shows it once.
func (c *Console) rotateApp(w http.ResponseWriter, r *http.Request, p *page) error {
	in, err := c.findApp(r)
	if err != nil {
		return err
	}
	grace, err := time.ParseDuration(r.PostFormValue("grace"))
	if r.PostFormValue("grace") == "0" {
		grace, err = 0, nil
	}
	if err != nil {
		p.Message, p.MessageKind = "Choose how long the old key keeps working.", "error"
		return c.renderRotate(w, p, in, http.StatusBadRequest)
	}
	ok, err := c.reauthenticated(r, p)
	if err != nil {
		return err
	}
	if !ok {
		p.Message, p.MessageKind = reauthFailed, "error"
		return c.renderRotate(w, p, in, http.StatusUnauthorized)
	}
	if ok, err = c.once(r); err != nil {
		return err
	}
	if !ok {
		p.Message, p.MessageKind = "This form was already sent: the key was not changed again, and a secret key is never shown twice.", "error"
		return c.renderRotate(w, p, in, http.StatusConflict)
	}
	rotated, skey, err := c.Core.RotateSecret(r.Context(), in.IKey, grace)
	if msg := userMessage(err); msg != "" {
		p.Message, p.MessageKind = msg, "error"
		return c.renderRotate(w, p, in, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	in = rotated
	msg := "The secret key was changed; the old one no longer works. Copy the new one now: it is not shown again."
	if !in.PrevSecretExpires.IsZero() {
		msg = "The secret key was changed; the old one works until " + in.PrevSecretExpires.UTC().Format("2006-01-02 15:04 UTC") +
			". Copy the new one now: it is not shown again."
	}
	p.Message, p.MessageKind = msg, "success"
	return c.renderApp(w, p, in, skey, http.StatusOK)
}

func (c *Console) deleteAppPage(w http.ResponseWriter, r *http.Request, p *page) error {
	in, err := c.findApp(r)
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.Apps = "Delete "+in.Name, "delete-application", "applications", &appsView{App: &in}
	return c.render(w, http.StatusOK, "delete-application", p)
}

// deleteApp needs the application's name typed again and the
// re-authentication.
func (c *Console) deleteApp(w http.ResponseWriter, r *http.Request, p *page) error {
	in, err := c.findApp(r)
	if err != nil {
		return err
	}
	again := func(msg string, status int) error {
		p.Title, p.Page, p.Nav, p.Apps, p.Message, p.MessageKind = "Delete "+in.Name, "delete-application", "applications", &appsView{App: &in}, msg, "error"
		return c.render(w, status, "delete-application", p)
	}
	ok, err := c.reauthenticated(r, p)
	if err != nil {
		return err
	}
	if !ok {
		return again(reauthFailed, http.StatusUnauthorized)
	}
	if strings.TrimSpace(r.PostFormValue("confirm")) != in.Name {
		return again("Type the application's name exactly to confirm.", http.StatusBadRequest)
	}
	if err := c.Core.DeleteIntegration(r.Context(), in.IKey); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/applications?done=deleted", http.StatusSeeOther)
	return nil
}

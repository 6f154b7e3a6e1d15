// Package console is the administrators' web console at /admin/ (issue
// 15): server-rendered pages (html/template, embedded CSS, no script),
// sessions in the store (a random token in a __Host- cookie, Secure,
// HttpOnly, SameSite=Strict; idle and absolute timeouts in the core), a
// CSRF token on every form, a strict Content-Security-Policy, a rate limit
// on sign-in and re-authentication before dangerous actions. Every check
// of what a role may do is made here, on the server, with auth.AdminMay;
// every change goes through the same core operations as the Admin API and
// the CLI, which write the administrator log with the actor this package
// puts in the context.
//
// The Admin API shares the /admin/ prefix: its paths (/admin/v1/…,
// /admin/v2/…, /admin/v3/…) are more specific patterns and win; the
// console's own pages never start with /admin/v<digit>.
package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
)

// Core is what the console asks of the domain core.
type Core interface {
	BeginAdminSetup(ctx context.Context, token string) (auth.AdminSetupInfo, error)
	ReopenAdminSetup(ctx context.Context, token string, sealed []byte) (auth.AdminSetupInfo, error)
	CompleteAdminSetup(ctx context.Context, token, password string, sealed []byte, code string) (store.Admin, error)
	AdminSignIn(ctx context.Context, email, password, code string) (store.Admin, error)
	AdminReauth(ctx context.Context, adminID, password, code string) (store.Admin, error)
	StartAdminSession(ctx context.Context, adminID, ip string) (string, error)
	AdminSession(ctx context.Context, token string) (auth.AdminSessionInfo, error)
	AdminSessionReauthenticated(ctx context.Context, s store.AdminSession) error
	EndAdminSession(ctx context.Context, token string) error

	ConsoleDashboard(ctx context.Context) (auth.Dashboard, error)
	logsCore // logs.go: the log pages and the dashboard's charts
	ConsoleUsers(ctx context.Context, q store.ConsoleUserQuery) ([]store.User, int, error)
	User(ctx context.Context, nameOrID string) (store.User, error)
	CreateUser(ctx context.Context, username string) (store.User, error)
	SetUserStatus(ctx context.Context, nameOrID string, status store.UserStatus) (store.User, error)
	DeleteUser(ctx context.Context, nameOrID string) error
	Devices(ctx context.Context, nameOrID string) ([]store.Device, error)
	UserTokens(ctx context.Context, user string) ([]store.Token, error)
	WebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error)
	UserGroups(ctx context.Context, user string) ([]store.Group, error)
	BypassCodes(ctx context.Context, nameOrID string) ([]store.BypassCode, error)
	IssueBypassCodes(ctx context.Context, nameOrID string, n auth.NewBypassCodes) (auth.IssuedBypassCodes, error)
	BypassCode(ctx context.Context, id string) (store.BypassCode, error)
	DeleteBypassCode(ctx context.Context, id string) error
	RecentAuthentications(ctx context.Context, userID string, limit int) ([]store.AuthLog, error)
	ClaimOnce(ctx context.Context, kind, key string, ttl time.Duration) error
	PortalCore
	appsCore        // applications, groups, tokens, settings (apps.go)
	adminsCore      // administrators, accounts, security keys (admins.go)
	policiesCore    // policies.go
	userExtrasCore  // useraliases.go
	userPhonesCore  // userphones.go
	directoriesCore // directories.go
}

// Console serves the pages.
type Console struct {
	Core Core
	// CSRFKey derives each session's CSRF token (secrets.Box.Pepper).
	CSRFKey []byte
	// Host is the public host name, for the Origin check of forms posted
	// before a session exists (sign-in, setup).
	Host string
	// SignIns limits sign-in and re-authentication failures per client
	// address and per e-mail address; nil: no limit.
	SignIns *ratelimit.Named
	Logger  *slog.Logger
	// Box seals the self-service portal's ceremony state into its pages
	// (the master key's secrets.Box).
	Box Sealer
	// Directories syncs the directories on demand (directories.go); nil: no sync from the console.
	Directories DirectorySyncer
	Now         func() time.Time // nil: time.Now
}

// Sealer seals and opens what the portal's pages carry.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// CookieName is the session cookie. The __Host- prefix makes browsers
// refuse it unless it is Secure, has Path=/ and no Domain.
const CookieName = "__Host-assent-admin"

// AssetPrefix is where the console's static files are served.
const AssetPrefix = "/admin/assets/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assetVersions versions the asset URLs, as the prompt's (internal/web).
var assetVersions = web.AssetVersions(staticFS)

var roleNames = map[store.AdminRole]string{
	store.RoleOwner: "owner", store.RoleAdministrator: "administrator",
	store.RoleHelpDesk: "help desk", store.RoleReadOnly: "read-only",
}

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"asset":      func(name string) string { return AssetPrefix + name + "?v=" + assetVersions[name] },
	"roleName":   func(r store.AdminRole) string { return roleNames[r] },
	"maskNumber": auth.MaskNumber,
	"fmtTime": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"statusBadge": func(s store.UserStatus) template.HTML {
		class := "badge"
		switch s {
		case store.StatusActive:
			class += " good"
		case store.StatusLockedOut, store.StatusDisabled:
			class += " bad"
		}
		return template.HTML(`<span class="` + class + `">` + template.HTMLEscapeString(string(s)) + `</span>`)
	},
	"appType": appType, "tokenType": tokenType, // apps.go
}).ParseFS(templateFS, "templates/*.html"))

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	for _, r := range append(c.routes(), c.portalRoutes()...) {
		mux.Handle(r.pattern, r.h)
	}
}

type route struct {
	pattern string
	h       http.Handler
}

// routes lists every console route: the pattern, and whether it needs a
// session and which permission.
func (c *Console) routes() []route {
	own := append(append(c.logRoutes(), c.appsRoutes()...), append(append(c.policyRoutes(), c.userExtrasRoutes()...), append(c.directoryRoutes(), c.userPhoneRoutes()...)...)...) // logs.go, apps.go, policies.go, useraliases.go
	return append(own, append([]route{
		{"GET " + AssetPrefix + "{name}", http.HandlerFunc(c.asset)},
		{"GET /admin/login", c.public(c.loginPage)},
		{"POST /admin/login", c.public(c.login)},
		{"GET /admin/setup/{token...}", c.public(c.setupPage)},
		{"POST /admin/setup/{token...}", c.public(c.setup)},
		{"POST /admin/logout", c.private(auth.PermRead, c.logout)},
		{"GET /admin/{$}", c.private(auth.PermRead, c.dashboard)},
		{"GET /admin/users", c.private(auth.PermRead, c.users)},
		{"POST /admin/users", c.private(auth.PermManage, c.createUser)},
		{"GET /admin/users/{id}", c.private(auth.PermRead, c.user)},
		{"POST /admin/users/{id}/status", c.private(auth.PermHelpDesk, c.setStatus)},
		{"POST /admin/users/{id}/bypass", c.private(auth.PermHelpDesk, c.issueBypass)},
		{"POST /admin/users/{id}/bypass/{code}/revoke", c.private(auth.PermHelpDesk, c.revokeBypass)},
		{"GET /admin/users/{id}/delete", c.private(auth.PermManage, c.deletePage)},
		{"POST /admin/users/{id}/delete", c.private(auth.PermManage, c.deleteUser)},
		{"/admin/", c.public(func(w http.ResponseWriter, r *http.Request, p *page) error { return errNotFound })},
	}, c.adminRoutes()...)...)
}

// Patterns lists the console's route patterns (for the server's tests).
func (c *Console) Patterns() []string {
	var out []string
	for _, r := range append(c.routes(), c.portalRoutes()...) {
		out = append(out, r.pattern)
	}
	return out
}

func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	name := path.Clean("/" + r.PathValue("name"))[1:]
	if _, ok := assetVersions[name]; !ok {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	if strings.HasSuffix(name, ".js") {
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	}
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	_, _ = w.Write(b)
}

// page is what every template gets.
type page struct {
	Title, Page, Nav     string
	Message, MessageKind string
	Narrow               bool
	Admin                store.Admin
	CSRF                 string
	May                  struct{ HelpDesk, Manage, Owner bool }
	Recent               bool
	// Per page.
	Email    string
	Setup    *setupView
	Dash     *auth.Dashboard
	Users    []store.User
	Total    int
	Query    string
	Statuses []option
	// GroupFilter: the users page's group choices.
	GroupFilter []option
	Prev        string
	Next        string
	User        *userView
	Codes       *auth.IssuedBypassCodes
	Logs        *logsView     // logs.go
	Activity    *activityView // activity.go: the dashboard's charts
	// Nonce makes a form that must not be sent twice (bypass codes)
	// single-use: a reload or the back button does not issue again.
	Nonce string
	Apps  *appsView        // applications, groups, tokens, settings (apps.go)
	Adm   *adminsView      // admins.go's pages
	Pol   *policiesView    // policies.go
	Dirs  *directoriesView // directories.go
	Path  string           // the request's path (to come back after re-authentication)

	script  bool // the page loads webauthn.js
	session auth.AdminSessionInfo
	token   string
	dataImg bool
}

// Script reports whether the page loads webauthn.js.
func (p *page) Script() bool { return p.script }

type option struct {
	Value, Label string
	Selected     bool
}

type handler func(w http.ResponseWriter, r *http.Request, p *page) error

var (
	errNotFound  = &auth.Error{Kind: auth.KindNotFound, Detail: "page not found"}
	errForbidden = errors.New("forbidden")
	errCSRF      = errors.New("csrf")
)

// public serves a page without a session (sign-in, setup). Forms posted
// there must come from this server (Origin, Sec-Fetch-Site).
func (c *Console) public(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &page{Narrow: true}
		if r.Method == http.MethodPost && !c.sameOrigin(r) {
			c.fail(w, r, p, errCSRF)
			return
		}
		if err := h(w, r, p); err != nil {
			c.fail(w, r, p, err)
		}
	})
}

// private serves a page to a signed-in administrator whose role allows
// perm; a POST must carry the session's CSRF token.
func (c *Console) private(perm auth.Permission, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &page{}
		ck, err := r.Cookie(CookieName)
		if err == nil {
			p.session, err = c.Core.AdminSession(r.Context(), ck.Value)
		}
		if err != nil {
			if err != http.ErrNoCookie && !auth.IsKind(err, auth.KindNotFound) {
				c.fail(w, r, p, err)
				return
			}
			clearCookie(w)
			http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
			return
		}
		p.token, p.Path = ck.Value, r.URL.Path
		p.Admin, p.Recent = p.session.Admin, p.session.Recent
		p.CSRF = c.csrfToken(ck.Value)
		role := p.Admin.Role
		p.May.HelpDesk, p.May.Manage, p.May.Owner = auth.AdminMay(role, auth.PermHelpDesk), auth.AdminMay(role, auth.PermManage), auth.AdminMay(role, auth.PermOwner)
		if r.Method == http.MethodPost {
			if !c.sameOrigin(r) || !c.csrfOK(r, ck.Value) {
				c.fail(w, r, p, errCSRF)
				return
			}
		}
		if !auth.AdminMay(role, perm) {
			c.fail(w, r, p, errForbidden)
			return
		}
		ctx := auth.WithActor(r.Context(), auth.Actor{Who: "admin:" + p.Admin.Email, IP: clientIP(r)})
		if err := h(w, r.WithContext(ctx), p); err != nil {
			c.fail(w, r, p, err)
		}
	})
}

func (c *Console) csrfToken(session string) string { return c.csrfFor("console csrf", session) }

func (c *Console) csrfOK(r *http.Request, session string) bool {
	return c.csrfMatches(r, "console csrf", session)
}

// csrfFor derives the CSRF token of a session of one kind (the console's,
// the portal's).
func (c *Console) csrfFor(purpose, session string) string {
	m := hmac.New(sha256.New, c.CSRFKey)
	m.Write([]byte(purpose + "\x00" + session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) csrfMatches(r *http.Request, purpose, session string) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.csrfFor(purpose, session))) == 1
}

// sameOrigin: a form post must come from this server when the browser
// says where it comes from (as the prompt's check).
func (c *Console) sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "null" && site == "same-origin" {
		return true
	}
	return o == "" || o == "https://"+r.Host || (c.Host != "" && o == "https://"+c.Host)
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func setCookie(w http.ResponseWriter, token string) { setNamedCookie(w, CookieName, token) }

func clearCookie(w http.ResponseWriter) { clearNamedCookie(w, CookieName) }

// setNamedCookie sets a session cookie: __Host- names, Secure, HttpOnly,
// SameSite=Strict, for the browser's session only.
func setNamedCookie(w http.ResponseWriter, name, token string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
}

func clearNamedCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// render writes a page with the console's security headers.
func (c *Console) render(w http.ResponseWriter, status int, name string, p *page) error {
	return writePage(w, status, name, p, p.dataImg)
}

// writePage renders template name with data, then writes it with the
// security headers of the console and the portal.
func writePage(w http.ResponseWriter, status int, name string, data any, dataImages bool) error {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	web.SetHeaders(w.Header(), web.Headers{DataImages: dataImages})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// errorPage is the status and title of the error page for err: the core's
// own message for what the caller caused, a generic one otherwise (logged
// under what).
func (c *Console) errorPage(r *http.Request, what string, err error) (int, string) {
	var e *auth.Error
	switch {
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, "This form expired or came from another site; go back, reload the page and try again"
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, "Your role does not allow this"
	case errors.As(err, &e):
		status := http.StatusBadRequest
		switch e.Kind {
		case auth.KindNotFound:
			status = http.StatusNotFound
		case auth.KindRateLimited:
			status = http.StatusTooManyRequests
		case auth.KindConflict:
			status = http.StatusConflict
		}
		return status, e.Error()
	}
	if c.Logger != nil {
		c.Logger.ErrorContext(r.Context(), what, "path", r.URL.Path, "err", err)
	}
	return http.StatusInternalServerError, "Something went wrong"
}

// fail renders an error page: the core's own messages for what the caller
// caused, a generic one otherwise (logged).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, p *page, err error) {
	status, title := c.errorPage(r, "console", err)
	p.Title, p.Page, p.Message, p.MessageKind = title, "error", "", ""
	if p.Admin.ID == "" {
		p.Narrow = true
	}
	_ = c.render(w, status, "error", p)
}

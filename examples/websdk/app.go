package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/assent-auth/assent/pkg/duoweb"
)

// static holds Duo-Web-v2.js, copied unchanged from npm
// @duosecurity/duo_web 1.0.6 (js/Duo-Web-v2.js) with its BSD licence
// (LICENSE.duo_web), and the page style. Serving it from the application is
// what Duo's own examples do; app_test.go checks the copy is still
// byte-identical to the npm file.
//
//go:embed static
var static embed.FS

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

const (
	cookieName = "websdk_session"
	// Long enough to answer a push; the pending step is then dropped.
	pendingTTL = 10 * time.Minute
	sessionTTL = 8 * time.Hour
)

// config is what the application needs.
type config struct {
	AssentHost string            // data-host: Assent's host:port
	IKey, SKey string            // the websdk integration
	AKey       string            // the application's own secret, 40+ characters
	Users      map[string]string // name → password (a demo: plaintext in memory)
	Logger     *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// session is one browser's state: who passed the password step, and
// whether they passed the second step too.
type session struct {
	user    string
	done    bool // the second factor was verified
	expires time.Time
}

// app is the example web application.
type app struct {
	cfg      config
	mux      *http.ServeMux
	mu       sync.Mutex
	sdk      duoweb.SDK         // signs and verifies with cfg.Now
	sessions map[string]session // by cookie value
	// dummyHash is compared against for unknown users, so a wrong username
	// costs the same as a wrong password.
	dummyHash [32]byte
}

func newApp(cfg config) (*app, error) {
	// Check the keys once at startup with the same rules sign_request uses.
	if _, err := duoweb.SignRequest(cfg.IKey, cfg.SKey, cfg.AKey, "startup-check"); err != nil {
		return nil, fmt.Errorf("integration keys: %s", strings.TrimPrefix(err.Error(), "ERR|"))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &app{cfg: cfg, sdk: duoweb.SDK{Now: cfg.Now}, mux: http.NewServeMux(), sessions: map[string]session{}, dummyHash: sha256.Sum256([]byte(randomHex(16)))}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	a.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	a.mux.HandleFunc("GET /{$}", a.home)
	a.mux.HandleFunc("GET /login", a.loginForm)
	a.mux.HandleFunc("POST /login", a.login)
	a.mux.HandleFunc("GET /duo", a.duoPage)
	a.mux.HandleFunc("POST /duo", a.duoResponse)
	a.mux.HandleFunc("POST /logout", a.logout)
	return a, nil
}

// ServeHTTP adds the security headers: scripts only from here, the iframe
// only from Assent, and this application never framed itself.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-src https://"+a.cfg.AssentHost+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	// Every form posts to its own origin (Duo-Web-v2.js too: it submits a
	// form of this page). Refuse cross-site posts: login CSRF and friends.
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// sameOrigin reports whether a browser says the request comes from this
// site. Browsers send Sec-Fetch-Site (or at least Origin) with POSTs;
// requests with neither are not from a browser form and pass.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return origin == scheme+r.Host
}

func (a *app) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		a.cfg.Logger.Error("render", "page", name, "err", err)
	}
}

// current returns the browser's session, if any.
func (a *app) current(r *http.Request) (string, session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", session{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[c.Value]
	if !ok || !a.cfg.Now().Before(s.expires) {
		delete(a.sessions, c.Value)
		return "", session{}, false
	}
	return c.Value, s, true
}

// start replaces the browser's session with a new one under a fresh ID, so
// an ID seen before a login step is worthless after it.
func (a *app) start(w http.ResponseWriter, r *http.Request, s session, ttl time.Duration) {
	a.mu.Lock()
	if c, err := r.Cookie(cookieName); err == nil {
		delete(a.sessions, c.Value)
	}
	now := a.cfg.Now()
	for id, old := range a.sessions { // small demo: sweep on every login
		if !now.Before(old.expires) {
			delete(a.sessions, id)
		}
	}
	id := randomHex(32)
	s.expires = now.Add(ttl)
	a.sessions[id] = s
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil, MaxAge: int(ttl / time.Second),
	})
}

func (a *app) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	_, s, ok := a.current(r)
	if !ok || !s.done {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	a.render(w, http.StatusOK, "home.html", map[string]string{"User": s.user})
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, "login.html", nil)
}

// checkPassword compares in constant time, against a dummy for unknown
// users.
func (a *app) checkPassword(user, password string) bool {
	want, known := a.cfg.Users[user]
	wantHash := a.dummyHash
	if known {
		wantHash = sha256.Sum256([]byte(want))
	}
	got := sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(got[:], wantHash[:]) == 1 && known
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	user := strings.TrimSpace(r.PostFormValue("username"))
	if !a.checkPassword(user, r.PostFormValue("password")) {
		a.cfg.Logger.Info("password refused", "user", user)
		a.render(w, http.StatusUnauthorized, "login.html", map[string]string{"Error": "Wrong username or password.", "User": user})
		return
	}
	a.start(w, r, session{user: user}, pendingTTL)
	http.Redirect(w, r, "/duo", http.StatusSeeOther)
}

// duoPage shows the second step: Duo-Web-v2.js reads data-host and
// data-sig-request from the iframe and points it at Assent.
func (a *app) duoPage(w http.ResponseWriter, r *http.Request) {
	_, s, ok := a.current(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if s.done {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	sig, err := a.sdk.SignRequest(a.cfg.IKey, a.cfg.SKey, a.cfg.AKey, s.user)
	if err != nil {
		// The SDK convention: hand the ERR| text to Duo-Web-v2.js, which
		// throws it; here it is shown directly.
		a.render(w, http.StatusInternalServerError, "error.html", map[string]string{"Error": strings.TrimPrefix(err.Error(), "ERR|")})
		return
	}
	a.render(w, http.StatusOK, "duo.html", map[string]string{"User": s.user, "Host": a.cfg.AssentHost, "SigRequest": sig})
}

// duoResponse verifies what Duo-Web-v2.js posted: the prompt's AUTH half
// (signed by Assent with the skey) and our own APP half (signed with the
// akey), for the user who passed the password step.
func (a *app) duoResponse(w http.ResponseWriter, r *http.Request) {
	_, s, ok := a.current(r)
	if !ok || s.done {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	sigResponse := r.PostFormValue("sig_response")
	user, err := a.sdk.VerifyResponse(a.cfg.IKey, a.cfg.SKey, a.cfg.AKey, sigResponse)
	if err == nil && user != s.user {
		err = errors.New("the response is for another user")
	}
	if err != nil {
		msg := "The second factor was not accepted."
		if prompt, ok := strings.CutPrefix(sigResponse, "ERR|"); ok {
			// The prompt reported an error; show it (it is plain text).
			msg, _, _ = strings.Cut(prompt, ":")
		} else if errors.Is(err, duoweb.ErrExpired) {
			msg = "The second step took too long; please log in again."
		}
		a.cfg.Logger.Info("second factor refused", "user", s.user, "err", err)
		a.end(w, r)
		a.render(w, http.StatusForbidden, "error.html", map[string]string{"Error": msg})
		return
	}
	a.cfg.Logger.Info("logged in", "user", user)
	a.start(w, r, session{user: user, done: true}, sessionTTL)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.end(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

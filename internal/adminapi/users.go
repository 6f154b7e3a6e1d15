package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// userJSON is Duo's v1 user object. Fields Assent has no data for are
// present with Duo's empty values, so clients that index them work.
type userJSON struct {
	Alias1              *string           `json:"alias1"`
	Alias2              *string           `json:"alias2"`
	Alias3              *string           `json:"alias3"`
	Alias4              *string           `json:"alias4"`
	Aliases             map[string]string `json:"aliases"`
	Created             int64             `json:"created"`
	DesktopTokens       []any             `json:"desktoptokens"`
	Email               string            `json:"email"`
	ExternalID          *string           `json:"external_id"`
	FirstName           string            `json:"firstname"`
	Groups              []groupV1         `json:"groups"`
	IsEnrolled          bool              `json:"is_enrolled"`
	LastDirectorySync   *int64            `json:"last_directory_sync"`
	LastLogin           *int64            `json:"last_login"`
	LastName            string            `json:"lastname"`
	LockoutReason       *string           `json:"lockout_reason"`
	Notes               string            `json:"notes"`
	Phones              []phoneRef        `json:"phones"`
	RealName            string            `json:"realname"`
	Status              string            `json:"status"`
	Tokens              []tokenRef        `json:"tokens"`
	U2FTokens           []any             `json:"u2ftokens"`
	UserID              string            `json:"user_id"`
	Username            string            `json:"username"`
	WebAuthnCredentials []webauthnRef     `json:"webauthncredentials"`
}

type userRef struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	RealName string `json:"realname"`
	Email    string `json:"email"`
	Status   string `json:"status"`
}

func (a *API) userJSON(r *http.Request, u store.User) (userJSON, error) {
	phones, err := a.Core.UserPhones(r.Context(), u.ID)
	if err != nil {
		return userJSON{}, err
	}
	out := userJSON{
		Created: u.Created.Unix(), Email: u.Profile.Email, FirstName: u.Profile.FirstName, LastName: u.Profile.LastName,
		Notes: u.Profile.Notes, RealName: u.Profile.RealName, Status: string(u.Status), UserID: u.ID, Username: u.Username,
		LastLogin:     timePtr(u.LastLogin),
		DesktopTokens: []any{}, Groups: []groupV1{}, Tokens: []tokenRef{}, U2FTokens: []any{}, WebAuthnCredentials: []webauthnRef{},
		Phones: []phoneRef{}, Aliases: map[string]string{},
	}
	aliases, err := a.Core.UserAliases(r.Context(), u.ID)
	if err != nil {
		return userJSON{}, err
	}
	for i, al := range aliases {
		if al == "" {
			continue
		}
		out.Aliases[fmt.Sprintf("alias%d", i+1)] = al
		v := al
		switch i { // alias1…alias4 also stand alone, as Duo's do
		case 0:
			out.Alias1 = &v
		case 1:
			out.Alias2 = &v
		case 2:
			out.Alias3 = &v
		case 3:
			out.Alias4 = &v
		}
	}
	groups, err := a.Core.UserGroups(r.Context(), u.ID)
	if err != nil {
		return userJSON{}, err
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, groupV1Of(g))
	}
	tokens, err := a.Core.UserTokens(r.Context(), u.ID)
	if err != nil {
		return userJSON{}, err
	}
	for _, t := range hardwareTokens(tokens) {
		out.Tokens = append(out.Tokens, tokenRefOf(t))
	}
	creds, err := a.Core.WebAuthnCredentials(r.Context(), u.ID)
	if err != nil {
		return userJSON{}, err
	}
	for _, c := range creds {
		out.WebAuthnCredentials = append(out.WebAuthnCredentials, webauthnRefOf(c))
	}
	for _, t := range tokens {
		out.IsEnrolled = out.IsEnrolled || t.Confirmed
	}
	out.IsEnrolled = out.IsEnrolled || len(creds) > 0
	if u.LockoutReason != "" {
		reason := u.LockoutReason
		out.LockoutReason = &reason
	}
	for _, p := range phones {
		out.Phones = append(out.Phones, phoneOf(p))
		out.IsEnrolled = out.IsEnrolled || p.Activated
	}
	return out, nil
}

// user finds the user named by the path's user_id (an ID, not a username).
func (a *API) user(r *http.Request) (store.User, error) {
	id := r.PathValue("user_id")
	if !strings.HasPrefix(id, "DU") {
		return store.User{}, httpapi.ErrNotFound
	}
	u, err := a.Core.User(r.Context(), id)
	if err != nil {
		return store.User{}, err
	}
	if u.ID != id {
		return store.User{}, httpapi.ErrNotFound
	}
	return u, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	v := c.Params.Values
	p, err := parsePaging(v, defaultListLimit, maxListLimit)
	if err != nil {
		return err
	}
	var (
		list  []store.User
		total int
	)
	names, ids := idList(v, "username_list"), idList(v, "user_id_list")
	switch {
	case len(names)+len(ids) > maxFilterValues:
		return httpapi.InvalidParams("username_list, user_id_list: at most 100 values")
	case len(names)+len(ids) > 0:
		// Named users, in the order asked; unknown ones are left out.
		var found []store.User
		seen := map[string]bool{}
		for _, n := range append(names, ids...) {
			u, err := a.Core.User(r.Context(), n)
			if auth.IsKind(err, auth.KindNotFound) || auth.IsKind(err, auth.KindInvalid) {
				continue
			}
			if err != nil {
				return err
			}
			if !seen[u.ID] {
				seen[u.ID] = true
				found = append(found, u)
			}
		}
		list, total = window(found, p), len(found)
	default:
		list, total, err = a.Core.UsersPage(r.Context(), store.UserPage{
			Username: v.Get("username"), Email: v.Get("email"), Offset: p.Offset, Limit: p.Limit})
		if err != nil {
			return err
		}
	}
	out := make([]userJSON, 0, len(list))
	for _, u := range list {
		j, err := a.userJSON(r, u)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(list), total))
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	j, err := a.userJSON(r, u)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, j)
	return nil
}

// idList reads a list parameter sent repeated, comma-joined, or as a JSON
// array in one value (clients differ).
func idList(v url.Values, key string) []string {
	var out []string
	for _, s := range append(v[key], v[key+"[]"]...) {
		var arr []string
		if strings.HasPrefix(strings.TrimSpace(s), "[") && json.Unmarshal([]byte(s), &arr) == nil {
			out = append(out, arr...)
			continue
		}
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// profileParams reads Duo's optional user fields; nil for absent ones.
func profileParams(c *httpapi.Call) auth.UserUpdate {
	v := c.Params.Values
	opt := func(k string) *string {
		if _, ok := v[k]; !ok {
			return nil
		}
		s := v.Get(k)
		return &s
	}
	up := auth.UserUpdate{Username: opt("username"), RealName: opt("realname"), Email: opt("email"), Notes: opt("notes"),
		FirstName: opt("firstname"), LastName: opt("lastname")}
	if s := opt("status"); s != nil {
		st := store.UserStatus(*s)
		up.Status = &st
	}
	return up
}

// aliasParams reads Duo's alias parameters: alias1 to alias4, and aliases,
// "alias1=joe&alias2=jsmith@example.com" (URL-encoded pairs, as Duo
// documents it) or a JSON object {"alias1": "joe"} (a JSON body's object
// parameter), for alias1 to alias8. A position given with "" is cleared;
// positions not given stay. nil: no alias parameter.
func aliasParams(c *httpapi.Call) (map[int]string, error) {
	v := c.Params.Values
	var set map[int]string
	put := func(param, key, val string) error {
		n, err := strconv.Atoi(strings.TrimPrefix(key, "alias"))
		if !strings.HasPrefix(key, "alias") || err != nil || n < 1 || n > store.MaxAliases {
			return httpapi.InvalidParams(param + ": alias keys are alias1 to alias" + strconv.Itoa(store.MaxAliases))
		}
		if set == nil {
			set = map[int]string{}
		}
		set[n-1] = val
		return nil
	}
	if _, ok := v["aliases"]; ok {
		raw := strings.TrimSpace(v.Get("aliases"))
		pairs := map[string]string{}
		if strings.HasPrefix(raw, "{") {
			if err := json.Unmarshal([]byte(raw), &pairs); err != nil {
				return nil, httpapi.InvalidParams("aliases: a JSON object of alias1…alias8 to names")
			}
		} else {
			q, err := url.ParseQuery(raw)
			if err != nil {
				return nil, httpapi.InvalidParams("aliases: URL-encoded pairs such as alias1=joe&alias2=jsmith")
			}
			for k := range q {
				pairs[k] = q.Get(k)
			}
		}
		for k, val := range pairs {
			if err := put("aliases", k, val); err != nil {
				return nil, err
			}
		}
	}
	for i := 1; i <= 4; i++ {
		k := fmt.Sprintf("alias%d", i)
		if _, ok := v[k]; ok {
			if err := put(k, k, v.Get(k)); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	aliases, err := aliasParams(c)
	if err != nil {
		return err
	}
	up := profileParams(c)
	if up.Username == nil || *up.Username == "" {
		return httpapi.InvalidParams("username")
	}
	n := auth.NewUser{Username: *up.Username}
	for i, al := range aliases {
		for len(n.Aliases) <= i {
			n.Aliases = append(n.Aliases, "")
		}
		n.Aliases[i] = al
	}
	if up.Status != nil {
		n.Status = *up.Status
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	n.Profile = store.UserProfile{RealName: deref(up.RealName), Email: deref(up.Email), Notes: deref(up.Notes),
		FirstName: deref(up.FirstName), LastName: deref(up.LastName)}
	u, err := a.Core.AddUser(r.Context(), n)
	if err != nil {
		return err
	}
	j, err := a.userJSON(r, u)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, j)
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	aliases, err := aliasParams(c)
	if err != nil {
		return err
	}
	u, err := a.user(r)
	if err != nil {
		return err
	}
	up := profileParams(c)
	up.Aliases = aliases
	u, err = a.Core.ModifyUser(r.Context(), u.ID, up)
	if err != nil {
		return err
	}
	j, err := a.userJSON(r, u)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, j)
	return nil
}

// deleteUser answers "" as Duo does, also for a user already gone.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if auth.IsKind(err, auth.KindNotFound) || err == httpapi.ErrNotFound {
		httpapi.WriteOK(w, "")
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Core.DeleteUser(r.Context(), u.ID); err != nil && !auth.IsKind(err, auth.KindNotFound) {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// enrollUser creates the user if needed (with the e-mail address), e-mails
// the enrollment-portal link to email, as Duo does, and answers the link.
// A server without smtp_server refuses before creating anything.
// valid_secs is checked but the link lives enroll_link_ttl.
func (a *API) enrollUser(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	v := c.Params.Values
	name, email := v.Get("username"), v.Get("email")
	if name == "" {
		return httpapi.InvalidParams("username")
	}
	if email == "" || !strings.Contains(email, "@") {
		return httpapi.InvalidParams("email")
	}
	if s := v.Get("valid_secs"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 0 {
			return httpapi.InvalidParams("valid_secs")
		}
	}
	if !a.Core.MailConfigured() {
		return errMailNotConfigured
	}
	u, err := a.Core.User(r.Context(), name)
	if auth.IsKind(err, auth.KindNotFound) {
		u, err = a.Core.AddUser(r.Context(), auth.NewUser{Username: name, Profile: store.UserProfile{Email: email}})
	} else if err == nil && u.Profile.Email == "" {
		u, err = a.Core.ModifyUser(r.Context(), u.ID, auth.UserUpdate{Email: &email})
	}
	if err != nil {
		return err
	}
	sent, err := a.Core.SendEnrollmentEmailTo(r.Context(), u.Username, email)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, sent.Link)
	return nil
}

// createBypassCodes is Duo's POST /users/{id}/bypass_codes: count (1–10,
// default 10) or codes (comma-separated), reuse_count (default 1, 0 =
// unlimited), valid_secs (default 0 = never), preserve_existing.
func (a *API) createBypassCodes(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	v := c.Params.Values
	n := auth.NewBypassCodes{Count: 10, Uses: 1}
	codes := values(v, "codes")
	if v.Get("count") != "" && len(codes) > 0 {
		return httpapi.InvalidParams("count: give count or codes, not both")
	}
	if s := v.Get("count"); s != "" {
		if n.Count, err = strconv.Atoi(s); err != nil {
			return httpapi.InvalidParams("count")
		}
	}
	n.Codes = codes
	if s := v.Get("reuse_count"); s != "" {
		if n.Uses, err = strconv.Atoi(s); err != nil {
			return httpapi.InvalidParams("reuse_count")
		}
	}
	if s := v.Get("valid_secs"); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 0 || secs > 10*365*24*3600 {
			return httpapi.InvalidParams("valid_secs")
		}
		n.Valid = time.Duration(secs) * time.Second
	}
	if n.PreserveExisting, err = c.Params.Bool("preserve_existing"); err != nil {
		return err
	}
	out, err := a.Core.IssueBypassCodes(r.Context(), u.ID, n)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, out.Codes)
	return nil
}

type bypassJSON struct {
	BypassCodeID  string  `json:"bypass_code_id"`
	AdminEmail    string  `json:"admin_email"`
	CreatedOn     int64   `json:"created_on"`
	Expiration    *int64  `json:"expiration"`
	ReuseCount    *int    `json:"reuse_count"`
	User          userRef `json:"user"`
	RemainingUses *int    `json:"remaining_uses,omitempty"`
}

func (a *API) listBypassCodes(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	return userSubList(a, w, r, c, a.Core.BypassCodes, bypassOf)
}

// bypassOf is a bypass code's metadata (never the code: only its hash is
// stored).
func bypassOf(b store.BypassCode, u store.User) bypassJSON {
	j := bypassJSON{BypassCodeID: b.ID, CreatedOn: b.Created.Unix(), Expiration: timePtr(b.Expires),
		User: userRef{UserID: u.ID, Username: u.Username, RealName: u.Profile.RealName, Email: u.Profile.Email, Status: string(u.Status)}}
	if b.RemainingUses > 0 {
		n := b.RemainingUses
		j.ReuseCount = &n
	}
	return j
}

// allBypassCodes is Duo's GET /bypass_codes: every user's codes, paged
// like users.
func (a *API) allBypassCodes(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p, err := parsePaging(c.Params.Values, defaultListLimit, maxListLimit)
	if err != nil {
		return err
	}
	list, total, err := a.Core.AllBypassCodes(r.Context(), p.Offset, p.Limit)
	if err != nil {
		return err
	}
	users := map[string]store.User{}
	out := make([]bypassJSON, 0, len(list))
	for _, b := range list {
		u, ok := users[b.UserID]
		if !ok {
			if u, err = a.Core.User(r.Context(), b.UserID); err != nil {
				return err
			}
			users[b.UserID] = u
		}
		out = append(out, bypassOf(b, u))
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(list), total))
	return nil
}

func (a *API) getBypassCode(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	b, err := a.Core.BypassCode(r.Context(), r.PathValue("bypass_code_id"))
	if err != nil {
		return err
	}
	u, err := a.Core.User(r.Context(), b.UserID)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, bypassOf(b, u))
	return nil
}

// deleteBypassCode answers "" as Duo does, also for a code already gone.
func (a *API) deleteBypassCode(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	if err := a.Core.DeleteBypassCode(r.Context(), r.PathValue("bypass_code_id")); err != nil && !auth.IsKind(err, auth.KindNotFound) {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// window is one page of a short, already loaded list (a user's codes or
// devices: at most a few dozen).
func window[T any](list []T, p paging) []T {
	if p.Offset >= len(list) {
		return nil
	}
	return list[p.Offset:min(len(list), p.Offset+p.Limit)]
}

// userSubList answers GET /admin/v1/users/{id}/<records>: one page of the
// short list load returns for the user, each record in Duo's shape.
func userSubList[T, J any](a *API, w http.ResponseWriter, r *http.Request, c *httpapi.Call,
	load func(ctx context.Context, userID string) ([]T, error), shape func(T, store.User) J) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	p, err := parsePaging(c.Params.Values, defaultListLimit, 500)
	if err != nil {
		return err
	}
	list, err := load(r.Context(), u.ID)
	if err != nil {
		return err
	}
	page := window(list, p)
	out := make([]J, 0, len(page))
	for _, x := range page {
		out = append(out, shape(x, u))
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(page), len(list)))
	return nil
}

// userEmptyList answers the lists Assent has nothing for (U2F tokens: a
// U2F key registers as a WebAuthn credential) for an existing user.
func (a *API) userEmptyList(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	if _, err := a.user(r); err != nil {
		return err
	}
	httpapi.WriteOKMeta(w, []any{}, listMeta{})
	return nil
}

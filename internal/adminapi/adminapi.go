// Package adminapi serves Duo's Admin API (/admin/v1, /admin/v2, /admin/v3)
// to integrations of type adminapi: users, their phones, bypass codes,
// hardware tokens and WebAuthn credentials, groups, the authentication and
// administrator logs, integrations, the account summary, settings and
// administrators. Requests are signed exactly as on
// the Auth API (httpapi.Signer); each endpoint needs one of the
// integration's grants. It parses and formats; the auth core decides and
// writes (each change with its administrator-log row, in one transaction).
package adminapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Core is what the Admin API needs from the domain core.
type Core interface {
	enrollMailCore
	User(ctx context.Context, nameOrID string) (store.User, error)
	UsersPage(ctx context.Context, p store.UserPage) ([]store.User, int, error)
	AddUser(ctx context.Context, n auth.NewUser) (store.User, error)
	ModifyUser(ctx context.Context, nameOrID string, up auth.UserUpdate) (store.User, error)
	DeleteUser(ctx context.Context, nameOrID string) error
	UserAliases(ctx context.Context, nameOrID string) ([]string, error)
	IssueBypassCodes(ctx context.Context, nameOrID string, n auth.NewBypassCodes) (auth.IssuedBypassCodes, error)
	BypassCodes(ctx context.Context, nameOrID string) ([]store.BypassCode, error)
	AllBypassCodes(ctx context.Context, offset, limit int) ([]store.BypassCode, int, error)
	BypassCode(ctx context.Context, id string) (store.BypassCode, error)
	DeleteBypassCode(ctx context.Context, id string) error

	Phones(ctx context.Context, q auth.PhoneQuery) ([]auth.Phone, int, error)
	Phone(ctx context.Context, id string) (auth.Phone, error)
	UserPhones(ctx context.Context, nameOrID string) ([]auth.Phone, error)
	AddPhone(ctx context.Context, f auth.PhoneFields) (auth.Phone, error)
	ModifyPhone(ctx context.Context, id string, f auth.PhoneFields) (auth.Phone, error)
	AddUserPhone(ctx context.Context, nameOrID, phoneID string) error
	RemovePhone(ctx context.Context, userID, id string) error
	PhoneActivation(ctx context.Context, phoneID string, valid time.Duration) (auth.Enrollment, error)
	SendVerificationPush(ctx context.Context, in store.Integration, nameOrID, phoneID string) (auth.VerificationPush, error)
	VerificationPushResult(ctx context.Context, nameOrID, pushID string) (string, error)

	HardwareTokens(ctx context.Context) ([]store.Token, error)
	HardwareToken(ctx context.Context, serial string) (store.Token, error)
	HardwareTokenByID(ctx context.Context, id string) (store.Token, error)
	AddTokens(ctx context.Context, list []auth.NewToken) ([]store.Token, error)
	AssignToken(ctx context.Context, serial, user string) (store.Token, error)
	DeleteToken(ctx context.Context, serial string) error
	ResyncToken(ctx context.Context, serial string, codes ...string) (store.Token, error)
	UserTokens(ctx context.Context, user string) ([]store.Token, error)

	Groups(ctx context.Context) ([]store.Group, error)
	Admins(ctx context.Context) ([]store.Admin, error)
	Admin(ctx context.Context, emailOrID string) (store.Admin, error)
	Group(ctx context.Context, idOrName string) (store.Group, error)
	CreateGroup(ctx context.Context, n auth.NewGroup) (store.Group, error)
	ModifyGroup(ctx context.Context, idOrName string, up auth.GroupUpdate) (store.Group, error)
	DeleteGroup(ctx context.Context, idOrName string) error
	AddGroupMember(ctx context.Context, group, user string) error
	RemoveGroupMember(ctx context.Context, group, user string) error
	GroupMembers(ctx context.Context, group string) ([]store.User, error)
	UserGroups(ctx context.Context, user string) ([]store.Group, error)

	WebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error)
	WebAuthnCredential(ctx context.Context, id string) (store.WebAuthnCredential, error)
	RemoveWebAuthnCredential(ctx context.Context, nameOrID, id string) error

	QueryAuthLog(ctx context.Context, q store.AuthLogQuery) ([]store.AuthLog, int, error)
	AdminLogSince(ctx context.Context, since time.Time, limit int) ([]store.AdminLog, error)
	QueryAdminLog(ctx context.Context, q store.AdminLogQuery) ([]store.AdminLog, int, error)

	Summary(ctx context.Context) (auth.Summary, error)
	LockoutThreshold(ctx context.Context) int
	SetLockoutThreshold(ctx context.Context, n int) error

	Integration(ctx context.Context, ikey string) (store.Integration, string, error)
	Integrations(ctx context.Context) ([]store.Integration, error)
	CreateIntegration(ctx context.Context, n auth.NewIntegration) (store.Integration, string, error)
	UpdateIntegration(ctx context.Context, ikey string, u auth.IntegrationUpdate) (store.Integration, error)
	DeleteIntegration(ctx context.Context, ikey string) error
	RotateSecret(ctx context.Context, ikey string, grace time.Duration) (store.Integration, string, error)
	PolicyCore
	TelephonyCore
}

// API serves the Admin API.
type API struct {
	Core Core
	Now  func() time.Time
	// APIHostname is the server's public host[:port], for the links of
	// create_activation_url.
	APIHostname string
}

var adminTypes = []store.IntegrationType{store.TypeAdminAPI}

// route is the signed-request route of every Admin API endpoint: adminapi
// integrations only, bodies up to 64 KiB (a user with long notes, a list
// of filters).
var route = httpapi.Route{Types: adminTypes, MaxBody: 64 << 10}

// endpoint is one method of a path: the grant it needs and its handler.
type endpoint struct {
	grant string
	h     httpapi.HandlerFunc
}

// methods maps HTTP methods to endpoints.
type methods map[string]endpoint

// Register adds the Admin API routes to mux.
func (a *API) Register(mux *http.ServeMux, s *httpapi.Signer) {
	for _, r := range a.routes() {
		mux.Handle(r.path, a.dispatch(s, r.m))
	}
}

// Route is one path and the grant each of its methods needs (for tests
// and docs).
type Route struct {
	Path   string
	Grants map[string]string // method → grant
}

// Routes lists every path served.
func (a *API) Routes() []Route {
	var out []Route
	for _, r := range a.routes() {
		rt := Route{Path: r.path, Grants: map[string]string{}}
		for m, ep := range r.m {
			rt.Grants[m] = ep.grant
		}
		out = append(out, rt)
	}
	return out
}

type pathRoute struct {
	path string
	m    methods
}

const (
	get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
	rl, rr, wr, st = store.GrantReadLog, store.GrantReadResource, store.GrantWriteResource, store.GrantSettings
)

func (a *API) routes() []pathRoute {
	return []pathRoute{
		// Logs.
		{"/admin/v2/logs/authentication", methods{get: {rl, a.authLogV2}}},
		{"/admin/v1/logs/authentication", methods{get: {rl, a.authLogV1}}},
		{"/admin/v1/logs/administrator", methods{get: {rl, a.adminLogV1}}},
		{"/admin/v2/logs/activity", methods{get: {rl, a.activityLog}}},
		{"/admin/v1/logs/telephony", methods{get: {rl, a.telephonyLogV1}}},
		{"/admin/v2/logs/telephony", methods{get: {rl, a.telephonyLogV2}}},
		{"/admin/v1/logs/offline_enrollment", methods{get: {rl, a.emptyList}}},
		{"/admin/v1/trust_monitor/events", methods{get: {rl, a.trustMonitor}}},
		// Users.
		{"/admin/v1/users", methods{get: {rr, a.listUsers}, post: {wr, a.createUser}}},
		{"/admin/v1/users/enroll", methods{post: {wr, a.enrollUser}}},
		{"/admin/v1/users/{user_id}", methods{get: {rr, a.getUser}, post: {wr, a.updateUser}, del: {wr, a.deleteUser}}},
		{"/admin/v1/users/{user_id}/bypass_codes", methods{get: {rr, a.listBypassCodes}, post: {wr, a.createBypassCodes}}},
		{"/admin/v1/users/{user_id}/phones", methods{get: {rr, a.userPhones}, post: {wr, a.addUserPhone}}},
		{"/admin/v1/users/{user_id}/phones/{phone_id}", methods{del: {wr, a.deleteUserPhone}}},
		{"/admin/v1/users/{user_id}/groups", methods{get: {rr, a.userGroups}, post: {wr, a.addUserGroup}}},
		{"/admin/v1/users/{user_id}/groups/{group_id}", methods{del: {wr, a.deleteUserGroup}}},
		{"/admin/v1/users/{user_id}/tokens", methods{get: {rr, a.userTokens}, post: {wr, a.addUserToken}}},
		{"/admin/v1/users/{user_id}/tokens/{token_id}", methods{del: {wr, a.deleteUserToken}}},
		{"/admin/v1/users/{user_id}/webauthncredentials", methods{get: {rr, a.userWebAuthn}}},
		{"/admin/v1/users/{user_id}/u2ftokens", methods{get: {rr, a.userEmptyList}}},
		{"/admin/v1/users/{user_id}/send_verification_push", methods{post: {wr, a.sendVerificationPush}}},
		{"/admin/v1/users/{user_id}/verification_push_response", methods{get: {rr, a.verificationPushResponse}}},
		// Bypass codes.
		{"/admin/v1/bypass_codes", methods{get: {rr, a.allBypassCodes}}},
		{"/admin/v1/bypass_codes/{bypass_code_id}", methods{get: {rr, a.getBypassCode}, del: {wr, a.deleteBypassCode}}},
		// Phones.
		{"/admin/v1/phones", methods{get: {rr, a.listPhones}, post: {wr, a.createPhone}}},
		{"/admin/v1/phones/{phone_id}", methods{get: {rr, a.getPhone}, post: {wr, a.updatePhone}, del: {wr, a.deletePhone}}},
		{"/admin/v1/phones/{phone_id}/activation_url", methods{post: {wr, a.activationURL}}},
		{"/admin/v1/phones/{phone_id}/send_sms_activation", methods{post: {wr, a.sendSMSActivation}}},
		{"/admin/v1/phones/{phone_id}/send_sms_installation", methods{post: {wr, a.sendSMSInstallation}}},
		{"/admin/v1/phones/{phone_id}/send_sms_passcodes", methods{post: {wr, a.sendSMSPasscodes}}},
		// Groups.
		{"/admin/v1/groups", methods{get: {rr, a.listGroups(false)}, post: {wr, a.createGroup}}},
		{"/admin/v2/groups", methods{get: {rr, a.listGroups(true)}}},
		{"/admin/v1/groups/{group_id}", methods{get: {rr, a.getGroup(false)}, post: {wr, a.updateGroup}, del: {wr, a.deleteGroup}}},
		{"/admin/v2/groups/{group_id}", methods{get: {rr, a.getGroup(true)}}},
		{"/admin/v2/groups/{group_id}/users", methods{get: {rr, a.groupUsers}}},
		// Hardware tokens.
		{"/admin/v1/tokens", methods{get: {rr, a.listTokens}, post: {wr, a.createToken}}},
		{"/admin/v1/tokens/{token_id}", methods{get: {rr, a.getToken}, del: {wr, a.deleteToken}}},
		{"/admin/v1/tokens/{token_id}/resync", methods{post: {wr, a.resyncToken}}},
		// WebAuthn credentials.
		{"/admin/v1/webauthncredentials", methods{get: {rr, a.listWebAuthn}}},
		{"/admin/v1/webauthncredentials/{webauthnkey}", methods{get: {rr, a.getWebAuthn}, del: {wr, a.deleteWebAuthn}}},
		// Integrations.
		{"/admin/v1/integrations", methods{get: {rr, a.listIntegrations}, post: {wr, a.createIntegration}}},
		{"/admin/v3/integrations", methods{get: {rr, a.listIntegrations}, post: {wr, a.createIntegration}}},
		{"/admin/v1/integrations/{ikey}", methods{get: {rr, a.getIntegration}, post: {wr, a.updateIntegration}, del: {wr, a.deleteIntegration}}},
		{"/admin/v3/integrations/{ikey}", methods{get: {rr, a.getIntegration}, post: {wr, a.updateIntegration}, del: {wr, a.deleteIntegration}}},
		{"/admin/v1/integrations/{ikey}/skey", methods{get: {wr, a.getSecretKey}}},
		{"/admin/v1/integrations/{ikey}/rotate_skey", methods{post: {wr, a.rotateSecretKey}}},
		// Account.
		{"/admin/v1/info/summary", methods{get: {rr, a.infoSummary}}},
		{"/admin/v1/settings", methods{get: {st, a.getSettings}, post: {st, a.updateSettings}}},
		{"/admin/v1/admins", methods{get: {rr, a.listAdmins}}},
		{"/admin/v1/admins/{admin_id}", methods{get: {rr, a.getAdmin}}},
	}
}

// dispatch answers a method the path does not serve with Duo's 405
// envelope (before reading anything), then verifies the signature, then
// the grant.
func (a *API) dispatch(s *httpapi.Signer, m methods) http.Handler {
	handlers := map[string]http.Handler{}
	var allow []string
	for method, ep := range m {
		allow = append(allow, method)
		handlers[method] = s.Require(route, a.granted(ep))
	}
	allowed := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		h, ok := handlers[method]
		if !ok {
			w.Header().Set("Allow", allowed)
			httpapi.WriteError(w, &httpapi.Error{Status: http.StatusMethodNotAllowed, Code: httpapi.CodeMethodNotAllowed, Message: "Method not allowed"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// grantNames are how Duo's admin panel names the grants, for messages.
var grantNames = map[string]string{
	store.GrantReadLog:       "Grant read log",
	store.GrantReadResource:  "Grant read resource",
	store.GrantWriteResource: "Grant write resource",
	store.GrantSettings:      "Grant settings",
}

// granted refuses integrations without the endpoint's grant (403/40301,
// naming it) and runs the handler with the integration as the actor of
// every change.
func (a *API) granted(ep endpoint) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
		if !auth.HasGrant(c.Integration, ep.grant) {
			return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden, Message: "Access forbidden",
				Detail: "this integration lacks the " + ep.grant + " grant (" + grantNames[ep.grant] + "); add it with: assent integration update " +
					c.Integration.IKey + " --grant " + ep.grant}
		}
		ctx := auth.WithActor(r.Context(), auth.Actor{Who: "integration:" + c.Integration.IKey, IP: clientIP(r)})
		return ep.h(w, r.WithContext(ctx), c)
	}
}

// clientIP is the client's address (without the port) for the
// administrator log.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func (a *API) emptyList(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	httpapi.WriteOK(w, []any{})
	return nil
}

// trustMonitor is Trust Monitor: Assent raises no security events, so the
// list is empty (and has no next_offset, which ends a client's paging).
func (a *API) trustMonitor(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	if _, err := msParam(c.Params.Values, "mintime"); err != nil {
		return err
	}
	if _, err := msParam(c.Params.Values, "maxtime"); err != nil {
		return err
	}
	httpapi.WriteOKMeta(w, map[string]any{"events": []any{}}, map[string]any{})
	return nil
}

// timePtr is a Unix time in seconds, or null for the zero time.
func timePtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.Unix()
	return &v
}

package adminapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Groups (/admin/v1/groups, /admin/v2/groups) and group membership.

// groupV2 is Duo's v2 group object.
type groupV2 struct {
	Desc    string `json:"desc"`
	GroupID string `json:"group_id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
}

// groupV1 is Duo's v1 group object, with its deprecated per-group factor
// restrictions, always false (Assent has none).
type groupV1 struct {
	groupV2
	MobileOTPEnabled bool `json:"mobile_otp_enabled"`
	PushEnabled      bool `json:"push_enabled"`
	SMSEnabled       bool `json:"sms_enabled"`
	VoiceEnabled     bool `json:"voice_enabled"`
}

func groupV2Of(g store.Group) groupV2 {
	return groupV2{Desc: g.Description, GroupID: g.ID, Name: g.Name, Status: string(g.Status)}
}

func groupV1Of(g store.Group) groupV1 { return groupV1{groupV2: groupV2Of(g)} }

// factorRestrictions are Duo's deprecated per-group factor switches:
// refused, since Assent cannot honour them.
var factorRestrictions = []string{"push_enabled", "sms_enabled", "voice_enabled", "mobile_otp_enabled", "u2f_enabled"}

// groupParams reads a group's fields (POST /admin/v1/groups[/{id}]);
// absent ones are nil.
func groupParams(v url.Values) (auth.GroupUpdate, error) {
	for _, k := range factorRestrictions {
		if _, ok := v[k]; ok {
			return auth.GroupUpdate{}, httpapi.InvalidParams(k + ": per-group factor restrictions are not supported by Assent")
		}
	}
	opt := func(k string) *string {
		if _, ok := v[k]; !ok {
			return nil
		}
		s := v.Get(k)
		return &s
	}
	up := auth.GroupUpdate{Name: opt("name"), Description: opt("desc")}
	if s := opt("status"); s != nil {
		st := store.UserStatus(*s)
		up.Status = &st
	}
	return up, nil
}

// group finds the group named by the path's group_id (an ID).
func (a *API) group(r *http.Request) (store.Group, error) {
	id := r.PathValue("group_id")
	if !strings.HasPrefix(id, "DG") {
		return store.Group{}, httpapi.ErrNotFound
	}
	g, err := a.Core.Group(r.Context(), id)
	if err != nil {
		return store.Group{}, err
	}
	if g.ID != id {
		return store.Group{}, httpapi.ErrNotFound
	}
	return g, nil
}

func (a *API) listGroups(v2 bool) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
		p, err := parsePaging(c.Params.Values, defaultListLimit, maxListLimit)
		if err != nil {
			return err
		}
		list, err := a.Core.Groups(r.Context())
		if err != nil {
			return err
		}
		page := window(list, p)
		var out any
		if v2 {
			l := make([]groupV2, 0, len(page))
			for _, g := range page {
				l = append(l, groupV2Of(g))
			}
			out = l
		} else {
			l := make([]groupV1, 0, len(page))
			for _, g := range page {
				l = append(l, groupV1Of(g))
			}
			out = l
		}
		httpapi.WriteOKMeta(w, out, metaFor(p, len(page), len(list)))
		return nil
	}
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	up, err := groupParams(c.Params.Values)
	if err != nil {
		return err
	}
	if up.Name == nil || *up.Name == "" {
		return httpapi.InvalidParams("name")
	}
	n := auth.NewGroup{Name: *up.Name}
	if up.Description != nil {
		n.Description = *up.Description
	}
	if up.Status != nil {
		n.Status = *up.Status
	}
	g, err := a.Core.CreateGroup(r.Context(), n)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, groupV1Of(g))
	return nil
}

func (a *API) getGroup(v2 bool) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
		g, err := a.group(r)
		if err != nil {
			return err
		}
		if v2 {
			httpapi.WriteOK(w, groupV2Of(g))
			return nil
		}
		// v1 lists the members too.
		members, err := a.Core.GroupMembers(r.Context(), g.ID)
		if err != nil {
			return err
		}
		users := make([]memberJSON, 0, len(members))
		for _, u := range members {
			users = append(users, memberJSON{UserID: u.ID, Username: u.Username})
		}
		httpapi.WriteOK(w, struct {
			groupV1
			Users []memberJSON `json:"users"`
		}{groupV1Of(g), users})
		return nil
	}
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	g, err := a.group(r)
	if err != nil {
		return err
	}
	up, err := groupParams(c.Params.Values)
	if err != nil {
		return err
	}
	if g, err = a.Core.ModifyGroup(r.Context(), g.ID, up); err != nil {
		return err
	}
	httpapi.WriteOK(w, groupV1Of(g))
	return nil
}

// deleteGroup answers "" as Duo does, also for a group already gone.
func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	g, err := a.group(r)
	if auth.IsKind(err, auth.KindNotFound) || err == httpapi.ErrNotFound {
		httpapi.WriteOK(w, "")
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Core.DeleteGroup(r.Context(), g.ID); err != nil && !auth.IsKind(err, auth.KindNotFound) {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// memberJSON is a user as Duo's v2 group members list shows one.
type memberJSON struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
}

// groupUsers is GET /admin/v2/groups/{id}/users (limit up to 500).
func (a *API) groupUsers(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	g, err := a.group(r)
	if err != nil {
		return err
	}
	p, err := parsePaging(c.Params.Values, defaultListLimit, 500)
	if err != nil {
		return err
	}
	members, err := a.Core.GroupMembers(r.Context(), g.ID)
	if err != nil {
		return err
	}
	page := window(members, p)
	out := make([]memberJSON, 0, len(page))
	for _, u := range page {
		out = append(out, memberJSON{UserID: u.ID, Username: u.Username})
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(page), len(members)))
	return nil
}

// userGroups is GET /admin/v1/users/{id}/groups.
func (a *API) userGroups(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	return userSubList(a, w, r, c, a.Core.UserGroups, func(g store.Group, _ store.User) groupV1 { return groupV1Of(g) })
}

// addUserGroup is POST /admin/v1/users/{id}/groups with group_id; "".
func (a *API) addUserGroup(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	id := c.Params.Get("group_id")
	if !strings.HasPrefix(id, "DG") {
		return httpapi.InvalidParams("group_id")
	}
	g, err := a.Core.Group(r.Context(), id)
	if auth.IsKind(err, auth.KindNotFound) || (err == nil && g.ID != id) {
		return httpapi.InvalidParams("group_id: no group with that ID")
	}
	if err != nil {
		return err
	}
	if err := a.Core.AddGroupMember(r.Context(), g.ID, u.ID); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// deleteUserGroup is DELETE /admin/v1/users/{id}/groups/{group_id}; "",
// also when the user was not a member (as Duo).
func (a *API) deleteUserGroup(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	g, err := a.group(r)
	if err != nil {
		return err
	}
	if err := a.Core.RemoveGroupMember(r.Context(), g.ID, u.ID); err != nil && !auth.IsKind(err, auth.KindNotFound) {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

var groupStatuses = []option{
	{Value: string(store.StatusActive), Label: "Active"},
	{Value: string(store.StatusBypass), Label: "Bypass (no second factor)"},
	{Value: string(store.StatusDisabled), Label: "Disabled (refused)"},
}

// groupID reads the {id} of a path: group IDs only.
func groupID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) != 20 || !strings.HasPrefix(id, "DG") {
		return "", errNotFound
	}
	return id, nil
}

var groupDone = map[string]string{
	"created": "The group was added.",
	"saved":   "The changes were saved.",
	"added":   "The user was added to the group.",
	"removed": "The user was removed from the group.",
	"deleted": "The group was deleted.",
}

func (c *Console) groups(w http.ResponseWriter, r *http.Request, p *page) error {
	return c.renderGroups(w, r, p, http.StatusOK, store.Group{Status: store.StatusActive})
}

func (c *Console) renderGroups(w http.ResponseWriter, r *http.Request, p *page, status int, form store.Group) error {
	list, err := c.Core.Groups(r.Context())
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav = "Groups", "groups", "groups"
	p.Apps = &appsView{Groups: list, Group: &form, Statuses: selected(groupStatuses, string(form.Status))}
	if m, ok := groupDone[r.URL.Query().Get("done")]; ok && p.Message == "" {
		p.Message, p.MessageKind = m, "success"
	}
	return c.render(w, status, "groups", p)
}

func (c *Console) createGroup(w http.ResponseWriter, r *http.Request, p *page) error {
	n := auth.NewGroup{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("desc")),
		Status: store.UserStatus(r.PostFormValue("status"))}
	g, err := c.Core.CreateGroup(r.Context(), n)
	if msg := userMessage(err); msg != "" {
		p.Message, p.MessageKind = msg, "error"
		return c.renderGroups(w, r, p, http.StatusBadRequest, store.Group{Name: n.Name, Description: n.Description, Status: n.Status})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/groups/"+g.ID+"?done=created", http.StatusSeeOther)
	return nil
}

func (c *Console) group(w http.ResponseWriter, r *http.Request, p *page) error {
	if m, ok := groupDone[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	return c.renderGroup(w, r, p, http.StatusOK, nil)
}

// renderGroup shows the group of the path; form, when not nil, is what the
// administrator typed (kept after an error).
func (c *Console) renderGroup(w http.ResponseWriter, r *http.Request, p *page, status int, form *store.Group) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	g, err := c.Core.Group(r.Context(), id)
	if err != nil {
		return err
	}
	members, err := c.Core.GroupMembers(r.Context(), id)
	if err != nil {
		return err
	}
	if form == nil {
		form = &g
	}
	p.Title, p.Page, p.Nav = g.Name, "group", "groups"
	p.Apps = &appsView{Group: form, Members: members, Statuses: selected(groupStatuses, string(form.Status))}
	p.Apps.Groups = []store.Group{g} // the stored group, for the heading and links
	return c.render(w, status, "group", p)
}

func (c *Console) editGroup(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	name, desc := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("desc"))
	status := store.UserStatus(r.PostFormValue("status"))
	_, err = c.Core.ModifyGroup(r.Context(), id, auth.GroupUpdate{Name: &name, Description: &desc, Status: &status})
	if msg := userMessage(err); msg != "" {
		p.Message, p.MessageKind = msg, "error"
		return c.renderGroup(w, r, p, http.StatusBadRequest, &store.Group{ID: id, Name: name, Description: desc, Status: status})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/groups/"+id+"?done=saved", http.StatusSeeOther)
	return nil
}

func (c *Console) addMember(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	user := strings.TrimSpace(r.PostFormValue("username"))
	err = c.Core.AddGroupMember(r.Context(), id, user)
	if auth.IsKind(err, auth.KindNotFound) && user != "" {
		if _, gerr := c.Core.Group(r.Context(), id); gerr == nil {
			p.Message, p.MessageKind = "There is no user "+user+".", "error"
			return c.renderGroup(w, r, p, http.StatusBadRequest, nil)
		}
	}
	if msg := userMessage(err); msg != "" || user == "" {
		if user == "" {
			msg = "Type a username."
		}
		p.Message, p.MessageKind = msg, "error"
		return c.renderGroup(w, r, p, http.StatusBadRequest, nil)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/groups/"+id+"?done=added", http.StatusSeeOther)
	return nil
}

func (c *Console) removeMember(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	uid, err := url.PathUnescape(r.PathValue("user"))
	if err != nil || len(uid) != 20 || !strings.HasPrefix(uid, "DU") {
		return errNotFound
	}
	if err := c.Core.RemoveGroupMember(r.Context(), id, uid); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/groups/"+id+"?done=removed", http.StatusSeeOther)
	return nil
}

// deleteGroup needs the group's name typed again (its members stay users).
func (c *Console) deleteGroup(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	g, err := c.Core.Group(r.Context(), id)
	if err != nil {
		return err
	}
	if strings.TrimSpace(r.PostFormValue("confirm")) != g.Name {
		p.Message, p.MessageKind = "Type the group's name exactly to delete it.", "error"
		return c.renderGroup(w, r, p, http.StatusBadRequest, nil)
	}
	if err := c.Core.DeleteGroup(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/groups?done=deleted", http.StatusSeeOther)
	return nil
}

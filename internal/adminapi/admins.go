package adminapi

import (
	"net/http"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Administrators of the web console (`assent admin create`), read-only
// here as Duo's admin objects. Creating and changing them over the Admin
// API is left for later: it needs the settings grant and care that an
// integration cannot make itself an owner.

// adminRoleNames are Duo's spellings of the roles.
var adminRoleNames = map[store.AdminRole]string{
	store.RoleOwner:         "Owner",
	store.RoleAdministrator: "Administrator",
	store.RoleHelpDesk:      "Help Desk",
	store.RoleReadOnly:      "Read-only",
}

// adminJSON is Duo's admin object, with the fields Assent has.
type adminJSON struct {
	AdminID                string `json:"admin_id"`
	Email                  string `json:"email"`
	Name                   string `json:"name"`
	Role                   string `json:"role"`
	Status                 string `json:"status"` // "Active" or "Pending Activation"
	Created                int64  `json:"created"`
	LastLogin              *int64 `json:"last_login"`
	Phone                  string `json:"phone"`
	PasswordChangeRequired bool   `json:"password_change_required"`
	RestrictedByAdminUnits bool   `json:"restricted_by_admin_units"`
	AdminUnits             []any  `json:"admin_units"`
}

func adminOf(a store.Admin) adminJSON {
	j := adminJSON{AdminID: a.ID, Email: a.Email, Name: a.Name, Role: adminRoleNames[a.Role], Status: "Active",
		Created: a.Created.Unix(), AdminUnits: []any{}}
	if a.Pending() {
		j.Status = "Pending Activation"
	}
	if !a.LastLogin.IsZero() {
		t := a.LastLogin.Unix()
		j.LastLogin = &t
	}
	return j
}

// listAdmins lists the console's administrators by e-mail, one page.
func (a *API) listAdmins(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p, err := parsePaging(c.Params.Values, defaultListLimit, maxListLimit)
	if err != nil {
		return err
	}
	list, err := a.Core.Admins(r.Context())
	if err != nil {
		return err
	}
	total := len(list)
	list = list[min(p.Offset, total):min(p.Offset+p.Limit, total)]
	out := make([]adminJSON, 0, len(list))
	for _, ad := range list {
		out = append(out, adminOf(ad))
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(out), total))
	return nil
}

func (a *API) getAdmin(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	id := r.PathValue("admin_id")
	if len(id) != 20 || id[:2] != "DE" {
		return httpapi.ErrNotFound
	}
	ad, err := a.Core.Admin(r.Context(), id)
	if auth.IsKind(err, auth.KindNotFound) {
		return httpapi.ErrNotFound
	}
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, adminOf(ad))
	return nil
}

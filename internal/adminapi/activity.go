package adminapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// The v2 activity log (GET /admin/v2/logs/activity) shows the
// administrator log: every change made with the CLI or the Admin API, in
// Duo's activity schema. Authentications are not activities: they are in
// the authentication log, which has its own endpoint.

type activityParty struct {
	Details *string `json:"details"`
	Key     string  `json:"key"`
	Name    string  `json:"name"`
	Type    string  `json:"type"`
}

type activityApplication struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type activityIP struct {
	Address *string `json:"address"`
}

type activityAccessDevice struct {
	Browser        *string    `json:"browser"`
	BrowserVersion *string    `json:"browser_version"`
	IP             activityIP `json:"ip"`
	Location       location   `json:"location"`
	OS             *string    `json:"os"`
	OSVersion      *string    `json:"os_version"`
}

// activityItem is one row of Duo's v2 activity log.
type activityItem struct {
	AccessDevice activityAccessDevice `json:"access_device"`
	Action       string               `json:"action"`
	ActivityID   string               `json:"activity_id"`
	Actor        activityParty        `json:"actor"`
	// AKey is Duo's account key; an Assent installation is one account
	// and has none.
	AKey        *string              `json:"akey"`
	Application *activityApplication `json:"application"`
	Target      activityParty        `json:"target"`
	TS          string               `json:"ts"`
}

type totalObjects struct {
	Relation string `json:"relation"`
	Value    int    `json:"value"`
}

type activityMeta struct {
	NextOffset   *string      `json:"next_offset"`
	TotalObjects totalObjects `json:"total_objects"`
}

type activityResponse struct {
	Items    []activityItem `json:"items"`
	Metadata activityMeta   `json:"metadata"`
}

// targetTypes names what an action changed, by the action's prefix.
var targetTypes = []struct{ prefix, typ string }{
	{"user_", "user"},
	{"bypass_", "bypass_code"},
	{"group_", "group"},
	{"hardtoken_", "token"},
	{"totp_app_", "token"},
	{"integration_", "integration"},
	{"phone_", "phone"},
	{"webauthncredential_", "webauthncredential"},
	{"customer_", "settings"},
}

func targetType(action string) string {
	for _, t := range targetTypes {
		if strings.HasPrefix(action, t.prefix) {
			return t.typ
		}
	}
	return action
}

// activityRow renders an administrator-log row. The actor is an Admin API
// integration (also the row's application), an administrator at the CLI,
// or the system (retention, say).
func activityRow(l store.AdminLog, apps map[string]store.Integration) activityItem {
	it := activityItem{
		AccessDevice: activityAccessDevice{IP: activityIP{Address: nullable(l.IP)}},
		Action:       l.Action,
		ActivityID:   strconv.FormatInt(l.ID, 10),
		Target:       activityParty{Details: nullable(l.Description), Key: l.Object, Name: l.Object, Type: targetType(l.Action)},
		TS:           l.Time.UTC().Format("2006-01-02T15:04:05.000000+00:00"),
	}
	kind, who, _ := strings.Cut(l.Actor, ":")
	switch kind {
	case "integration":
		in := apps[who]
		it.Actor = activityParty{Key: who, Name: in.Name, Type: "integration"}
		it.Application = &activityApplication{Key: who, Name: in.Name, Type: string(in.Type)}
	case "cli":
		it.Actor = activityParty{Name: who, Type: "admin"}
	default:
		it.Actor = activityParty{Name: l.Actor, Type: "system"}
	}
	return it
}

// activityLog is GET /admin/v2/logs/activity.
func (a *API) activityLog(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	q, err := parseActivity(c.Params.Values)
	if err != nil {
		return err
	}
	rows, total, err := a.Core.QueryAdminLog(r.Context(), q)
	if err != nil {
		return err
	}
	list, err := a.Core.Integrations(r.Context())
	if err != nil {
		return err
	}
	apps := make(map[string]store.Integration, len(list))
	for _, in := range list {
		apps[in.IKey] = in
	}
	out := activityResponse{Items: make([]activityItem, 0, len(rows)),
		Metadata: activityMeta{TotalObjects: totalObjects{Relation: "eq", Value: total}}}
	for _, l := range rows {
		out.Items = append(out.Items, activityRow(l, apps))
	}
	if len(rows) >= q.Limit {
		last := rows[len(rows)-1]
		off := strconv.FormatInt(last.Time.Unix()*1000, 10) + "," + strconv.FormatInt(last.ID, 10)
		out.Metadata.NextOffset = &off
	}
	httpapi.WriteOK(w, out)
	return nil
}

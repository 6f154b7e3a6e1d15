package adminapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Log reads are cut at the log clock (see auth.Service.QueryAuthLog): a
// row is returned once the clock has passed its second, and a row
// committed after a read is always stamped at or after the newest second
// that read could return, so an exporter that resumes from its last row
// (v1: mintime = last timestamp + 1; v2: next_offset, or mintime = last
// ts) never misses one.

type location struct {
	City    string `json:"city"`
	Country string `json:"country"`
	State   string `json:"state"`
}

type keyName struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

type logUser struct {
	Groups []string `json:"groups"`
	Key    string   `json:"key"`
	Name   string   `json:"name"`
}

type accessDevice struct {
	Hostname *string  `json:"hostname"`
	IP       *string  `json:"ip"`
	Location location `json:"location"`
}

type authDevice struct {
	IP       *string  `json:"ip"`
	Location location `json:"location"`
	Name     *string  `json:"name"`
}

// authLogV2JSON is one row of Duo's v2 authentication log.
type authLogV2JSON struct {
	AccessDevice          accessDevice `json:"access_device"`
	Alias                 string       `json:"alias"`
	Application           keyName      `json:"application"`
	AuthDevice            authDevice   `json:"auth_device"`
	Email                 string       `json:"email"`
	EventType             string       `json:"event_type"`
	Factor                string       `json:"factor"`
	ISOTimestamp          string       `json:"isotimestamp"`
	OODSoftware           *string      `json:"ood_software"`
	Reason                string       `json:"reason"`
	Result                string       `json:"result"`
	Timestamp             int64        `json:"timestamp"`
	TrustedEndpointStatus string       `json:"trusted_endpoint_status"`
	TxID                  string       `json:"txid"`
	User                  logUser      `json:"user"`
}

// duoResult is the v2 result of an auth-log row: Duo says success and
// denied where Assent's log says allow and deny.
func duoResult(r string) string {
	switch r {
	case "allow":
		return "success"
	case "deny":
		return "denied"
	}
	return r
}

// duoFactor is the v2 factor of a row: a passcode from an activated app is
// Duo's duo_mobile_passcode; a row without a factor (a decision made
// before any, e.g. a bypass user) is not_available.
func duoFactor(l store.AuthLog) string {
	switch l.Factor {
	case "":
		return "not_available"
	case "passcode":
		if strings.HasPrefix(l.Device, "DP") {
			return "duo_mobile_passcode"
		}
		return "passcode"
	}
	return l.Factor
}

// v1 names.
var v1Factors = map[string]string{
	"duo_push": "Duo Push", "bypass_code": "Bypass Code", "duo_mobile_passcode": "Duo Mobile Passcode",
	"passcode": "Passcode", "not_available": "",
}

func v1Result(r string) string {
	switch r {
	case "allow":
		return "SUCCESS"
	case "deny":
		return "FAILURE"
	}
	return strings.ToUpper(r)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// appNames maps integration keys to names for one request.
func (a *API) appNames(r *http.Request) (map[string]string, error) {
	list, err := a.Core.Integrations(r.Context())
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(list)+1)
	m[auth.PortalIKey] = "Self-service portal" // sign-ins at /my/
	for _, in := range list {
		m[in.IKey] = in.Name
	}
	return m, nil
}

func v2Row(l store.AuthLog, apps map[string]string) authLogV2JSON {
	return authLogV2JSON{
		AccessDevice: accessDevice{Hostname: nullable(l.Hostname), IP: nullable(l.IP)},
		Alias:        l.Alias,
		Application:  keyName{Key: l.IKey, Name: apps[l.IKey]},
		AuthDevice:   authDevice{Name: nullable(l.Device)},
		EventType:    "authentication",
		Factor:       duoFactor(l),
		ISOTimestamp: l.Time.UTC().Format("2006-01-02T15:04:05.000000+00:00"),
		Reason:       l.Reason,
		Result:       duoResult(l.Result),
		Timestamp:    l.Time.Unix(),
		// Assent has no endpoint trust; Duo's value for that is "unknown".
		TrustedEndpointStatus: "unknown",
		TxID:                  l.TxID,
		User:                  logUser{Groups: groupNames(l.Groups), Key: l.UserID, Name: l.Username},
	}
}

// groupNames are the names Duo's v2 row lists in user.groups: the user's
// groups when the decision was made.
func groupNames(gs []store.LogGroup) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

type authLogV2Meta struct {
	NextOffset   []string `json:"next_offset"`
	TotalObjects int      `json:"total_objects"`
}

type authLogV2Response struct {
	AuthLogs []authLogV2JSON `json:"authlogs"`
	Metadata authLogV2Meta   `json:"metadata"`
}

// authLogV2 is GET /admin/v2/logs/authentication.
func (a *API) authLogV2(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	q, err := parseAuthLogV2(c.Params.Values)
	if err != nil {
		return err
	}
	rows, total, err := a.Core.QueryAuthLog(r.Context(), q)
	if err != nil {
		return err
	}
	apps, err := a.appNames(r)
	if err != nil {
		return err
	}
	out := authLogV2Response{AuthLogs: make([]authLogV2JSON, 0, len(rows)), Metadata: authLogV2Meta{TotalObjects: total}}
	for _, l := range rows {
		out.AuthLogs = append(out.AuthLogs, v2Row(l, apps))
	}
	if len(rows) >= q.Limit {
		last := rows[len(rows)-1]
		out.Metadata.NextOffset = []string{strconv.FormatInt(last.Time.Unix()*1000, 10), last.TxID}
	}
	httpapi.WriteOK(w, out)
	return nil
}

type authLogV1JSON struct {
	Device        *string  `json:"device"`
	Factor        string   `json:"factor"`
	Integration   string   `json:"integration"`
	IP            string   `json:"ip"`
	ISOTimestamp  string   `json:"isotimestamp"`
	Location      location `json:"location"`
	NewEnrollment bool     `json:"new_enrollment"`
	Reason        string   `json:"reason"`
	Result        string   `json:"result"`
	Timestamp     int64    `json:"timestamp"`
	Username      string   `json:"username"`
}

// authLogV1 is GET /admin/v1/logs/authentication: rows from mintime
// (seconds), oldest first, at most 1000.
func (a *API) authLogV1(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	since, err := parseMintime(c.Params.Values)
	if err != nil {
		return err
	}
	rows, _, err := a.Core.QueryAuthLog(r.Context(), store.AuthLogQuery{Min: since, Limit: maxLogLimit})
	if err != nil {
		return err
	}
	if len(rows) > maxLogLimit {
		rows = rows[:maxLogLimit]
	}
	apps, err := a.appNames(r)
	if err != nil {
		return err
	}
	out := make([]authLogV1JSON, 0, len(rows))
	for _, l := range rows {
		out = append(out, authLogV1JSON{
			Device: nullable(l.Device), Factor: v1Factors[duoFactor(l)], Integration: apps[l.IKey], IP: l.IP,
			ISOTimestamp: l.Time.UTC().Format(time.RFC3339), Reason: strings.ReplaceAll(l.Reason, "_", " "),
			Result: v1Result(l.Result), Timestamp: l.Time.Unix(), Username: l.Username,
		})
	}
	httpapi.WriteOK(w, out)
	return nil
}

type adminLogJSON struct {
	Action       string `json:"action"`
	Description  string `json:"description"`
	ISOTimestamp string `json:"isotimestamp"`
	Object       string `json:"object"`
	Timestamp    int64  `json:"timestamp"`
	Username     string `json:"username"`
}

// adminLogV1 is GET /admin/v1/logs/administrator: rows from mintime
// (seconds), oldest first, at most 1000.
func (a *API) adminLogV1(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	since, err := parseMintime(c.Params.Values)
	if err != nil {
		return err
	}
	rows, err := a.Core.AdminLogSince(r.Context(), since, maxLogLimit)
	if err != nil {
		return err
	}
	out := make([]adminLogJSON, 0, len(rows))
	for _, l := range rows {
		out = append(out, adminLogJSON{Action: l.Action, Description: l.Description, Object: l.Object,
			ISOTimestamp: l.Time.UTC().Format(time.RFC3339), Timestamp: l.Time.Unix(), Username: l.Actor})
	}
	httpapi.WriteOK(w, out)
	return nil
}

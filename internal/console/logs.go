package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
)

// The authentication log and the administrator log (issue 15): filters,
// pages that stay put while rows are added (the store's cursors), a
// detail view per row and a CSV export of the filtered rows. Every role
// may read them.

// logsCore is what the log pages and the dashboard's charts ask of the
// core.
type logsCore interface {
	QueryAuthLog(ctx context.Context, q store.AuthLogQuery) ([]store.AuthLog, int, error)
	QueryAdminLog(ctx context.Context, q store.AdminLogQuery) ([]store.AdminLog, int, error)
	AuthLogEntry(ctx context.Context, id int64) (store.AuthLog, error)
	AdminLogEntry(ctx context.Context, id int64) (store.AdminLog, error)
	ConsoleAuthActivity(ctx context.Context) (auth.AuthActivity, error)
	Integrations(ctx context.Context) ([]store.Integration, error)
	PendingPushes(ctx context.Context, limit int) ([]store.Transaction, error)
	Now() time.Time
}

func (c *Console) logRoutes() []route {
	return []route{
		{"GET /admin/logs/{$}", http.RedirectHandler("/admin/logs/auth", http.StatusSeeOther)},
		{"GET /admin/logs/auth", c.private(auth.PermRead, c.authLog)},
		{"GET /admin/logs/auth.csv", c.private(auth.PermRead, c.authLogCSV)},
		{"GET /admin/logs/auth/{id}", c.private(auth.PermRead, c.authLogEntry)},
		{"GET /admin/logs/admin", c.private(auth.PermRead, c.adminLog)},
		{"GET /admin/logs/admin.csv", c.private(auth.PermRead, c.adminLogCSV)},
		{"GET /admin/logs/admin/{id}", c.private(auth.PermRead, c.adminLogEntry)},
	}
}

const (
	logPageSize = 50
	// csvMaxRows bounds an export; a larger set is refused (narrow the
	// filters) before anything is written.
	csvMaxRows = 100_000
	csvBatch   = 500
	// timeLayout is a datetime-local input's value (read as UTC).
	timeLayout = "2006-01-02T15:04"
)

// logsView is what the log pages show.
type logsView struct {
	Kind    string // auth, admin
	Form    url.Values
	Ranges  []option
	Apps    []option
	Results []option
	Factors []option
	Auth    []authRow
	Admin   []adminRow
	Total   int
	Newest  string // first page, when not on it
	Newer   string
	Older   string
	CSV     string
	Entry   []field // detail view
	Problem string  // a filter that could not be read
	Window  string  // the time window, in words
}

type authRow struct {
	Link, Time, User, UserLink, App, Factor, Result, Reason, IP string
	Fraud                                                       bool
}

type adminRow struct {
	Link, Time, Actor, Action, Object, IP string
}

// field is one line of a detail view.
type field struct {
	Name, Value, Link string
	Code              bool
	List              []string
}

var logRanges = []struct {
	value, label string
	d            time.Duration
}{
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"30d", "Last 30 days", 30 * 24 * time.Hour},
	{"all", "All time", 0},
}

// logFactors are the factors the auth log names.
var logFactors = []string{"duo_push", "passcode", "duo_mobile_passcode", "totp_app", "hardware_token", "yubikey_code",
	"bypass_code", "webauthn", "verification_push", "sms_passcode", "phone_call"}

// window reads the time filters: from and to (UTC, a datetime-local
// input's format) win over the range (default the last 24 hours).
func (c *Console) window(q url.Values) (min, max time.Time, words string, err error) {
	now := c.Core.Now().UTC()
	rng := q.Get("range")
	if rng == "" {
		rng = "24h"
	}
	for _, r := range logRanges {
		if r.value == rng {
			words = strings.ToLower(r.label[:1]) + r.label[1:]
			if r.d > 0 {
				min = now.Add(-r.d)
			}
		}
	}
	if words == "" {
		return min, max, "", fmt.Errorf("unknown range %q", rng)
	}
	if s := strings.TrimSpace(q.Get("from")); s != "" {
		if min, err = time.Parse(timeLayout, s); err != nil {
			return min, max, "", fmt.Errorf("from: not a date and time (%s)", timeLayout)
		}
		words = "from " + min.Format("2006-01-02 15:04") + " UTC"
	}
	if s := strings.TrimSpace(q.Get("to")); s != "" {
		if max, err = time.Parse(timeLayout, s); err != nil {
			return min, max, "", fmt.Errorf("to: not a date and time (%s)", timeLayout)
		}
		words += " until " + max.Format("2006-01-02 15:04") + " UTC"
	}
	if min.IsZero() {
		min = time.Unix(1, 0)
	}
	return min, max, strings.TrimSpace(words), nil
}

// Cursors: "<unix seconds>.<txid>" (auth log), "<unix seconds>.<id>"
// (administrator log).

func authCursor(l store.AuthLog) string { return authCursorOf(l.Time, l.TxID) }

func authCursorOf(t time.Time, txid string) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + txid
}

func parseAuthCursor(s string) (store.AuthLogCursor, bool) {
	secs, txid, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil || n <= 0 || txid == "" {
		return store.AuthLogCursor{}, false
	}
	return store.AuthLogCursor{Time: time.Unix(n, 0).UTC(), TxID: txid}, true
}

func adminCursor(l store.AdminLog) string { return adminCursorOf(l.Time, l.ID) }

func adminCursorOf(t time.Time, id int64) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + strconv.FormatInt(id, 10)
}

func parseAdminCursor(s string) (store.AdminLogCursor, bool) {
	secs, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	i, ierr := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || ierr != nil || n <= 0 {
		return store.AdminLogCursor{}, false
	}
	return store.AdminLogCursor{Time: time.Unix(n, 0).UTC(), ID: i}, true
}

// filterValues keeps the filters of a request (for links and the form).
func filterValues(q url.Values, keys ...string) url.Values {
	v := url.Values{}
	for _, k := range keys {
		if s := strings.TrimSpace(q.Get(k)); s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func withParam(path string, v url.Values, k, val string) string {
	w := url.Values{}
	for key, vals := range v {
		w[key] = vals
	}
	if k != "" {
		w.Set(k, val)
	}
	if len(w) == 0 {
		return path
	}
	return path + "?" + w.Encode()
}

func options(values []string, labels map[string]string, selected, anyLabel string) []option {
	out := []option{{Value: "", Label: anyLabel, Selected: selected == ""}}
	for _, v := range values {
		l := labels[v]
		if l == "" {
			l = v
		}
		out = append(out, option{Value: v, Label: l, Selected: v == selected})
	}
	return out
}

var authFilterKeys = []string{"range", "from", "to", "user", "app", "result", "factor"}

// authQuery reads the auth log's filters. A user is looked up by username
// or ID; a name that is no user matches the rows of that unknown username.
func (c *Console) authQuery(ctx context.Context, q url.Values, v *logsView) (store.AuthLogQuery, error) {
	var aq store.AuthLogQuery
	var err error
	if aq.Min, aq.Max, v.Window, err = c.window(q); err != nil {
		return aq, err
	}
	if s := strings.TrimSpace(q.Get("user")); s != "" {
		u, err := c.Core.User(ctx, s)
		switch {
		case err == nil:
			aq.UserIDs = []string{u.ID}
		case auth.IsKind(err, auth.KindNotFound) || auth.IsKind(err, auth.KindInvalid):
			aq.Usernames = []string{s}
		default:
			return aq, err
		}
	}
	if s := q.Get("app"); s != "" {
		aq.IKeys = []string{s}
	}
	switch s := q.Get("result"); s {
	case "":
	case "allow", "deny":
		aq.Results = []string{s}
	case "fraud":
		aq.Reasons = []string{auth.ReasonUserMarkedFraud}
	default:
		return aq, fmt.Errorf("unknown result %q", s)
	}
	if s := q.Get("factor"); s != "" {
		aq.Factors = []string{s}
	}
	return aq, nil
}

func (c *Console) appNames(ctx context.Context) (map[string]string, []string, error) {
	ins, err := c.Core.Integrations(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	var keys []string
	for _, in := range ins {
		names[in.IKey] = in.Name
		keys = append(keys, in.IKey)
	}
	return names, keys, nil
}

func fmtSec(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func (c *Console) authLog(w http.ResponseWriter, r *http.Request, p *page) error {
	ctx, q := r.Context(), r.URL.Query()
	v := &logsView{Kind: "auth", Form: filterValues(q, authFilterKeys...)}
	p.Title, p.Page, p.Nav, p.Logs = "Authentication log", "auth-log", "logs", v
	names, keys, err := c.appNames(ctx)
	if err != nil {
		return err
	}
	c.authForm(v, names, keys)
	aq, err := c.authQuery(ctx, q, v)
	if err != nil {
		v.Problem = err.Error()
		return c.render(w, http.StatusBadRequest, "logs", p)
	}
	aq.Desc, aq.Limit = true, logPageSize
	newer := false
	if cur, ok := parseAuthCursor(q.Get("after")); ok {
		aq.After = cur
	} else if cur, ok := parseAuthCursor(q.Get("before")); ok {
		aq.After, aq.Desc, newer = cur, false, true
	}
	rows, total, err := c.Core.QueryAuthLog(ctx, aq)
	if err != nil {
		return err
	}
	if newer {
		slices.Reverse(rows) // read oldest first from the cursor; shown newest first
	}
	v.Total = total
	for _, l := range rows {
		v.Auth = append(v.Auth, authRowOf(l, names))
	}
	const path = "/admin/logs/auth"
	v.CSV = withParam(path+".csv", v.Form, "", "")
	if len(rows) > 0 {
		paged := q.Get("after") != "" || q.Get("before") != ""
		// A page of newer rows that came back short is the first page.
		if paged && !(newer && len(rows) < logPageSize) {
			v.Newest = withParam(path, v.Form, "", "")
			v.Newer = withParam(path, v.Form, "before", authCursor(rows[0]))
		}
		if !(!newer && len(rows) < logPageSize) {
			v.Older = withParam(path, v.Form, "after", authCursor(rows[len(rows)-1]))
		}
	}
	return c.render(w, http.StatusOK, "logs", p)
}

func rangeOptions(rng string) []option {
	if rng == "" {
		rng = "24h"
	}
	var out []option
	for _, r := range logRanges {
		out = append(out, option{Value: r.value, Label: r.label, Selected: r.value == rng})
	}
	return out
}

func (c *Console) authForm(v *logsView, names map[string]string, keys []string) {
	v.Ranges = rangeOptions(v.Form.Get("range"))
	labels := map[string]string{}
	for k, n := range names {
		labels[k] = n + " (" + k + ")"
	}
	v.Apps = options(keys, labels, v.Form.Get("app"), "Any application")
	v.Results = options([]string{"allow", "deny", "fraud"}, map[string]string{"allow": "Allowed", "deny": "Denied", "fraud": "Reported as fraud"}, v.Form.Get("result"), "Any result")
	v.Factors = options(logFactors, nil, v.Form.Get("factor"), "Any factor")
}

func authRowOf(l store.AuthLog, names map[string]string) authRow {
	row := authRow{Link: "/admin/logs/auth/" + strconv.FormatInt(l.ID, 10), Time: fmtSec(l.Time), User: l.Username,
		App: names[l.IKey], Factor: l.Factor, Result: l.Result, Reason: l.Reason, IP: l.IP,
		Fraud: auth.IsFraud(l.Result, l.Reason)}
	if l.UserID != "" {
		row.UserLink = "/admin/users/" + l.UserID
	}
	if row.App == "" {
		row.App = l.IKey
	}
	return row
}

func logID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

func (c *Console) authLogEntry(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := logID(r)
	if err != nil {
		return err
	}
	l, err := c.Core.AuthLogEntry(r.Context(), id)
	if err != nil {
		return err
	}
	names, _, err := c.appNames(r.Context())
	if err != nil {
		return err
	}
	app := l.IKey
	if n := names[l.IKey]; n != "" {
		app = n + " (" + l.IKey + ")"
	}
	result := l.Result
	if auth.IsFraud(l.Result, l.Reason) {
		result += " (reported as fraud)"
	}
	user := field{Name: "User", Value: l.Username}
	if l.UserID != "" {
		user.Link, user.Value = "/admin/users/"+l.UserID, l.Username+" ("+l.UserID+")"
	}
	groups := field{Name: "Groups"}
	for _, g := range l.Groups {
		groups.List = append(groups.List, g.Name+" ("+g.ID+")")
	}
	v := &logsView{Kind: "auth", Entry: []field{
		{Name: "Time", Value: fmtSec(l.Time) + " UTC"},
		{Name: "Result", Value: result},
		{Name: "Reason", Value: l.Reason},
		{Name: "Decided by policy", Value: l.Policy},
		user,
		{Name: "Application", Value: app},
		{Name: "Factor", Value: l.Factor},
		{Name: "Device", Value: l.Device, Code: true},
		{Name: "Client address", Value: l.IP, Code: true},
		{Name: "Host name", Value: l.Hostname},
		groups,
		{Name: "Transaction ID", Value: l.TxID, Code: true},
	}}
	p.Title, p.Page, p.Nav, p.Logs = "Authentication "+strconv.FormatInt(id, 10), "auth-entry", "logs", v
	return c.render(w, http.StatusOK, "log-entry", p)
}

var adminFilterKeys = []string{"range", "from", "to", "actor", "action", "object"}

func (c *Console) adminQuery(q url.Values, v *logsView) (store.AdminLogQuery, error) {
	var aq store.AdminLogQuery
	var err error
	if aq.Min, aq.Max, v.Window, err = c.window(q); err != nil {
		return aq, err
	}
	for _, f := range []struct {
		key string
		set *[]string
	}{{"actor", &aq.Actors}, {"action", &aq.Actions}, {"object", &aq.Objects}} {
		if s := strings.TrimSpace(q.Get(f.key)); s != "" {
			*f.set = []string{s}
		}
	}
	return aq, nil
}

func (c *Console) adminLog(w http.ResponseWriter, r *http.Request, p *page) error {
	ctx, q := r.Context(), r.URL.Query()
	v := &logsView{Kind: "admin", Form: filterValues(q, adminFilterKeys...)}
	p.Title, p.Page, p.Nav, p.Logs = "Administrator log", "admin-log", "logs", v
	v.Ranges = rangeOptions(v.Form.Get("range"))
	aq, err := c.adminQuery(q, v)
	if err != nil {
		v.Problem = err.Error()
		return c.render(w, http.StatusBadRequest, "logs", p)
	}
	aq.Desc, aq.Limit = true, logPageSize
	newer := false
	if cur, ok := parseAdminCursor(q.Get("after")); ok {
		aq.After = cur
	} else if cur, ok := parseAdminCursor(q.Get("before")); ok {
		aq.After, aq.Desc, newer = cur, false, true
	}
	rows, total, err := c.Core.QueryAdminLog(ctx, aq)
	if err != nil {
		return err
	}
	if newer {
		slices.Reverse(rows) // read oldest first from the cursor; shown newest first
	}
	v.Total = total
	for _, l := range rows {
		v.Admin = append(v.Admin, adminRow{Link: "/admin/logs/admin/" + strconv.FormatInt(l.ID, 10), Time: fmtSec(l.Time),
			Actor: l.Actor, Action: l.Action, Object: l.Object, IP: l.IP})
	}
	const path = "/admin/logs/admin"
	v.CSV = withParam(path+".csv", v.Form, "", "")
	if len(rows) > 0 {
		paged := q.Get("after") != "" || q.Get("before") != ""
		if paged && !(newer && len(rows) < logPageSize) {
			v.Newest = withParam(path, v.Form, "", "")
			v.Newer = withParam(path, v.Form, "before", adminCursor(rows[0]))
		}
		if !(!newer && len(rows) < logPageSize) {
			v.Older = withParam(path, v.Form, "after", adminCursor(rows[len(rows)-1]))
		}
	}
	return c.render(w, http.StatusOK, "logs", p)
}

func (c *Console) adminLogEntry(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := logID(r)
	if err != nil {
		return err
	}
	l, err := c.Core.AdminLogEntry(r.Context(), id)
	if err != nil {
		return err
	}
	v := &logsView{Kind: "admin", Entry: []field{
		{Name: "Time", Value: fmtSec(l.Time) + " UTC"},
		{Name: "Administrator", Value: l.Actor},
		{Name: "Action", Value: l.Action, Code: true},
		{Name: "Object", Value: l.Object},
		{Name: "Client address", Value: l.IP, Code: true},
	}}
	// The description is a JSON object of the changed fields.
	var desc map[string]any
	if json.Unmarshal([]byte(l.Description), &desc) == nil && len(desc) > 0 {
		keys := make([]string, 0, len(desc))
		for k := range desc {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		f := field{Name: "Changes"}
		for _, k := range keys {
			b, _ := json.Marshal(desc[k])
			f.List = append(f.List, k+": "+string(b))
		}
		v.Entry = append(v.Entry, f)
	} else if l.Description != "" {
		v.Entry = append(v.Entry, field{Name: "Description", Value: l.Description, Code: true})
	}
	p.Title, p.Page, p.Nav, p.Logs = "Change "+strconv.FormatInt(id, 10), "admin-entry", "logs", v
	return c.render(w, http.StatusOK, "log-entry", p)
}

// CSV export.

// csvCell protects a spreadsheet from formula injection (OWASP's CSV
// injection advice): a cell starting with = + - @ (or a tab or carriage
// return, which some spreadsheets skip before one) is prefixed with '.
// encoding/csv then quotes what needs quoting.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvRow(w *csv.Writer, cells ...string) error {
	for i, s := range cells {
		cells[i] = csvCell(s)
	}
	return w.Write(cells)
}

func (c *Console) csvStart(w http.ResponseWriter, name string) *csv.Writer {
	web.SetHeaders(w.Header(), web.Headers{})
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+c.Core.Now().UTC().Format("20060102T150405Z")+`.csv"`)
	w.WriteHeader(http.StatusOK)
	return csv.NewWriter(w)
}

func tooMany(total int) error {
	return &auth.Error{Kind: auth.KindInvalid, Detail: fmt.Sprintf("%d rows match; an export holds at most %d: narrow the filters", total, csvMaxRows)}
}

// authLogCSV streams the filtered rows, newest first, in batches through
// the same cursor as the pages; the window's end is fixed at the start so
// rows added meanwhile do not join.
func (c *Console) authLogCSV(w http.ResponseWriter, r *http.Request, p *page) error {
	ctx := r.Context()
	aq, err := c.authQuery(ctx, r.URL.Query(), &logsView{})
	if err != nil {
		return &auth.Error{Kind: auth.KindInvalid, Detail: err.Error()}
	}
	if aq.Max.IsZero() {
		aq.Max = c.Core.Now()
	}
	aq.Desc, aq.Limit = true, csvBatch
	rows, total, err := c.Core.QueryAuthLog(ctx, aq)
	if err != nil {
		return err
	}
	if total > csvMaxRows {
		return tooMany(total)
	}
	names, _, err := c.appNames(ctx)
	if err != nil {
		return err
	}
	cw := c.csvStart(w, "assent-auth-log")
	if err := cw.Write([]string{"time", "txid", "result", "reason", "username", "user_id", "application", "integration_key",
		"factor", "device", "ip", "hostname", "groups"}); err != nil {
		return nil
	}
	n := 0
	for len(rows) > 0 && n < csvMaxRows {
		for _, l := range rows {
			var groups []string
			for _, g := range l.Groups {
				groups = append(groups, g.Name)
			}
			if csvRow(cw, l.Time.UTC().Format(time.RFC3339), l.TxID, l.Result, l.Reason, l.Username, l.UserID, names[l.IKey], l.IKey,
				l.Factor, l.Device, l.IP, l.Hostname, strings.Join(groups, "; ")) != nil {
				return nil
			}
			n++
		}
		last := rows[len(rows)-1]
		aq.After = store.AuthLogCursor{Time: last.Time, TxID: last.TxID}
		if rows, _, err = c.Core.QueryAuthLog(ctx, aq); err != nil {
			c.logCSVError(r, err)
			return nil
		}
	}
	cw.Flush()
	return nil
}

func (c *Console) adminLogCSV(w http.ResponseWriter, r *http.Request, p *page) error {
	ctx := r.Context()
	aq, err := c.adminQuery(r.URL.Query(), &logsView{})
	if err != nil {
		return &auth.Error{Kind: auth.KindInvalid, Detail: err.Error()}
	}
	if aq.Max.IsZero() {
		aq.Max = c.Core.Now()
	}
	aq.Desc, aq.Limit = true, csvBatch
	rows, total, err := c.Core.QueryAdminLog(ctx, aq)
	if err != nil {
		return err
	}
	if total > csvMaxRows {
		return tooMany(total)
	}
	cw := c.csvStart(w, "assent-admin-log")
	if err := cw.Write([]string{"time", "id", "administrator", "action", "object", "ip", "description"}); err != nil {
		return nil
	}
	n := 0
	for len(rows) > 0 && n < csvMaxRows {
		for _, l := range rows {
			if csvRow(cw, l.Time.UTC().Format(time.RFC3339), strconv.FormatInt(l.ID, 10), l.Actor, l.Action, l.Object, l.IP, l.Description) != nil {
				return nil
			}
			n++
		}
		last := rows[len(rows)-1]
		aq.After = store.AdminLogCursor{Time: last.Time, ID: last.ID}
		if rows, _, err = c.Core.QueryAdminLog(ctx, aq); err != nil {
			c.logCSVError(r, err)
			return nil
		}
	}
	cw.Flush()
	return nil
}

// logCSVError: once the rows stream, the status is sent; a failure ends
// the file early and is logged.
func (c *Console) logCSVError(r *http.Request, err error) {
	if c.Logger != nil {
		c.Logger.ErrorContext(r.Context(), "console csv export", "path", r.URL.Path, "err", err)
	}
}

package adminapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Paging limits of v1 object lists, as Duo's: users 100 by default, at most
// 300; other lists the same unless a route says otherwise.
const (
	defaultListLimit = 100
	maxListLimit     = 300
	// Logs: v2 authentication log 100 by default, at most 1000; the v1 logs
	// answer at most 1000 rows.
	defaultLogLimit = 100
	maxLogLimit     = 1000
)

// paging is a v1 list's limit and offset.
type paging struct {
	Limit, Offset int
}

// parsePaging reads limit (default def, at most max) and offset (≥ 0). A
// limit above the maximum is cut to it, as Duo does; anything that is not
// a number is a 40002 naming the parameter.
func parsePaging(v url.Values, def, maxLimit int) (paging, error) {
	p := paging{Limit: def}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return paging{}, httpapi.InvalidParams("limit")
		}
		p.Limit = min(n, maxLimit)
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return paging{}, httpapi.InvalidParams("offset")
		}
		p.Offset = n
	}
	return p, nil
}

// listMeta is Duo's v1 list metadata; next_offset is left out on the last
// page.
type listMeta struct {
	NextOffset   *int `json:"next_offset,omitempty"`
	PrevOffset   *int `json:"prev_offset,omitempty"`
	TotalObjects int  `json:"total_objects"`
}

func metaFor(p paging, n, total int) listMeta {
	m := listMeta{TotalObjects: total}
	if next := p.Offset + n; n > 0 && next < total {
		m.NextOffset = &next
	}
	if p.Offset > 0 {
		prev := max(p.Offset-p.Limit, 0)
		m.PrevOffset = &prev
	}
	return m
}

// values returns every value of key, splitting comma-joined values too
// (clients send lists either way).
func values(v url.Values, key string) []string {
	var out []string
	for _, s := range v[key] {
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// listValues reads a repeated filter as Duo clients send it: key=a&key=b,
// key=a,b, or the bracketed key[]=a (PHP-style clients); JSON arrays arrive
// as repeated values.
func listValues(v url.Values, key string) []string {
	return append(values(v, key), values(v, key+"[]")...)
}

// maxFilterValues bounds each filter list (a query with thousands of IN
// values is not a log read).
const maxFilterValues = 100

// Duo's v2 vocabulary to Assent's auth-log values.
var (
	resultFromDuo = map[string]string{"success": "allow", "denied": "deny", "fraud": "fraud"}
	factorFromDuo = map[string][]string{
		"duo_push":            {"duo_push"},
		"bypass_code":         {"bypass_code"},
		"duo_mobile_passcode": {"passcode"},
		"passcode":            {"passcode"},
	}
)

// parseAuthLogV2 reads mintime and maxtime (milliseconds, both required,
// maxtime > mintime), limit (≤ 1000, default 100), sort (ts:desc, the
// default, or ts:asc), next_offset ("ts,txid" or two repeated values) and
// the filters users, groups (group ids), applications, results, reasons and
// factors.
func parseAuthLogV2(v url.Values) (store.AuthLogQuery, error) {
	var q store.AuthLogQuery
	w, err := parseV2Window(v)
	if err != nil {
		return q, err
	}
	q.Min, q.Max, q.Limit, q.Desc = w.min, w.max, w.limit, w.desc
	if off := values(v, "next_offset"); len(off) > 0 {
		if len(off) != 2 {
			return q, httpapi.InvalidParams("next_offset: must be [timestamp, txid]")
		}
		ms, err := strconv.ParseInt(off[0], 10, 64)
		if err != nil || ms < 0 || ms > maxMillis || off[1] == "" || len(off[1]) > 128 {
			return q, httpapi.InvalidParams("next_offset: must be [timestamp, txid]")
		}
		q.After = store.AuthLogCursor{Time: time.Unix(ms/1000, 0), TxID: off[1]}
	}
	lists := []struct {
		key string
		dst *[]string
		fn  func(string) ([]string, bool)
	}{
		{"users", &q.UserIDs, same},
		{"applications", &q.IKeys, same},
		{"groups", &q.GroupIDs, same},
		{"reasons", &q.Reasons, same},
		{"results", &q.Results, func(s string) ([]string, bool) { r, ok := resultFromDuo[s]; return []string{r}, ok }},
		{"factors", &q.Factors, func(s string) ([]string, bool) { f, ok := factorFromDuo[s]; return f, ok }},
	}
	for _, l := range lists {
		in := listValues(v, l.key)
		if len(in) > maxFilterValues {
			return q, httpapi.InvalidParams(l.key + ": at most 100 values")
		}
		for _, s := range in {
			mapped, ok := l.fn(s)
			if !ok {
				// A value Assent never logs matches nothing; keep it so
				// the filter still filters.
				mapped = []string{"\x00" + s}
			}
			*l.dst = append(*l.dst, mapped...)
		}
	}
	return q, nil
}

// v2Window is what the v2 logs (authentication, activity, telephony) share:
// a window in milliseconds, a page size and an order.
type v2Window struct {
	min, max time.Time
	limit    int
	desc     bool
}

// parseV2Window reads mintime and maxtime (milliseconds, both required,
// maxtime > mintime), limit (≤ 1000, default 100) and sort (ts:desc, the
// default, or ts:asc).
func parseV2Window(v url.Values) (v2Window, error) {
	var w v2Window
	minMS, err := msParam(v, "mintime")
	if err != nil {
		return w, err
	}
	maxMS, err := msParam(v, "maxtime")
	if err != nil {
		return w, err
	}
	if maxMS <= minMS {
		return w, httpapi.InvalidParams("maxtime: must be after mintime")
	}
	// Rows are stamped in whole seconds: ts*1000 >= mintime and ts*1000 <=
	// maxtime.
	w.min = time.Unix(ceilDiv(minMS, 1000), 0)
	w.max = time.Unix(maxMS/1000+1, 0)
	w.limit = defaultLogLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLogLimit {
			return w, httpapi.InvalidParams("limit: must be 1 to 1000")
		}
		w.limit = n
	}
	switch v.Get("sort") {
	case "", "ts:desc":
		w.desc = true
	case "ts:asc":
	default:
		return w, httpapi.InvalidParams("sort: must be ts:desc or ts:asc")
	}
	return w, nil
}

// parseActivity reads the activity log's window (as parseV2Window) and
// next_offset: "<ts>,<offset>" as the last page's metadata gave it,
// comma-joined or as two repeated values; duo_log_sync sends it as a
// one-element list, which arrives as one value.
func parseActivity(v url.Values) (store.AdminLogQuery, error) {
	var q store.AdminLogQuery
	w, err := parseV2Window(v)
	if err != nil {
		return q, err
	}
	q.Min, q.Max, q.Limit, q.Desc = w.min, w.max, w.limit, w.desc
	if off := values(v, "next_offset"); len(off) > 0 {
		bad := httpapi.InvalidParams("next_offset: must be \"<timestamp>,<offset>\" from the previous page")
		if len(off) != 2 {
			return q, bad
		}
		ms, err := strconv.ParseInt(off[0], 10, 64)
		if err != nil || ms < 0 || ms > maxMillis {
			return q, bad
		}
		id, err := strconv.ParseInt(off[1], 10, 64)
		if err != nil || id < 0 {
			return q, bad
		}
		q.After = store.AdminLogCursor{Time: time.Unix(ms/1000, 0), ID: id}
	}
	return q, nil
}

func same(s string) ([]string, bool) { return []string{s}, true }

// maxMillis is the year 9999 in milliseconds: later times are not times.
const maxMillis = 253402300799999

func msParam(v url.Values, key string) (int64, error) {
	s := v.Get(key)
	if s == "" {
		return 0, httpapi.InvalidParams(key + ": required (milliseconds since the epoch)")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxMillis {
		return 0, httpapi.InvalidParams(key + ": must be milliseconds since the epoch")
	}
	return n, nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// parseMintime reads the v1 logs' mintime (seconds, default 0).
func parseMintime(v url.Values) (time.Time, error) {
	s := v.Get("mintime")
	if s == "" {
		return time.Unix(0, 0), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxMillis/1000 {
		return time.Time{}, httpapi.InvalidParams("mintime: must be seconds since the epoch")
	}
	return time.Unix(n, 0), nil
}

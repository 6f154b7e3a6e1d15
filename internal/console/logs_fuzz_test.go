package console

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"strings"
	"testing"
	"time"
)

// nowCore is a Core whose only method in use is Now (window reads it).
type nowCore struct {
	Core
	now time.Time
}

func (c nowCore) Now() time.Time { return c.now }

// FuzzLogQuery feeds the log pages' query parsers arbitrary input (they
// read the URL's query): the time filters and both cursors never panic, a
// cursor that parses prints back to one that parses alike, and a window
// has its minimum set.
func FuzzLogQuery(f *testing.F) {
	f.Add("24h", "", "", "1733150000.6f0c2c1e-aa", "1733150000.42")
	f.Add("all", "2026-12-01T10:00", "2026-12-02T10:00", "0.x", "-1.-1")
	f.Add("7d", "2026-13-01T10:00", "yesterday", ".", "1.")
	f.Add("", "", "", "99999999999999999999.a", "1.99999999999999999999")
	c := &Console{Core: nowCore{now: time.Date(2026, 12, 2, 19, 0, 0, 0, time.UTC)}}
	f.Fuzz(func(t *testing.T, rng, from, to, authCur, adminCur string) {
		min, max, words, err := c.window(url.Values{"range": {rng}, "from": {from}, "to": {to}})
		if err == nil && (min.IsZero() || words == "") {
			t.Fatalf("window(%q, %q, %q) = %v, %v, %q", rng, from, to, min, max, words)
		}
		if cur, ok := parseAuthCursor(authCur); ok {
			again, ok := parseAuthCursor(authCursorOf(cur.Time, cur.TxID))
			if !ok || !again.Time.Equal(cur.Time) || again.TxID != cur.TxID {
				t.Fatalf("auth cursor %q: %+v, printed and read again %+v", authCur, cur, again)
			}
		}
		if cur, ok := parseAdminCursor(adminCur); ok {
			if again, ok := parseAdminCursor(adminCursorOf(cur.Time, cur.ID)); !ok || again != cur {
				t.Fatalf("admin cursor %q: %+v, printed and read again %+v", adminCur, cur, again)
			}
		}
	})
}

// FuzzCSVCell: whatever a log row holds, its CSV cell reads back as
// written and never starts with a character a spreadsheet would take for
// a formula.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"alice", "=1+2", "-2", "+1", "@x", "\t=1", "\r=1", `a,"b"` + "\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.Contains(s, "\r") && strings.ToValidUTF8(s, "") == s {
			var b bytes.Buffer
			w := csv.NewWriter(&b)
			if err := csvRow(w, s, "x"); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			rec, err := csv.NewReader(&b).Read()
			if err != nil || len(rec) != 2 || rec[0] != csvCell(s) {
				t.Fatalf("cell %q read back as %q (%v), want %q", s, rec, err, csvCell(s))
			}
		}
		if out := csvCell(s); out != "" && strings.ContainsRune("=+-@\t\r", rune(out[0])) {
			t.Fatalf("csvCell(%q) = %q starts with a formula character", s, out)
		}
	})
}

package console

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
)

func TestCSVCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"alice", "alice"},
		{"=1+2", "'=1+2"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{"'=1", "'=1"},
		{"2001:db8::1", "2001:db8::1"},
	} {
		if got := csvCell(tc.in); got != tc.want {
			t.Errorf("csvCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Quoting: commas, quotes and line breaks survive a round trip.
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := csvRow(w, `a,"b"`, "x\ny", "=cmd"); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if got, want := b.String(), "\"a,\"\"b\"\"\",\"x\ny\",'=cmd\n"; got != want {
		t.Errorf("csv row = %q, want %q", got, want)
	}
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 6: 10, 11: 20, 49: 50, 51: 100, 1000: 1000, 1001: 2000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestChartBars(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	v := chart("c", "T", "hour", []auth.AuthBucket{{Start: t0}, {Start: t0.Add(time.Hour), Allowed: 3, Denied: 1, Fraud: 1}},
		func(t time.Time) string { return t.Format("15:04") }, 1)
	if len(v.Bars) != 2 || len(v.Bars[0].Segs) != 0 || len(v.Bars[1].Segs) != 3 {
		t.Fatalf("bars = %+v", v.Bars)
	}
	// Five fits the plot exactly: the stack reaches the top.
	if top := v.Bars[1].Segs[2]; top.Class != "bar-fraud" || top.Y != f1(padTop) {
		t.Errorf("top segment = %+v, want y %v", top, f1(padTop))
	}
	if v.Empty || v.Summary != "T: 3 allowed, 1 denied, 1 reported as fraud. The busiest hour was 01:00, with 5." {
		t.Errorf("summary = %q", v.Summary)
	}
}

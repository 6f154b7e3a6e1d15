package frame

import (
	"net/url"
	"strings"
	"testing"
)

const (
	rawTX  = "TX|dXNlcit8REkxMjM0NTY3ODkwMTIzNDU2Nzh8MTcwMDAwMDAwMA==|0123abcd"
	parent = "https://app.example/login?next=/a&b=c d"
)

func TestParseFrameQuery(t *testing.T) {
	t.Parallel()
	// encodeURIComponent, as Duo-Web-v2.js 2.9 uses it.
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	for _, tc := range []struct {
		name string
		raw  string
		want frameParams
	}{
		{"v2.9 both encoded", "tx=" + enc(rawTX) + "&parent=" + enc(parent) + "&v=2.9",
			frameParams{rawTX, parent, "2.9"}},
		{"path-escaped parent keeps its &", "tx=" + enc(rawTX) + "&parent=" + url.PathEscape(parent) + "&v=2.9",
			frameParams{rawTX, parent, "2.9"}},
		{"v2.3 parent encoded, tx raw with + and =", "tx=" + rawTX + "&parent=" + url.PathEscape(parent) + "&v=2.3",
			frameParams{rawTX, parent, "2.3"}},
		{"v2.1 neither encoded", "tx=" + rawTX + "&parent=https://app.example/login?next=/a&b=c&v=2.1",
			frameParams{rawTX, "https://app.example/login?next=/a&b=c", "2.1"}},
		{"v2.2 parent with its own &v=", "tx=" + rawTX + "&parent=https://app.example/?x=1&v=9&v=2.2",
			frameParams{rawTX, "https://app.example/?x=1&v=9", "2.2"}},
		{"v1 jQuery.param, no v", "tx=" + url.QueryEscape(rawTX) + "&parent=" + url.QueryEscape("https://app.example/"),
			frameParams{rawTX, "https://app.example/", ""}},
		{"parent first", "parent=https%3A%2F%2Fapp.example%2F&tx=" + url.PathEscape(rawTX),
			frameParams{rawTX, "https://app.example/", ""}},
		{"sorted keys: parent, tx, v", url.Values{"tx": {rawTX}, "parent": {"https://app.example/?a=1&tx=2"}, "v": {"2.9"}}.Encode(),
			frameParams{rawTX, "https://app.example/?a=1&tx=2", "2.9"}},
		{"missing", "v=2.9", frameParams{"", "", "2.9"}},
		{"empty", "", frameParams{}},
		{"bad escape kept raw", "tx=TX%zz&parent=https://a.example/", frameParams{"TX%zz", "https://a.example/", ""}},
		{"too long", "tx=" + strings.Repeat("A", maxFrameQuery), frameParams{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseFrameQuery(tc.raw)
			if got != tc.want {
				t.Errorf("parseFrameQuery(%q)\n got  %+v\n want %+v", tc.raw, got, tc.want)
			}
		})
	}
}

func FuzzParseFrameQuery(f *testing.F) {
	for _, s := range []string{
		"tx=" + rawTX + "&parent=https://app.example/&v=2.1",
		"tx=" + url.QueryEscape(rawTX) + "&parent=" + url.QueryEscape(parent) + "&v=2.9",
		"parent=&tx=&v=", "&&&tx=&parent=%", "tx=%ZZ", "v=2.9&parent=x&v=y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p := parseFrameQuery(raw)
		// Whatever comes back was in the query (decoded or not).
		if len(p.tx) > len(raw) || len(p.parent) > len(raw) || len(p.v) > len(raw) {
			t.Fatalf("parseFrameQuery(%q) = %+v: longer than the input", raw, p)
		}
		if p.tx != "" && !strings.Contains(raw, "tx=") {
			t.Fatalf("tx %q without tx= in %q", p.tx, raw)
		}
	})
}

package cfg

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/testutil"
)

// flat is a parsed INI file as comparable data: section name, then
// key/value pairs in order.
type flat [][2]any

func flatten(f *File) flat {
	out := flat{}
	for _, s := range f.Sections {
		kv := [][2]string{}
		for _, e := range s.Entries {
			kv = append(kv, [2]string{e.Key, e.Value})
		}
		out = append(out, [2]any{s.Name, kv})
	}
	return out
}

func TestINISyntax(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    string
		want  string // fmt of flatten
		errs  []string
		warns []string
	}{
		{"equals and colon", "[a]\nk = v\nK2: v2\nk3=v=w\nk4: x=y:z\n",
			"[[a [[k v] [k2 v2] [k3 v=w] [k4 x=y:z]]]]", nil, nil},
		{"first delimiter wins", "[a]\nurl: http://x\nip = ::1\n",
			"[[a [[url http://x] [ip ::1]]]]", nil, nil},
		{"empty value", "[a]\nk =\nk2:\n", "[[a [[k ] [k2 ]]]]", nil, nil},
		{"comments anywhere, not inline", "# top\n; top\n[a]\n  # indented comment\nk = v ; not a comment\n; x = y\n",
			"[[a [[k v ; not a comment]]]]", nil, nil},
		{"continuation lines", "[a]\nk = one\n  two\n\n\tthree\n\n\nk2 = x\n",
			"[[a [[k one\ntwo\n\nthree] [k2 x]]]]", nil, nil},
		{"continuation after empty value", "[a]\nk =\n  v1\n  v2\n", "[[a [[k \nv1\nv2]]]]", nil, nil},
		{"comment inside a continued value", "[a]\nk = v\n# c\n  w\n", "[[a [[k v\nw]]]]", nil, nil},
		{"indented key after indented key", "[a]\n  k = v\n  k2 = w\n", "[[a [[k v] [k2 w]]]]", nil, nil},
		{"indented key continues the value", "[a]\nhost = x\n  host_2 = y\n",
			"[[a [[host x\nhost_2 = y]]]]", nil, []string{"3:host:continuation"}},
		{"CRLF, CR and LF mixed", "[a]\r\nk = v\rk2 = w\nk3 = z\r\n", "[[a [[k v] [k2 w] [k3 z]]]]", nil, nil},
		{"BOM", "\ufeff[a]\nk = v\n", "[[a [[k v]]]]", nil, nil},
		{"no final newline", "[a]\nk = v", "[[a [[k v]]]]", nil, nil},
		{"keys lower-cased, section names kept", "[Radius_Server_Auto]\nIKEY = x\n", "[[Radius_Server_Auto [[ikey x]]]]", nil, nil},
		{"header whitespace and trailing text", "[ a ]\n[b] ; c\n", "[[a []] [b []]]", nil, []string{"2::ignored"}},
		{"bracket inside header", "[a]b]\n", "[[a]b []]]", nil, nil},
		{"duplicate section, any case", "[a]\nk = 1\n[A]\nk = 2\nj = 3\n", "[[a [[k 1]]]]", []string{"3::duplicate section"}, nil},
		{"duplicate key, any case", "[a]\nk = 1\nK = 2\n  cont\n", "[[a [[k 1]]]]", []string{"3:k:duplicate key"}, nil},
		{"key before any section", "k = v\nj = w\n[a]\n", "[[a []]]", []string{"1::outside any section"}, nil},
		{"line without delimiter", "[a]\njunk\nk = v\n", "[[a [[k v]]]]", []string{"2::not a \"key = value\""}, nil},
		{"empty key", "[a]\n= v\n", "[[a []]]", []string{"2::no key"}, nil},
		{"empty section name", "[]\nk = v\n", "[]", []string{"1::outside any section"}, nil},
		{"empty section name with space", "[ ]\nk = v\n", "[]", []string{"1::empty section name"}, nil},
		{"invalid UTF-8", "[a]\nk = \xff\n", "[[a [[k \uFFFD]]]]", []string{"2::UTF-8"}, nil},
		{"tabs and unicode spaces trimmed", "[a]\n\tk\t=\tv\u00a0\n", "[[a [[k v]]]]", nil, nil},
	} {
		f, errs, warns := parseINI("t.cfg", []byte(tc.in))
		if got := fmt.Sprint(flatten(f)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		matchProblems(t, tc.name+" errors", errs, tc.errs)
		matchProblems(t, tc.name+" warnings", warns, tc.warns)
	}
}

// matchProblems checks problems against "line:key:substring" patterns.
func matchProblems(t *testing.T, what string, ps []Problem, want []string) {
	t.Helper()
	if len(ps) != len(want) {
		t.Errorf("%s: got %v, want %v", what, ps, want)
		return
	}
	for i, w := range want {
		parts := strings.SplitN(w, ":", 3)
		if fmt.Sprint(ps[i].Line) != parts[0] || ps[i].Key != parts[1] || !strings.Contains(ps[i].Msg, parts[2]) {
			t.Errorf("%s: problem %d = %+v, want %s", what, i, ps[i], w)
		}
	}
}

// pythonReader parses a file with Python's own ConfigParser, configured as
// Duo's proxy configures it, and prints the result as JSON. utf-8-sig
// mirrors Assent's tolerance of a byte order mark.
const pythonReader = `
import configparser, json, sys
results = []
for path in sys.argv[1:]:
    p = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8-sig") as f:
            p.read_file(f)
    except configparser.Error as e:
        results.append({"error": type(e).__name__})
        continue
    results.append({"sections": [[s, [[k, v] for k, v in p.items(s, raw=True)]] for s in p.sections()]})
print(json.dumps(results))
`

// TestMatchesPythonConfigParser compares the parser with the real
// ConfigParser on tricky inputs: both must accept or both reject, and agree
// on every section, key and value.
func TestMatchesPythonConfigParser(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	testutil.Require(t, "python3", err == nil)
	inputs := []string{
		"[a]\nk = v\nK2: v2\nk3=v=w\nk4: x=y:z\n",
		"[a]\nurl: http://x\nip = ::1\n",
		"[a]\nk =\nk2:\n",
		"# top\n; top\n[a]\n  # indented comment\nk = v ; not a comment\n; x = y\n",
		"[a]\nk = one\n  two\n\n\tthree\n\n\nk2 = x\n",
		"[a]\nk =\n  v1\n  v2\n",
		"[a]\nk = v\n# c\n  k2 = w\n",
		"[a]\n  k = v\n  k2 = w\n",
		"[a]\nhost = x\n  host_2 = y\n",
		"[a]\r\nk = v\rk2 = w\nk3 = z\r\n",
		"\ufeff[a]\nk = v\n",
		"[a]\nk = v",
		"[Radius_Server_Auto]\nIKEY = x\n",
		"[b] ; c\nk=1\n",
		"[a]b]\n",
		"[a]\nk = 1\nK = 2\n",
		"k = v\n[a]\n",
		"[a]\njunk\n",
		"[a]\n= v\n",
		"[]\nk = v\n",
		"[a]\n\tk\t=\tv\u00a0\n",
		"[a]\nk = v\n\n  \n  w\n\n",
		"[a]\nk = v\n [b]\n",
		"[a]\n  k = v\n    more\n  k2 = w\n",
		"[a]\nk = v\n\n[b]\nk = w\n",
		"[a]\nkey with spaces = v\n",
		"[a]\nk : v : w\n",
	}
	// The testdata files too (they only use unique section names).
	files, _ := filepath.Glob(filepath.Join("testdata", "*.cfg"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(data))
	}
	script := filepath.Join(t.TempDir(), "read.py")
	if err := os.WriteFile(script, []byte(pythonReader), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{script}
	for i, in := range inputs {
		path := filepath.Join(dir, fmt.Sprintf("in%d.cfg", i))
		if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var results []struct {
		Error    string
		Sections [][2]any
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(inputs) {
		t.Fatalf("python output %q: %v", out, err)
	}
	for i, in := range inputs {
		res := results[i]
		f, errs, _ := parseINI("t.cfg", []byte(in))
		if (res.Error != "") != (len(errs) > 0) {
			t.Errorf("input %q: python error %q, ours %v", in, res.Error, errs)
			continue
		}
		if res.Error != "" {
			continue
		}
		ours, _ := json.Marshal(flatten(f))
		theirs, _ := json.Marshal(res.Sections)
		if !reflect.DeepEqual(normJSON(t, ours), normJSON(t, theirs)) {
			t.Errorf("input %q:\n ours   %s\n python %s", in, ours, theirs)
		}
	}
}

func normJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		v = []any{}
	}
	return v
}

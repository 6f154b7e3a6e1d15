package cfg

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files to the parser and the validator. They
// must never panic; a rejected file yields *Errors whose problems carry the
// file name and a line inside the file; an accepted one has at least one
// server with at least one network; and what the INI layer read must read
// back the same after being written out again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.cfg"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"[a]\nk = one\n  two\n\n\tthree\n",
		"\ufeff[main]\r\ndebug: 1\rk=v",
		"[radius_server_auto]\nradius_ip_1 = 10.0.0.1-10.0.0.9\nradius_ip_2 = ::/0\n",
		"[a]\nk=v\n[A]\nK=w\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz/authproxy.cfg"
		c, warns, err := parseBytes(name, "fuzz", data)
		lines := len(splitLines(data))
		check := func(ps []Problem) {
			for _, p := range ps {
				if p.File != name || p.Line < 0 || p.Line > lines || p.Msg == "" {
					t.Fatalf("bad problem %+v (file has %d lines)", p, lines)
				}
			}
		}
		check(warns)
		if err != nil {
			var e *Errors
			if !errors.As(err, &e) || len(e.Problems) == 0 || c != nil {
				t.Fatalf("error %v (%T), config %v", err, err, c)
			}
			check(e.Problems)
		} else {
			if len(c.Servers) == 0 {
				t.Fatal("accepted without a server section")
			}
			for _, s := range c.Servers {
				if len(s.Networks) == 0 || s.Port < 1 || s.Port > 65535 {
					t.Fatalf("accepted server %+v", s)
				}
			}
		}

		ini, errs, _ := parseINI(name, data)
		if len(errs) > 0 {
			return
		}
		again, errs2, _ := parseINI(name, []byte(writeINI(ini)))
		if len(errs2) > 0 || !reflect.DeepEqual(flatten(ini), flatten(again)) {
			t.Fatalf("round trip of %q:\n%q\nfirst  %v\nsecond %v\nerrors %v", data, writeINI(ini), flatten(ini), flatten(again), errs2)
		}
	})
}

// writeINI writes a parsed file back out; continuation lines are indented.
func writeINI(f *File) string {
	var b strings.Builder
	for _, s := range f.Sections {
		b.WriteString("[" + s.Name + "]\n")
		for _, e := range s.Entries {
			first, rest, _ := strings.Cut(e.Value, "\n")
			b.WriteString(e.Key + " = " + first + "\n")
			if rest != "" || strings.Contains(e.Value, "\n") {
				for _, l := range strings.Split(rest, "\n") {
					if l != "" {
						b.WriteString("  " + l)
					}
					b.WriteString("\n")
				}
			}
		}
	}
	return b.String()
}

package cfg

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// File is an INI file as Python's ConfigParser(interpolation=None) reads
// it, before any meaning is given to sections or keys.
type File struct {
	Name     string
	Sections []*Section
}

// Section is one [name] block. Name is as written (trimmed); ID is the
// lower-cased name used for lookups, because section names are compared
// case-insensitively.
type Section struct {
	Name    string
	ID      string
	Line    int
	Entries []*Entry
	byKey   map[string]*Entry
}

// Entry is one key. Key is lower-cased (ConfigParser's optionxform);
// Value has continuation lines joined with "\n".
type Entry struct {
	Key   string
	Value string
	Line  int
	// contLines are the line numbers of continuation lines, for messages.
	contLines []int
}

// Get returns the entry for a lower-cased key, or nil.
func (s *Section) Get(key string) *Entry { return s.byKey[key] }

// parseINI reads data with ConfigParser's rules: "key = value" or
// "key: value" (split at the first = or :), full-line comments starting
// with # or ; (also when indented, and skipped even inside a continued
// value), indented lines continuing the previous value, blank lines kept inside a continued value but trailing ones
// dropped, keys lower-cased, duplicate sections (case-insensitive) and
// duplicate keys reported. Line endings may be LF, CRLF or CR, mixed; a
// UTF-8 byte order mark is skipped. Every problem is collected.
func parseINI(name string, data []byte) (*File, []Problem, []Problem) {
	p := iniParser{f: &File{Name: name}, sections: map[string]*Section{}}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	for i, raw := range splitLines(data) {
		p.line(i+1, raw)
	}
	for _, s := range p.f.Sections {
		for _, e := range s.Entries {
			// ConfigParser joins the lines and strips trailing whitespace,
			// which removes blank lines kept after the last continuation.
			e.Value = strings.TrimRightFunc(e.Value, unicode.IsSpace)
		}
	}
	return p.f, p.errs, p.warns
}

type iniParser struct {
	f           *File
	sections    map[string]*Section
	cur         *Section // nil before the first header
	curEntry    *Entry   // the key continuation lines attach to; nil after a header
	indent      int      // indentation of the line that started the current key
	skipSection bool     // inside a section whose header was rejected
	errs, warns []Problem
}

func (p *iniParser) errf(line int, sec, key, format string, args ...any) {
	p.errs = append(p.errs, Problem{File: p.f.Name, Line: line, Section: sec, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *iniParser) warnf(line int, sec, key, format string, args ...any) {
	p.warns = append(p.warns, Problem{File: p.f.Name, Line: line, Section: sec, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *iniParser) secName() string {
	if p.cur == nil {
		return ""
	}
	return p.cur.Name
}

func (p *iniParser) line(n int, raw []byte) {
	if !utf8.Valid(raw) {
		p.errf(n, p.secName(), "", "line is not valid UTF-8; save the file as UTF-8")
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	line := string(raw)
	stripped := strings.TrimSpace(line)
	comment := strings.HasPrefix(stripped, "#") || strings.HasPrefix(stripped, ";")
	if comment {
		return // comments are skipped, even between continuation lines
	}
	if stripped == "" {
		if p.curEntry != nil {
			// A blank line inside a value is kept (trailing ones are
			// trimmed at the end), as with empty_lines_in_values.
			p.curEntry.Value += "\n"
		}
		return
	}
	indent := len(line) - len(strings.TrimLeftFunc(line, unicode.IsSpace))
	if p.curEntry != nil && indent > p.indent {
		p.continuation(n, stripped)
		return
	}
	p.indent = indent
	if strings.HasPrefix(stripped, "[") {
		if end := strings.LastIndex(stripped, "]"); end > 1 {
			p.header(n, stripped, end)
			return
		}
	}
	if p.cur == nil {
		if !p.skipSection {
			p.errf(n, "", "", "%q is outside any section; the file must start with a [section] header", clip(stripped))
			p.skipSection = true // report once, not for every line before the first header
		}
		return
	}
	i := strings.IndexAny(stripped, "=:")
	if i < 0 {
		p.errf(n, p.secName(), "", "%q is not a \"key = value\" line", clip(stripped))
		p.curEntry = nil
		return
	}
	key := strings.ToLower(strings.TrimSpace(stripped[:i]))
	value := strings.TrimSpace(stripped[i+1:])
	if key == "" {
		p.errf(n, p.secName(), "", "%q has no key before %q", clip(stripped), stripped[i:i+1])
		p.curEntry = nil
		return
	}
	e := &Entry{Key: key, Value: value, Line: n}
	p.curEntry = e
	if p.skipSection {
		return
	}
	if first := p.cur.byKey[key]; first != nil {
		p.errf(n, p.secName(), key, "duplicate key (first set on line %d); each key may appear once per section", first.Line)
		return // continuation lines go to the discarded duplicate
	}
	p.cur.byKey[key] = e
	p.cur.Entries = append(p.cur.Entries, e)
}

func (p *iniParser) continuation(n int, stripped string) {
	e := p.curEntry
	e.Value += "\n" + stripped
	e.contLines = append(e.contLines, n)
	if looksLikeKey(stripped) && !p.skipSection {
		p.warnf(n, p.secName(), e.Key,
			"line %d is indented, so ConfigParser reads it as a continuation of %q (line %d), not as a key of its own; remove the indentation if it is meant as a key",
			n, e.Key, e.Line)
	}
}

func (p *iniParser) header(n int, stripped string, end int) {
	name := strings.TrimSpace(stripped[1:end])
	p.curEntry = nil
	if rest := strings.TrimSpace(stripped[end+1:]); rest != "" {
		p.warnf(n, name, "", "text after the section header is ignored: %q", clip(rest))
	}
	if name == "" {
		p.errf(n, "", "", "empty section name")
		p.cur, p.skipSection = nil, true
		return
	}
	id := strings.ToLower(name)
	if first := p.sections[id]; first != nil {
		p.errf(n, name, "", "duplicate section (first on line %d as [%s]); section names are not case-sensitive and may appear once", first.Line, first.Name)
		// Keys of the duplicate are read into a throwaway section so that
		// they are still checked for syntax but do not count twice.
		p.cur = &Section{Name: name, ID: id, Line: n, byKey: map[string]*Entry{}}
		p.skipSection = true
		return
	}
	s := &Section{Name: name, ID: id, Line: n, byKey: map[string]*Entry{}}
	p.sections[id] = s
	p.f.Sections = append(p.f.Sections, s)
	p.cur, p.skipSection = s, false
}

// looksLikeKey reports whether a continuation line has the shape of a
// "key = value" line with a plausible key, which usually means an
// accidentally indented key.
func looksLikeKey(s string) bool {
	i := strings.IndexAny(s, "=:")
	if i <= 0 {
		return false
	}
	k := strings.TrimSpace(s[:i])
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// splitLines splits on LF, CRLF and lone CR, like Python's universal
// newlines. A final line without a terminator is kept.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:i])
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return lines
}

// clip shortens text quoted in messages.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

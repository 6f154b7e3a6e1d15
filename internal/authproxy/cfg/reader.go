package cfg

import (
	"crypto/x509"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decoder turns parsed sections into the typed model, collecting every
// problem on the way.
type decoder struct {
	file    string
	baseDir string // relative paths are resolved against it
	errs    []Problem
	warns   []Problem
}

func (d *decoder) add(list *[]Problem, line int, sec *Section, key, format string, args ...any) {
	p := Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	if sec != nil {
		p.Section = sec.Name
	}
	*list = append(*list, p)
}

// resolvePath resolves a relative path from the file. Duo resolves them
// against its install directory, the parent of conf/; when the file lives
// in a directory named conf the same base is used, otherwise the file's
// own directory.
func (d *decoder) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	base := d.baseDir
	if filepath.Base(base) == "conf" {
		base = filepath.Dir(base)
	}
	return filepath.Join(base, p)
}

// reader reads the keys of one section; every key it is asked about counts
// as known, and whatever is left afterwards is reported as unknown.
type reader struct {
	d      *decoder
	s      *Section
	family string // key family for unknown-key messages (see knownKeys)
	used   map[string]bool
}

func (d *decoder) reader(s *Section, family string) *reader {
	return &reader{d: d, s: s, family: family, used: map[string]bool{}}
}

func (r *reader) errf(e *Entry, key, format string, args ...any) {
	line := r.s.Line
	if e != nil {
		line = e.Line
	}
	r.d.add(&r.d.errs, line, r.s, key, format, args...)
}

func (r *reader) warnf(e *Entry, key, format string, args ...any) {
	line := r.s.Line
	if e != nil {
		line = e.Line
	}
	r.d.add(&r.d.warns, line, r.s, key, format, args...)
}

// get returns the entry for key (nil if absent) and marks it known.
func (r *reader) get(key string) *Entry {
	r.used[key] = true
	return r.s.Get(key)
}

// invalid reports a bad value with what is allowed.
func (r *reader) invalid(e *Entry, allowed string) {
	r.errf(e, e.Key, "invalid value %q: %s", clip(e.Value), allowed)
}

func (r *reader) str(key, def string) string {
	if e := r.get(key); e != nil {
		return e.Value
	}
	return def
}

// required returns the value of a key that must be present and non-empty.
func (r *reader) required(key, what string) (string, *Entry) {
	e := r.get(key)
	if e == nil {
		r.errf(nil, key, "missing: %s is required", what)
		return "", nil
	}
	if e.Value == "" {
		r.errf(e, key, "empty: %s is required", what)
		return "", e
	}
	return e.Value, e
}

func (r *reader) boolean(key string, def bool) bool {
	e := r.get(key)
	if e == nil {
		return def
	}
	b, ok := parseBool(e.Value)
	if !ok {
		r.invalid(e, "allowed: true or false (any case), or an integer (0 = false)")
		return def
	}
	return b
}

// parseBool follows Duo: true/false in any case, or an integer where 0 is
// false.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	if n, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, 64); err == nil {
		return n != 0, true
	}
	return false, false
}

func (r *reader) integer(key string, def, lo, hi int, allowed string) int {
	e := r.get(key)
	if e == nil {
		return def
	}
	n, err := strconv.Atoi(strings.TrimPrefix(e.Value, "+"))
	if err != nil || n < lo || n > hi {
		r.invalid(e, allowed)
		return def
	}
	return n
}

func (r *reader) port(key string, def int) int {
	return r.integer(key, def, 1, 65535, "a port number from 1 to 65535")
}

func (r *reader) portEntry(e *Entry, def int) int {
	if e == nil {
		return def
	}
	n, err := strconv.Atoi(strings.TrimPrefix(e.Value, "+"))
	if err != nil || n < 1 || n > 65535 {
		r.invalid(e, "a port number from 1 to 65535")
		return def
	}
	return n
}

// seconds reads a whole number of seconds of at least lo.
func (r *reader) seconds(key string, def time.Duration, lo int) time.Duration {
	n := r.integer(key, -1, lo, math.MaxInt32, fmt.Sprintf("a whole number of seconds, at least %d", lo))
	if n < 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// enum reads a value that Duo lower-cases before comparing.
func (r *reader) enum(key, def string, allowed ...string) string {
	e := r.get(key)
	if e == nil {
		return def
	}
	v := strings.ToLower(e.Value)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.invalid(e, "allowed: "+strings.Join(allowed, ", "))
	return def
}

// singleIP reads an optional single IPv4 or IPv6 address.
func (r *reader) singleIP(key string) netip.Addr {
	e := r.get(key)
	if e == nil || e.Value == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(e.Value)
	if err != nil || a.Zone() != "" {
		r.invalid(e, "a single IPv4 or IPv6 address (no name, range or CIDR)")
		return netip.Addr{}
	}
	return a.Unmap()
}

// secret reads key or reports its Windows-encrypted twin key_protected.
func (r *reader) secret(key string, required bool, what string) Secret {
	e := r.get(key)
	pe := r.get(protectedName(key))
	if pe != nil {
		r.protected(pe, key)
		if e != nil {
			r.errf(pe, pe.Key, "set either %s or %s, not both", key, pe.Key)
		}
		if e == nil {
			return ""
		}
	}
	if e == nil {
		if required && pe == nil {
			r.errf(nil, key, "missing: %s is required", what)
		}
		return ""
	}
	if e.Value == "" && required {
		r.errf(e, key, "empty: %s is required", what)
	}
	r.quoted(e)
	return Secret(e.Value)
}

// protectedName maps a protectable key to its DPAPI twin:
// radius_secret_3 → radius_secret_protected_3, skey → skey_protected.
func protectedName(key string) string {
	if n, ok := strings.CutPrefix(key, "radius_secret_"); ok {
		return "radius_secret_protected_" + n
	}
	return key + "_protected"
}

func (r *reader) protected(e *Entry, plain string) {
	r.errf(e, e.Key, "encrypted with Windows DPAPI by Duo's authproxy_passwd, which only Windows can decrypt; "+
		"put the plain value in %s instead and restrict who can read the file (chmod 600)", plain)
}

// quoted warns when a value is wrapped in quotes, which INI files keep as
// part of the value.
func (r *reader) quoted(e *Entry) {
	v := e.Value
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		r.warnf(e, e.Key, "the value is wrapped in quotes, and the quotes are part of it (authproxy.cfg values are not quoted)")
	}
}

// path reads an optional file path, resolves it and checks that it is a
// readable file; pem also checks that it holds at least one certificate.
func (r *reader) path(key string, pem bool) string {
	e := r.get(key)
	if e == nil || e.Value == "" {
		return ""
	}
	p := r.d.resolvePath(e.Value)
	data, err := os.ReadFile(p)
	switch {
	case err != nil:
		r.errf(e, key, "cannot read %s: %v", p, unwrapPathErr(err))
	case pem && !x509.NewCertPool().AppendCertsFromPEM(data):
		r.errf(e, key, "%s holds no PEM certificate", p)
	}
	return p
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// list reads a comma-separated list (continuation lines allowed).
func (r *reader) list(key string) ([]string, *Entry) {
	e := r.get(key)
	if e == nil {
		return nil, nil
	}
	var out []string
	for _, f := range strings.FieldsFunc(e.Value, func(c rune) bool { return c == ',' || c == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out, e
}

// numbered returns the entries stem_N (N all digits) by N as written,
// sorted by N's value, and marks them known.
func (r *reader) numbered(stem string) []numberedEntry {
	var out []numberedEntry
	for _, e := range r.s.Entries {
		n, ok := strings.CutPrefix(e.Key, stem+"_")
		if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
			continue
		}
		r.used[e.Key] = true
		idx, err := strconv.Atoi(n)
		if err != nil || idx > math.MaxInt32 {
			r.errf(e, e.Key, "the number in %s is too large", e.Key)
			continue
		}
		out = append(out, numberedEntry{N: n, Index: idx, E: e})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].N < out[j].N
	})
	return out
}

type numberedEntry struct {
	N     string // digits as written ("01" and "1" are different keys)
	Index int
	E     *Entry
}

// sequence reads stem (or stem_1), stem_2, stem_3, … until the first gap,
// as Duo does for host and exempt_username lists. withBare allows the
// unnumbered first key. Keys after a gap are reported and ignored.
func (r *reader) sequence(stem string, withBare bool, firstIndex int) []*Entry {
	all := r.numbered(stem)
	byN := map[string]*Entry{}
	for _, ne := range all {
		byN[ne.N] = ne.E
	}
	var out []*Entry
	if withBare {
		bare, one := r.get(stem), byN["1"]
		switch {
		case bare != nil && one != nil:
			r.errf(one, one.Key, "%s and %s both name the first entry; keep one", stem, one.Key)
			out = append(out, bare)
		case bare != nil:
			out = append(out, bare)
		case one != nil:
			out = append(out, one)
		}
		if len(out) == 0 {
			return r.ignoredAfterGap(all, stem, map[*Entry]bool{})
		}
		firstIndex = 2
	}
	taken := map[*Entry]bool{}
	for _, e := range out {
		taken[e] = true
	}
	if withBare && byN["1"] != nil {
		taken[byN["1"]] = true
	}
	for i := firstIndex; ; i++ {
		e := byN[strconv.Itoa(i)]
		if e == nil {
			break
		}
		out = append(out, e)
		taken[e] = true
	}
	r.ignoredAfterGap(all, stem, taken)
	return out
}

func (r *reader) ignoredAfterGap(all []numberedEntry, stem string, taken map[*Entry]bool) []*Entry {
	for _, ne := range all {
		if !taken[ne.E] {
			r.warnf(ne.E, ne.E.Key, "ignored: %s_N keys are read from the first one upward and stop at the first missing number", stem)
		}
	}
	return nil
}

// unknown reports every key of the section that nothing asked about.
func (r *reader) unknown() {
	for _, e := range r.s.Entries {
		if r.used[e.Key] {
			continue
		}
		r.errf(e, e.Key, "%s", unknownKeyMessage(r.family, e.Key))
	}
}

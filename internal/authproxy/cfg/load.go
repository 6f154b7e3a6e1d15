package cfg

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxFileSize bounds what is read; real files are a few kilobytes.
const maxFileSize = 4 << 20

// Load reads and validates the file at path. Relative paths inside the
// file (log_dir, CA bundles) are resolved against the file's directory, or
// against its parent when that directory is named conf (Duo's layout).
// The error, if any, is an *Errors listing every problem; warnings are
// returned either way.
func Load(path string) (*Config, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &Errors{Problems: []Problem{{File: path, Msg: fmt.Sprintf("cannot open: %v", unwrapPathErr(err))}}}
	}
	defer f.Close()
	var warns []Warning
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o006 != 0 {
		warns = append(warns, Problem{File: path, Msg: fmt.Sprintf(
			"the file is readable or writable by every user (mode %#o) and holds secrets; restrict it, e.g. chmod 600", st.Mode().Perm())})
	}
	data, err := readAll(path, f)
	if err != nil {
		return nil, warns, err
	}
	base := filepath.Dir(path)
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	c, w, err := parseBytes(path, base, data)
	return c, append(warns, w...), err
}

// Parse reads and validates a configuration from r; name is used in
// messages and, through its directory, to resolve relative paths.
func Parse(name string, r io.Reader) (*Config, []Warning, error) {
	data, err := readAll(name, r)
	if err != nil {
		return nil, nil, err
	}
	return parseBytes(name, filepath.Dir(name), data)
}

func readAll(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, &Errors{Problems: []Problem{{File: name, Msg: fmt.Sprintf("cannot read: %v", err)}}}
	}
	if len(data) > maxFileSize {
		return nil, &Errors{Problems: []Problem{{File: name, Msg: fmt.Sprintf("larger than %d bytes; this is not an authproxy.cfg", maxFileSize)}}}
	}
	return data, nil
}

func parseBytes(name, baseDir string, data []byte) (*Config, []Warning, error) {
	ini, errs, warns := parseINI(name, data)
	d := &decoder{file: name, baseDir: baseDir, errs: errs, warns: warns}
	c := d.decode(ini)
	sortProblems(d.errs)
	sortProblems(d.warns)
	if len(d.errs) > 0 {
		return nil, d.warns, &Errors{Problems: d.errs}
	}
	return c, d.warns, nil
}

func (d *decoder) decode(f *File) *Config {
	c := &Config{
		File:           f.Name,
		ADClients:      map[string]*ADClient{},
		RadiusClients:  map[string]*RadiusClient{},
		DuoOnlyClients: map[string]*DuoOnlyClient{},
	}
	// [main] first: its settings flow into the other sections.
	var mainSec *Section
	for _, s := range f.Sections {
		if s.ID == famMain {
			mainSec = s
		}
	}
	c.Main = d.decodeMain(mainSec)

	clientKinds := map[string]ClientKind{} // every client section, even invalid ones
	var clientOrder []string
	for _, s := range f.Sections {
		if s.ID == famMain {
			continue
		}
		base := sectionBase(s.ID)
		if what, ok := unsupportedSections[base]; ok {
			d.add(&d.errs, s.Line, s, "", "not supported by Assent: [%s] is %s; remove the section (or keep running Duo's proxy for it)", base, what)
			continue
		}
		switch base {
		case famADClient:
			c.ADClients[s.ID] = d.decodeAD(s, &c.Main)
			clientKinds[s.ID] = ClientAD
		case famRadiusClient:
			c.RadiusClients[s.ID] = d.decodeRadiusClient(s, &c.Main)
			clientKinds[s.ID] = ClientRADIUS
		case famDuoOnlyClient:
			c.DuoOnlyClients[s.ID] = d.decodeDuoOnlyClient(s, &c.Main)
			clientKinds[s.ID] = ClientDuoOnly
		case famAuto, famChallenge, famConcat, famDuoOnly:
			c.Servers = append(c.Servers, d.decodeServer(s, base, &c.Main))
			continue
		case famMain:
			d.add(&d.errs, s.Line, s, "", "[main] cannot be numbered; there is one [main] section")
			continue
		case "default":
			d.add(&d.errs, s.Line, s, "", "[%s] would give every section default keys in Python's ConfigParser; Assent does not support it: put the keys in the sections that need them", s.Name)
			continue
		default:
			msg := "unknown section; Assent reads [main], [ad_client], [radius_client], [duo_only_client] and [radius_server_auto|challenge|concat|duo_only], each optionally numbered ([radius_server_auto2])"
			if sug := suggest(base, allSectionBases()); sug != "" {
				msg = fmt.Sprintf("unknown section; did you mean [%s%s]?", sug, s.ID[len(base):])
			}
			d.add(&d.errs, s.Line, s, "", "%s", msg)
			continue
		}
		clientOrder = append(clientOrder, s.ID)
	}
	if len(c.Servers) == 0 {
		d.add(&d.errs, 0, nil, "", "no [radius_server_auto], [radius_server_challenge], [radius_server_concat] or [radius_server_duo_only] section: there is nothing to serve")
	}
	d.resolveClients(c, f, clientKinds, clientOrder)
	d.checkSockets(c)
	return c
}

func (d *decoder) section(f *File, id string) *Section {
	for _, s := range f.Sections {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// resolveClients picks each server section's client (spec §1.1): [main]
// server=X with client=Y forces X's client; else the section's own
// client=; else [main] client= (when [main] does not name a server); else
// the only client section of the file.
func (d *decoder) resolveClients(c *Config, f *File, kinds map[string]ClientKind, order []string) {
	mainSec := d.section(f, famMain)
	m := &c.Main
	mainEntry := func(key string) *Entry {
		if mainSec == nil {
			return nil
		}
		return mainSec.Get(key)
	}
	errAt := func(s *Section, e *Entry, key, format string, args ...any) {
		line := s.Line
		if e != nil {
			line = e.Line
		}
		d.add(&d.errs, line, s, key, format, args...)
	}
	if m.Client != "" {
		if _, ok := kinds[m.Client]; !ok {
			errAt(mainSec, mainEntry("client"), "client", "no client section named [%s]%s", m.Client, haveClients(order))
		}
	}
	if m.Server != "" {
		found := false
		for _, s := range c.Servers {
			found = found || s.Name == m.Server
		}
		if !found {
			errAt(mainSec, mainEntry("server"), "server", "no server section named [%s]", m.Server)
		}
		if m.Client == "" {
			d.add(&d.warns, mainEntry("server").Line, mainSec, "server", "has no effect without client= in [main]")
		}
	}
	used := map[string]bool{}
	for _, s := range c.Servers {
		sec := d.section(f, s.Name)
		own := sec.Get("client")
		if s.Mode == ModeDuoOnly {
			if own != nil && own.Value != "" {
				d.add(&d.warns, own.Line, sec, "client", "ignored: radius_server_duo_only does no primary authentication")
			}
			s.Client = ""
			if e := sec.Get("pass_through_attr_names"); e != nil {
				errAt(sec, e, "pass_through_attr_names", "radius_server_duo_only has no upstream RADIUS server to pass attributes to")
			}
			continue
		}
		name := ""
		switch {
		case m.Server == s.Name && m.Client != "":
			name = m.Client
			if s.Client != "" && s.Client != m.Client {
				d.add(&d.warns, own.Line, sec, "client", "overridden by [main] server=%s client=%s", m.Server, m.Client)
			}
		case s.Client != "":
			name = s.Client
			if _, ok := kinds[name]; !ok {
				errAt(sec, own, "client", "no client section named [%s]%s", name, haveClients(order))
				continue
			}
		case m.Client != "" && m.Server == "":
			name = m.Client
		case len(order) == 1:
			name = order[0]
		case len(order) == 0:
			errAt(sec, nil, "client", "no client section: add [ad_client], [radius_client] or [duo_only_client] for the primary password check (or use [radius_server_duo_only])")
			continue
		default:
			errAt(sec, nil, "client", "missing: the file has several client sections, so each server section needs client=%s", haveClients(order))
			continue
		}
		kind, ok := kinds[name]
		if !ok {
			continue // reported above for [main] client
		}
		s.Client, s.ClientKind = name, kind
		used[name] = true
		if e := sec.Get("pass_through_attr_names"); e != nil && kind != ClientRADIUS {
			errAt(sec, e, "pass_through_attr_names", "only works with a radius_client, and this section's client is [%s]", name)
		}
		if e := sec.Get("pass_through_all"); e != nil && s.PassThroughAll && kind != ClientRADIUS {
			d.add(&d.warns, e.Line, sec, "pass_through_all", "has no effect: this section's client [%s] is not a radius_client", name)
		}
	}
	for _, name := range order {
		if !used[name] {
			sec := d.section(f, name)
			d.add(&d.warns, sec.Line, sec, "", "not used by any server section")
		}
	}
}

func haveClients(order []string) string {
	if len(order) == 0 {
		return " (the file has no client section)"
	}
	names := make([]string, len(order))
	for i, n := range order {
		names[i] = "[" + n + "]"
	}
	return " (one of " + strings.Join(names, ", ") + ")"
}

// checkSockets finds conflicts between server sections: sections on the
// same port and interface share one socket and must not claim the same
// network; overlapping networks there are legal (the smallest wins) but
// worth a warning; a wildcard and a specific address on one port cannot
// both be bound.
func (d *decoder) checkSockets(c *Config) {
	type owner struct {
		s *Server
		n Network
	}
	byPort := map[int][]*Server{}
	for _, s := range c.Servers {
		byPort[s.Port] = append(byPort[s.Port], s)
	}
	for _, sock := range c.Sockets() {
		var all []owner
		for _, s := range sock.Servers {
			for _, n := range s.Networks {
				all = append(all, owner{s, n})
			}
		}
		// Sorted by address, larger networks first, every network follows
		// the ones containing it; a stack of enclosing networks finds each
		// overlap with the innermost one in one pass.
		sort.SliceStable(all, func(i, j int) bool {
			a, b := all[i].n.Prefix, all[j].n.Prefix
			if c := a.Addr().Compare(b.Addr()); c != 0 {
				return c < 0
			}
			return a.Bits() < b.Bits()
		})
		reported := map[[2]string]bool{}
		var stack []owner
		for _, o := range all {
			for len(stack) > 0 && !stack[len(stack)-1].n.Prefix.Contains(o.n.Prefix.Addr()) {
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 {
				d.overlap(stack[len(stack)-1].s, stack[len(stack)-1].n, o.s, o.n, reported)
			}
			stack = append(stack, o)
		}
	}
	for port, servers := range byPort {
		for i, a := range servers {
			for _, b := range servers[i+1:] {
				if a.socketKey() != b.socketKey() && bindConflict(a.Interface, b.Interface) {
					d.add(&d.errs, b.Line, &Section{Name: b.Name}, "interface",
						"[%s] listens on %s and this section on %s, both port %d: a socket on all addresses and another on an address it covers cannot both be bound; give sections on one port the same interface (they then share the socket)",
						a.Name, a.ListenAddr(), b.ListenAddr(), port)
				}
			}
		}
	}
}

// bindConflict reports whether UDP sockets on two different listen
// addresses with the same port would collide: no interface and "::" bind
// every IPv4 and IPv6 address (Go listens dual-stack), 0.0.0.0 every IPv4
// address.
func bindConflict(a, b netip.Addr) bool {
	dual := func(x netip.Addr) bool { return !x.IsValid() || x == netip.IPv6Unspecified() }
	any4 := func(x netip.Addr) bool { return x == netip.IPv4Unspecified() }
	switch {
	case dual(a) || dual(b):
		return true
	case any4(a):
		return b.Is4()
	case any4(b):
		return a.Is4()
	}
	return false
}

func (d *decoder) overlap(sa *Server, na Network, sb *Server, nb Network, reported map[[2]string]bool) {
	ka := fmt.Sprintf("%s/%d", sa.Name, na.Index)
	kb := fmt.Sprintf("%s/%d", sb.Name, nb.Index)
	if ka == kb || reported[[2]string{ka, kb}] {
		return // the pieces of one range never overlap each other
	}
	reported[[2]string{ka, kb}] = true
	keyB := fmt.Sprintf("radius_ip_%d", nb.Index)
	sec := &Section{Name: sb.Name}
	same := na.Prefix == nb.Prefix
	switch {
	case same && sa != sb:
		d.add(&d.errs, nb.Line, sec, keyB,
			"%s is also claimed by [%s] radius_ip_%d on the same port and interface; a packet from it could belong to either section", nb.Prefix, sa.Name, na.Index)
	case same && na.Secret != nb.Secret:
		d.add(&d.errs, nb.Line, sec, keyB,
			"%s is also radius_ip_%d, with a different secret; which secret applies would be ambiguous", nb.Prefix, na.Index)
	case same:
		d.add(&d.warns, nb.Line, sec, keyB, "%s is also radius_ip_%d", nb.Prefix, na.Index)
	default:
		where := "in this section"
		if sa != sb {
			where = fmt.Sprintf("in [%s] on the same port and interface", sa.Name)
		}
		d.add(&d.warns, nb.Line, sec, keyB,
			"%s lies inside %s (radius_ip_%d %s); requests from it use the smaller network's section and secret", nb.Prefix, na.Prefix, na.Index, where)
	}
}

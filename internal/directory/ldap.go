package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Entry is a user as the directory has it.
type Entry struct {
	DN string // as the server wrote it
	// Key identifies the entry across renames and moves: its objectGUID
	// (Active Directory) or entryUUID (RFC 4530: OpenLDAP, 389 DS), else
	// its normalised DN.
	Key       string
	Username  string
	Aliases   []string // the mapped alias attributes' values, in mapping order, without the username and duplicates
	RealName  string
	Email     string
	Phone     string
	FirstName string
	LastName  string
}

// GroupEntry is a synced group and its members (users' normalised DNs).
type GroupEntry struct {
	DN      string
	Key     string // as Entry.Key
	Name    string // cn (AD: sAMAccountName when set)
	Members map[string]bool
}

// Snapshot is what one read of the directory found.
type Snapshot struct {
	Users  []Entry // ordered as the server sent them
	Groups []GroupEntry
}

// connect dials the server with the configured TLS, and binds.
func connect(ctx context.Context, s Settings, password string) (*ldap.Conn, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	timeout := time.Duration(s.TimeoutSeconds) * time.Second
	var tc *tls.Config
	if u.Scheme == "ldaps" || s.StartTLS {
		tc = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ca_file %s holds no PEM certificate", s.CAFile)
			}
		}
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: timeout})}
	if u.Scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSConfig(tc))
	}
	conn, err := ldap.DialURL(s.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u.Host, err)
	}
	conn.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(stage string, err error) (*ldap.Conn, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w", stage, err)
	}
	if s.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			return fail("StartTLS", err)
		}
	}
	if s.BindDN != "" {
		if password == "" {
			return fail("bind", errors.New("bind_dn is set but there is no bind password (refusing an unauthenticated bind)"))
		}
		if err := conn.Bind(s.BindDN, password); err != nil {
			return fail("bind as "+s.BindDN, err)
		}
	}
	return conn, nil
}

// read fetches the users (and the groups, with their members) the
// settings select.
func read(ctx context.Context, s Settings, password string) (Snapshot, error) {
	s = s.effective()
	conn, err := connect(ctx, s, password)
	if err != nil {
		return Snapshot{}, err
	}
	defer conn.Close()
	m := s.Attributes
	attrs := []string{m.Username, m.RealName, m.Email, m.Phone, m.FirstName, m.LastName}
	attrs = append(attrs, m.Aliases...)
	attrs = append(attrs, idAttrs...)
	req := ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, s.TimeoutSeconds, false,
		s.UserFilter, dedupe(attrs), nil)
	res, err := conn.SearchWithPaging(req, uint32(s.PageSize))
	if err != nil {
		if ctx.Err() != nil {
			return Snapshot{}, ctx.Err()
		}
		return Snapshot{}, fmt.Errorf("user search under %s: %w", s.BaseDN, err)
	}
	var snap Snapshot
	byDN := map[string]int{}
	for _, e := range res.Entries {
		en := entryOf(e, m)
		if en.Username == "" {
			continue // no username attribute: not a user Assent can name
		}
		byDN[NormDN(e.DN)] = len(snap.Users)
		snap.Users = append(snap.Users, en)
	}
	if len(s.GroupDNs) == 0 {
		return snap, nil
	}
	members := map[string]bool{}
	for _, g := range s.GroupDNs {
		ge, err := readGroup(ctx, conn, s, g, byDN)
		if err != nil {
			return Snapshot{}, err
		}
		for dn := range ge.Members {
			members[dn] = true
		}
		snap.Groups = append(snap.Groups, ge)
	}
	// Only members of a synced group are synced.
	kept := snap.Users[:0]
	for _, u := range snap.Users {
		if members[NormDN(u.DN)] {
			kept = append(kept, u)
		}
	}
	snap.Users = kept
	return snap, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range in {
		if a != "" && !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			out = append(out, a)
		}
	}
	return out
}

// idAttrs are the attributes that identify an entry for good.
var idAttrs = []string{"objectGUID", "entryUUID"}

// entryKey is Entry.Key of e.
func entryKey(e *ldap.Entry) string {
	if g := e.GetRawAttributeValue("objectGUID"); len(g) > 0 {
		return "objectguid:" + hex.EncodeToString(g)
	}
	if u := e.GetAttributeValue("entryUUID"); u != "" {
		return "entryuuid:" + strings.ToLower(u)
	}
	return NormDN(e.DN)
}

func entryOf(e *ldap.Entry, m Mapping) Entry {
	en := Entry{DN: e.DN, Key: entryKey(e), Username: strings.TrimSpace(e.GetAttributeValue(m.Username)),
		RealName: e.GetAttributeValue(m.RealName), Email: e.GetAttributeValue(m.Email), Phone: e.GetAttributeValue(m.Phone),
		FirstName: e.GetAttributeValue(m.FirstName), LastName: e.GetAttributeValue(m.LastName)}
	seen := map[string]bool{strings.ToLower(en.Username): true}
	for _, a := range m.Aliases {
		v := strings.TrimSpace(e.GetAttributeValue(a))
		if v != "" && !seen[strings.ToLower(v)] {
			seen[strings.ToLower(v)] = true
			en.Aliases = append(en.Aliases, v)
		}
	}
	return en
}

// readGroup reads a group's name and its members among users (by
// normalised DN), expanding nested groups as s.Nested says.
func readGroup(ctx context.Context, conn *ldap.Conn, s Settings, dn string, users map[string]int) (GroupEntry, error) {
	top, err := groupEntry(conn, s, dn)
	if err != nil {
		return GroupEntry{}, err
	}
	ge := GroupEntry{DN: top.DN, Key: entryKey(top), Name: groupName(top), Members: map[string]bool{}}
	switch s.Nested {
	case NestedInChain:
		// The server walks the chain: every user under the base DN that
		// is a member of the group, directly or through other groups.
		filter := inChainFilter(s.UserFilter, top.DN)
		req := ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, s.TimeoutSeconds, false,
			filter, []string{"1.1"}, nil)
		res, err := conn.SearchWithPaging(req, uint32(s.PageSize))
		if err != nil {
			return GroupEntry{}, fmt.Errorf("members of %s (in chain): %w", dn, err)
		}
		for _, e := range res.Entries {
			ge.Members[NormDN(e.DN)] = true
		}
		return ge, nil
	}
	// Walk member/uniqueMember; every group is read at most once, so a
	// cycle (A in B, B in A) ends.
	seen := map[string]bool{NormDN(top.DN): true}
	queue := memberDNs(top)
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return GroupEntry{}, err
		}
		m := queue[0]
		queue = queue[1:]
		n := NormDN(m)
		if _, ok := users[n]; ok {
			ge.Members[n] = true
			continue
		}
		if seen[n] || s.Nested == NestedOff {
			continue
		}
		seen[n] = true
		sub, err := groupEntry(conn, s, m)
		if errors.Is(err, errNotGroup) {
			continue // a user outside the filter, or some other entry
		}
		if err != nil {
			return GroupEntry{}, err
		}
		queue = append(queue, memberDNs(sub)...)
	}
	return ge, nil
}

var errNotGroup = errors.New("not a group")

// groupObjectFilter matches group entries of OpenLDAP (groupOfNames,
// groupOfUniqueNames) and Active Directory (group).
const groupObjectFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))"

func groupEntry(conn *ldap.Conn, s Settings, dn string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.TimeoutSeconds, false,
		groupObjectFilter, append([]string{"cn", "sAMAccountName", "member", "uniqueMember"}, idAttrs...), nil)
	res, err := conn.Search(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, fmt.Errorf("group %s: %w", dn, errNotGroup)
	}
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", dn, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("group %s: %w", dn, errNotGroup)
	}
	return res.Entries[0], nil
}

func groupName(e *ldap.Entry) string {
	if n := e.GetAttributeValue("sAMAccountName"); n != "" {
		return n
	}
	if n := e.GetAttributeValue("cn"); n != "" {
		return n
	}
	if dn, err := ldap.ParseDN(e.DN); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
		return dn.RDNs[0].Attributes[0].Value
	}
	return e.DN
}

// memberDNs are a group's member and uniqueMember values; a uniqueMember's
// optional "#'…'B" unique identifier is dropped.
func memberDNs(e *ldap.Entry) []string {
	out := append([]string(nil), e.GetAttributeValues("member")...)
	for _, v := range e.GetAttributeValues("uniqueMember") {
		out = append(out, StripUID(v))
	}
	return out
}

// StripUID drops the optional unique identifier of a nameAndOptionalUID
// value (RFC 4517 §3.3.21): "cn=x,dc=y#'0101'B" is "cn=x,dc=y".
func StripUID(v string) string {
	if i := strings.LastIndex(v, "#'"); i >= 0 && strings.HasSuffix(v, "'B") {
		return v[:i]
	}
	return v
}

// inChainFilter selects the users of userFilter that are in group's
// chain (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN on memberOf).
func inChainFilter(userFilter, group string) string {
	return "(&" + userFilter + "(memberOf:" + MatchingRuleInChain + ":=" + ldap.EscapeFilter(group) + "))"
}

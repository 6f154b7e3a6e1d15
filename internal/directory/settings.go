// Package directory syncs users and groups from an LDAP server or Active
// Directory into Assent: users under a base DN that match a filter (and,
// when groups are named, are members of one of them, nested groups
// included), with their aliases, real name and e-mail address, and the
// named groups with their members. Users created by a sync are managed by
// the directory (store.DirectoryLink); one that leaves the directory is
// disabled, then deleted after a number of days. Every change goes
// through the core (package auth), so the administrator log records it with
// the actor "directory:<name>".
package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Schemas: the defaults of the attribute mapping, the user filter and the
// way nested groups are expanded.
const (
	SchemaLDAP = "ldap" // OpenLDAP and other RFC 4519 servers (default)
	SchemaAD   = "ad"   // Active Directory
)

// Ways to expand nested groups.
const (
	// NestedInChain asks the server for every user in a group's chain
	// with LDAP_MATCHING_RULE_IN_CHAIN (Active Directory only).
	NestedInChain = "in_chain"
	// NestedRecursive reads member and uniqueMember of the groups and of
	// the groups among their members, each group once.
	NestedRecursive = "recursive"
	// NestedOff takes a group's direct members only.
	NestedOff = "off"
)

// MatchingRuleInChain is Active Directory's LDAP_MATCHING_RULE_IN_CHAIN.
const MatchingRuleInChain = "1.2.840.113556.1.4.1941"

// Defaults.
const (
	DefaultPageSize        = 500
	DefaultDeleteAfterDays = 30
	DefaultTimeout         = 30 * time.Second
	maxAliases             = 4 // alias1–alias4 of the store
)

// Mapping names the directory attributes of a user's fields; empty fields
// take the schema's defaults (see Defaults).
type Mapping struct {
	Username  string   `json:"username,omitempty"`
	Aliases   []string `json:"aliases,omitempty"` // up to 4, in order: alias1–alias4
	RealName  string   `json:"realname,omitempty"`
	Email     string   `json:"email,omitempty"`
	Phone     string   `json:"phone,omitempty"`
	FirstName string   `json:"firstname,omitempty"`
	LastName  string   `json:"lastname,omitempty"`
}

// Settings are one directory's settings, stored as JSON (the bind password
// is kept apart, sealed).
type Settings struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection with StartTLS.
	StartTLS bool `json:"start_tls,omitempty"`
	// CAFile is a PEM bundle the server certificate must chain to; empty:
	// the system roots.
	CAFile string `json:"ca_file,omitempty"`
	// BindDN is the account the sync binds as; empty: anonymous.
	BindDN string `json:"bind_dn,omitempty"`
	// BaseDN is where users are searched (the whole subtree).
	BaseDN string `json:"base_dn"`
	// UserFilter selects the users; default by schema.
	UserFilter string `json:"user_filter,omitempty"`
	// GroupDNs are the groups synced; when set, only their (nested)
	// members are synced as users.
	GroupDNs []string `json:"group_dns,omitempty"`
	// Schema is "ldap" (default) or "ad".
	Schema string `json:"schema,omitempty"`
	// Nested is in_chain, recursive or off; default in_chain for AD,
	// recursive otherwise.
	Nested     string  `json:"nested,omitempty"`
	Attributes Mapping `json:"attributes,omitzero"`
	// PageSize is the RFC 2696 page size; default 500.
	PageSize int `json:"page_size,omitempty"`
	// DeleteAfterDays: a user gone from the directory is disabled at
	// once and deleted this many days later; 0 means the default (30),
	// -1 never.
	DeleteAfterDays int `json:"delete_after_days,omitempty"`
	// TimeoutSeconds bounds every LDAP operation; default 30.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// Defaults is the mapping of a schema.
func Defaults(schema string) Mapping {
	if schema == SchemaAD {
		return Mapping{Username: "sAMAccountName", Aliases: []string{"userPrincipalName", "mail"}, RealName: "displayName",
			Email: "mail", Phone: "telephoneNumber", FirstName: "givenName", LastName: "sn"}
	}
	return Mapping{Username: "uid", Aliases: []string{"mail"}, RealName: "cn", Email: "mail",
		Phone: "telephoneNumber", FirstName: "givenName", LastName: "sn"}
}

// defaultUserFilter is the user filter of a schema: people, not computer
// accounts (AD computers are users too).
func defaultUserFilter(schema string) string {
	if schema == SchemaAD {
		return "(&(objectCategory=person)(objectClass=user))"
	}
	return "(|(objectClass=inetOrgPerson)(objectClass=posixAccount))"
}

// ParseSettings reads settings from JSON and checks them (Check).
func ParseSettings(b []byte) (Settings, error) {
	var s Settings
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("directory settings: %w", err)
	}
	if err := s.Check(); err != nil {
		return Settings{}, err
	}
	// "aliases":[] and no aliases are the same settings; keep one form so
	// what is stored reads back identical.
	if len(s.Attributes.Aliases) == 0 {
		s.Attributes.Aliases = nil
	}
	return s, nil
}

// JSON is the settings as stored.
func (s Settings) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Check reports every problem of the settings at once.
func (s Settings) Check() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, a...)...))
	}
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		bad("url", "%q is not ldap://host[:port] or ldaps://host[:port]", s.URL)
	} else if s.StartTLS && u.Scheme == "ldaps" {
		bad("start_tls", "StartTLS is for ldap:// URLs; ldaps:// is TLS already")
	}
	if s.BindDN != "" {
		if _, err := ldap.ParseDN(s.BindDN); err != nil {
			bad("bind_dn", "%v", err)
		}
	}
	if s.BaseDN == "" {
		bad("base_dn", "is required")
	} else if _, err := ldap.ParseDN(s.BaseDN); err != nil {
		bad("base_dn", "%v", err)
	}
	if s.UserFilter != "" {
		if _, err := ldap.CompileFilter(parenthesise(s.UserFilter)); err != nil {
			bad("user_filter", "%v", err)
		}
	}
	for _, g := range s.GroupDNs {
		if dn, err := ldap.ParseDN(g); err != nil || len(dn.RDNs) == 0 {
			bad("group_dns", "%q is not a DN", g)
		}
	}
	switch s.Schema {
	case "", SchemaLDAP, SchemaAD:
	default:
		bad("schema", "%q is not ldap or ad", s.Schema)
	}
	switch s.Nested {
	case "", NestedRecursive, NestedOff:
	case NestedInChain:
		if s.Schema != SchemaAD {
			bad("nested", "in_chain is Active Directory's matching rule; use recursive with schema %q", s.schema())
		}
	default:
		bad("nested", "%q is not in_chain, recursive or off", s.Nested)
	}
	m := s.Attributes
	for _, a := range append([]string{m.Username, m.RealName, m.Email, m.Phone, m.FirstName, m.LastName}, m.Aliases...) {
		if a != "" && !validAttr(a) {
			bad("attributes", "%q is not an attribute name", a)
		}
	}
	if len(m.Aliases) > maxAliases {
		bad("attributes", "at most %d aliases", maxAliases)
	}
	if s.PageSize < 0 || s.PageSize > 100000 {
		bad("page_size", "must be 0 (default) to 100000")
	}
	if s.DeleteAfterDays < -1 || s.DeleteAfterDays > 36500 {
		bad("delete_after_days", "must be -1 (never), 0 (default %d) or a number of days", DefaultDeleteAfterDays)
	}
	if s.TimeoutSeconds < 0 || s.TimeoutSeconds > 3600 {
		bad("timeout_seconds", "must be 0 (default) to 3600")
	}
	return errors.Join(errs...)
}

func (s Settings) schema() string {
	if s.Schema == "" {
		return SchemaLDAP
	}
	return s.Schema
}

// effective is s with every default filled in.
func (s Settings) effective() Settings {
	s.Schema = s.schema()
	d := Defaults(s.Schema)
	m := &s.Attributes
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&m.Username, d.Username}, {&m.RealName, d.RealName}, {&m.Email, d.Email}, {&m.Phone, d.Phone},
		{&m.FirstName, d.FirstName}, {&m.LastName, d.LastName},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	if m.Aliases == nil {
		m.Aliases = d.Aliases
	}
	if s.UserFilter == "" {
		s.UserFilter = defaultUserFilter(s.Schema)
	}
	s.UserFilter = parenthesise(s.UserFilter)
	if s.Nested == "" {
		s.Nested = NestedRecursive
		if s.Schema == SchemaAD {
			s.Nested = NestedInChain
		}
	}
	if s.PageSize == 0 {
		s.PageSize = DefaultPageSize
	}
	if s.DeleteAfterDays == 0 {
		s.DeleteAfterDays = DefaultDeleteAfterDays
	}
	if s.TimeoutSeconds == 0 {
		s.TimeoutSeconds = int(DefaultTimeout / time.Second)
	}
	return s
}

func parenthesise(f string) string {
	f = strings.TrimSpace(f)
	if !strings.HasPrefix(f, "(") {
		f = "(" + f + ")"
	}
	return f
}

func validAttr(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9', r == '-', r == '.', r == ';':
			if i == 0 && (r == '-' || r == ';') {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ParseMapping reads an attribute mapping written on the command line:
// comma-separated field=attribute pairs, aliases separated by '|', e.g.
// "username=sAMAccountName,aliases=userPrincipalName|mail,realname=displayName".
// Fields not named keep their value in m.
func ParseMapping(m Mapping, spec string) (Mapping, error) {
	var errs []error
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok {
			errs = append(errs, fmt.Errorf("attribute mapping: %q is not field=attribute", part))
			continue
		}
		if k == "aliases" {
			m.Aliases = []string{}
			for _, a := range strings.Split(v, "|") {
				if a = strings.TrimSpace(a); a != "" {
					m.Aliases = append(m.Aliases, a)
				}
			}
			continue
		}
		dst := map[string]*string{"username": &m.Username, "realname": &m.RealName, "email": &m.Email, "phone": &m.Phone,
			"firstname": &m.FirstName, "lastname": &m.LastName}[k]
		if dst == nil {
			fields := []string{"username", "aliases", "realname", "email", "phone", "firstname", "lastname"}
			errs = append(errs, fmt.Errorf("attribute mapping: unknown field %q (fields: %s)", k, strings.Join(fields, ", ")))
			continue
		}
		*dst = v
	}
	for _, a := range append([]string{m.Username, m.RealName, m.Email, m.Phone, m.FirstName, m.LastName}, m.Aliases...) {
		if a != "" && !validAttr(a) {
			errs = append(errs, fmt.Errorf("attribute mapping: %q is not an attribute name", a))
		}
	}
	if len(m.Aliases) > maxAliases {
		errs = append(errs, fmt.Errorf("attribute mapping: at most %d aliases", maxAliases))
	}
	if err := errors.Join(errs...); err != nil {
		return Mapping{}, err
	}
	return m, nil
}

// escapeDNValue is ldap.EscapeDN with control characters written as hex
// pairs too, since a parser may trim a raw tab or newline at the end.
func escapeDNValue(v string) string {
	e := ldap.EscapeDN(v)
	var b strings.Builder
	for i := 0; i < len(e); i++ {
		if c := e[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "\\%02x", c)
			continue
		}
		b.WriteByte(e[i])
	}
	return b.String()
}

// NormDN is the form DNs are compared in: attribute types and values
// lower-cased, without extra spaces or escapes. A string that does not
// parse is lower-cased and trimmed.
func NormDN(s string) string {
	dn, err := ldap.ParseDN(s)
	if err != nil {
		t := strings.ToLower(strings.TrimSpace(s))
		if _, err := ldap.ParseDN(t); err == nil && t != s {
			// Trimming made it a DN ("cn=#0000 " → BER "#0000"): normalise
			// that, so the result is a fixed point.
			return NormDN(t)
		}
		return t
	}
	rdns := make([]string, 0, len(dn.RDNs))
	for _, r := range dn.RDNs {
		parts := make([]string, 0, len(r.Attributes))
		for _, a := range r.Attributes {
			typ := strings.ToLower(strings.TrimSpace(a.Type))
			if !validAttr(typ) {
				// An escaped quote or the like as a type: not a DN a
				// directory sends; compare it as plain text.
				return strings.ToLower(strings.TrimSpace(s))
			}
			parts = append(parts, typ+"="+escapeDNValue(strings.ToLower(a.Value)))
		}
		slices.Sort(parts)
		rdns = append(rdns, strings.Join(parts, "+"))
	}
	return strings.Join(rdns, ",")
}

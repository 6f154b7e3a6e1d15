package directory

import (
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestSettingsCheck(t *testing.T) {
	t.Parallel()
	ok := Settings{URL: "ldaps://dc1.example.com:636", BaseDN: "dc=example,dc=com", BindDN: "cn=svc,dc=example,dc=com",
		GroupDNs: []string{"cn=vpn,ou=groups,dc=example,dc=com"}, Schema: SchemaAD, Nested: NestedInChain}
	if err := ok.Check(); err != nil {
		t.Fatalf("valid settings refused: %v", err)
	}
	cases := []struct {
		name  string
		tweak func(*Settings)
		want  string
	}{
		{"no url", func(s *Settings) { s.URL = "" }, "url"},
		{"http url", func(s *Settings) { s.URL = "http://dc1" }, "url"},
		{"url with path", func(s *Settings) { s.URL = "ldap://dc1/dc=x" }, "url"},
		{"url with user", func(s *Settings) { s.URL = "ldap://u:p@dc1" }, "url"},
		{"starttls on ldaps", func(s *Settings) { s.StartTLS = true }, "start_tls"},
		{"no base", func(s *Settings) { s.BaseDN = "" }, "base_dn"},
		{"bad base", func(s *Settings) { s.BaseDN = "not a dn" }, "base_dn"},
		{"bad bind", func(s *Settings) { s.BindDN = "x" }, "bind_dn"},
		{"bad filter", func(s *Settings) { s.UserFilter = "(&(a=b)" }, "user_filter"},
		{"bad group", func(s *Settings) { s.GroupDNs = []string{"nope"} }, "group_dns"},
		{"bad schema", func(s *Settings) { s.Schema = "novell" }, "schema"},
		{"in_chain off AD", func(s *Settings) { s.Schema = SchemaLDAP }, "nested"},
		{"bad nested", func(s *Settings) { s.Nested = "deep" }, "nested"},
		{"bad attribute", func(s *Settings) { s.Attributes.Username = "uid)(x" }, "attributes"},
		{"five aliases", func(s *Settings) { s.Attributes.Aliases = []string{"a", "b", "c", "d", "e"} }, "aliases"},
		{"page size", func(s *Settings) { s.PageSize = -1 }, "page_size"},
		{"delete days", func(s *Settings) { s.DeleteAfterDays = -2 }, "delete_after_days"},
	}
	for _, tc := range cases {
		s := ok
		tc.tweak(&s)
		if err := s.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error about %s", tc.name, err, tc.want)
		}
	}
	// Every problem at once.
	err := Settings{URL: "x", Schema: "y"}.Check()
	for _, k := range []string{"url", "base_dn", "schema"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("all problems: %v lacks %s", err, k)
		}
	}
}

func TestSettingsJSONRoundTrip(t *testing.T) {
	t.Parallel()
	s := Settings{URL: "ldap://h:389", StartTLS: true, CAFile: "/ca.pem", BaseDN: "dc=x", GroupDNs: []string{"cn=g,dc=x"},
		Attributes: Mapping{Username: "uid", Aliases: []string{"mail"}}, PageSize: 10, DeleteAfterDays: -1}
	got, err := ParseSettings([]byte(s.JSON()))
	if err != nil {
		t.Fatal(err)
	}
	if got.JSON() != s.JSON() {
		t.Errorf("round trip: %s != %s", got.JSON(), s.JSON())
	}
	if _, err := ParseSettings([]byte(`{"url":"ldap://h","base_dn":"dc=x","bind_password":"s"}`)); err == nil {
		t.Error("an unknown key (a password among the settings) was accepted")
	}
}

func TestEffectiveDefaults(t *testing.T) {
	t.Parallel()
	ad := Settings{Schema: SchemaAD}.effective()
	if ad.Attributes.Username != "sAMAccountName" || ad.Nested != NestedInChain || !strings.Contains(ad.UserFilter, "objectCategory=person") {
		t.Errorf("AD defaults: %+v", ad)
	}
	l := Settings{UserFilter: "objectClass=person"}.effective()
	if l.Attributes.Username != "uid" || l.Nested != NestedRecursive || l.UserFilter != "(objectClass=person)" || l.PageSize != DefaultPageSize || l.DeleteAfterDays != DefaultDeleteAfterDays {
		t.Errorf("LDAP defaults: %+v", l)
	}
}

func TestParseMapping(t *testing.T) {
	t.Parallel()
	m, err := ParseMapping(Defaults(SchemaAD), "username=uid, aliases=mail|userPrincipalName ,realname=cn")
	if err != nil {
		t.Fatal(err)
	}
	if m.Username != "uid" || m.RealName != "cn" || strings.Join(m.Aliases, " ") != "mail userPrincipalName" || m.Email != "mail" {
		t.Errorf("mapping %+v", m)
	}
	if m, err := ParseMapping(Mapping{Aliases: []string{"x"}}, "aliases="); err != nil || len(m.Aliases) != 0 {
		t.Errorf("empty aliases: %+v %v", m, err)
	}
	for _, bad := range []string{"username", "colour=x", "username=a b", "aliases=a|b|c|d|e"} {
		if _, err := ParseMapping(Mapping{}, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNormDNAndStripUID(t *testing.T) {
	t.Parallel()
	for _, tc := range [][2]string{
		{"CN=Alice Smith, OU=People,DC=Example,DC=com", "cn=alice smith,ou=people,dc=example,dc=com"},
		{"cn=a\\2cb,dc=x", "cn=a\\,b,dc=x"},
		{"cn=a+uid=b,dc=x", "cn=a+uid=b,dc=x"},
		{"uid=b+cn=a,dc=x", "cn=a+uid=b,dc=x"},
		{"  Not A DN ", "not a dn"},
	} {
		if got := NormDN(tc[0]); got != tc[1] {
			t.Errorf("NormDN(%q) = %q; want %q", tc[0], got, tc[1])
		}
	}
	if got := StripUID("uid=a,dc=x#'0101'B"); got != "uid=a,dc=x" {
		t.Errorf("StripUID = %q", got)
	}
	if got := StripUID("cn=a#1,dc=x"); got != "cn=a#1,dc=x" {
		t.Errorf("StripUID without a UID = %q", got)
	}
}

// FuzzParseSettings: settings come from administrators' command lines and
// the database; parsing never panics, and what parses survives a round
// trip.
func FuzzParseSettings(f *testing.F) {
	f.Add([]byte(`{"url":"ldaps://dc1:636","base_dn":"dc=example,dc=com","schema":"ad","group_dns":["cn=g,dc=example,dc=com"]}`))
	f.Add([]byte(`{"url":"ldap://h","base_dn":"dc=x","user_filter":"(objectClass=*)","attributes":{"aliases":["mail"]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSettings(b)
		if err != nil {
			return
		}
		again, err := ParseSettings([]byte(s.JSON()))
		if err != nil || again.JSON() != s.JSON() {
			t.Fatalf("round trip of %s: %v", s.JSON(), err)
		}
		_ = s.effective()
	})
}

// FuzzParseMapping: a mapping that parses names only valid attributes.
func FuzzParseMapping(f *testing.F) {
	f.Add("username=sAMAccountName,aliases=userPrincipalName|mail,realname=displayName")
	f.Add("email=mail,phone=telephoneNumber")
	f.Add("aliases=")
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseMapping(Mapping{}, spec)
		if err != nil {
			return
		}
		for _, a := range append([]string{m.Username, m.RealName, m.Email, m.Phone, m.FirstName, m.LastName}, m.Aliases...) {
			if a != "" && !validAttr(a) {
				t.Fatalf("%q gave attribute %q", spec, a)
			}
		}
		if len(m.Aliases) > maxAliases {
			t.Fatalf("%q gave %d aliases", spec, len(m.Aliases))
		}
	})
}

// FuzzNormDN: DNs and member values come from the directory server.
func FuzzNormDN(f *testing.F) {
	f.Add("CN=Alice,OU=People,DC=example,DC=com")
	f.Add("uid=a,dc=x#'0101'B")
	f.Add("cn=a\\2cb+uid=c,dc=x")
	f.Fuzz(func(t *testing.T, s string) {
		n := NormDN(StripUID(s))
		if NormDN(n) != n {
			t.Fatalf("NormDN is not idempotent: %q → %q → %q", s, n, NormDN(n))
		}
	})
}

func TestInChainFilter(t *testing.T) {
	t.Parallel()
	f := inChainFilter(defaultUserFilter(SchemaAD), "CN=VPN (all),OU=Groups,DC=example,DC=com")
	want := `(&(&(objectCategory=person)(objectClass=user))(memberOf:1.2.840.113556.1.4.1941:=CN=VPN \28all\29,OU=Groups,DC=example,DC=com))`
	if f != want {
		t.Errorf("filter %s\nwant   %s", f, want)
	}
	if _, err := ldap.CompileFilter(f); err != nil {
		t.Errorf("does not compile: %v", err)
	}
}

package primary

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

// TestADSecurityGroupOpenLDAP: security_group_dn against OpenLDAP groups,
// which list their members (no memberOf on the users): a groupOfNames, a
// groupOfUniqueNames (one value with its optional UID), a group nested in
// another, and a cycle.
func TestADSecurityGroupOpenLDAP(t *testing.T) {
	t.Parallel()
	ou := "ou=teams," + ldaptest.BaseDN
	team := func(cn string) string { return "cn=" + cn + "," + ou }
	ldif := fmt.Sprintf(`dn: %[1]s
objectClass: organizationalUnit
ou: teams

dn: %[2]s
objectClass: groupOfNames
cn: names
member: %[5]s
member: %[4]s

dn: %[3]s
objectClass: groupOfUniqueNames
cn: unique
uniqueMember: %[6]s#'0101'B
uniqueMember: %[7]s

dn: %[4]s
objectClass: groupOfNames
cn: outer
member: %[2]s

`, ou, team("names"), team("unique"), team("outer"), ldaptest.UserDN("alice"), ldaptest.UserDN("bob"), ldaptest.UserDN("carol"))
	s := ldaptest.Start(t, ldaptest.Options{
		Users: []ldaptest.User{
			{Name: "alice", Password: "alicepw"}, {Name: "bob", Password: "bobpw"},
			{Name: "carol", Password: "carolpw"}, {Name: "erin", Password: "erinpw"},
		},
		ExtraLDIF: []byte(ldif),
	})
	cases := []struct {
		group  string
		accept map[string]bool
	}{
		{team("names"), map[string]bool{"alice": true}},
		{strings.ToUpper(team("names")), map[string]bool{"alice": true}},
		{team("unique"), map[string]bool{"bob": true, "carol": true}},
		// alice through names; names and outer list each other.
		{team("outer"), map[string]bool{"alice": true}},
	}
	for _, tc := range cases {
		t.Run(tc.group, func(t *testing.T) {
			t.Parallel()
			cfg := adConfig(s)
			cfg.SecurityGroupDN = tc.group
			ad := newAD(t, cfg)
			for _, u := range []string{"alice", "bob", "carol", "erin"} {
				res, err := ad.Authenticate(context.Background(), Request{Username: u, Password: u + "pw"})
				if err != nil {
					t.Fatalf("%s: %v", u, err)
				}
				if res.Accepted != tc.accept[u] {
					t.Errorf("%s: accepted=%v (%s); want %v", u, res.Accepted, res.Reason, tc.accept[u])
				}
			}
		})
	}
}

func TestNamingContext(t *testing.T) {
	t.Parallel()
	for _, tc := range [][2]string{
		{"cn=g,ou=groups,dc=example,dc=com", "dc=example,dc=com"},
		{"cn=g,o=corp", "cn=g,o=corp"},
		{"dc=example,dc=com", "dc=example,dc=com"},
	} {
		dn := mustDN(t, tc[0])
		if got := namingContext(dn); !strings.EqualFold(got, tc[1]) {
			t.Errorf("namingContext(%s) = %s; want %s", tc[0], got, tc[1])
		}
	}
}

func mustDN(t *testing.T, s string) *ldap.DN {
	t.Helper()
	dn, err := ldap.ParseDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return dn
}

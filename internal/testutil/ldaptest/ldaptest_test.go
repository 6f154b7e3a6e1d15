package ldaptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestStart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{TLS: true})

	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Anonymous clients see nothing.
	res, err := c.Search(ldap.NewSearchRequest(BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(sAMAccountName=alice)", nil, nil))
	if err == nil && len(res.Entries) != 0 {
		t.Errorf("anonymous search found %d entries", len(res.Entries))
	}
	if err := c.Bind(ServiceDN, ServicePassword); err != nil {
		t.Fatalf("service bind: %v", err)
	}
	res, err = c.Search(ldap.NewSearchRequest(PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(userPrincipalName=ALICE@example.com)", []string{"memberOf", "sAMAccountName", "objectSid", "userPassword"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search: %v %v", res, err)
	}
	e := res.Entries[0]
	if e.DN != UserDN("alice") || e.GetAttributeValue("memberOf") != GroupDN("vpnusers") ||
		e.GetAttributeValue("userPassword") != "" || !bytes.Equal(e.GetRawAttributeValue("objectSid"), SID(DomainSID+"-2000")) {
		t.Errorf("alice: %s %v", e.DN, e.Attributes)
	}
	for _, pw := range []struct {
		pw string
		ok bool
	}{{"alicepw", true}, {"bad", false}} {
		err := c.Bind(UserDN("alice"), pw.pw)
		if (err == nil) != pw.ok {
			t.Errorf("bind alice/%s: %v", pw.pw, err)
		}
	}

	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost"}))
	if err != nil {
		t.Fatalf("ldaps: %v", err)
	}
	defer tc.Close()
	if err := tc.Bind(UserDN("bob"), "bobpw"); err != nil {
		t.Errorf("ldaps bind: %v", err)
	}
	if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Errorf("starttls: %v", err)
	}

	s.Stop()
	if _, err := ldap.DialURL(s.URL); err == nil {
		t.Error("slapd still answers after Stop")
	}
}

func TestSID(t *testing.T) {
	got := SID("S-1-5-21-1-2-3-1100")
	want := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0x4c, 0x04, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("SID = %x, want %x", got, want)
	}
}

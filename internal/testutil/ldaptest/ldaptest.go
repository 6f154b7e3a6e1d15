// Package ldaptest runs a private OpenLDAP slapd for tests: an AD-like
// directory (sAMAccountName, userPrincipalName, memberOf, primaryGroupID,
// objectSid) seeded with slapadd, on random loopback ports, optionally with
// LDAPS and StartTLS using a certificate from the test's own CA. The server
// is stopped and its files removed when the test ends.
//
// The directory:
//
//	dc=example,dc=com
//	  ou=people   users (objectClass inetOrgPerson + assentADObject)
//	  ou=groups   groups (groupOfNames + assentADObject, with an objectSid)
//	  ou=service  the service account
//
// Anonymous clients may only bind; authenticated ones may read everything
// but userPassword, so a search needs the service-account bind first, as
// with Active Directory.
package ldaptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

//go:embed testdata/ad.schema
var adSchema []byte

// Directory layout.
const (
	BaseDN    = "dc=example,dc=com"
	PeopleDN  = "ou=people," + BaseDN
	GroupsDN  = "ou=groups," + BaseDN
	ServiceOU = "ou=service," + BaseDN
	AdminDN   = "cn=admin," + BaseDN
	// Domain is the UPN suffix: alice@example.com.
	Domain = "example.com"
	// DomainSID prefixes every objectSid; a group's RID is its last part.
	DomainSID = "S-1-5-21-1000-2000-3000"
)

// The service account (ou=service, outside the people subtree).
const (
	ServiceUsername = "svc-authproxy"
	ServicePassword = "svcpw"
	ServiceDN       = "cn=" + ServiceUsername + "," + ServiceOU
	AdminPassword   = "adminpw"
)

// User is one account under ou=people. Its DN is cn=<Name>,ou=people,…;
// sAMAccountName and uid are Name, userPrincipalName Name@example.com.
type User struct {
	Name     string
	Password string
	// Groups are the cn's of groups under ou=groups listed in memberOf
	// (and the group's member list).
	Groups []string
	// PrimaryGroup is a group cn set only as the AD primary group
	// (primaryGroupID = that group's RID), not in memberOf.
	PrimaryGroup string
	// EmployeeType is an inetOrgPerson attribute for ldap_filter tests.
	EmployeeType string
}

// DefaultUsers is the directory when Options.Users is nil: alice and bob
// are in vpnusers, carol is in no group, dave has vpnusers only as his
// primary group.
var DefaultUsers = []User{
	{Name: "alice", Password: "alicepw", Groups: []string{"vpnusers"}, EmployeeType: "staff"},
	{Name: "bob", Password: "bobpw", Groups: []string{"vpnusers"}, EmployeeType: "contractor"},
	{Name: "carol", Password: "carolpw", EmployeeType: "staff"},
	{Name: "dave", Password: "davepw", PrimaryGroup: "vpnusers", EmployeeType: "staff"},
}

// Options tune Start.
type Options struct {
	// Users replaces DefaultUsers when non-nil.
	Users []User
	// Groups are extra (possibly empty) groups; groups named by users are
	// created anyway. "vpnusers" always exists.
	Groups []string
	// TLS adds an LDAPS listener and StartTLS on the plain one, with a
	// certificate for localhost and 127.0.0.1 issued by a fresh test CA.
	TLS bool
	// ExtraLDIF is appended to the seed: more entries (other OUs, groups
	// of other object classes) under BaseDN.
	ExtraLDIF []byte
	// SizeLimit, when > 0, caps what a search by anyone but the admin
	// returns at that many entries, unless the search is paged (RFC
	// 2696) with pages of at most SizeLimit entries.
	SizeLimit int
}

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:Port.
	URL  string
	Host string // 127.0.0.1
	Port int
	// LDAPSURL and LDAPSPort are set with Options.TLS.
	LDAPSURL  string
	LDAPSPort int
	// CAFile is the PEM CA that issued the server certificate (TLS only);
	// the certificate names localhost and 127.0.0.1.
	CAFile string
	// WrongCAFile is another CA, which did not issue the certificate.
	WrongCAFile string
	Users       []User

	cmd     *exec.Cmd
	logs    *bytes.Buffer
	logsMu  *sync.Mutex
	stopped chan struct{}
	once    sync.Once
}

// UserDN is the DN of a user under ou=people.
func UserDN(name string) string { return "cn=" + name + "," + PeopleDN }

// GroupDN is the DN of a group under ou=groups.
func GroupDN(cn string) string { return "cn=" + cn + "," + GroupsDN }

// Available reports whether slapd and slapadd are installed.
func Available() bool {
	for _, p := range []string{"slapd", "slapadd"} {
		if _, err := lookPath(p); err != nil {
			return false
		}
	}
	return true
}

// lookPath also searches /usr/sbin, which is not on every user's PATH.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// Start runs a slapd for the test and stops it in t.Cleanup. Without slapd
// the test is skipped (failed in CI) through testutil.Require.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	testutil.Require(t, "OpenLDAP slapd and slapadd (apt slapd)", Available())
	slapd, _ := lookPath("slapd")
	slapadd, _ := lookPath("slapadd")

	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	users := opts.Users
	if users == nil {
		users = DefaultUsers
	}
	s := &Server{Host: "127.0.0.1", Users: users, logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}}

	schema := filepath.Join(dir, "ad.schema")
	writeFile(t, schema, adSchema)
	var tlsConf string
	if opts.TLS {
		ca, cert, key, wrong := makeCerts(t, dir)
		s.CAFile, s.WrongCAFile = ca, wrong
		tlsConf = fmt.Sprintf("TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n", ca, cert, key)
	}
	var limits string
	if opts.SizeLimit > 0 {
		limits = fmt.Sprintf("limits users size.soft=%[1]d size.hard=%[1]d size.pr=%[1]d size.prtotal=unlimited\n", opts.SizeLimit)
	}
	conf := filepath.Join(dir, "slapd.conf")
	writeFile(t, conf, []byte(fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include %s
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %s
%s
database mdb
maxsize 10485760
suffix "%s"
rootdn "%s"
rootpw %s
directory %s
index objectClass eq
index sAMAccountName,userPrincipalName eq
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
%s`, schema, filepath.Join(dir, "slapd.pid"), tlsConf, BaseDN, AdminDN, ssha(AdminPassword), db, limits)))

	ldif := filepath.Join(dir, "seed.ldif")
	writeFile(t, ldif, append(seed(users, opts.Groups), opts.ExtraLDIF...))
	if out, err := exec.Command(slapadd, "-q", "-f", conf, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}

	// Ports are picked free a moment before slapd binds them; a clash with
	// another test is retried with new ports.
	for attempt := 0; ; attempt++ {
		s.Port = testutil.FreePort(t)
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", s.Port)
		urls := s.URL + "/"
		if opts.TLS {
			s.LDAPSPort = testutil.FreePort(t)
			s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", s.LDAPSPort)
			urls += " " + s.LDAPSURL + "/"
		}
		err := s.run(slapd, conf, urls)
		if err == nil {
			break
		}
		if attempt == 4 {
			t.Fatalf("slapd did not start: %v\n%s", err, s.Logs())
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("slapd log:\n%s", s.Logs())
		}
	})
	return s
}

// run starts slapd in the foreground (-d 0) and waits until it accepts
// connections on every port, or exits.
func (s *Server) run(slapd, conf, urls string) error {
	stopped := make(chan struct{})
	cmd := exec.Command(slapd, "-d", "0", "-f", conf, "-h", urls)
	cmd.Stdout = lockedWriter{s.logsMu, s.logs}
	cmd.Stderr = lockedWriter{s.logsMu, s.logs}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); close(stopped) }()
	ports := []int{s.Port}
	if s.LDAPSPort != 0 {
		ports = append(ports, s.LDAPSPort)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				return fmt.Errorf("slapd exited: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				<-exited
				return fmt.Errorf("slapd not listening on %d after 10 s", p)
			}
		}
	}
	s.cmd, s.stopped = cmd, stopped
	return nil
}

// Stop kills slapd (tests of failover stop a server early). It is safe to
// call more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd == nil {
			return
		}
		_ = s.cmd.Process.Kill()
		select {
		case <-s.stopped:
		case <-time.After(10 * time.Second):
		}
	})
}

// Logs returns what slapd printed.
func (s *Server) Logs() string {
	s.logsMu.Lock()
	defer s.logsMu.Unlock()
	return s.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ssha is an OpenLDAP {SSHA} password hash.
func ssha(pw string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
}

// SID encodes an objectSid "S-1-5-21-a-b-c-rid" in Windows' binary form.
func SID(s string) []byte {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || parts[0] != "S" {
		panic("ldaptest: bad SID " + s)
	}
	var rev, auth uint64
	fmt.Sscan(parts[1], &rev)
	fmt.Sscan(parts[2], &auth)
	subs := parts[3:]
	b := []byte{byte(rev), byte(len(subs)), 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:4], uint16(auth>>32))
	binary.BigEndian.PutUint32(b[4:8], uint32(auth))
	for _, p := range subs {
		var v uint32
		fmt.Sscan(p, &v)
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// groupRID is the relative ID of the i-th group created (1-based order:
// vpnusers first, then Options.Groups, then groups named by users).
func groupRID(i int) int { return 1100 + i }

// seed is the LDIF of the directory.
func seed(users []User, extra []string) []byte {
	groups := []string{"vpnusers"}
	seen := map[string]bool{"vpnusers": true}
	add := func(g string) {
		if g != "" && !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	for _, g := range extra {
		add(g)
	}
	for _, u := range users {
		for _, g := range u.Groups {
			add(g)
		}
		add(u.PrimaryGroup)
	}
	rid := map[string]int{}
	for i, g := range groups {
		rid[g] = groupRID(i + 1)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n", BaseDN)
	for _, ou := range []string{"people", "groups", "service"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, BaseDN, ou)
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nobjectClass: assentADObject\ncn: %s\nsn: service\nsAMAccountName: %s\nuserPassword: %s\n\n",
		ServiceDN, ServiceUsername, ServiceUsername, ssha(ServicePassword))
	for _, g := range groups {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\nobjectClass: assentADObject\ncn: %s\nsAMAccountName: %s\nobjectSid:: %s\n",
			GroupDN(g), g, g, base64.StdEncoding.EncodeToString(SID(fmt.Sprintf("%s-%d", DomainSID, rid[g]))))
		members := 0
		for _, u := range users {
			for _, ug := range u.Groups {
				if ug == g {
					fmt.Fprintf(&b, "member: %s\n", UserDN(u.Name))
					members++
				}
			}
		}
		if members == 0 {
			// groupOfNames needs a member; AD groups may be empty.
			fmt.Fprintf(&b, "member: %s\n", GroupDN(g))
		}
		b.WriteString("\n")
	}
	for i, u := range users {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nobjectClass: assentADObject\ncn: %s\nsn: %s\nuid: %s\nsAMAccountName: %s\nuserPrincipalName: %s@%s\nmail: %s@%s\nuserPassword: %s\nobjectSid:: %s\n",
			UserDN(u.Name), u.Name, u.Name, u.Name, u.Name, u.Name, Domain, u.Name, Domain, ssha(u.Password),
			base64.StdEncoding.EncodeToString(SID(fmt.Sprintf("%s-%d", DomainSID, 2000+i))))
		for _, g := range u.Groups {
			fmt.Fprintf(&b, "memberOf: %s\n", GroupDN(g))
		}
		if u.PrimaryGroup != "" {
			fmt.Fprintf(&b, "primaryGroupID: %d\n", rid[u.PrimaryGroup])
		} else {
			fmt.Fprintf(&b, "primaryGroupID: 513\n") // Domain Users, which is not in the directory
		}
		if u.EmployeeType != "" {
			fmt.Fprintf(&b, "employeeType: %s\n", u.EmployeeType)
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// makeCerts writes a CA, a server certificate for localhost and 127.0.0.1
// signed by it, its key, and an unrelated second CA.
func makeCerts(t testing.TB, dir string) (caFile, certFile, keyFile, wrongCAFile string) {
	t.Helper()
	now := time.Now()
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(now.UnixNano()),
			Subject:               pkix.Name{CommonName: name},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	ca, caKey := newCA("ldaptest CA")
	wrong, _ := newCA("ldaptest other CA")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	wrongCAFile = filepath.Join(dir, "other-ca.pem")
	certFile = filepath.Join(dir, "server.pem")
	keyFile = filepath.Join(dir, "server-key.pem")
	writeFile(t, caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))
	writeFile(t, wrongCAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: wrong.Raw}))
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return caFile, certFile, keyFile, wrongCAFile
}

// BlackHole is a TCP listener that accepts connections and never answers,
// to test per-host timeouts. It is closed when the test ends.
func BlackHole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

package primary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

func adConfig(s *ldaptest.Server) ADConfig {
	return ADConfig{
		Hosts:           []string{fmt.Sprintf("127.0.0.1:%d", s.Port)},
		AuthType:        "plain",
		BindDN:          ldaptest.ServiceDN,
		ServiceUsername: ldaptest.ServiceUsername,
		ServicePassword: ldaptest.ServicePassword,
		SearchDN:        ldaptest.BaseDN,
		Timeout:         5 * time.Second,
	}
}

func newAD(t *testing.T, cfg ADConfig) *ADClient {
	t.Helper()
	c, err := NewAD(cfg)
	if err != nil {
		t.Fatalf("NewAD: %v", err)
	}
	return c
}

func TestADAuthenticate(t *testing.T) {
	t.Parallel()
	s := ldaptest.Start(t, ldaptest.Options{})
	group := ldaptest.GroupDN("vpnusers")

	type tc struct {
		user, pw string
		accept   bool
		msg      string
	}
	cases := []struct {
		name  string
		tweak func(*ADConfig)
		tests []tc
	}{
		{"plain", nil, []tc{
			{"alice", "alicepw", true, ""},
			{"alice", "wrong", false, MsgUserAuthFailed},
			{"ALICE", "alicepw", true, ""}, // sAMAccountName is case-insensitive, as in AD
			{"alice@example.com", "alicepw", true, ""},
			{"alice@example.com", "bobpw", false, MsgUserAuthFailed},
			{"bob", "bobpw", true, ""},
			{"carol", "carolpw", true, ""},
			{"nobody", "x", false, MsgInvalidUser},
			{"alice", "", false, MsgUserAuthFailed}, // never an anonymous bind
			{"*", "alicepw", false, MsgInvalidUser}, // escaped, not a wildcard
			{"alice)(sAMAccountName=*", "alicepw", false, MsgInvalidUser},
			{ldaptest.ServiceUsername, ldaptest.ServicePassword, true, ""},
		}},
		{"search_dn excludes the service OU", func(c *ADConfig) { c.SearchDN = ldaptest.PeopleDN }, []tc{
			{"alice", "alicepw", true, ""},
			{ldaptest.ServiceUsername, ldaptest.ServicePassword, false, MsgInvalidUser},
		}},
		{"security group", func(c *ADConfig) { c.SecurityGroupDN = group }, []tc{
			{"alice", "alicepw", true, ""},
			{"bob", "bobpw", true, ""},
			{"carol", "carolpw", false, MsgUserAuthFailed}, // not a member
			{"dave", "davepw", true, ""},                   // primary group only
			{"dave", "wrong", false, MsgUserAuthFailed},
		}},
		{"security group, other case", func(c *ADConfig) { c.SecurityGroupDN = strings.ToUpper(group) }, []tc{
			{"alice", "alicepw", true, ""},
			{"carol", "carolpw", false, MsgUserAuthFailed},
		}},
		{"ldap_filter", func(c *ADConfig) { c.LDAPFilter = "employeeType=staff" }, []tc{
			{"alice", "alicepw", true, ""},
			{"bob", "bobpw", false, MsgInvalidUser}, // a contractor
		}},
		{"username_attribute uid", func(c *ADConfig) { c.UsernameAttribute = "uid"; c.AtAttribute = "mail" }, []tc{
			{"bob", "bobpw", true, ""},
			{"bob@example.com", "bobpw", true, ""},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := adConfig(s)
			if c.tweak != nil {
				c.tweak(&cfg)
			}
			ad := newAD(t, cfg)
			for _, tt := range c.tests {
				res, err := ad.Authenticate(context.Background(), Request{Username: tt.user, Password: tt.pw})
				if err != nil {
					t.Errorf("%s/%s: %v", tt.user, tt.pw, err)
					continue
				}
				if res.Accepted != tt.accept || res.Message != tt.msg {
					t.Errorf("%s/%s: accepted=%v message=%q; want %v %q", tt.user, tt.pw, res.Accepted, res.Message, tt.accept, tt.msg)
				}
				// The log says why (the user is told only Message), never
				// with the password.
				wantReason := map[string]*regexp.Regexp{
					"":                nil,
					MsgInvalidUser:    regexp.MustCompile(`^(user not found on 127\.0\.0\.1:\d+|empty username)`),
					MsgUserAuthFailed: regexp.MustCompile(`^(bind as .* refused: LDAP Result Code 49|user .* is not in security_group_dn|empty password)`),
				}[tt.msg]
				if wantReason != nil && !wantReason.MatchString(res.Reason) || wantReason == nil && res.Reason != "" {
					t.Errorf("%s/%s: reason %q, want one matching %v", tt.user, tt.pw, res.Reason, wantReason)
				}
				if tt.pw != "" && strings.Contains(res.Reason, tt.pw) {
					t.Errorf("%s: the reason holds the password: %q", tt.user, res.Reason)
				}
			}
		})
	}
}

func TestADFailover(t *testing.T) {
	t.Parallel()
	s := ldaptest.Start(t, ldaptest.Options{})
	dead := closedPort(t)
	hole := ldaptest.BlackHole(t)
	live := fmt.Sprintf("127.0.0.1:%d", s.Port)

	t.Run("dead host then live", func(t *testing.T) {
		t.Parallel()
		cfg := adConfig(s)
		cfg.Hosts = []string{dead, live}
		res, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "alicepw"})
		if err != nil || !res.Accepted {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
	t.Run("black hole times out, then live", func(t *testing.T) {
		t.Parallel()
		cfg := adConfig(s)
		cfg.Hosts = []string{hole, live}
		cfg.Timeout = 300 * time.Millisecond
		start := time.Now()
		res, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "alicepw"})
		if err != nil || !res.Accepted {
			t.Fatalf("got %+v, %v", res, err)
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
			t.Errorf("took %v; want about the 300 ms timeout", d)
		}
	})
	t.Run("wrong password does not fail over", func(t *testing.T) {
		t.Parallel()
		// The second host would accept anything it is asked; it must not
		// be asked.
		cfg := adConfig(s)
		cfg.Hosts = []string{live, hole}
		cfg.Timeout = 5 * time.Second
		start := time.Now()
		res, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "nope"})
		if err != nil || res.Accepted || res.Message != MsgUserAuthFailed {
			t.Fatalf("got %+v, %v", res, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Error("the second host was tried")
		}
	})
	t.Run("wrong service password fails over and ends unavailable", func(t *testing.T) {
		t.Parallel()
		cfg := adConfig(s)
		cfg.Hosts = []string{live, live}
		cfg.ServicePassword = "wrong"
		_, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "alicepw"})
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Message != MsgADUnavailable || strings.Count(err.Error(), "service account bind") != 2 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("all down", func(t *testing.T) {
		t.Parallel()
		cfg := adConfig(s)
		cfg.Hosts = []string{dead, hole}
		cfg.Timeout = 200 * time.Millisecond
		_, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "alicepw"})
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Message != MsgADUnavailable {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		cfg := adConfig(s)
		cfg.Hosts = []string{hole, live}
		cfg.Timeout = 10 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newAD(t, cfg).Authenticate(ctx, Request{Username: "alice", Password: "alicepw"})
		var ue *UnavailableError
		if !errors.As(err, &ue) || time.Since(start) > 3*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(start))
		}
	})
	t.Run("search_dn that does not exist is a search error", func(t *testing.T) {
		t.Parallel()
		cfg := adConfig(s)
		cfg.SearchDN = "ou=nowhere," + ldaptest.BaseDN
		_, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "alicepw"})
		if err == nil || !strings.Contains(err.Error(), "user search") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestADTLS(t *testing.T) {
	t.Parallel()
	s := ldaptest.Start(t, ldaptest.Options{TLS: true})
	cases := []struct {
		name      string
		transport string
		host      string
		ca        string
		skipName  bool
		ok        bool
	}{
		{"ldaps", "ldaps", fmt.Sprintf("localhost:%d", s.LDAPSPort), s.CAFile, false, true},
		{"ldaps by IP", "ldaps", fmt.Sprintf("127.0.0.1:%d", s.LDAPSPort), s.CAFile, false, true},
		{"starttls", "starttls", fmt.Sprintf("localhost:%d", s.Port), s.CAFile, false, true},
		{"ldaps, wrong CA", "ldaps", fmt.Sprintf("localhost:%d", s.LDAPSPort), s.WrongCAFile, false, false},
		{"starttls, wrong CA", "starttls", fmt.Sprintf("localhost:%d", s.Port), s.WrongCAFile, false, false},
		{"ldaps, system roots", "ldaps", fmt.Sprintf("localhost:%d", s.LDAPSPort), "", false, false},
		{"ldaps to the plain port", "ldaps", fmt.Sprintf("localhost:%d", s.Port), s.CAFile, false, false},
	}
	// 127.0.0.2 is not in the certificate: a verified chain with the wrong
	// name. A forwarder makes slapd reachable there.
	if fwd := forward(t, "127.0.0.2:0", fmt.Sprintf("127.0.0.1:%d", s.LDAPSPort)); fwd != "" {
		cases = append(cases,
			struct {
				name, transport, host, ca string
				skipName, ok              bool
			}{"wrong name", "ldaps", fwd, s.CAFile, false, false},
			struct {
				name, transport, host, ca string
				skipName, ok              bool
			}{"wrong name, not verified", "ldaps", fwd, s.CAFile, true, true},
			struct {
				name, transport, host, ca string
				skipName, ok              bool
			}{"wrong name and CA, not verified", "ldaps", fwd, s.WrongCAFile, true, false},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := adConfig(s)
			cfg.Transport, cfg.Hosts, cfg.CAFile, cfg.SkipVerifyHostname = tc.transport, []string{tc.host}, tc.ca, tc.skipName
			cfg.Timeout = 3 * time.Second
			res, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "alicepw"})
			if tc.ok && (err != nil || !res.Accepted) {
				t.Fatalf("got %+v, %v", res, err)
			}
			if !tc.ok {
				var ue *UnavailableError
				if !errors.As(err, &ue) {
					t.Fatalf("got %+v, %v; want unavailable", res, err)
				}
			}
		})
	}
}

// TestADNTLM: slapd does not speak Microsoft's NTLM bind, so an NTLM
// service bind fails there; it must fail as a host failure, not as a user
// reject, and an empty password must not reach the server.
func TestADNTLM(t *testing.T) {
	t.Parallel()
	s := ldaptest.Start(t, ldaptest.Options{})
	cfg := adConfig(s)
	cfg.AuthType, cfg.BindDN, cfg.NTLMDomain = "ntlm2", "", "EXAMPLE"
	_, err := newAD(t, cfg).Authenticate(context.Background(), Request{Username: "alice", Password: "alicepw"})
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "service account bind") {
		t.Fatalf("got %v", err)
	}
}

func TestADCheck(t *testing.T) {
	t.Parallel()
	s := ldaptest.Start(t, ldaptest.Options{})
	cfg := adConfig(s)
	dead := closedPort(t)
	cfg.Hosts = []string{cfg.Hosts[0], dead}
	checks := newAD(t, cfg).Check(context.Background())
	if len(checks) != 2 || checks[0].Err != nil || checks[1].Err == nil || checks[1].Host != dead {
		t.Fatalf("checks: %+v", checks)
	}
	cfg.ServicePassword = "wrong"
	checks = newAD(t, cfg).Check(context.Background())
	if checks[0].Err == nil || !strings.Contains(checks[0].Err.Error(), "service account bind") {
		t.Errorf("wrong password: %+v", checks[0])
	}
	cfg = adConfig(s)
	cfg.SearchDN = "ou=nowhere," + ldaptest.BaseDN
	checks = newAD(t, cfg).Check(context.Background())
	if checks[0].Err == nil {
		t.Errorf("missing search_dn: %+v", checks[0])
	}
}

func TestNewADValidation(t *testing.T) {
	t.Parallel()
	ok := ADConfig{Hosts: []string{"dc1"}, ServiceUsername: "svc", ServicePassword: "pw", SearchDN: "dc=example,dc=com"}
	if _, err := NewAD(ok); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	bad := []func(*ADConfig){
		func(c *ADConfig) { c.Hosts = nil },
		func(c *ADConfig) { c.Hosts = []string{"dc1:99999"} },
		func(c *ADConfig) { c.ServicePassword = "" },
		func(c *ADConfig) { c.ServiceUsername = "" },
		func(c *ADConfig) { c.AuthType = "plain" }, // no bind_dn
		func(c *ADConfig) { c.AuthType = "sspi" },
		func(c *ADConfig) { c.AuthType = "kerberos" },
		func(c *ADConfig) { c.SearchDN = "" },
		func(c *ADConfig) { c.SearchDN = "not a dn" },
		func(c *ADConfig) { c.SecurityGroupDN = "not a dn" },
		func(c *ADConfig) { c.LDAPFilter = "(&(a=b)" },
		func(c *ADConfig) { c.Transport = "ssl" },
		func(c *ADConfig) { c.Transport = "ldaps"; c.CAFile = "/nonexistent.pem" },
		func(c *ADConfig) { c.UsernameAttribute = "a=b" },
	}
	for i, f := range bad {
		c := ok
		f(&c)
		if _, err := NewAD(c); err == nil {
			t.Errorf("case %d accepted: %+v", i, c)
		}
	}
}

func TestSplitSID(t *testing.T) {
	t.Parallel()
	dom, rid, ok := splitSID(ldaptest.SID("S-1-5-21-1-2-3-1100"))
	if !ok || rid != 1100 || dom != string(ldaptest.SID("S-1-5-21-1-2-3-1100")[:24]) {
		t.Errorf("splitSID = %x %d %v", dom, rid, ok)
	}
	for _, b := range [][]byte{nil, {1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0}, {1, 0, 0, 0, 0, 0, 0, 5}} {
		if _, _, ok := splitSID(b); ok {
			t.Errorf("splitSID(%x) accepted", b)
		}
	}
}

func FuzzSplitSID(f *testing.F) {
	f.Add(ldaptest.SID("S-1-5-21-1-2-3-1100"))
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		dom, _, ok := splitSID(b)
		if ok && len(dom) != len(b)-4 {
			t.Fatalf("domain part %d bytes of %d", len(dom), len(b))
		}
	})
}

// closedPort is a loopback TCP address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// forward relays TCP connections from listen to target until the test
// ends, and returns the listening address ("" if listen cannot be bound).
func forward(t *testing.T, listen, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Logf("cannot listen on %s: %v", listen, err)
		return ""
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				down.Close()
				continue
			}
			go func() { _, _ = io.Copy(up, down); up.Close() }()
			go func() { _, _ = io.Copy(down, up); down.Close() }()
		}
	}()
	return l.Addr().String()
}

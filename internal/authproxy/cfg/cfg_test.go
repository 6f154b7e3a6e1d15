package cfg

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseFile parses a testdata file with Parse (no permission warning).
func parseFile(t *testing.T, name string) (*Config, []Warning, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(filepath.Join("testdata", name), f)
}

func mustParseFile(t *testing.T, name string) (*Config, []Warning) {
	t.Helper()
	c, w, err := parseFile(t, name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c, w
}

func parseString(t *testing.T, text string) (*Config, []Warning, error) {
	t.Helper()
	return Parse(filepath.Join(t.TempDir(), "authproxy.cfg"), strings.NewReader(text))
}

func problems(t *testing.T, err error) []Problem {
	t.Helper()
	var e *Errors
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *Errors", err, err)
	}
	return e.Problems
}

func server(t *testing.T, c *Config, name string) *Server {
	t.Helper()
	for _, s := range c.Servers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no server section %s", name)
	return nil
}

func prefixes(ns []Network) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Prefix.String())
	}
	return out
}

type check struct {
	name      string
	got, want any
}

func runChecks(t *testing.T, checks []check) {
	t.Helper()
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

const (
	testIKey = "DIAAAAAAAAAAAAAAAAAA"
	testSKey = "0123456789012345678901234567890123456789"
)

func TestDuoSampleShape(t *testing.T) {
	t.Parallel()
	c, warns := mustParseFile(t, "duo_sample.cfg")
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	ad := c.ADClients["ad_client"]
	s := server(t, c, "radius_server_auto")
	runChecks(t, []check{
		{"ad hosts", ad.Hosts, []string{"10.1.0.10", "10.1.0.11"}},
		{"ad password", ad.ServiceAccountPassword.Reveal(), "Ju5tAS3rviceP4ss"},
		{"ad group", ad.SecurityGroupDN, "CN=VPN Users,OU=Groups,DC=example,DC=com"},
		{"client", s.Client, "ad_client"},
		{"client kind", s.ClientKind, ClientAD},
		{"networks", prefixes(s.Networks), []string{"10.1.0.50/32"}},
		{"secret", s.Networks[0].Secret.Reveal(), "radiusSecret1"},
		{"skey", s.SKey.Reveal(), "abcdefghijklmnopqrstuvwxyz0123456789ABCD"},
		{"listen", s.ListenAddr(), ":1812"},
	})
}

// TestDefaults checks every default of the spec (authproxy.md §1) on
// minimal sections.
func TestDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "conf", "authproxy.cfg")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	text := `
[ad_client]
host = dc.example.com
service_account_username = svc
service_account_password = pw
search_dn = DC=example,DC=com

[radius_client]
host = 198.51.100.1
secret = up

[radius_server_auto]
client = ad_client
ikey = ` + testIKey + `
skey = ` + testSKey + `
api_host = api-1.example.com
radius_ip_1 = 10.0.0.1
radius_secret_1 = a

[radius_server_challenge]
client = radius_client
ikey = ` + testIKey + `
skey = ` + testSKey + `
api_host = api-1.example.com
radius_ip_1 = 10.0.0.2
radius_secret_1 = b

[radius_server_concat]
client = ad_client
ikey = ` + testIKey + `
skey = ` + testSKey + `
api_host = api-1.example.com
radius_ip_1 = 10.0.0.3
radius_secret_1 = c
`
	c, warns, err := Parse(path, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	m := c.Main
	ad := c.ADClients["ad_client"]
	rc := c.RadiusClients["radius_client"]
	auto := server(t, c, "radius_server_auto")
	chal := server(t, c, "radius_server_challenge")
	conc := server(t, c, "radius_server_concat")
	runChecks(t, []check{
		{"main.debug", m.Debug, false},
		// Duo's default log dir is "log" under the install dir, the parent of conf/.
		{"main.log_dir", m.LogDir, filepath.Join(dir, "log")},
		{"main.log_file", m.LogFile, true},
		{"main.log_max_size", m.LogMaxSize, int64(10485760)},
		{"main.log_max_files", m.LogMaxFiles, 6},
		{"main.log_stdout", m.LogStdout, false},
		{"main.log_syslog", m.LogSyslog, false},
		{"main.syslog_facility", m.SyslogFacility, "LOG_USER"},
		{"main.log_auth_events", m.LogAuthEvents, false},
		{"main.log_sso_events", m.LogSSOEvents, true},
		{"main.http_ca_certs_file", m.HTTPCACertsFile, ""},
		{"main.http_proxy_host", m.HTTPProxyHost, ""},
		{"main.http_proxy_port", m.HTTPProxyPort, 80},
		{"main.interface", m.Interface, netip.Addr{}},
		{"main.test_connectivity_on_startup", m.TestConnectivityOnStartup, false},
		{"main.fips_mode", m.FIPSMode, false},
		{"main.metrics_listen", m.MetricsListen, ""},
		{"main.log_format", m.LogFormat, "text"},
		{"main.max_requests_in_flight", m.MaxRequestsInFlight, 500},

		{"ad.port", ad.Port, 389},
		{"ad.timeout", ad.Timeout, 10 * time.Second},
		{"ad.transport", ad.Transport, "clear"},
		{"ad.auth_type", ad.AuthType, "ntlm2"},
		{"ad.username_attribute", ad.UsernameAttribute, "sAMAccountName"},
		{"ad.at_attribute", ad.AtAttribute, "userPrincipalName"},
		{"ad.ssl_verify_hostname", ad.SSLVerifyHostname, true},
		{"ad.ssl_verify_depth", ad.SSLVerifyDepth, 9},
		{"ad.security_group_dn", ad.SecurityGroupDN, ""},
		{"ad.ldap_filter", ad.LDAPFilter, ""},

		{"rc.hosts", rc.Hosts, []RadiusHost{{"198.51.100.1", 1812}}},
		{"rc.retries", rc.Retries, 3},
		{"rc.retry_wait", rc.RetryWait, 2 * time.Second},
		{"rc.nas_ip", rc.NASIP, netip.Addr{}},
		{"rc.pass_through_all", rc.PassThroughAll, false},
		{"rc.pw_codec", rc.PWCodec, "utf-8"},

		{"auto.api_port", auto.APIPort, 443},
		{"auto.api_timeout", auto.APITimeout, time.Duration(0)},
		{"auto.failmode", auto.Failmode, "safe"},
		{"auto.port", auto.Port, 1812},
		{"auto.interface", auto.Interface, netip.Addr{}},
		{"auto.client_ip_attr", auto.ClientIPAttr, "Calling-Station-Id"},
		{"auto.pw_codec", auto.PWCodec, "utf-8"},
		{"auto.pass_through_all", auto.PassThroughAll, false},
		{"auto.exempt", len(auto.ExemptUsernames), 0},
		// Assent's default, unlike Duo's (BlastRADIUS).
		{"auto.require_message_authenticator", auto.RequireMessageAuthenticator, true},
		{"auto.network require MA", auto.Networks[0].RequireMessageAuthenticator, true},
		{"auto.network require MA key", auto.Networks[0].RequireMessageAuthenticatorKey, ""},
		{"auto.factors", auto.Factors, []string{"auto"}},
		{"auto.delimiter", auto.Delimiter, ","},
		{"auto.delimited_password_length", auto.DelimitedPasswordLength, 0},
		{"auto.allow_concat", auto.AllowConcat, true},

		{"challenge.prompt_format", chal.PromptFormat, "console"},
		{"challenge.enroll_challenge", chal.EnrollChallenge, true},
		{"challenge.client kind", chal.ClientKind, ClientRADIUS},

		{"concat.delimiter", conc.Delimiter, ","},
		{"concat.delimited_password_length", conc.DelimitedPasswordLength, 0},
	})
	// ldaps changes the default port.
	text = strings.Replace(text, "search_dn = DC=example,DC=com", "search_dn = DC=example,DC=com\ntransport = ldaps", 1)
	c, _, err = Parse(path, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ADClients["ad_client"].Port; p != 636 {
		t.Errorf("ldaps default port = %d, want 636", p)
	}
}

func TestAllKeys(t *testing.T) {
	t.Parallel()
	c, warns := mustParseFile(t, "all_keys.cfg")
	ca := filepath.Join("testdata", "ca.pem")
	m := c.Main
	ad := c.ADClients["ad_client"]
	rc := c.RadiusClients["radius_client"]
	auto := server(t, c, "radius_server_auto")
	chal := server(t, c, "radius_server_challenge")
	conc := server(t, c, "radius_server_concat")
	duo := server(t, c, "radius_server_duo_only")
	runChecks(t, []check{
		{"main.debug", m.Debug, true},
		{"main.log_dir", m.LogDir, "/var/log/assent-authproxy"},
		{"main.log_file", m.LogFile, false},
		{"main.log_max_size", m.LogMaxSize, int64(2048)},
		{"main.log_max_files", m.LogMaxFiles, 0},
		{"main.log_stdout", m.LogStdout, true},
		{"main.log_syslog", m.LogSyslog, true},
		{"main.syslog_facility", m.SyslogFacility, "LOG_LOCAL3"},
		{"main.log_auth_events", m.LogAuthEvents, true},
		{"main.log_sso_events", m.LogSSOEvents, false},
		{"main.http_ca_certs_file", m.HTTPCACertsFile, ca},
		{"main.http_proxy_host", m.HTTPProxyHost, "proxy.example.com"},
		{"main.http_proxy_port", m.HTTPProxyPort, 3128},
		{"main.interface", m.Interface, netip.MustParseAddr("192.0.2.1")},
		{"main.test_connectivity_on_startup", m.TestConnectivityOnStartup, true},
		{"main.client", m.Client, "radius_client"},
		{"main.server", m.Server, "radius_server_auto"},
		{"main.fips_mode", m.FIPSMode, false},
		{"main.metrics_listen", m.MetricsListen, "127.0.0.1:9812"},
		{"main.log_format", m.LogFormat, "json"},
		{"main.max_requests_in_flight", m.MaxRequestsInFlight, 2000},

		{"ad.hosts", ad.Hosts, []string{"dc1.example.com", "dc2.example.com", "192.0.2.30"}},
		{"ad.port", ad.Port, 3269},
		{"ad.service_account_username", ad.ServiceAccountUsername, "svc"},
		{"ad.service_account_password", ad.ServiceAccountPassword.Reveal(), "svcpass"},
		{"ad.search_dn", ad.SearchDN, "DC=example,DC=com"},
		{"ad.security_group_dn", ad.SecurityGroupDN, "CN=VPN,OU=Groups,DC=example,DC=com"},
		{"ad.ldap_filter", ad.LDAPFilter, "(objectClass=user)"},
		{"ad.timeout", ad.Timeout, 5 * time.Second},
		{"ad.transport", ad.Transport, "ldaps"},
		{"ad.auth_type", ad.AuthType, "plain"},
		{"ad.bind_dn", ad.BindDN, "CN=svc,CN=Users,DC=example,DC=com"},
		{"ad.ntlm_domain", ad.NTLMDomain, "EXAMPLE"},
		{"ad.ntlm_workstation", ad.NTLMWorkstation, "PROXY1"},
		{"ad.username_attribute", ad.UsernameAttribute, "uid"},
		{"ad.at_attribute", ad.AtAttribute, "mail"},
		{"ad.ssl_ca_certs_file", ad.SSLCACertsFile, ca},
		{"ad.ssl_verify_hostname", ad.SSLVerifyHostname, false},
		{"ad.ssl_verify_depth", ad.SSLVerifyDepth, 3},
		{"ad.debug (from [main])", ad.Debug, true},
		{"ad.http_ca_certs_file", ad.HTTPCACertsFile, ca},

		{"rc.hosts", rc.Hosts, []RadiusHost{{"198.51.100.1", 11812}, {"radius2.example.com", 21812}, {"198.51.100.3", 1812}}},
		{"rc.secret", rc.Secret.Reveal(), "upstream"},
		{"rc.retries", rc.Retries, 5},
		{"rc.retry_wait", rc.RetryWait, 4 * time.Second},
		{"rc.nas_ip", rc.NASIP, netip.MustParseAddr("192.0.2.1")},
		{"rc.pass_through_attr_names", rc.PassThroughAttrNames, []string{"Class", "Filter-Id", "Framed-IP-Address"}},
		{"rc.pass_through_all", rc.PassThroughAll, true},
		{"rc.pw_codec", rc.PWCodec, "latin-1"},
		{"rc.debug", rc.Debug, true},

		{"duo_only_client.debug (from [main])", c.DuoOnlyClients["duo_only_client"].Debug, true},

		{"auto.ikey", auto.IKey, "DIAUTOAUTOAUTOAUTO01"},
		{"auto.skey", auto.SKey.Reveal(), "auto0auto1auto2auto3auto4auto5auto6auto7"},
		{"auto.api_host", auto.APIHost, "api-12345678.duosecurity.com"},
		{"auto.api_port", auto.APIPort, 8443},
		{"auto.api_timeout", auto.APITimeout, 30 * time.Second},
		{"auto.failmode", auto.Failmode, "secure"},
		{"auto.networks", prefixes(auto.Networks), []string{"10.0.0.0/24", "10.0.1.1/32", "10.0.1.2/31", "10.0.1.4/31", "10.0.1.6/32"}},
		{"auto.network secrets", []string{auto.Networks[0].Secret.Reveal(), auto.Networks[1].Secret.Reveal()}, []string{"net1secret", "net2secret"}},
		{"auto.network require MA", []bool{auto.Networks[0].RequireMessageAuthenticator, auto.Networks[1].RequireMessageAuthenticator}, []bool{false, true}},
		{"auto.network require MA key", []string{auto.Networks[0].RequireMessageAuthenticatorKey, auto.Networks[1].RequireMessageAuthenticatorKey},
			[]string{"require_message_authenticator", "require_message_authenticator_2"}},
		{"auto.network index", auto.Networks[4].Index, 2},
		{"auto.port", auto.Port, 18120},
		{"auto.interface", auto.Interface, netip.MustParseAddr("192.0.2.2")},
		{"auto.listen", auto.ListenAddr(), "192.0.2.2:18120"},
		{"auto.client (forced by [main])", auto.Client, "radius_client"},
		{"auto.client kind", auto.ClientKind, ClientRADIUS},
		{"auto.exempt", auto.ExemptUsernames, []string{"breakglass", "monitor"}},
		{"auto.pass_through_attr_names", auto.PassThroughAttrNames, []string{"Class"}},
		{"auto.pass_through_all", auto.PassThroughAll, true},
		{"auto.pw_codec", auto.PWCodec, "ascii"},
		{"auto.client_ip_attr", auto.ClientIPAttr, "Framed-IP-Address"},
		{"auto.http_proxy_host", auto.HTTPProxyHost, "proxy2.example.com"},
		{"auto.http_proxy_port", auto.HTTPProxyPort, 8080},
		{"auto.http_ca_certs_file", auto.HTTPCACertsFile, ca},
		{"auto.debug", auto.Debug, true},
		{"auto.require_message_authenticator", auto.RequireMessageAuthenticator, false},
		{"auto.factors", auto.Factors, []string{"push", "passcode"}},
		{"auto.delimiter", auto.Delimiter, "#"},
		{"auto.delimited_password_length", auto.DelimitedPasswordLength, 12},
		{"auto.allow_concat", auto.AllowConcat, false},

		{"challenge.api_host with port", chal.APIHost, "127.0.0.1:8443"},
		{"challenge.networks", prefixes(chal.Networks), []string{"2001:db8::/64"}},
		{"challenge.client", chal.Client, "ad_client"},
		{"challenge.prompt_format", chal.PromptFormat, "html"},
		{"challenge.enroll_challenge", chal.EnrollChallenge, false},
		// [main] settings pushed into sections without their own.
		{"challenge.interface (from [main])", chal.Interface, netip.MustParseAddr("192.0.2.1")},
		{"challenge.http_proxy (from [main])", []any{chal.HTTPProxyHost, chal.HTTPProxyPort}, []any{"proxy.example.com", 3128}},
		{"challenge.http_ca_certs_file (from [main])", chal.HTTPCACertsFile, ca},
		{"challenge.debug (from [main])", chal.Debug, true},

		{"concat.networks", prefixes(conc.Networks), []string{"10.9.0.0/16"}},
		{"concat.client kind", conc.ClientKind, ClientDuoOnly},
		{"concat.delimiter", conc.Delimiter, "|"},
		{"concat.delimited_password_length", conc.DelimitedPasswordLength, 8},

		{"duo_only.client", duo.Client, ""},
		{"duo_only.client kind", duo.ClientKind, ClientNone},
		{"duo_only.mode", duo.Mode, ModeDuoOnly},
	})
	// The only warning: [main] server/client override the section's own client=.
	if len(warns) != 1 || warns[0].Key != "client" || warns[0].Line != 102 {
		t.Errorf("warnings = %v", warns)
	}
}

func TestAliases(t *testing.T) {
	t.Parallel()
	c, warns := mustParseFile(t, "aliases.cfg")
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	auto := server(t, c, "radius_server_auto")
	conc := server(t, c, "radius_server_concat")
	runChecks(t, []check{
		{"section name lower-cased", auto.Client, "radius_client"},
		{"HOST: key", c.RadiusClients["radius_client"].Hosts, []RadiusHost{{"127.0.0.1", 1812}}},
		{"concat_mode=0", auto.AllowConcat, false},
		{"client_ip_attr=PaloAlto", auto.ClientIPAttr, "PaloAlto-Client-Source-IP"},
		{"Failmode: Secure", auto.Failmode, "secure"},
		{"delimeter", conc.Delimiter, ";"},
	})

	// Both spellings at once.
	base := minimalServer("radius_server_concat", "10.0.0.1")
	_, warns, err := parseString(t, base+"delimiter = #\ndelimeter = ;\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || warns[0].Key != "delimeter" {
		t.Errorf("warnings = %v", warns)
	}
	_, _, err = parseString(t, minimalServer("radius_server_auto", "10.0.0.1")+"allow_concat = true\nconcat_mode = false\n")
	if ps := problems(t, err); len(ps) != 1 || ps[0].Key != "concat_mode" {
		t.Errorf("problems = %v", ps)
	}
}

// minimalServer is a valid file with one duo_only_client and one server
// section of the given kind (its keys can be appended).
func minimalServer(section, ip string) string {
	return "[duo_only_client]\n\n[" + section + "]\nikey = " + testIKey + "\nskey = " + testSKey +
		"\napi_host = api-1.example.com\nradius_ip_1 = " + ip + "\nradius_secret_1 = s\n"
}

func TestBooleansAndEnums(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		want  bool
		ok    bool
	}{
		{"true", true, true}, {"TRUE", true, true}, {"False", false, true}, {"1", true, true},
		{"0", false, true}, {"-1", true, true}, {"42", true, true}, {"+0", false, true},
		{"yes", false, false}, {"on", false, false}, {"", false, false}, {"1.0", false, false},
	} {
		c, _, err := parseString(t, minimalServer("radius_server_challenge", "10.0.0.1")+"enroll_challenge = "+tc.value+"\n")
		if !tc.ok {
			if ps := problems(t, err); len(ps) != 1 || !strings.Contains(ps[0].Msg, "true or false") {
				t.Errorf("%q: problems %v", tc.value, ps)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.value, err)
			continue
		}
		if got := c.Servers[0].EnrollChallenge; got != tc.want {
			t.Errorf("%q: got %v", tc.value, got)
		}
	}
}

func TestNumbered(t *testing.T) {
	t.Parallel()
	c, warns := mustParseFile(t, "numbered.cfg")
	ch := server(t, c, "radius_server_challenge")
	ch2 := server(t, c, "radius_server_challenge2")
	runChecks(t, []check{
		{"ad_client3 hosts (host_1 first)", c.ADClients["ad_client3"].Hosts, []string{"dc1.example.com", "dc2.example.com", "dc3.example.com"}},
		{"radius_client2 hosts", c.RadiusClients["radius_client2"].Hosts, []RadiusHost{{"198.51.100.1", 1812}, {"198.51.100.2", 1645}}},
		{"challenge client from [main]", ch.Client, "ad_client3"},
		{"challenge2 own client", ch2.Client, "radius_client2"},
		{"networks by N", prefixes(ch.Networks), []string{"10.0.0.1/32", "10.0.0.3/32", "10.0.0.10/32"}},
		{"indexes", []int{ch.Networks[0].Index, ch.Networks[1].Index, ch.Networks[2].Index}, []int{1, 3, 10}},
		{"secrets", ch.Networks[2].Secret.Reveal(), "ten"},
		{"exempt until the first gap", ch.ExemptUsernames, []string{"alice", "bob"}},
		{"challenge2 port", ch2.Port, 1813},
	})
	if len(warns) != 1 || warns[0].Key != "exempt_username_4" || warns[0].Line != 31 {
		t.Errorf("warnings = %v", warns)
	}
	if got := len(c.Sockets()); got != 2 {
		t.Errorf("sockets = %d, want 2", got)
	}
}

func TestHostNumbering(t *testing.T) {
	t.Parallel()
	head := strings.Replace(minimalServer("radius_server_auto", "10.0.0.1"), "[duo_only_client]\n", "", 1) + "[radius_client]\nsecret = s\n"
	for _, tc := range []struct {
		name     string
		keys     string
		hosts    []RadiusHost
		errKeys  []string
		warnKeys []string
	}{
		{"host only", "host = a\n", []RadiusHost{{"a", 1812}}, nil, nil},
		{"host_1 as first", "host_1 = a\nport_1 = 1\n", []RadiusHost{{"a", 1}}, nil, nil},
		{"host and port", "host = a\nport = 2\nhost_2 = b\nport_2 = 3\n", []RadiusHost{{"a", 2}, {"b", 3}}, nil, nil},
		{"gap stops the list", "host = a\nhost_3 = c\n", []RadiusHost{{"a", 1812}}, nil, []string{"host_3"}},
		{"port without host", "host = a\nport_2 = 5\n", []RadiusHost{{"a", 1812}}, nil, []string{"port_2"}},
		{"host and host_1", "host = a\nhost_1 = b\n", nil, []string{"host_1"}, nil},
		{"port and port_1", "host = a\nport = 1\nport_1 = 2\n", nil, []string{"port_1"}, nil},
		{"no host", "host_2 = b\n", nil, []string{"host"}, []string{"host_2"}},
		{"bad port_2", "host = a\nhost_2 = b\nport_2 = x\n", nil, []string{"port_2"}, nil},
		{"host with scheme", "host = radius://a\n", nil, []string{"host"}, nil},
	} {
		c, warns, err := parseString(t, head+tc.keys)
		var errKeys, warnKeys []string
		if err != nil {
			for _, p := range problems(t, err) {
				errKeys = append(errKeys, p.Key)
			}
		}
		for _, w := range warns {
			warnKeys = append(warnKeys, w.Key)
		}
		if !slices.Equal(errKeys, tc.errKeys) || !slices.Equal(warnKeys, tc.warnKeys) {
			t.Errorf("%s: errors %v (want %v), warnings %v (want %v); %v", tc.name, errKeys, tc.errKeys, warnKeys, tc.warnKeys, err)
			continue
		}
		if err == nil && !reflect.DeepEqual(c.RadiusClients["radius_client"].Hosts, tc.hosts) {
			t.Errorf("%s: hosts %v, want %v", tc.name, c.RadiusClients["radius_client"].Hosts, tc.hosts)
		}
	}
}

func TestRanges(t *testing.T) {
	t.Parallel()
	c, warns := mustParseFile(t, "ranges.cfg")
	s := c.Servers[0]
	want := []string{
		"192.0.2.7/32",
		"2001:db8::7/128",
		"198.51.100.0/24",
		"203.0.113.0/28",
		"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/31",
		"2001:db8:1::/120",
		"172.16.0.0/12",
		"192.0.2.200/32",
	}
	if got := prefixes(s.Networks); !slices.Equal(got, want) {
		t.Errorf("networks\n got %v\nwant %v", got, want)
	}
	for _, n := range s.Networks {
		if n.Index == 5 && (n.Secret.Reveal() != "e" || n.Source != "10.0.0.1-10.0.0.9") {
			t.Errorf("range piece %v: secret/source wrong", n.Prefix)
		}
	}
	if len(warns) != 1 || warns[0].Key != "radius_ip_7" || !strings.Contains(warns[0].Msg, "172.16.0.0/12") {
		t.Errorf("warnings = %v", warns)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	t.Parallel()
	_, _, err := parseFile(t, "many_errors.cfg")
	ps := problems(t, err)
	want := []struct {
		line    int
		section string
		key     string
		msg     string
	}{
		{2, "main", "debug", "true or false"},
		{3, "main", "lgo_dir", "did you mean log_dir?"},
		{8, "radius_client", "retries", "many"},
		{12, "radius_server_auto", "skey", "40 characters"},
		{13, "radius_server_auto", "api_host", "without https://"},
		{14, "radius_server_auto", "radius_ip_1", "not an IP address"},
		{16, "radius_server_auto", "radius_secret_2", "has no radius_ip_2"},
		{17, "radius_server_auto", "failmode", "allowed: safe, secure"},
		{18, "radius_server_auto", "port", "1 to 65535"},
		{19, "radius_server_auto", "factors", `unknown factor "sms"`},
		{20, "radius_server_auto", "prompt_format", "[radius_server_challenge]"},
		{22, "radius_server_iframe", "", "not supported by Assent"},
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i := 0; i < min(len(ps), len(want)); i++ {
		p, w := ps[i], want[i]
		if p.Line != w.line || p.Section != w.section || p.Key != w.key || !strings.Contains(p.Msg, w.msg) || p.File != filepath.Join("testdata", "many_errors.cfg") {
			t.Errorf("problem %d = %+v, want line %d [%s] %s ~%q", i, p, w.line, w.section, w.key, w.msg)
		}
	}
	// The message lists them all, one per line, with file:line.
	msg := err.Error()
	if !strings.HasPrefix(msg, "invalid authproxy configuration (12 problems):") ||
		!strings.Contains(msg, "\n  testdata/many_errors.cfg:19: [radius_server_auto] factors: ") {
		t.Errorf("message:\n%s", msg)
	}
}

func TestMissingRequired(t *testing.T) {
	t.Parallel()
	_, _, err := parseString(t, `
[ad_client]
host =

[radius_server_auto]
radius_secret_1 = s
`)
	var got []string
	for _, p := range problems(t, err) {
		got = append(got, p.Section+"/"+p.Key)
	}
	want := []string{
		"ad_client/host",                     // line 3: empty host
		"ad_client/service_account_username", // section line 2
		"ad_client/service_account_password",
		"ad_client/search_dn",
		"radius_server_auto/ikey",
		"radius_server_auto/skey",
		"radius_server_auto/api_host",
		"radius_server_auto/radius_ip_1",
		"radius_server_auto/radius_secret_1",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems\n got %v\nwant %v\n%v", got, want, err)
	}
}

func TestProtectedKeys(t *testing.T) {
	t.Parallel()
	_, _, err := parseFile(t, "protected.cfg")
	ps := problems(t, err)
	want := map[string]string{
		"service_account_password_protected": "service_account_password",
		"skey_protected":                     "skey",
		"radius_secret_protected_1":          "radius_secret_1",
	}
	if len(ps) != len(want) {
		t.Fatalf("problems: %v", err)
	}
	for _, p := range ps {
		plain, ok := want[p.Key]
		if !ok || !strings.Contains(p.Msg, "Windows") || !strings.Contains(p.Msg, "put the plain value in "+plain) || !strings.Contains(p.Msg, "chmod 600") {
			t.Errorf("problem %+v", p)
		}
	}
	// Both forms set: the DPAPI error plus "not both".
	_, _, err = parseString(t, minimalServer("radius_server_auto", "10.0.0.1")+"radius_secret_protected_1 = AQAA\n")
	if ps := problems(t, err); len(ps) != 2 || !strings.Contains(ps[1].Msg, "not both") {
		t.Errorf("problems: %v", err)
	}
}

func TestUnsupportedSections(t *testing.T) {
	t.Parallel()
	_, _, err := parseFile(t, "unsupported.cfg")
	ps := problems(t, err)
	var got []string
	for _, p := range ps {
		if !strings.Contains(p.Msg, "not supported by Assent") {
			t.Errorf("problem %+v", p)
		}
		got = append(got, p.Section)
	}
	want := []string{"ldap_server_auto", "radius_server_iframe2", "radius_server_eap", "cloud", "http_proxy", "sso"}
	if !slices.Equal(got, want) {
		t.Errorf("sections %v, want %v", got, want)
	}
}

func TestUnknownSectionsAndKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text, key, msg string
	}{
		{"[radius_sever_auto]\n", "", "did you mean [radius_server_auto]?"},
		{"[radius_server_challange2]\n", "", "did you mean [radius_server_challenge2]?"},
		{"[DEFAULT]\n", "", "ConfigParser"},
		{"[main2]\n", "", "cannot be numbered"},
		{"[frobnicator]\n", "", "Assent reads [main]"},
		{"[main]\ndebgu = true\n", "debgu", "did you mean debug?"},
		{"[main]\nikey = x\n", "ikey", "belongs in [radius_server_*] sections"},
		{"[main]\nradius_ip_3 = x\n", "radius_ip_3", "belongs in [radius_server_*] sections"},
		{"[main]\nsearch_dn = x\n", "search_dn", "belongs in [ad_client] sections"},
		{"[main]\nfoo_protected = x\n", "foo_protected", "_protected forms"},
		{"[main]\nwhatever = x\n", "whatever", "docs/authproxy-config.md"},
		{"[ad_client]\nhost=a\nservice_account_username=u\nservice_account_password=p\nsearch_dn=DC=x\nserach_dn = x\n", "serach_dn", "did you mean search_dn?"},
		{"[radius_client]\nhost=a\nsecret=s\nretry_wiat=1\n", "retry_wiat", "did you mean retry_wait?"},
	} {
		_, _, err := parseString(t, minimalServer("radius_server_auto", "10.0.0.1")+"client = duo_only_client\n"+tc.text)
		ps := problems(t, err)
		found := false
		for _, p := range ps {
			found = found || p.Key == tc.key && strings.Contains(p.Msg, tc.msg)
		}
		if !found {
			t.Errorf("%q: no problem %s ~%q in\n%v", tc.text, tc.key, tc.msg, err)
		}
	}
	// Mode-specific keys in the wrong mode.
	for _, tc := range []struct{ section, key, home string }{
		{"radius_server_auto", "prompt_format = html", "radius_server_challenge"},
		{"radius_server_challenge", "factors = push", "radius_server_auto"},
		{"radius_server_duo_only", "delimiter = ,", "radius_server_auto] or [radius_server_concat"},
		{"radius_server_auto", "delimeter = ,", "radius_server_concat"},
	} {
		_, _, err := parseString(t, minimalServer(tc.section, "10.0.0.1")+tc.key+"\n")
		if ps := problems(t, err); len(ps) != 1 || !strings.Contains(ps[0].Msg, tc.home) {
			t.Errorf("%s in %s: %v", tc.key, tc.section, err)
		}
	}
}

func TestInvalidValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		section, line, key, msg string
	}{
		{"radius_server_auto", "ikey = DIshort", "ikey", "20-character"},
		{"radius_server_auto", "api_timeout = -1", "api_timeout", "whole number of seconds"},
		{"radius_server_auto", "api_timeout = 2.5", "api_timeout", "whole number of seconds"},
		{"radius_server_auto", "api_port = 0", "api_port", "1 to 65535"},
		{"radius_server_auto", "api_host = api-1.example.com:99999", "api_host", "1 to 65535"},
		{"radius_server_auto", "interface = 10.0.0.0/8", "interface", "single IPv4 or IPv6"},
		{"radius_server_auto", "factors = push, push", "factors", "listed twice"},
		{"radius_server_auto", "factors =", "factors", "comma-separated"},
		{"radius_server_auto", "delimiter =", "delimiter", "one or more characters"},
		{"radius_server_auto", "delimited_password_length = -3", "delimited_password_length", "0 (off)"},
		{"radius_server_auto", "pw_codec = klingon", "pw_codec", "utf-8"},
		{"radius_server_auto", "client_ip_attr = 1bad", "client_ip_attr", "attribute name"},
		{"radius_server_auto", "pass_through_attr_names = Class, bad name", "pass_through_attr_names", `"bad name"`},
		{"radius_server_auto", "exempt_username_1 =", "exempt_username_1", "empty"},
		{"radius_server_auto", "radius_ip_2 = 10.0.0.9-10.0.0.1", "radius_ip_2", "before its start"},
		{"radius_server_auto", "require_message_authenticator_1 = sure", "require_message_authenticator_1", "true or false"},
		{"radius_server_auto", "require_message_authenticator_7 = true", "require_message_authenticator_7", "has no radius_ip_7"},
		{"radius_server_auto", "radius_ip = 10.0.0.5", "radius_ip", "radius_ip_1"},
		{"radius_server_auto", "http_ca_certs_file = nonexistent.pem", "http_ca_certs_file", "no such file"},
		{"radius_server_challenge", "prompt_format = fancy", "prompt_format", "console, html, short"},
		{"main", "metrics_listen = 9812", "metrics_listen", "host:port"},
		{"main", "log_format = xml", "log_format", "text, json"},
		{"main", "max_requests_in_flight = 0", "max_requests_in_flight", "at least 1"},
		{"main", "syslog_facility = LOG_NOPE", "syslog_facility", "LOG_LOCAL0"},
		{"main", "interface = eth0", "interface", "single IPv4"},
		{"main", "http_proxy_host = http://proxy", "http_proxy_host", "without scheme"},
		{"main", "log_max_files = -1", "log_max_files", "0 to keep all"},
		{"ad_client", "auth_type = sspi", "auth_type", "only on Windows"},
		{"ad_client", "auth_type = kerberos", "auth_type", "plain, ntlm1, ntlm2, sspi"},
		{"ad_client", "transport = tls", "transport", "clear, ldaps, starttls"},
		{"ad_client", "domain_discovery = true", "domain_discovery", "not supported by Assent"},
		{"ad_client", "ldap_filter = (objectClass=user", "ldap_filter", "LDAP search filter"},
		{"ad_client", "security_group_dn = not a dn", "security_group_dn", "distinguished name"},
		{"ad_client", "timeout = 0", "timeout", "at least 1"},
		{"ad_client", "ssl_ca_certs_file = not_pem.txt", "ssl_ca_certs_file", "no PEM certificate"},
		{"ad_client", "auth_type = plain", "bind_dn", "auth_type=plain"},
		{"radius_client", "retry_wait = 0", "retry_wait", "at least 1"},
		{"radius_client", "nas_ip = host.example.com", "nas_ip", "single IPv4"},
		{"radius_client", "secret =", "secret", "empty"},
	} {
		var text string
		switch tc.section {
		case "main":
			text = minimalServer("radius_server_auto", "10.0.0.1") + "[main]\n" + tc.line + "\n"
		case "ad_client", "radius_client":
			text = minimalServer("radius_server_auto", "10.0.0.1") + "client = duo_only_client\n" +
				"[ad_client]\nhost=a\nservice_account_username=u\nservice_account_password=p\nsearch_dn=DC=x\n" +
				"[radius_client]\nhost=a\n"
			if tc.line != "secret =" {
				text += "secret=s\n"
			}
			text = strings.Replace(text, "["+tc.section+"]\n", "["+tc.section+"]\n"+tc.line+"\n", 1)
		default:
			text = setKey(minimalServer(tc.section, "10.0.0.1"), tc.line)
		}
		// ssl_ca_certs_file is resolved against the file's directory.
		c, _, err := Parse(filepath.Join("testdata", "x.cfg"), strings.NewReader(text))
		if err == nil {
			t.Errorf("%s: accepted (%v)", tc.line, c)
			continue
		}
		found := false
		for _, p := range problems(t, err) {
			found = found || p.Key == tc.key && strings.Contains(p.Msg, tc.msg)
		}
		if !found {
			t.Errorf("%s: want %s ~%q, got\n%v", tc.line, tc.key, tc.msg, err)
		}
	}
}

func TestClientResolution(t *testing.T) {
	t.Parallel()
	ad := func(name string) string {
		return "[" + name + "]\nhost=a\nservice_account_username=u\nservice_account_password=p\nsearch_dn=DC=x\n"
	}
	rc := func(name string) string { return "[" + name + "]\nhost=a\nsecret=s\n" }
	srv := func(name, extra string) string {
		return "[" + name + "]\nikey=" + testIKey + "\nskey=" + testSKey + "\napi_host=h\nradius_ip_1=10.0.0." +
			string(rune('1'+len(name)%8)) + "\nradius_secret_1=s\n" + extra
	}
	for _, tc := range []struct {
		name    string
		text    string
		want    map[string]string // server → client
		errMsg  string
		warnMsg string
	}{
		{"only client section", ad("ad_client") + srv("radius_server_auto", ""), map[string]string{"radius_server_auto": "ad_client"}, "", ""},
		{"only client is duo_only_client", "[duo_only_client]\n" + srv("radius_server_challenge", ""), map[string]string{"radius_server_challenge": "duo_only_client"}, "", ""},
		{"own client", ad("ad_client") + rc("radius_client") + srv("radius_server_auto", "client=radius_client\n"), map[string]string{"radius_server_auto": "radius_client"}, "", "[ad_client]"},
		{"own client, any case", ad("ad_client") + rc("radius_client2") + srv("radius_server_auto", "client=Radius_Client2\n"), map[string]string{"radius_server_auto": "radius_client2"}, "", "not used"},
		{"main client", "[main]\nclient=ad_client\n" + ad("ad_client") + rc("radius_client") + srv("radius_server_auto", "") + srv("radius_server_challenge", "client=radius_client\n"),
			map[string]string{"radius_server_auto": "ad_client", "radius_server_challenge": "radius_client"}, "", ""},
		{"main server+client forces", "[main]\nserver=radius_server_auto\nclient=radius_client\n" + ad("ad_client") + rc("radius_client") + srv("radius_server_auto", "client=ad_client\n") + srv("radius_server_challenge", "client=ad_client\n"),
			map[string]string{"radius_server_auto": "radius_client", "radius_server_challenge": "ad_client"}, "", "overridden by [main]"},
		{"main server without client", "[main]\nserver=radius_server_auto\n" + ad("ad_client") + srv("radius_server_auto", ""),
			map[string]string{"radius_server_auto": "ad_client"}, "", "no effect without client="},
		{"duo_only needs none", ad("ad_client") + rc("radius_client") + srv("radius_server_duo_only", ""), map[string]string{"radius_server_duo_only": ""}, "", "not used"},
		{"duo_only with no client sections", srv("radius_server_duo_only", ""), map[string]string{"radius_server_duo_only": ""}, "", ""},
		{"duo_only ignores client=", srv("radius_server_duo_only", "client=x\n"), map[string]string{"radius_server_duo_only": ""}, "", "ignored"},
		{"several clients, none chosen", ad("ad_client") + rc("radius_client") + srv("radius_server_auto", ""), nil, "several client sections", ""},
		{"no client section", srv("radius_server_auto", ""), nil, "no client section", ""},
		{"client names nothing", ad("ad_client") + srv("radius_server_auto", "client=ad_client2\n"), nil, "no client section named [ad_client2] (one of [ad_client])", ""},
		{"main client names nothing", "[main]\nclient=radius_client\n" + ad("ad_client") + srv("radius_server_auto", ""), nil, "no client section named [radius_client]", ""},
		{"main server names nothing", "[main]\nserver=radius_server_concat\nclient=ad_client\n" + ad("ad_client") + srv("radius_server_auto", ""), nil, "no server section named [radius_server_concat]", ""},
		{"client is a server section", ad("ad_client") + srv("radius_server_auto", "client=radius_server_auto\n"), nil, "no client section named [radius_server_auto]", ""},
		{"pass_through with ad_client", ad("ad_client") + srv("radius_server_auto", "pass_through_attr_names=Class\n"), nil, "only works with a radius_client", ""},
		{"pass_through with radius_client", rc("radius_client") + srv("radius_server_auto", "pass_through_attr_names=Class\n"), map[string]string{"radius_server_auto": "radius_client"}, "", ""},
		{"pass_through in duo_only", srv("radius_server_duo_only", "pass_through_attr_names=Class\n"), nil, "no upstream RADIUS server", ""},
		{"pass_through_all with ad_client", ad("ad_client") + srv("radius_server_auto", "pass_through_all=true\n"), map[string]string{"radius_server_auto": "ad_client"}, "", "has no effect"},
	} {
		c, warns, err := parseString(t, tc.text)
		if tc.errMsg != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
				t.Errorf("%s: want error ~%q, got %v", tc.name, tc.errMsg, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for name, want := range tc.want {
			if got := server(t, c, name).Client; got != want {
				t.Errorf("%s: [%s] client = %q, want %q", tc.name, name, got, want)
			}
		}
		var ws []string
		for _, w := range warns {
			ws = append(ws, w.String())
		}
		joined := strings.Join(ws, "\n")
		if tc.warnMsg == "" && len(ws) > 0 || !strings.Contains(joined, tc.warnMsg) {
			t.Errorf("%s: warnings %q, want ~%q", tc.name, joined, tc.warnMsg)
		}
	}
}

func TestSockets(t *testing.T) {
	t.Parallel()
	c, warns := mustParseFile(t, "shared_socket.cfg")
	socks := c.Sockets()
	if len(socks) != 2 || socks[0].Addr != ":1812" || len(socks[0].Servers) != 2 || socks[1].Addr != ":1813" {
		t.Fatalf("sockets = %+v", socks)
	}
	// The same /24 on another port is no overlap; inside the /8 on the same socket is.
	if len(warns) != 1 || warns[0].Section != "radius_server_challenge" || warns[0].Line != 16 || !strings.Contains(warns[0].Msg, "inside 10.0.0.0/8") {
		t.Errorf("warnings = %v", warns)
	}

	two := func(ipA, ifA, ipB, ifB string) string {
		s := minimalServer("radius_server_auto", ipA) + ifA + "\n[radius_server_challenge]\nikey = " + testIKey +
			"\nskey = " + testSKey + "\napi_host = h\nradius_ip_1 = " + ipB + "\nradius_secret_1 = t\n" + ifB + "\n"
		return s
	}
	for _, tc := range []struct {
		name, text, errMsg, warnMsg string
	}{
		{"same network, same socket", two("10.0.0.0/24", "", "10.0.0.0/24", ""), "also claimed by [radius_server_auto]", ""},
		{"same address as range and single", two("10.0.0.1-10.0.0.1", "", "10.0.0.1", ""), "also claimed", ""},
		{"same network, other interface", two("10.0.0.0/24", "interface = 127.0.0.1", "10.0.0.0/24", "interface = 127.0.0.2"), "", ""},
		{"wildcard and specific address on one port", two("10.0.0.0/24", "", "10.1.0.0/24", "interface = 127.0.0.1"), "cannot both be bound", ""},
		{"0.0.0.0 and specific", two("10.0.0.0/24", "interface = 0.0.0.0", "10.1.0.0/24", "interface = 127.0.0.1"), "cannot both be bound", ""},
		{"IPv6 wildcard (dual-stack), IPv4 address", two("10.0.0.0/24", "interface = ::", "10.1.0.0/24", "interface = 127.0.0.1"), "cannot both be bound", ""},
		{"no interface and ::", two("10.0.0.0/24", "", "10.1.0.0/24", "interface = ::"), "cannot both be bound", ""},
		{"0.0.0.0 and IPv6 address", two("10.0.0.0/24", "interface = 0.0.0.0", "10.1.0.0/24", "interface = ::1"), "", ""},
		{"two addresses", two("10.0.0.0/24", "interface = 127.0.0.1", "10.1.0.0/24", "interface = ::1"), "", ""},
		{"overlap inside one section", minimalServer("radius_server_auto", "10.0.0.0/16") + "radius_ip_2 = 10.0.5.5\nradius_secret_2 = x\n", "", "in this section"},
		{"duplicate inside one section, same secret", minimalServer("radius_server_auto", "10.0.0.5") + "radius_ip_2 = 10.0.0.5/32\nradius_secret_2 = s\n", "", "is also radius_ip_1"},
		{"duplicate inside one section, other secret", minimalServer("radius_server_auto", "10.0.0.5") + "radius_ip_2 = 10.0.0.5/32\nradius_secret_2 = x\n", "different secret", ""},
		{"range overlapping a network", two("10.0.0.0/24", "", "10.0.0.250-10.0.1.5", ""), "", "inside 10.0.0.0/24"},
	} {
		_, warns, err := parseString(t, tc.text)
		switch {
		case tc.errMsg != "":
			if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
				t.Errorf("%s: want error ~%q, got %v", tc.name, tc.errMsg, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.warnMsg == "" && len(warns) > 0:
			t.Errorf("%s: warnings %v", tc.name, warns)
		case tc.warnMsg != "" && (len(warns) != 1 || !strings.Contains(warns[0].Msg, tc.warnMsg)):
			t.Errorf("%s: warnings %v, want one ~%q", tc.name, warns, tc.warnMsg)
		}
	}
}

func TestExtensions(t *testing.T) {
	t.Parallel()
	c, _, err := parseString(t, minimalServer("radius_server_auto", "10.0.0.1")+
		"radius_ip_2 = 10.0.1.0/24\nradius_secret_2 = two\nrequire_message_authenticator_2 = false\n"+
		"[main]\nmetrics_listen = [::1]:9812\nlog_format = Json\n")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	runChecks(t, []check{
		{"section default", s.RequireMessageAuthenticator, true},
		{"network 1", s.Networks[0].RequireMessageAuthenticator, true},
		{"network 1 key", s.Networks[0].RequireMessageAuthenticatorKey, ""},
		{"network 2 override", s.Networks[1].RequireMessageAuthenticator, false},
		{"network 2 key", s.Networks[1].RequireMessageAuthenticatorKey, "require_message_authenticator_2"},
		{"metrics_listen", c.Main.MetricsListen, "[::1]:9812"},
		{"log_format", c.Main.LogFormat, "json"},
	})
	// An old configuration whose NAS cannot send Message-Authenticator:
	// off for the section, back on for one network.
	c, _, err = parseString(t, minimalServer("radius_server_duo_only", "10.0.0.1")+
		"require_message_authenticator = 0\nradius_ip_2 = 10.0.1.0/24\nradius_secret_2 = two\nrequire_message_authenticator_2 = TRUE\n")
	if err != nil {
		t.Fatal(err)
	}
	s = c.Servers[0]
	runChecks(t, []check{
		{"old: section", s.RequireMessageAuthenticator, false},
		{"old: network 1", s.Networks[0].RequireMessageAuthenticator, false},
		{"old: network 1 key", s.Networks[0].RequireMessageAuthenticatorKey, "require_message_authenticator"},
		{"old: network 2", s.Networks[1].RequireMessageAuthenticator, true},
	})
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "duo_sample.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "authproxy.cfg")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, warns, err := Load(path)
	if err != nil || len(warns) != 0 {
		t.Fatalf("Load: %v %v", warns, err)
	}
	if c.Main.LogDir != filepath.Join(dir, "log") || c.File != path {
		t.Errorf("log dir %q, file %q", c.Main.LogDir, c.File)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, warns, err = Load(path)
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].Msg, "chmod 600") {
		t.Errorf("world-readable: %v %v", warns, err)
	}
	_, _, err = Load(filepath.Join(dir, "missing.cfg"))
	if ps := problems(t, err); len(ps) != 1 || !strings.Contains(ps[0].Msg, "no such file") {
		t.Errorf("missing file: %v", err)
	}
	// A config that is far too large is refused before parsing.
	_, _, err = Parse("big.cfg", strings.NewReader(strings.Repeat("#", maxFileSize+1)))
	if ps := problems(t, err); len(ps) != 1 || !strings.Contains(ps[0].Msg, "larger than") {
		t.Errorf("big file: %v", err)
	}
}

func TestNoServerSection(t *testing.T) {
	t.Parallel()
	_, _, err := parseString(t, "[main]\ndebug = true\n")
	if ps := problems(t, err); len(ps) != 1 || ps[0].Line != 0 || !strings.Contains(ps[0].Msg, "nothing to serve") {
		t.Errorf("%v", err)
	}
	_, _, err = parseString(t, "")
	if err == nil {
		t.Error("empty file accepted")
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ extra, key, msg string }{
		{"radius_secret_1 = \"quoted\"\n", "radius_secret_1", "quotes are part of it"},
		{"[ad_client]\nhost=a\nservice_account_username=u\nservice_account_password=p\nsearch_dn=DC=x\nauth_type=ntlm1\n", "auth_type", "NTLMv2"},
		{"[ad_client]\nhost=a\nservice_account_username=u\nservice_account_password=p\nsearch_dn=DC=x\nis_logging_insecure=true\n", "is_logging_insecure", "never logs"},
	} {
		text := minimalServer("radius_server_auto", "10.0.0.1")
		text = strings.Replace(text, "radius_secret_1 = s\n", "client = duo_only_client\n", 1)
		if strings.HasPrefix(tc.extra, "radius_secret_1") {
			text += tc.extra
		} else {
			text += "radius_secret_1 = s\n" + tc.extra
		}
		_, warns, err := parseString(t, text)
		if err != nil {
			t.Errorf("%s: %v", tc.key, err)
			continue
		}
		found := false
		for _, w := range warns {
			found = found || w.Key == tc.key && strings.Contains(w.Msg, tc.msg)
		}
		if !found {
			t.Errorf("%s: warnings %v", tc.key, warns)
		}
	}
}

// setKey replaces the line of key in text, or appends line.
func setKey(text, line string) string {
	key, _, _ := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+" = ") {
			lines[i] = line
			return strings.Join(lines, "\n")
		}
	}
	return text + line + "\n"
}

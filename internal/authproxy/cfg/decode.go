package cfg

import (
	"crypto/fips140"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Defaults from Duo's proxy (spec: authproxy.md §1).
const (
	DefaultLogMaxSize     = 10 * 1024 * 1024
	DefaultLogMaxFiles    = 6
	DefaultHTTPProxyPort  = 80
	DefaultAPIPort        = 443
	DefaultRADIUSPort     = 1812
	DefaultLDAPPort       = 389
	DefaultLDAPSPort      = 636
	DefaultADTimeout      = 10 * time.Second
	DefaultRetries        = 3
	DefaultRetryWait      = 2 * time.Second
	DefaultClientIPAttr   = "Calling-Station-Id"
	PaloAltoClientIPAttr  = "PaloAlto-Client-Source-IP"
	DefaultDelimiter      = ","
	DefaultSSLVerifyDepth = 9
	// DefaultMaxRequestsInFlight (Assent extension) stays below Assent's
	// default max_connections_per_ip (512): each request in progress
	// holds one connection to the Auth API.
	DefaultMaxRequestsInFlight = 500
)

// DefaultRequireMessageAuthenticator is Assent's default for
// require_message_authenticator. Duo's proxy accepts Access-Requests
// without a Message-Authenticator, which BlastRADIUS (CVE-2024-3596) lets
// an attacker on the path forge; Assent drops them unless the
// administrator sets require_message_authenticator(_N) = false for a NAS
// that cannot send one.
const DefaultRequireMessageAuthenticator = true

// decodeMain reads [main]; s may be nil (no [main] section).
func (d *decoder) decodeMain(s *Section) Main {
	if s == nil {
		s = &Section{Name: "main", ID: "main", byKey: map[string]*Entry{}}
	}
	r := d.reader(s, famMain)
	m := Main{
		Debug:                     r.boolean("debug", false),
		LogMaxSize:                int64(r.integer("log_max_size", DefaultLogMaxSize, 1, 1<<30*2-1, "a size in bytes, at least 1")),
		LogMaxFiles:               r.integer("log_max_files", DefaultLogMaxFiles, 0, 100000, "a number of files, 0 to keep all"),
		LogStdout:                 r.boolean("log_stdout", false),
		LogSyslog:                 r.boolean("log_syslog", false),
		SyslogFacility:            r.facility(),
		LogAuthEvents:             r.boolean("log_auth_events", false),
		LogSSOEvents:              r.boolean("log_sso_events", true),
		HTTPCACertsFile:           r.path("http_ca_certs_file", true),
		HTTPProxyHost:             r.hostName("http_proxy_host"),
		HTTPProxyPort:             r.port("http_proxy_port", DefaultHTTPProxyPort),
		Interface:                 r.singleIP("interface"),
		TestConnectivityOnStartup: r.boolean("test_connectivity_on_startup", false),
		Client:                    strings.ToLower(r.str("client", "")),
		Server:                    strings.ToLower(r.str("server", "")),
		FIPSMode:                  r.boolean("fips_mode", false),
		LogFormat:                 r.enum("log_format", "text", "text", "json"),
		MaxRequestsInFlight: r.integer("max_requests_in_flight", DefaultMaxRequestsInFlight, 1, 1000000,
			"a number of requests, at least 1"),
	}
	logDir := r.str("log_dir", "log")
	if logDir == "" {
		logDir = "log"
	}
	m.LogDir = d.resolvePath(logDir)
	// Duo turns the log file on when no other sink is on.
	m.LogFile = r.boolean("log_file", !m.LogStdout && !m.LogSyslog)
	if e := r.get("metrics_listen"); e != nil && e.Value != "" {
		if err := checkListen(e.Value); err != nil {
			r.invalid(e, "host:port to serve Prometheus /metrics on, e.g. 127.0.0.1:9812 ("+err.Error()+")")
		} else {
			m.MetricsListen = e.Value
		}
	}
	if m.FIPSMode && !fips140.Enabled() {
		r.warnf(s.Get("fips_mode"), "fips_mode", "Assent uses Go's FIPS 140-3 module only when started with GODEBUG=fips140=on, which is not the case now")
	}
	r.unknown()
	return m
}

func (r *reader) facility() string {
	e := r.get("syslog_facility")
	if e == nil {
		return "LOG_USER"
	}
	v := strings.ToUpper(e.Value)
	if !strings.HasPrefix(v, "LOG_") {
		v = "LOG_" + v
	}
	switch v {
	case "LOG_KERN", "LOG_USER", "LOG_MAIL", "LOG_DAEMON", "LOG_AUTH", "LOG_SYSLOG", "LOG_LPR", "LOG_NEWS",
		"LOG_UUCP", "LOG_CRON", "LOG_AUTHPRIV", "LOG_FTP",
		"LOG_LOCAL0", "LOG_LOCAL1", "LOG_LOCAL2", "LOG_LOCAL3", "LOG_LOCAL4", "LOG_LOCAL5", "LOG_LOCAL6", "LOG_LOCAL7":
		return v
	}
	r.invalid(e, "a syslog facility such as LOG_USER, LOG_AUTH, LOG_DAEMON or LOG_LOCAL0 … LOG_LOCAL7")
	return "LOG_USER"
}

func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not from 1 to 65535", port)
	}
	return nil
}

// hostName reads an optional host name or IP address (no scheme, path or
// port).
func (r *reader) hostName(key string) string {
	e := r.get(key)
	if e == nil || e.Value == "" {
		return ""
	}
	if !validHost(e.Value) {
		r.invalid(e, "a host name or IP address, without scheme, port or path")
		return ""
	}
	return e.Value
}

func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c == '.' || c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return h != "" && h[0] != '-' && h[0] != '.'
}

// hosts reads host (or host_1), host_2, … and reports a missing first host.
func (r *reader) hosts(what string) []*Entry {
	hs := r.sequence("host", true, 1)
	if len(hs) == 0 {
		r.errf(nil, "host", "missing: the %s is required (host, then host_2, host_3 … for more)", what)
	}
	for _, e := range hs {
		if !validHost(e.Value) {
			r.invalid(e, "a host name or IP address, without scheme, port or path")
		}
	}
	return hs
}

func (d *decoder) decodeAD(s *Section, m *Main) *ADClient {
	r := d.reader(s, famADClient)
	c := &ADClient{Name: s.ID, Line: s.Line}
	for _, e := range r.hosts("directory server") {
		c.Hosts = append(c.Hosts, e.Value)
	}
	c.Transport = r.enum("transport", "clear", "clear", "ldaps", "starttls")
	defPort := DefaultLDAPPort
	if c.Transport == "ldaps" {
		defPort = DefaultLDAPSPort
	}
	c.Port = r.port("port", defPort)
	c.AuthType = r.enum("auth_type", "ntlm2", "plain", "ntlm1", "ntlm2", "sspi")
	switch c.AuthType {
	case "sspi":
		r.errf(s.Get("auth_type"), "auth_type", "sspi (integrated Windows authentication) works only on Windows; use ntlm2 or plain with a service account")
	case "ntlm1":
		r.warnf(s.Get("auth_type"), "auth_type", "NTLMv1 is obsolete; Assent's LDAP library answers with NTLMv2, as for ntlm2")
	}
	c.ServiceAccountUsername, _ = r.required("service_account_username", "the service account's user name")
	c.ServiceAccountPassword = r.secret("service_account_password", true, "the service account's password")
	c.BindDN = r.str("bind_dn", "")
	if c.AuthType == "plain" && c.BindDN == "" {
		r.errf(s.Get("bind_dn"), "bind_dn", "missing: auth_type=plain binds as bind_dn, the service account's full DN")
	}
	if c.BindDN != "" {
		r.dn(s.Get("bind_dn"))
	}
	c.SearchDN, _ = r.required("search_dn", "the DN to search for users under (e.g. DC=example,DC=com)")
	r.dn(s.Get("search_dn"))
	c.SecurityGroupDN = r.str("security_group_dn", "")
	r.dn(s.Get("security_group_dn"))
	c.LDAPFilter = r.ldapFilter()
	c.Timeout = r.seconds("timeout", DefaultADTimeout, 1)
	c.NTLMDomain = r.str("ntlm_domain", "")
	c.NTLMWorkstation = r.str("ntlm_workstation", "")
	c.UsernameAttribute = r.attrName("username_attribute", "sAMAccountName")
	c.AtAttribute = r.attrName("at_attribute", "userPrincipalName")
	c.SSLCACertsFile = r.path("ssl_ca_certs_file", true)
	c.SSLVerifyHostname = r.boolean("ssl_verify_hostname", true)
	c.SSLVerifyDepth = r.integer("ssl_verify_depth", DefaultSSLVerifyDepth, 0, 100, "a number from 0 to 100")
	if r.boolean("domain_discovery", false) {
		r.errf(s.Get("domain_discovery"), "domain_discovery", "not supported by Assent (and deprecated by Duo); list the domain controllers as host, host_2, …")
	}
	c.Debug = r.boolean("debug", false) || m.Debug
	if c.IsLoggingInsecure = r.boolean("is_logging_insecure", false); c.IsLoggingInsecure {
		r.warnf(s.Get("is_logging_insecure"), "is_logging_insecure", "ignored: Assent never logs passwords or secrets")
	}
	c.HTTPCACertsFile = r.path("http_ca_certs_file", true)
	if c.HTTPCACertsFile == "" {
		c.HTTPCACertsFile = m.HTTPCACertsFile
	}
	r.unknown()
	return c
}

func (r *reader) dn(e *Entry) {
	if e == nil || e.Value == "" {
		return
	}
	if _, err := ldap.ParseDN(e.Value); err != nil {
		r.invalid(e, "a distinguished name such as CN=Users,DC=example,DC=com ("+err.Error()+")")
	}
}

// ldapFilter reads ldap_filter; Duo accepts it with or without the outer
// parentheses, so it is stored parenthesised.
func (r *reader) ldapFilter() string {
	e := r.get("ldap_filter")
	if e == nil || e.Value == "" {
		return ""
	}
	f := e.Value
	if !strings.HasPrefix(f, "(") {
		f = "(" + f + ")"
	}
	if _, err := ldap.CompileFilter(f); err != nil {
		r.invalid(e, "an LDAP search filter such as (objectClass=user) ("+err.Error()+")")
		return ""
	}
	return f
}

func (r *reader) attrName(key, def string) string {
	e := r.get(key)
	if e == nil {
		return def
	}
	if !validAttr(e.Value) {
		r.invalid(e, "an LDAP attribute name such as sAMAccountName")
		return def
	}
	return e.Value
}

// validAttr accepts LDAP attribute descriptions and RADIUS attribute
// names: a letter, then letters, digits, '-' or '_'.
func validAttr(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (d *decoder) decodeRadiusClient(s *Section, m *Main) *RadiusClient {
	r := d.reader(s, famRadiusClient)
	c := &RadiusClient{Name: s.ID, Line: s.Line}
	hosts := r.hosts("upstream RADIUS server")
	// Ports pair with hosts by number: port (or port_1) with the first.
	ports := map[int]*Entry{}
	bare := r.get("port")
	for _, ne := range r.numbered("port") {
		switch {
		case ne.N == "1" && bare != nil:
			r.errf(ne.E, ne.E.Key, "port and port_1 both give the first host's port; keep one")
		case ne.N != strconv.Itoa(ne.Index) || ne.Index < 1 || ne.Index > len(hosts) || ne.Index == 1 && len(hosts) == 0:
			r.warnf(ne.E, ne.E.Key, "ignored: there is no host_%s", ne.N)
		default:
			ports[ne.Index] = ne.E
		}
	}
	if bare != nil && ports[1] == nil {
		ports[1] = bare
	}
	for i, e := range hosts {
		c.Hosts = append(c.Hosts, RadiusHost{Host: e.Value, Port: r.portEntry(ports[i+1], DefaultRADIUSPort)})
	}
	c.Secret = r.secret("secret", true, "the shared secret of the upstream RADIUS server")
	c.Retries = r.integer("retries", DefaultRetries, 0, 100, "a number of retries from 0 to 100")
	c.RetryWait = r.seconds("retry_wait", DefaultRetryWait, 1)
	c.NASIP = r.singleIP("nas_ip")
	c.PassThroughAttrNames = r.attrList("pass_through_attr_names")
	c.PassThroughAll = r.boolean("pass_through_all", false)
	c.PWCodec = r.codec()
	c.Debug = r.boolean("debug", false) || m.Debug
	c.HTTPCACertsFile = r.path("http_ca_certs_file", true)
	if c.HTTPCACertsFile == "" {
		c.HTTPCACertsFile = m.HTTPCACertsFile
	}
	r.unknown()
	return c
}

func (r *reader) attrList(key string) []string {
	names, e := r.list(key)
	for _, n := range names {
		if !validAttr(n) {
			r.errf(e, key, "invalid attribute name %q: RADIUS attribute names such as Class or Filter-Id, comma-separated", clip(n))
		}
	}
	return names
}

// codec reads pw_codec. Python accepts any codec name; Assent decodes the
// common ones.
func (r *reader) codec() string {
	e := r.get("pw_codec")
	if e == nil {
		return "utf-8"
	}
	switch strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(e.Value)) {
	case "utf_8", "utf8", "u8", "utf":
		return "utf-8"
	case "latin_1", "latin1", "iso_8859_1", "iso8859_1", "8859", "cp819", "l1", "latin":
		return "latin-1"
	case "ascii", "us_ascii", "646":
		return "ascii"
	case "cp1252", "windows_1252":
		return "cp1252"
	}
	r.invalid(e, "Assent decodes utf-8, latin-1 (iso-8859-1), cp1252 (windows-1252) and ascii")
	return "utf-8"
}

func (d *decoder) decodeDuoOnlyClient(s *Section, m *Main) *DuoOnlyClient {
	r := d.reader(s, famDuoOnlyClient)
	c := &DuoOnlyClient{Name: s.ID, Line: s.Line, Debug: r.boolean("debug", false) || m.Debug}
	r.path("http_ca_certs_file", true)
	r.unknown()
	return c
}

var modeOf = map[string]Mode{famAuto: ModeAuto, famChallenge: ModeChallenge, famConcat: ModeConcat, famDuoOnly: ModeDuoOnly}

func (d *decoder) decodeServer(s *Section, family string, m *Main) *Server {
	r := d.reader(s, family)
	v := &Server{Name: s.ID, Line: s.Line, Mode: modeOf[family]}
	if ikey, e := r.required("ikey", "the integration key"); e != nil && ikey != "" {
		if !isAlnum(ikey) || len(ikey) != 20 {
			r.invalid(e, "the 20-character integration key (DI…) of an Auth API application")
		}
		v.IKey = ikey
	}
	v.SKey = r.secret("skey", true, "the integration's secret key")
	if e := s.Get("skey"); e != nil && e.Value != "" && (len(e.Value) != 40 || strings.ContainsAny(e.Value, " \t\n")) {
		r.errf(e, "skey", "invalid value: the secret key is 40 characters long (this one has %d)", len([]rune(e.Value)))
	}
	if host, e := r.required("api_host", "the Auth API host name (api-XXXX.duosecurity.com or your Assent server)"); host != "" {
		v.APIHost = host
		if err := checkAPIHost(host); err != nil {
			r.invalid(e, err.Error())
		}
	}
	v.APIPort = r.port("api_port", DefaultAPIPort)
	v.APITimeout = r.seconds("api_timeout", 0, 0)
	v.Failmode = r.enum("failmode", "safe", "safe", "secure")
	v.RequireMessageAuthenticator = r.boolean("require_message_authenticator", DefaultRequireMessageAuthenticator)
	maKey := ""
	if s.Get("require_message_authenticator") != nil {
		maKey = "require_message_authenticator"
	}
	v.Networks = r.networks(v.RequireMessageAuthenticator, maKey)
	v.Port = r.port("port", DefaultRADIUSPort)
	v.Interface = r.singleIP("interface")
	if !v.Interface.IsValid() {
		v.Interface = m.Interface
	}
	v.Client = strings.ToLower(r.str("client", ""))
	for _, e := range r.sequence("exempt_username", false, 1) {
		if e.Value == "" {
			r.errf(e, e.Key, "empty; remove the key or give a user name")
			continue
		}
		v.ExemptUsernames = append(v.ExemptUsernames, e.Value)
	}
	v.PassThroughAttrNames = r.attrList("pass_through_attr_names")
	v.PassThroughAll = r.boolean("pass_through_all", false)
	v.PWCodec = r.codec()
	v.ClientIPAttr = DefaultClientIPAttr
	if e := r.get("client_ip_attr"); e != nil {
		switch {
		case strings.EqualFold(e.Value, "paloalto"):
			v.ClientIPAttr = PaloAltoClientIPAttr
		case validAttr(e.Value):
			v.ClientIPAttr = e.Value
		default:
			r.invalid(e, "a RADIUS attribute name such as Calling-Station-Id, or paloalto")
		}
	}
	v.HTTPProxyHost = r.hostName("http_proxy_host")
	v.HTTPProxyPort = r.port("http_proxy_port", DefaultHTTPProxyPort)
	if v.HTTPProxyHost == "" && s.Get("http_proxy_host") == nil {
		// [main] http_proxy_* apply to server sections without their own.
		v.HTTPProxyHost = m.HTTPProxyHost
		if s.Get("http_proxy_port") == nil {
			v.HTTPProxyPort = m.HTTPProxyPort
		}
	}
	v.HTTPCACertsFile = r.path("http_ca_certs_file", true)
	if v.HTTPCACertsFile == "" {
		v.HTTPCACertsFile = m.HTTPCACertsFile
	}
	v.Debug = r.boolean("debug", false) || m.Debug

	switch v.Mode {
	case ModeAuto:
		v.Factors = r.factors()
		v.Delimiter = r.delimiter("delimiter")
		v.DelimitedPasswordLength = r.integer("delimited_password_length", 0, 0, 1000, "a password length from 0 (off) to 1000")
		v.AllowConcat = true
		ac, cm := s.Get("allow_concat"), s.Get("concat_mode")
		if ac != nil && cm != nil {
			r.errf(cm, "concat_mode", "concat_mode is the old name of allow_concat; set only allow_concat")
		}
		if cm != nil {
			v.AllowConcat = r.boolean("concat_mode", true)
		}
		v.AllowConcat = r.boolean("allow_concat", v.AllowConcat)
	case ModeChallenge:
		v.PromptFormat = r.enum("prompt_format", "console", "console", "html", "short")
		v.EnrollChallenge = r.boolean("enroll_challenge", true)
	case ModeConcat:
		if s.Get("delimiter") == nil && s.Get("delimeter") != nil {
			v.Delimiter = r.delimiter("delimeter")
		} else {
			if e := r.get("delimeter"); e != nil {
				r.warnf(e, "delimeter", "ignored because delimiter is also set")
			}
			v.Delimiter = r.delimiter("delimiter")
		}
		v.DelimitedPasswordLength = r.integer("delimited_password_length", 0, 0, 1000, "a password length from 0 (off) to 1000")
	}
	r.unknown()
	return v
}

func isAlnum(s string) bool {
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// checkAPIHost accepts a host name or address, optionally with ":port".
func checkAPIHost(h string) error {
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/ \t\n") {
		return fmt.Errorf("a host name such as api-xxxxxxxx.duosecurity.com, without https:// or a path")
	}
	host := h
	if hp, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("the port after the host name must be from 1 to 65535")
		}
		host = hp
	}
	if !validHost(host) {
		return fmt.Errorf("a host name or IP address")
	}
	return nil
}

func (r *reader) factors() []string {
	names, e := r.list("factors")
	if e == nil {
		return []string{"auto"}
	}
	const allowed = "a comma-separated list of auto, push, phone and passcode, each at most once"
	if len(names) == 0 {
		r.invalid(e, allowed)
		return []string{"auto"}
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		n = strings.ToLower(n)
		switch {
		case n != "auto" && n != "push" && n != "phone" && n != "passcode":
			r.errf(e, "factors", "unknown factor %q: %s", clip(n), allowed)
		case seen[n]:
			r.errf(e, "factors", "%s is listed twice: %s", n, allowed)
		default:
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return []string{"auto"}
	}
	return out
}

func (r *reader) delimiter(key string) string {
	e := r.get(key)
	if e == nil {
		return DefaultDelimiter
	}
	if e.Value == "" || strings.Contains(e.Value, "\n") {
		r.invalid(e, "one or more characters on one line that separate the password from the factor, e.g. ,")
		return DefaultDelimiter
	}
	return e.Value
}

// networks reads radius_ip_N / radius_secret_N pairs and the per-network
// require_message_authenticator_N overrides of requireMA, which maKey set
// ("" for the default).
func (r *reader) networks(requireMA bool, maKey string) []Network {
	ips := r.numbered("radius_ip")
	secrets := map[string]*Entry{}
	for _, ne := range r.numbered("radius_secret") {
		secrets[ne.N] = ne.E
	}
	protected := map[string]*Entry{}
	for _, ne := range r.numbered("radius_secret_protected") {
		protected[ne.N] = ne.E
		r.protected(ne.E, "radius_secret_"+ne.N)
		if secrets[ne.N] != nil {
			r.errf(ne.E, ne.E.Key, "set either radius_secret_%s or %s, not both", ne.N, ne.E.Key)
		}
	}
	reqMA := map[string]*Entry{}
	for _, ne := range r.numbered("require_message_authenticator") {
		reqMA[ne.N] = ne.E
	}
	if bare := r.get("radius_ip"); bare != nil {
		r.errf(bare, "radius_ip", "unnumbered radius_ip is not accepted; use radius_ip_1 (with radius_secret_1)")
	}
	if bare := r.get("radius_secret"); bare != nil {
		r.errf(bare, "radius_secret", "unnumbered radius_secret is not accepted; use radius_secret_1 (with radius_ip_1)")
	}
	if len(ips) == 0 {
		r.errf(nil, "radius_ip_1", "missing: at least one radius_ip_N / radius_secret_N pair is required (the NAS addresses allowed to send requests and their shared secret)")
	}
	var out []Network
	haveIP := map[string]bool{}
	for _, ip := range ips {
		haveIP[ip.N] = true
		se := secrets[ip.N]
		if se == nil && protected[ip.N] == nil {
			r.errf(ip.E, ip.E.Key, "has no radius_secret_%s; every radius_ip_N needs the radius_secret_N with the same number", ip.N)
		}
		if se != nil {
			if se.Value == "" {
				r.errf(se, se.Key, "empty: the shared secret is required")
			}
			r.quoted(se)
		}
		req, reqKey := requireMA, maKey
		if me := reqMA[ip.N]; me != nil {
			b, ok := parseBool(me.Value)
			if !ok {
				r.invalid(me, "allowed: true or false (any case), or an integer (0 = false)")
			} else {
				req, reqKey = b, me.Key
			}
		}
		prefixes, note, err := ParseNetworks(ip.E.Value)
		if err != nil {
			r.errf(ip.E, ip.E.Key, "invalid value %q: %v; allowed: an IP address, a CIDR (10.0.0.0/24), IP/netmask (10.0.0.0/255.255.255.0) or a range (10.0.0.1-10.0.0.9)", clip(ip.E.Value), err)
			continue
		}
		if note != "" {
			r.warnf(ip.E, ip.E.Key, "%s", note)
		}
		var secret Secret
		if se != nil {
			secret = Secret(se.Value)
		}
		for _, p := range prefixes {
			out = append(out, Network{Prefix: p, Secret: secret, RequireMessageAuthenticator: req,
				RequireMessageAuthenticatorKey: reqKey, Index: ip.Index, Source: ip.E.Value, Line: ip.E.Line})
		}
	}
	for n, e := range secrets {
		if !haveIP[n] {
			r.errf(e, e.Key, "has no radius_ip_%s; every radius_secret_N needs the radius_ip_N with the same number", n)
		}
	}
	for n, e := range reqMA {
		if !haveIP[n] {
			r.errf(e, e.Key, "has no radius_ip_%s; require_message_authenticator_N applies to the radius_ip_N with the same number", n)
		}
	}
	return out
}

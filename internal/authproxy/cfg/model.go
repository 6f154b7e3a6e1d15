package cfg

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Config is a validated authproxy.cfg with every default filled in and
// the [main] settings that Duo pushes into sections already applied.
type Config struct {
	// File is the path (or name) the configuration was read from.
	File string
	Main Main
	// Client sections by lower-cased section name ("ad_client", "ad_client2").
	ADClients      map[string]*ADClient
	RadiusClients  map[string]*RadiusClient
	DuoOnlyClients map[string]*DuoOnlyClient
	// Servers in file order.
	Servers []*Server
}

// Main is the [main] section.
type Main struct {
	Debug          bool
	LogDir         string // resolved path (see Load for relative paths)
	LogFile        bool   // write LogDir/authproxy.log
	LogMaxSize     int64  // bytes
	LogMaxFiles    int    // 0 = keep all
	LogStdout      bool
	LogSyslog      bool
	SyslogFacility string // "LOG_USER", "LOG_LOCAL0", … (upper case)
	LogAuthEvents  bool   // write LogDir/authevents.log (JSON lines)
	LogSSOEvents   bool   // accepted for compatibility; Assent has no SSO
	// HTTPCACertsFile is the CA bundle for Auth API TLS; "" = system roots.
	HTTPCACertsFile string
	HTTPProxyHost   string
	HTTPProxyPort   int
	// Interface is the default listen address of server sections; the zero
	// Addr means all addresses.
	Interface                 netip.Addr
	TestConnectivityOnStartup bool
	// Client and Server as written (lower-cased); see Server.Client for
	// the resolved choice.
	Client, Server string
	FIPSMode       bool

	// Assent extensions.

	// MetricsListen is host:port for Prometheus /metrics; "" = off.
	MetricsListen string
	// LogFormat is "text" or "json".
	LogFormat string
	// MaxRequestsInFlight bounds the RADIUS requests answered at once on
	// each socket, and the connections each Auth API client opens.
	MaxRequestsInFlight int
}

// ClientKind says which kind of section a server's client is.
type ClientKind string

const (
	ClientNone    ClientKind = ""                // radius_server_duo_only
	ClientAD      ClientKind = "ad_client"       // LDAP / Active Directory
	ClientRADIUS  ClientKind = "radius_client"   // upstream RADIUS server
	ClientDuoOnly ClientKind = "duo_only_client" // no primary check
)

// ADClient is an [ad_client*] section.
type ADClient struct {
	Name                   string
	Line                   int
	Hosts                  []string // host (or host_1), host_2, … in order
	Port                   int      // 389, or 636 for ldaps
	ServiceAccountUsername string
	ServiceAccountPassword Secret
	SearchDN               string
	SecurityGroupDN        string // "" = no group check
	LDAPFilter             string // "" = none; always parenthesised when set
	Timeout                time.Duration
	Transport              string // "clear", "ldaps" or "starttls"
	AuthType               string // "plain", "ntlm1" or "ntlm2"
	BindDN                 string // for auth_type=plain
	NTLMDomain             string
	NTLMWorkstation        string
	UsernameAttribute      string
	AtAttribute            string
	SSLCACertsFile         string // "" = system roots
	SSLVerifyHostname      bool
	SSLVerifyDepth         int // accepted; Go's verifier has no depth limit
	Debug                  bool
	IsLoggingInsecure      bool // accepted; Assent never logs passwords
	HTTPCACertsFile        string
}

// RadiusHost is one upstream RADIUS server.
type RadiusHost struct {
	Host string
	Port int
}

// Addr is host:port.
func (h RadiusHost) Addr() string { return joinHostPort(h.Host, h.Port) }

// RadiusClient is a [radius_client*] section.
type RadiusClient struct {
	Name                 string
	Line                 int
	Hosts                []RadiusHost
	Secret               Secret
	Retries              int
	RetryWait            time.Duration
	NASIP                netip.Addr // zero = pick the source address automatically
	PassThroughAttrNames []string
	PassThroughAll       bool
	PWCodec              string
	Debug                bool
	HTTPCACertsFile      string
}

// DuoOnlyClient is a [duo_only_client*] section: primary authentication
// always succeeds.
type DuoOnlyClient struct {
	Name  string
	Line  int
	Debug bool
}

// Mode is a RADIUS server section's kind.
type Mode string

const (
	ModeAuto      Mode = "auto"
	ModeChallenge Mode = "challenge"
	ModeConcat    Mode = "concat"
	ModeDuoOnly   Mode = "duo_only"
)

// Network is one radius_ip_N entry (a range gives several, with the same
// Index): the NAS addresses it covers and their shared secret.
type Network struct {
	Prefix netip.Prefix
	Secret Secret
	// RequireMessageAuthenticator is the section's
	// require_message_authenticator, or require_message_authenticator_N
	// (default DefaultRequireMessageAuthenticator).
	RequireMessageAuthenticator bool
	// RequireMessageAuthenticatorKey is the key that set it, as written
	// (require_message_authenticator_N or require_message_authenticator),
	// or "" when it is the default.
	RequireMessageAuthenticatorKey string
	Index                          int    // N of radius_ip_N
	Source                         string // the radius_ip_N value as written
	Line                           int    // line of radius_ip_N in the file
}

// Server is a [radius_server_*] section.
type Server struct {
	Name string // lower-cased section name, e.g. "radius_server_challenge2"
	Line int
	Mode Mode

	IKey       string
	SKey       Secret
	APIHost    string // as written; may carry ":port"
	APIPort    int
	APITimeout time.Duration // 0 = no timeout
	Failmode   string        // "safe" or "secure"

	// Networks, ordered by N (and by address within a range).
	Networks  []Network
	Port      int
	Interface netip.Addr // zero = all addresses

	// Client is the resolved client section name ("" for duo_only);
	// ClientKind its kind.
	Client     string
	ClientKind ClientKind

	ExemptUsernames      []string
	PassThroughAttrNames []string
	PassThroughAll       bool
	PWCodec              string
	ClientIPAttr         string // RADIUS attribute name; "paloalto" is already expanded

	HTTPProxyHost   string
	HTTPProxyPort   int
	HTTPCACertsFile string
	Debug           bool

	// RequireMessageAuthenticator (Assent extension, default true): drop
	// Access-Requests without a valid Message-Authenticator (BlastRADIUS
	// protection). Per-network overrides are in Networks.
	RequireMessageAuthenticator bool

	// auto and concat
	Factors                 []string // auto: "auto", "push", "phone", "passcode"
	Delimiter               string
	DelimitedPasswordLength int  // 0 = off
	AllowConcat             bool // auto only (concat always splits)

	// challenge
	PromptFormat    string // "console", "html" or "short"
	EnrollChallenge bool
}

// ListenAddr is the UDP address the section listens on.
func (s *Server) ListenAddr() string {
	host := ""
	if s.Interface.IsValid() {
		host = s.Interface.String()
	}
	return joinHostPort(host, s.Port)
}

func (s *Server) socketKey() string { return s.ListenAddr() }

// Socket is one UDP listener and the server sections that share it; a
// packet belongs to the section whose network is the smallest containing
// its source address.
type Socket struct {
	Addr    string
	Servers []*Server
}

// Sockets groups server sections by (interface, port), in file order of
// their first section.
func (c *Config) Sockets() []Socket {
	var out []Socket
	idx := map[string]int{}
	for _, s := range c.Servers {
		k := s.socketKey()
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Socket{Addr: k})
		}
		out[i].Servers = append(out[i].Servers, s)
	}
	return out
}

// String summarises the configuration without secrets.
func (c *Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "authproxy config %s:", c.File)
	for _, s := range c.Servers {
		fmt.Fprintf(&b, " [%s] mode=%s listen=%s", s.Name, s.Mode, s.ListenAddr())
		if s.Client != "" {
			fmt.Fprintf(&b, " client=%s", s.Client)
		}
		nets := make([]string, 0, len(s.Networks))
		for _, n := range s.Networks {
			nets = append(nets, n.Prefix.String())
		}
		fmt.Fprintf(&b, " api_host=%s failmode=%s networks=%s;", s.APIHost, s.Failmode, strings.Join(nets, ","))
	}
	for _, kind := range []struct {
		name  string
		names []string
	}{{"ad_client", keys(c.ADClients)}, {"radius_client", keys(c.RadiusClients)}, {"duo_only_client", keys(c.DuoOnlyClients)}} {
		if len(kind.names) > 0 {
			fmt.Fprintf(&b, " %s sections: %s;", kind.name, strings.Join(kind.names, ","))
		}
	}
	return strings.TrimSuffix(b.String(), ";")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

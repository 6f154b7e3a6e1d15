// Package config loads the server configuration from a TOML file, ASSENT_*
// environment variables and command-line flags (in rising precedence) and
// validates it in one pass that reports every problem with its source and
// key.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the server configuration. Keys are the toml tags; the
// environment variable for a key is ASSENT_ + the key in upper case.
type Config struct {
	// DataDir holds the SQLite database, the master key and the local CA.
	DataDir string `toml:"data_dir"`
	// Listen is the HTTPS listen address.
	Listen string `toml:"listen"`
	// PublicHostname is the API hostname clients use (host or host:port);
	// it goes into certificates, activation codes and api_hostname.
	// Default: localhost:<port of listen>.
	PublicHostname string `toml:"public_hostname"`
	// AltHostnames are other names (or IP addresses), each host or
	// host:port, by which clients reach this server. With PublicHostname
	// they are the only hosts a signed request may name, and the names the
	// local CA may certify.
	AltHostnames []string `toml:"alt_hostnames"`
	// TLSCert and TLSKey are a real certificate and key (PEM). Without
	// them Assent serves a certificate from its own local CA.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// ACMEDirectory, when set, has the certificate obtained and renewed
	// from this ACME CA directory URL (instead of tls_cert or the local CA).
	ACMEDirectory string `toml:"acme_directory"`
	// ACMEEmail is the ACME account's contact address; optional.
	ACMEEmail string `toml:"acme_email"`
	// ACMEChallenge is tls-alpn-01 (on the server's port, default) or
	// http-01 (on ACMEHTTPListen).
	ACMEChallenge string `toml:"acme_challenge"`
	// ACMECARoot is a PEM file of the CA serving ACMEDirectory (an
	// internal CA such as step-ca); empty: the system's roots.
	ACMECARoot string `toml:"acme_ca_root"`
	// ACMEHTTPListen is the plain-HTTP address (port 80 as the CA sees
	// it) that answers HTTP-01 challenges.
	ACMEHTTPListen string `toml:"acme_http_listen"`
	// TrustedProxies are the addresses or CIDR prefixes of reverse proxies
	// whose X-Forwarded-For names the client (auth log, per-address
	// limits); from any other peer the header is ignored.
	TrustedProxies []string `toml:"trusted_proxies"`
	// DatabaseURL is a postgres:// URL; empty means SQLite in DataDir.
	DatabaseURL string `toml:"database_url"`
	// MasterKey (base64 or hex, 32 bytes) seals secrets at rest. Prefer
	// MasterKeyFile or the environment to writing it in a file.
	MasterKey     string `toml:"master_key"`
	MasterKeyFile string `toml:"master_key_file"`
	// LockoutThreshold is the number of consecutive failures that lock a
	// user out; 0 disables lockout.
	LockoutThreshold int `toml:"lockout_threshold"`
	// ClockSkew is how far a signed request's date may be from now.
	ClockSkew Duration `toml:"clock_skew"`
	// PushTimeout is how long a push waits for the device's answer.
	PushTimeout Duration `toml:"push_timeout"`
	// PushCooldownAfter is how many pushes in a row a user may deny or
	// leave unanswered (within PushCooldown) before further pushes are
	// refused for PushCooldown; 0 turns the cool-down off.
	PushCooldownAfter int `toml:"push_cooldown_after"`
	// PushCooldown is the cool-down, and the window the denials count in.
	PushCooldown Duration `toml:"push_cooldown"`
	// FraudLockout locks out a user who marks a push as fraud.
	FraudLockout bool `toml:"fraud_lockout"`
	// EnrollPortalURL is where preauth sends users who must enroll; empty:
	// a single-use link to Assent's own portal.
	EnrollPortalURL string `toml:"enroll_portal_url"`
	// EnrollLinkTTL is how long such a portal link stays valid.
	EnrollLinkTTL Duration `toml:"enroll_link_ttl"`
	// E-mail (internal/mail): SMTPServer is host:port of the SMTP server
	// (empty: no e-mail); SMTPTLS starttls, tls or none; SMTPUsername and
	// SMTPPassword (or SMTPPasswordFile) authenticate with SMTPAuth;
	// SMTPCAFile replaces the system's CAs; SMTPTimeout bounds one
	// attempt; MailFrom is the sender; MailTemplatesDir overrides the
	// built-in templates; MailNotices are the notices sent to users.
	SMTPServer       string   `toml:"smtp_server"`
	SMTPTLS          string   `toml:"smtp_tls"`
	SMTPUsername     string   `toml:"smtp_username"`
	SMTPPassword     string   `toml:"smtp_password"`
	SMTPPasswordFile string   `toml:"smtp_password_file"`
	SMTPAuth         string   `toml:"smtp_auth"`
	SMTPCAFile       string   `toml:"smtp_ca_file"`
	SMTPTimeout      Duration `toml:"smtp_timeout"`
	MailFrom         string   `toml:"mail_from"`
	MailTemplatesDir string   `toml:"mail_templates_dir"`
	MailNotices      []string `toml:"mail_notices"`
	// ConsoleIdleTimeout ends a console session unused this long;
	// ConsoleSessionLifetime ends it this long after sign-in, however
	// active.
	ConsoleIdleTimeout     Duration `toml:"console_idle_timeout"`
	ConsoleSessionLifetime Duration `toml:"console_session_lifetime"`
	// TOTPIssuer names the installation in authenticator apps: the issuer
	// of the otpauth:// URIs of new apps (apps already added keep theirs).
	TOTPIssuer string `toml:"totp_issuer"`
	// LogoFile is a PNG served by /auth/v2/logo; empty serves Assent's.
	LogoFile string `toml:"logo_file"`
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string `toml:"log_level"`
	LogFormat string `toml:"log_format"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// MaxConnections caps the client connections open at once; 0 derives
	// it from the process's open-files limit (see netlimit.DefaultMax).
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP caps the connections open at once from one client
	// address (an IPv6 /64); 0 means no per-address cap, for servers behind
	// a load balancer whose connections all come from its address.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxHeldRequests caps the requests held open at once while they wait
	// (synchronous pushes, auth_status long polls); more are answered 429.
	MaxHeldRequests int `toml:"max_held_requests"`
	// MetricsListen is host:port serving Prometheus /metrics (and
	// /healthz, /readyz) over plain HTTP; empty: off.
	MetricsListen string `toml:"metrics_listen"`
	// AuthEventsFile is a file authentication events are appended to as
	// JSON lines (internal/authevents); empty: none.
	AuthEventsFile string `toml:"auth_events_file"`
	// AuthEventsSyslog is a syslog receiver (udp://host:port,
	// tcp://host:port or unix:///path) authentication events are sent
	// to as RFC 5424 messages; empty: none.
	AuthEventsSyslog string `toml:"auth_events_syslog"`
	// PprofListen is a loopback host:port serving Go's runtime profiles
	// (net/http/pprof) over plain HTTP, for diagnosis; empty: off.
	PprofListen string `toml:"pprof_listen"`
	// MemoryLimit is the Go runtime's soft memory limit for `assent serve`
	// (runtime/debug.SetMemoryLimit); 0 leaves Go's (GOMEMLIMIT, or none).
	MemoryLimit ByteSize `toml:"memory_limit"`

	// Rate limits (token buckets, per node): "N/duration" is a burst of N
	// refilled at N per duration; "off" disables the limit.
	//
	// RateLimitPushesPerUser bounds the pushes started for one user.
	RateLimitPushesPerUser RateLimit `toml:"rate_limit_pushes_per_user"`
	// RateLimitPasscodeFailuresPerUser bounds failed passcodes per user; a
	// user out of tokens has every passcode refused, a right one too.
	RateLimitPasscodeFailuresPerUser RateLimit `toml:"rate_limit_passcode_failures_per_user"`
	// RateLimitPasscodeFailuresPerIP bounds failed passcodes per end-user
	// address (ipaddr, or the browser's address in the prompt).
	RateLimitPasscodeFailuresPerIP RateLimit `toml:"rate_limit_passcode_failures_per_ip"`
	// RateLimitEnrollmentsPerIntegration bounds the activation codes one
	// integration creates (/auth/v2/enroll, the prompt's inline enrollment).
	RateLimitEnrollmentsPerIntegration RateLimit `toml:"rate_limit_enrollments_per_integration"`
	// RateLimitActivationFailuresPerIP bounds wrong activation codes and
	// enrollment-portal links per client address.
	RateLimitActivationFailuresPerIP RateLimit `toml:"rate_limit_activation_failures_per_ip"`
	// RateLimitConsoleFailures bounds failed console sign-ins and
	// re-authentications, per client address and per e-mail address.
	RateLimitConsoleFailures RateLimit `toml:"rate_limit_console_failures"`
	// RateLimitSMSPerUser and RateLimitSMSGlobal bound the SMS messages
	// sent to one user's phones and to anyone (cost, toll fraud).
	RateLimitSMSPerUser RateLimit `toml:"rate_limit_sms_per_user"`
	RateLimitSMSGlobal  RateLimit `toml:"rate_limit_sms_global"`

	// SMS passcodes (docs/telephony.md). SMSProvider is kannel, http or ""
	// (none); SMSURL its endpoint; SMSUsername and the password in
	// SMSPasswordFile authenticate; SMSFrom is the sender. SMSHTTPBody and
	// SMSHTTPContentType shape the http provider's request. SMSBatch,
	// SMSExpiration and SMSMessage are Duo's sms_batch, sms_expiration and
	// sms_message.
	SMSProvider        string   `toml:"sms_provider"`
	SMSURL             string   `toml:"sms_url"`
	SMSUsername        string   `toml:"sms_username"`
	SMSPasswordFile    string   `toml:"sms_password_file"`
	SMSFrom            string   `toml:"sms_from"`
	SMSHTTPBody        string   `toml:"sms_http_body"`
	SMSHTTPContentType string   `toml:"sms_http_content_type"`
	SMSBatch           int      `toml:"sms_batch"`
	SMSExpiration      Duration `toml:"sms_expiration"`
	SMSMessage         string   `toml:"sms_message"`
	SMSRefresh         bool     `toml:"sms_refresh"`
	// RateLimitCallsPerUser and RateLimitCallsGlobal bound the phone calls
	// placed to one user's phones and to anyone (cost, toll fraud).
	RateLimitCallsPerUser RateLimit `toml:"rate_limit_calls_per_user"`
	RateLimitCallsGlobal  RateLimit `toml:"rate_limit_calls_global"`
	// Phone-callback calls over SIP (docs/telephony-sip.md): SIPListen,
	// when set, turns them on (the local address, over SIPTransport: udp,
	// tcp or tls; SIPTLSCAFile verifies the peer, SIPTLSCertFile and
	// SIPTLSKeyFile are our certificate); SIPAdvertiseIP is
	// the address the trunk reaches us on; SIPOutboundProxy and
	// SIPRegistrar the trunk or PBX (host:port); SIPUsername and the
	// password in SIPPasswordFile answer its digest challenges; SIPFrom is
	// our identity; SIPRTPPorts the media ports ("10000-20000"); the
	// durations bound ringing, the wait for a key and the whole call.
	SIPListen          string   `toml:"sip_listen"`
	SIPTransport       string   `toml:"sip_transport"`
	SIPTLSCAFile       string   `toml:"sip_tls_ca_file"`
	SIPTLSCertFile     string   `toml:"sip_tls_cert_file"`
	SIPTLSKeyFile      string   `toml:"sip_tls_key_file"`
	SIPAdvertiseIP     string   `toml:"sip_advertise_ip"`
	SIPOutboundProxy   string   `toml:"sip_outbound_proxy"`
	SIPRegistrar       string   `toml:"sip_registrar"`
	SIPRegisterExpiry  Duration `toml:"sip_register_expiry"`
	SIPUsername        string   `toml:"sip_username"`
	SIPPasswordFile    string   `toml:"sip_password_file"`
	SIPFrom            string   `toml:"sip_from"`
	SIPRTPPorts        string   `toml:"sip_rtp_ports"`
	SIPRingTimeout     Duration `toml:"sip_ring_timeout"`
	SIPAnswerTimeout   Duration `toml:"sip_answer_timeout"`
	SIPMaxCallDuration Duration `toml:"sip_max_call_duration"`
	// SIPPromptFile is an administrator's recording played instead of
	// the shipped prompt (sipcall.LoadPrompt: WAV, 8 kHz mono, ≤ 60 s).
	SIPPromptFile string `toml:"sip_prompt_file"`
	// UniversalJWTMaxLifetime bounds how far ahead (plus ClockSkew) the
	// Universal Prompt's request JWTs and client assertions may expire.
	UniversalJWTMaxLifetime Duration `toml:"universal_jwt_max_lifetime"`
	// RetentionTransactions is how long push transactions and activation
	// codes are kept after they expire; 0 keeps them forever.
	RetentionTransactions Duration `toml:"retention_transactions"`
	// RetentionAuthLog is how long auth-log rows are kept; 0 (the default)
	// keeps them forever.
	RetentionAuthLog Duration `toml:"retention_auth_log"`
	// PurgeInterval is how often the server purges what outlived its
	// retention.
	PurgeInterval Duration `toml:"purge_interval"`
	// DirectorySyncInterval is how often the server syncs the directories
	// added with `assent directory add` (package directory); 0: only on
	// demand (`assent directory sync`).
	DirectorySyncInterval Duration `toml:"directory_sync_interval"`
	// DirectoryEnrollmentEmail e-mails users a sync creates their
	// enrollment link (needs smtp_server and an e-mail attribute).
	DirectoryEnrollmentEmail bool `toml:"directory_enrollment_email"`
	// Directories are the [[directory]] tables: directories synced as
	// those added with `assent directory add` (file only).
	Directories []DirectoryConfig `toml:"directory"`
	// RateLimitBadSignatures limits failed request signatures (bad
	// signature, unknown key, bad or missing date) per client IP address.
	RateLimitBadSignatures RateLimit `toml:"rate_limit_bad_signatures"`

	// WebAuthn (security keys, passkeys) in the hosted prompt and portal;
	// the relying-party ID is PublicHostname's host.
	//
	// WebAuthnUserVerification is preferred, required or discouraged: whether
	// the authenticator must check who holds it (PIN, fingerprint).
	WebAuthnUserVerification string `toml:"webauthn_user_verification"`
	// WebAuthnAttestation is none, indirect or direct: what the
	// authenticator is asked to prove about its model when registered.
	WebAuthnAttestation string `toml:"webauthn_attestation"`

	// PublicHostnameDerived is true when PublicHostname was not set but
	// derived from Listen; administration commands then prefer the
	// hostname the running server recorded.
	PublicHostnameDerived bool `toml:"-"`
}

// DirectoryConfig is one [[directory]] table of the file: an LDAP or
// Active Directory server users and groups are synced from (package
// directory checks the values in full; see docs/directory.md).
type DirectoryConfig struct {
	Name             string   `toml:"name"`
	URL              string   `toml:"url"`
	StartTLS         bool     `toml:"start_tls"`
	CAFile           string   `toml:"ca_file"`
	BindDN           string   `toml:"bind_dn"`
	BindPasswordFile string   `toml:"bind_password_file"`
	BaseDN           string   `toml:"base_dn"`
	UserFilter       string   `toml:"user_filter"`
	GroupDNs         []string `toml:"group_dns"`
	Schema           string   `toml:"schema"`
	Nested           string   `toml:"nested"`
	// Attributes is the attribute mapping, e.g.
	// "username=sAMAccountName,aliases=userPrincipalName|mail".
	Attributes      string `toml:"attributes"`
	PageSize        int    `toml:"page_size"`
	DeleteAfterDays int    `toml:"delete_after_days"`
	TimeoutSeconds  int    `toml:"timeout_seconds"`
}

// Duration is a time.Duration written as "30s", "5m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 30s or 5m", string(b))
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DefaultMetricsListen is metrics_listen's default.
const DefaultMetricsListen = "127.0.0.1:9464"

// Problem is one configuration error.
type Problem struct {
	Source string // file path, "environment" or "flags"
	Key    string
	Msg    string
}

func (p Problem) String() string {
	if p.Key == "" {
		return fmt.Sprintf("%s: %s", p.Source, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.Source, p.Key, p.Msg)
}

// Errors lists every configuration problem found.
type Errors []Problem

func (e Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problem", len(e))
	if len(e) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Sources is where configuration comes from besides the defaults.
type Sources struct {
	File  string            // TOML file; empty for none
	Env   []string          // KEY=VALUE pairs, usually os.Environ()
	Flags map[string]string // key → value for flags the user set
}

// Load builds and validates the configuration.
func Load(src Sources) (Config, error) {
	cfg := Defaults()
	var errs Errors
	if src.File != "" {
		errs = append(errs, loadFile(&cfg, src.File)...)
	}
	env := map[string]string{}
	for _, kv := range src.Env {
		k, v, ok := strings.Cut(kv, "=")
		// ASSENT_CONFIG names the file itself; ASSENT_TEST_* belong to the test suite;
		// ASSENT_BACKUP_PASSPHRASE to assent backup and restore.
		if ok && strings.HasPrefix(k, "ASSENT_") && k != "ASSENT_CONFIG" && k != "ASSENT_BACKUP_PASSPHRASE" && !strings.HasPrefix(k, "ASSENT_TEST_") {
			env[k] = v
		}
	}
	errs = append(errs, apply(&cfg, "environment", env, EnvVar)...)
	errs = append(errs, apply(&cfg, "flags", src.Flags, func(key string) string { return key })...)
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return cfg, errs
	}
	return cfg, nil
}

// loadFile reads a TOML file into cfg, each key on its own, so that every
// wrong value and every unknown key or section is reported, not only the
// first.
func loadFile(cfg *Config, path string) Errors {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return Errors{{Source: path, Msg: "file not found"}}
	} else if err != nil {
		return Errors{{Source: path, Msg: err.Error()}}
	}
	var raw map[string]toml.Primitive
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Errors{{Source: fmt.Sprintf("%s: line %d", path, pe.Position.Line), Key: pe.LastKey, Msg: pe.Message}}
		}
		return Errors{{Source: path, Msg: err.Error()}}
	}
	var errs Errors
	lines := keyLines(string(data))
	at := func(key ...string) string {
		if n := lines[strings.Join(key, ".")]; n > 0 {
			return fmt.Sprintf("%s: line %d", path, n)
		}
		return path
	}
	v := reflect.ValueOf(cfg).Elem()
	for _, k := range md.Keys() {
		if len(k) != 1 {
			continue // inside a table: reported with the table
		}
		key := k[0]
		f, ok := fieldByKey(key)
		if !ok {
			errs = append(errs, unknownFileKey(md, at, key)...)
			continue
		}
		ptr := v.FieldByIndex(f.Index).Addr().Interface()
		if fileOnly(key) && md.Type(key) != "ArrayHash" && md.Type(key) != "Array" {
			errs = append(errs, Problem{Source: at(key), Key: key, Msg: "must be [[" + key + "]] tables"})
			continue
		}
		if err := md.PrimitiveDecode(raw[key], ptr); err != nil {
			if _, text := ptr.(encoding.TextUnmarshaler); text && md.Type(key) != "String" {
				// A number where "30s" was meant: say what to write.
				err = errors.New("incompatible types")
			}
			errs = append(errs, Problem{Source: at(key), Key: key, Msg: fileValueError(err, md.Type(key), f.Type)})
		}
	}
	// Keys inside [[directory]] tables that no field took.
	for _, k := range md.Undecoded() {
		if len(k) >= 2 && fileOnly(k[0]) && md.Type(k...) != "Hash" {
			errs = append(errs, Problem{Source: path, Key: "[[" + k[0] + "]] " + strings.Join(k[1:], "."), Msg: "unknown key"})
		}
	}
	return errs
}

// keyLines finds the line of each key of a TOML file (dotted under its
// [section]), for messages; a key it cannot place is reported without one.
func keyLines(data string) map[string]int {
	lines := map[string]int{}
	section := ""
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if m := tomlTable.FindStringSubmatch(line); m != nil {
			section = strings.ReplaceAll(strings.ReplaceAll(m[1], " ", ""), `"`, "")
			if _, seen := lines[section]; !seen {
				lines[section] = i + 1
			}
			continue
		}
		if m := tomlKey.FindStringSubmatch(line); m != nil {
			key := m[1]
			if section != "" {
				key = section + "." + key
			}
			if _, seen := lines[key]; !seen {
				lines[key] = i + 1
			}
		}
	}
	return lines
}

var (
	tomlTable = regexp.MustCompile(`^\[\[?\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?`)
	tomlKey   = regexp.MustCompile(`^"?([A-Za-z0-9_\-]+)"?\s*=`)
)

// unknownFileKey reports a key of the file that is no setting; for a table
// ([section]) it reports each key inside, since Assent's settings have no
// sections.
func unknownFileKey(md toml.MetaData, at func(...string) string, key string) Errors {
	if md.Type(key) != "Hash" {
		return Errors{{Source: at(key), Key: key, Msg: "unknown key"}}
	}
	var errs Errors
	for _, k := range md.Keys() {
		if len(k) < 2 || k[0] != key || md.Type(k...) == "Hash" {
			continue
		}
		msg := "unknown key"
		if _, known := Lookup(k[1]); known && len(k) == 2 {
			msg = fmt.Sprintf("unknown key: settings have no sections; write %s at the top of the file, before any [section]", k[1])
		}
		errs = append(errs, Problem{Source: at(k...), Key: "[" + key + "] " + strings.Join(k[1:], "."), Msg: msg})
	}
	if len(errs) == 0 {
		errs = Errors{{Source: at(key), Key: "[" + key + "]", Msg: "unknown section"}}
	}
	return errs
}

// fileValueError says what is wrong with a value of the file.
func fileValueError(err error, tomlType string, t reflect.Type) string {
	var want string
	switch {
	case t == reflect.TypeFor[Duration]():
		want = `a duration in quotes, like "30s" or "5m"`
	case t == reflect.TypeFor[RateLimit]():
		want = `a rate limit in quotes, like "5/5m", or "off"`
	case t == reflect.TypeFor[ByteSize]():
		want = `a size in quotes, like "512MiB"`
	case t.Kind() == reflect.Int:
		want = "a whole number"
	case t.Kind() == reflect.Bool:
		want = "true or false"
	case t.Kind() == reflect.String:
		want = "a string in quotes"
	case t.Kind() == reflect.Slice:
		want = `a list of strings, like ["a", "b"]`
	}
	var pe toml.ParseError
	if errors.As(err, &pe) && pe.Message != "" {
		err = errors.New(pe.Message)
	}
	msg := strings.TrimPrefix(err.Error(), "toml: ")
	if strings.Contains(msg, "incompatible types") || strings.Contains(msg, "cannot") || strings.Contains(msg, "type mismatch") {
		got := strings.ToLower(tomlType)
		switch got {
		case "hash":
			got = "table"
		case "array":
			got = "list"
		}
		article := "a"
		if strings.ContainsRune("aeiou", rune(got[0])) {
			article = "an"
		}
		return fmt.Sprintf("%s %s where %s is expected", article, got, want)
	}
	return msg
}

// EnvVar is the environment variable of a configuration key: ASSENT_ and
// the key in upper case.
func EnvVar(key string) string { return "ASSENT_" + strings.ToUpper(key) }

// Keys lists every configuration key (the toml tags of Config), in order.
func Keys() []string {
	var keys []string
	t := reflect.TypeFor[Config]()
	for i := 0; i < t.NumField(); i++ {
		if key := t.Field(i).Tag.Get("toml"); key != "-" {
			keys = append(keys, key)
		}
	}
	return keys
}

// apply sets fields from a name → value map; name(key) maps a config key to
// the name used by that source.
func apply(cfg *Config, source string, vals map[string]string, name func(string) string) Errors {
	if len(vals) == 0 {
		return nil
	}
	var errs Errors
	known := map[string]bool{}
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("toml")
		if key == "-" || fileOnly(key) {
			continue
		}
		n := name(key)
		known[n] = true
		s, ok := vals[n]
		if !ok {
			continue
		}
		if err := setField(v.Field(i), s); err != nil {
			errs = append(errs, Problem{Source: source, Key: n, Msg: err.Error()})
		}
	}
	var unknown []string
	for n := range vals {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	for _, n := range unknown {
		errs = append(errs, Problem{Source: source, Key: n, Msg: "unknown setting"})
	}
	return errs
}

func setField(f reflect.Value, s string) error {
	switch p := f.Addr().Interface().(type) {
	case *string:
		*p = s
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*p = b
	case *Duration:
		return p.UnmarshalText([]byte(strings.TrimSpace(s)))
	case encoding.TextUnmarshaler: // RateLimit and other text-typed settings
		return p.UnmarshalText([]byte(strings.TrimSpace(s)))
	case *[]string:
		// Environment variables and flags give lists comma-separated.
		*p = nil
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				*p = append(*p, e)
			}
		}
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

// validate checks values and fills derived defaults.
func (c *Config) validate() Errors {
	var errs Errors
	bad := func(key, msg string) { errs = append(errs, Problem{Source: "config", Key: key, Msg: msg}) }
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen", fmt.Sprintf("%q is not host:port (e.g. 127.0.0.1:8443 or :443)", c.Listen))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("listen", fmt.Sprintf("port %q is not a number from 0 to 65535", port))
	}
	if c.PublicHostname == "" && err == nil {
		c.PublicHostname = defaultPublicHostname(host, port)
		c.PublicHostnameDerived = true
	}
	if c.PublicHostname != "" {
		if err := checkHostname(c.PublicHostname); err != nil {
			bad("public_hostname", err.Error())
		}
	}
	for _, h := range c.AltHostnames {
		if err := checkHostname(h); err != nil {
			bad("alt_hostnames", err.Error())
		}
	}
	if n := len(c.Hostnames()); n > MaxHostnames {
		bad("alt_hostnames", fmt.Sprintf("%d names with public_hostname; at most %d (each signed request is checked against every name)", n, MaxHostnames))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert", "tls_cert and tls_key go together: set both or neither")
	}
	if c.ACMEDirectory != "" {
		if u, err := url.Parse(c.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("acme_directory", "must be an https:// URL (e.g. https://acme-v02.api.letsencrypt.org/directory)")
		}
		if c.TLSCert != "" {
			bad("acme_directory", "set acme_directory or tls_cert/tls_key, not both")
		}
	}
	switch c.ACMEChallenge {
	case "tls-alpn-01":
	case "http-01":
		if c.ACMEHTTPListen == "" {
			bad("acme_http_listen", "is required with acme_challenge = http-01 (e.g. :80)")
		}
	default:
		bad("acme_challenge", "must be tls-alpn-01 or http-01")
	}
	if c.ACMEHTTPListen != "" {
		if _, _, err := net.SplitHostPort(c.ACMEHTTPListen); err != nil {
			bad("acme_http_listen", "must be host:port or :port")
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("trusted_proxies", fmt.Sprintf("%q is not an IP address or CIDR prefix", p))
			}
		}
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database_url", "must be a postgres:// or postgresql:// URL (leave it empty for the embedded SQLite database)")
		}
	}
	if c.MasterKey != "" && c.MasterKeyFile != "" {
		bad("master_key", "set master_key or master_key_file, not both")
	}
	if c.LockoutThreshold < 0 {
		bad("lockout_threshold", "must be 0 (no lockout) or more")
	}
	if c.ClockSkew.Duration < 30*time.Second || c.ClockSkew.Duration > time.Hour {
		bad("clock_skew", "must be between 30s and 1h")
	}
	if c.PushTimeout.Duration < 5*time.Second || c.PushTimeout.Duration > 10*time.Minute {
		bad("push_timeout", "must be between 5s and 10m")
	}
	if c.PushCooldownAfter < 0 || c.PushCooldownAfter > 100 {
		bad("push_cooldown_after", "must be between 0 (no cool-down) and 100")
	}
	if c.PushCooldown.Duration < time.Minute || c.PushCooldown.Duration > 24*time.Hour {
		bad("push_cooldown", "must be between 1m and 24h")
	}
	if c.ConsoleIdleTimeout.Duration < time.Minute || c.ConsoleIdleTimeout.Duration > 24*time.Hour {
		bad("console_idle_timeout", "must be between 1m and 24h")
	}
	if c.ConsoleSessionLifetime.Duration < c.ConsoleIdleTimeout.Duration || c.ConsoleSessionLifetime.Duration > 7*24*time.Hour {
		bad("console_session_lifetime", "must be at least console_idle_timeout and at most 168h (7 days)")
	}
	if c.EnrollLinkTTL.Duration < 5*time.Minute || c.EnrollLinkTTL.Duration > 30*24*time.Hour {
		bad("enroll_link_ttl", "must be between 5m and 720h (30 days)")
	}
	if c.EnrollPortalURL != "" {
		if u, err := url.Parse(c.EnrollPortalURL); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("enroll_portal_url", "must be an https:// URL")
		}
	}
	errs = append(errs, c.validateMail()...)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", fmt.Sprintf("%q is not one of debug, info, warn, error", c.LogLevel))
	}
	if n := len(c.TOTPIssuer); n == 0 || n > 64 || strings.ContainsAny(c.TOTPIssuer, ":\x00\n") {
		bad("totp_issuer", "must be 1 to 64 characters without ':' (it separates the issuer from the user in apps)")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format", fmt.Sprintf("%q is not one of text, json", c.LogFormat))
	}
	switch c.WebAuthnUserVerification {
	case "preferred", "required", "discouraged":
	default:
		bad("webauthn_user_verification", fmt.Sprintf("%q is not one of preferred, required, discouraged", c.WebAuthnUserVerification))
	}
	switch c.WebAuthnAttestation {
	case "none", "indirect", "direct":
	default:
		bad("webauthn_attestation", fmt.Sprintf("%q is not one of none, indirect, direct", c.WebAuthnAttestation))
	}
	if c.ShutdownTimeout.Duration <= 0 {
		bad("shutdown_timeout", "must be positive")
	}
	if c.MaxConnections < 0 {
		bad("max_connections", "must be 0 (derived from the open-files limit) or more")
	}
	if c.MaxConnectionsPerIP < 0 {
		bad("max_connections_per_ip", "must be 0 (no per-address cap) or more")
	}
	if c.IdleTimeout.Duration < time.Second || c.IdleTimeout.Duration > time.Hour {
		bad("idle_timeout", "must be between 1s and 1h")
	}
	if c.MaxHeldRequests < 1 {
		bad("max_held_requests", "must be 1 or more")
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < MinMemoryLimit {
		bad("memory_limit", fmt.Sprintf("must be 0 (Go's default or GOMEMLIMIT) or at least %s", MinMemoryLimit))
	}
	if c.MetricsListen != "" {
		if err := checkMetricsListen(c.MetricsListen, c.Listen); err != nil {
			bad("metrics_listen", err.Error())
		}
	}
	if c.PprofListen != "" {
		if err := checkPprofListen(c.PprofListen, c.Listen, c.MetricsListen); err != nil {
			bad("pprof_listen", err.Error())
		}
	}
	if d := c.UniversalJWTMaxLifetime.Duration; d < time.Minute || d > time.Hour {
		bad("universal_jwt_max_lifetime", "must be between 1m and 1h")
	}
	if d := c.RetentionTransactions.Duration; d != 0 && d < time.Hour {
		bad("retention_transactions", "must be 0 (keep forever) or at least 1h")
	}
	if d := c.RetentionAuthLog.Duration; d != 0 && d < 24*time.Hour {
		bad("retention_auth_log", "must be 0 (keep forever) or at least 24h")
	}
	if d := c.PurgeInterval.Duration; d < time.Minute || d > 24*time.Hour {
		bad("purge_interval", "must be between 1m and 24h")
	}
	if d := c.DirectorySyncInterval.Duration; d != 0 && (d < 5*time.Minute || d > 7*24*time.Hour) {
		bad("directory_sync_interval", "must be 0 (on demand only) or between 5m and 168h")
	}
	names := map[string]bool{}
	for i, d := range c.Directories {
		key := fmt.Sprintf("directory[%d]", i)
		switch {
		case d.Name == "":
			bad(key, "needs a name")
		case names[d.Name]:
			bad(key, fmt.Sprintf("the name %q is used twice", d.Name))
		}
		names[d.Name] = true
		if !strings.HasPrefix(d.URL, "ldap://") && !strings.HasPrefix(d.URL, "ldaps://") {
			bad(key, fmt.Sprintf("url %q is not ldap://host[:port] or ldaps://host[:port]", d.URL))
		}
		if d.BaseDN == "" {
			bad(key, "needs base_dn")
		}
		if d.BindDN != "" && d.BindPasswordFile == "" {
			bad(key, "bind_dn needs bind_password_file (the password is never written in this file)")
		}
	}
	c.validateSMS(bad)
	c.validateSIP(bad)
	return errs
}

// checkMetricsListen checks the metrics address: host:port, and not the
// HTTPS listener's address (the same port on an overlapping host).
func checkMetricsListen(addr, listen string) error {
	if err := checkHostPort(addr); err != nil {
		return err
	}
	if sameListener(addr, listen) {
		return fmt.Errorf("%q is the HTTPS listen address (%s); give metrics their own port", addr, listen)
	}
	return nil
}

// checkPprofListen checks the profiling address: a loopback IP address and
// a port of its own. Profiles need no key and tell much about the server
// (its code, its memory use, what it is doing), so they are never served
// beyond the machine; an SSH tunnel reaches them from elsewhere.
func checkPprofListen(addr, listen, metrics string) error {
	if err := checkHostPort(addr); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: profiles are served on 127.0.0.1 or [::1] only (use an SSH tunnel to reach them from elsewhere)", addr)
	}
	if sameListener(addr, listen) {
		return fmt.Errorf("%q is the HTTPS listen address (%s); give profiles their own port", addr, listen)
	}
	if metrics != "" && sameListener(addr, metrics) {
		return fmt.Errorf("%q is metrics_listen (%s); give profiles their own port", addr, metrics)
	}
	return nil
}

// checkHostPort checks that addr is host:port with a port from 0 to 65535.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:9443)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// sameListener reports whether listeners on addr and other would claim
// the same port on an overlapping host (port 0 picks a free one).
func sameListener(addr, other string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ohost, oport, err := net.SplitHostPort(other)
	if err != nil || port != oport || port == "0" {
		return false
	}
	wildcard := func(h string) bool { ip := net.ParseIP(h); return h == "" || (ip != nil && ip.IsUnspecified()) }
	return strings.EqualFold(host, ohost) || wildcard(host) || wildcard(ohost)
}

// defaultPublicHostname names the listener the way local clients reach it:
// loopback and wildcard addresses become "localhost" (duo_unix 1.x, as
// Debian ships it, cannot match IP SANs), and port 443 is left out.
func defaultPublicHostname(host, port string) string {
	ip := net.ParseIP(host)
	if host == "" || host == "localhost" || (ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) {
		host = "localhost"
	}
	if port == "443" {
		return host
	}
	return net.JoinHostPort(host, port)
}

func checkHostname(h string) error {
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has an invalid port", h)
		}
		host = hh
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") || strings.Contains(h, "://") {
		return fmt.Errorf("%q must be a bare host or host:port, without a scheme or path", h)
	}
	return nil
}

// MaxHostnames bounds public_hostname plus alt_hostnames: a signature is
// checked against each name (with and without its port), and that work must
// stay small and constant (duosig.MaxHosts host strings).
const MaxHostnames = 8

// Hostnames are the names clients use to reach the server: PublicHostname
// first, then AltHostnames, without duplicates (compared case-insensitively).
func (c Config) Hostnames() []string {
	var out []string
	for _, h := range append([]string{c.PublicHostname}, c.AltHostnames...) {
		if h == "" || slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, h) }) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// SQLitePath is the embedded database file.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "assent.db") }

// ACMEDir holds the ACME account key and certificates (sealed).
func (c Config) ACMEDir() string { return filepath.Join(c.DataDir, "acme") }

// TLSDir holds the local CA and server certificate.
func (c Config) TLSDir() string { return filepath.Join(c.DataDir, "tls") }

// DefaultMasterKeyFile is used when neither master_key nor master_key_file is set.
func (c Config) DefaultMasterKeyFile() string { return filepath.Join(c.DataDir, "master.key") }

// MailNotices that may be listed in mail_notices.
var mailNotices = []string{"device_added", "bypass_codes", "fraud_reported"}

// validateMail checks the e-mail settings that need nothing outside the
// configuration; the server checks the rest (the CA file, the sender's
// syntax, the templates) when it opens the mailer.
func (c *Config) validateMail() Errors {
	var errs Errors
	bad := func(key, msg string) { errs = append(errs, Problem{Source: "config", Key: key, Msg: msg}) }
	switch c.SMTPTLS {
	case "starttls", "tls", "none":
	default:
		bad("smtp_tls", fmt.Sprintf("%q is not one of starttls, tls, none", c.SMTPTLS))
	}
	switch c.SMTPAuth {
	case "auto", "plain", "login", "cram-md5":
	default:
		bad("smtp_auth", fmt.Sprintf("%q is not one of auto, plain, login, cram-md5", c.SMTPAuth))
	}
	if c.SMTPPassword != "" && c.SMTPPasswordFile != "" {
		bad("smtp_password_file", "set smtp_password or smtp_password_file, not both")
	}
	if c.SMTPTimeout.Duration < time.Second || c.SMTPTimeout.Duration > 10*time.Minute {
		bad("smtp_timeout", "must be between 1s and 10m")
	}
	if c.SMTPServer != "" && c.MailFrom == "" {
		bad("mail_from", "is required with smtp_server: the sender, e.g. \"Assent <assent@example.com>\"")
	}
	for _, n := range c.MailNotices {
		if !slices.Contains(mailNotices, n) {
			bad("mail_notices", fmt.Sprintf("%q is not one of %s", n, strings.Join(mailNotices, ", ")))
		}
	}
	return errs
}

// validateSMS checks the SMS settings (docs/telephony.md).
func (c *Config) validateSMS(bad func(key, msg string)) {
	switch c.SMSProvider {
	case "":
		return
	case "kannel", "http", "smpp":
	default:
		bad("sms_provider", fmt.Sprintf("%q is not kannel, http, smpp or unset", c.SMSProvider))
	}
	u, err := url.Parse(c.SMSURL)
	switch {
	case c.SMSProvider == "smpp" && (c.SMSURL == "" || err != nil || u.Scheme != "smpp" || u.Port() == ""):
		bad("sms_url", "must be the SMSC's smpp://host:port with sms_provider = \"smpp\"")
	case c.SMSProvider != "smpp" && (c.SMSURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == ""):
		bad("sms_url", "must be the provider's http:// or https:// URL")
	}
	if c.SMSProvider == "smpp" && c.SMSUsername == "" {
		bad("sms_username", "is required with sms_provider = \"smpp\" (the system_id)")
	}
	if c.SMSProvider == "kannel" && c.SMSUsername == "" {
		bad("sms_username", "is required with sms_provider = \"kannel\" (its sendsms-user)")
	}
	if c.SMSBatch < 1 || c.SMSBatch > 10 {
		bad("sms_batch", "must be from 1 to 10")
	}
	if c.SMSExpiration.Duration < 0 || c.SMSExpiration.Duration > 24*time.Hour {
		bad("sms_expiration", "must be from 0 (until the next batch) to 24h")
	}
	if len(c.SMSMessage) > 80 {
		bad("sms_message", "must be at most 80 characters")
	}
}

// RTPPorts parses sip_rtp_ports ("10000-20000").
func (c *Config) RTPPorts() (lo, hi int, err error) {
	a, b, ok := strings.Cut(c.SIPRTPPorts, "-")
	if ok {
		if lo, err = strconv.Atoi(strings.TrimSpace(a)); err == nil {
			hi, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil || lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a port range MIN-MAX with 1024 ≤ MIN ≤ MAX ≤ 65535", c.SIPRTPPorts)
	}
	return lo, hi, nil
}

// validateSIPTransport checks sip_transport and, with tls, the
// certificate files (docs/telephony-sip.md#transport).
func (c *Config) validateSIPTransport(bad func(key, msg string)) {
	switch c.SIPTransport {
	case "udp", "tcp", "":
		for _, kv := range [][2]string{{"sip_tls_ca_file", c.SIPTLSCAFile}, {"sip_tls_cert_file", c.SIPTLSCertFile}, {"sip_tls_key_file", c.SIPTLSKeyFile}} {
			if kv[1] != "" {
				bad(kv[0], "is only used with sip_transport = \"tls\"")
			}
		}
		return
	case "tls":
	default:
		bad("sip_transport", "must be udp, tcp or tls")
		return
	}
	if c.SIPTLSCAFile != "" {
		b, err := os.ReadFile(c.SIPTLSCAFile)
		if err != nil {
			bad("sip_tls_ca_file", fmt.Sprintf("%q is not a readable file", c.SIPTLSCAFile))
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			bad("sip_tls_ca_file", fmt.Sprintf("%q holds no PEM certificate", c.SIPTLSCAFile))
		}
	}
	switch {
	case c.SIPTLSCertFile == "" && c.SIPTLSKeyFile != "":
		bad("sip_tls_cert_file", "is required with sip_tls_key_file")
	case c.SIPTLSCertFile != "" && c.SIPTLSKeyFile == "":
		bad("sip_tls_key_file", "is required with sip_tls_cert_file")
	case c.SIPTLSCertFile != "":
		if _, err := tls.LoadX509KeyPair(c.SIPTLSCertFile, c.SIPTLSKeyFile); err != nil {
			bad("sip_tls_cert_file", fmt.Sprintf("and sip_tls_key_file: %v", err))
		}
	}
}

// validateSIP checks the phone-call settings (docs/telephony-sip.md).
func (c *Config) validateSIP(bad func(key, msg string)) {
	if c.SIPListen == "" {
		return
	}
	if _, err := netip.ParseAddrPort(c.SIPListen); err != nil {
		bad("sip_listen", "must be a local IP address and port, e.g. 0.0.0.0:5070")
	}
	c.validateSIPTransport(bad)
	if c.SIPAdvertiseIP != "" {
		if _, err := netip.ParseAddr(c.SIPAdvertiseIP); err != nil {
			bad("sip_advertise_ip", "must be an IP address")
		}
	}
	for _, kv := range [][2]string{{"sip_outbound_proxy", c.SIPOutboundProxy}, {"sip_registrar", c.SIPRegistrar}} {
		if kv[1] == "" {
			continue
		}
		if h, p, err := net.SplitHostPort(kv[1]); err != nil || h == "" || p == "" {
			bad(kv[0], "must be host:port (the trunk's or PBX's SIP address)")
		}
	}
	if c.SIPOutboundProxy == "" && c.SIPRegistrar == "" {
		bad("sip_outbound_proxy", "or sip_registrar is required with sip_listen: numbers are called through a trunk or PBX")
	}
	if c.SIPRegistrar != "" && c.SIPUsername == "" {
		bad("sip_username", "is required with sip_registrar")
	}
	if c.SIPFrom != "" && !strings.HasPrefix(strings.ToLower(c.SIPFrom), "sip:") {
		bad("sip_from", "must be a SIP URI (sip:assent@pbx.example.org)")
	}
	if _, _, err := c.RTPPorts(); err != nil {
		bad("sip_rtp_ports", err.Error())
	}
	for _, d := range []struct {
		key      string
		v        time.Duration
		min, max time.Duration
	}{
		{"sip_register_expiry", c.SIPRegisterExpiry.Duration, time.Minute, 24 * time.Hour},
		{"sip_ring_timeout", c.SIPRingTimeout.Duration, time.Second, 5 * time.Minute},
		{"sip_answer_timeout", c.SIPAnswerTimeout.Duration, time.Second, 5 * time.Minute},
		{"sip_max_call_duration", c.SIPMaxCallDuration.Duration, 2 * time.Second, 10 * time.Minute},
	} {
		if d.v < d.min || d.v > d.max {
			bad(d.key, fmt.Sprintf("must be from %s to %s", d.min, d.max))
		}
	}
	if c.SIPPromptFile != "" {
		if fi, err := os.Stat(c.SIPPromptFile); err != nil || !fi.Mode().IsRegular() {
			bad("sip_prompt_file", fmt.Sprintf("%q is not a readable file", c.SIPPromptFile))
		}
	}
	if c.SIPMaxCallDuration.Duration < c.SIPRingTimeout.Duration {
		bad("sip_max_call_duration", "must be at least sip_ring_timeout")
	}
}

package config

import (
	"fmt"
	"reflect"
)

// Setting describes one configuration key: everything the command line,
// the environment, the README's configuration reference and the packaged
// sample file say about it comes from here.
//
// Adding a key is one change in this package: a field of Config with its
// toml tag, an entry in settings (where it belongs in the reference), and a check in
// validate if the value has bounds. Then `go generate ./internal/config`
// rewrites README.md's table; TestSettingsTable and TestREADMEReference
// fail until all of that is done.
type Setting struct {
	// Key is the TOML key, the toml tag of the Config field. The
	// environment variable is EnvVar(Key).
	Key string
	// Flag is the command-line flag (without --), empty for none;
	// FlagScope says which commands take it.
	Flag      string
	FlagScope FlagScope
	// FlagUsage is the flag's one-line help.
	FlagUsage string
	// Default is the default value as written in a file ("" for the Go
	// zero value); Defaults() is built from it.
	Default string
	// DefaultDoc, when set, is what the reference says instead of Default
	// (Markdown), for defaults derived from other settings or the system.
	DefaultDoc string
	// Help is the reference text (Markdown, one paragraph).
	Help string
	// FileOnly settings are tables of the file ([[key]]), with no
	// environment variable or flag; Example is the sample file's
	// commented-out example of one.
	FileOnly bool
	Example  []string
}

// fileOnly reports whether key is a FileOnly setting.
func fileOnly(key string) bool {
	s, ok := Lookup(key)
	return ok && s.FileOnly
}

// FlagScope says which commands take a setting's flag.
type FlagScope int

const (
	// CommonFlag: every command that opens the installation.
	CommonFlag FlagScope = iota
	// ServeFlag: only the commands that run the server (serve, quickstart).
	ServeFlag
)

// EnvVar is the setting's environment variable.
func (s Setting) EnvVar() string { return EnvVar(s.Key) }

// List reports whether the setting is a list (comma-separated in the
// environment and in flags).
func (s Setting) List() bool {
	if s.FileOnly {
		return false
	}
	f, ok := fieldByKey(s.Key)
	return ok && f.Type.Kind() == reflect.Slice
}

// Settings lists every setting in the reference's order.
func Settings() []Setting { return append([]Setting(nil), settings...) }

// Lookup finds the setting of a key.
func Lookup(key string) (Setting, bool) {
	for _, s := range settings {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

// FlagKeys maps the flags of a scope to their keys.
func FlagKeys(scope FlagScope) map[string]string {
	m := map[string]string{}
	for _, s := range settings {
		if s.Flag != "" && s.FlagScope == scope {
			m[s.Flag] = s.Key
		}
	}
	return m
}

// Defaults returns the zero-setup configuration: each setting's Default.
func Defaults() Config {
	var cfg Config
	v := reflect.ValueOf(&cfg).Elem()
	for _, s := range settings {
		if s.Default == "" {
			continue
		}
		f, ok := fieldByKey(s.Key)
		if !ok {
			continue // TestSettingsTable reports it
		}
		// TestSettingsTable checks that every default parses.
		_ = setField(v.FieldByIndex(f.Index), s.Default)
	}
	return cfg
}

// checkSettings reports every inconsistency between Config and the table.
func checkSettings() []error {
	var errs []error
	for _, k := range Keys() {
		if _, ok := Lookup(k); !ok {
			errs = append(errs, fmt.Errorf("config.Config key %q has no entry in the settings table (settings.go)", k))
		}
	}
	var zero Config
	zv := reflect.ValueOf(&zero).Elem()
	seenFlag := map[string]string{}
	for _, s := range settings {
		f, ok := fieldByKey(s.Key)
		if !ok {
			errs = append(errs, fmt.Errorf("setting %q has no field in config.Config (toml tag)", s.Key))
			continue
		}
		if s.Help == "" {
			errs = append(errs, fmt.Errorf("setting %q has no Help", s.Key))
		}
		if s.Default != "" {
			if err := setField(zv.FieldByIndex(f.Index), s.Default); err != nil {
				errs = append(errs, fmt.Errorf("setting %q: default %q: %w", s.Key, s.Default, err))
			}
		}
		if s.Flag != "" {
			if prev, dup := seenFlag[s.Flag]; dup {
				errs = append(errs, fmt.Errorf("flag --%s is given to %q and %q", s.Flag, prev, s.Key))
			}
			seenFlag[s.Flag] = s.Key
			if s.FlagUsage == "" {
				errs = append(errs, fmt.Errorf("setting %q: flag --%s has no FlagUsage", s.Key, s.Flag))
			}
		} else if s.FlagUsage != "" {
			errs = append(errs, fmt.Errorf("setting %q: FlagUsage without a Flag", s.Key))
		}
	}
	return errs
}

func fieldByKey(key string) (reflect.StructField, bool) {
	t := reflect.TypeFor[Config]()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("toml") == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// settings is the one definition of every configuration key.
var settings = []Setting{
	{
		Key: "data_dir", Flag: "data-dir", FlagScope: CommonFlag, Default: "./assent-data",
		FlagUsage: "data directory: SQLite database, master key, local CA (default ./assent-data; created by init, serve and quickstart only)",
		Help:      "SQLite database, default master key file, local CA",
	},
	{
		Key: "listen", Flag: "listen", FlagScope: ServeFlag, Default: "127.0.0.1:8443",
		FlagUsage: "HTTPS listen address (default 127.0.0.1:8443)",
		Help:      "HTTPS listen address",
	},
	{
		Key: "public_hostname", Flag: "public-hostname", FlagScope: CommonFlag,
		DefaultDoc: "`localhost:<listen port>`",
		FlagUsage:  "API hostname clients use, host[:port] (default localhost:<listen port>)",
		Help:       "the API hostname clients use (`host` or `host:port`); in the certificate, `api_hostname`, activation codes. Loopback and wildcard listen addresses become `localhost`, port 443 is left out",
	},
	{
		Key:        "alt_hostnames",
		DefaultDoc: "none",
		Help:       "other names or IP addresses (`host` or `host:port`) by which clients reach the server, at most 7. Signed requests must name `public_hostname` or one of these (the `Host` header does not count); the local CA certifies only these names",
	},
	{
		Key: "tls_cert", Flag: "tls-cert", FlagScope: ServeFlag,
		DefaultDoc: "(local CA)",
		FlagUsage:  "PEM certificate (default: issued by Assent's local CA)",
		Help:       "a real certificate and key (PEM); both or neither; read at start and again on *SIGHUP* (a renewed certificate at the same or new paths; a file that does not load keeps the old one) ([docs/tls.md](docs/tls.md))",
	},
	{
		Key: "tls_key", Flag: "tls-key", FlagScope: ServeFlag,
		DefaultDoc: "(local CA)",
		FlagUsage:  "PEM private key for --tls-cert",
		Help:       "the private key (PEM) of `tls_cert`",
	},
	{
		Key:        "acme_directory",
		DefaultDoc: "(off)",
		Help:       "obtain and renew the certificate from this ACME CA directory URL (Let's Encrypt: `https://acme-v02.api.letsencrypt.org/directory`; step-ca: `https://ca.internal/acme/acme/directory`) for `public_hostname` and the DNS names of `alt_hostnames`; not with `tls_cert` ([docs/tls.md](docs/tls.md#acme))",
	},
	{
		Key:  "acme_email",
		Help: "the ACME account's contact e-mail (expiry notices); optional",
	},
	{
		Key: "acme_challenge", Default: "tls-alpn-01",
		Help: "how the CA checks the name: `tls-alpn-01` (on `listen`, which the CA must reach on port 443) or `http-01` (on `acme_http_listen`, reached on port 80)",
	},
	{
		Key:        "acme_ca_root",
		DefaultDoc: "(system roots)",
		Help:       "PEM file of the CA that serves `acme_directory`, for an internal CA such as step-ca",
	},
	{
		Key:  "acme_http_listen",
		Help: "plain-HTTP address answering HTTP-01 challenges (and redirecting everything else to https), e.g. `:80`; required with `acme_challenge = \"http-01\"`",
	},
	{
		Key:        "trusted_proxies",
		DefaultDoc: "(none)",
		Help:       "IP addresses or CIDR prefixes of reverse proxies in front of Assent; only from them is `X-Forwarded-For` read, from the right, for the client address the auth log, access log and per-address limits use ([docs/tls.md](docs/tls.md#behind-a-reverse-proxy))",
	},
	{
		Key: "database_url", Flag: "database-url", FlagScope: CommonFlag,
		DefaultDoc: "(SQLite)",
		FlagUsage:  "PostgreSQL URL (postgres://…); default: SQLite in the data directory",
		Help:       "`postgres://user:pass@host/db?sslmode=…` to use PostgreSQL",
	},
	{
		Key:  "master_key",
		Help: "the master key itself, 32 bytes as base64 or 64 hex digits; prefer the environment or a file",
	},
	{
		Key: "master_key_file", Flag: "master-key-file", FlagScope: CommonFlag,
		DefaultDoc: "`<data_dir>/master.key`",
		FlagUsage:  "file holding the master key (default <data-dir>/master.key)",
		Help:       "file holding the master key; generated (mode 0600) when `assent init`, `serve` or `quickstart` creates the installation, never for an existing database",
	},
	{
		Key: "lockout_threshold", Default: "10",
		Help: "consecutive failed attempts that lock a user out; `0` disables lockout. A value set through the Admin API (`POST /admin/v1/settings`) overrides it on every node ([docs/admin-api.md](docs/admin-api.md))",
	},
	{
		Key: "clock_skew", Default: "300s",
		Help: "how far a signed request's date may be from the server's clock (30s–1h)",
	},
	{
		Key: "push_timeout", Default: "60s",
		Help: "how long a push waits for the device's answer before `timeout` (5s–10m); keep it below your clients' HTTP timeouts; *SIGHUP* (for pushes sent from then on)",
	},
	{
		Key: "push_cooldown_after", Default: "3",
		Help: "push-fatigue protection: after this many pushes in a row that a user denied, marked as fraud or left unanswered (within `push_cooldown`), further pushes for the user are refused for `push_cooldown` (429, code 42901); 0 turns it off (0–100). See [docs/push.md](docs/push.md)",
	},
	{
		Key: "push_cooldown", Default: "15m",
		Help: "how long pushes stay refused after `push_cooldown_after` denials, and the window those denials are counted in (1m–24h)",
	},
	{
		Key: "fraud_lockout", Default: "false",
		Help: "lock out a user who answers a push with \"This wasn't me\" (`fraud`); an administrator unlocks with `assent user set-status USER active`",
	},
	{
		Key:        "enroll_portal_url",
		DefaultDoc: "a single-use link `https://<public_hostname>/portal/enroll/<token>`",
		Help:       "where `preauth` sends users who must enroll. Set it to use your own portal (`?username=` is added); by default each user gets a link to Assent's portal that enrolls one device by QR code",
	},
	{
		Key: "enroll_link_ttl", Default: "24h",
		Help: "how long a portal link stays valid (5m–720h); a user's link is reused until half of it is left",
	},
	{
		Key:        "smtp_server",
		DefaultDoc: "off",
		Help:       "`host:port` of the SMTP server Assent sends e-mail through: enrollment links (Admin API `users/enroll`, `assent user enroll --email`) and notices to users. Empty: no e-mail is sent, and `users/enroll` answers an error ([docs/email.md](docs/email.md))",
	},
	{
		Key: "smtp_tls", Default: "starttls",
		Help: "`starttls` (port 587: the connection must be upgraded, or nothing is sent), `tls` (implicit TLS, port 465) or `none` (a relay on the same host or network, port 25; with `smtp_username` only on loopback)",
	},
	{
		Key:  "smtp_username",
		Help: "user name for SMTP AUTH; empty: no authentication",
	},
	{
		Key:  "smtp_password",
		Help: "password for SMTP AUTH; prefer the environment or `smtp_password_file`. Never logged",
	},
	{
		Key:  "smtp_password_file",
		Help: "file holding the SMTP password (surrounding white space is ignored), e.g. a systemd credential; instead of `smtp_password`",
	},
	{
		Key: "smtp_auth", Default: "auto",
		Help: "SMTP AUTH mechanism: `auto` (the strongest the server offers), `plain`, `login` or `cram-md5`",
	},
	{
		Key:        "smtp_ca_file",
		DefaultDoc: "the system's CAs",
		Help:       "PEM file of the CA(s) the SMTP server's certificate is checked against (an internal CA)",
	},
	{
		Key: "smtp_timeout", Default: "30s",
		Help: "how long one delivery attempt may take: connection, TLS handshake and the SMTP conversation (1s–10m). Failed attempts are retried with backoff for about 10 minutes",
	},
	{
		Key:  "mail_from",
		Help: "sender of Assent's e-mail, e.g. `Assent <assent@example.com>`; required with `smtp_server`",
	},
	{
		Key:        "mail_templates_dir",
		DefaultDoc: "built-in",
		Help:       "directory of templates replacing the built-in ones by file name (`enrollment.subject.txt`, `enrollment.txt`, `enrollment.html`, …); every file is checked at start and every problem listed; *SIGHUP* loads them again (a broken file keeps the running ones) ([docs/email.md](docs/email.md#templates))",
	},
	{
		Key: "mail_notices", Default: "device_added,bypass_codes,fraud_reported",
		Help: "notices e-mailed to a user who has an e-mail address: `device_added` (a device, authenticator app or security key was added), `bypass_codes` (codes were issued; never the codes), `fraud_reported` (a push was answered \"This wasn't me\"); `[]` sends none",
	},
	{
		Key: "console_idle_timeout", Default: "30m",
		Help: "the administrators' console (`/admin/`) ends a session unused this long (1m–24h)",
	},
	{
		Key: "console_session_lifetime", Default: "12h",
		Help: "… and any session this long after sign-in, however active (`console_idle_timeout`–168h)",
	},
	{
		Key: "totp_issuer", Default: "Assent",
		Help: "the name authenticator apps show above the user's name (the issuer of `otpauth://` URIs), 1–64 characters without `:`; apps already added keep the name they were given ([second factors](docs/second-factors-admin.md))",
	},
	{
		Key:        "logo_file",
		DefaultDoc: "built-in",
		Help:       "PNG served by `/auth/v2/logo`",
	},
	{
		Key: "log_level", Flag: "log-level", FlagScope: CommonFlag, Default: "info",
		FlagUsage: "debug, info, warn or error",
		Help:      "`debug`, `info`, `warn`, `error`",
	},
	{
		Key: "log_format", Flag: "log-format", FlagScope: CommonFlag, Default: "text",
		FlagUsage: "text or json",
		Help:      "`text` or `json` (structured, with request IDs)",
	},
	{
		Key: "shutdown_timeout", Default: "15s",
		Help: "on SIGTERM the server stops accepting connections and lets requests in flight and requests held for a device (synchronous pushes, `auth_status` long polls) finish for this long; then a push still held is answered as timed out (`deny`/`timeout`, with its auth-log row) and a long poll with its push's state, and the process exits. Give the service manager more (systemd `TimeoutStopSec=` ≥ this + 15s) ([docs/lifecycle.md](docs/lifecycle.md#sigterm-drain))",
	},
	{
		Key: "rate_limit_bad_signatures", Default: "20/1m",
		Help: "failed signatures (unknown key, missing or bad date, bad signature; Auth API and device API) allowed per client address. Each rate limit is `N/duration` — a burst of `N`, refilled at `N` per duration — or `off`; see [Rate limits](#security-notes). An address over it gets 429/42901 with `Retry-After` for every request on the connections it has open, and its new connections are closed as they arrive (before their TLS handshake), until a token is back. Behind a reverse proxy all clients share its address: raise it or turn it off there",
	},
	{
		Key: "rate_limit_pushes_per_user", Default: "5/5m",
		Help: "pushes started for one user (sync or async, any API or the prompt)",
	},
	{
		Key: "rate_limit_passcode_failures_per_user", Default: "10/10m",
		Help: "failed passcodes of one user; once spent, every passcode of that user is refused unchecked (the right one too) until a token refills. Counts beside `lockout_threshold`, which is unchanged",
	},
	{
		Key: "rate_limit_passcode_failures_per_ip", Default: "30/10m",
		Help: "failed passcodes from one end-user address: the `ipaddr` an Auth API client sends (none sent: per user only), the browser's address in the prompt; IPv6 by /64",
	},
	{
		Key: "rate_limit_enrollments_per_integration", Default: "60/1m",
		Help: "activation codes one integration creates (`/auth/v2/enroll`, the prompt's inline enrollment); the CLI and portal links are not limited",
	},
	{
		Key: "rate_limit_activation_failures_per_ip", Default: "10/10m",
		Help: "wrong, expired or used activation codes (`/push/v2/activation/<code>`) and enrollment-portal links (`/portal/enroll/<token>`) from one client address, together",
	},
	{
		Key: "rate_limit_console_failures", Default: "10/10m",
		Help: "failed console sign-ins, setups and re-authentications, per client address and per e-mail address",
	},
	{
		Key: "rate_limit_sms_per_user", Default: "5/1h",
		Help: "SMS messages sent to one user's phones (passcode batches, the portal's proof codes, the Admin API's activation and installation messages); over it the request is answered `429 / 42901` and nothing is sent ([telephony](docs/telephony.md))",
	},
	{
		Key: "rate_limit_sms_global", Default: "200/1h",
		Help: "SMS messages sent to anyone, including `assent telephony test-sms`: a ceiling on cost and toll fraud",
	},
	{
		Key:        "sms_provider",
		DefaultDoc: "off",
		Help:       "how SMS passcodes are sent: `kannel` (Kannel's HTTP `sendsms`), `http` (an HTTPS provider; Twilio's request by default), `smpp` (SMPP 3.4 straight to an SMSC). Unset: no phone offers SMS ([telephony](docs/telephony.md))",
	},
	{
		Key:  "sms_url",
		Help: "the provider's endpoint: Kannel's `http://127.0.0.1:13013/cgi-bin/sendsms`, e.g. `https://api.twilio.com/2010-04-01/Accounts/<sid>/Messages.json`, or the SMSC's `smpp://host:2775`",
	},
	{
		Key:  "sms_username",
		Help: "Kannel's `sendsms-user`, the HTTP provider's basic-authentication user (e.g. a Twilio account SID; unset with `http`: the password is sent as a bearer token), or the SMPP `system_id`",
	},
	{
		Key:  "sms_password_file",
		Help: "file holding the provider's password or token (one line; keep it mode 0600), read at start like `master_key_file`: never written in the configuration. Unset: the credential stored sealed in the database with `assent telephony credential set sms`, if any",
	},
	{
		Key:  "sms_from",
		Help: "the sender: a number or an alphanumeric sender ID, as the provider allows",
	},
	{
		Key:        "sms_http_body",
		DefaultDoc: "Twilio's form: `From={{form .From}}&To={{form .To}}&Body={{form .Text}}`",
		Help:       "the `http` provider's request body, a Go template with `.To`, `.From`, `.Text` and the functions `form` and `json` that quote a value",
	},
	{
		Key:        "sms_http_content_type",
		DefaultDoc: "`application/x-www-form-urlencoded`",
		Help:       "the `http` provider's body type (e.g. `application/json` with a JSON `sms_http_body`)",
	},
	{
		Key: "sms_batch", Default: "1",
		Help: "Duo's `sms_batch`: passcodes per message (1–10); each works once, code k of a batch starts with the digit k (preauth's `sms_nextcode`)",
	},
	{
		Key: "sms_expiration", Default: "1h",
		Help: "Duo's `sms_expiration`: how long a batch works (`0`: until the next batch, at most 24h)",
	},
	{
		Key:  "sms_message",
		Help: "Duo's `sms_message`: a line sent before the passcodes (at most 80 characters)",
	},
	{
		Key: "sms_refresh", Default: "false",
		Help: "Duo's `sms_refresh`: once the last passcode of a batch logged in, a new batch is sent (within the SMS rate limits)",
	},
	{
		Key: "rate_limit_calls_per_user", Default: "3/1h",
		Help: "phone calls placed to one user's phones (`factor=phone`); over it the request is answered `429 / 42901` and nothing is dialled ([phone calls](docs/telephony-sip.md))",
	},
	{
		Key: "rate_limit_calls_global", Default: "100/1h",
		Help: "phone calls placed to anyone, including `assent telephony test-call`: a ceiling on cost and toll fraud",
	},
	{
		Key:        "sip_listen",
		DefaultDoc: "off",
		Help:       "the local address (IP:port, e.g. `0.0.0.0:5070`) phone-callback calls are placed from over SIP, a UDP socket or a TCP listener as `sip_transport` says. Unset: no phone offers `phone` ([phone calls](docs/telephony-sip.md))",
	},
	{
		Key: "sip_transport", Default: "udp",
		Help: "how SIP is carried to the trunk or PBX: `udp`, `tcp` or `tls` (REGISTER, INVITE and the rest of the call; Assent listens on `sip_listen` over it). The audio stays plain RTP over UDP: no SRTP ([transports](docs/telephony-sip.md#transports))",
	},
	{
		Key:        "sip_tls_ca_file",
		DefaultDoc: "the system's roots",
		Help:       "with `tls`: PEM file of the CA certificates the trunk's certificate must chain to. Its name is checked against the host of `sip_outbound_proxy` or `sip_registrar`; verification cannot be turned off",
	},
	{
		Key:  "sip_tls_cert_file",
		Help: "with `tls`: Assent's certificate (PEM, with `sip_tls_key_file`), shown to a trunk that asks for a client certificate; with it Assent also listens for TLS on `sip_listen`. Unset: the trunk must send its requests over the connections Assent opened",
	},
	{
		Key:  "sip_tls_key_file",
		Help: "the private key of `sip_tls_cert_file` (PEM; keep it mode 0600)",
	},
	{
		Key:        "sip_advertise_ip",
		DefaultDoc: "`sip_listen`'s IP",
		Help:       "the address put in Via, Contact and SDP: the one the trunk reaches Assent on (behind NAT)",
	},
	{
		Key:  "sip_outbound_proxy",
		Help: "the trunk or PBX (`host:port`) every INVITE goes to; a number is dialled as `sip:NUMBER@host;user=phone`",
	},
	{
		Key:  "sip_registrar",
		Help: "the registrar (`host:port`) Assent registers with and keeps registered; without `sip_outbound_proxy` numbers are dialled through it",
	},
	{
		Key: "sip_register_expiry", Default: "10m",
		Help: "the registration's requested expiry (1m–24h); refreshed at 80 % of what the registrar grants",
	},
	{
		Key:  "sip_username",
		Help: "the SIP user for digest authentication (INVITE and REGISTER)",
	},
	{
		Key:  "sip_password_file",
		Help: "file holding the SIP password (one line; keep it mode 0600), read at start: never written in the configuration nor logged. Unset: the password stored sealed with `assent telephony credential set sip`, if any",
	},
	{
		Key:        "sip_from",
		DefaultDoc: "`sip:USERNAME@` the proxy's or registrar's host",
		Help:       "the caller identity (a SIP URI)",
	},
	{
		Key: "sip_rtp_ports", Default: "10000-20000",
		Help: "the local UDP ports for the calls' audio (RTP), `MIN-MAX`; open them and `sip_listen`'s port to the trunk only",
	},
	{
		Key: "sip_ring_timeout", Default: "30s",
		Help: "how long a call rings before it is cancelled (`no_answer`: the login times out)",
	},
	{
		Key: "sip_answer_timeout", Default: "20s",
		Help: "how long an answered call waits for a key (1 approves, any other key denies)",
	},
	{
		Key: "sip_max_call_duration", Default: "90s",
		Help: "the bound of a whole call, dialling to hanging up (at least `sip_ring_timeout`); the login waits this long and 10 s more",
	},
	{
		Key:        "sip_prompt_file",
		DefaultDoc: "the shipped English recording",
		Help:       "a WAV file the callee hears instead (8000 Hz mono, 16-bit PCM, μ-law or A-law, at most 60 s; say which key approves), read at start: an unreadable or unsuitable file stops the start with the sox command that converts it",
	},
	{
		Key:        "max_connections",
		DefaultDoc: "the open-files limit − 256 (a quarter below 1024), at most 16384; logged at start",
		Help:       "client connections open at once; more are closed as soon as they arrive (see [Limits](#security-notes)). Set higher than the default only with a higher open-files limit (`LimitNOFILE=`)",
	},
	{
		Key: "max_connections_per_ip", Default: "512",
		Help: "connections open at once from one client address (an IPv6 /64); more are closed as soon as they arrive. `0`: no per-address cap — for servers behind a load balancer or reverse proxy, whose connections all come from its address (limit clients there)",
	},
	{
		Key: "idle_timeout", Default: "60s",
		Help: "keep-alive connections idle this long are closed (1s–1h)",
	},
	{
		Key: "max_held_requests", Default: "10000",
		Help: "requests held open at once while they wait for a device (synchronous pushes, `auth_status`, the prompt's status poll); more are answered `429 / 42901` with `Retry-After` (a refused synchronous push is not sent)",
	},
	{
		Key:        "memory_limit",
		DefaultDoc: "`0`: Go's default (`GOMEMLIMIT` is honoured)",
		Help:       "soft memory limit of `assent serve`, e.g. `512MiB` or `1GiB` (at least `32MiB`): as the process nears it the garbage collector works harder, instead of letting the heap grow to twice what is live (the SQLite database, being Go code, is inside it). Set it below the unit's or container's hard limit (`MemoryMax=`); logged at start. See [what limits held pushes](docs/benchmarks.md#what-limits-pending-pushes)",
	},
	{
		Key: "metrics_listen", Flag: "metrics-listen", FlagScope: ServeFlag, Default: DefaultMetricsListen,
		FlagUsage: `plain-HTTP host:port for Prometheus /metrics, /healthz and /readyz (default 127.0.0.1:9464; "" turns it off)`,
		Help:      "`host:port` serving Prometheus metrics at `/metrics`, and `/healthz` and `/readyz`, over plain HTTP without authentication: keep it on loopback or a management network. Empty (`metrics_listen = \"\"`, `--metrics-listen=`) turns it off. Must differ from `listen` ([monitoring](docs/monitoring.md))",
	},
	{
		Key:        "auth_events_file",
		DefaultDoc: "off",
		Help:       "file every authentication decision is appended to as one JSON object per line (time, txid, ikey, user, factor, device, result, reason, ip, hostname; never a passcode or key), for a SIEM; created with mode 0600 ([monitoring](docs/monitoring.md#auth-events-for-a-siem))",
	},
	{
		Key:        "auth_events_syslog",
		DefaultDoc: "off",
		Help:       "syslog receiver the same events are sent to as RFC 5424 messages (facility `authpriv`, app `assent`, MSGID `auth`, the JSON object as the message): `udp://host:514`, `tcp://host:601` (octet-counted frames, RFC 6587) or `unix:///dev/log`. Both targets may be set; events that cannot be written are counted, never waited for",
	},
	{
		Key:        "pprof_listen",
		DefaultDoc: "off",
		Help:       "loopback `host:port` (e.g. `127.0.0.1:6060`) serving Go's runtime profiles at `/debug/pprof/` over plain HTTP without authentication, for diagnosis (`go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=30`; [how](docs/benchmarks.md#request-path-profile)). Only `127.0.0.0/8` or `::1` is accepted — from elsewhere, use an SSH tunnel; must differ from `listen` and `metrics_listen`. Never served on the public port",
	},
	{
		Key: "universal_jwt_max_lifetime", Default: "5m",
		Help: "how far ahead (plus `clock_skew`) a Universal Prompt request JWT or client assertion may expire (1m–1h); `1h` for older `duo_universal_java` releases ([web apps](docs/web-apps.md#3-universal-prompt-applications))",
	},
	{
		Key: "retention_transactions", Default: "168h",
		DefaultDoc: "`168h` (7 days)",
		Help:       "how long push transactions and activation codes are kept after they expire (`auth_status` and `enroll_status` answer for them meanwhile); `0` keeps them forever, else at least `1h`",
	},
	{
		Key:        "retention_auth_log",
		DefaultDoc: "`0` (forever)",
		Help:       "how long authentication-log rows are kept, e.g. `2160h` for 90 days; at least `24h`",
	},
	{
		Key: "purge_interval", Default: "1h",
		Help: "how often the server deletes what outlived its retention (and expired single-use tokens), first a minute after start; each node logs how many rows went (1m–24h)",
	},
	{
		Key: "directory_sync_interval", Default: "1h",
		Help: "how often the server syncs users and groups from the directories added with `assent directory add` or configured with `[[directory]]` ([directory sync](docs/directory.md)), first a minute after start; with several nodes one node syncs each directory per interval. `0` syncs only on demand (`assent directory sync`) (5m–168h)",
	},
	{
		Key: "directory_enrollment_email", Default: "false",
		Help: "e-mail each user a directory sync creates an enrollment link, at the address of the directory's e-mail attribute ([e-mail](docs/email.md) must be configured; users without an address are skipped and logged)",
	},
	{
		Key: "webauthn_user_verification", Default: "preferred",
		Help: "security keys and passkeys ([second factors](docs/second-factors.md)): whether the authenticator must verify its holder (PIN, fingerprint, face) — `preferred`, `required` (keys without a PIN or biometrics are refused) or `discouraged`. The relying-party ID is the host of `public_hostname`; changing that name makes registered keys unusable",
	},
	{
		Key: "webauthn_attestation", Default: "none",
		Help: "what a key is asked to prove about its make and model when it is registered: `none` (no attestation; the privacy-friendly default), `indirect` or `direct` (the attestation is verified and its type and AAGUID recorded)",
	},
	{
		Key: "directory", FileOnly: true, DefaultDoc: "(none)",
		Help: "`[[directory]]` tables, one per LDAP or Active Directory server to sync users and groups from, as `assent directory add` stores them: `name`, `url` (`ldap://` or `ldaps://`), `start_tls`, `ca_file`, `bind_dn`, `bind_password_file` (the password is never written in this file), `base_dn`, `user_filter`, `group_dns`, `schema` (`ldap` or `ad`), `nested` (`in_chain`, `recursive`, `off`), `attributes` (e.g. `\"username=sAMAccountName,aliases=userPrincipalName|mail\"`), `page_size`, `delete_after_days`, `timeout_seconds` ([directory sync](docs/directory.md))",
		Example: []string{
			`[[directory]]`,
			`  name = "corp"`,
			`  schema = "ad"`,
			`  url = "ldaps://dc1.example.com"`,
			`  ca_file = "/etc/assent/corp-ca.pem"`,
			`  bind_dn = "CN=svc-assent,OU=Service,DC=example,DC=com"`,
			`  bind_password_file = "/etc/assent/corp-bind-password"`,
			`  base_dn = "OU=Staff,DC=example,DC=com"`,
			`  group_dns = ["CN=VPN Users,OU=Groups,DC=example,DC=com"]`,
		},
	},
}

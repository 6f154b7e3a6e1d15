// Package cfg reads the Duo Authentication Proxy's authproxy.cfg unchanged
// and turns it into a validated, typed configuration for `assent authproxy`.
//
// The file is read as Python's ConfigParser(interpolation=None) reads it
// (Duo's proxy is written in Python): "key = value" or "key: value",
// full-line # and ; comments, indented continuation lines, lower-cased keys,
// duplicate sections (compared case-insensitively) and duplicate keys are
// errors, LF/CRLF/CR line ends, an optional UTF-8 byte order mark.
//
// Validation is one pass that collects every problem — syntax, unknown keys
// (with a did-you-mean), missing or invalid values, unpaired
// radius_ip_N/radius_secret_N, Windows-only *_protected keys, sections Assent
// does not serve, client resolution, conflicting listeners — and returns
// them together as *Errors, each with file, line, section and key. Findings
// that do not stop the proxy are returned separately as warnings.
//
// Every default of Duo's proxy is filled in, and [main]'s debug,
// http_ca_certs_file, http_proxy_host/port and interface are pushed into the
// sections as Duo does. Secrets are of type Secret, which never prints its
// value.
//
// Assent extensions (keys Duo's proxy does not have):
//   - require_message_authenticator in a server section, and
//     require_message_authenticator_N per radius_ip_N: drop Access-Requests
//     without a valid Message-Authenticator (BlastRADIUS, CVE-2024-3596).
//     On by default (DefaultRequireMessageAuthenticator), unlike Duo's
//     proxy: a NAS that cannot send it needs an explicit =false;
//   - [main] metrics_listen: host:port serving Prometheus /metrics;
//   - [main] log_format: text or json;
//   - [main] max_requests_in_flight: RADIUS requests answered at once per
//     socket (and Auth API connections per client); more are dropped for
//     the NAS to retransmit.
//
// docs/authproxy-config.md lists every key, its default and whether Assent
// supports it.
package cfg

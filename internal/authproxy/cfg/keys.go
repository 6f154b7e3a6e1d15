package cfg

import (
	"fmt"
	"sort"
	"strings"
)

// Section kinds by base name (the section name without trailing digits).
const (
	famMain          = "main"
	famADClient      = "ad_client"
	famRadiusClient  = "radius_client"
	famDuoOnlyClient = "duo_only_client"
	famAuto          = "radius_server_auto"
	famChallenge     = "radius_server_challenge"
	famConcat        = "radius_server_concat"
	famDuoOnly       = "radius_server_duo_only"
)

// unsupportedSections are Duo section kinds Assent does not serve (yet).
var unsupportedSections = map[string]string{
	"ldap_server_auto":     "Duo's LDAP proxy",
	"radius_server_iframe": "Duo's legacy iframe RADIUS mode",
	"radius_server_eap":    "Duo's PEAP/EAP-GTC RADIUS mode",
	"cloud":                "Duo's directory sync connector",
	"http_proxy":           "Duo's outbound HTTP CONNECT proxy",
	"sso":                  "Duo's SSO connector",
}

// knownKeys lists every key by section family, numbered ones as stem_N.
// It drives did-you-mean suggestions and the documentation test; the
// decoders are what actually accept keys.
var knownKeys = map[string][]string{
	famMain: {"debug", "log_dir", "log_file", "log_max_size", "log_max_files", "log_stdout", "log_syslog",
		"syslog_facility", "log_auth_events", "log_sso_events", "http_ca_certs_file", "http_proxy_host",
		"http_proxy_port", "interface", "test_connectivity_on_startup", "client", "server", "fips_mode",
		"metrics_listen", "log_format", "max_requests_in_flight"},
	famADClient: {"host", "host_N", "port", "service_account_username", "service_account_password",
		"search_dn", "security_group_dn", "ldap_filter", "timeout", "transport", "auth_type", "bind_dn",
		"ntlm_domain", "ntlm_workstation", "username_attribute", "at_attribute", "ssl_ca_certs_file",
		"ssl_verify_hostname", "ssl_verify_depth", "domain_discovery", "debug", "is_logging_insecure",
		"http_ca_certs_file"},
	famRadiusClient: {"host", "host_N", "port", "port_N", "secret", "retries", "retry_wait", "nas_ip",
		"pass_through_attr_names", "pass_through_all", "pw_codec", "debug", "http_ca_certs_file"},
	famDuoOnlyClient: {"debug", "http_ca_certs_file"},
	"server": {"ikey", "skey", "api_host", "api_port", "api_timeout", "failmode", "radius_ip_N",
		"radius_secret_N", "port", "interface", "client", "exempt_username_N", "pass_through_attr_names",
		"pass_through_all", "pw_codec", "client_ip_attr", "http_proxy_host", "http_proxy_port", "debug",
		"http_ca_certs_file", "require_message_authenticator", "require_message_authenticator_N"},
	famAuto:      {"factors", "delimiter", "delimited_password_length", "allow_concat", "concat_mode"},
	famChallenge: {"prompt_format", "enroll_challenge"},
	famConcat:    {"delimiter", "delimeter", "delimited_password_length"},
	famDuoOnly:   {},
}

// keysOf returns the keys valid in a family (server modes include the
// common server keys).
func keysOf(family string) []string {
	ks := append([]string(nil), knownKeys[family]...)
	if strings.HasPrefix(family, "radius_server_") {
		ks = append(ks, knownKeys["server"]...)
	}
	return ks
}

// unknownKeyMessage explains an unknown key: a likely typo, a key that
// belongs to another kind of section, or simply unknown.
func unknownKeyMessage(family, key string) string {
	if strings.HasSuffix(key, "_protected") || strings.Contains(key, "_protected_") {
		return "unknown key; only skey, secret, radius_secret_N and service_account_password have _protected forms (and those are Windows-only)"
	}
	var cands []string
	for _, k := range keysOf(family) {
		cands = append(cands, strings.Replace(k, "_N", "_1", 1))
	}
	sug := suggest(key, cands)
	if key == "radius_ip" || key == "radius_secret" {
		return fmt.Sprintf("unknown key; numbered keys are required: %s_1, %s_2, …", key, key)
	}
	stem := key
	if i := strings.LastIndexByte(key, '_'); i > 0 && strings.Trim(key[i+1:], "0123456789") == "" {
		stem = key[:i] + "_N"
	}
	var homes []string
	for fam, ks := range knownKeys {
		if fam == family {
			continue
		}
		name := "[" + fam + "]"
		if fam == "server" {
			if strings.HasPrefix(family, "radius_server_") {
				continue
			}
			name = "[radius_server_*]"
		}
		for _, k := range ks {
			if k == key || k == stem {
				homes = append(homes, name)
				break
			}
		}
	}
	if len(homes) > 0 {
		sort.Strings(homes)
		msg := fmt.Sprintf("unknown key in this section; it belongs in %s sections", strings.Join(homes, " or "))
		if sug != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", sug)
		}
		return msg
	}
	if sug != "" {
		return fmt.Sprintf("unknown key; did you mean %s?", sug)
	}
	return "unknown key; see docs/authproxy-config.md for the keys Assent reads"
}

// sectionBase strips trailing digits: radius_server_auto2 → radius_server_auto.
func sectionBase(id string) string {
	return strings.TrimRight(id, "0123456789")
}

// allSectionBases lists known section kinds, for did-you-mean.
func allSectionBases() []string {
	out := []string{famMain, famADClient, famRadiusClient, famDuoOnlyClient, famAuto, famChallenge, famConcat, famDuoOnly}
	for k := range unsupportedSections {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateSIP(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string // "" valid; else the keys with problems, in order
	}{
		{"off", func(c *Config) { c.SIPRTPPorts = "nonsense" }, ""},
		{"trunk", func(c *Config) { c.SIPListen, c.SIPOutboundProxy = "0.0.0.0:5070", "pbx.example.org:5060" }, ""},
		{"registrar", func(c *Config) {
			c.SIPListen, c.SIPRegistrar, c.SIPUsername = "127.0.0.1:5070", "pbx.example.org:5060", "assent"
		}, ""},
		{"no trunk", func(c *Config) { c.SIPListen = "0.0.0.0:5070" }, "sip_outbound_proxy"},
		{"registrar without user", func(c *Config) { c.SIPListen, c.SIPRegistrar = "0.0.0.0:5070", "pbx:5060" }, "sip_username"},
		{"bad addresses", func(c *Config) {
			c.SIPListen, c.SIPAdvertiseIP, c.SIPOutboundProxy, c.SIPFrom = "pbx:5070", "nat", "pbx", "assent@pbx"
		}, "sip_listen sip_advertise_ip sip_outbound_proxy sip_from"},
		{"bounds", func(c *Config) {
			c.SIPListen, c.SIPOutboundProxy, c.SIPRTPPorts = "0.0.0.0:5070", "pbx:5060", "20000-10000"
			c.SIPRingTimeout.Duration, c.SIPAnswerTimeout.Duration = 0, time.Hour
			c.SIPMaxCallDuration.Duration, c.SIPRegisterExpiry.Duration = time.Second, time.Second
		}, "sip_rtp_ports sip_register_expiry sip_ring_timeout sip_answer_timeout sip_max_call_duration"},
		{"missing prompt file", func(c *Config) {
			c.SIPListen, c.SIPOutboundProxy, c.SIPPromptFile = "0.0.0.0:5070", "pbx:5060", "/nonexistent/prompt.wav"
		}, "sip_prompt_file"},
		{"tcp", func(c *Config) { c.SIPListen, c.SIPOutboundProxy, c.SIPTransport = "0.0.0.0:5070", "pbx:5060", "tcp" }, ""},
		{"tls with system roots", func(c *Config) { c.SIPListen, c.SIPOutboundProxy, c.SIPTransport = "0.0.0.0:5061", "pbx:5061", "tls" }, ""},
		{"unknown transport", func(c *Config) { c.SIPListen, c.SIPOutboundProxy, c.SIPTransport = "0.0.0.0:5070", "pbx:5060", "sctp" }, "sip_transport"},
		{"tls files without tls", func(c *Config) {
			c.SIPListen, c.SIPOutboundProxy, c.SIPTransport, c.SIPTLSCAFile = "0.0.0.0:5070", "pbx:5060", "tcp", "/etc/ssl/certs/ca-certificates.crt"
		}, "sip_tls_ca_file"},
		{"tls: every problem", func(c *Config) {
			c.SIPListen, c.SIPTransport = "0.0.0.0:5061", "tls"
			c.SIPTLSCAFile, c.SIPTLSKeyFile = "/nonexistent/ca.pem", "/nonexistent/key.pem"
		}, "sip_tls_ca_file sip_tls_cert_file sip_outbound_proxy"},
		{"tls: no certificate in the CA file, a pair that does not load", func(c *Config) {
			dir := c.DataDir
			for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("not PEM\n"), 0o600); err != nil {
					panic(err)
				}
			}
			c.SIPListen, c.SIPOutboundProxy, c.SIPTransport = "0.0.0.0:5061", "pbx:5061", "tls"
			c.SIPTLSCAFile, c.SIPTLSCertFile, c.SIPTLSKeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		}, "sip_tls_ca_file sip_tls_cert_file"},
		{"call shorter than ringing", func(c *Config) {
			c.SIPListen, c.SIPOutboundProxy = "0.0.0.0:5070", "pbx:5060"
			c.SIPMaxCallDuration.Duration = 10 * time.Second
		}, "sip_max_call_duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.DataDir = t.TempDir()
			tc.set(&c)
			var keys []string
			for _, p := range c.validate() {
				if strings.HasPrefix(p.Key, "sip_") {
					keys = append(keys, p.Key)
				}
			}
			if got := strings.Join(keys, " "); got != tc.want {
				t.Fatalf("problems with %q, want %q", got, tc.want)
			}
		})
	}
}

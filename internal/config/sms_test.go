package config

import (
	"strings"
	"testing"
)

func TestValidateSMS(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string // "" valid; else the keys with problems
	}{
		{"off", func(c *Config) {}, ""},
		{"kannel", func(c *Config) {
			c.SMSProvider, c.SMSURL, c.SMSUsername = "kannel", "http://127.0.0.1:13013/cgi-bin/sendsms", "assent"
		}, ""},
		{"kannel without user", func(c *Config) { c.SMSProvider, c.SMSURL = "kannel", "http://127.0.0.1:13013/" }, "sms_username"},
		{"http with an smpp url", func(c *Config) { c.SMSProvider, c.SMSURL = "http", "smpp://x:1" }, "sms_url"},
		{"smpp", func(c *Config) { c.SMSProvider, c.SMSURL, c.SMSUsername = "smpp", "smpp://smsc:2775", "id" }, ""},
		{"smpp without port or user", func(c *Config) { c.SMSProvider, c.SMSURL = "smpp", "smpp://smsc" }, "sms_url sms_username"},
		{"unknown", func(c *Config) { c.SMSProvider, c.SMSURL = "pigeon", "https://x/" }, "sms_provider"},
		{"bounds", func(c *Config) {
			c.SMSProvider, c.SMSURL, c.SMSBatch, c.SMSMessage = "http", "https://x/", 11, strings.Repeat("x", 81)
			c.SMSExpiration.Duration = -1
		}, "sms_batch sms_expiration sms_message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.DataDir = t.TempDir()
			tc.set(&c)
			var keys []string
			for _, p := range c.validate() {
				if strings.HasPrefix(p.Key, "sms_") {
					keys = append(keys, p.Key)
				}
			}
			if got := strings.Join(keys, " "); got != tc.want {
				t.Fatalf("problems with %q, want %q", got, tc.want)
			}
		})
	}
}

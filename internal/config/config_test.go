package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "./assent-data" || cfg.Listen != "127.0.0.1:8443" || cfg.PublicHostname != "localhost:8443" ||
		cfg.LockoutThreshold != 10 || cfg.ClockSkew.Duration != 300*time.Second ||
		cfg.MaxConnections != 0 || cfg.MaxConnectionsPerIP != 512 || cfg.IdleTimeout.Duration != time.Minute ||
		cfg.MaxHeldRequests != 10000 || cfg.MetricsListen != "127.0.0.1:9464" || cfg.PprofListen != "" {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	cfg, err := Load(Sources{
		File:  "testdata/good.toml",
		Env:   []string{"ASSENT_LOCKOUT_THRESHOLD=7", "ASSENT_LOG_FORMAT=text", "PATH=/bin", "ASSENT_TEST_POSTGRES_DSN=x", "ASSENT_CONFIG=y"},
		Flags: map[string]string{"log_format": "json", "listen": "127.0.0.1:9443"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want any }{
		{cfg.DataDir, "/var/lib/assent"},          // file
		{cfg.LockoutThreshold, 7},                 // env over file
		{cfg.LogFormat, "json"},                   // flag over env
		{cfg.Listen, "127.0.0.1:9443"},            // flag over file
		{cfg.PublicHostname, "mfa.example.com"},   // file
		{cfg.ClockSkew.Duration, 2 * time.Minute}, // file duration
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
}

func TestDerivedPublicHostname(t *testing.T) {
	t.Parallel()
	for listen, want := range map[string]string{
		"127.0.0.1:8443":  "localhost:8443",
		":443":            "localhost",
		"[::1]:9000":      "localhost:9000",
		"0.0.0.0:8443":    "localhost:8443",
		"10.1.2.3:8443":   "10.1.2.3:8443",
		"mfa.example:443": "mfa.example",
	} {
		cfg, err := Load(Sources{Flags: map[string]string{"listen": listen}})
		if err != nil || cfg.PublicHostname != want {
			t.Errorf("listen %s: public hostname %q (%v), want %q", listen, cfg.PublicHostname, err, want)
		}
	}
}

// Every problem is reported at once, with where it came from.
func TestAllProblemsReported(t *testing.T) {
	t.Parallel()
	_, err := Load(Sources{
		File:  "testdata/bad.toml",
		Env:   []string{"ASSENT_LISTN=typo", "ASSENT_CLOCK_SKEW=soon"},
		Flags: map[string]string{"tls_cert": "/x.pem"},
	})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"testdata/bad.toml: line 3: colour: unknown key",
		"environment: ASSENT_LISTN: unknown setting",
		"environment: ASSENT_CLOCK_SKEW:",
		"config: listen:",
		"config: lockout_threshold:",
		"config: log_level:",
		"config: database_url:",
		"config: tls_cert: tls_cert and tls_key go together",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{
		"testdata/syntax.toml":  "testdata/syntax.toml: line 1",
		"testdata/missing.toml": "testdata/missing.toml: file not found",
	} {
		_, err := Load(Sources{File: file})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flags map[string]string
		key   string // "" = valid
	}{
		{map[string]string{"public_hostname": "https://x.example"}, "public_hostname"},
		{map[string]string{"public_hostname": "x.example:99999"}, "public_hostname"},
		{map[string]string{"public_hostname": "x.example:8443"}, ""},
		{map[string]string{"database_url": "postgres://u@h/db"}, ""},
		{map[string]string{"master_key": "k", "master_key_file": "f"}, "master_key"},
		{map[string]string{"enroll_portal_url": "http://x"}, "enroll_portal_url"},
		{map[string]string{"lockout_threshold": "ten"}, "lockout_threshold"},
		{map[string]string{"totp_issuer": "ACME VPN"}, ""},
		{map[string]string{"totp_issuer": "ACME: VPN"}, "totp_issuer"},
		{map[string]string{"totp_issuer": ""}, "totp_issuer"},
		{map[string]string{"clock_skew": "5s"}, "clock_skew"},
		{map[string]string{"shutdown_timeout": "0s"}, "shutdown_timeout"},
		{map[string]string{"data_dir": ""}, "data_dir"},
		{map[string]string{"max_connections": "-1"}, "max_connections"},
		{map[string]string{"max_connections": "100", "max_connections_per_ip": "0"}, ""},
		{map[string]string{"max_connections_per_ip": "-5"}, "max_connections_per_ip"},
		{map[string]string{"idle_timeout": "0s"}, "idle_timeout"},
		{map[string]string{"idle_timeout": "2h"}, "idle_timeout"},
		{map[string]string{"idle_timeout": "5s"}, ""},
		{map[string]string{"max_held_requests": "0"}, "max_held_requests"},
		{map[string]string{"metrics_listen": "127.0.0.1:9443"}, ""},
		{map[string]string{"metrics_listen": "9443"}, "metrics_listen"},
		{map[string]string{"metrics_listen": "127.0.0.1:8443"}, "metrics_listen"},
		{map[string]string{"metrics_listen": ":8443"}, "metrics_listen"},
		{map[string]string{"metrics_listen": "[::1]:8443"}, ""},
		{map[string]string{"listen": "0.0.0.0:443", "metrics_listen": "127.0.0.1:443"}, "metrics_listen"},
		{map[string]string{"pprof_listen": "127.0.0.1:6060"}, ""},
		{map[string]string{"pprof_listen": "[::1]:6060"}, ""},
		{map[string]string{"pprof_listen": "127.0.0.2:0"}, ""},
		{map[string]string{"pprof_listen": ":6060"}, "pprof_listen"},
		{map[string]string{"pprof_listen": "0.0.0.0:6060"}, "pprof_listen"},
		{map[string]string{"pprof_listen": "192.0.2.1:6060"}, "pprof_listen"},
		{map[string]string{"pprof_listen": "localhost:6060"}, "pprof_listen"},
		{map[string]string{"pprof_listen": "6060"}, "pprof_listen"},
		{map[string]string{"pprof_listen": "127.0.0.1:8443"}, "pprof_listen"},
		{map[string]string{"metrics_listen": "127.0.0.1:9443", "pprof_listen": "127.0.0.1:9443"}, "pprof_listen"},
		{map[string]string{"universal_jwt_max_lifetime": "1h"}, ""},
		{map[string]string{"universal_jwt_max_lifetime": "2h"}, "universal_jwt_max_lifetime"},
		{map[string]string{"universal_jwt_max_lifetime": "0s"}, "universal_jwt_max_lifetime"},
		{map[string]string{"retention_transactions": "0s", "retention_auth_log": "2160h", "purge_interval": "10m"}, ""},
		{map[string]string{"retention_transactions": "30m"}, "retention_transactions"},
		{map[string]string{"retention_transactions": "-1h"}, "retention_transactions"},
		{map[string]string{"retention_auth_log": "1h"}, "retention_auth_log"},
		{map[string]string{"purge_interval": "0s"}, "purge_interval"},
		{map[string]string{"memory_limit": "0"}, ""},
		{map[string]string{"memory_limit": "256MiB"}, ""},
		{map[string]string{"memory_limit": "1GB"}, ""},
		{map[string]string{"memory_limit": "16MiB"}, "memory_limit"},
		{map[string]string{"memory_limit": "lots"}, "memory_limit"},
		{map[string]string{"memory_limit": "-1GiB"}, "memory_limit"},
		{map[string]string{"push_cooldown_after": "0", "push_cooldown": "1h", "fraud_lockout": "true"}, ""},
		{map[string]string{"push_cooldown_after": "-1"}, "push_cooldown_after"},
		{map[string]string{"push_cooldown": "10s"}, "push_cooldown"},
		{map[string]string{"acme_directory": "https://acme.example/directory", "acme_email": "a@example.com"}, ""},
		{map[string]string{"acme_directory": "http://acme.example/directory"}, "acme_directory"},
		{map[string]string{"acme_directory": "https://acme.example/directory", "tls_cert": "c.pem", "tls_key": "k.pem"}, "acme_directory"},
		{map[string]string{"acme_challenge": "dns-01"}, "acme_challenge"},
		{map[string]string{"acme_challenge": "http-01"}, "acme_http_listen"},
		{map[string]string{"acme_challenge": "http-01", "acme_http_listen": ":80"}, ""},
		{map[string]string{"acme_http_listen": "80"}, "acme_http_listen"},
	} {
		_, err := Load(Sources{Flags: tc.flags})
		if tc.key == "" {
			if err != nil {
				t.Errorf("%v: unexpected %v", tc.flags, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("%v: %v, want a problem with %s", tc.flags, err, tc.key)
		}
	}
}

func TestAltHostnames(t *testing.T) {
	t.Parallel()
	cfg, err := Load(Sources{Env: []string{"ASSENT_ALT_HOSTNAMES= mfa.example.com , 10.0.0.5:8443,LOCALHOST:8443"}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(cfg.Hostnames(), " ")
	if want := "localhost:8443 mfa.example.com 10.0.0.5:8443"; got != want {
		t.Errorf("Hostnames() = %q, want %q", got, want)
	}
	_, err = Load(Sources{Env: []string{"ASSENT_ALT_HOSTNAMES=ok.example,https://bad.example/"}})
	if err == nil || !strings.Contains(err.Error(), "alt_hostnames") {
		t.Errorf("bad alt hostname: err = %v, want a problem naming alt_hostnames", err)
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want ByteSize
		text string
	}{
		{"0", 0, "0B"}, {"512MiB", 512 << 20, "512MiB"}, {" 2 GiB ", 2 << 30, "2GiB"}, {"1GB", 1e9, "1000000000B"},
		{"300KB", 300e3, "300000B"}, {"64KiB", 64 << 10, "64KiB"}, {"1000", 1000, "1000B"}, {"7B", 7, "7B"},
	} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(tc.in)); err != nil || b != tc.want || b.String() != tc.text {
			t.Errorf("%q: %d (%s) %v, want %d (%s)", tc.in, b, b, err, tc.want, tc.text)
		}
	}
	for _, bad := range []string{"", "MiB", "1.5GiB", "-1", "1TB", "9999999999GiB"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q: accepted as %d", bad, b)
		}
	}
}

// A file's wrong values and unknown keys are all reported, each with the
// key and, inside a [section], the section.
func TestFileProblemsAllListed(t *testing.T) {
	t.Parallel()
	_, err := Load(Sources{File: "testdata/types.toml"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"(8 problems)",
		`testdata/types.toml: line 2: clock_skew: "soon" is not a duration`,
		"testdata/types.toml: line 3: rate_limit_pushes_per_user: \"x\" is not a rate limit",
		"testdata/types.toml: line 4: alt_hostnames: a string where a list of strings",
		"testdata/types.toml: line 5: fraud_lockout: an integer where true or false is expected",
		"testdata/types.toml: line 7: [server] listen: unknown key: settings have no sections",
		"testdata/types.toml: line 8: [server] foo: unknown key",
		"testdata/types.toml: line 10: [server] x.y: unknown key",
		"testdata/types.toml: line 11: [other]: unknown section",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	_, err = Load(Sources{File: "testdata/bad.toml", Flags: map[string]string{"clock_skew": "5"}})
	if err == nil || !strings.Contains(err.Error(), "flags: clock_skew:") || !strings.Contains(err.Error(), "testdata/bad.toml: line 3: colour: unknown key") {
		t.Errorf("file and flag problems together: %v", err)
	}
}

// A size may be a bare number of bytes in the file, as before the file was
// read key by key; a duration may not.
func TestFileNumbers(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/n.toml"
	if err := os.WriteFile(path, []byte("memory_limit = 536870912\nlockout_threshold = 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Sources{File: path})
	if err != nil || cfg.MemoryLimit != 512<<20 || cfg.LockoutThreshold != 4 {
		t.Errorf("memory_limit %d, lockout_threshold %d, %v", cfg.MemoryLimit, cfg.LockoutThreshold, err)
	}
	if err := os.WriteFile(path, []byte("clock_skew = 60\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(Sources{File: path})
	if err == nil || !strings.Contains(err.Error(), `line 1: clock_skew: an integer where a duration in quotes, like "30s" or "5m" is expected`) {
		t.Errorf("clock_skew = 60: %v", err)
	}
}

// metrics_listen is on by default, on loopback; empty turns it off, from
// any source.
func TestMetricsListenOff(t *testing.T) {
	t.Parallel()
	for _, src := range []Sources{
		{Env: []string{"ASSENT_METRICS_LISTEN="}},
		{Flags: map[string]string{"metrics_listen": ""}},
	} {
		cfg, err := Load(src)
		if err != nil || cfg.MetricsListen != "" {
			t.Errorf("%+v: metrics_listen %q, %v; want off", src, cfg.MetricsListen, err)
		}
	}
	if cfg, err := Load(Sources{}); err != nil || cfg.MetricsListen != DefaultMetricsListen {
		t.Errorf("default metrics_listen %q, %v", cfg.MetricsListen, err)
	}
	// The default listen address cannot share its port.
	if _, err := Load(Sources{Flags: map[string]string{"listen": "127.0.0.1:9464"}}); err == nil || !strings.Contains(err.Error(), "metrics_listen") {
		t.Errorf("listen on the metrics port: %v", err)
	}
}
